-- Schema version 3: an audit row records who really acted when the operator it names was only
-- named, not proven (`--as` / `TSCHED_OPERATOR` under the test-only impersonation switch):
-- `real_actor` is `local:<os user>` then, NULL for proven operators and for setup mode.
-- Released migrations are never edited: later changes go in a new file.
ALTER TABLE audit_log ADD COLUMN real_actor TEXT;
