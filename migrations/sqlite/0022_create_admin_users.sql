CREATE TABLE admin_users (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  login VARCHAR(191) NOT NULL,
  password_hash VARCHAR(255) NOT NULL,
  failed_logins INT NOT NULL DEFAULT 0,
  locked_until DATETIME NULL,
  created_at DATETIME NOT NULL,
  updated_at DATETIME NOT NULL,
  CONSTRAINT uq_admin_users_login UNIQUE (login)
);
