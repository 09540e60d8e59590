-- TOTP second factors: the secret sealed with the data dir's key (never in
-- the clear), the last step used (replays refused), failed attempts and a
-- lock (throttling). Recovery codes kept as SHA-256 hashes, each used once.
CREATE TABLE mfa_totp (
    identity_id   TEXT PRIMARY KEY REFERENCES identities (id),
    sealed_secret BYTEA NOT NULL,
    confirmed_at  BIGINT,
    last_step     BIGINT,
    failures      BIGINT NOT NULL DEFAULT 0,
    locked_until  BIGINT,
    created_at    BIGINT NOT NULL
);

CREATE TABLE mfa_recovery_codes (
    identity_id TEXT NOT NULL REFERENCES identities (id),
    code_hash   TEXT NOT NULL,
    used_at     BIGINT,
    PRIMARY KEY (identity_id, code_hash)
);

-- When the holder of a token last proved their second factor with it.
ALTER TABLE api_tokens ADD COLUMN mfa_verified_at BIGINT;
