ALTER TABLE settlements ADD COLUMN claimed_until DATETIME(6) NULL;
