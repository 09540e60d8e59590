-- The audit tree's nodes in the order appends complete them: keyed by the
-- last leaf a node covers, then its level (`node` = last_leaf * 64 + level,
-- see tree_key.rs). Keyed by (level, idx), each level's insertion point was
-- a different page and every commit rewrote several; now a batch's nodes go
-- to the table's right end. `level` and `idx` stay as plain columns.

CREATE TABLE audit_tree_in_append_order (
    node  INTEGER PRIMARY KEY,
    level BIGINT NOT NULL,
    idx   BIGINT NOT NULL,
    hash  BLOB NOT NULL
);
INSERT INTO audit_tree_in_append_order
    SELECT (((idx + 1) << level) - 1) * 64 + level, level, idx, hash FROM audit_tree
    ORDER BY (((idx + 1) << level) - 1) * 64 + level;
DROP TABLE audit_tree;
ALTER TABLE audit_tree_in_append_order RENAME TO audit_tree;
CREATE TRIGGER audit_tree_no_update BEFORE UPDATE ON audit_tree
BEGIN
    SELECT RAISE(ABORT, 'audit entries are append-only');
END;
CREATE TRIGGER audit_tree_no_delete BEFORE DELETE ON audit_tree
BEGIN
    SELECT RAISE(ABORT, 'audit entries are append-only');
END;
