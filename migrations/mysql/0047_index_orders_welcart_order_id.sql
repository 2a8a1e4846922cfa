CREATE UNIQUE INDEX uq_orders_shop_welcart_order ON orders (shop_id, welcart_order_id);
