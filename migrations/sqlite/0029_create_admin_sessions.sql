CREATE TABLE admin_sessions (
  id_hash CHAR(64) NOT NULL PRIMARY KEY,
  user_id INTEGER NOT NULL,
  created_at DATETIME NOT NULL,
  last_seen_at DATETIME NOT NULL,
  expires_at DATETIME NOT NULL
);
