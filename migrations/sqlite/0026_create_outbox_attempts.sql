CREATE TABLE outbox_attempts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  outbox_id INTEGER NOT NULL REFERENCES outbox(id),
  attempt INT NOT NULL,
  started_at DATETIME NOT NULL,
  duration_ms BIGINT NOT NULL DEFAULT 0,
  status_code INT NOT NULL DEFAULT 0,
  error TEXT NULL,
  outcome VARCHAR(16) NOT NULL,
  CONSTRAINT uq_outbox_attempts UNIQUE (outbox_id, attempt)
);
