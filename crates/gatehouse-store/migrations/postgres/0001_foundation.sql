-- Identities, tokens, grants and the audit log. Times are Unix milliseconds.

CREATE TABLE installation (
    singleton        BIGINT PRIMARY KEY CHECK (singleton = 1),
    initialized_at   BIGINT NOT NULL,
    audit_public_key TEXT NOT NULL
);

CREATE TABLE identities (
    id               TEXT PRIMARY KEY,
    kind             TEXT NOT NULL CHECK (kind IN ('human', 'service')),
    name             TEXT NOT NULL,
    email            TEXT,
    email_normalized TEXT,
    status           TEXT NOT NULL CHECK (status IN ('active', 'suspended', 'deprovisioned')),
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE UNIQUE INDEX identities_human_email ON identities (email_normalized)
    WHERE kind = 'human' AND status <> 'deprovisioned';
CREATE UNIQUE INDEX identities_service_name ON identities (name)
    WHERE kind = 'service' AND status <> 'deprovisioned';

CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY,
    identity_id  TEXT NOT NULL REFERENCES identities (id),
    token_hash   BYTEA NOT NULL UNIQUE,
    description  TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT,
    created_by   TEXT REFERENCES identities (id)
);
CREATE INDEX api_tokens_identity ON api_tokens (identity_id);

CREATE TABLE grants (
    id          TEXT PRIMARY KEY,
    identity_id TEXT NOT NULL REFERENCES identities (id),
    role        TEXT NOT NULL,
    scope       TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT,
    revoked_at  BIGINT,
    created_by  TEXT REFERENCES identities (id)
);
CREATE INDEX grants_identity ON grants (identity_id);

CREATE TABLE audit_entries (
    idx         BIGINT PRIMARY KEY,
    time        BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    actor_kind  TEXT NOT NULL,
    action      TEXT NOT NULL,
    resource    TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    reason      TEXT NOT NULL,
    request_id  TEXT,
    source_ip   TEXT,
    mfa         BIGINT NOT NULL,
    details     TEXT NOT NULL,
    leaf        BYTEA NOT NULL
);
CREATE INDEX audit_entries_actor ON audit_entries (actor, idx);
CREATE INDEX audit_entries_action ON audit_entries (action, idx);

-- The audit log is append-only, in the database too.
CREATE FUNCTION audit_entries_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit entries are append-only';
END;
$$;
CREATE TRIGGER audit_entries_no_update BEFORE UPDATE OR DELETE ON audit_entries
    FOR EACH ROW EXECUTE FUNCTION audit_entries_refuse_change();
CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries
    FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_refuse_change();
