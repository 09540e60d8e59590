-- An entry's fields are stored once. The leaf (the canonical JSON the
-- Merkle tree hashes) is a function of the row's columns, so new rows leave
-- `leaf` NULL and readers compute it; a row written before keeps the bytes
-- it was hashed with. Each entry was stored twice before (its columns and
-- its leaf), and every append wrote both into the WAL.
--
-- SQLite cannot drop a NOT NULL constraint in place: the table is rebuilt,
-- as in 0010, with its rows, indexes and append-only triggers.

CREATE TABLE audit_entries_leaf_derived (
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
    leaf        BLOB,
    prev_root   BLOB
);
INSERT INTO audit_entries_leaf_derived
    SELECT idx, time, actor, actor_kind, action, resource, outcome, reason, request_id, source_ip, mfa, details,
           leaf, prev_root
    FROM audit_entries ORDER BY idx;
DROP TABLE audit_entries;
ALTER TABLE audit_entries_leaf_derived RENAME TO audit_entries;
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
