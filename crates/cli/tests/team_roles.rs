//! The role matrix of a team store, asked twice: through `tsched` (each operator from their own
//! data directory, `TSCHED_DATABASE_URL` carrying their login's password, so no keyring is
//! needed) and through raw `psql` logged in as the same operator. Both must give the same
//! verdict, and a denial must change nothing (a digest of every table and of the logins'
//! memberships, taken by the superuser past every policy, is compared before and after).
//!
//! Everything the rows start from is made through the CLI: the owner runs `store init --admin`,
//! the first global admin adds the operators, grants their roles and creates the programs. Only
//! the DBA's part (a password per login, one meeting per program, since creating a meeting needs
//! Microsoft Graph) is done as the cluster's superuser.
//!
//! Which layer refuses differs by path, and each row says which ([`Layer`]): the CLI asks the
//! core first (`access.rs`), and only what the core lets through reaches the database; raw psql
//! meets the GRANTs, row-level security and roster functions directly. The raw psql matrix with
//! more rows is `crates/pgtest/tests/role_matrix.rs`.

mod support;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Instant;

use support::Tsched;
use tsched_pgtest::{quote_ident, Cluster, PsqlOutput};

const OWNER: &str = "tsched_owner";
const DB: &str = "tsched";
/// Every login's password (URL-safe, so it goes into the URL as it is).
const PW: &str = "Team-Pw-4217";

const ROOT: &str = "root@x.test";
const TRACK_ADMIN: &str = "ta@x.test";
const COORDINATOR: &str = "co@x.test";
const SUPPORT: &str = "su@x.test";
/// An operator (support) the root admin deactivates.
const GONE: &str = "gone@x.test";
/// A login of the cluster that is not an operator of the store.
const STRANGER: &str = "stranger@x.test";
/// No such login at all.
const GHOST: &str = "ghost@x.test";

const LAST_ADMIN: &str = "the last active global admin cannot be revoked, deactivated or removed";

/// Who refused a denied row on the CLI's path (raw psql always meets the database).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layer {
    /// `access::require` in the core, before the database is asked for the change.
    Core,
    /// The database: row-level security hid the row (the core then finds no such program), a
    /// GRANT, or a roster function's own check.
    Database,
    /// The server refused the login at connection time.
    Connect,
    /// The CLI's choice of actor (`location::shared_actor`): `--as` is refused on a team store.
    Cli,
}

/// The verdict a row expects from both paths.
#[derive(Debug, Clone, Copy)]
enum Want {
    /// The change is made: the CLI exits 0; the SQL prints how many rows it changed (≥ 1); the
    /// store differs afterwards, each time.
    Allowed,
    /// A read that shows exactly this many rows: the CLI's JSON and the SQL's count agree.
    Sees(usize),
    /// A read that shows some rows, as many through the CLI as through psql.
    SeesSome,
    /// Refused, nothing changed. The CLI exits `exit` with one line containing `cli`; psql fails
    /// with `psql` in its message, or (`psql` empty) its statement matches no row and prints 0.
    Denied {
        layer: Layer,
        exit: i32,
        cli: &'static str,
        psql: &'static str,
    },
}

/// One row: `who` runs `cli` through `tsched`, then `sql` through psql.
#[derive(Debug, Clone, Copy)]
struct Row {
    name: &'static str,
    who: &'static str,
    cli: &'static [&'static str],
    sql: &'static str,
    want: Want,
}

const fn row(
    name: &'static str,
    who: &'static str,
    cli: &'static [&'static str],
    sql: &'static str,
    want: Want,
) -> Row {
    Row {
        name,
        who,
        cli,
        sql,
        want,
    }
}

const fn denied(layer: Layer, exit: i32, cli: &'static str, psql: &'static str) -> Want {
    Want::Denied {
        layer,
        exit,
        cli,
        psql,
    }
}

/// The matrix, in the order it runs (later rows see earlier rows' allowed changes). `eng` is
/// the track admin's and the coordinator's program; `ops` is nobody's but the global admin's.
const MATRIX: &[Row] = &[
    // Track admin of eng.
    row(
        "track admin edits a foreign program's description",
        TRACK_ADMIN,
        &["programs", "describe", "ops", "hijacked"],
        "WITH u AS (UPDATE tsched.programs SET description = 'hijacked' WHERE code = 'ops' RETURNING 1)
         SELECT count(*) FROM u;",
        // Row-level security hides ops from the track admin, so the core finds no such program.
        denied(Layer::Database, 4, "program 'ops' does not exist", ""),
    ),
    row(
        "track admin edits their own program's description",
        TRACK_ADMIN,
        &["programs", "describe", "eng", "by its track admin (cli)"],
        "WITH u AS (UPDATE tsched.programs SET description = 'by its track admin (psql)'
             WHERE code = 'eng' RETURNING 1)
         SELECT count(*) FROM u;",
        Want::Allowed,
    ),
    row(
        "track admin creates a program",
        TRACK_ADMIN,
        &["programs", "add", "New Program", "--code", "new"],
        "INSERT INTO tsched.programs (code, name, created_at, updated_at) VALUES ('new', 'New', 'x', 'x');",
        denied(
            Layer::Core,
            6,
            "may not create programs",
            "permission denied for table programs",
        ),
    ),
    row(
        "track admin archives their own program",
        TRACK_ADMIN,
        &["programs", "archive", "eng"],
        "UPDATE tsched.programs SET archived = true WHERE code = 'eng';",
        denied(
            Layer::Core,
            6,
            "may not archive or unarchive programs",
            "permission denied for table programs",
        ),
    ),
    row(
        "track admin toggles a meeting mode of a foreign program",
        TRACK_ADMIN,
        &["programs", "modes", "disable", "ops", "phone"],
        "WITH u AS (INSERT INTO tsched.program_meeting_modes (program_id, mode, enabled, updated_at)
             SELECT id, 'phone', true, 'x' FROM tsched.programs WHERE code = 'ops'
             ON CONFLICT (program_id, mode) DO UPDATE SET enabled = true RETURNING 1)
         SELECT count(*) FROM u;",
        denied(Layer::Database, 4, "program 'ops' does not exist", ""),
    ),
    row(
        "track admin toggles a meeting mode of their own program",
        TRACK_ADMIN,
        &["programs", "modes", "disable", "eng", "phone"],
        "WITH u AS (INSERT INTO tsched.program_meeting_modes (program_id, mode, enabled, updated_at)
             SELECT id, 'in_person', false, 'x' FROM tsched.programs WHERE code = 'eng'
             ON CONFLICT (program_id, mode) DO UPDATE SET enabled = NOT tsched.program_meeting_modes.enabled
             RETURNING 1)
         SELECT count(*) FROM u;",
        Want::Allowed,
    ),
    row(
        "track admin adds a participant to a foreign program",
        TRACK_ADMIN,
        &["programs", "participants", "add", "ops", "bea@x.example"],
        "INSERT INTO tsched.participants (program_id, email, added_at)
         VALUES ((SELECT id FROM tsched.programs WHERE code = 'ops'), 'bea@x.example', 'x');",
        denied(
            Layer::Database,
            4,
            "program 'ops' does not exist",
            "new row violates row-level security policy for table \"participants\"",
        ),
    ),
    row(
        "track admin adds a participant to their own program",
        TRACK_ADMIN,
        &["programs", "participants", "add", "eng", "bea@x.example"],
        "WITH i AS (INSERT INTO tsched.participants (program_id, email, added_at)
             SELECT id, 'cy@x.example', 'x' FROM tsched.programs WHERE code = 'eng' RETURNING 1)
         SELECT count(*) FROM i;",
        Want::Allowed,
    ),
    row(
        "track admin lists programs: only their own",
        TRACK_ADMIN,
        &["programs", "list", "--all", "--json"],
        "SELECT count(*) FROM tsched.programs;",
        Want::Sees(1),
    ),
    row(
        "track admin reads their program's audit trail",
        TRACK_ADMIN,
        &["audit", "--program", "eng", "--all", "--json"],
        "SELECT count(*) FROM tsched.audit_log WHERE program_code = 'eng';",
        Want::SeesSome,
    ),
    row(
        "track admin reads a foreign program's audit trail",
        TRACK_ADMIN,
        &["audit", "--program", "ops", "--all", "--json"],
        // Row-level security shows a track admin only their programs' audit rows.
        "SELECT count(*) FROM tsched.audit_log WHERE program_code = 'ops';",
        denied(Layer::Core, 6, "may not view the audit trail in program 'ops'", ""),
    ),
    // Coordinator of eng.
    row(
        "coordinator edits program settings",
        COORDINATOR,
        &["programs", "describe", "eng", "by the coordinator"],
        "UPDATE tsched.programs SET description = 'by the coordinator' WHERE code = 'eng';",
        denied(
            Layer::Core,
            6,
            "may not edit program settings",
            "permission denied for table programs",
        ),
    ),
    row(
        "coordinator toggles a meeting mode of their program",
        COORDINATOR,
        &["programs", "modes", "disable", "eng", "in-person"],
        "UPDATE tsched.program_meeting_modes SET enabled = false;",
        denied(
            Layer::Core,
            6,
            "may not change meeting modes",
            "permission denied for table program_meeting_modes",
        ),
    ),
    row(
        "coordinator lists their own program's meetings",
        COORDINATOR,
        &["meetings", "list", "--program", "eng", "--json"],
        "SELECT count(*) FROM tsched.meetings m JOIN tsched.programs p ON p.id = m.program_id
         WHERE p.code = 'eng';",
        Want::Sees(1),
    ),
    row(
        "coordinator lists a foreign program's meetings: none",
        COORDINATOR,
        &["meetings", "list", "--program", "ops", "--json"],
        "SELECT count(*) FROM tsched.meetings m WHERE m.external_id = 'm-ops';",
        // The core refuses to list a program the coordinator may not view; row-level security
        // shows psql none of its meetings.
        denied(
            Layer::Core,
            6,
            "may not view programs in program 'ops'",
            "",
        ),
    ),
    row(
        "coordinator reads the audit trail",
        COORDINATOR,
        &["audit", "--json"],
        // No policy lets a coordinator read an audit row: the table answers, with nothing.
        "SELECT count(*) FROM tsched.audit_log;",
        denied(Layer::Core, 6, "may not view the audit trail", ""),
    ),
    row(
        "coordinator grants themselves global admin (operator self-grant)",
        COORDINATOR,
        &["operators", "grant", COORDINATOR, "global-admin"],
        "SELECT tsched.tsched_role_grant('co@x.test', 'global_admin');",
        denied(
            Layer::Core,
            6,
            "may not manage operators",
            "permission denied for function tsched_role_grant",
        ),
    ),
    row(
        "coordinator reads the operator roster",
        COORDINATOR,
        &["operators", "list", "--json"],
        // A session sees its own roster row (the core reads it to know the session's roles), and
        // nobody else's.
        "SELECT count(*) FROM tsched.operators WHERE login <> current_user;",
        denied(Layer::Core, 6, "may not view operators", ""),
    ),
    // Support.
    row(
        "support adds a participant",
        SUPPORT,
        &["programs", "participants", "add", "eng", "dee@x.example"],
        "INSERT INTO tsched.participants (program_id, email, added_at)
         SELECT id, 'dee@x.example', 'x' FROM tsched.programs WHERE code = 'eng';",
        denied(
            Layer::Core,
            6,
            "may not change participants",
            "permission denied for table participants",
        ),
    ),
    row(
        "support adds a program",
        SUPPORT,
        &["programs", "add", "Support Program", "--code", "sup"],
        "INSERT INTO tsched.programs (code, name, created_at, updated_at) VALUES ('sup', 'Sup', 'x', 'x');",
        denied(
            Layer::Core,
            6,
            "may not create programs",
            "permission denied for table programs",
        ),
    ),
    row(
        "support adds an operator",
        SUPPORT,
        &["operators", "add", "eve@x.test"],
        "SELECT tsched.tsched_operator_add('eve@x.test');",
        denied(
            Layer::Core,
            6,
            "may not manage operators",
            "permission denied for function tsched_operator_add",
        ),
    ),
    row(
        "support reads the whole audit trail",
        SUPPORT,
        &["audit", "--all", "--json"],
        "SELECT count(*) FROM tsched.audit_log;",
        Want::SeesSome,
    ),
    row(
        "support lists every program",
        SUPPORT,
        &["programs", "list", "--all", "--json"],
        "SELECT count(*) FROM tsched.programs;",
        Want::Sees(2),
    ),
    row(
        "support reads the operator roster",
        SUPPORT,
        &["operators", "list", "--json"],
        "SELECT count(*) FROM tsched.operators;",
        Want::Sees(5),
    ),
    // The global admin.
    row(
        "global admin grants themselves a role",
        ROOT,
        &["operators", "grant", ROOT, "coordinator", "--program", "ops"],
        "SELECT tsched.tsched_role_grant('root@x.test', 'coordinator', 'ops');",
        // The core refuses a grant to oneself (operators::grant), in the words of the roster
        // function that refuses it on the database.
        denied(
            Layer::Core,
            6,
            "may not grant themselves a role",
            "may not grant themselves a role",
        ),
    ),
    row(
        "global admin revokes the last global admin (themselves)",
        ROOT,
        &["operators", "revoke", ROOT, "global-admin"],
        "SELECT tsched.tsched_role_revoke('root@x.test', 'global_admin');",
        denied(Layer::Database, 5, LAST_ADMIN, LAST_ADMIN),
    ),
    row(
        "global admin deactivates themselves as the last global admin",
        ROOT,
        &["operators", "deactivate", ROOT],
        "SELECT tsched.tsched_operator_set_active('root@x.test', false);",
        denied(Layer::Database, 5, LAST_ADMIN, LAST_ADMIN),
    ),
    row(
        "global admin removes themselves as the last global admin",
        ROOT,
        &["operators", "remove", ROOT],
        "SELECT tsched.tsched_operator_remove('root@x.test');",
        denied(Layer::Database, 5, LAST_ADMIN, LAST_ADMIN),
    ),
    row(
        "global admin creates a program",
        ROOT,
        &["programs", "add", "Design Coaching", "--code", "des"],
        "WITH i AS (INSERT INTO tsched.programs (code, name, created_at, updated_at)
             VALUES ('des2', 'Design Coaching 2', 'x', 'x') RETURNING 1)
         SELECT count(*) FROM i;",
        Want::Allowed,
    ),
    row(
        "global admin acts as the track admin (--as)",
        ROOT,
        &["--as", TRACK_ADMIN, "programs", "list"],
        "SET ROLE \"ta@x.test\";",
        denied(
            Layer::Cli,
            6,
            "--as cannot act as someone else on a team database",
            "permission denied to set role \"ta@x.test\"",
        ),
    ),
    // Who cannot connect at all.
    row(
        "a deactivated operator",
        GONE,
        &["programs", "list"],
        "SELECT 1;",
        denied(
            Layer::Connect,
            8,
            "not permitted to log in",
            "is not permitted to log in",
        ),
    ),
    row(
        "an unknown login",
        GHOST,
        &["programs", "list"],
        "SELECT 1;",
        denied(
            Layer::Connect,
            8,
            "password authentication failed",
            "password authentication failed",
        ),
    ),
    row(
        "a login of the cluster that is no operator of the store",
        STRANGER,
        &["programs", "list"],
        "SELECT 1;",
        // The server lets the login in and then refuses it the database (no CONNECT grant):
        // the CLI reports that as a denial (exit 6) naming the fix, not as an unreachable store.
        denied(
            Layer::Connect,
            6,
            "permission denied for database \"tsched\"); ask a global admin",
            "permission denied for database \"tsched\"",
        ),
    ),
];

/// The team: a cluster, its database, and a data directory per person.
struct Team {
    cluster: Cluster,
    tmp: tempfile::TempDir,
}

impl Team {
    /// `tsched` as `login`, from their own data directory, on the team database through
    /// `TSCHED_DATABASE_URL` with their password in it (no keyring).
    fn as_login(&self, login: &str) -> Tsched {
        let url = format!(
            "postgres://{}:{PW}@{}:{}/{DB}?sslmode=verify-full&sslrootcert={}",
            login.replace('@', "%40"),
            self.cluster.host(),
            self.cluster.port(),
            self.ca().display()
        );
        Tsched::new(self.dir(login)).env("TSCHED_DATABASE_URL", url)
    }

    fn dir(&self, login: &str) -> PathBuf {
        self.tmp.path().join(login)
    }

    fn ca(&self) -> &Path {
        self.cluster.ca_file()
    }

    fn psql(&self, login: &str, sql: &str) -> PsqlOutput {
        self.cluster.psql_as(login, PW, DB, sql)
    }

    /// The store's rows and the operators' logins (LOGIN and memberships), digested: equal
    /// digests mean nothing changed. Read as the superuser, past every policy.
    fn snapshot(&self) -> String {
        let tables = self.cluster.superuser_sql(
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
        self.cluster.superuser_sql(DB, &sql)
    }
}

/// Runs `tsched ARGS` with `input` on its standard input.
fn run_stdin(t: &Tsched, args: &[&str], input: &str) -> Output {
    let mut child = t
        .command(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tsched starts");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("tsched ends")
}

/// The cluster, the store initialised by its owner through `tsched store init`, and the team
/// the first global admin builds through the CLI.
fn team() -> Team {
    let cluster = Cluster::start();
    cluster.create_login(OWNER, PW);
    cluster.superuser_sql("postgres", &format!("ALTER ROLE {OWNER} CREATEROLE;"));
    cluster.create_database(DB, Some(OWNER));
    let team = Team {
        cluster,
        tmp: tempfile::tempdir().expect("tempdir"),
    };

    // The owner sets the database up and names the first global admin.
    let owner_url = format!(
        "postgres://{OWNER}@{}:{}/{DB}?sslmode=verify-full",
        team.cluster.host(),
        team.cluster.port()
    );
    let ca = team.ca().to_str().expect("utf-8 path").to_string();
    let out = run_stdin(
        &Tsched::new(team.dir(OWNER)),
        &[
            "store",
            "init",
            &owner_url,
            "--admin",
            ROOT,
            "--admin-name",
            "Root",
            "--ca-file",
            &ca,
            "--password-stdin",
        ],
        &format!("{PW}\n"),
    );
    assert!(
        out.status.success(),
        "store init by the owner must succeed: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The DBA gives the first admin's login a password; the admin builds the team.
    team.set_password(ROOT);
    let root = team.as_login(ROOT);
    root.ok(&["programs", "add", "Engineering Mentoring", "--code", "eng"]);
    root.ok(&["programs", "add", "Operations Guild", "--code", "ops"]);
    for (upn, name) in [
        (TRACK_ADMIN, "Track Admin"),
        (COORDINATOR, "Coordinator"),
        (SUPPORT, "Support"),
        (GONE, "Gone"),
    ] {
        root.ok(&["operators", "add", upn, "--name", name]);
        team.set_password(upn);
    }
    root.ok(&[
        "operators",
        "grant",
        TRACK_ADMIN,
        "track-admin",
        "--program",
        "eng",
    ]);
    root.ok(&[
        "operators",
        "grant",
        COORDINATOR,
        "coordinator",
        "--program",
        "eng",
    ]);
    root.ok(&["operators", "grant", SUPPORT, "support"]);
    root.ok(&["operators", "grant", GONE, "support"]);
    for code in ["eng", "ops"] {
        root.ok(&["programs", "participants", "add", code, "ann@x.example"]);
    }
    root.ok(&["operators", "deactivate", GONE]);

    // A login of the cluster that is nobody on the roster.
    team.cluster.create_login(STRANGER, PW);
    // One meeting per program: creating one needs Microsoft Graph, so the DBA writes them.
    team.cluster.superuser_sql(
        DB,
        "INSERT INTO tsched.meetings (external_id, program_id, subject, start_utc, end_utc, time_zone,
             state, created_by, created_at, updated_at)
         SELECT 'm-' || code, id, 'Intro', '2027-03-01T09:00:00Z', '2027-03-01T10:00:00Z', 'UTC',
             'created', 'root@x.test', '2027-01-01T00:00:00Z', '2027-01-01T00:00:00Z'
         FROM tsched.programs ORDER BY code;
         INSERT INTO tsched.meeting_attendees (meeting_id, address)
         SELECT id, 'ann@x.example' FROM tsched.meetings;",
    );
    let roster = team.cluster.superuser_sql(
        DB,
        "SELECT string_agg(o.login || ':' || o.active || ':' || coalesce(r.role, '-') || ':'
             || coalesce(p.code, '-'), ',' ORDER BY o.login)
         FROM tsched.operators o LEFT JOIN tsched.operator_roles r ON r.operator_id = o.id
         LEFT JOIN tsched.programs p ON p.id = r.program_id;",
    );
    assert_eq!(
        roster.trim(),
        "co@x.test:true:coordinator:eng,gone@x.test:false:support:-,root@x.test:true:global_admin:-,\
         su@x.test:true:support:-,ta@x.test:true:track_admin:eng",
        "the roster the CLI built is what the rows assume"
    );
    team
}

impl Team {
    /// The DBA's part: `ALTER ROLE … PASSWORD` (the roster makes logins without one).
    fn set_password(&self, login: &str) {
        self.cluster.superuser_sql(
            "postgres",
            &format!(
                "SET password_encryption = 'scram-sha-256'; ALTER ROLE {} PASSWORD '{PW}';",
                quote_ident(login)
            ),
        );
    }
}

/// Fails the row with a message unless `cond` holds.
macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}

/// How many rows a `--json` answer holds: an array, or an object's `items` (a page) or
/// `operators` (the roster).
fn json_rows(stdout: &str) -> Result<usize, String> {
    let v: serde_json::Value = serde_json::from_str(stdout)
        .map_err(|e| format!("the CLI's --json answer is not JSON ({e}): {stdout}"))?;
    let rows = match &v {
        serde_json::Value::Array(a) => Some(a),
        serde_json::Value::Object(o) => o
            .get("items")
            .or_else(|| o.get("operators"))
            .and_then(|i| i.as_array()),
        _ => None,
    };
    rows.map(Vec::len)
        .ok_or_else(|| format!("a list answer is an array, or has items or operators: {v}"))
}

/// psql's count, for a row whose SQL prints one.
fn psql_count(out: &PsqlOutput) -> Result<usize, String> {
    ensure!(
        out.success,
        "psql must be allowed to run this: {}",
        out.stderr
    );
    out.stdout
        .trim()
        .parse()
        .map_err(|e| format!("psql prints a count ({e}): {:?}", out.stdout))
}

/// Runs one row through the CLI, then through psql, and checks both answers and the store.
fn check(team: &Team, row: &Row) -> Result<(), String> {
    let who = row.who;
    let before = team.snapshot();
    let cli = team.as_login(who).run(row.cli);
    let after_cli = team.snapshot();
    let psql = team.psql(who, row.sql);
    let after_psql = team.snapshot();

    let cli_err = String::from_utf8_lossy(&cli.stderr).trim_end().to_string();
    let cli_out = String::from_utf8_lossy(&cli.stdout).into_owned();
    ensure!(
        !cli_err.contains(PW) && !psql.stderr.contains(PW),
        "no answer may show the password: {cli_err} / {}",
        psql.stderr
    );
    match row.want {
        Want::Allowed => {
            ensure!(
                cli.status.success(),
                "{who} must be allowed through the CLI: {cli_err}"
            );
            ensure!(before != after_cli, "the CLI's change must be stored");
            let n = psql_count(&psql)?;
            ensure!(n >= 1, "{who} must change a row through psql, changed {n}");
            ensure!(after_cli != after_psql, "psql's change must be stored");
        }
        Want::Sees(_) | Want::SeesSome => {
            ensure!(
                cli.status.success(),
                "{who} may read this through the CLI: {cli_err}"
            );
            let through_cli = json_rows(&cli_out)?;
            let through_psql = psql_count(&psql)?;
            ensure!(
                through_cli == through_psql,
                "the CLI shows {who} {through_cli} rows, psql {through_psql}"
            );
            match row.want {
                Want::Sees(n) => ensure!(
                    through_cli == n,
                    "{who} must see {n} rows, sees {through_cli}"
                ),
                _ => ensure!(through_cli > 0, "{who} must see some rows"),
            }
            ensure!(before == after_cli, "a CLI read must change nothing");
            ensure!(after_cli == after_psql, "a psql read must change nothing");
        }
        Want::Denied {
            layer,
            exit,
            cli: cli_says,
            psql: psql_says,
        } => {
            ensure!(
                cli.status.code() == Some(exit),
                "the CLI must refuse {who} with exit {exit} (refused by {layer:?}), got {:?}; stdout: {cli_out} stderr: {cli_err}",
                cli.status.code()
            );
            ensure!(
                cli_err.lines().count() == 1,
                "a CLI refusal is one line: {cli_err:?}"
            );
            ensure!(
                cli_err.contains(cli_says),
                "the CLI must say why ({cli_says:?}): {cli_err}"
            );
            if psql_says.is_empty() {
                let n = psql_count(&psql)?;
                ensure!(
                    n == 0,
                    "through psql the statement must match no row, matched {n}"
                );
            } else {
                ensure!(
                    !psql.success && psql.stderr.contains(psql_says),
                    "psql must be refused saying {psql_says:?}: {} {}",
                    psql.stdout,
                    psql.stderr
                );
            }
            if layer == Layer::Core {
                // access::require's refusal, not a database error passed on.
                ensure!(
                    cli_err.contains("not allowed: ") && !cli_err.contains("may not do this ("),
                    "the core must refuse this before the database is asked: {cli_err}"
                );
            }
            if layer == Layer::Connect {
                ensure!(
                    psql.stderr.contains("connection to server"),
                    "psql must be refused at connection time: {}",
                    psql.stderr
                );
            }
            ensure!(before == after_cli, "a CLI refusal must change nothing");
            ensure!(
                after_cli == after_psql,
                "a psql refusal must change nothing"
            );
        }
    }
    Ok(())
}

#[test]
fn the_cli_and_raw_psql_give_each_operator_the_same_answers() {
    let started = Instant::now();
    let team = team();
    assert!(MATRIX.len() >= 17, "the issue asks for at least 17 rows");
    // Every row runs, so one run reports every disagreement.
    let failures: Vec<String> = MATRIX
        .iter()
        .filter_map(|row| {
            check(&team, row)
                .err()
                .map(|e| format!("[{}] {e}", row.name))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "the CLI and psql must agree on every row, and a denial change nothing:\n{}",
        failures.join("\n")
    );
    let audited = team.cluster.superuser_sql(
        DB,
        "SELECT string_agg(DISTINCT operator, ',') FROM tsched.audit_log;",
    );
    assert_eq!(
        audited.trim(),
        "root@x.test,ta@x.test",
        "the audit names only the logins whose changes were allowed (the server stamps it)"
    );
    assert!(
        started.elapsed().as_secs() < 60,
        "the matrix runs in well under a minute: {:?}",
        started.elapsed()
    );
}
