CREATE INDEX ix_settlement_attempts_no ON settlement_attempts (attempt_no);
