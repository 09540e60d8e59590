-- Browser sessions of people signed in through the identity provider:
-- server-side (revocable, listed per identity); the cookie carries a
-- random secret whose SHA-256 is kept here.
CREATE TABLE sessions (
    id              TEXT PRIMARY KEY,
    token_hash      BLOB NOT NULL UNIQUE,
    identity_id     TEXT NOT NULL REFERENCES identities (id),
    created_at      BIGINT NOT NULL,
    last_seen_at    BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    revoked_at      BIGINT,
    mfa_verified_at BIGINT,
    source_ip       TEXT
);
CREATE INDEX sessions_identity ON sessions (identity_id);

-- A person's account at an identity provider, by issuer and subject.
CREATE TABLE identity_links (
    issuer      TEXT NOT NULL,
    subject     TEXT NOT NULL,
    identity_id TEXT NOT NULL REFERENCES identities (id),
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (issuer, subject)
);
