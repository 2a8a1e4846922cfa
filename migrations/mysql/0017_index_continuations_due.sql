CREATE INDEX ix_continuations_due ON continuations (status, next_charging);
