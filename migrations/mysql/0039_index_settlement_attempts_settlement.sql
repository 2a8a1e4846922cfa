CREATE INDEX ix_settlement_attempts_settlement ON settlement_attempts (settlement_id, state);
