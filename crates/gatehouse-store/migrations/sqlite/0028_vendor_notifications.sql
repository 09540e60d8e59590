-- Notifications about vendors and integrations go through the outbox too:
-- they are about no request. `subject` is what a delivery is about, as the
-- audit log names it (`request:<id>`, `vendor:<id>`, `integration:<id>`);
-- `request_id` is set only for a request's notifications. SQLite cannot
-- drop a NOT NULL, so the table is copied (nothing refers to it).
CREATE TABLE notify_deliveries_0028 (
    id              TEXT PRIMARY KEY,
    target          TEXT NOT NULL,
    kind            TEXT NOT NULL,
    event           TEXT NOT NULL,
    request_id      TEXT REFERENCES approval_requests (id),
    subject         TEXT NOT NULL,
    body            BLOB,
    callback        TEXT,
    attempts        BIGINT NOT NULL,
    next_attempt_at BIGINT,
    lease           TEXT,
    lease_until     BIGINT,
    delivered_at    BIGINT,
    given_up_at     BIGINT,
    last_error      TEXT,
    created_at      BIGINT NOT NULL
);
INSERT INTO notify_deliveries_0028
    (id, target, kind, event, request_id, subject, body, callback, attempts, next_attempt_at, lease,
     lease_until, delivered_at, given_up_at, last_error, created_at)
SELECT id, target, kind, event, request_id, 'request:' || request_id, body, callback, attempts, next_attempt_at,
       lease, lease_until, delivered_at, given_up_at, last_error, created_at
FROM notify_deliveries;
DROP TABLE notify_deliveries;
ALTER TABLE notify_deliveries_0028 RENAME TO notify_deliveries;
CREATE INDEX notify_deliveries_due ON notify_deliveries (next_attempt_at) WHERE next_attempt_at IS NOT NULL;
CREATE INDEX notify_deliveries_held ON notify_deliveries (request_id) WHERE body IS NULL;
CREATE INDEX notify_deliveries_request ON notify_deliveries (request_id, created_at);
