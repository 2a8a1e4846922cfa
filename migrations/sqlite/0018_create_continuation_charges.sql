CREATE TABLE continuation_charges (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  continuation_id INTEGER NOT NULL REFERENCES continuations(id),
  period DATE NOT NULL,
  attempt INT NOT NULL DEFAULT 1,
  amount BIGINT NOT NULL DEFAULT 0,
  status VARCHAR(16) NOT NULL,
  settled_period DATE NULL,
  settlement_id INTEGER NULL,
  created_at DATETIME NOT NULL,
  updated_at DATETIME NOT NULL,
  CONSTRAINT uq_continuation_charges_attempt UNIQUE (continuation_id, period, attempt),
  CONSTRAINT uq_continuation_charges_settled UNIQUE (continuation_id, settled_period)
);
