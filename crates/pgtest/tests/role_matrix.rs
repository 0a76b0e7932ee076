//! The team store's role matrix, enforced by PostgreSQL itself: the schema
//! (`crates/core/src/store/postgres/schema/v1.sql` + `roles.sql`) loaded into a real server, then
//! raw `psql` sessions logged in as each operator try what `access::decide` allows or refuses.
//! Every row checks the answer, and that a refusal (or a write that matched no row) changed
//! nothing: a digest of every table and of the logins' memberships is compared before and after.
//!
//! [`MATRIX`] is the expected matrix written out by hand; the CLI half (the same rows through
//! `tsched` on the PostgreSQL backend) is meant to share it.

use tsched_pgtest::{quote_ident, Cluster};

const V1: &str = include_str!("../../core/src/store/postgres/schema/v1.sql");
const ROLES: &str = include_str!("../../core/src/store/postgres/schema/roles.sql");

/// The database and its owner (the maintenance role that runs `store init`).
const DB: &str = "team";
const OWNER: &str = "tsched_owner";
/// Every login's password in these tests.
const PW: &str = "pw 'quoted' too";

const ROOT: &str = "root@x.com";
const ADMIN2: &str = "admin2@x.com";
const TRACK_ADMIN: &str = "ta@x.com";
const COORDINATOR: &str = "co@x.com";
const SUPPORT: &str = "su@x.com";
/// A login of the cluster that is not an operator of the store.
const STRANGER: &str = "stranger@x.com";
/// A login with powers of its own (CREATEROLE): never adoptable as an operator's login.
const DBA: &str = "dba@x.com";
/// No such login at all.
const GHOST: &str = "ghost@x.com";
/// The superuser, given a password for the one row that needs it over TCP.
const SUPERUSER: &str = "postgres";

const T: &str = "2027-01-01T00:00:00Z";

/// What a row of the matrix expects.
#[derive(Debug, Clone, Copy)]
enum Want {
    /// Succeeds and prints exactly this (trimmed); with [`Case::after`] `None` nothing changed
    /// (a read, or a write the policies matched to no row).
    Prints(&'static str),
    /// Refused with a server error containing this; nothing changed.
    Refused(&'static str),
    /// The login cannot even connect: the message contains this; nothing changed.
    NoConnection(&'static str),
}

/// One row of the role matrix.
#[derive(Debug, Clone, Copy)]
struct Case {
    /// What the row proves (the key the CLI half will share).
    name: &'static str,
    /// Who connects (an operator's login: their UPN in lower case).
    login: &'static str,
    /// What they run, in one psql session.
    sql: &'static str,
    /// The answer.
    want: Want,
    /// For an allowed change: a superuser query and what it must print afterwards.
    after: Option<(&'static str, &'static str)>,
}

const fn case(name: &'static str, login: &'static str, sql: &'static str, want: Want) -> Case {
    Case {
        name,
        login,
        sql,
        want,
        after: None,
    }
}

const fn change(
    name: &'static str,
    login: &'static str,
    sql: &'static str,
    want: &'static str,
    check: &'static str,
    shows: &'static str,
) -> Case {
    Case {
        name,
        login,
        sql,
        want: Want::Prints(want),
        after: Some((check, shows)),
    }
}

const RLS_MEETINGS: &str = "new row violates row-level security policy for table \"meetings\"";
const LAST_ADMIN: &str = "the last active global admin cannot be revoked, deactivated or removed";

/// The matrix, in the order it runs (later rows see earlier rows' allowed changes). Programs:
/// `eng` (the track admin's and the coordinator's) and `ops` (nobody's but the admins').
const MATRIX: &[Case] = &[
    // Track admin of eng.
    case(
        "track admin updates a foreign program: no row matches",
        TRACK_ADMIN,
        "WITH u AS (UPDATE tsched.programs SET description = 'hijacked' WHERE code = 'ops' RETURNING 1)
         SELECT count(*) FROM u;",
        Want::Prints("0"),
    ),
    change(
        "track admin edits their own program's description",
        TRACK_ADMIN,
        "WITH u AS (UPDATE tsched.programs SET description = 'by its track admin' WHERE code = 'eng' RETURNING 1)
         SELECT count(*) FROM u;",
        "1",
        "SELECT description, version, updated_by FROM tsched.programs WHERE code = 'eng';",
        "by its track admin|2|ta@x.com",
    ),
    case(
        "track admin archives their own program",
        TRACK_ADMIN,
        "UPDATE tsched.programs SET archived = true WHERE code = 'eng';",
        Want::Refused("permission denied for table programs"),
    ),
    case(
        "track admin creates a program",
        TRACK_ADMIN,
        "INSERT INTO tsched.programs (code, name, created_at, updated_at) VALUES ('new', 'New', 'x', 'x');",
        Want::Refused("permission denied for table programs"),
    ),
    change(
        "track admin adds a participant to their own program",
        TRACK_ADMIN,
        "WITH i AS (INSERT INTO tsched.participants (program_id, email, added_at)
             SELECT id, 'Bea@X.example', 'x' FROM tsched.programs WHERE code = 'eng' RETURNING email_key)
         SELECT email_key FROM i;",
        "bea@x.example",
        "SELECT count(*) FROM tsched.participants WHERE email_key = 'bea@x.example';",
        "1",
    ),
    case(
        "track admin adds a participant to a foreign program",
        TRACK_ADMIN,
        "INSERT INTO tsched.participants (program_id, email, added_at)
         VALUES ((SELECT id FROM tsched.programs WHERE code = 'ops'), 'bea@x.example', 'x');",
        Want::Refused("new row violates row-level security policy for table \"participants\""),
    ),
    case(
        "track admin sees only their own program",
        TRACK_ADMIN,
        "SELECT string_agg(code, ',' ORDER BY code) FROM tsched.programs;",
        Want::Prints("eng"),
    ),
    case(
        "track admin reads only their programs' audit rows",
        TRACK_ADMIN,
        "SELECT string_agg(program_code, ',' ORDER BY program_code) FROM tsched.audit_log;",
        Want::Prints("eng"),
    ),
    case(
        "track admin creates a meeting in their own program",
        TRACK_ADMIN,
        "INSERT INTO tsched.meetings (external_id, program_id, subject, start_utc, end_utc, time_zone, state,
             created_by, created_at, updated_at)
         SELECT 'ta-1', id, 's', 'x', 'x', 'UTC', 'pending', 'x', 'x', 'x' FROM tsched.programs WHERE code = 'eng';",
        Want::Refused("permission denied for table meetings"),
    ),
    // Coordinator of eng.
    case(
        "coordinator changes program settings",
        COORDINATOR,
        "UPDATE tsched.programs SET description = 'by the coordinator' WHERE code = 'eng';",
        Want::Refused("permission denied for table programs"),
    ),
    case(
        "coordinator toggles a meeting mode of their program",
        COORDINATOR,
        "UPDATE tsched.program_meeting_modes SET enabled = true;",
        Want::Refused("permission denied for table program_meeting_modes"),
    ),
    change(
        "coordinator creates a meeting in their own program",
        COORDINATOR,
        // Two statements, as the app writes them: the attendee's policy looks its meeting up, and
        // one statement's parts all see the data as it was when the statement began.
        "INSERT INTO tsched.meetings (external_id, program_id, subject, start_utc, end_utc,
             time_zone, state, created_by, created_at, updated_at)
         SELECT 'co-1', id, 'Kick-off', '2027-03-01T09:00:00Z', '2027-03-01T10:00:00Z', 'UTC',
             'pending', 'co@x.com', 'x', 'x' FROM tsched.programs WHERE code = 'eng';
         WITH a AS (INSERT INTO tsched.meeting_attendees (meeting_id, address)
             SELECT id, 'Bea@X.example' FROM tsched.meetings WHERE external_id = 'co-1' RETURNING 1)
         SELECT count(*) FROM a;",
        "1",
        "SELECT m.updated_by, a.start_utc FROM tsched.meetings m
         JOIN tsched.meeting_attendees a ON a.meeting_id = m.id WHERE m.external_id = 'co-1';",
        "co@x.com|2027-03-01T09:00:00Z",
    ),
    case(
        "coordinator creates a meeting in a foreign program",
        COORDINATOR,
        // 2 is ops (the fixture creates eng then ops): a program id is no secret, and knowing it
        // must not be enough.
        "INSERT INTO tsched.meetings (external_id, program_id, subject, start_utc, end_utc, time_zone, state,
             created_by, created_at, updated_at)
         VALUES ('co-2', 2, 's', 'x', 'x', 'UTC', 'pending', 'x', 'x', 'x');",
        Want::Refused(RLS_MEETINGS),
    ),
    case(
        "coordinator moves their meeting into a foreign program",
        COORDINATOR,
        // 2 is ops, as above.
        "UPDATE tsched.meetings SET program_id = 2 WHERE external_id = 'co-1';",
        Want::Refused(RLS_MEETINGS),
    ),
    case(
        "coordinator reads a foreign program's meetings: none",
        COORDINATOR,
        "SELECT count(*) FROM tsched.meetings m WHERE m.external_id = 'm-ops';",
        Want::Prints("0"),
    ),
    case(
        "coordinator cancels a foreign program's meeting: no row matches",
        COORDINATOR,
        "WITH u AS (UPDATE tsched.meetings SET state = 'cancelled' WHERE external_id = 'm-ops' RETURNING 1)
         SELECT count(*) FROM u;",
        Want::Prints("0"),
    ),
    change(
        "coordinator runs a batch of their program (items and counts kept by the server)",
        COORDINATOR,
        "INSERT INTO tsched.batches (uid, source_name, source_sha256, state, programs, created_by,
             created_at, updated_at)
         VALUES ('b-co', 'f.csv', 'sha', 'running', 'eng', 'co@x.com', 'x', 'x');
         WITH i AS (INSERT INTO tsched.batch_items (batch_id, line, external_id, row_json, state, updated_at)
             SELECT id, 2, 'x2', '{}', 'queued', 'x' FROM tsched.batches WHERE uid = 'b-co' RETURNING 1)
         SELECT count(*) FROM i;
         UPDATE tsched.batch_items SET state = 'done'
         WHERE batch_id = (SELECT id FROM tsched.batches WHERE uid = 'b-co');",
        "1",
        "SELECT string_agg(c.state || '=' || c.n, ',' ORDER BY c.state) FROM tsched.batch_item_counts c
         JOIN tsched.batches b ON b.id = c.batch_id WHERE b.uid = 'b-co';",
        "done=1,queued=0",
    ),
    case(
        "coordinator creates a batch naming a foreign program",
        COORDINATOR,
        "INSERT INTO tsched.batches (uid, source_name, source_sha256, state, programs, created_by, created_at,
             updated_at)
         VALUES ('b-co-2', 'f.csv', 'sha', 'planned', 'eng ops', 'co@x.com', 'x', 'x');",
        Want::Refused("new row violates row-level security policy for table \"batches\""),
    ),
    case(
        "coordinator sees only the batches of their programs",
        COORDINATOR,
        "SELECT string_agg(uid, ',' ORDER BY uid) FROM tsched.batches;",
        Want::Prints("b-co,b-eng"),
    ),
    case(
        "coordinator reads the audit trail: no rows (no AuditView)",
        COORDINATOR,
        "SELECT count(*) FROM tsched.audit_log;",
        Want::Prints("0"),
    ),
    case(
        "coordinator reads the roster: only their own row",
        COORDINATOR,
        "SELECT string_agg(login, ',') FROM tsched.operators;",
        Want::Prints("co@x.com"),
    ),
    change(
        "audit insert with a forged actor and time is stored as the session's login, at server time",
        COORDINATOR,
        "INSERT INTO tsched.audit_log (at, operator, action, target, program_code, real_actor)
         VALUES ('1999-01-01T00:00:00Z', 'root@x.com', 'meeting.create', 'meeting:co-1', 'eng', 'local:mallory');
         SELECT current_user;",
        "co@x.com",
        "SELECT operator, at > '2000', real_actor IS NULL FROM tsched.audit_log WHERE action = 'meeting.create';",
        "co@x.com|t|t",
    ),
    case(
        "audit insert choosing its own id",
        COORDINATOR,
        "INSERT INTO tsched.audit_log (id, at, operator, action, target) VALUES (1000000, 'x', 'x', 'x', 'x');",
        Want::Refused("permission denied for table audit_log"),
    ),
    case(
        "operator grants themselves a role through the roster function",
        COORDINATOR,
        "SELECT tsched.tsched_role_grant('co@x.com', 'global_admin');",
        Want::Refused("permission denied for function tsched_role_grant"),
    ),
    case(
        "operator grants themselves a role in the roster table",
        COORDINATOR,
        "INSERT INTO tsched.operator_roles (operator_id, role, granted_at)
         SELECT id, 'global_admin', 'x' FROM tsched.operators WHERE login = current_user;",
        Want::Refused("permission denied for table operator_roles"),
    ),
    case(
        "operator switches to a group role they are not in",
        COORDINATOR,
        "SET ROLE tsched_global_admin;",
        Want::Refused("permission denied to set role \"tsched_global_admin\""),
    ),
    case(
        "operator creates an object in the store's schema",
        COORDINATOR,
        "CREATE TABLE tsched.programs_copy (id bigint);",
        Want::Refused("permission denied for schema tsched"),
    ),
    case(
        "policy helpers say nothing of a foreign batch or meeting",
        COORDINATOR,
        // Batch 2 and meeting 2 are ops's (the fixture makes eng's first).
        "SELECT coalesce(tsched.tsched_batch_programs(2), '-') || coalesce(tsched.tsched_meeting_program(2)::text, '-');",
        Want::Prints("--"),
    ),
    change(
        "coordinator records a refresh of the host's token (integration bookkeeping)",
        COORDINATOR,
        "WITH u AS (UPDATE tsched.integration SET last_refresh_at = '2027-02-02T00:00:00Z' RETURNING 1)
         SELECT count(*) FROM u;",
        "1",
        "SELECT last_refresh_at, host_upn FROM tsched.integration;",
        "2027-02-02T00:00:00Z|host@x.com",
    ),
    case(
        "coordinator marks the integration removed",
        COORDINATOR,
        "UPDATE tsched.integration SET state = 'removed';",
        Want::Refused("new row violates row-level security policy for table \"integration\""),
    ),
    case(
        "program search finds only programs the operator may view",
        COORDINATOR,
        "SELECT count(*) FROM tsched.tsched_program_search('OPERATIONS');",
        Want::Prints("0"),
    ),
    // Support.
    case(
        "support reads every program, meeting and batch",
        SUPPORT,
        "SELECT (SELECT count(*) FROM tsched.programs) || ',' || (SELECT count(*) FROM tsched.meetings)
             || ',' || (SELECT count(*) FROM tsched.batches);",
        Want::Prints("2,3,3"),
    ),
    case(
        "support reads the whole audit trail",
        SUPPORT,
        "SELECT string_agg(coalesce(program_code, '-'), ',' ORDER BY id) FROM tsched.audit_log;",
        Want::Prints("eng,ops,eng"),
    ),
    case(
        "support edits a program",
        SUPPORT,
        "UPDATE tsched.programs SET description = 'by support';",
        Want::Refused("permission denied for table programs"),
    ),
    case(
        "support removes a participant",
        SUPPORT,
        "DELETE FROM tsched.participants;",
        Want::Refused("permission denied for table participants"),
    ),
    case(
        "support cancels a meeting",
        SUPPORT,
        "UPDATE tsched.meetings SET state = 'cancelled';",
        Want::Refused("permission denied for table meetings"),
    ),
    case(
        "support changes the integration's host",
        SUPPORT,
        "UPDATE tsched.integration SET host_upn = 'mallory@x.com';",
        Want::Refused("permission denied for table integration"),
    ),
    case(
        "support changes a shared setting",
        SUPPORT,
        "WITH u AS (UPDATE tsched.settings SET value = 'Europe/Paris' WHERE key = 'meetings.default_time_zone'
             RETURNING 1)
         SELECT count(*) FROM u;",
        Want::Prints("0"),
    ),
    change(
        "support records a membership result (every operator fills the directory cache)",
        SUPPORT,
        "WITH i AS (INSERT INTO tsched.directory_cache (address, class, checked_at)
             VALUES ('Ann@X.example', 'member', 'x') RETURNING address_key)
         SELECT address_key FROM i;",
        "ann@x.example",
        "SELECT class FROM tsched.directory_cache WHERE address_key = 'ann@x.example';",
        "member",
    ),
    case(
        "support empties the directory cache",
        SUPPORT,
        "DELETE FROM tsched.directory_cache;",
        Want::Refused("permission denied for table directory_cache"),
    ),
    change(
        "support dismisses the welcome (anyone who may act)",
        SUPPORT,
        "INSERT INTO tsched.settings (key, value) VALUES ('welcome.dismissed', 'x') RETURNING key;",
        "welcome.dismissed",
        "SELECT count(*) FROM tsched.settings WHERE key = 'welcome.dismissed';",
        "1",
    ),
    case(
        "support adds an operator",
        SUPPORT,
        "SELECT tsched.tsched_operator_add('eve@x.com');",
        Want::Refused("permission denied for function tsched_operator_add"),
    ),
    // Global admins.
    case(
        "global admin grants themselves a role",
        ROOT,
        "SELECT tsched.tsched_role_grant('root@x.com', 'coordinator', 'ops');",
        Want::Refused("may not grant themselves a role"),
    ),
    case(
        "global admin adopts a login with powers of its own as an operator",
        ROOT,
        "SELECT tsched.tsched_operator_add('dba@x.com');",
        Want::Refused("exists with powers of its own"),
    ),
    case(
        "global admin rewrites the audit trail",
        ROOT,
        "UPDATE tsched.audit_log SET operator = 'nobody';",
        Want::Refused("permission denied for table audit_log"),
    ),
    case(
        "global admin deletes from the audit trail",
        ROOT,
        "DELETE FROM tsched.audit_log;",
        Want::Refused("permission denied for table audit_log"),
    ),
    case(
        "global admin truncates the audit trail",
        ROOT,
        "TRUNCATE tsched.audit_log;",
        Want::Refused("permission denied for table audit_log"),
    ),
    case(
        "even the superuser cannot rewrite the audit trail (the trigger refuses)",
        SUPERUSER,
        "UPDATE tsched.audit_log SET operator = 'nobody';",
        Want::Refused("audit_log is append-only: UPDATE refused"),
    ),
    change(
        "global admin creates a program",
        ROOT,
        "WITH i AS (INSERT INTO tsched.programs (code, name, created_at, updated_at)
             VALUES ('des', 'Design Coaching', 'x', 'x') RETURNING code)
         SELECT code FROM i;",
        "des",
        "SELECT count(*) FROM tsched.programs WHERE code = 'des';",
        "1",
    ),
    change(
        "global admin revokes the other global admin",
        ROOT,
        "SELECT tsched.tsched_role_revoke('admin2@x.com', 'global_admin');",
        "t",
        "SELECT pg_has_role('admin2@x.com', 'tsched_global_admin', 'MEMBER');",
        "f",
    ),
    case(
        "global admin revokes the last global admin (themselves)",
        ROOT,
        "SELECT tsched.tsched_role_revoke('root@x.com', 'global_admin');",
        Want::Refused(LAST_ADMIN),
    ),
    case(
        "global admin deactivates themselves as the last global admin",
        ROOT,
        "SELECT tsched.tsched_operator_set_active('root@x.com', false);",
        Want::Refused(LAST_ADMIN),
    ),
    case(
        "global admin removes themselves as the last global admin",
        ROOT,
        "SELECT tsched.tsched_operator_remove('root@x.com');",
        Want::Refused(LAST_ADMIN),
    ),
    change(
        "global admin deactivates the track admin",
        ROOT,
        "SELECT tsched.tsched_operator_set_active('ta@x.com', false);",
        "",
        "SELECT rolcanlogin, pg_has_role('ta@x.com', 'tsched_track_admin', 'MEMBER') FROM pg_roles
         WHERE rolname = 'ta@x.com';",
        "f|f",
    ),
    // Who cannot connect at all.
    case(
        "a deactivated operator cannot connect",
        TRACK_ADMIN,
        "SELECT 1;",
        Want::NoConnection("is not permitted to log in"),
    ),
    case(
        "a login of the cluster that is not an operator cannot connect",
        STRANGER,
        "SELECT 1;",
        Want::NoConnection("permission denied for database \"team\""),
    ),
    case(
        "an unknown login cannot connect",
        GHOST,
        "SELECT 1;",
        Want::NoConnection("password authentication failed"),
    ),
];

/// A started cluster with the store initialised by its owner.
fn store() -> Cluster {
    let cluster = Cluster::start();
    cluster.create_login(OWNER, PW);
    cluster.superuser_sql("postgres", &format!("ALTER ROLE {OWNER} CREATEROLE;"));
    cluster.create_database(DB, Some(OWNER));
    let init = init(&cluster);
    assert!(init.success, "store init must succeed: {}", init.stderr);
    cluster
}

/// `store init`: v1.sql then roles.sql, as the owner, in one transaction.
fn init(cluster: &Cluster) -> tsched_pgtest::PsqlOutput {
    cluster.psql_as(OWNER, PW, DB, &format!("BEGIN;\n{V1}\n{ROLES}\nCOMMIT;\n"))
}

/// psql as `login`, panicking with the server's message on failure.
fn sql_as(cluster: &Cluster, login: &str, sql: &str) -> String {
    let out = cluster.psql_as(login, PW, DB, sql);
    assert!(
        out.success,
        "{login} must be able to run the fixture SQL: {}\nSQL: {sql}",
        out.stderr
    );
    out.stdout
}

/// The store's rows and the operators' logins (LOGIN and memberships), digested: equal digests
/// before and after a row mean it changed nothing. Read as the superuser, past every policy.
fn snapshot(cluster: &Cluster) -> String {
    let tables = cluster.superuser_sql(
        DB,
        "SELECT relname FROM pg_class WHERE relnamespace = 'tsched'::regnamespace AND relkind = 'r'
         ORDER BY relname;",
    );
    let mut sql = String::new();
    for t in tables.lines() {
        let t = quote_ident(t);
        sql.push_str(&format!(
            "SELECT '{t}', count(*), md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), ''))
             FROM tsched.{t} x;\n"
        ));
    }
    sql.push_str(
        "SELECT 'logins', string_agg(r.rolname || ':' || r.rolcanlogin || ':' || coalesce((
             SELECT string_agg(g.rolname, '+' ORDER BY g.rolname) FROM pg_auth_members m
             JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid), ''), ',' ORDER BY r.rolname)
         FROM pg_roles r WHERE r.rolname LIKE '%@%';\n",
    );
    cluster.superuser_sql(DB, &sql)
}

/// The people and data every row starts from, made through the real grants: the owner
/// bootstraps the first global admin, who creates programs and the other operators.
fn fixture(cluster: &Cluster) {
    for login in [
        ROOT,
        ADMIN2,
        TRACK_ADMIN,
        COORDINATOR,
        SUPPORT,
        STRANGER,
        DBA,
    ] {
        cluster.create_login(login, PW);
    }
    cluster.superuser_sql(
        "postgres",
        &format!(
            "ALTER ROLE {} CREATEROLE;\nALTER ROLE {SUPERUSER} PASSWORD '{}';",
            quote_ident(DBA),
            PW.replace('\'', "''")
        ),
    );
    let boot = sql_as(
        cluster,
        OWNER,
        "SELECT tsched.tsched_bootstrap(' Root@X.com ', 'Root');",
    );
    assert_eq!(boot.trim(), "1", "the owner bootstraps the first operator");
    sql_as(
        cluster,
        ROOT,
        &format!(
            "INSERT INTO tsched.programs (code, name, created_at, updated_at)
             VALUES ('eng', 'Engineering Mentoring', '{T}', '{T}'), ('ops', 'Operations Guild', '{T}', '{T}');
             INSERT INTO tsched.program_meeting_modes (program_id, mode, enabled, updated_at)
             SELECT id, 'phone', false, '{T}' FROM tsched.programs;
             INSERT INTO tsched.participants (program_id, email, added_at)
             SELECT id, 'ann@x.example', '{T}' FROM tsched.programs;
             INSERT INTO tsched.meetings (external_id, program_id, subject, start_utc, end_utc, time_zone,
                 state, created_by, created_at, updated_at)
             SELECT 'm-' || code, id, 'Intro', '{T}', '{T}', 'UTC', 'created', 'root@x.com', '{T}', '{T}'
             FROM tsched.programs ORDER BY code;
             INSERT INTO tsched.meeting_attendees (meeting_id, address) SELECT id, 'ann@x.example' FROM tsched.meetings;
             INSERT INTO tsched.batches (uid, source_name, source_sha256, state, programs, created_by,
                 created_at, updated_at)
             SELECT 'b-' || code, 'f.csv', 'sha', 'completed', code, 'root@x.com', '{T}', '{T}'
             FROM tsched.programs ORDER BY code;
             INSERT INTO tsched.batch_items (batch_id, line, external_id, row_json, state, updated_at)
             SELECT id, 2, 'x-' || programs, '{{}}', 'done', '{T}' FROM tsched.batches;
             INSERT INTO tsched.audit_log (at, operator, action, target, program_code)
             SELECT '{T}', 'x', 'program.create', 'program:' || code, code FROM tsched.programs ORDER BY code;
             INSERT INTO tsched.integration (id, cloud, authority_base, graph_base, tenant_id, client_id,
                 host_object_id, host_upn, granted_scopes, state, connected_at)
             VALUES (1, 'global', 'https://login', 'https://graph', 't', 'c', 'o', 'host@x.com', 's',
                 'connected', '{T}');
             INSERT INTO tsched.settings (key, value) VALUES ('meetings.default_time_zone', 'UTC');
             SELECT tsched.tsched_operator_add('admin2@x.com');
             SELECT tsched.tsched_operator_add('TA@x.com', 'Track Admin');
             SELECT tsched.tsched_operator_add('co@x.com');
             SELECT tsched.tsched_operator_add('su@x.com');
             SELECT tsched.tsched_role_grant('admin2@x.com', 'global_admin');
             SELECT tsched.tsched_role_grant('ta@x.com', 'track_admin', 'ENG');
             SELECT tsched.tsched_role_grant('co@x.com', 'coordinator', 'eng');
             SELECT tsched.tsched_role_grant('su@x.com', 'support');"
        ),
    );
}

#[test]
fn raw_psql_sessions_get_exactly_the_role_matrix() {
    let cluster = store();
    fixture(&cluster);
    assert!(MATRIX.len() >= 17, "the matrix has at least 17 rows");
    for row in MATRIX {
        let before = snapshot(&cluster);
        let out = cluster.psql_as(row.login, PW, DB, row.sql);
        let after = snapshot(&cluster);
        let name = row.name;
        match row.want {
            Want::Prints(want) => {
                assert!(
                    out.success,
                    "[{name}] must be allowed, but {} got: {}",
                    row.login, out.stderr
                );
                assert_eq!(out.stdout.trim(), want, "[{name}] answer");
                match row.after {
                    Some((check, shows)) => {
                        assert_ne!(
                            before, after,
                            "[{name}] an allowed change must change the store"
                        );
                        assert_eq!(
                            cluster.superuser_sql(DB, check).trim(),
                            shows,
                            "[{name}] the store must show the change"
                        );
                    }
                    None => assert_eq!(
                        before, after,
                        "[{name}] a read, or a write matching no row, must change nothing"
                    ),
                }
            }
            Want::Refused(why) | Want::NoConnection(why) => {
                assert!(
                    !out.success,
                    "[{name}] must be refused, but {} got: {}",
                    row.login, out.stdout
                );
                assert!(
                    out.stderr.contains(why),
                    "[{name}] the server must say why ({why:?}); it said: {}",
                    out.stderr
                );
                if matches!(row.want, Want::NoConnection(_)) {
                    assert!(
                        out.stderr.contains("connection to server"),
                        "[{name}] refused at connection time, not by a statement: {}",
                        out.stderr
                    );
                }
                assert_eq!(before, after, "[{name}] a refusal must change nothing");
            }
        }
    }
}

#[test]
fn init_refuses_a_second_run_and_a_failed_init_leaves_nothing() {
    let cluster = store();
    let before = snapshot(&cluster);
    let again = init(&cluster);
    assert!(!again.success, "a second init must be refused");
    assert!(
        again
            .stderr
            .contains("already holds a Teams Scheduler store (schema tsched, version 1)"),
        "the refusal names what is there: {}",
        again.stderr
    );
    let roles_again = cluster.psql_as(OWNER, PW, DB, ROLES);
    assert!(
        !roles_again.success && roles_again.stderr.contains("already installed"),
        "roles.sql alone refuses a second run too: {}",
        roles_again.stderr
    );
    assert_eq!(
        before,
        snapshot(&cluster),
        "the refused inits must change nothing"
    );

    // A database owner without CREATEROLE: roles.sql refuses after v1.sql ran, and the one
    // transaction takes v1.sql's tables away with it.
    cluster.create_login("weak_owner", PW);
    cluster.create_database("weak", Some("weak_owner"));
    let weak = cluster.psql_as(
        "weak_owner",
        PW,
        "weak",
        &format!("BEGIN;\n{V1}\n{ROLES}\nCOMMIT;\n"),
    );
    assert!(
        !weak.success && weak.stderr.contains("needs CREATEROLE"),
        "init by an owner without CREATEROLE must fail saying why: {}",
        weak.stderr
    );
    assert_eq!(
        cluster
            .superuser_sql("weak", "SELECT to_regnamespace('tsched') IS NULL;")
            .trim(),
        "t",
        "a failed init leaves no schema behind"
    );
}

#[test]
fn search_folds_any_letter_case_and_list_pages_seek_their_indexes_under_rls() {
    let cluster = store();
    fixture(&cluster);
    sql_as(
        &cluster,
        ROOT,
        &format!(
            "INSERT INTO tsched.programs (code, name, created_at, updated_at)
             VALUES ('eco', 'Design École', '{T}', '{T}'), ('pct', 'Alpha 100%', '{T}', '{T}');"
        ),
    );
    let search = |login: &str, term: &str| -> String {
        sql_as(
            &cluster,
            login,
            &format!(
                "SELECT coalesce(string_agg(p.code, ',' ORDER BY p.code), '') FROM tsched.programs p
                 WHERE p.id IN (SELECT tsched.tsched_program_search('{term}'));"
            ),
        )
        .trim()
        .to_string()
    };
    assert_eq!(
        search(ROOT, "ÉCOLE"),
        "eco",
        "any letter case, beyond ASCII"
    );
    assert_eq!(search(ROOT, "école"), "eco", "and the other way round");
    assert_eq!(search(ROOT, "ENGIN"), "eng", "anywhere in the name");
    assert_eq!(
        search(ROOT, "100%"),
        "pct",
        "'%' is literal, not a wildcard"
    );
    assert_eq!(search(ROOT, "_"), "", "'_' is literal, not a wildcard");
    assert_eq!(
        search(COORDINATOR, "o"),
        "eng",
        "a coordinator finds only the programs they may view"
    );

    // The trigram index answers the search (as the function's owner runs it), and a keyset
    // page's plain-column seek stays an index condition for an operator under RLS.
    let plan = sql_as(
        &cluster,
        OWNER,
        "SET enable_seqscan = off;
         EXPLAIN (COSTS OFF) SELECT id FROM tsched.programs p
         WHERE p.name_fold LIKE '%cole%';",
    );
    assert!(
        plan.contains("programs_search_name"),
        "the search must use the trigram index: {plan}"
    );
    let plan = sql_as(
        &cluster,
        SUPPORT,
        "SET enable_seqscan = off;
         EXPLAIN (COSTS OFF) SELECT id FROM tsched.meetings
         WHERE program_id = 1 AND (start_utc, id) > ('2027', 0) ORDER BY start_utc, id LIMIT 101;",
    );
    assert!(
        plan.contains("meetings_program_start") && plan.contains("Index Cond"),
        "a meetings page must seek its index under RLS: {plan}"
    );
}
