//! `tsched` against a sandbox served over HTTPS (`tsched-sandbox --tls`, issue 21): the client
//! trusts the sandbox's CA from `--ca-file` / `TSCHED_CA_FILE` and never turns verification off.
//! The browser is a python3 script that trusts the same CA and follows the authorize URL to the
//! loopback (auto-consent). As in tests/integration.rs, the keyring is unreachable unless
//! `TSCHED_TEST_SECRET_SERVICE=1`, so a successful connect then ends at the keyring (exit 10)
//! after the code was redeemed over TLS.

use std::path::Path;
use std::process::Output;

use tsched_sandbox::{RunningSandbox, Sandbox, SandboxConfig};

mod support;
use support::{in_secret_service_session, Tsched};

/// `tsched` on `data` with `$BROWSER`; the session's keyring only inside `make test`'s.
fn tsched(data: &Path, browser: &str) -> Tsched {
    Tsched::new(data)
        .browser(browser)
        .session_bus(in_secret_service_session())
}

async fn tls_sandbox() -> RunningSandbox {
    Sandbox::spawn(SandboxConfig {
        auto_consent: true,
        tls: true,
        ..Default::default()
    })
    .await
    .expect("a TLS sandbox starts")
}

/// A `$BROWSER` that trusts the sandbox CA and follows the authorize URL to the loopback.
fn browser_script(dir: &Path, ca: &Path) -> String {
    let script = dir.join("follow.py");
    std::fs::write(
        &script,
        format!(
            "import ssl, sys, urllib.request\n\
             ctx = ssl.create_default_context(cafile={ca:?})\n\
             urllib.request.urlopen(sys.argv[1], timeout=20, context=ctx).read()\n",
            ca = ca.display().to_string()
        ),
    )
    .expect("script");
    format!("python3 {}", script.display())
}

async fn connect(sb: &RunningSandbox, dir: &Path, ca: Option<&Path>) -> Output {
    let h = sb.handle();
    let browser = browser_script(dir, sb.ca_file().expect("CA file"));
    let cli = tsched(&dir.join("data"), &browser);
    let cli = match ca {
        Some(ca) => cli.ca_file(ca),
        None => cli,
    };
    cli.run_async(&[
        "integration",
        "connect",
        "--tenant",
        &h.tenant_id(),
        "--client-id",
        &h.client_id(),
        "--sandbox",
        sb.base_url(),
        "--timeout",
        "30",
    ])
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_over_tls_redeems_the_code_when_the_sandbox_ca_is_trusted() {
    let sb = tls_sandbox().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = sb.ca_file().expect("CA").to_owned();
    let out = connect(&sb, dir.path(), Some(&ca)).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        sb.handle()
            .request_count("POST /{tenant}/oauth2/v2.0/token", 200),
        1,
        "tsched redeemed the code over TLS, trusting the CA from TSCHED_CA_FILE: {stderr}"
    );
    if in_secret_service_session() {
        assert!(out.status.success(), "connect succeeds: {stderr}");
        // Later runs reach identity and Graph over TLS with the same CA.
        let status = tsched(&dir.path().join("data"), "true")
            .ca_file(&ca)
            .run_async(&["integration", "check", "--json"])
            .await;
        let json: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap_or_else(|_| {
            panic!(
                "check answers JSON: {}",
                String::from_utf8_lossy(&status.stderr)
            )
        });
        assert_eq!(json["state"], "connected", "check over TLS: {json}");
    } else {
        assert_eq!(
            out.status.code(),
            Some(10),
            "past TLS, only the keyring is missing here: {stderr}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_over_tls_without_the_ca_refuses_the_certificate_and_sends_no_code() {
    let sb = tls_sandbox().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let out = connect(&sb, dir.path(), None).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "an untrusted certificate must fail the connect: {stderr}"
    );
    assert_eq!(
        sb.handle()
            .request_count("POST /{tenant}/oauth2/v2.0/token", 200),
        0,
        "no code reaches a server whose certificate is not trusted: {stderr}"
    );
    assert_eq!(
        stderr
            .lines()
            .filter(|l| l.starts_with("tsched: error:"))
            .count(),
        1,
        "one clear error line: {stderr}"
    );
    assert!(
        stderr.contains("invalid peer certificate"),
        "the error says the certificate is not trusted: {stderr}"
    );
    assert_eq!(
        out.status.code(),
        Some(11),
        "a network-kind failure: {stderr}"
    );
}

#[test]
fn a_ca_file_that_is_not_a_certificate_is_a_located_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("ca.pem");
    std::fs::write(&bad, "hello\n").expect("write");
    let out = tsched(&dir.path().join("data"), "true").run(&[
        "--ca-file",
        bad.to_str().expect("utf-8 path"),
        "integration",
        "status",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "bad input exits 3: {stderr}");
    assert!(
        stderr.contains("ca.pem") && stderr.contains("no PEM certificate"),
        "the error names the file and what is wrong: {stderr}"
    );
}
