-- Who signed which commit, as a verification through gatehouse proved it
-- (`POST /api/v1/verify/commit` and `/verify/push`, so also the
-- pre-receive hook): separation of duties reads these facts instead of
-- what a caller says. One row per commit, signer and repository ('' when
-- the verification named no project); the first record of a fact is kept.
-- `verification` is the audit action of the verification that proved it.
CREATE TABLE commit_authors (
    commit_sha      TEXT NOT NULL,
    identity_id     TEXT NOT NULL REFERENCES identities (id),
    repository      TEXT NOT NULL,
    key_fingerprint TEXT NOT NULL,
    verification    TEXT NOT NULL,
    recorded_at     BIGINT NOT NULL,
    PRIMARY KEY (commit_sha, identity_id, repository)
);
