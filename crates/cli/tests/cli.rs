//! End-to-end tests of the `tsched` binary against a temporary `--data-dir`: output, exit codes,
//! one-line errors, concurrency, refusal of unusable store files, and access denials.

use std::path::Path;
use std::process::Output;

use tsched_core::access::{self, Action, Role, RoleGrant, Subject};

mod support;
use support::Tsched;

fn tsched(dir: &Path, args: &[&str]) -> Output {
    Tsched::new(dir).run(args)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs and asserts success, returning stdout.
fn ok(dir: &Path, args: &[&str]) -> String {
    Tsched::new(dir).ok(args)
}

/// Runs and asserts failure with `code` and exactly one line on stderr, returning that line.
fn fails(dir: &Path, args: &[&str], code: i32) -> String {
    Tsched::new(dir).fails(args, code)
}

fn db_file(dir: &Path) -> std::path::PathBuf {
    tsched_core::paths::db_path(dir)
}

#[test]
fn programs_add_then_list_json_prints_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    ok(
        dir.path(),
        &["programs", "add", "Engineering Mentoring", "--code", "eng"],
    );
    let out = ok(dir.path(), &["programs", "list", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("list --json prints JSON");
    let list = v.as_array().expect("a JSON array");
    assert_eq!(list.len(), 1, "one program was added: {out}");
    assert_eq!(list[0]["code"], "eng", "the code is printed: {out}");
    assert_eq!(list[0]["name"], "Engineering Mentoring");
    let teams = list[0]["modes"]
        .as_array()
        .expect("modes")
        .iter()
        .find(|m| m["mode"] == "teams_video")
        .expect("teams_video is listed");
    assert_eq!(
        teams["status"], "unavailable",
        "without the integration Teams shows unavailable: {teams}"
    );
}

#[test]
fn programs_list_pages_with_after_and_refuses_a_bad_cursor() {
    let dir = tempfile::tempdir().expect("tempdir");
    for name in ["Alpha", "Bravo", "Charlie"] {
        ok(dir.path(), &["programs", "add", name]);
    }
    let first = tsched(dir.path(), &["programs", "list", "--limit", "2", "--json"]);
    assert!(first.status.success(), "first page: {}", stderr(&first));
    let page: Vec<serde_json::Value> = serde_json::from_str(&stdout(&first)).expect("json");
    let codes: Vec<&str> = page.iter().filter_map(|p| p["code"].as_str()).collect();
    assert_eq!(
        codes,
        ["alpha", "bravo"],
        "stdout keeps the plain JSON array"
    );
    let hint = stderr(&first);
    let cursor = hint
        .trim()
        .strip_prefix("More rows: repeat with --after ")
        .expect("stderr says how to get the next page");
    let rest = ok(
        dir.path(),
        &[
            "programs", "list", "--limit", "2", "--after", cursor, "--json",
        ],
    );
    let page: Vec<serde_json::Value> = serde_json::from_str(&rest).expect("json");
    let codes: Vec<&str> = page.iter().filter_map(|p| p["code"].as_str()).collect();
    assert_eq!(
        codes,
        ["charlie"],
        "the next page continues after the cursor"
    );
    let line = fails(dir.path(), &["programs", "list", "--after", "bogus!"], 3);
    assert!(
        line.contains("cursor"),
        "a bad cursor is invalid input naming the cursor: {line}"
    );
}

#[test]
fn concurrent_writers_on_one_data_dir_all_succeed() {
    let dir = tempfile::tempdir().expect("tempdir");
    ok(dir.path(), &["programs", "list"]); // create the store first
    let procs: Vec<_> = (0..8)
        .map(|i| {
            Tsched::new(dir.path())
                .command(&[
                    "programs",
                    "add",
                    &format!("Program {i}"),
                    "--code",
                    &format!("p{i}"),
                ])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn tsched")
        })
        .collect();
    for p in procs {
        let o = p.wait_with_output().expect("wait");
        assert!(
            o.status.success(),
            "every concurrent writer must succeed (WAL + busy_timeout): {}",
            stderr(&o)
        );
    }
    let v: serde_json::Value =
        serde_json::from_str(&ok(dir.path(), &["programs", "list", "--json"])).expect("json");
    assert_eq!(
        v.as_array().map(Vec::len),
        Some(8),
        "all eight concurrent writes landed"
    );
}

#[test]
fn corrupt_store_file_is_refused_and_left_unchanged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let garbage: Vec<u8> = (0..4096u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(db_file(dir.path()), &garbage).expect("write garbage");
    let line = fails(dir.path(), &["programs", "list"], 8);
    assert!(
        line.contains(&db_file(dir.path()).display().to_string()),
        "the error names the file: {line}"
    );
    assert_eq!(
        std::fs::read(db_file(dir.path())).expect("read"),
        garbage,
        "a corrupt file must be left byte-for-byte unchanged"
    );
}

#[test]
fn newer_version_store_is_refused_and_left_unchanged() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let store = tsched_core::Store::open_in(dir.path()).expect("fresh store");
        store
            .conn()
            .pragma_update(None, "user_version", 99)
            .expect("set version");
    }
    let before = std::fs::read(db_file(dir.path())).expect("read");
    let line = fails(dir.path(), &["programs", "add", "X", "--code", "x"], 8);
    assert!(
        line.contains("newer") && line.contains(&db_file(dir.path()).display().to_string()),
        "the error says newer version and names the file: {line}"
    );
    assert_eq!(
        std::fs::read(db_file(dir.path())).expect("read"),
        before,
        "a newer-version file must be left byte-for-byte unchanged"
    );
}

#[test]
fn migration_from_empty_and_reopen_keep_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    ok(dir.path(), &["programs", "add", "Eng", "--code", "eng"]);
    let out = ok(dir.path(), &["programs", "show", "eng", "--json"]);
    assert!(
        out.contains("\"eng\""),
        "reopening finds the program: {out}"
    );
    let store = tsched_core::Store::open_in(dir.path()).expect("reopen");
    let v = tsched_core::store::migrations::version(&store).expect("version");
    assert_eq!(
        v,
        tsched_core::store::migrations::CURRENT_VERSION,
        "a store created from empty is at the current schema"
    );
}

#[test]
fn operators_list_says_setup_mode_plainly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = ok(dir.path(), &["operators", "list"]);
    assert!(
        out.starts_with("setup mode: no operators yet"),
        "an empty store says it is in setup mode: {out}"
    );
    ok(dir.path(), &["operators", "add", "ann@x.com"]);
    let line = fails(dir.path(), &["operators", "list"], 6);
    assert!(
        line.contains("sign in first") && line.contains("tsched login"),
        "after setup mode the local user is told to sign in: {line}"
    );
    let out = ok(dir.path(), &["--as", "ann@x.com", "operators", "list"]);
    assert!(
        out.contains("ann@x.com") && out.contains("global admin"),
        "the first operator is global admin: {out}"
    );
}

#[test]
fn bad_input_is_refused_with_clear_one_line_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    ok(dir.path(), &["programs", "add", "Eng", "--code", "eng"]);
    let line = fails(
        dir.path(),
        &["programs", "add", "Other", "--code", "ENG"],
        5,
    );
    assert!(line.contains("already exists"), "duplicate code: {line}");
    let line = fails(dir.path(), &["programs", "show", "nope"], 4);
    assert!(line.contains("program 'nope' does not exist"), "{line}");
    let line = fails(
        dir.path(),
        &["operators", "grant", "who@x.com", "support"],
        4,
    );
    assert!(
        line.contains("operator 'who@x.com' does not exist"),
        "granting to an unknown operator: {line}"
    );
    ok(dir.path(), &["programs", "archive", "eng"]);
    let line = fails(dir.path(), &["programs", "rename", "eng", "New"], 5);
    assert!(
        line.contains("archived"),
        "archived programs refuse edits: {line}"
    );
    ok(dir.path(), &["programs", "unarchive", "eng"]);
    let csv = dir.path().join("p.csv");
    std::fs::write(&csv, b"name,mail\r\na@x.com,A\r\n").expect("write csv");
    let line = fails(
        dir.path(),
        &[
            "programs",
            "participants",
            "import",
            "eng",
            csv.to_str().expect("utf-8 path"),
        ],
        3,
    );
    assert!(line.contains("line 1: wrong headers"), "{line}");
    std::fs::write(&csv, b"email,display_name\na@x.com,A\na@x.com,B\n").expect("write csv");
    let line = fails(
        dir.path(),
        &[
            "programs",
            "participants",
            "import",
            "eng",
            csv.to_str().expect("utf-8 path"),
        ],
        3,
    );
    assert!(line.contains("line 3: duplicate"), "{line}");
    let out = ok(
        dir.path(),
        &["programs", "participants", "list", "eng", "--json"],
    );
    assert_eq!(out.trim(), "[]", "refused imports add nobody");
    let line = fails(
        dir.path(),
        &["programs", "modes", "enable", "eng", "teams-video"],
        5,
    );
    assert!(
        line.contains("not connected"),
        "Teams needs the integration, and says so: {line}"
    );
    ok(dir.path(), &["operators", "add", "ann@x.com"]);
    let line = fails(
        dir.path(),
        &["--as", "ann@x.com", "operators", "remove", "ann@x.com"],
        5,
    );
    assert!(line.contains("last global admin"), "{line}");
}

/// One CLI command per action that the CLI offers, with the program it touches.
fn command_for(action: Action, program: &str, n: usize) -> Option<Vec<String>> {
    let s = |v: &[&str]| Some(v.iter().map(|x| x.to_string()).collect());
    match action {
        Action::ProgramCreate => s(&[
            "programs",
            "add",
            &format!("New {n}"),
            "--code",
            &format!("new{n}"),
        ]),
        Action::ProgramEdit => s(&["programs", "describe", program, &format!("text {n}")]),
        Action::ProgramArchive => s(&["programs", "archive", program]),
        Action::ModeToggle => s(&["programs", "modes", "disable", program, "phone"]),
        Action::ParticipantsEdit => s(&[
            "programs",
            "participants",
            "add",
            program,
            &format!("p{n}@x.com"),
        ]),
        Action::ViewProgram => s(&["programs", "show", program]),
        Action::OperatorsManage => s(&["operators", "add", &format!("new{n}@x.com")]),
        Action::OperatorsView => s(&["operators", "list"]),
        Action::AuditView => s(&["audit", "--program", program]),
        // No CLI command yet (integration, meetings, batches, membership): covered in the core.
        _ => None,
    }
}

#[test]
fn role_action_program_denials_match_the_core_through_the_cli() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    ok(d, &["programs", "add", "Engineering", "--code", "eng"]);
    ok(d, &["programs", "add", "Operations", "--code", "ops"]);
    ok(d, &["operators", "add", "admin@x.com"]);
    let admin = ["--as", "admin@x.com"];
    let people = [
        ("ga@x.com", Role::GlobalAdmin, None),
        ("ta@x.com", Role::TrackAdmin, Some("eng")),
        ("co@x.com", Role::Coordinator, Some("eng")),
        ("su@x.com", Role::Support, None),
    ];
    for (upn, role, program) in people {
        ok(d, &[&admin[..], &["operators", "add", upn]].concat());
        let mut grant = vec!["operators", "grant", upn, role.as_str()];
        if let Some(p) = program {
            grant.extend(["--program", p]);
        }
        ok(d, &[&admin[..], &grant[..]].concat());
    }
    let mut n = 0;
    let mut checked = 0;
    for (upn, role, program) in people {
        let subject = Subject::Operator {
            grants: vec![RoleGrant {
                role,
                program: program.map(Into::into),
            }],
        };
        for action in Action::ALL {
            for target in ["eng", "ops"] {
                n += 1;
                let Some(cmd) = command_for(action, target, n) else {
                    continue;
                };
                let scope = match action {
                    Action::ProgramCreate | Action::OperatorsManage | Action::OperatorsView => None,
                    _ => Some(target),
                };
                let want = access::decide(&subject, action, scope);
                let args: Vec<&str> = ["--as", upn]
                    .into_iter()
                    .chain(cmd.iter().map(String::as_str))
                    .collect();
                if want.is_allowed() {
                    ok(d, &args);
                    if action == Action::ProgramArchive {
                        ok(
                            d,
                            &[&admin[..], &["programs", "unarchive", target]].concat(),
                        );
                    }
                } else {
                    let line = fails(d, &args, 6);
                    assert!(
                        line.starts_with("tsched: error: not allowed: ")
                            && line.contains(upn)
                            && line.contains(role.label()),
                        "{role} doing {action:?} on {target}: the denial names who and the role: {line}"
                    );
                    if let Some(p) = scope {
                        assert!(
                            line.contains(&format!("'{p}'")),
                            "the denial names the program: {line}"
                        );
                    }
                }
                checked += 1;
            }
        }
    }
    assert_eq!(
        checked,
        4 * 9 * 2,
        "every role × CLI action × own/other program ran"
    );
}

#[test]
fn a_track_admin_naming_a_global_admin_in_tsched_operator_cannot_grant_themselves_global_admin() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    ok(d, &["programs", "add", "Eng", "--code", "eng"]);
    ok(d, &["operators", "add", "admin@x.com"]);
    ok(d, &["--as", "admin@x.com", "operators", "add", "ta@x.com"]);
    ok(
        d,
        &[
            "--as",
            "admin@x.com",
            "operators",
            "grant",
            "ta@x.com",
            "track-admin",
            "--program",
            "eng",
        ],
    );
    let audit_rows = |d: &Path| -> Vec<serde_json::Value> {
        let out = ok(d, &["--as", "admin@x.com", "audit", "--json"]);
        serde_json::from_str(&out).expect("audit JSON is an array of rows")
    };
    let before = audit_rows(d).len();
    // The repro of the review: the track admin names the global admin.
    let o = Tsched::new(d)
        .env("TSCHED_OPERATOR", "admin@x.com")
        .env_remove("TSCHED_TEST_IMPERSONATION")
        .run(&["operators", "grant", "ta@x.com", "global-admin"]);
    assert_eq!(
        o.status.code(),
        Some(6),
        "refused as Denied: {}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("TSCHED_TEST_IMPERSONATION") && stderr(&o).contains("tsched login"),
        "says how to prove who you are: {}",
        stderr(&o)
    );
    assert_eq!(
        audit_rows(d).len(),
        before,
        "nothing was done, nothing audited"
    );
    // Under the test-only switch it works, and the audit says who really acted.
    let o = Tsched::new(d).env("TSCHED_OPERATOR", "admin@x.com").run(&[
        "operators",
        "grant",
        "ta@x.com",
        "global-admin",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = audit_rows(d);
    let newest = rows.first().expect("a row");
    assert_eq!(newest["action"], "operator.grant", "{newest}");
    assert_eq!(newest["operator"], "admin@x.com", "{newest}");
    assert!(
        newest["real_actor"]
            .as_str()
            .is_some_and(|r| r.starts_with("local:")),
        "the audit row records the real local user beside the operator named: {newest}"
    );
}

#[test]
fn acting_operator_comes_from_as_flag_or_tsched_operator_env() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    ok(d, &["operators", "add", "ann@x.com", "--name", "Ann"]);
    let o =
        Tsched::new(d)
            .env("TSCHED_OPERATOR", "ann@x.com")
            .run(&["operators", "list", "--json"]);
    assert!(
        o.status.success(),
        "TSCHED_OPERATOR names the acting operator: {}",
        stderr(&o)
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(
        v["setup_mode"], false,
        "an operator exists, so setup mode is over"
    );
    let line = fails(d, &["--as", "nobody@x.com", "programs", "list"], 6);
    assert!(
        line.contains("'nobody@x.com' is not an operator"),
        "an unknown --as is refused, not silently replaced: {line}"
    );
}

#[test]
fn audit_filters_and_exports_csv_and_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    ok(d, &["programs", "add", "Eng", "--code", "eng"]);
    ok(d, &["programs", "add", "Ops", "--code", "ops"]);
    ok(d, &["programs", "rename", "eng", "Engineering"]);
    let out = ok(d, &["audit", "--program", "eng", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("audit --json is JSON");
    let actions: Vec<&str> = v
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|r| r["action"].as_str())
        .collect();
    assert_eq!(
        actions,
        vec!["program.edit", "program.create"],
        "newest first, only program eng"
    );
    let csv = ok(d, &["audit", "--action", "program.create", "--csv"]);
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("id,at,operator,action,target,program,before,after,graph_request_id,real_actor"),
        "the CSV starts with its header row"
    );
    assert_eq!(lines.count(), 2, "two program.create rows: {csv}");
    let out = ok(d, &["audit", "--since", "2999-01-01"]);
    assert!(
        out.contains("No audit rows match"),
        "a future --since matches nothing: {out}"
    );
    let line = fails(d, &["audit", "--until", "tomorrow"], 3);
    assert!(line.contains("until:"), "a bad date names the flag: {line}");
}

#[test]
fn a_store_locked_by_another_process_is_reported_and_nothing_is_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    ok(
        dir.path(),
        &["programs", "add", "Engineering", "--code", "eng"],
    );
    // Another process holds the write lock for longer than the busy timeout.
    let holder = tsched_core::Store::open_in(dir.path()).expect("open");
    holder
        .conn()
        .execute_batch("BEGIN EXCLUSIVE")
        .expect("take the write lock");
    let line = fails(
        dir.path(),
        &["programs", "add", "Other", "--code", "other"],
        7,
    );
    assert!(
        line.contains("locked") && line.contains(&db_file(dir.path()).display().to_string()),
        "the error says the store is locked and names it: {line}"
    );
    holder.conn().execute_batch("ROLLBACK").expect("release");
    let list = ok(dir.path(), &["programs", "list", "--json"]);
    assert!(
        !list.contains("other"),
        "the refused add left nothing behind: {list}"
    );
}

#[test]
fn a_data_dir_that_cannot_be_created_names_the_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("plain-file");
    std::fs::write(&file, b"not a directory").expect("write");
    // A data directory below a regular file can never be created, even as root.
    let bad = file.join("data");
    let line = fails(&bad, &["programs", "list"], 8);
    assert!(
        line.contains(&bad.display().to_string()),
        "the error names the data directory: {line}"
    );
}

#[test]
fn audit_csv_stopped_at_one_page_and_all_exports_every_row() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    for i in 0..130 {
        ok(
            d,
            &[
                "programs",
                "add",
                &format!("P {i}"),
                "--code",
                &format!("p{i}"),
            ],
        );
    }
    let o = tsched(d, &["audit", "--action", "program.create", "--csv"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o).lines().count(),
        101,
        "one page: a header and the default 100 rows"
    );
    assert!(
        stderr(&o).contains("--after"),
        "and it says what it left out: {}",
        stderr(&o)
    );
    let o = tsched(
        d,
        &["audit", "--action", "program.create", "--csv", "--all"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o).lines().count(),
        131,
        "--all: a header and all 130 rows"
    );
    assert!(stderr(&o).is_empty(), "nothing left out: {}", stderr(&o));
}

/// Two workstations (two processes on one data directory) rename the same program, each on the
/// version it saw: exactly one wins; the other exits with the conflict code, naming who changed
/// the program first, and writes nothing.
#[test]
fn two_processes_editing_the_same_program_one_wins_the_other_gets_the_conflict() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    ok(d, &["programs", "add", "Engineering", "--code", "eng"]);
    ok(d, &["operators", "add", "ana@x.com"]);
    ok(d, &["--as", "ana@x.com", "operators", "add", "bo@x.com"]);
    ok(
        d,
        &[
            "--as",
            "ana@x.com",
            "operators",
            "grant",
            "bo@x.com",
            "track_admin",
            "--program",
            "eng",
        ],
    );
    let shown = ok(
        d,
        &["programs", "show", "eng", "--as", "ana@x.com", "--json"],
    );
    let v: serde_json::Value = serde_json::from_str(&shown).expect("show --json");
    assert_eq!(v["version"], 1, "both start from version 1: {shown}");
    let procs: Vec<_> = [("ana@x.com", "Ana's name"), ("bo@x.com", "Bo's name")]
        .into_iter()
        .map(|(upn, name)| {
            let child = Tsched::new(d)
                .command(&[
                    "--as",
                    upn,
                    "programs",
                    "rename",
                    "eng",
                    name,
                    "--if-version",
                    "1",
                ])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn tsched");
            (upn, name, child)
        })
        .collect();
    let outcomes: Vec<_> = procs
        .into_iter()
        .map(|(upn, name, child)| (upn, name, child.wait_with_output().expect("wait")))
        .collect();
    let (winners, losers): (Vec<_>, Vec<_>) =
        outcomes.iter().partition(|(_, _, o)| o.status.success());
    assert_eq!(
        (winners.len(), losers.len()),
        (1, 1),
        "exactly one of two edits on version 1 wins: {:?}",
        outcomes
            .iter()
            .map(|(u, _, o)| (u, o.status.code(), stderr(o)))
            .collect::<Vec<_>>()
    );
    let (winner, won_name, _) = winners[0];
    let (_, _, lost) = losers[0];
    assert_eq!(lost.status.code(), Some(5), "the conflict exit code");
    let err = stderr(lost);
    assert_eq!(err.lines().count(), 1, "one line: {err:?}");
    assert!(
        err.contains(&format!("program 'eng' was changed by {winner} at "))
            && err.trim_end().ends_with("reload and try again"),
        "the loser is told who changed it first and what to do: {err}"
    );
    let shown = ok(
        d,
        &["programs", "show", "eng", "--as", "ana@x.com", "--json"],
    );
    let v: serde_json::Value = serde_json::from_str(&shown).expect("show --json");
    assert_eq!(
        (&v["name"], &v["version"], &v["updated_by"]),
        (
            &serde_json::json!(won_name),
            &serde_json::json!(2),
            &serde_json::json!(winner)
        ),
        "the row holds the winner's edit, once: {shown}"
    );
    let trail = ok(
        d,
        &["--as", "ana@x.com", "audit", "--program", "eng", "--json"],
    );
    let rows: serde_json::Value = serde_json::from_str(&trail).expect("audit --json");
    let edits = rows
        .as_array()
        .expect("rows")
        .iter()
        .filter(|r| r["action"] == "program.edit")
        .count();
    assert_eq!(edits, 1, "one audit row, the winner's: {trail}");
}
