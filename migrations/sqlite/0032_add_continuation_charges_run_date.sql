ALTER TABLE continuation_charges ADD COLUMN run_date DATE NULL;
