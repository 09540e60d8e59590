-- Notifications about vendors and integrations go through the outbox too:
-- they are about no request. `subject` is what a delivery is about, as the
-- audit log names it (`request:<id>`, `vendor:<id>`, `integration:<id>`);
-- `request_id` is set only for a request's notifications.
ALTER TABLE notify_deliveries ALTER COLUMN request_id DROP NOT NULL;
ALTER TABLE notify_deliveries ADD COLUMN subject TEXT;
UPDATE notify_deliveries SET subject = 'request:' || request_id;
ALTER TABLE notify_deliveries ALTER COLUMN subject SET NOT NULL;
