-- The durable outbox of notifications. Instants are Unix ms.
--
-- `notify_cursor` holds one row: the index of the first audit entry the
-- feeder has not yet turned into deliveries. It starts at the log's end as
-- this migration finds it (no request existed before 0023).
CREATE TABLE notify_cursor (
    name       TEXT PRIMARY KEY,
    next_index BIGINT NOT NULL
);
INSERT INTO notify_cursor (name, next_index)
    SELECT 'notify', COALESCE(MAX(idx) + 1, 0) FROM audit_entries;

-- One notification for one target. `body` is exactly what is sent (NULL
-- while held: a GitHub protection rule's answer waits for its request to
-- be decided, `callback` saying where it goes). A delivery is due while
-- `next_attempt_at` is set; `lease_until` and `lease` keep a claimed one
-- from being sent by a second node. `last_error` is a few words, never a
-- secret nor what the target answered beyond its status.
CREATE TABLE notify_deliveries (
    id              TEXT PRIMARY KEY,
    target          TEXT NOT NULL,
    kind            TEXT NOT NULL,
    event           TEXT NOT NULL,
    request_id      TEXT NOT NULL REFERENCES approval_requests (id),
    body            BYTEA,
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
CREATE INDEX notify_deliveries_due ON notify_deliveries (next_attempt_at) WHERE next_attempt_at IS NOT NULL;
CREATE INDEX notify_deliveries_held ON notify_deliveries (request_id) WHERE body IS NULL;
CREATE INDEX notify_deliveries_request ON notify_deliveries (request_id, created_at);
