-- The four secondary indexes on audit entries (actor, action, resource,
-- time) go. SQLite's planner never used them: the audit search binds each
-- filter as an optional parameter (`$n IS NULL OR column = $n`), which no
-- index can serve, and walks the entries in index order from its cursor,
-- as it still does. Yet every append wrote the right-hand leaf of each
-- index (and, when it split, its neighbours) into the write-ahead log:
-- about 40 % of the bytes each batch wrote. PostgreSQL keeps its indexes;
-- its planner can use them for the filters a search names.
DROP INDEX audit_entries_actor;
DROP INDEX audit_entries_action;
DROP INDEX audit_entries_resource;
DROP INDEX audit_entries_time;
