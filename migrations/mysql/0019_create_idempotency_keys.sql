CREATE TABLE idempotency_keys (
  shop_id BIGINT UNSIGNED NOT NULL,
  idem_key VARCHAR(191) NOT NULL,
  method VARCHAR(8) NOT NULL,
  path VARCHAR(512) NOT NULL,
  body_hash CHAR(64) NOT NULL,
  state VARCHAR(16) NOT NULL,
  status_code INT NOT NULL DEFAULT 0,
  response LONGBLOB NULL,
  created_at DATETIME(6) NOT NULL,
  expires_at DATETIME(6) NOT NULL,
  PRIMARY KEY (shop_id, idem_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
