-- Schema version 2: what the list pages need at scale (tens of thousands of programs, hundreds of
-- thousands of meetings, millions of attendee and audit rows). Every list is read a page at a time
-- by keyset ("the rows after this sort key", see `store::page`), so each needs an index that
-- yields its rows already in list order after its filters' equality columns; the benchmark
-- `cargo bench -p tsched-core --bench store_scale` checks every plan and its timing.
-- Released migrations are never edited: later changes go in a new file.
--
-- Already served by schema v1 indexes (the rowid is the last column of every index):
--   programs by (archived, name)               programs_archived_name
--   participants of a program by email         UNIQUE (program_id, email)
--   operators by upn                           UNIQUE upn
--   audit newest first by (at, id), filtered   audit_at, audit_operator_at, audit_program_at,
--     by operator, program or action             audit_action_at
--   meetings by (start_utc, id), filtered      meetings_start, meetings_program_start,
--     by program or state                        meetings_state_start
--   (a participant's meetings: see below)
--   batches newest first by id                 the primary key
--   items of a batch by line                   PRIMARY KEY (batch_id, line)

-- Program search is a case-insensitive substring of name or code. A LIKE '%term%' cannot use a
-- B-tree index, so a trigram full-text index answers terms of three characters or more (shorter
-- terms match so many programs that the first page fills after a few rows anyway).
-- External content: the text lives once, in `programs`; the triggers keep the index in step.
CREATE VIRTUAL TABLE programs_search USING fts5 (
    name, code, content = 'programs', content_rowid = 'id', tokenize = 'trigram'
);
INSERT INTO programs_search (programs_search) VALUES ('rebuild');
CREATE TRIGGER programs_search_insert AFTER INSERT ON programs
BEGIN
    INSERT INTO programs_search (rowid, name, code) VALUES (new.id, new.name, new.code);
END;
CREATE TRIGGER programs_search_delete AFTER DELETE ON programs
BEGIN
    INSERT INTO programs_search (programs_search, rowid, name, code)
    VALUES ('delete', old.id, old.name, old.code);
END;
CREATE TRIGGER programs_search_update AFTER UPDATE OF name, code ON programs
BEGIN
    INSERT INTO programs_search (programs_search, rowid, name, code)
    VALUES ('delete', old.id, old.name, old.code);
    INSERT INTO programs_search (rowid, name, code) VALUES (new.id, new.name, new.code);
END;

-- Meetings of one program in one state, by start: without it a program's page filtered by a
-- rare state walks all of that program's meetings.
CREATE INDEX meetings_program_state_start ON meetings (program_id, state, start_utc);

-- "Meetings with this participant" matches the address or the directory UPN (case-insensitively),
-- by start time. Each attendee row gets a copy of its meeting's start, kept by the triggers below,
-- so a person's meetings come out of one index already in list order and a page stops after 100
-- of them, however many meetings the person has (else every one of them is read and sorted).
-- The UPN is usually the address, so only attendees whose UPN differs are indexed by it: the
-- lookup by UPN then adds only what the address missed. (`store::meetings` repeats that WHERE
-- word for word, so SQLite can use the partial index.)
ALTER TABLE meeting_attendees ADD COLUMN start_utc TEXT;
UPDATE meeting_attendees
SET start_utc = (SELECT m.start_utc FROM meetings m WHERE m.id = meeting_attendees.meeting_id);
CREATE TRIGGER meeting_attendees_start AFTER INSERT ON meeting_attendees
WHEN new.start_utc IS NULL
BEGIN
    UPDATE meeting_attendees
    SET start_utc = (SELECT m.start_utc FROM meetings m WHERE m.id = new.meeting_id)
    WHERE meeting_id = new.meeting_id AND address = new.address;
END;
CREATE TRIGGER meetings_start_to_attendees AFTER UPDATE OF start_utc ON meetings
BEGIN
    UPDATE meeting_attendees SET start_utc = new.start_utc WHERE meeting_id = new.id;
END;
DROP INDEX meeting_attendees_address;
CREATE INDEX meeting_attendees_address_start ON meeting_attendees (address, start_utc, meeting_id);
CREATE INDEX meeting_attendees_upn_start ON meeting_attendees (upn COLLATE NOCASE, start_utc, meeting_id)
WHERE upn <> address COLLATE NOCASE;

-- Items of a batch in one state, in line order (v1's (batch_id, state) index yields them in rowid
-- order, which needs a sort of every item in that state).
DROP INDEX batch_items_state;
CREATE INDEX batch_items_state_line ON batch_items (batch_id, state, line);

-- Item counts per batch and state, kept by triggers, so a page of 100 batches reads 100 small
-- rows instead of counting every item of every batch on it.
CREATE TABLE batch_item_counts (
    batch_id INTEGER NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
    state    TEXT NOT NULL,
    n        INTEGER NOT NULL,
    PRIMARY KEY (batch_id, state)
) WITHOUT ROWID;
INSERT INTO batch_item_counts (batch_id, state, n)
SELECT batch_id, state, count(*) FROM batch_items GROUP BY batch_id, state;
CREATE TRIGGER batch_item_counts_insert AFTER INSERT ON batch_items
BEGIN
    INSERT INTO batch_item_counts (batch_id, state, n) VALUES (new.batch_id, new.state, 1)
    ON CONFLICT (batch_id, state) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER batch_item_counts_delete AFTER DELETE ON batch_items
BEGIN
    UPDATE batch_item_counts SET n = n - 1 WHERE batch_id = old.batch_id AND state = old.state;
END;
CREATE TRIGGER batch_item_counts_update AFTER UPDATE OF batch_id, state ON batch_items
WHEN old.batch_id IS NOT new.batch_id OR old.state IS NOT new.state
BEGIN
    UPDATE batch_item_counts SET n = n - 1 WHERE batch_id = old.batch_id AND state = old.state;
    INSERT INTO batch_item_counts (batch_id, state, n) VALUES (new.batch_id, new.state, 1)
    ON CONFLICT (batch_id, state) DO UPDATE SET n = n + 1;
END;
