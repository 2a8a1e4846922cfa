INSERT INTO sqlite_sequence (name, seq) SELECT 'orders', 999 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'orders');
