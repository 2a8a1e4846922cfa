CREATE TABLE continuation_runs (
  run_date DATE NOT NULL PRIMARY KEY,
  started_at DATETIME NOT NULL,
  finished_at DATETIME NULL,
  mailed_at DATETIME NULL,
  updated_at DATETIME NOT NULL
);
