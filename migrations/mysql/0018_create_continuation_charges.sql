CREATE TABLE continuation_charges (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  continuation_id BIGINT UNSIGNED NOT NULL REFERENCES continuations(id),
  period DATE NOT NULL,
  attempt INT NOT NULL DEFAULT 1,
  amount BIGINT NOT NULL DEFAULT 0,
  status VARCHAR(16) NOT NULL,
  settled_period DATE NULL,
  settlement_id BIGINT UNSIGNED NULL,
  created_at DATETIME(6) NOT NULL,
  updated_at DATETIME(6) NOT NULL,
  CONSTRAINT uq_continuation_charges_attempt UNIQUE (continuation_id, period, attempt),
  CONSTRAINT uq_continuation_charges_settled UNIQUE (continuation_id, settled_period)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
