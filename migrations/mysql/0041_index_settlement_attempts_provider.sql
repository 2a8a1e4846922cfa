CREATE INDEX ix_settlement_attempts_provider ON settlement_attempts (provider_id);
