ALTER TABLE idempotency_keys ADD COLUMN locked_until DATETIME(6) NULL;
