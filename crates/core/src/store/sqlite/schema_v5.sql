-- Schema version 5: the lease of the run that sends a batch's items. A run takes it before it
-- sends anything (only when nobody holds it, it lapsed, or its holder is known gone), renews it
-- on a heartbeat and releases it when it stops; a batch stored `running` whose lease is not live
-- is shown as interrupted (never stored as such). `lease_holder` names the process
-- (`pid@host#run`, no secret); `lease_since` and `lease_until` are UTC in the store's text form.
-- Released migrations are never edited: later changes go in a new file.
ALTER TABLE batches ADD COLUMN lease_holder TEXT;
ALTER TABLE batches ADD COLUMN lease_since TEXT;
ALTER TABLE batches ADD COLUMN lease_until TEXT;
