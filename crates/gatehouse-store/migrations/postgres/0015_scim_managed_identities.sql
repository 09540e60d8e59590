-- Who made an identity SCIM's to change (issue 24): the provisioner
-- created it, or an admin linked it (linked_by, linked_at). Users SCIM
-- adopted by email before this (their identity is older than their SCIM
-- user) are kept, visible to the IdP, but SCIM changes nothing of them
-- until an admin links them.
ALTER TABLE scim_users ADD COLUMN origin TEXT NOT NULL DEFAULT 'created'
    CHECK (origin IN ('created', 'linked', 'adopted'));
ALTER TABLE scim_users ADD COLUMN linked_by TEXT REFERENCES identities (id);
ALTER TABLE scim_users ADD COLUMN linked_at BIGINT;
UPDATE scim_users SET origin = 'adopted'
    WHERE identity_id IN (
        SELECT s.identity_id FROM scim_users s JOIN identities i ON i.id = s.identity_id
        WHERE i.created_at <> s.created_at
    );
