-- Access review campaigns: the definition they ran under, their snapshot
-- (one row per item, its canonical JSON form as the digest hashed it),
-- who is named reviewer of what, and the decisions. A decision's place
-- (campaign, item, sequence) is its primary key: two reviewers racing for
-- the same place cannot both be recorded.
CREATE TABLE review_campaigns (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    definition       TEXT NOT NULL,
    policy_hash      TEXT NOT NULL,
    trigger_kind     TEXT NOT NULL,
    trigger_subject  TEXT NOT NULL,
    holds            TEXT,
    opened_by        TEXT REFERENCES identities (id),
    state            TEXT NOT NULL,
    opened_at        BIGINT NOT NULL,
    deadline         BIGINT NOT NULL,
    closed_at        BIGINT,
    snapshot_digest  TEXT NOT NULL,
    items            BIGINT NOT NULL,
    reminded_at      BIGINT,
    counts           TEXT,
    decisions_digest TEXT
);
CREATE INDEX review_campaigns_open ON review_campaigns (deadline) WHERE state = 'open';

CREATE TABLE review_items (
    campaign_id TEXT NOT NULL REFERENCES review_campaigns (id),
    number      BIGINT NOT NULL,
    body        TEXT NOT NULL,
    PRIMARY KEY (campaign_id, number)
);

CREATE TABLE review_item_reviewers (
    reviewer    TEXT NOT NULL,
    campaign_id TEXT NOT NULL REFERENCES review_campaigns (id),
    number      BIGINT NOT NULL,
    PRIMARY KEY (reviewer, campaign_id, number)
);

CREATE TABLE review_decisions (
    campaign_id TEXT NOT NULL REFERENCES review_campaigns (id),
    item        BIGINT NOT NULL,
    sequence    BIGINT NOT NULL,
    body        TEXT NOT NULL,
    PRIMARY KEY (campaign_id, item, sequence)
);
