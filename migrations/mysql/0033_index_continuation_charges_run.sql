CREATE INDEX ix_continuation_charges_run ON continuation_charges (run_date, status);
