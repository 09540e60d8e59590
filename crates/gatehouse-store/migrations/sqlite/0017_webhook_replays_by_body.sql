-- A webhook replay is recognised by its body as well as its delivery id:
-- GitHub's HMAC does not cover X-GitHub-Delivery, so a captured delivery
-- could be sent again under a new id. Rows from before this have no hash.
ALTER TABLE webhook_deliveries ADD COLUMN body_sha256 TEXT;
CREATE UNIQUE INDEX webhook_deliveries_body ON webhook_deliveries (source, body_sha256);
-- Deliveries older than the replay window are forgotten with a range delete.
CREATE INDEX webhook_deliveries_received_at ON webhook_deliveries (received_at);
