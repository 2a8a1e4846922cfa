CREATE INDEX ix_outbox_due ON outbox (state, next_attempt_at);
