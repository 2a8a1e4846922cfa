CREATE INDEX ix_webhook_endpoints_shop ON webhook_endpoints (shop_id, deleted_at);
