-- The audit tables, stored as SQLite stores keys best. A `BIGINT PRIMARY
-- KEY` is not SQLite's rowid: it is a second B-tree beside the table, which
-- every append had to update too. An entry's and a checkpoint's index now
-- is the rowid (`INTEGER PRIMARY KEY`), and a tree node lives in its
-- primary key's own B-tree (`WITHOUT ROWID`): an append touches three
-- B-trees fewer, and each commit writes fewer pages. Rows are copied as
-- they are; dropping a table fires no DELETE trigger.

CREATE TABLE audit_entries_by_rowid (
    idx         INTEGER PRIMARY KEY,
    time        BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    actor_kind  TEXT NOT NULL,
    action      TEXT NOT NULL,
    resource    TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    reason      TEXT NOT NULL,
    request_id  TEXT,
    source_ip   TEXT,
    mfa         BIGINT NOT NULL,
    details     TEXT NOT NULL,
    leaf        BLOB NOT NULL,
    prev_root   BLOB
);
INSERT INTO audit_entries_by_rowid
    SELECT idx, time, actor, actor_kind, action, resource, outcome, reason, request_id, source_ip, mfa, details,
           leaf, prev_root
    FROM audit_entries ORDER BY idx;
DROP TABLE audit_entries;
ALTER TABLE audit_entries_by_rowid RENAME TO audit_entries;
CREATE INDEX audit_entries_actor ON audit_entries (actor, idx);
CREATE INDEX audit_entries_action ON audit_entries (action, idx);
CREATE INDEX audit_entries_resource ON audit_entries (resource, idx);
CREATE INDEX audit_entries_time ON audit_entries (time, idx);
CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
BEGIN
    SELECT RAISE(ABORT, 'audit entries are append-only');
END;
CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
BEGIN
    SELECT RAISE(ABORT, 'audit entries are append-only');
END;

CREATE TABLE audit_tree_by_key (
    level BIGINT NOT NULL,
    idx   BIGINT NOT NULL,
    hash  BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;
INSERT INTO audit_tree_by_key SELECT level, idx, hash FROM audit_tree ORDER BY level, idx;
DROP TABLE audit_tree;
ALTER TABLE audit_tree_by_key RENAME TO audit_tree;
CREATE TRIGGER audit_tree_no_update BEFORE UPDATE ON audit_tree
BEGIN
    SELECT RAISE(ABORT, 'audit entries are append-only');
END;
CREATE TRIGGER audit_tree_no_delete BEFORE DELETE ON audit_tree
BEGIN
    SELECT RAISE(ABORT, 'audit entries are append-only');
END;

CREATE TABLE audit_checkpoints_by_rowid (
    tree_size  INTEGER PRIMARY KEY,
    root       BLOB NOT NULL,
    note       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
INSERT INTO audit_checkpoints_by_rowid SELECT tree_size, root, note, created_at FROM audit_checkpoints ORDER BY tree_size;
DROP TABLE audit_checkpoints;
ALTER TABLE audit_checkpoints_by_rowid RENAME TO audit_checkpoints;
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'audit entries are append-only');
END;
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'audit entries are append-only');
END;
