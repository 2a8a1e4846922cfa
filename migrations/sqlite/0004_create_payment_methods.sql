CREATE TABLE payment_methods (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name VARCHAR(191) NOT NULL,
  explanation TEXT NULL,
  settlement VARCHAR(64) NOT NULL DEFAULT '',
  module VARCHAR(191) NOT NULL DEFAULT '',
  sort INT NOT NULL DEFAULT 0,
  "use" VARCHAR(16) NOT NULL DEFAULT 'activate',
  created_at DATETIME NOT NULL,
  updated_at DATETIME NOT NULL,
  CONSTRAINT uq_payment_methods_name UNIQUE (name)
);
