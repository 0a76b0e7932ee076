//! Real-window test of operator sign-in from the header, against a sandbox tenant over HTTP:
//! connecting the integration in setup mode makes the host the first global admin (the window
//! then acts as it); after a restart the window is signed out, an operator signs in through the
//! sandbox's real sign-in page (played by the webview), acts with their roles, and signs out.

use tsched_e2e::{
    accept_in_webview, ensure_secret_service, find, ok, open_page, recording_browser, tsched_with,
    wait_for_line, wait_for_text, App, BoxError,
};
use tsched_sandbox::{Sandbox, SandboxConfig};

const HOST: &str = "teams.scheduler@contoso.example";
const ADMIN: &str = "admin@contoso.example";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_connect_ends_setup_mode_then_an_operator_signs_in_and_out_from_the_header(
) -> Result<(), BoxError> {
    ensure_secret_service()?;
    let sandbox = Sandbox::spawn(SandboxConfig {
        auto_consent: false,
        ..Default::default()
    })
    .await?;
    let h = sandbox.handle().clone();
    // Organization-wide approval exists, so any member may sign in.
    h.grant_admin_consent(&h.client_id(), None);
    let (base, tenant, client_id) = (sandbox.base_url().to_string(), h.tenant_id(), h.client_id());
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let (script, urls) = recording_browser(dir.path())?;
    let script = script.display().to_string();

    // 1. Setup mode: the header says so; connecting as the host ends it and the window acts
    //    as the host.
    let app = App::launch_with(&data, &[("BROWSER", script.as_str())]).await?;
    let (b, t, cid, u) = (
        base.clone(),
        tenant.clone(),
        client_id.clone(),
        urls.clone(),
    );
    app.run("signin_host_connect", move |c| async move {
        wait_for_text(&c, "#session", "Setup mode").await?;
        open_page(&c, "integration", "Integration").await?;
        let app_url = c.current_url().await?.to_string();
        find(&c, "#cloud").await?.select_by_value("sandbox").await?;
        find(&c, "#sandbox-url").await?.send_keys(&b).await?;
        find(&c, "#tenant").await?.send_keys(&t).await?;
        find(&c, "#client-id").await?.send_keys(&cid).await?;
        find(&c, "#connect-host").await?.click().await?;
        let authorize = wait_for_line(&u, std::time::Duration::from_secs(20)).await?;
        accept_in_webview(&c, &b, &authorize, HOST).await?;
        c.goto(&app_url).await?;
        let header = wait_for_text(&c, "#acting", HOST).await?;
        assert!(!header.contains("Setup mode"), "setup mode ended: {header}");
        wait_for_text(&c, "#acting", "Global admin").await?;
        find(&c, "#sign-out").await?;
        Ok(())
    })
    .await?;
    std::fs::remove_file(&urls)?;

    // The host (global admin) adds an operator from the command line.
    let host = [("TSCHED_OPERATOR", HOST)];
    ok(
        tsched_with(
            &data,
            &host,
            &["operators", "add", ADMIN, "--name", "Contoso Admin"],
        ),
        "add operator",
    )?;
    ok(
        tsched_with(&data, &host, &["operators", "grant", ADMIN, "global-admin"]),
        "grant",
    )?;

    // 2. A new window starts signed out; the operator signs in through the sandbox page.
    let app = App::launch_with(&data, &[("BROWSER", script.as_str())]).await?;
    let (b, u) = (base.clone(), urls.clone());
    app.run("signin_operator", move |c| async move {
        wait_for_text(&c, "#acting", "Not signed in").await?;
        let app_url = c.current_url().await?.to_string();
        find(&c, "#sign-in").await?.click().await?;
        wait_for_text(&c, "#sign-in-progress", "Waiting for your sign-in").await?;
        let authorize = wait_for_line(&u, std::time::Duration::from_secs(20)).await?;
        assert!(
            authorize.contains("User.Read") && !authorize.contains("OnlineMeetings"),
            "the operator sign-in asks only who they are: {authorize}"
        );
        accept_in_webview(&c, &b, &authorize, ADMIN).await?;
        c.goto(&app_url).await?;
        wait_for_text(&c, "#acting", ADMIN).await?;
        wait_for_text(&c, "#acting", "Global admin").await?;
        // Acting as them: the Operators page lists the roster.
        open_page(&c, "operators", "Operators").await?;
        wait_for_text(&c, "main", HOST).await?;
        find(&c, "#sign-out").await?.click().await?;
        wait_for_text(&c, "#acting", "Not signed in").await?;
        find(&c, "#sign-in").await?;
        Ok(())
    })
    .await?;

    let audit = ok(tsched_with(&data, &host, &["audit", "--json"]), "audit")?;
    let rows: serde_json::Value = serde_json::from_slice(&audit.stdout)?;
    let bootstrap: Vec<_> = rows
        .as_array()
        .ok_or("audit rows")?
        .iter()
        .filter(|r| r["action"] == "operator.bootstrap")
        .map(|r| r["operator"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(bootstrap, vec![HOST.to_string()], "bootstrap audited once");
    ok(
        tsched_with(&data, &host, &["integration", "remove"]),
        "clean up the keyring entry",
    )?;
    Ok(())
}
