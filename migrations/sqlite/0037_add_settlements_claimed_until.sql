ALTER TABLE settlements ADD COLUMN claimed_until DATETIME NULL;
