CREATE TABLE shop_keys (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  shop_id INTEGER NOT NULL REFERENCES shops(id),
  prefix VARCHAR(32) NOT NULL,
  hash VARCHAR(128) NOT NULL,
  created_at DATETIME NOT NULL,
  revoked_at DATETIME NULL,
  CONSTRAINT uq_shop_keys_hash UNIQUE (hash)
);
