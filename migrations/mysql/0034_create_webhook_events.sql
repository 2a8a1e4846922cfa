CREATE TABLE webhook_events (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  provider VARCHAR(64) NOT NULL,
  event_key CHAR(64) NOT NULL,
  kind VARCHAR(32) NOT NULL DEFAULT '',
  provider_id VARCHAR(64) NOT NULL DEFAULT '',
  attempt VARCHAR(64) NOT NULL DEFAULT '',
  settlement_id BIGINT UNSIGNED NULL,
  result VARCHAR(32) NOT NULL,
  created_at DATETIME(6) NOT NULL,
  updated_at DATETIME(6) NOT NULL,
  CONSTRAINT uq_webhook_events_key UNIQUE (provider, event_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
