-- The audit tree's nodes in the order appends complete them: keyed by the
-- last leaf a node covers, then its level (`node` = last_leaf * 64 + level,
-- see tree_key.rs), so a batch's nodes go to the index's right end instead
-- of one insertion point per level. `level` and `idx` stay as plain columns.

CREATE TABLE audit_tree_in_append_order (
    node  BIGINT PRIMARY KEY,
    level BIGINT NOT NULL,
    idx   BIGINT NOT NULL,
    hash  BYTEA NOT NULL
);
INSERT INTO audit_tree_in_append_order
    SELECT (((idx + 1) << level::integer) - 1) * 64 + level, level, idx, hash FROM audit_tree;
DROP TABLE audit_tree;
ALTER TABLE audit_tree_in_append_order RENAME TO audit_tree;
ALTER INDEX audit_tree_in_append_order_pkey RENAME TO audit_tree_pkey;
CREATE TRIGGER audit_tree_no_update BEFORE UPDATE OR DELETE ON audit_tree
    FOR EACH ROW EXECUTE FUNCTION audit_entries_refuse_change();
CREATE TRIGGER audit_tree_no_truncate BEFORE TRUNCATE ON audit_tree
    FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_refuse_change();
