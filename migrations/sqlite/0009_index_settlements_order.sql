CREATE INDEX ix_settlements_order ON settlements (order_id);
