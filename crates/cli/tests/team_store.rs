//! `tsched store …` against a real PostgreSQL 15 cluster (tsched-pgtest) and a private Secret
//! Service: the owner sets the team database up, the first global admin chooses it from their
//! own data directory and saves their password in the keyring, then works through it; the
//! password never reaches the config file, and `--as` is refused on the shared store.
//!
//! Run with the keyring tests: `scripts/test-in-session.sh -p tsched --test team_store` (a
//! private keyring is started either way; without its daemons the tests skip, except under
//! `make test`).

mod support;

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use support::keyring::private_keyring_or_skip;
use support::Tsched;
use tsched_pgtest::Cluster;

const OWNER: &str = "tsched_owner";
const OWNER_PW: &str = "owner-Pw-9";
const DB: &str = "tsched";
const ADMIN: &str = "ana@contoso.com";
const ADMIN_PW: &str = "Ana-S3cret-pw";
const KEYRING_SERVICE: &str = "teams-scheduler-database";

/// A cluster with the owner's login (CREATEROLE) and the empty team database it owns.
fn cluster() -> Cluster {
    let cluster = Cluster::start();
    cluster.create_login(OWNER, OWNER_PW);
    cluster.superuser_sql("postgres", &format!("ALTER ROLE {OWNER} CREATEROLE;"));
    cluster.create_database(DB, Some(OWNER));
    cluster
}

/// `postgres://login@127.0.0.1:port/tsched?sslmode=verify-full`, without a password.
fn url(cluster: &Cluster, login: &str) -> String {
    format!(
        "postgres://{}@{}:{}/{DB}?sslmode=verify-full",
        login.replace('@', "%40"),
        cluster.host(),
        cluster.port()
    )
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

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).trim_end().to_string()
}

fn assert_ok(o: &Output, what: &str) -> String {
    assert!(
        o.status.success(),
        "{what} must succeed; stderr: {}",
        stderr(o)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Asserts a failure with one line on stderr; returns it.
fn assert_one_line_failure(o: &Output, what: &str) -> String {
    let err = stderr(o);
    assert!(!o.status.success(), "{what} must fail; stderr: {err}");
    assert_eq!(
        err.lines().count(),
        1,
        "{what}: a failure is one line on stderr: {err:?}"
    );
    err
}

/// The secret the private keyring holds for `account` under the database service, if any.
fn keyring_lookup(bus: &str, account: &str) -> Option<String> {
    let out = Command::new("secret-tool")
        .args(["lookup", "service", KEYRING_SERVICE, "username", account])
        .env("DBUS_SESSION_BUS_ADDRESS", bus)
        .output()
        .expect("secret-tool runs");
    let value = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.success() && !value.is_empty()).then_some(value)
}

fn status_json(t: &Tsched) -> serde_json::Value {
    let out = t.ok(&["store", "status", "--json"]);
    serde_json::from_str(&out).expect("store status --json is JSON")
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path)
        .expect("the file exists")
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn the_owner_sets_up_the_team_database_and_the_first_admin_works_through_it() {
    let Some(keyring) = private_keyring_or_skip() else {
        return;
    };
    let cluster = cluster();
    let ca = cluster.ca_file().to_str().expect("utf-8 path").to_string();
    let tmp = tempfile::tempdir().expect("tempdir");

    // The owner initialises the database and names the first global admin.
    let owner = Tsched::new(tmp.path().join("owner")).bus(&keyring.address);
    let owner_url = url(&cluster, OWNER);
    let init_args = [
        "store",
        "init",
        &owner_url,
        "--admin",
        ADMIN,
        "--admin-name",
        "Ana",
        "--ca-file",
        &ca,
        "--password-stdin",
    ];
    let out = run_stdin(&owner, &init_args, &format!("{OWNER_PW}\n"));
    let said = assert_ok(&out, "store init by the owner");
    assert!(
        said.contains("First global admin: ana@contoso.com"),
        "init names the first global admin: {said}"
    );
    let roster = cluster.superuser_sql(
        DB,
        "SELECT string_agg(o.login || ':' || r.role, ',') FROM tsched.operators o JOIN tsched.operator_roles r ON r.operator_id = o.id;",
    );
    assert_eq!(
        roster.trim(),
        "ana@contoso.com:global_admin",
        "the first global admin is on the roster with their login"
    );
    let again = run_stdin(&owner, &init_args, &format!("{OWNER_PW}\n"));
    let err = assert_one_line_failure(&again, "a second store init");
    assert!(
        err.contains("already holds a Teams Scheduler store"),
        "the second run is refused with the scripts' message: {err}"
    );
    assert!(
        !err.contains(OWNER_PW),
        "the owner's password never shows: {err}"
    );

    // The owner is no operator: working through the store as the owner is refused, in one line.
    let owner_with_pw = format!(
        "{}&sslrootcert={ca}",
        owner_url.replace("tsched_owner@", &format!("tsched_owner:{OWNER_PW}@"))
    );
    let err = assert_one_line_failure(
        &owner.run(&["--database-url", &owner_with_pw, "programs", "list"]),
        "the owner acting as an operator",
    );
    assert!(
        err.contains("'tsched_owner' is not an operator of this store") && !err.contains(OWNER_PW),
        "the database login is who acts, and the owner is not on the roster: {err}"
    );

    // The DBA gives the admin's login a password (the roster made it without one).
    cluster.superuser_sql(
        "postgres",
        &format!("SET password_encryption = 'scram-sha-256'; ALTER ROLE \"{ADMIN}\" PASSWORD '{ADMIN_PW}';"),
    );

    // The admin, from their own data directory: a URL with a wrong password saves nothing.
    let admin_dir = tmp.path().join("ana");
    let admin = Tsched::new(&admin_dir).bus(&keyring.address);
    let admin_url = url(&cluster, ADMIN);
    let with_wrong = admin_url.replace("%40contoso.com@", "%40contoso.com:Wrong-pw-1@");
    let out = admin.run(&["store", "use", &with_wrong, "--ca-file", &ca]);
    let err = assert_one_line_failure(&out, "store use with a wrong password");
    assert!(
        err.contains("password authentication failed for login ana@contoso.com"),
        "the wrong password is named as such: {err}"
    );
    assert!(
        !err.contains("Wrong-pw-1"),
        "the error never repeats the password: {err}"
    );
    assert!(
        !admin_dir.join("store.toml").exists(),
        "a refused password saves no config either"
    );

    // `store use` without a password remembers the URL only.
    let said = admin.ok(&["store", "use", &admin_url, "--ca-file", &ca]);
    assert!(
        said.contains("store login"),
        "use points at the next step: {said}"
    );
    let config = admin_dir.join("store.toml");
    assert_eq!(mode(&config), 0o600, "the config file is owner-only");
    let status = status_json(&admin);
    assert_eq!(
        status["backend"], "postgresql",
        "the team database is chosen: {status}"
    );
    assert_eq!(status["source"], "config_file", "by store.toml: {status}");
    assert_eq!(status["password_saved"], false, "no password yet: {status}");
    assert_eq!(
        status["reachable"], false,
        "not usable without a password: {status}"
    );
    assert!(
        status["error"]
            .as_str()
            .is_some_and(|e| e.contains("run `tsched store login`")),
        "status names the fix: {status}"
    );
    let err = assert_one_line_failure(
        &admin.run(&["programs", "list"]),
        "a command before store login",
    );
    assert!(
        err.contains("run `tsched store login`"),
        "a command without a saved password names the fix: {err}"
    );

    // A wrong password at login: one clear line, nothing in the keyring.
    let account = format!("{ADMIN}@{}:{}/{DB}", cluster.host(), cluster.port());
    let out = run_stdin(
        &admin,
        &["store", "login", "--password-stdin"],
        "Wrong-pw-2\n",
    );
    let err = assert_one_line_failure(&out, "store login with a wrong password");
    assert!(
        err.contains("password authentication failed") && !err.contains("Wrong-pw-2"),
        "a wrong password is one clear line without the password: {err}"
    );
    assert_eq!(
        keyring_lookup(&keyring.address, &account),
        None,
        "a refused password is not saved"
    );

    // The right one is checked and saved in the keyring.
    let out = run_stdin(
        &admin,
        &["store", "login", "--password-stdin"],
        &format!("{ADMIN_PW}\n"),
    );
    assert_ok(&out, "store login with the right password");
    assert_eq!(
        keyring_lookup(&keyring.address, &account).as_deref(),
        Some(ADMIN_PW),
        "the password lives in the OS keyring under login@host:port/database"
    );
    let text = std::fs::read_to_string(&config).expect("config");
    assert!(
        !text.contains(ADMIN_PW) && !text.contains("Wrong-pw"),
        "the config file never holds a password: {text}"
    );
    assert!(
        text.contains("sslmode = \"verify-full\"") && text.contains(&format!("ca_file = \"{ca}\"")),
        "the config file keeps sslmode and the CA file: {text}"
    );

    let status = status_json(&admin);
    assert_eq!(status["store"], "shared", "{status}");
    assert_eq!(status["login"], ADMIN, "the database login: {status}");
    assert_eq!(status["password_saved"], true, "{status}");
    assert_eq!(
        status["schema_version"], 1,
        "the schema the owner made: {status}"
    );
    assert_eq!(status["reachable"], true, "{status}");
    let shown = status.to_string();
    assert!(
        !shown.contains(ADMIN_PW)
            && status["address"]
                .as_str()
                .is_some_and(|a| a.starts_with("postgres://ana%40contoso.com@")),
        "the address is the URL without a password: {shown}"
    );

    // Work goes through the shared store, acted by the database login.
    admin.ok(&["programs", "add", "Engineering Mentoring", "--code", "eng"]);
    let list = admin.ok(&["programs", "list", "--json"]);
    assert!(
        list.contains("\"eng\""),
        "the program added through the team database is listed: {list}"
    );
    let in_pg = cluster.superuser_sql(DB, "SELECT code FROM tsched.programs;");
    assert_eq!(
        in_pg.trim(),
        "eng",
        "the program is in PostgreSQL, not a local file"
    );
    assert!(
        !admin_dir.join("teams-scheduler.db").exists(),
        "no embedded store is made while a team database is chosen"
    );
    let audited = cluster.superuser_sql(
        DB,
        "SELECT DISTINCT operator FROM tsched.audit_log WHERE action LIKE 'program.%';",
    );
    assert_eq!(
        audited.trim(),
        ADMIN,
        "the server records the database login as who acted"
    );

    // --as (and TSCHED_OPERATOR) are refused on a shared store, even with the test switch on.
    let err = assert_one_line_failure(
        &admin.run(&["--as", ADMIN, "programs", "list"]),
        "--as on the shared store",
    );
    assert!(
        err.contains("--as cannot act as someone else on a team database"),
        "--as is refused with the reason: {err}"
    );
    let err = assert_one_line_failure(
        &admin
            .clone()
            .env("TSCHED_OPERATOR", "bob@contoso.com")
            .run(&["programs", "add", "Other", "--code", "other"]),
        "TSCHED_OPERATOR on the shared store",
    );
    assert!(
        err.contains("--as cannot act as someone else on a team database"),
        "TSCHED_OPERATOR is refused too: {err}"
    );
    assert_eq!(
        cluster
            .superuser_sql(DB, "SELECT count(*) FROM tsched.programs;")
            .trim(),
        "1",
        "a refused --as changes nothing"
    );

    // TSCHED_DATABASE_URL (with its password) chooses the store for one run, keyring-less, and
    // nothing of it is written to that data directory.
    let other_dir = tmp.path().join("other");
    let with_pw = format!(
        "{}&sslrootcert={ca}",
        admin_url.replace("%40contoso.com@", &format!("%40contoso.com:{ADMIN_PW}@"))
    );
    let env_run = Tsched::new(&other_dir).env("TSCHED_DATABASE_URL", &with_pw);
    let list = env_run.ok(&["programs", "list", "--json"]);
    assert!(
        list.contains("\"eng\""),
        "the env URL reaches the team database: {list}"
    );
    assert!(
        !other_dir.join("store.toml").exists(),
        "the environment's URL is not remembered"
    );
    // The flag wins over the environment: an unreachable flag URL is what fails.
    let err = assert_one_line_failure(
        &env_run.run(&[
            "--database-url",
            "postgres://x:Flag-pw-3@127.0.0.1:1/db?sslmode=disable&connect_timeout=2",
            "programs",
            "list",
        ]),
        "a flag naming an unreachable database",
    );
    assert!(
        err.contains("cannot reach the team database at 127.0.0.1:1") && !err.contains("Flag-pw-3"),
        "--database-url wins over TSCHED_DATABASE_URL, and its password is not shown: {err}"
    );

    // forget: back to the embedded store, config and keyring entry gone.
    admin.ok(&["store", "forget"]);
    assert!(!config.exists(), "store forget removes store.toml");
    assert_eq!(
        keyring_lookup(&keyring.address, &account),
        None,
        "store forget deletes the saved password"
    );
    let status = status_json(&admin);
    assert_eq!(
        (status["backend"].as_str(), status["source"].as_str()),
        (Some("sqlite"), Some("default")),
        "after forget the embedded store is used: {status}"
    );
}

#[test]
fn migrate_to_copies_a_local_store_into_an_empty_team_database_and_leaves_the_file_alone() {
    let cluster = cluster();
    let ca = cluster.ca_file().to_str().expect("utf-8 path").to_string();
    let dir = tempfile::tempdir().expect("tempdir");
    let local = Tsched::new(dir.path());
    // A local store in setup mode with two programs.
    local.ok(&["programs", "add", "Engineering Mentoring", "--code", "eng"]);
    local.ok(&["programs", "add", "Operations Guild", "--code", "ops"]);
    let db_file = tsched_core::paths::db_path(dir.path());
    let before = std::fs::read(&db_file).expect("the local store file");

    let owner_url = url(&cluster, OWNER);
    let init = run_stdin(
        &local,
        &[
            "--ca-file",
            &ca,
            "store",
            "init",
            &owner_url,
            "--password-stdin",
        ],
        &format!("{OWNER_PW}\n"),
    );
    assert_ok(
        &init,
        "store init without --admin (migrate-to names the roster)",
    );
    let migrated = run_stdin(
        &local,
        &[
            "--ca-file",
            &ca,
            "store",
            "migrate-to",
            &owner_url,
            "--password-stdin",
            "--json",
        ],
        &format!("{OWNER_PW}\n"),
    );
    let report: serde_json::Value =
        serde_json::from_str(&assert_ok(&migrated, "store migrate-to")).expect("JSON report");
    let programs = report["tables"]
        .as_array()
        .expect("tables")
        .iter()
        .find(|t| t["table"] == "programs")
        .expect("programs counted");
    assert_eq!(
        programs["rows"], 2,
        "both local programs are reported copied"
    );
    let rows = cluster.superuser_sql(DB, "SELECT code FROM tsched.programs ORDER BY code;");
    assert_eq!(
        rows.lines().collect::<Vec<_>>(),
        ["eng", "ops"],
        "the programs are in the team database"
    );
    assert_eq!(
        std::fs::read(&db_file).expect("the local store file"),
        before,
        "the local file is left untouched"
    );

    let again = run_stdin(
        &local,
        &[
            "--ca-file",
            &ca,
            "store",
            "migrate-to",
            &owner_url,
            "--password-stdin",
        ],
        &format!("{OWNER_PW}\n"),
    );
    let err = assert_one_line_failure(&again, "a second migrate-to");
    assert!(
        err.contains("not empty"),
        "a second copy into the now filled database is refused, saying why: {err}"
    );
    assert_eq!(
        cluster
            .superuser_sql(DB, "SELECT count(*) FROM tsched.programs;")
            .trim(),
        "2",
        "the refused copy changed nothing"
    );
}

#[test]
fn a_migrate_to_killed_mid_copy_leaves_the_team_database_empty_and_a_rerun_completes() {
    let cluster = cluster();
    let ca = cluster.ca_file().to_str().expect("utf-8 path").to_string();
    let dir = tempfile::tempdir().expect("tempdir");
    let local = Tsched::new(dir.path());
    local.ok(&["programs", "add", "Engineering Mentoring", "--code", "eng"]);
    // Enough audit rows that the copy is still running when the first table is reported.
    {
        let store = tsched_core::Store::open_in(dir.path()).expect("local store");
        store
            .conn()
            .execute_batch(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200000)
                 INSERT INTO audit_log (at, operator, action, target, program_code)
                 SELECT '2026-01-01T00:00:00Z', 'local:me', 'program.edit', 'program:eng', 'eng' FROM n;",
            )
            .expect("seed audit rows");
    }
    let owner_url = url(&cluster, OWNER);
    let init = run_stdin(
        &local,
        &[
            "--ca-file",
            &ca,
            "store",
            "init",
            &owner_url,
            "--password-stdin",
        ],
        &format!("{OWNER_PW}\n"),
    );
    assert_ok(&init, "store init");

    let mut child = local
        .command(&[
            "--ca-file",
            &ca,
            "store",
            "migrate-to",
            &owner_url,
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tsched starts");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(format!("{OWNER_PW}\n").as_bytes())
        .expect("write stdin");
    // Wait for the first table to be reported copied: the transaction is open and has written.
    let mut progress = std::io::BufReader::new(child.stderr.take().expect("piped stderr"));
    let mut line = String::new();
    loop {
        line.clear();
        let n = std::io::BufRead::read_line(&mut progress, &mut line).expect("read progress");
        assert!(n > 0, "migrate-to ended before reporting a copied table");
        if line.contains(" rows") {
            break;
        }
    }
    child.kill().expect("kill -9 mid-copy");
    child.wait().expect("reaped");

    let count = |table: &str| {
        cluster
            .superuser_sql(DB, &format!("SELECT count(*) FROM tsched.{table};"))
            .trim()
            .to_string()
    };
    // The server rolls back the dead session's transaction; wait for it to notice.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while cluster
        .superuser_sql(
            DB,
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'teams-scheduler' AND datname = 'tsched';",
        )
        .trim()
        != "0"
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    for table in ["programs", "audit_log", "operators"] {
        assert_eq!(
            count(table),
            "0",
            "a copy killed mid-transaction leaves no partial {table}"
        );
    }

    let rerun = run_stdin(
        &local,
        &[
            "--ca-file",
            &ca,
            "store",
            "migrate-to",
            &owner_url,
            "--password-stdin",
        ],
        &format!("{OWNER_PW}\n"),
    );
    assert_ok(&rerun, "a second migrate-to after the killed one");
    assert_eq!(count("programs"), "1", "the rerun copies the program");
    assert_eq!(count("audit_log"), "200001", "and every audit row");
}
