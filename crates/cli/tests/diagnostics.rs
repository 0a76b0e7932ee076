//! Logs and the diagnostics bundle, end to end with the real `tsched`: a log file appears under
//! `<data dir>/logs` after one command (stderr unchanged unless `-v`), an unusable log folder
//! only warns, and the bundle exported after a real sandbox sign-in, Graph calls and a failing
//! call holds none of the secrets the sandbox issued or received, nor an `Authorization` header
//! (a planted token is found, so the scan is not vacuous).

use std::io::Read as _;
use std::path::{Path, PathBuf};

use tsched_sandbox::{Sandbox, SandboxConfig};

mod support;
use support::keyring::{connect_through_cli, private_keyring_or_skip};
use support::Tsched;

const HOST: &str = "teams.scheduler@contoso.example";

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_string()
}

fn log_files(data: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(data.join("logs"))
        .map(|r| r.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn a_log_file_appears_under_the_data_dir_after_one_command() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Tsched::new(dir.path()).run(&["programs", "list"]);
    assert!(
        out.status.success(),
        "programs list runs: {}",
        text(&out.stderr)
    );
    assert_eq!(
        text(&out.stderr),
        "",
        "without -v or RUST_LOG the log stays off stderr, so existing output is unchanged"
    );
    let files = log_files(dir.path());
    assert_eq!(files.len(), 1, "one daily log file: {files:?}");
    let name = files[0].file_name().and_then(|n| n.to_str()).unwrap_or("");
    assert!(
        name.starts_with("cli.") && name.ends_with(".log"),
        "the CLI's daily file is cli.YYYY-MM-DD.log: {name}"
    );
    let log = std::fs::read_to_string(&files[0]).expect("read log");
    assert!(log.contains("tsched started"), "the run is logged: {log}");

    let verbose = Tsched::new(dir.path()).run(&["-v", "programs", "list"]);
    assert!(
        text(&verbose.stderr).contains("tsched started"),
        "-v also prints the log on stderr: {}",
        text(&verbose.stderr)
    );
}

#[test]
fn an_unusable_log_folder_warns_once_and_the_command_still_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A regular file where the folder should be: it can never be created, even as root.
    std::fs::write(dir.path().join("logs"), "not a folder").expect("write");
    let out = Tsched::new(dir.path()).run(&["programs", "list"]);
    assert!(
        out.status.success(),
        "no log file must not stop the command: {}",
        text(&out.stderr)
    );
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "exactly one warning line: {err:?}");
    assert!(
        err.contains("warning") && err.contains("logs"),
        "the warning names the log folder: {err}"
    );
}

#[test]
fn a_corrupt_store_still_exports_logs_and_versions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ok = Tsched::new(dir.path()).run(&["programs", "list"]);
    assert!(
        ok.status.success(),
        "a first run leaves a log: {}",
        text(&ok.stderr)
    );
    std::fs::write(tsched_core::paths::db_path(dir.path()), vec![0x42u8; 8192])
        .expect("corrupt the store");
    let bundle = dir.path().join("diag.zip");
    let out =
        Tsched::new(dir.path()).run(&["diagnostics", "export", bundle.to_str().expect("utf-8")]);
    assert!(
        out.status.success(),
        "a broken store is when support needs the bundle most: {}",
        text(&out.stderr)
    );
    assert!(
        text(&out.stderr).contains("could not be opened"),
        "it says the store part is missing: {}",
        text(&out.stderr)
    );
    let files = unzip(&bundle);
    let summary = &files
        .iter()
        .find(|(n, _)| n == "summary.json")
        .expect("summary")
        .1;
    assert!(
        summary.contains("the store could not be opened"),
        "the summary says why: {summary}"
    );
    assert!(
        files.iter().any(|(n, _)| n.starts_with("logs/cli.")),
        "the logs are in it"
    );
}

/// Every file of the zip, decompressed, as (name, text).
fn unzip(path: &Path) -> Vec<(String, String)> {
    let f = std::fs::File::open(path).expect("open bundle");
    let mut z = zip::ZipArchive::new(f).expect("the bundle is a valid zip");
    (0..z.len())
        .map(|i| {
            let mut e = z.by_index(i).expect("entry");
            let name = e.name().expect("entry name").to_string();
            let mut bytes = Vec::new();
            e.read_to_end(&mut bytes).expect("entry reads");
            (name, String::from_utf8_lossy(&bytes).to_string())
        })
        .collect()
}

/// Every (file, what) where a secret or `Authorization` shows up in the bundle.
fn leaks(bundle: &Path, secrets: &[(String, String)]) -> Vec<(String, String)> {
    let mut hits = Vec::new();
    for (name, body) in unzip(bundle) {
        for (kind, value) in secrets {
            if body.contains(value.as_str()) {
                hits.push((
                    name.clone(),
                    format!("{kind} {}…", &value[..value.len().min(12)]),
                ));
            }
        }
        for word in ["Authorization", "Bearer "] {
            if body.contains(word) {
                hits.push((name.clone(), word.to_string()));
            }
        }
    }
    hits
}

fn issued(h: &tsched_sandbox::SandboxHandle) -> Vec<(String, String)> {
    h.issued_secrets()["secrets"]
        .as_array()
        .expect("secrets array")
        .iter()
        .map(|s| {
            (
                s["kind"].as_str().unwrap_or("").to_string(),
                s["value"].as_str().unwrap_or("").to_string(),
            )
        })
        .filter(|(_, v)| v.len() >= 8)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diagnostics_bundle_holds_no_token_the_sandbox_issued() {
    let Some(kr) = private_keyring_or_skip() else {
        return;
    };
    let sandbox = Sandbox::spawn(SandboxConfig {
        auto_consent: true,
        ..Default::default()
    })
    .await
    .expect("sandbox");
    let h = sandbox.handle();
    let scratch = tempfile::tempdir().expect("tempdir");
    let data = scratch.path().join("data");
    connect_through_cli(scratch.path(), &data, &kr, &sandbox).await;

    let cli = Tsched::new(&data).bus(&kr.address);
    // Graph calls that succeed: /me through the refresh token, then a directory look-up.
    let check = cli
        .run_async(&["--as", HOST, "integration", "check", "--json"])
        .await;
    assert!(check.status.success(), "check: {}", text(&check.stderr));
    let member = cli
        .run_async(&[
            "--as",
            HOST,
            "members",
            "check",
            "adele.vance0@contoso.example",
        ])
        .await;
    assert!(
        member.status.success(),
        "members check: {}",
        text(&member.stderr)
    );
    // A failing one: every Graph call answers 5xx.
    h.set_knobs(tsched_sandbox::Knobs {
        fault_rate: 1.0,
        ..h.knobs()
    });
    let failing = cli
        .run_async(&[
            "--as",
            HOST,
            "members",
            "check",
            "--refresh",
            "alex.wilber1@contoso.example",
        ])
        .await;
    h.set_knobs(tsched_sandbox::Knobs {
        fault_rate: 0.0,
        ..h.knobs()
    });
    assert!(
        !failing.status.success(),
        "a Graph failure under fault_rate 1.0: {}",
        text(&failing.stdout)
    );

    let bundle = scratch.path().join("diag.zip");
    let out = cli.run(&[
        "--as",
        HOST,
        "diagnostics",
        "export",
        bundle.to_str().expect("utf-8"),
    ]);
    assert!(out.status.success(), "export: {}", text(&out.stderr));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&bundle)
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "the bundle is readable by its owner only"
        );
    }

    let secrets = issued(h);
    for kind in [
        "code",
        "code_verifier",
        "access_token",
        "refresh_token",
        "id_token",
    ] {
        assert!(
            secrets.iter().any(|(k, _)| k == kind),
            "the sandbox saw a {kind}, so the scan covers it: {:?}",
            secrets.iter().map(|(k, _)| k).collect::<Vec<_>>()
        );
    }
    let files = unzip(&bundle);
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert!(
        names.contains(&"summary.json") && names.contains(&"failures.json"),
        "summary and failures are in the bundle: {names:?}"
    );
    assert!(
        names.iter().any(|n| n.starts_with("logs/cli.")),
        "the CLI's log is in the bundle: {names:?}"
    );
    let summary: serde_json::Value = serde_json::from_str(
        &files
            .iter()
            .find(|(n, _)| n == "summary.json")
            .expect("summary")
            .1,
    )
    .expect("summary is JSON");
    assert_eq!(
        summary["integration"]["tenant_id"],
        h.tenant_id(),
        "the integration's tenant is named: {summary}"
    );
    assert!(
        summary["integration"]["granted_scopes"]
            .as_array()
            .is_some_and(|s| !s.is_empty()),
        "the granted scopes are listed: {summary}"
    );
    let failures = &files
        .iter()
        .find(|(n, _)| n == "failures.json")
        .expect("failures")
        .1;
    assert!(
        failures.contains("graph call failed") && failures.contains("request_id"),
        "the failing Graph call is listed with its request-id: {failures}"
    );
    let logs: String = files
        .iter()
        .filter(|(n, _)| n.starts_with("logs/"))
        .map(|(_, b)| b.as_str())
        .collect();
    assert!(
        logs.contains("graph call") && logs.contains("client_request_id"),
        "each Graph call is logged with its ids: {logs}"
    );

    let hits = leaks(&bundle, &secrets);
    assert!(hits.is_empty(), "the bundle leaks secrets: {hits:?}");

    // Not vacuous: a token planted in a log file is found in the next bundle.
    let (_, planted) = secrets
        .iter()
        .find(|(k, _)| k == "refresh_token")
        .expect("a refresh token was issued");
    let log = log_files(&data)
        .into_iter()
        .find(|p| p.to_string_lossy().contains("cli."))
        .expect("the CLI log");
    let mut text_now = std::fs::read_to_string(&log).expect("read log");
    text_now.push_str(&format!("planted by the test {planted}\n"));
    std::fs::write(&log, text_now).expect("plant");
    let second = scratch.path().join("diag-planted.zip");
    let out = cli.run(&[
        "--as",
        HOST,
        "diagnostics",
        "export",
        second.to_str().expect("utf-8"),
    ]);
    assert!(out.status.success(), "second export: {}", text(&out.stderr));
    let hits = leaks(&second, &secrets);
    assert!(
        hits.iter()
            .any(|(f, what)| f.starts_with("logs/") && what.starts_with("refresh_token")),
        "the scan finds a planted refresh token: {hits:?}"
    );
}
