-- Resources registered through the API, so the access matrix covers them
-- even before anyone holds a grant naming them.
CREATE TABLE resources (
    kind       TEXT NOT NULL,
    id         TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT REFERENCES identities (id),
    PRIMARY KEY (kind, id)
);
