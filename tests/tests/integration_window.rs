//! Real-window tests of the Integration and Programs pages against an in-process sandbox tenant:
//! connecting through the sandbox's real consent page inside the app's webview, and access
//! levels on meeting-mode toggles before and after the integration is removed.
//!
//! Both keep the host's refresh token in the Secret Service under the same account (the sandbox
//! seed is deterministic), so they run one at a time.

use std::path::Path;
use std::time::{Duration, Instant};

use fantoccini::Locator;
use tsched_e2e::{
    accept_in_webview, ensure_secret_service, find, ok, open_page, recording_browser,
    save_screenshot, tsched_with, wait_for_line, wait_for_text, wait_for_url, App, BoxError,
};
use tsched_sandbox::{Sandbox, SandboxConfig};

/// Connecting in setup mode made the sandbox's host the first global admin; clean-up acts as it.
const AS_HOST: [(&str, &str); 1] = [("TSCHED_OPERATOR", "teams.scheduler@contoso.example")];

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_in_window_through_the_sandbox_consent_page_shows_the_host() -> Result<(), BoxError>
{
    let _serial = SERIAL.lock().await;
    ensure_secret_service()?;
    let sandbox = Sandbox::spawn(SandboxConfig {
        auto_consent: false,
        ..Default::default()
    })
    .await?;
    let h = sandbox.handle().clone();
    // Organization-wide approval already exists (approach 2 done earlier by a global admin), so
    // the host account's own sign-in is enough.
    h.grant_admin_consent(&h.client_id(), None);
    let host = h.host_upn().ok_or("the seed has a host account")?;
    let (base, tenant, client_id) = (sandbox.base_url().to_string(), h.tenant_id(), h.client_id());
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let (script, urls) = recording_browser(dir.path())?;
    let script = script.display().to_string();
    let app = App::launch_with(&data, &[("BROWSER", script.as_str())]).await?;
    let expected_host = host.clone();
    app.run("integration_connect", move |c| async move {
        open_page(&c, "integration", "Integration").await?;
        let app_url = c.current_url().await?.to_string();
        wait_for_text(&c, "#status-state", "Not connected").await?;
        find(&c, "#cloud").await?.select_by_value("sandbox").await?;
        find(&c, "#sandbox-url").await?.send_keys(&base).await?;
        find(&c, "#tenant").await?.send_keys(&tenant).await?;
        find(&c, "#client-id").await?.send_keys(&client_id).await?;
        find(&c, "#connect-host").await?.click().await?;
        let waiting = wait_for_text(&c, "#connect-progress", "Waiting for sign-in").await?;
        assert!(
            waiting.contains("Cancel"),
            "the wait can be cancelled from the window: {waiting}"
        );
        save_screenshot(&c, "integration_waiting").await?;

        let authorize = wait_for_line(&urls, Duration::from_secs(20)).await?;
        assert!(
            authorize.starts_with(&format!("{base}/{tenant}/oauth2/v2.0/authorize?")),
            "the app sent $BROWSER to the sandbox's authorize endpoint: {authorize}"
        );
        // The person's browser, played by the webview: the sandbox's real consent page.
        c.goto(&authorize).await?;
        find(&c, "#account").await?.select_by_value(&host).await?;
        find(&c, "#accept").await?.click().await?;
        wait_for_url(&c, "the app's loopback listener", |u| {
            u.starts_with("http://localhost")
                || (u.starts_with("http://127.0.0.1:") && !u.starts_with(&base))
        })
        .await?;

        // Back to the app: the sign-in finished in the background and was saved.
        let back = format!(
            "{}#/integration",
            app_url.split('#').next().unwrap_or(&app_url)
        );
        c.goto(&back).await?;
        let status = wait_for_text(&c, "#integration-status", &host).await?;
        wait_for_text(&c, "#status-state", "Connected").await?;
        assert!(
            status.contains(&tenant),
            "the status names the tenant: {status}"
        );
        assert!(
            status.contains("OnlineMeetings.ReadWrite"),
            "the granted permissions are listed: {status}"
        );
        assert!(
            !status.contains("Permissions missing"),
            "nothing is missing: {status}"
        );
        wait_for_text(&c, "#session", "Sandbox tenant connected").await?;
        Ok(())
    })
    .await?;
    let state = tsched_with(&data, &[], &["integration", "status", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&state.stdout)?;
    assert_eq!(
        v["host_upn"],
        expected_host.as_str(),
        "the CLI reads what the window saved: {v}"
    );
    let removed = tsched_with(&data, &AS_HOST, &["integration", "remove"]);
    assert!(
        removed.status.success(),
        "clean up the keyring entry: {}",
        String::from_utf8_lossy(&removed.stderr)
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn track_admin_toggles_teams_only_in_own_program_and_removal_makes_teams_unavailable(
) -> Result<(), BoxError> {
    let _serial = SERIAL.lock().await;
    ensure_secret_service()?;
    let sandbox = Sandbox::spawn(SandboxConfig {
        auto_consent: true,
        ..Default::default()
    })
    .await?;
    let h = sandbox.handle().clone();
    let (base, tenant, client_id) = (sandbox.base_url().to_string(), h.tenant_id(), h.client_id());
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let browser = tsched_e2e::approving_browser(dir.path())?;
    let d = data.clone();
    tokio::task::spawn_blocking(move || -> Result<(), BoxError> {
        ok(
            tsched_with(
                &d,
                &[],
                &["programs", "add", "Engineering", "--code", "eng"],
            ),
            "add eng",
        )?;
        ok(
            tsched_with(&d, &[], &["programs", "add", "Operations", "--code", "ops"]),
            "add ops",
        )?;
        tsched_e2e::cli_connect(&d, &base, &tenant, &client_id, &browser)?;
        ok(
            tsched_with(
                &d,
                &[],
                &[
                    "operators",
                    "add",
                    "admin@contoso.example",
                    "--name",
                    "Contoso Admin",
                ],
            ),
            "second operator",
        )?;
        // Connecting made the host the first global admin (the CLI acts as it); it makes the
        // admin a global admin too.
        ok(
            tsched_with(
                &d,
                &[],
                &[
                    "operators",
                    "grant",
                    "admin@contoso.example",
                    "global-admin",
                ],
            ),
            "grant global admin",
        )?;
        let admin = [("TSCHED_OPERATOR", "admin@contoso.example")];
        ok(
            tsched_with(
                &d,
                &admin,
                &[
                    "operators",
                    "add",
                    "ta@contoso.example",
                    "--name",
                    "Tia Track",
                ],
            ),
            "add track admin",
        )?;
        ok(
            tsched_with(
                &d,
                &admin,
                &[
                    "operators",
                    "grant",
                    "ta@contoso.example",
                    "track-admin",
                    "--program",
                    "eng",
                ],
            ),
            "grant track admin",
        )?;
        ok(
            tsched_with(
                &d,
                &admin,
                &[
                    "operators",
                    "grant",
                    "ta@contoso.example",
                    "coordinator",
                    "--program",
                    "ops",
                ],
            ),
            "grant coordinator",
        )?;
        Ok(())
    })
    .await??;

    let app = App::launch_with(&data, &[("TSCHED_OPERATOR", "ta@contoso.example")]).await?;
    app.run("access_track_admin", |c| async move {
        let who = wait_for_text(&c, "#session", "ta@contoso.example").await?;
        assert!(
            who.contains("Track admin of eng"),
            "the header shows the acting operator's roles: {who}"
        );
        wait_for_text(&c, "#programs-table", "Operations").await?;
        find(&c, "button.program-open[data-code=eng]")
            .await?
            .click()
            .await?;
        wait_for_text(&c, "#panel-title", "Engineering").await?;
        let teams = find(&c, "#mode-teams_video").await?;
        assert!(
            teams.is_enabled().await?,
            "a track admin may toggle modes of their own program"
        );
        teams.click().await?;
        wait_for_text(&c, "#mode-teams_video-state", "On").await?;

        find(&c, "button.program-open[data-code=ops]")
            .await?
            .click()
            .await?;
        wait_for_text(&c, "#panel-title", "Operations").await?;
        let other = find(&c, "#mode-teams_video").await?;
        assert!(
            !other.is_enabled().await?,
            "the toggle of a program they only coordinate is disabled"
        );
        let why = wait_for_text(&c, "#modes-denied", "may not change meeting modes").await?;
        assert!(
            why.contains("coordinator of 'ops'"),
            "the reason names the role they hold there: {why}"
        );
        Ok(())
    })
    .await?;
    let shown = tsched_with(
        &data,
        &[("TSCHED_OPERATOR", "admin@contoso.example")],
        &["programs", "show", "eng", "--json"],
    );
    let eng: serde_json::Value = serde_json::from_slice(&shown.stdout)?;
    assert!(
        eng["enabled_modes"]
            .as_array()
            .is_some_and(|m| m.iter().any(|x| x == "teams_video")),
        "the window's toggle reached the store: {eng}"
    );

    let app = App::launch_with(&data, &[("TSCHED_OPERATOR", "admin@contoso.example")]).await?;
    app.run("access_integration_removed", |c| async move {
        wait_for_text(&c, "#session", "Global admin").await?;
        open_page(&c, "integration", "Integration").await?;
        wait_for_text(&c, "#status-state", "Connected").await?;
        find(&c, "#integration-remove").await?.click().await?;
        find(&c, "#remove-confirm-yes").await?.click().await?;
        let help = wait_for_text(&c, "#revoke-help", "Entra").await?;
        assert!(
            help.contains("Enterprise applications"),
            "removal shows where to revoke consent: {help}"
        );
        wait_for_text(&c, "#status-state", "Not connected").await?;
        open_page(&c, "programs", "Programs").await?;
        wait_for_text(&c, "#programs-table", "Engineering").await?;
        find(&c, "button.program-open[data-code=eng]")
            .await?
            .click()
            .await?;
        let state = wait_for_text(
            &c,
            "#mode-teams_video-state",
            "unavailable: integration removed",
        )
        .await?;
        assert!(!state.is_empty(), "Teams shows why it is unavailable");
        let chip = find(&c, "#programs-table tr[data-code=eng]")
            .await?
            .text()
            .await?;
        assert!(
            chip.contains("unavailable"),
            "the list marks Teams unavailable too: {chip}"
        );
        let _ = c.find(Locator::Css("#mode-teams_video")).await?;
        Ok(())
    })
    .await?;
    drop(sandbox);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explore_with_the_sandbox_tenant_connects_to_the_embedded_emulator() -> Result<(), BoxError>
{
    let _serial = SERIAL.lock().await;
    ensure_secret_service()?;
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    // The person's browser: follows the authorize URL (the embedded sandbox approves at once)
    // to the app's loopback listener.
    let browser = tsched_e2e::approving_browser(dir.path())?;
    let app = App::launch_with(&data, &[("BROWSER", browser.as_str())]).await?;
    app.run("integration_sandbox_explore", |c| async move {
        open_page(&c, "integration", "Integration").await?;
        let note = find(&c, "#sandbox-title").await?.text().await?;
        assert!(!note.is_empty(), "the sandbox card is shown");
        find(&c, "#sandbox-explore").await?.click().await?;
        let status =
            wait_for_text(&c, "#integration-status", "teams.scheduler@contoso.example").await?;
        assert!(
            status.contains("(sandbox)"),
            "the status says it is the sandbox cloud: {status}"
        );
        wait_for_text(&c, "#status-state", "Connected").await?;
        let cloud = find(&c, "#cloud")
            .await?
            .prop("value")
            .await?
            .unwrap_or_default();
        assert_eq!(cloud, "sandbox", "the form shows what it connected to");
        // Exploring also fills the empty store with the demo programs (tsched_core::demo).
        wait_for_text(
            &c,
            "#connect-progress",
            "4 demo programs and 16 participants",
        )
        .await?;
        open_page(&c, "programs", "Programs").await?;
        wait_for_text(&c, "#programs-table", "Engineering Mentoring").await?;
        Ok(())
    })
    .await?;
    let removed = tsched_with(&data, &AS_HOST, &["integration", "remove"]);
    ok(removed, "clean up the keyring entry").map(drop)
}

/// Waits until `file` has at least `n` non-empty lines and returns the `n`th.
async fn nth_line(file: &Path, n: usize) -> Result<String, BoxError> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        if let Some(line) = text.lines().filter(|l| !l.trim().is_empty()).nth(n - 1) {
            return Ok(line.trim().to_string());
        }
        if Instant::now() > deadline {
            return Err(format!("{} never got line {n}: {text:?}", file.display()).into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organization_wide_approval_then_host_sign_in_connects_in_window() -> Result<(), BoxError> {
    let _serial = SERIAL.lock().await;
    ensure_secret_service()?;
    // No approval yet: the global admin grants it on the admin-consent page first.
    let sandbox = Sandbox::spawn(SandboxConfig {
        auto_consent: false,
        ..Default::default()
    })
    .await?;
    let h = sandbox.handle().clone();
    let host = h.host_upn().ok_or("the seed has a host account")?;
    let admin = h.admin_upn().ok_or("the seed has a global admin")?;
    let (base, tenant, client_id) = (sandbox.base_url().to_string(), h.tenant_id(), h.client_id());
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let (script, urls) = recording_browser(dir.path())?;
    let script = script.display().to_string();
    let app = App::launch_with(&data, &[("BROWSER", script.as_str())]).await?;
    let expected_host = host.clone();
    app.run("integration_admin_consent", move |c| async move {
        open_page(&c, "integration", "Integration").await?;
        let app_url = c.current_url().await?.to_string();
        find(&c, "#cloud").await?.select_by_value("sandbox").await?;
        find(&c, "#sandbox-url").await?.send_keys(&base).await?;
        find(&c, "#tenant").await?.send_keys(&tenant).await?;
        find(&c, "#client-id").await?.send_keys(&client_id).await?;
        // The address to hand to an admin elsewhere is the same admin-consent endpoint.
        find(&c, "#copy-consent-url").await?.click().await?;
        let copy = find(&c, "#consent-url")
            .await?
            .prop("value")
            .await?
            .unwrap_or_default();
        assert!(
            copy.starts_with(&format!("{base}/{tenant}/v2.0/adminconsent?"))
                && copy.contains(&client_id),
            "the approval address names the tenant and the app: {copy}"
        );
        find(&c, "#connect-admin").await?.click().await?;
        wait_for_text(&c, "#connect-progress", "global admin to approve").await?;

        let consent = nth_line(&urls, 1).await?;
        assert!(
            consent.contains("/v2.0/adminconsent?"),
            "step 1 is the admin-consent page: {consent}"
        );
        accept_in_webview(&c, &base, &consent, &admin).await?;
        let authorize = nth_line(&urls, 2).await?;
        assert!(
            authorize.contains("/oauth2/v2.0/authorize?"),
            "step 2 is the host's sign-in: {authorize}"
        );
        accept_in_webview(&c, &base, &authorize, &host).await?;

        c.goto(&format!(
            "{}#/integration",
            app_url.split('#').next().unwrap_or(&app_url)
        ))
        .await?;
        wait_for_text(&c, "#integration-status", &host).await?;
        wait_for_text(&c, "#status-state", "Connected").await?;
        Ok(())
    })
    .await?;
    assert!(
        h.request_log().to_string().contains("adminconsent"),
        "the admin-consent endpoint was used"
    );
    let state = tsched_with(&data, &[], &["integration", "status", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&state.stdout)?;
    assert_eq!(
        v["host_upn"],
        expected_host.as_str(),
        "connected as the host after the approval: {v}"
    );
    ok(
        tsched_with(&data, &AS_HOST, &["integration", "remove"]),
        "clean up the keyring entry",
    )
    .map(drop)
}
