CREATE INDEX ix_outbox_target ON outbox (kind, target);
