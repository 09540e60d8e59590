-- The audit log's Merkle tree: every complete subtree's hash, and the
-- signed checkpoints. Entries written before this migration get their tree
-- nodes built at the next start (see `tree_repair`).

ALTER TABLE installation ADD COLUMN audit_origin TEXT;
ALTER TABLE audit_entries ADD COLUMN prev_root BLOB;

CREATE INDEX audit_entries_resource ON audit_entries (resource, idx);
CREATE INDEX audit_entries_time ON audit_entries (time, idx);

CREATE TABLE audit_tree (
    level BIGINT NOT NULL,
    idx   BIGINT NOT NULL,
    hash  BLOB NOT NULL,
    PRIMARY KEY (level, idx)
);

CREATE TABLE audit_checkpoints (
    tree_size  BIGINT PRIMARY KEY,
    root       BLOB NOT NULL,
    note       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TRIGGER audit_tree_no_update BEFORE UPDATE ON audit_tree
BEGIN
    SELECT RAISE(ABORT, 'audit entries are append-only');
END;
CREATE TRIGGER audit_tree_no_delete BEFORE DELETE ON audit_tree
BEGIN
    SELECT RAISE(ABORT, 'audit entries are append-only');
END;
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'audit entries are append-only');
END;
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'audit entries are append-only');
END;
