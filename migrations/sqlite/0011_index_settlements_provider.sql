CREATE INDEX ix_settlements_provider ON settlements (wc_trans_id);
