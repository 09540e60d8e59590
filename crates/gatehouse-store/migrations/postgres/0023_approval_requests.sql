-- Requests through the approved channel and the votes on them. Instants are
-- Unix ms. `resource` is the action's resource or the access request's scope
-- (scope syntax, so a prefix lists a project's requests); `binding_key` is
-- the CI run a deployment approval is for, and a run has one open (pending
-- or approved) request at a time. `revision` moves with every vote,
-- withdrawal and state change: a vote names the revision it tallied.
CREATE TABLE approval_requests (
    id               TEXT PRIMARY KEY,
    kind             TEXT NOT NULL CHECK (kind IN ('access', 'action')),
    state            TEXT NOT NULL,
    rule_id          TEXT NOT NULL,
    policy_hash      TEXT NOT NULL,
    requester        TEXT NOT NULL REFERENCES identities (id),
    resource         TEXT NOT NULL,
    role             TEXT,
    duration_seconds BIGINT,
    action           TEXT,
    forge            TEXT,
    repository       TEXT,
    run_id           TEXT,
    run_attempt      BIGINT,
    environment      TEXT,
    sha              TEXT,
    authors          TEXT,
    workflow_digest  TEXT,
    binding_key      TEXT,
    reason           TEXT,
    ticket           TEXT,
    digest           TEXT NOT NULL,
    break_glass      BIGINT NOT NULL,
    incident         TEXT,
    grant_id         TEXT REFERENCES grants (id),
    assignment       TEXT NOT NULL,
    revision         BIGINT NOT NULL,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    decided_at       BIGINT,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX approval_requests_state_expires ON approval_requests (state, expires_at);
CREATE INDEX approval_requests_requester_created ON approval_requests (requester, created_at);
CREATE UNIQUE INDEX approval_requests_open_binding ON approval_requests (binding_key)
    WHERE binding_key IS NOT NULL AND state IN ('pending', 'approved');

-- `clauses` is a JSON array of the rule's clause ids; a vote is live until
-- `withdrawn_at`, and a person has one live vote per request.
CREATE TABLE approval_votes (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request_id      TEXT NOT NULL REFERENCES approval_requests (id),
    voter           TEXT NOT NULL REFERENCES identities (id),
    decision        TEXT NOT NULL CHECK (decision IN ('approve', 'deny')),
    reason          TEXT,
    clauses         TEXT NOT NULL,
    mfa_age_seconds BIGINT NOT NULL,
    digest          TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    withdrawn_at    BIGINT
);
CREATE INDEX approval_votes_request ON approval_votes (request_id);
CREATE INDEX approval_votes_voter ON approval_votes (voter);
CREATE UNIQUE INDEX approval_votes_live ON approval_votes (request_id, voter) WHERE withdrawn_at IS NULL;
-- No credential-epoch trigger: a request or vote authenticates nobody. The
-- grant an access request puts in force is written to `grants`, whose
-- trigger moves the epoch.
