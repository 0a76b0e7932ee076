//! The PostgreSQL side of `store_scale`: the same data and the same list calls on a team store.
//!
//! A throwaway cluster (`tsched_pgtest::Cluster`, the test harness's: TLS on, loopback) gets a
//! team database made as the tests make it (an owner login with CREATEROLE, `store init`, the
//! first global admin bootstrapped). The rows are then copied from the SQLite bench file
//! (seeding is not measured): `COPY` as the superuser with `session_replication_role = replica`,
//! so the server's triggers stay quiet — the audit stamp would overwrite `operator`/`at`, the
//! foreign-key checks and the attendee start copy cost minutes and check nothing the SQLite file
//! does not already hold — and the one piece of derived data the triggers keep,
//! `batch_item_counts`, is counted afterwards. `VACUUM ANALYZE` follows (statistics for the
//! planner, the visibility map for index-only scans), as a DBA's autovacuum would have done.
//!
//! Three sessions then time the calls: the database owner (no row-level security in effect: its
//! `owner` policies pass every row), a global admin's login and a coordinator's login (both under
//! row-level security: what a team's operators get). The plans come from `auto_explain` in a
//! fourth and fifth session (the owner's and the global admin's), opened after the timing, so
//! logging plans never slows a timed call.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use rusqlite::types::ValueRef;
use tsched_core::secret::Sensitive;
use tsched_core::store::postgres::{self, PgConfig, PgConn};
use tsched_core::Store;
use tsched_pgtest::Cluster;

use super::Res;

const OWNER: &str = "tsched_owner";
const OWNER_PW: &str = "owner-bench-pw";
const OPERATOR_PW: &str = "operator-bench-pw";
const DB: &str = "tsched";

/// The tables copied from the SQLite file, in this order (no order is needed with the
/// foreign-key triggers quiet; this one reads naturally).
const TABLES: [&str; 10] = [
    "programs",
    "program_meeting_modes",
    "participants",
    "operators",
    "operator_roles",
    "batches",
    "meetings",
    "meeting_attendees",
    "batch_items",
    "audit_log",
];

/// Tables big enough that a sequential scan of one in a page's plan is a finding.
const BIG: [&str; 7] = [
    "programs",
    "participants",
    "meetings",
    "meeting_attendees",
    "batch_items",
    "audit_log",
    "batches",
];

/// A seeded team store on a running cluster, and a session of each kind.
pub struct PgBench {
    /// Kept so the server lives as long as the sessions; dropping it removes the cluster.
    pub cluster: Cluster,
    pub owner: Store,
    pub admin: Store,
    pub coordinator: Store,
    pub seeded_in: Duration,
    pub server_version: String,
    /// The `STORE_SCALE_PG_SQL` file applied after seeding, if any.
    pub tried: Option<String>,
}

fn connect(cluster: &Cluster, login: &str, password: &str) -> Res<PgConn> {
    let cfg = PgConfig::parse(&cluster.url(login, password, DB, "verify-full"))?
        .with_ca_file(cluster.ca_file());
    Ok(PgConn::connect(
        &cfg,
        Some(&Sensitive::new(password.to_string())),
    )?)
}

/// A session of `login` on the team database.
pub fn session(cluster: &Cluster, login: &str) -> Res<Store> {
    let pw = if login == OWNER {
        OWNER_PW
    } else {
        OPERATOR_PW
    };
    Ok(Store::from_postgres(connect(cluster, login, pw)?)?)
}

/// One value in COPY's text format.
fn copy_value(out: &mut String, v: ValueRef<'_>, boolean: bool) -> Res<()> {
    match v {
        ValueRef::Null => out.push_str("\\N"),
        ValueRef::Integer(i) if boolean => out.push(if i != 0 { 't' } else { 'f' }),
        ValueRef::Integer(i) => write!(out, "{i}")?,
        ValueRef::Real(f) => write!(out, "{f}")?,
        ValueRef::Text(t) => {
            for c in std::str::from_utf8(t)?.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '\t' => out.push_str("\\t"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    c => out.push(c),
                }
            }
        }
        ValueRef::Blob(_) => return Err("a BLOB in the bench data: not copied".into()),
    }
    Ok(())
}

/// Starts the cluster, makes the team store, copies the SQLite bench store into it and opens
/// the three sessions. `admin_upn` is the SQLite store's operator 1 (a global admin), who is
/// bootstrapped; `coordinator_upn` gets a login.
pub fn start(sqlite: &Store, admin_upn: &str, coordinator_upn: &str) -> Res<PgBench> {
    let started = Instant::now();
    let cluster = Cluster::start();
    cluster.create_login(OWNER, OWNER_PW);
    cluster.superuser_sql("postgres", &format!("ALTER ROLE {OWNER} CREATEROLE;"));
    cluster.create_database(DB, Some(OWNER));
    let mut owner = connect(&cluster, OWNER, OWNER_PW)?;
    postgres::init(&mut owner)?;
    let first = postgres::bootstrap(&owner, admin_upn, "Operator 0")?;
    let sqlite_first: i64 = sqlite.conn().query_row(
        "SELECT id FROM operators WHERE upn = ?1",
        [admin_upn],
        |r| r.get(0),
    )?;
    if first != sqlite_first {
        return Err(format!(
            "the bootstrapped admin got id {first}, the SQLite store has them as {sqlite_first}"
        )
        .into());
    }
    let server_version = cluster
        .superuser_sql("postgres", "SHOW server_version;")
        .trim()
        .to_string();

    // The team store's insertable columns (not generated; version and updated_by keep their
    // defaults) and which of them are boolean (SQLite stores flags as 0/1).
    let listing = cluster.superuser_sql(
        DB,
        "SELECT table_name || '|' || column_name || '|' || data_type
         FROM information_schema.columns
         WHERE table_schema = 'tsched' AND is_generated = 'NEVER'
           AND column_name NOT IN ('version', 'updated_by')
         ORDER BY table_name, ordinal_position;",
    );
    let mut pg_columns: BTreeMap<&str, Vec<(&str, bool)>> = BTreeMap::new();
    for line in listing.lines() {
        let mut parts = line.split('|');
        if let (Some(t), Some(c), Some(ty)) = (parts.next(), parts.next(), parts.next()) {
            pg_columns.entry(t).or_default().push((c, ty == "boolean"));
        }
    }
    for table in TABLES {
        let t = Instant::now();
        let sqlite_columns: Vec<String> = {
            let mut stmt = sqlite
                .conn()
                .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))?;
            let names = stmt
                .query_map([], |r| r.get::<_, String>(0))?
                .collect::<Result<_, _>>()?;
            names
        };
        let columns: Vec<(&str, bool)> = pg_columns
            .get(table)
            .ok_or_else(|| format!("no table {table} in the team store"))?
            .iter()
            .copied()
            .filter(|(c, _)| sqlite_columns.iter().any(|s| s == c))
            .collect();
        let names = columns
            .iter()
            .map(|(c, _)| *c)
            .collect::<Vec<_>>()
            .join(", ");
        // The bootstrapped admin is already there, as the server made them.
        let skip = match table {
            "operators" => format!(" WHERE id <> {first}"),
            "operator_roles" => format!(" WHERE operator_id <> {first}"),
            _ => String::new(),
        };
        let mut sql = format!(
            "SET session_replication_role = replica;\nCOPY tsched.{table} ({names}) FROM STDIN;\n"
        );
        let mut stmt = sqlite
            .conn()
            .prepare(&format!("SELECT {names} FROM {table}{skip}"))?;
        let mut rows = stmt.query([])?;
        let mut n = 0usize;
        while let Some(row) = rows.next()? {
            for (i, (_, boolean)) in columns.iter().enumerate() {
                if i > 0 {
                    sql.push('\t');
                }
                copy_value(&mut sql, row.get_ref(i)?, *boolean)?;
            }
            sql.push('\n');
            n += 1;
        }
        sql.push_str("\\.\n");
        cluster.superuser_sql(DB, &sql);
        eprintln!(
            "store_scale: postgres: copied {n} rows of {table} in {:.1} s",
            t.elapsed().as_secs_f64()
        );
    }
    cluster.superuser_sql(
        DB,
        "INSERT INTO tsched.batch_item_counts (batch_id, state, n)
             SELECT batch_id, state, count(*) FROM tsched.batch_items GROUP BY batch_id, state;",
    );
    // The coordinator's login, made as the roster functions make it; both operators get a
    // password (the DBA's part).
    let coordinator_login = coordinator_upn.to_ascii_lowercase();
    let admin_login = admin_upn.to_ascii_lowercase();
    cluster.superuser_sql(
        DB,
        &format!(
            "SELECT tsched.tsched_ensure_login('{coordinator_login}');
             SELECT tsched.tsched_sync_memberships('{coordinator_login}');
             ALTER ROLE \"{coordinator_login}\" PASSWORD '{OPERATOR_PW}';
             ALTER ROLE \"{admin_login}\" PASSWORD '{OPERATOR_PW}';"
        ),
    );
    // A change to try (an index, a policy) before it goes into v1.sql/roles.sql: SQL run as
    // the superuser on the seeded database, e.g. `STORE_SCALE_PG_SQL=try.sql`.
    let tried = match std::env::var_os("STORE_SCALE_PG_SQL") {
        Some(path) => {
            let sql = std::fs::read_to_string(&path)
                .map_err(|e| format!("STORE_SCALE_PG_SQL {}: {e}", path.to_string_lossy()))?;
            cluster.superuser_sql(DB, &format!("SET search_path = tsched, public;\n{sql}"));
            Some(path.to_string_lossy().into_owned())
        }
        None => None,
    };
    let t = Instant::now();
    cluster.superuser_sql(DB, "VACUUM (ANALYZE);");
    eprintln!(
        "store_scale: postgres: VACUUM ANALYZE in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let owner = Store::from_postgres(owner)?;
    let admin = session(&cluster, &admin_login)?;
    let coordinator = session(&cluster, &coordinator_login)?;
    Ok(PgBench {
        cluster,
        owner,
        admin,
        coordinator,
        seeded_in: started.elapsed(),
        server_version,
        tried,
    })
}

/// What `auto_explain` logged for one call: the plans of its statements, and the indexes and
/// big-table sequential scans in them.
pub struct Explained {
    pub text: Vec<String>,
    pub indexes: Vec<String>,
    pub seq_scans: Vec<String>,
}

impl PgBench {
    /// `STORE_SCALE_PG_HOLD=<file>`: once seeded, says how to reach the cluster and waits while
    /// `<file>` exists, so plans can be tried by hand (psql) on the seeded store before the timing.
    pub fn hold(&self) -> Res<()> {
        let Some(flag) = std::env::var_os("STORE_SCALE_PG_HOLD") else {
            return Ok(());
        };
        std::fs::write(&flag, "")?;
        eprintln!(
            "store_scale: postgres: holding while {} exists; superuser: \
             psql -h {} -p {} -U postgres -d {DB}; operators' password {OPERATOR_PW}, the owner {OWNER} {OWNER_PW}",
            flag.to_string_lossy(),
            self.cluster.socket_dir().display(),
            self.cluster.port(),
        );
        while std::path::Path::new(&flag).exists() {
            std::thread::sleep(Duration::from_secs(1));
        }
        Ok(())
    }

    /// Opens a session of `login` whose every statement's plan goes to the server log
    /// (`auto_explain`, with actual rows, without timing), then sets the login back, so only
    /// this session logs plans.
    pub fn explaining_session(&self, login: &str) -> Res<Store> {
        let settings = [
            ("session_preload_libraries", "'auto_explain'"),
            ("auto_explain.log_min_duration", "0"),
            ("auto_explain.log_analyze", "on"),
            ("auto_explain.log_timing", "off"),
            ("auto_explain.log_nested_statements", "on"),
        ];
        let set: String = settings
            .iter()
            .map(|(k, v)| format!("ALTER ROLE \"{login}\" SET {k} = {v};\n"))
            .collect();
        self.cluster.superuser_sql("postgres", &set);
        let store = session(&self.cluster, login);
        self.cluster
            .superuser_sql("postgres", &format!("ALTER ROLE \"{login}\" RESET ALL;"));
        store
    }

    /// Runs `call` once on an explaining session and reads the plans it logged.
    pub fn explain(
        &self,
        store: &Store,
        run: impl FnOnce(&Store) -> Result<usize, tsched_core::Error>,
    ) -> Res<Explained> {
        let before = self.cluster.log().len();
        run(store)?;
        // The backend writes the plan at the end of each statement, before the client sees
        // the answer; a moment for the write to reach the file.
        std::thread::sleep(Duration::from_millis(30));
        let log = self.cluster.log();
        let chunk = log.get(before..).unwrap_or_default();
        // One block per statement run; a policy's function runs once per row checked, so
        // identical blocks are folded into one with their count.
        let mut blocks: Vec<(Vec<String>, usize)> = Vec::new();
        for line in chunk.lines() {
            if line.contains("LOG:  duration:") {
                blocks.push((Vec::new(), 1));
            } else if let (Some(l), Some((block, _))) = (line.strip_prefix('\t'), blocks.last_mut())
            {
                block.push(l.to_string());
            }
        }
        let mut folded: Vec<(Vec<String>, usize)> = Vec::new();
        for (block, _) in blocks {
            match folded.iter_mut().find(|(b, _)| *b == block) {
                Some((_, n)) => *n += 1,
                None => folded.push((block, 1)),
            }
        }
        let mut text = Vec::new();
        for (block, n) in folded {
            text.push(if n == 1 {
                "-- a statement:".to_string()
            } else {
                format!("-- a statement run {n} times (a function a policy calls per row):")
            });
            text.extend(block);
        }
        let mut indexes = Vec::new();
        let mut seq_scans = Vec::new();
        for l in &text {
            for marker in [" using ", "Bitmap Index Scan on "] {
                if let Some(i) = l.find(marker) {
                    let name = l[i + marker.len()..]
                        .split_whitespace()
                        .next()
                        .unwrap_or("")
                        .to_string();
                    if !name.is_empty() && !indexes.contains(&name) {
                        indexes.push(name);
                    }
                }
            }
            if let Some(i) = l.find("Seq Scan on ") {
                let table = l[i + 12..].split_whitespace().next().unwrap_or("");
                if BIG.contains(&table) && !seq_scans.iter().any(|s| s == table) {
                    seq_scans.push(table.to_string());
                }
            }
        }
        Ok(Explained {
            text,
            indexes,
            seq_scans,
        })
    }
}
