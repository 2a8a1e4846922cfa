CREATE TABLE job_locks (
  name VARCHAR(191) NOT NULL,
  run_key VARCHAR(64) NOT NULL,
  owner VARCHAR(191) NOT NULL DEFAULT '',
  locked_at DATETIME(6) NOT NULL,
  released_at DATETIME(6) NULL,
  PRIMARY KEY (name, run_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
