ALTER TABLE orders ADD COLUMN welcart_trans_id VARCHAR(64) NULL;
