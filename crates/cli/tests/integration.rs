//! `tsched integration …` end to end: the real binary, a sandbox on 127.0.0.1:0, and `$BROWSER`
//! set to a tiny python3 script that follows the authorize URL to the loopback (auto-consent).
//! With `TSCHED_TEST_SECRET_SERVICE=1` (inside an unlocked Secret Service session) the connect
//! succeeds and is removed again; otherwise the keyring is made unreachable and the test pins
//! that the whole browser flow runs and then fails cleanly, saving nothing.

use tsched_sandbox::{Sandbox, SandboxConfig};

mod support;
use support::{in_secret_service_session, Tsched};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_through_browser_variable_then_status_and_remove() {
    let sandbox = Sandbox::spawn(SandboxConfig {
        auto_consent: true,
        ..Default::default()
    })
    .await
    .expect("sandbox");
    let h = sandbox.handle();
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("follow.py");
    std::fs::write(
        &script,
        "import sys, urllib.request\nurllib.request.urlopen(sys.argv[1], timeout=20).read()\n",
    )
    .expect("script");
    let browser = format!("python3 {}", script.display());
    let real = in_secret_service_session();
    let cli = Tsched::new(dir.path().join("data"))
        .browser(&browser)
        .session_bus(real);
    let out = cli
        .run_async(&[
            "integration",
            "connect",
            "--tenant",
            &h.tenant_id(),
            "--client-id",
            &h.client_id(),
            "--sandbox",
            sandbox.base_url(),
            "--timeout",
            "30",
        ])
        .await;
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let log = h.request_log().to_string();
    assert!(
        log.contains("/oauth2/v2.0/token"),
        "the browser reached the loopback and the code was redeemed: {stderr}"
    );
    if real {
        assert!(
            out.status.success(),
            "connect succeeds with the Secret Service: {stderr}"
        );
        let status = cli.run_async(&["integration", "status", "--json"]).await;
        let json: serde_json::Value = serde_json::from_slice(&status.stdout).expect("status JSON");
        assert_eq!(json["state"], "connected", "status after connect: {json}");
        let rm = cli
            .run_async(&[
                "--as",
                "teams.scheduler@contoso.example",
                "integration",
                "remove",
            ])
            .await;
        assert!(
            rm.status.success(),
            "remove succeeds: {}",
            String::from_utf8_lossy(&rm.stderr)
        );
        assert!(
            String::from_utf8_lossy(&rm.stdout).contains("Enterprise applications"),
            "remove says where to revoke"
        );
    } else {
        assert_eq!(
            out.status.code(),
            Some(10),
            "keyring unavailable exits 10: {stderr}"
        );
        assert!(
            stderr.contains("tsched: error: the OS keyring is unavailable"),
            "one clear line: {stderr}"
        );
        let status = cli.run_async(&["integration", "status", "--json"]).await;
        let json: serde_json::Value = serde_json::from_slice(&status.stdout).expect("status JSON");
        assert_eq!(
            json["state"], "not_connected",
            "nothing half-saved without the keyring: {json}"
        );
    }
}

#[test]
fn consent_url_refuses_common_and_prints_the_documented_address() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cli = Tsched::new(dir.path()).browser("true");
    let bad = cli.run(&[
        "integration",
        "consent-url",
        "--tenant",
        "common",
        "--client-id",
        "7d3c9a2e-1b4f-4e6a-9c8d-2f5e7a1b3c4d",
    ]);
    assert_eq!(bad.status.code(), Some(3), "common is invalid input");
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("'common' is not allowed"),
        "explains why"
    );
    let ok = cli.run(&[
        "integration",
        "consent-url",
        "--tenant",
        "contoso.onmicrosoft.com",
        "--client-id",
        "7d3c9a2e-1b4f-4e6a-9c8d-2f5e7a1b3c4d",
    ]);
    let url = String::from_utf8_lossy(&ok.stdout).to_string();
    assert!(url.starts_with("https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0/adminconsent?client_id="), "{url}");
}

/// `$BROWSER` entries may place the URL with `%s` (the webbrowser crate's convention, shared with
/// Python's webbrowser and xdg-open): the URL must land there once, not be appended as well.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_variable_with_percent_s_gets_the_url_in_its_place() {
    let sandbox = Sandbox::spawn(SandboxConfig {
        auto_consent: true,
        ..Default::default()
    })
    .await
    .expect("sandbox");
    let h = sandbox.handle();
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("follow-arg.py");
    let argv_log = dir.path().join("argv.txt");
    std::fs::write(
        &script,
        format!(
            "import sys, urllib.request\nopen({:?}, 'w').write('\\n'.join(sys.argv[1:]))\n\
             urllib.request.urlopen(sys.argv[1].removeprefix('--url='), timeout=20).read()\n",
            argv_log.display().to_string()
        ),
    )
    .expect("script");
    let browser = format!("python3 {} --url=%s", script.display());
    let out = Tsched::new(dir.path().join("data"))
        .browser(&browser)
        .run_async(&[
            "integration",
            "connect",
            "--tenant",
            &h.tenant_id(),
            "--client-id",
            &h.client_id(),
            "--sandbox",
            sandbox.base_url(),
            "--timeout",
            "30",
        ])
        .await;
    let argv = std::fs::read_to_string(&argv_log).unwrap_or_default();
    let args: Vec<&str> = argv.lines().collect();
    assert_eq!(
        args.len(),
        1,
        "one argument, the URL in place of %s, nothing appended: {argv:?}"
    );
    assert!(
        args[0].starts_with("--url=http") && args[0].contains("/oauth2/v2.0/authorize?"),
        "the authorize URL replaced %s: {argv:?}"
    );
    assert!(
        h.request_log().to_string().contains("/oauth2/v2.0/token"),
        "the browser reached the loopback and the code was redeemed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
