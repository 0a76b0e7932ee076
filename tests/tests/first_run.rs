//! The first-run experience in the real window: a fresh data directory opens on the welcome page
//! (two sentences, four jobs, two ways on); "Explore with the sandbox tenant" connects the
//! embedded sandbox and pre-fills demo programs, so the Programs page lists them, a program shows
//! its participants and the Members page checks one of them as a member; the next start on the
//! same directory does not land on the welcome page. "Skip for now" is remembered too.
//!
//! The explore test keeps the host's refresh token in the Secret Service under the same account
//! as the other window suites (the sandbox seed is deterministic), and removes it at the end.

use fantoccini::{Client, Locator};
use tsched_e2e::{
    ensure_secret_service, find, open_page, save_screenshot, tsched_with, wait_for_text, App,
    BoxError,
};

/// The demo programs the explore path adds (`tsched_core::demo::PROGRAMS`).
const DEMO_PROGRAMS: [(&str, &str); 4] = [
    ("eng", "Engineering Mentoring"),
    ("ops", "Operations Buddies"),
    ("leaders", "Leadership Circle"),
    ("design", "Design Circle"),
];
const MEMBER: &str = "adele.vance0@contoso.example";

/// The part of the window's URL after `#`.
async fn fragment(c: &Client) -> Result<String, BoxError> {
    Ok(c.current_url().await?.fragment().unwrap_or("").to_string())
}

/// Checks the welcome page's content: two sentences on what the app is for, and the four jobs,
/// each linking to its page.
async fn assert_welcome(c: &Client) -> Result<(), BoxError> {
    let sentences = c.find_all(Locator::Css("#welcome-about p")).await?;
    let mut about = Vec::new();
    for p in &sentences {
        about.push(p.text().await?);
    }
    assert_eq!(
        about.len(),
        2,
        "the welcome says in two sentences what the app is for: {about:?}"
    );
    for s in &about {
        assert!(
            s.ends_with('.') && s.matches(". ").count() == 0,
            "each paragraph is one sentence: {s:?}"
        );
    }
    assert!(
        about[0].contains("Microsoft 365 tenant") && about[0].contains("Teams video calls"),
        "the first sentence says what the app connects, and why: {:?}",
        about[0]
    );
    let mut jobs = Vec::new();
    for link in c.find_all(Locator::Css("#welcome-jobs a.job-link")).await? {
        // WebKit reports the resolved address (tauri://localhost#/programs): keep the route.
        let href = link.attr("href").await?.unwrap_or_default();
        let route = href.split_once('#').map(|(_, r)| format!("#{r}"));
        jobs.push((link.text().await?, route.unwrap_or(href)));
    }
    let want = [
        ("Connect your tenant", "#/integration"),
        ("Review program settings", "#/programs"),
        ("Check a person's membership", "#/members"),
        ("Create meetings", "#/meetings"),
    ];
    assert_eq!(
        jobs,
        want.map(|(t, h)| (t.to_string(), h.to_string())),
        "the four jobs, in order, each linking to its page"
    );
    let connect = find(c, "#welcome-connect").await?.text().await?;
    let explore = find(c, "#welcome-explore").await?.text().await?;
    assert_eq!(connect, "Connect a Microsoft 365 tenant", "way on 1");
    assert_eq!(explore, "Explore with the sandbox tenant", "way on 2");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_data_dir_opens_on_the_welcome_and_exploring_fills_every_page(
) -> Result<(), BoxError> {
    ensure_secret_service()?;
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    // The person's browser: follows the authorize URL (the embedded sandbox approves at once)
    // to the app's loopback listener.
    let browser = tsched_e2e::approving_browser(dir.path())?;
    let app = App::launch_with(&data, &[("BROWSER", browser.as_str())]).await?;
    app.run("first_run_explore", |c| async move {
        wait_for_text(&c, "main h1", "Welcome to Teams Scheduler").await?;
        assert_eq!(
            fragment(&c).await?,
            "/welcome",
            "a fresh data directory opens on the welcome page"
        );
        assert_welcome(&c).await?;
        let current = find(&c, ".sidebar a[data-page=welcome]")
            .await?
            .attr("aria-current")
            .await?;
        assert_eq!(
            current.as_deref(),
            Some("page"),
            "the sidebar marks Getting started as the open page"
        );
        save_screenshot(&c, "first_run_welcome").await?;

        find(&c, "#welcome-explore").await?.click().await?;
        wait_for_text(&c, "main h1", "Programs").await?;
        let table = wait_for_text(&c, "#programs-table", "Design Circle").await?;
        for (code, name) in DEMO_PROGRAMS {
            assert!(
                table.contains(name) && table.contains(code),
                "the demo program {name} ({code}) is listed: {table}"
            );
        }
        let note = find(&c, "#explored-note").await?.text().await?;
        assert!(
            note.contains("4 demo programs with 16 participants"),
            "the page says what was filled in: {note}"
        );
        wait_for_text(&c, "#session", "Sandbox tenant connected").await?;
        let eng = find(&c, "#programs-table tr[data-code=eng]")
            .await?
            .text()
            .await?;
        assert!(
            eng.contains("Teams video call") && !eng.contains("unavailable"),
            "eng offers usable Teams video calls: {eng}"
        );

        find(&c, "button.program-open[data-code=eng]")
            .await?
            .click()
            .await?;
        wait_for_text(&c, "#panel-title", "Engineering Mentoring").await?;
        let people = wait_for_text(&c, "#participants-table", MEMBER).await?;
        assert!(
            people.contains("Adele Vance") && people.contains("Zoë Ødegård"),
            "the program shows its participants with their names: {people}"
        );
        wait_for_text(&c, "#mode-teams_video-state", "On").await?;

        open_page(&c, "members", "Members").await?;
        find(&c, "#member-address").await?.send_keys(MEMBER).await?;
        find(&c, "#member-program")
            .await?
            .select_by_value("eng")
            .await?;
        find(&c, "#member-check").await?.click().await?;
        wait_for_text(&c, "#member-result-title", MEMBER).await?;
        let class = wait_for_text(&c, "#member-class", "Member").await?;
        assert_eq!(
            class, "Member",
            "the sandbox's directory knows them as a member"
        );
        let class = find(&c, "#member-class").await?.attr("data-class").await?;
        assert_eq!(class.as_deref(), Some("member"), "classified as member");
        find(&c, "#member-diagnose").await?.click().await?;
        let verdict = wait_for_text(&c, "#diagnosis-verdict", "every check passed").await?;
        assert!(
            verdict.starts_with("Yes"),
            "a demo participant can be offered a Teams meeting in eng: {verdict}"
        );
        Ok(())
    })
    .await?;

    let app = App::launch_with(&data, &[("BROWSER", browser.as_str())]).await?;
    app.run("first_run_second_launch", |c| async move {
        wait_for_text(&c, "main h1", "Programs").await?;
        assert_ne!(
            fragment(&c).await?,
            "/welcome",
            "a store in use does not open on the welcome page"
        );
        // Exploring made the sandbox's host the first global admin; a new run starts signed
        // out, and signing in brings the embedded sandbox back at its address.
        wait_for_text(&c, "#acting", "Not signed in").await?;
        find(&c, "#sign-in").await?.click().await?;
        wait_for_text(&c, "#acting", "teams.scheduler@contoso.example").await?;
        wait_for_text(&c, "#programs-table", "Engineering Mentoring").await?;
        // The welcome stays reachable from the sidebar.
        open_page(&c, "welcome", "Welcome to Teams Scheduler").await?;
        Ok(())
    })
    .await?;

    let removed = tsched_with(
        &data,
        &[("TSCHED_OPERATOR", "teams.scheduler@contoso.example")],
        &["integration", "remove"],
    );
    assert!(
        removed.status.success(),
        "clean up the keyring entry: {}",
        String::from_utf8_lossy(&removed.stderr)
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skipping_the_welcome_is_remembered_and_empty_lists_say_what_to_do() -> Result<(), BoxError>
{
    let dir = tempfile::tempdir()?;
    let app = App::launch(dir.path()).await?;
    app.run("first_run_skip", |c| async move {
        wait_for_text(&c, "main h1", "Welcome to Teams Scheduler").await?;
        find(&c, "#welcome-skip").await?.click().await?;
        wait_for_text(&c, "main h1", "Programs").await?;
        let empty = wait_for_text(&c, "#programs-empty", "No programs yet").await?;
        assert!(
            empty.contains("create one with the form above")
                && empty.contains("explore with the sandbox tenant"),
            "the empty list says what to do next: {empty}"
        );
        open_page(&c, "meetings", "Meetings").await?;
        let empty = wait_for_text(&c, "#meetings-empty", "No meetings yet").await?;
        assert!(
            empty.contains("create one on Programs"),
            "the empty meetings list points to its prerequisite: {empty}"
        );
        open_page(&c, "batches", "Batches").await?;
        wait_for_text(&c, "#batches-empty", "choose a CSV file above").await?;
        open_page(&c, "audit", "Audit").await?;
        // Skipping is a change like any other: the trail is not empty any more.
        wait_for_text(&c, "#audit-table", "settings.welcome_dismissed").await?;
        Ok(())
    })
    .await?;
    let app = App::launch(dir.path()).await?;
    app.run("first_run_skipped_second_launch", |c| async move {
        wait_for_text(&c, "main h1", "Programs").await?;
        assert_ne!(
            fragment(&c).await?,
            "/welcome",
            "a dismissed welcome does not open again, even on an empty store"
        );
        Ok(())
    })
    .await
}
