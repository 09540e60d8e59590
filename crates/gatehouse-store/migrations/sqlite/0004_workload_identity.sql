-- Trust bindings: CI jobs whose OIDC token comes from `issuer` with
-- `audience` and meets the claim conditions (`claims`, a JSON object of
-- claim name to value, glob or list) act as the service identity.
-- Deleting one keeps the row (deleted_at) so the audit trail can name it.
CREATE TABLE trust_bindings (
    id              TEXT PRIMARY KEY,
    issuer          TEXT NOT NULL,
    audience        TEXT NOT NULL,
    claims          TEXT NOT NULL,
    identity_id     TEXT NOT NULL REFERENCES identities (id),
    max_ttl_seconds BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    created_by      TEXT REFERENCES identities (id),
    deleted_at      BIGINT
);
CREATE INDEX trust_bindings_issuer ON trust_bindings (issuer) WHERE deleted_at IS NULL;

-- Tokens obtained by a CI job name the binding they came through, so that
-- deleting the binding revokes them.
ALTER TABLE api_tokens ADD COLUMN trust_binding_id TEXT REFERENCES trust_bindings (id);

-- Webhook deliveries already processed, so a replayed delivery is refused.
CREATE TABLE webhook_deliveries (
    source      TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (source, delivery_id)
);
