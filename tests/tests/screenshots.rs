//! README screenshots, taken from the real window so they never go stale.
//! Run with `make screenshots` (ignored in the normal suite: it writes into `docs/screenshots/`).
//!
//! It walks the first run as a new person would: the welcome page of a fresh data directory,
//! then "Explore with the sandbox tenant" (the embedded sandbox with its demo programs), and
//! shoots every page with that real data: a membership diagnosis, a meeting created through the
//! form and the example batch (`docs/examples/batch-example.csv`) run through the Batches page.

use std::path::Path;
use std::time::Duration;

use fantoccini::Client;
use tsched_e2e::{
    ensure_secret_service, find, tsched, wait_for_text, workspace_root, App, BoxError,
};

/// Saves the window as `docs/screenshots/{name}.png`, after `css` (if any) is scrolled to the
/// top of the view with a little of what is above it (the card's title).
async fn shot(c: &Client, out: &Path, name: &str, css: Option<&str>) -> Result<(), BoxError> {
    if let Some(css) = css {
        find(c, css).await?;
        c.execute(
            &format!(
                "document.querySelector({css:?}).scrollIntoView({{ block: 'start' }}); \
                 window.scrollBy(0, -70);"
            ),
            vec![],
        )
        .await?;
    }
    // Let fonts and the last layout settle.
    tokio::time::sleep(Duration::from_millis(400)).await;
    std::fs::write(out.join(format!("{name}.png")), c.screenshot().await?)?;
    Ok(())
}

async fn open_page(c: &Client, page: &str, title: &str) -> Result<(), BoxError> {
    find(c, &format!(".sidebar a[data-page={page}]"))
        .await?
        .click()
        .await?;
    wait_for_text(c, "main h1", title).await?;
    Ok(())
}

/// Replaces a field's value.
async fn fill(c: &Client, css: &str, value: &str) -> Result<(), BoxError> {
    let el = find(c, css).await?;
    el.clear().await?;
    el.send_keys(value).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes docs/screenshots; run through `make screenshots`"]
async fn readme_screenshots() -> Result<(), BoxError> {
    ensure_secret_service()?;
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    // The person's browser: follows the embedded sandbox's authorize URL to the app's loopback.
    let browser = tsched_e2e::approving_browser(dir.path())?;
    let batch_csv = workspace_root()
        .join("docs/examples/batch-example.csv")
        .display()
        .to_string();
    let app = App::launch_with(&data, &[("BROWSER", browser.as_str())]).await?;
    let out = workspace_root().join("docs/screenshots");
    std::fs::create_dir_all(&out)?;
    app.run("readme_screenshots", move |c| async move {
        wait_for_text(&c, "main h1", "Welcome").await?;
        shot(&c, &out, "welcome", None).await?;

        find(&c, "#welcome-explore").await?.click().await?;
        wait_for_text(&c, "#programs-table", "Design Circle").await?;
        shot(&c, &out, "programs", None).await?;

        open_page(&c, "integration", "Integration").await?;
        wait_for_text(&c, "#status-state", "Connected").await?;
        shot(&c, &out, "integration", None).await?;

        // The trail right after exploring: the connection and the demo programs, as audited.
        open_page(&c, "audit", "Audit").await?;
        wait_for_text(&c, "#audit-table", "demo.prefill").await?;
        shot(&c, &out, "audit", None).await?;

        open_page(&c, "members", "Members").await?;
        fill(&c, "#member-address", "zoe0@fabrikam.com").await?;
        find(&c, "#member-program")
            .await?
            .select_by_value("leaders")
            .await?;
        find(&c, "#member-check").await?.click().await?;
        wait_for_text(&c, "#member-class", "Guest").await?;
        find(&c, "#member-diagnose").await?.click().await?;
        wait_for_text(&c, "#diagnosis-verdict", "No").await?;
        shot(&c, &out, "members", Some("#member-result")).await?;

        open_page(&c, "meetings", "Meetings").await?;
        find(&c, "#meeting-program")
            .await?
            .select_by_value("eng")
            .await?;
        fill(&c, "#meeting-subject", "Mentoring: first session").await?;
        fill(&c, "#meeting-start", "2027-03-15 09:30").await?;
        fill(&c, "#meeting-duration", "45m").await?;
        fill(&c, "#meeting-tz", "Europe/Amsterdam").await?;
        fill(
            &c,
            "#meeting-participants",
            // WebDriver's Enter key (U+E007): a plain "\n" is dropped by WebKitWebDriver.
            "adele.vance0@contoso.example\u{E007}zoe.odegard1@contoso.example",
        )
        .await?;
        find(&c, "#meeting-create").await?.click().await?;
        wait_for_text(&c, "#meeting-status", "Created").await?;
        wait_for_text(&c, "#meeting-detail-title", "Mentoring: first session").await?;
        shot(&c, &out, "meetings", Some("#meetings-list")).await?;

        open_page(&c, "batches", "Batches").await?;
        find(&c, "#batch-file").await?.send_keys(&batch_csv).await?;
        // Row 4 of the example has no time zone (its start carries an offset).
        fill(&c, "#batch-tz", "Europe/Berlin").await?;
        find(&c, "#batch-validate").await?.click().await?;
        wait_for_text(&c, "#batch-summary", "4 ready").await?;
        find(&c, "#batch-run").await?.click().await?;
        wait_for_text(&c, "#batch-progress-text", "Finished").await?;
        wait_for_text(&c, "#batch-history-table", "completed").await?;
        shot(&c, &out, "batches", Some("#batch-rows")).await?;

        Ok(())
    })
    .await?;
    // Connecting made the host the first global admin: it removes the integration.
    let removed = tsched(
        &data,
        &[
            "--as",
            "teams.scheduler@contoso.example",
            "integration",
            "remove",
        ],
    );
    assert!(
        removed.status.success(),
        "clean up the keyring entry: {}",
        String::from_utf8_lossy(&removed.stderr)
    );
    Ok(())
}
