CREATE TABLE modules (
  slug VARCHAR(64) NOT NULL PRIMARY KEY,
  display_name VARCHAR(191) NOT NULL DEFAULT '',
  version VARCHAR(64) NOT NULL DEFAULT '',
  binary_path VARCHAR(1024) NOT NULL DEFAULT '',
  sha256 CHAR(64) NOT NULL DEFAULT '',
  settlement_codes TEXT NULL,
  description TEXT NULL,
  selected INTEGER NOT NULL DEFAULT 0,
  sort INT NOT NULL DEFAULT 0,
  state VARCHAR(32) NOT NULL DEFAULT 'registered',
  last_error TEXT NULL,
  settings TEXT NULL,
  secrets BLOB NULL,
  generation BIGINT NOT NULL DEFAULT 0,
  created_at DATETIME NOT NULL,
  updated_at DATETIME NOT NULL
);
