-- Schema version 6: invitations (issue 22). The integration's invitation mode — 'none' (the join
-- link and .ics exports, as before) or 'calendar' (each meeting is an event on the host's
-- calendar, so Exchange sends the invitations) — chosen by a global admin and kept through
-- reconnects. Each meeting records the mode it was made in (a pending meeting resumes the same
-- way), its calendar event's id, and when Exchange was asked to send the invitations, their
-- update and their cancellation (UTC in the store's text form).
-- Released migrations are never edited: later changes go in a new file.
ALTER TABLE integration ADD COLUMN invitation_mode TEXT NOT NULL DEFAULT 'none'
    CHECK (invitation_mode IN ('none', 'calendar'));
ALTER TABLE meetings ADD COLUMN invitations TEXT NOT NULL DEFAULT 'none'
    CHECK (invitations IN ('none', 'calendar'));
ALTER TABLE meetings ADD COLUMN event_id TEXT;
ALTER TABLE meetings ADD COLUMN invitations_sent_at TEXT;
ALTER TABLE meetings ADD COLUMN invitations_updated_at TEXT;
ALTER TABLE meetings ADD COLUMN invitations_cancelled_at TEXT;
