-- Schema version 4: optimistic concurrency for programs. `version` is bumped by every change of
-- a program or of its meeting modes (the store writes `... WHERE id = ? AND version = ?`, so a
-- change decided on an older version changes nothing and is refused, as on PostgreSQL);
-- `updated_by` names the operator who changed it last (NULL until a change after v4).
-- Released migrations are never edited: later changes go in a new file.
ALTER TABLE programs ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE programs ADD COLUMN updated_by TEXT;
