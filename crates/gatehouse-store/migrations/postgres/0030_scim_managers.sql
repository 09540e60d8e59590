-- Each SCIM user's manager (issue 28): the enterprise extension's
-- `manager.value`, stored as the manager's identity. A manager later
-- deprovisioned stays named here; whoever resolves reviewers skips a
-- manager who is not active.
ALTER TABLE scim_users ADD COLUMN manager_id TEXT REFERENCES identities (id);
