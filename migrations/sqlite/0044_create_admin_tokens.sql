CREATE TABLE admin_tokens (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name VARCHAR(191) NOT NULL,
  prefix VARCHAR(32) NOT NULL,
  hash VARCHAR(128) NOT NULL,
  created_at DATETIME NOT NULL,
  revoked_at DATETIME NULL,
  CONSTRAINT uq_admin_tokens_hash UNIQUE (hash)
);
