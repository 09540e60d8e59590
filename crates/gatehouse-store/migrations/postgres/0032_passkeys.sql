-- Passkeys (WebAuthn) as second factors beside TOTP. A credential per
-- row: the authenticator's credential id (unique among everyone's), the
-- WebAuthn data as JSON (public key, signature counter, backup flags,
-- updated after each use), a label, created and last-used times.
CREATE TABLE passkey_credentials (
    id            TEXT PRIMARY KEY,
    identity_id   TEXT NOT NULL REFERENCES identities (id),
    label         TEXT NOT NULL,
    credential_id TEXT NOT NULL UNIQUE,
    credential    TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT
);
CREATE INDEX passkey_credentials_identity ON passkey_credentials (identity_id);

-- Ceremonies in flight: the server's half of a registration or an
-- authentication, kept between its start and its finish (a client-held
-- copy could be replayed). Keyed by the SHA-256 of a random id given to
-- the client; bound to the session or token that started it; taken
-- (deleted) when finished; void after expires_at.
CREATE TABLE passkey_ceremonies (
    id_hash     BYTEA PRIMARY KEY,
    identity_id TEXT NOT NULL REFERENCES identities (id),
    holder      TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('registration', 'authentication')),
    state       TEXT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX passkey_ceremonies_identity ON passkey_ceremonies (identity_id, expires_at);
CREATE INDEX passkey_ceremonies_expiry ON passkey_ceremonies (expires_at);

-- Whether a person has a second factor is part of their credential (see
-- 0012): registering or removing a passkey moves the epoch, a use (its
-- counter, last-use time) does not.
CREATE TRIGGER passkey_credentials_advance_credential_epoch
    AFTER INSERT OR DELETE OR TRUNCATE OR UPDATE OF identity_id ON passkey_credentials
    FOR EACH STATEMENT EXECUTE FUNCTION credential_epoch_advance();
