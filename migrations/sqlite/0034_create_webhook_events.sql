CREATE TABLE webhook_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  provider VARCHAR(64) NOT NULL,
  event_key CHAR(64) NOT NULL,
  kind VARCHAR(32) NOT NULL DEFAULT '',
  provider_id VARCHAR(64) NOT NULL DEFAULT '',
  attempt VARCHAR(64) NOT NULL DEFAULT '',
  settlement_id INTEGER NULL,
  result VARCHAR(32) NOT NULL,
  created_at DATETIME NOT NULL,
  updated_at DATETIME NOT NULL,
  CONSTRAINT uq_webhook_events_key UNIQUE (provider, event_key)
);
