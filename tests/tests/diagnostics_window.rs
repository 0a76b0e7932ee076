//! The window's side of logs and diagnostics: one window session leaves the app's daily log
//! under `<data dir>/logs`, and the Integration page's "Export diagnostics" button saves a bundle
//! (into the export folder) that names the app and WebKitGTK versions, carries the app's log and
//! holds none of the secrets the sandbox issued or received, nor an `Authorization` header.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use tsched_e2e::{
    approving_browser, cli_connect, ensure_secret_service, find, open_page, tsched_with,
    wait_for_text, App, BoxError,
};
use tsched_sandbox::{Sandbox, SandboxConfig};

const HOST: &str = "teams.scheduler@contoso.example";

fn unzip(path: &Path) -> Result<Vec<(String, String)>, BoxError> {
    let mut z = zip::ZipArchive::new(std::fs::File::open(path)?)?;
    let mut out = Vec::new();
    for i in 0..z.len() {
        let mut e = z.by_index(i)?;
        let name = e.name()?.to_string();
        let mut bytes = Vec::new();
        e.read_to_end(&mut bytes)?;
        out.push((name, String::from_utf8_lossy(&bytes).to_string()));
    }
    Ok(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn window_session_logs_and_its_diagnostics_button_saves_a_clean_bundle(
) -> Result<(), BoxError> {
    ensure_secret_service()?;
    let sandbox = Sandbox::spawn(SandboxConfig {
        auto_consent: true,
        ..Default::default()
    })
    .await?;
    let h = sandbox.handle().clone();
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let browser = approving_browser(dir.path())?;
    cli_connect(
        &data,
        sandbox.base_url(),
        &h.tenant_id(),
        &h.client_id(),
        &browser,
    )?;
    let exports = dir.path().join("exports");
    let export_dir = exports.display().to_string();
    let app = App::launch_with(
        &data,
        &[
            ("TSCHED_OPERATOR", HOST),
            ("TSCHED_EXPORT_DIR", &export_dir),
        ],
    )
    .await?;
    let saved: String = app
        .run("diagnostics_export", move |c| async move {
            open_page(&c, "integration", "Integration").await?;
            wait_for_text(&c, "#status-state", "Connected").await?;
            find(&c, "#diagnostics-export").await?.click().await?;
            let said = wait_for_text(&c, "#diagnostics-result", "Saved to").await?;
            Ok(said.trim_start_matches("Saved to").trim().to_string())
        })
        .await?;

    let logs: Vec<PathBuf> = std::fs::read_dir(data.join("logs"))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    assert!(
        logs.iter().any(|p| p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("app.") && n.ends_with(".log"))),
        "one window session leaves the app's daily log under <data dir>/logs: {logs:?}"
    );

    let bundle = PathBuf::from(&saved);
    assert!(
        bundle.starts_with(&exports) && bundle.is_file(),
        "the button saved the bundle into the export folder: {saved}"
    );
    let files = unzip(&bundle)?;
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert!(
        names.iter().any(|n| n.starts_with("logs/app.")),
        "the app's log is in the bundle: {names:?}"
    );
    let summary: serde_json::Value = serde_json::from_str(
        &files
            .iter()
            .find(|(n, _)| n == "summary.json")
            .ok_or("summary.json")?
            .1,
    )?;
    assert_eq!(
        summary["front_end"], "app",
        "the window's bundle says so: {summary}"
    );
    assert!(
        summary["webkitgtk_version"]
            .as_str()
            .is_some_and(|v| v.starts_with('2')),
        "the window names its WebKitGTK version: {summary}"
    );
    assert_eq!(
        summary["integration"]["tenant_id"],
        h.tenant_id(),
        "the integration's tenant is named: {summary}"
    );

    let secrets: Vec<(String, String)> = h.issued_secrets()["secrets"]
        .as_array()
        .ok_or("secrets")?
        .iter()
        .map(|s| {
            (
                s["kind"].as_str().unwrap_or("").to_string(),
                s["value"].as_str().unwrap_or("").to_string(),
            )
        })
        .filter(|(_, v)| v.len() >= 8)
        .collect();
    assert!(
        secrets.iter().any(|(k, _)| k == "refresh_token"),
        "the sandbox issued tokens, so the scan covers them: {}",
        secrets.len()
    );
    let mut hits = Vec::new();
    for (name, body) in &files {
        for (kind, value) in &secrets {
            if body.contains(value.as_str()) {
                hits.push(format!("{name}: {kind}"));
            }
        }
        for word in ["Authorization", "Bearer "] {
            if body.contains(word) {
                hits.push(format!("{name}: {word}"));
            }
        }
    }
    assert!(hits.is_empty(), "the window's bundle leaks: {hits:?}");

    tsched_with(
        &data,
        &[("TSCHED_OPERATOR", HOST)],
        &["integration", "remove"],
    );
    Ok(())
}
