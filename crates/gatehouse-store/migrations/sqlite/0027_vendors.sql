-- Vendors of outside tools, the evidence they give, the integrations that
-- wire their tools into the pipeline, and the exceptions that waive a rule
-- of the API access standard. Instants are Unix ms; dates are YYYY-MM-DD;
-- flags are 0 or 1. Whether anything is allowed is the domain's; the
-- tables keep the records and the guards against races.
CREATE TABLE vendors (
    id                     TEXT PRIMARY KEY,
    name                   TEXT NOT NULL,
    -- The name without case: two vendors cannot share one.
    name_key               TEXT NOT NULL UNIQUE,
    tier                   TEXT NOT NULL,
    business_owner         TEXT REFERENCES identities (id),
    security_owner         TEXT REFERENCES identities (id),
    contract_start         TEXT NOT NULL,
    contract_renewal       TEXT NOT NULL,
    contract_end           TEXT NOT NULL,
    data_access            TEXT NOT NULL,
    logging_what           TEXT,
    logging_retention_days BIGINT,
    logging_tamper_evident BIGINT,
    status                 TEXT NOT NULL
);

-- Evidence content, once per SHA-256 digest (hex).
CREATE TABLE evidence_content (
    digest  TEXT PRIMARY KEY,
    size    BIGINT NOT NULL,
    content BLOB NOT NULL
);

-- One evidence item: its kind, its metadata (the JSON form of
-- `vendor::metadata_to_json`) and the digest of its content. `note` is
-- what the scheduler last announced about it (valid, due_soon, expired).
CREATE TABLE vendor_evidence (
    id        TEXT PRIMARY KEY,
    vendor_id TEXT NOT NULL REFERENCES vendors (id),
    kind      TEXT NOT NULL,
    metadata  TEXT NOT NULL,
    digest    TEXT NOT NULL REFERENCES evidence_content (digest),
    size      BIGINT NOT NULL,
    filename  TEXT NOT NULL,
    added_at  BIGINT NOT NULL,
    note      TEXT
);
CREATE INDEX vendor_evidence_by_vendor ON vendor_evidence (vendor_id, id);

-- An integration: one vendor, one service identity, the access it declares
-- (the JSON form of `vendor::declared_to_json`). One identity serves one
-- integration that is not retired.
CREATE TABLE integrations (
    id                 TEXT PRIMARY KEY,
    vendor_id          TEXT NOT NULL REFERENCES vendors (id),
    identity_id        TEXT NOT NULL REFERENCES identities (id),
    declared           TEXT NOT NULL,
    state              TEXT NOT NULL,
    onboarding_request TEXT,
    noted_in_force     BIGINT,
    registered_by      TEXT NOT NULL,
    registered_at      BIGINT NOT NULL
);
CREATE UNIQUE INDEX integrations_one_per_identity ON integrations (identity_id) WHERE state <> 'retired';
CREATE INDEX integrations_by_vendor ON integrations (vendor_id, id);

-- An exception to one rule for one integration: asked by one person,
-- granted by another, until `expires_at`.
CREATE TABLE integration_exceptions (
    id               TEXT PRIMARY KEY,
    integration_id   TEXT NOT NULL REFERENCES integrations (id),
    rule             TEXT NOT NULL,
    reason           TEXT NOT NULL,
    requested_by     TEXT NOT NULL,
    requested_at     BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    approved_by      TEXT,
    approved_at      BIGINT,
    expiry_announced BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX integration_exceptions_by_integration ON integration_exceptions (integration_id, id);
