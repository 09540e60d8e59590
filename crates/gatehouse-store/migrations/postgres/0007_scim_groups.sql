-- Groups as the identity provider keeps them, their members, and the
-- mappings that give a group's members a role over a scope. Grants a
-- mapping gave are remembered, so they are revoked when membership or the
-- mapping ends.
CREATE TABLE scim_groups (
    id                      TEXT PRIMARY KEY,
    display_name            TEXT NOT NULL,
    display_name_normalized TEXT NOT NULL UNIQUE,
    external_id             TEXT,
    created_at              BIGINT NOT NULL,
    updated_at              BIGINT NOT NULL
);

CREATE TABLE scim_group_members (
    group_id    TEXT NOT NULL REFERENCES scim_groups (id) ON DELETE CASCADE,
    identity_id TEXT NOT NULL REFERENCES identities (id),
    PRIMARY KEY (group_id, identity_id)
);
CREATE INDEX scim_group_members_identity ON scim_group_members (identity_id);

CREATE TABLE group_mappings (
    id               TEXT PRIMARY KEY,
    group_normalized TEXT NOT NULL,
    group_name       TEXT NOT NULL,
    role             TEXT NOT NULL,
    scope            TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    created_by       TEXT REFERENCES identities (id),
    UNIQUE (group_normalized, role, scope)
);

CREATE TABLE group_grants (
    identity_id TEXT NOT NULL REFERENCES identities (id),
    mapping_id  TEXT NOT NULL REFERENCES group_mappings (id),
    grant_id    TEXT NOT NULL REFERENCES grants (id),
    PRIMARY KEY (identity_id, mapping_id)
);
