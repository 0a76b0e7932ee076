//! Smoke test of the installed package: opens the app binary named by `TSCHED_INSTALLED_APP`
//! (CI installs the .deb from `make package` and sets it to `/usr/bin/teams-scheduler`) in a real
//! window over WebDriver. Without the variable the test does nothing, so `make test` passes on a
//! machine where the package is not installed.

use std::path::PathBuf;

use fantoccini::Locator;
use tsched_e2e::{find, wait_for_text, App, BoxError};

/// The pages the sidebar must offer (setup mode shows the admin-only Operators page too).
const PAGES: [&str; 8] = [
    "Getting started",
    "Integration",
    "Programs",
    "Operators",
    "Members",
    "Meetings",
    "Batches",
    "Audit",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn installed_app_opens_its_window_with_every_page_in_the_sidebar() -> Result<(), BoxError> {
    let Some(app_bin) = std::env::var_os("TSCHED_INSTALLED_APP").filter(|v| !v.is_empty()) else {
        eprintln!("skipped: set TSCHED_INSTALLED_APP=/usr/bin/teams-scheduler to test an installed package");
        return Ok(());
    };
    let app_bin = PathBuf::from(app_bin);
    assert!(
        app_bin.is_file(),
        "TSCHED_INSTALLED_APP must name the installed app binary: {} does not exist",
        app_bin.display()
    );
    let dir = tempfile::tempdir()?;
    let data = dir.path().display().to_string();
    let app = App::launch_binary(&app_bin, dir.path(), &[]).await?;
    app.run("installed_app", move |c| async move {
        assert_eq!(
            c.title().await?,
            "Teams Scheduler",
            "the installed app must load its own embedded page"
        );
        // The page and the header are filled through IPC: the backend answered and opened the
        // store in the data directory it was given (a fresh one: the welcome page, setup mode).
        wait_for_text(&c, "main h1", "Welcome to Teams Scheduler").await?;
        wait_for_text(&c, "#session", "Setup mode").await?;
        let mut labels = Vec::new();
        for link in c.find_all(Locator::Css("nav.sidebar a")).await? {
            labels.push(link.text().await?);
        }
        assert_eq!(
            labels, PAGES,
            "the sidebar of the installed app must list every page"
        );
        let version = wait_for_text(&c, "#version", "v").await?;
        assert_eq!(
            version,
            format!("v{}", env!("CARGO_PKG_VERSION")),
            "the installed app must be the version of this checkout"
        );
        let shown = find(&c, "#data-dir").await?.text().await?;
        assert!(
            shown.contains(&data),
            "the installed app must use TSCHED_DATA_DIR ({data}); it shows {shown:?}"
        );
        Ok(())
    })
    .await?;
    assert!(
        std::fs::read_dir(dir.path())?.next().is_some(),
        "the installed app must have created its store in the data directory"
    );
    Ok(())
}
