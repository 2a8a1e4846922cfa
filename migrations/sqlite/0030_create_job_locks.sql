CREATE TABLE job_locks (
  name VARCHAR(191) NOT NULL,
  run_key VARCHAR(64) NOT NULL,
  owner VARCHAR(191) NOT NULL DEFAULT '',
  locked_at DATETIME NOT NULL,
  released_at DATETIME NULL,
  PRIMARY KEY (name, run_key)
);
