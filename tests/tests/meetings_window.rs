//! Real-window tests of the Members and Meetings pages against an in-process sandbox tenant:
//! support staff look up a member and a guest and see the right class; a coordinator creates a
//! Teams meeting, sees it listed with its join link, cancels it after confirming, and the CLI and
//! the sandbox agree that it is cancelled and gone upstream.
//!
//! The host's refresh token lives in the Secret Service under the same account as in the other
//! window suites (the sandbox seed is deterministic), so the tests here run one at a time.

use std::path::Path;

use fantoccini::Client;
use tsched_e2e::{
    ensure_secret_service, find, ok, open_page, save_screenshot, tsched_with, wait_for_text, App,
    BoxError,
};

/// The sandbox's host account: connecting the integration made it the first global admin, and
/// the window acts as it (TSCHED_OPERATOR, as a signed-in operator would).
const HOST: &str = "teams.scheduler@contoso.example";
use tsched_sandbox::{RunningSandbox, Sandbox, SandboxConfig};

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const MEMBER: &str = "adele.vance0@contoso.example";
const GUEST: &str = "zoe0_fabrikam.com#EXT#@contoso.example";

/// A sandbox tenant, a store connected to it (the host is the first global admin) with program
/// `eng` offering Teams video calls and `MEMBER` as its participant.
async fn world(data: &Path, scratch: &Path) -> Result<RunningSandbox, BoxError> {
    ensure_secret_service()?;
    let sandbox = Sandbox::spawn(SandboxConfig {
        auto_consent: true,
        ..Default::default()
    })
    .await?;
    let h = sandbox.handle().clone();
    let (base, tenant, client_id) = (sandbox.base_url().to_string(), h.tenant_id(), h.client_id());
    let browser = tsched_e2e::approving_browser(scratch)?;
    let d = data.to_path_buf();
    tokio::task::spawn_blocking(move || -> Result<(), BoxError> {
        ok(
            tsched_with(
                &d,
                &[],
                &["programs", "add", "Engineering", "--code", "eng"],
            ),
            "add eng",
        )?;
        tsched_e2e::cli_connect(&d, &base, &tenant, &client_id, &browser)?;
        ok(
            tsched_with(
                &d,
                &[],
                &["programs", "modes", "enable", "eng", "teams-video"],
            ),
            "enable Teams",
        )?;
        ok(
            tsched_with(&d, &[], &["programs", "participants", "add", "eng", MEMBER]),
            "add participant",
        )?;
        Ok(())
    })
    .await??;
    Ok(sandbox)
}

fn remove_integration(data: &Path) -> Result<(), BoxError> {
    ok(
        tsched_with(data, &[], &["integration", "remove"]),
        "clean up the keyring entry",
    )?;
    Ok(())
}

/// Types an address into the lookup form, checks it, and returns the card's class badge text.
async fn look_up(c: &Client, address: &str) -> Result<String, BoxError> {
    let field = find(c, "#member-address").await?;
    field.clear().await?;
    field.send_keys(address).await?;
    find(c, "#member-check").await?.click().await?;
    // The card shows the address as the core normalised it (lower-cased).
    let title = wait_for_text(c, "#member-result-title", &address.to_lowercase()).await?;
    Ok(title)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn support_sees_a_member_and_a_guest_classified_on_the_result_card() -> Result<(), BoxError> {
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let _sandbox = world(&data, dir.path()).await?;
    let app = App::launch_with(&data, &[("TSCHED_OPERATOR", HOST)]).await?;
    let outcome = app
        .run("members_lookup", move |c| async move {
            open_page(&c, "members", "Members").await?;
            look_up(&c, MEMBER).await?;
            let class = wait_for_text(&c, "#member-class", "Member").await?;
            assert_eq!(class, "Member", "adele is a member of the tenant");
            let rule = find(&c, "#member-matched-by").await?.text().await?;
            assert!(
                rule.contains("User principal name"),
                "her address is her UPN, so that rule matched: {rule}"
            );
            let upn = find(&c, "#member-upn").await?.text().await?;
            assert_eq!(upn, MEMBER, "the card shows the directory's UPN");
            let object_id = find(&c, "#member-object-id").await?.text().await?;
            assert!(
                object_id.len() > 8 && object_id != "—",
                "the object id is shown for support to quote: {object_id}"
            );
            let source = find(&c, "#member-source").await?.text().await?;
            assert!(
                source.contains("Fresh"),
                "the first answer comes from the directory: {source}"
            );
            look_up(&c, MEMBER).await?;
            wait_for_text(&c, "#member-source", "Cached").await?;
            find(&c, "#member-refresh").await?.click().await?;
            wait_for_text(&c, "#member-source", "Fresh").await?;

            find(&c, "#member-program")
                .await?
                .select_by_value("eng")
                .await?;
            find(&c, "#member-diagnose").await?.click().await?;
            let verdict = wait_for_text(&c, "#diagnosis-verdict", "Yes").await?;
            assert!(
                verdict.contains("every check passed"),
                "a member who is a participant of a Teams program passes: {verdict}"
            );
            save_screenshot(&c, "members_diagnosis").await?;

            look_up(&c, GUEST).await?;
            let class = wait_for_text(&c, "#member-class", "Guest").await?;
            assert_eq!(class, "Guest", "an #EXT# account is a B2B guest");
            assert!(
                !find(&c, "#member-diagnosis").await?.is_displayed().await?,
                "adele's diagnosis is not left next to the guest's card"
            );
            save_screenshot(&c, "members_guest").await?;
            Ok(())
        })
        .await;
    remove_integration(&data)?;
    outcome
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coordinator_creates_lists_and_cancels_a_teams_meeting() -> Result<(), BoxError> {
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let sandbox = world(&data, dir.path()).await?;
    let app = App::launch_with(&data, &[("TSCHED_OPERATOR", HOST)]).await?;
    let outcome = app
        .run("meetings_create_cancel", move |c| async move {
            open_page(&c, "meetings", "Meetings").await?;
            find(&c, "#meeting-program")
                .await?
                .select_by_value("eng")
                .await?;
            let mode = find(&c, "#meeting-mode").await?;
            assert!(
                mode.prop("disabled").await?.as_deref() != Some("true"),
                "eng offers Teams video calls, so the mode can be chosen"
            );
            find(&c, "#meeting-subject")
                .await?
                .send_keys("Mentoring kick-off")
                .await?;
            find(&c, "#meeting-start")
                .await?
                .send_keys("2027-06-15 10:00")
                .await?;
            let tz = find(&c, "#meeting-tz").await?;
            tz.clear().await?;
            tz.send_keys("Europe/Berlin").await?;
            find(&c, "#meeting-participants")
                .await?
                .send_keys(MEMBER)
                .await?;
            find(&c, "#meeting-create").await?.click().await?;
            let status = wait_for_text(&c, "#meeting-status", "Created").await?;
            assert!(
                status.contains("Teams join link"),
                "the coordinator is told the meeting has a link: {status}"
            );
            let row = wait_for_text(&c, "#meetings-table tbody tr", "Mentoring kick-off").await?;
            assert!(
                row.contains("2027-06-15 10:00") && row.contains("created"),
                "listed at its local start time, created: {row}"
            );
            let join = find(&c, "#meeting-join-url")
                .await?
                .prop("value")
                .await?
                .unwrap_or_default();
            assert!(
                join.starts_with("http"),
                "the detail shows the join link to copy: {join:?}"
            );
            save_screenshot(&c, "meetings_created").await?;

            // Reschedule an hour later: Graph PATCHes start and end, the join link stays.
            let start = find(&c, "#meeting-rs-start").await?;
            start.clear().await?;
            start.send_keys("2027-06-15 11:00").await?;
            find(&c, "#meeting-rs-duration")
                .await?
                .send_keys("30m")
                .await?;
            find(&c, "#meeting-reschedule").await?.click().await?;
            let moved = wait_for_text(&c, "#meeting-detail-status", "Rescheduled").await?;
            assert!(
                moved.contains("2027-06-15 11:00"),
                "the detail confirms the new local start: {moved}"
            );
            let join_after = find(&c, "#meeting-join-url")
                .await?
                .prop("value")
                .await?
                .unwrap_or_default();
            assert_eq!(
                join_after, join,
                "rescheduling keeps the join link participants already have"
            );

            find(&c, "#meeting-cancel").await?.click().await?;
            wait_for_text(&c, "#meeting-cancel-q", "cannot be undone").await?;
            save_screenshot(&c, "meetings_cancel_confirm").await?;
            find(&c, "#meeting-cancel-yes").await?.click().await?;
            wait_for_text(&c, "#meeting-detail-state", "cancelled").await?;
            let done = wait_for_text(&c, "#meeting-detail-status", "Cancelled").await?;
            assert!(
                done.contains("link no longer works"),
                "the coordinator learns the link is dead: {done}"
            );
            let row = wait_for_text(&c, "#meetings-table tbody tr", "cancelled").await?;
            assert!(
                row.contains("Mentoring kick-off"),
                "the list shows the same meeting cancelled: {row}"
            );
            Ok(())
        })
        .await;
    let listed = tsched_with(
        &data,
        &[],
        &["meetings", "list", "--program", "eng", "--json"],
    );
    let rows: serde_json::Value = serde_json::from_slice(&listed.stdout)?;
    let upstream = sandbox.handle().snapshot()["meetings"]
        .as_array()
        .map(Vec::len);
    remove_integration(&data)?;
    outcome?;
    let rows = rows.as_array().ok_or("meetings list --json is an array")?;
    assert_eq!(
        rows.len(),
        1,
        "the window made exactly one meeting: {rows:?}"
    );
    assert_eq!(
        rows[0]["state"], "cancelled",
        "the CLI reads the cancellation the window made: {}",
        rows[0]
    );
    assert_eq!(
        rows[0]["attendees"][0]["address"], MEMBER,
        "the participant typed in the window was invited"
    );
    assert_eq!(
        upstream,
        Some(0),
        "cancelling deleted the meeting in the tenant too"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_is_validated_row_by_row_then_run_with_progress_and_listed() -> Result<(), BoxError>
{
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let sandbox = world(&data, dir.path()).await?;
    let csv = dir.path().join("week.csv");
    std::fs::write(
        &csv,
        format!(
            "program,subject,start,duration_minutes,time_zone,participants\n\
             eng,Batch intro,2027-06-16 09:00,30,Europe/Berlin,{MEMBER}\n\
             nope,Lost row,2027-06-16 10:00,30,Europe/Berlin,{MEMBER}\n"
        ),
    )?;
    let csv_path = csv.display().to_string();
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
    let outcome = app
        .run("batches_run", move |c| async move {
            open_page(&c, "batches", "Batches").await?;
            find(&c, "#batch-file").await?.send_keys(&csv_path).await?;
            find(&c, "#batch-validate").await?.click().await?;
            let summary = wait_for_text(&c, "#batch-summary", "rows").await?;
            assert!(
                summary.contains("2 rows: 1 ready, 1 with problems"),
                "the summary counts ready and rejected rows: {summary}"
            );
            let bad = wait_for_text(&c, "#batch-rows-table tr[data-line='3']", "Problem").await?;
            assert!(
                bad.contains("nope"),
                "the rejected row is the one with the unknown program: {bad}"
            );
            let run = find(&c, "#batch-run").await?;
            assert!(
                run.prop("disabled").await?.as_deref() == Some("true"),
                "a file with problems cannot run until rejected rows are skipped"
            );
            find(&c, "#batch-only-problems").await?.click().await?;
            let shown = c
                .find_all(fantoccini::Locator::Css("#batch-rows-table tbody tr"))
                .await?
                .len();
            assert_eq!(shown, 1, "the filter leaves only the row with problems");
            save_screenshot(&c, "batches_validated").await?;
            find(&c, "#batch-skip-rejected").await?.click().await?;
            find(&c, "#batch-run").await?.click().await?;
            let done = wait_for_text(&c, "#batch-progress-text", "Finished").await?;
            assert!(
                done.contains("completed") && done.contains("1 created"),
                "the progress ends with the ready row created: {done}"
            );
            let row = wait_for_text(&c, "#batch-history-table tbody tr", "completed").await?;
            assert!(
                row.contains("week.csv") && row.contains("1/1"),
                "the history lists the file with its count: {row}"
            );
            // Export the results: the app writes the file and says where.
            find(&c, "#batch-history-table .batch-export-csv")
                .await?
                .click()
                .await?;
            let saved = wait_for_text(&c, "#toast-text", "Saved batch-").await?;
            let path = saved
                .split(" to ")
                .nth(1)
                .ok_or("the toast names the path")?
                .trim()
                .to_string();
            find(&c, "#batch-history-table .batch-export-ics")
                .await?
                .click()
                .await?;
            let saved_ics = wait_for_text(&c, "#toast-text", ".ics to").await?;
            let ics_path = saved_ics
                .split(" to ")
                .nth(1)
                .ok_or("the toast names the path")?
                .trim()
                .to_string();
            Ok((path, ics_path))
        })
        .await;
    let listed = tsched_with(&data, &[], &["batch", "list", "--json"]);
    let upstream = sandbox.handle().snapshot()["meetings"]
        .as_array()
        .map(Vec::len);
    remove_integration(&data)?;
    let (csv_out, ics_out) = outcome?;
    assert!(
        Path::new(&csv_out).starts_with(&exports),
        "exports go to the export folder: {csv_out}"
    );
    let results = std::fs::read_to_string(&csv_out)?;
    let mut lines = results.lines();
    let header = lines.next().ok_or("a header")?;
    assert!(
        header.starts_with("line,"),
        "the input row number comes first: {header}"
    );
    let first = lines.next().ok_or("one result row")?;
    assert!(
        first.starts_with("2,")
            && first.contains("Batch intro")
            && first.contains(",done,")
            && first.contains("https://"),
        "the created row with its state and join link: {first}"
    );
    let ics = std::fs::read_to_string(&ics_out)?;
    assert!(
        ics.starts_with("BEGIN:VCALENDAR") && ics.matches("BEGIN:VEVENT").count() == 1,
        "one event for the one created meeting: {ics}"
    );
    let rows: serde_json::Value = serde_json::from_slice(&listed.stdout)?;
    assert_eq!(
        rows[0]["state"], "completed",
        "the CLI sees the batch the window ran: {rows}"
    );
    assert_eq!(
        upstream,
        Some(1),
        "exactly the one ready row became a meeting in the tenant"
    );
    Ok(())
}
