CREATE INDEX ix_orders_date ON orders (order_date);
