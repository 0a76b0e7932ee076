//! Real-window end-to-end tests: the desktop app under Xvfb, driven over WebDriver.

use tsched_e2e::{find, tsched, App, BoxError};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_program_in_window_then_read_it_back_with_the_cli() -> Result<(), BoxError> {
    let dir = tempfile::tempdir()?;
    let app = App::launch(dir.path()).await?;
    app.run("add_program", |c| async move {
        // A fresh data directory opens on the welcome page (tests/tests/first_run.rs).
        tsched_e2e::wait_for_text(&c, "main h1", "Welcome").await?;
        find(&c, ".sidebar a[data-page=programs]")
            .await?
            .click()
            .await?;
        tsched_e2e::wait_for_text(&c, "main", "No programs yet").await?;
        find(&c, "#program-name")
            .await?
            .send_keys("Engineering Mentoring")
            .await?;
        find(&c, "#program-code").await?.send_keys("eng").await?;
        find(&c, "#program-add").await?.click().await?;
        let row = tsched_e2e::wait_for_text(&c, "#programs-table", "Engineering Mentoring").await?;
        assert!(
            row.contains("eng"),
            "the new program's code must be listed: {row}"
        );
        // The same code again must show the conflict in the window, not add a second row.
        find(&c, "#program-name")
            .await?
            .send_keys("Another")
            .await?;
        find(&c, "#program-code").await?.send_keys("ENG").await?;
        find(&c, "#program-add").await?.click().await?;
        let err = tsched_e2e::wait_for_text(&c, "#program-error", "already exists").await?;
        assert!(
            err.contains("'eng'"),
            "the error must name the clashing code: {err}"
        );
        Ok(())
    })
    .await?;

    let out = tsched(dir.path(), &["programs", "list", "--json"]);
    assert!(
        out.status.success(),
        "tsched list must succeed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let programs = list.as_array().ok_or("list --json is an array")?;
    assert_eq!(
        programs.len(),
        1,
        "the window added exactly one program: {list}"
    );
    assert_eq!(
        programs[0]["code"], "eng",
        "the CLI reads what the window wrote"
    );
    assert_eq!(programs[0]["name"], "Engineering Mentoring");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn program_list_shows_a_page_of_100_and_show_more_appends_the_rest() -> Result<(), BoxError> {
    let dir = tempfile::tempdir()?;
    for i in 0..130 {
        let name = format!("Program {i:03}");
        let out = tsched(dir.path(), &["programs", "add", &name]);
        assert!(
            out.status.success(),
            "tsched programs add {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let app = App::launch(dir.path()).await?;
    app.run("program_paging", |c| async move {
        tsched_e2e::open_page(&c, "programs", "Programs").await?;
        let count = tsched_e2e::wait_for_text(&c, "#programs-list-count", "first 100").await?;
        assert_eq!(count, "Showing the first 100 programs.");
        let rows = c
            .find_all(fantoccini::Locator::Css("#programs-table tbody tr"))
            .await?;
        assert_eq!(rows.len(), 100, "the first page holds 100 programs");
        find(&c, "#programs-list-more").await?.click().await?;
        tsched_e2e::wait_for_text(&c, "#programs-list-count", "All 130 programs shown.").await?;
        let rows = c
            .find_all(fantoccini::Locator::Css("#programs-table tbody tr"))
            .await?;
        assert_eq!(rows.len(), 130, "Show more appends the last 30");
        let last = rows[129].text().await?;
        assert!(
            last.contains("Program 129"),
            "rows stay in name order across pages: {last}"
        );
        assert!(
            !find(&c, "#programs-list-more")
                .await?
                .is_displayed()
                .await?,
            "no Show more once everything is shown"
        );
        // A change refreshes the list without dropping the rows that were shown.
        find(&c, "#program-name")
            .await?
            .send_keys("Program 999")
            .await?;
        find(&c, "#program-add").await?.click().await?;
        tsched_e2e::wait_for_text(&c, "#programs-list-count", "All 131 programs shown.").await?;
        Ok(())
    })
    .await
}
