-- Schema version 1: the whole product's tables. Released migrations are never edited:
-- later changes go in a new file and a new entry in `store::migrations::MIGRATIONS`.
-- Times are UTC RFC 3339 text ('2027-03-14T09:30:00Z'), which sorts chronologically.

CREATE TABLE programs (
    id          INTEGER PRIMARY KEY,
    code        TEXT NOT NULL COLLATE NOCASE UNIQUE,
    name        TEXT NOT NULL COLLATE NOCASE UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    archived    INTEGER NOT NULL DEFAULT 0 CHECK (archived IN (0, 1)),
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX programs_archived_name ON programs (archived, name);

-- Which meeting modes a program allows. `mode` is validated in code so new modes need no migration.
CREATE TABLE program_meeting_modes (
    program_id INTEGER NOT NULL REFERENCES programs (id) ON DELETE CASCADE,
    mode       TEXT NOT NULL,
    enabled    INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    updated_at TEXT NOT NULL,
    PRIMARY KEY (program_id, mode)
) WITHOUT ROWID;

CREATE TABLE participants (
    id           INTEGER PRIMARY KEY,
    program_id   INTEGER NOT NULL REFERENCES programs (id) ON DELETE CASCADE,
    email        TEXT NOT NULL COLLATE NOCASE,
    display_name TEXT NOT NULL DEFAULT '',
    added_at     TEXT NOT NULL,
    UNIQUE (program_id, email)
);
CREATE INDEX participants_email ON participants (email);

CREATE TABLE operators (
    id           INTEGER PRIMARY KEY,
    upn          TEXT NOT NULL COLLATE NOCASE UNIQUE,
    object_id    TEXT UNIQUE,
    display_name TEXT NOT NULL DEFAULT '',
    active       INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at   TEXT NOT NULL
);

-- global_admin and support hold for every program (program_id NULL);
-- track_admin and coordinator are granted per program.
CREATE TABLE operator_roles (
    operator_id INTEGER NOT NULL REFERENCES operators (id) ON DELETE CASCADE,
    role        TEXT NOT NULL CHECK (role IN ('global_admin', 'track_admin', 'coordinator', 'support')),
    program_id  INTEGER REFERENCES programs (id) ON DELETE CASCADE,
    granted_at  TEXT NOT NULL,
    CHECK ((role IN ('global_admin', 'support')) = (program_id IS NULL))
);
CREATE UNIQUE INDEX operator_roles_unique ON operator_roles (operator_id, role, IFNULL(program_id, 0));
CREATE INDEX operator_roles_program ON operator_roles (program_id);

-- The tenant integration. One row at most. Never tokens: those live in the OS keyring only.
CREATE TABLE integration (
    id                INTEGER PRIMARY KEY CHECK (id = 1),
    cloud             TEXT NOT NULL,
    authority_base    TEXT NOT NULL,
    graph_base        TEXT NOT NULL,
    tenant_id         TEXT NOT NULL,
    client_id         TEXT NOT NULL,
    host_object_id    TEXT NOT NULL,
    host_upn          TEXT NOT NULL,
    host_display_name TEXT NOT NULL DEFAULT '',
    granted_scopes    TEXT NOT NULL,
    state             TEXT NOT NULL CHECK (state IN ('connected', 'needs_attention', 'removed')),
    attention_reason  TEXT,
    connected_at      TEXT NOT NULL,
    connected_by      TEXT,
    last_refresh_at   TEXT,
    removed_at        TEXT
);

-- Membership results, cached with the time they were checked.
CREATE TABLE directory_cache (
    address      TEXT PRIMARY KEY COLLATE NOCASE,
    class        TEXT NOT NULL CHECK (class IN ('member', 'guest', 'not_found', 'ambiguous')),
    matched_by   TEXT,
    object_id    TEXT,
    upn          TEXT,
    display_name TEXT,
    checked_at   TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE batches (
    id            INTEGER PRIMARY KEY,
    uid           TEXT NOT NULL UNIQUE,
    source_name   TEXT NOT NULL,
    source_sha256 TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('planned', 'running', 'paused', 'cancelled', 'completed')),
    pause_reason  TEXT,
    concurrency   INTEGER NOT NULL DEFAULT 8,
    programs      TEXT NOT NULL DEFAULT '',
    created_by    TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    finished_at   TEXT
);
CREATE INDEX batches_state ON batches (state, created_at);

CREATE TABLE meetings (
    id              INTEGER PRIMARY KEY,
    external_id     TEXT NOT NULL UNIQUE,
    program_id      INTEGER NOT NULL REFERENCES programs (id),
    batch_id        INTEGER REFERENCES batches (id),
    subject         TEXT NOT NULL,
    start_utc       TEXT NOT NULL,
    end_utc         TEXT NOT NULL,
    time_zone       TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'created', 'cancelling', 'cancelled', 'failed')),
    graph_id        TEXT UNIQUE,
    join_web_url    TEXT,
    join_meeting_id TEXT,
    passcode        TEXT,
    organizer_upn   TEXT,
    sequence        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    created_by      TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX meetings_program_start ON meetings (program_id, start_utc);
CREATE INDEX meetings_state_start ON meetings (state, start_utc);
CREATE INDEX meetings_start ON meetings (start_utc);
CREATE INDEX meetings_batch ON meetings (batch_id);

CREATE TABLE meeting_attendees (
    meeting_id   INTEGER NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
    address      TEXT NOT NULL COLLATE NOCASE,
    upn          TEXT,
    object_id    TEXT,
    display_name TEXT,
    PRIMARY KEY (meeting_id, address)
) WITHOUT ROWID;
CREATE INDEX meeting_attendees_address ON meeting_attendees (address, meeting_id);

-- One row per ready CSV row, written with its batch before any meeting is created.
-- external_id is deterministic per meeting (not UNIQUE: a failed or undone item may be retried
-- by a later batch; the batch module refuses a second live item with the same id).
-- 'undone' = created, then deleted by `batch cancel --undo`.
CREATE TABLE batch_items (
    batch_id      INTEGER NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
    line          INTEGER NOT NULL,
    external_id   TEXT NOT NULL,
    row_json      TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('queued', 'in_flight', 'done', 'failed', 'cancelled', 'undone')),
    meeting_id    INTEGER REFERENCES meetings (id),
    graph_id      TEXT,
    join_web_url  TEXT,
    created_now   INTEGER,
    error_code    TEXT,
    error_message TEXT,
    attempts      INTEGER NOT NULL DEFAULT 0,
    updated_at    TEXT NOT NULL,
    PRIMARY KEY (batch_id, line)
);
CREATE INDEX batch_items_state ON batch_items (batch_id, state);
CREATE INDEX batch_items_external_id ON batch_items (external_id, state);

-- Append-only: the triggers below refuse UPDATE and DELETE. No foreign keys, so the
-- trail outlives what it describes. Never a secret in it.
CREATE TABLE audit_log (
    id               INTEGER PRIMARY KEY,
    at               TEXT NOT NULL,
    operator         TEXT NOT NULL,
    action           TEXT NOT NULL,
    target           TEXT NOT NULL,
    program_code     TEXT,
    before_json      TEXT,
    after_json       TEXT,
    graph_request_id TEXT
);
CREATE INDEX audit_at ON audit_log (at);
CREATE INDEX audit_operator_at ON audit_log (operator, at);
CREATE INDEX audit_program_at ON audit_log (program_code, at);
CREATE INDEX audit_action_at ON audit_log (action, at);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
