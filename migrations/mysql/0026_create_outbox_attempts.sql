CREATE TABLE outbox_attempts (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  outbox_id BIGINT UNSIGNED NOT NULL REFERENCES outbox(id),
  attempt INT NOT NULL,
  started_at DATETIME(6) NOT NULL,
  duration_ms BIGINT NOT NULL DEFAULT 0,
  status_code INT NOT NULL DEFAULT 0,
  error LONGTEXT NULL,
  outcome VARCHAR(16) NOT NULL,
  CONSTRAINT uq_outbox_attempts UNIQUE (outbox_id, attempt)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
