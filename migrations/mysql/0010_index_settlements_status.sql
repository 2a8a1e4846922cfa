CREATE INDEX ix_settlements_status ON settlements (status, resolve_after);
