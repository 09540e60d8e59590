-- Public keys registered to identities for signing commits and artifacts.
-- One key, one identity: the fingerprint is unique.
CREATE TABLE signing_keys (
    id          TEXT PRIMARY KEY,
    identity_id TEXT NOT NULL REFERENCES identities (id),
    kind        TEXT NOT NULL,
    fingerprint TEXT NOT NULL UNIQUE,
    algorithm   TEXT NOT NULL,
    public_key  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    created_by  TEXT REFERENCES identities (id)
);
CREATE INDEX signing_keys_identity ON signing_keys (identity_id);

-- The ids a signature may name (SSH fingerprint; OpenPGP fingerprints and
-- key ids of the primary and signing subkeys), pointing at their key.
CREATE TABLE signing_key_ids (
    lookup_id      TEXT NOT NULL,
    signing_key_id TEXT NOT NULL REFERENCES signing_keys (id) ON DELETE CASCADE,
    PRIMARY KEY (lookup_id, signing_key_id)
);
CREATE INDEX signing_key_ids_key ON signing_key_ids (signing_key_id);
