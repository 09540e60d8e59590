-- Listing requests newest first for one state (an approver's inbox of
-- pending requests) or one requester reads an index already in id order,
-- whatever else is stored.
CREATE INDEX approval_requests_state_id ON approval_requests (state, id);
CREATE INDEX approval_requests_requester_id ON approval_requests (requester, id);
