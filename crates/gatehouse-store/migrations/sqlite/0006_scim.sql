-- People provisioned by the identity provider over SCIM: the User resource
-- as the IdP sent it, linked to a human identity. userName is unique,
-- compared case-insensitively.
CREATE TABLE scim_users (
    identity_id          TEXT PRIMARY KEY REFERENCES identities (id),
    user_name            TEXT NOT NULL,
    user_name_normalized TEXT NOT NULL UNIQUE,
    external_id          TEXT,
    attributes           TEXT NOT NULL,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL
);
CREATE INDEX scim_users_external_id ON scim_users (external_id);
