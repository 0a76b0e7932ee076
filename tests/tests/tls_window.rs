//! The desktop app against a sandbox served over HTTPS (`tsched-sandbox --tls`, issue 21): the
//! app's identity and Graph client trusts the sandbox's CA from `TSCHED_CA_FILE` (verification
//! stays on) and connects from the Integration page. The person's browser is a python3 script
//! that trusts the same CA and follows the authorize URL to the app's loopback (auto-consent):
//! the webview cannot play it here, since it trusts only the system's roots.

use fantoccini::Locator;
use tsched_e2e::{
    ensure_secret_service, find, open_page, tsched_with, wait_for_text, App, BoxError,
};
use tsched_sandbox::{Sandbox, SandboxConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_connects_to_a_tls_sandbox_when_its_ca_is_trusted() -> Result<(), BoxError> {
    ensure_secret_service()?;
    let sandbox = Sandbox::spawn(SandboxConfig {
        auto_consent: true,
        tls: true,
        ..Default::default()
    })
    .await?;
    let h = sandbox.handle().clone();
    let host = h.host_upn().ok_or("the seed has a host account")?;
    let ca = sandbox
        .ca_file()
        .ok_or("a TLS sandbox writes its CA")?
        .display()
        .to_string();
    let (base, tenant, client_id) = (sandbox.base_url().to_string(), h.tenant_id(), h.client_id());
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let script = dir.path().join("follow.py");
    std::fs::write(
        &script,
        format!(
            "import ssl, sys, urllib.request\n\
             ctx = ssl.create_default_context(cafile={ca:?})\n\
             urllib.request.urlopen(sys.argv[1], timeout=20, context=ctx).read()\n"
        ),
    )?;
    let browser = format!("python3 {}", script.display());
    let app = App::launch_with(
        &data,
        &[
            ("BROWSER", browser.as_str()),
            ("TSCHED_CA_FILE", ca.as_str()),
        ],
    )
    .await?;
    let expected = host.clone();
    app.run("tls_connect", move |c| async move {
        open_page(&c, "integration", "Integration").await?;
        wait_for_text(&c, "#status-state", "Not connected").await?;
        find(&c, "#cloud").await?.select_by_value("sandbox").await?;
        find(&c, "#sandbox-url").await?.send_keys(&base).await?;
        find(&c, "#tenant").await?.send_keys(&tenant).await?;
        find(&c, "#client-id").await?.send_keys(&client_id).await?;
        find(&c, "#connect-host").await?.click().await?;
        wait_for_text(&c, "#status-state", "Connected").await?;
        let status = c
            .find(Locator::Css("#integration-status"))
            .await?
            .text()
            .await?;
        assert!(
            status.contains(&expected),
            "the host read over TLS from Graph /me: {status}"
        );
        Ok(())
    })
    .await?;
    assert_eq!(
        h.request_count("POST /{tenant}/oauth2/v2.0/token", 200),
        1,
        "the app redeemed the code over TLS"
    );
    let removed = tsched_with(
        &data,
        &[
            ("TSCHED_OPERATOR", host.as_str()),
            ("TSCHED_CA_FILE", ca.as_str()),
        ],
        &["integration", "remove"],
    );
    assert!(
        removed.status.success(),
        "clean up the keyring entry: {}",
        String::from_utf8_lossy(&removed.stderr)
    );
    Ok(())
}
