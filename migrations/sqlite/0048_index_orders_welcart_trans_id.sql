CREATE UNIQUE INDEX uq_orders_shop_welcart_trans ON orders (shop_id, welcart_trans_id);
