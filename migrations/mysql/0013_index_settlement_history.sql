CREATE INDEX ix_settlement_history_settlement ON settlement_history (settlement_id, id);
