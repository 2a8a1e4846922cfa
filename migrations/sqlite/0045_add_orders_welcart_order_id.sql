ALTER TABLE orders ADD COLUMN welcart_order_id BIGINT NULL;
