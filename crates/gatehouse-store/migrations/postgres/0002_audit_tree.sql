-- The audit log's Merkle tree: every complete subtree's hash, and the
-- signed checkpoints. Entries written before this migration get their tree
-- nodes built at the next start (see `tree_repair`).

ALTER TABLE installation ADD COLUMN audit_origin TEXT;
ALTER TABLE audit_entries ADD COLUMN prev_root BYTEA;

CREATE INDEX audit_entries_resource ON audit_entries (resource, idx);
CREATE INDEX audit_entries_time ON audit_entries (time, idx);

CREATE TABLE audit_tree (
    level BIGINT NOT NULL,
    idx   BIGINT NOT NULL,
    hash  BYTEA NOT NULL,
    PRIMARY KEY (level, idx)
);

CREATE TABLE audit_checkpoints (
    tree_size  BIGINT PRIMARY KEY,
    root       BYTEA NOT NULL,
    note       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TRIGGER audit_tree_no_update BEFORE UPDATE OR DELETE ON audit_tree
    FOR EACH ROW EXECUTE FUNCTION audit_entries_refuse_change();
CREATE TRIGGER audit_tree_no_truncate BEFORE TRUNCATE ON audit_tree
    FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_refuse_change();
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION audit_entries_refuse_change();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_refuse_change();
