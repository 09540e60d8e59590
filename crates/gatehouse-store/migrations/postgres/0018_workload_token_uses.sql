-- CI tokens already exchanged for a gatehouse token, named by the SHA-256
-- of their issuer and `jti` (or of the whole token when it has no `jti`),
-- so that no node exchanges one twice. A use is kept until its token
-- expires (`kept_until`, Unix ms) and deleted after.
CREATE TABLE workload_token_uses (
    use_key    TEXT PRIMARY KEY,
    used_at    BIGINT NOT NULL,
    kept_until BIGINT NOT NULL
);
CREATE INDEX workload_token_uses_kept_until ON workload_token_uses (kept_until);
