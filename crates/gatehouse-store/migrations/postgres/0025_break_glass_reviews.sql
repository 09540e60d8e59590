-- The after-review a break-glass request owes (one row per break-glass
-- request, written in its transaction). Instants are Unix ms. It is due at
-- `due_at` and complete (`completed_at`) once `need` distinct people have
-- reviewed it; `last_alert_at` is when the scheduler last raised it as
-- overdue. `revision` moves with every review and alert: a writer names the
-- revision it read, so two reviews at once cannot both think they are not
-- the last.
CREATE TABLE break_glass_after_reviews (
    request_id    TEXT PRIMARY KEY REFERENCES approval_requests (id),
    due_at        BIGINT NOT NULL,
    need          BIGINT NOT NULL CHECK (need >= 1),
    completed_at  BIGINT,
    last_alert_at BIGINT,
    revision      BIGINT NOT NULL
);
CREATE INDEX break_glass_after_reviews_open ON break_glass_after_reviews (due_at) WHERE completed_at IS NULL;

-- One review per person per break-glass request: `ok` or `flag`, with the
-- reason and how old the reviewer's second factor was.
CREATE TABLE break_glass_reviews (
    request_id      TEXT NOT NULL REFERENCES break_glass_after_reviews (request_id),
    reviewer        TEXT NOT NULL REFERENCES identities (id),
    decision        TEXT NOT NULL CHECK (decision IN ('ok', 'flag')),
    reason          TEXT NOT NULL,
    mfa_age_seconds BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (request_id, reviewer)
);
