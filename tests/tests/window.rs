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
async fn lists_and_program_pickers_page_through_more_programs_than_they_show(
) -> Result<(), BoxError> {
    let dir = tempfile::tempdir()?;
    // More than a list page (100) and more than a picker holds (200).
    for i in 0..205 {
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
        tsched_e2e::click_settled(&c, "#programs-list-more").await?;
        tsched_e2e::wait_for_text(&c, "#programs-list-count", "first 200").await?;
        tsched_e2e::click_settled(&c, "#programs-list-more").await?;
        tsched_e2e::wait_for_text(&c, "#programs-list-count", "All 205 programs shown.").await?;
        let rows = c
            .find_all(fantoccini::Locator::Css("#programs-table tbody tr"))
            .await?;
        assert_eq!(
            rows.len(),
            205,
            "Show more appends the next 100, then the last 5"
        );
        // The rows are laid out as grids (ui/styles.css), so the list says it is a table with
        // roles, on the first page's rows and the appended ones alike.
        let roles = c
            .execute(
                "const t = document.getElementById('programs-table'); const rows = [...t.querySelectorAll('tbody > tr')]; \
                 return [t.getAttribute('role'), t.tHead.getAttribute('role'), t.tBodies[0].getAttribute('role'), t.querySelector('thead th').getAttribute('role'), \
                 rows.filter((r) => r.getAttribute('role') !== 'row').length, rows.flatMap((r) => [...r.children]).filter((d) => d.getAttribute('role') !== 'cell').length];",
                vec![],
            )
            .await?;
        assert_eq!(
            roles,
            serde_json::json!(["table", "rowgroup", "rowgroup", "columnheader", 0, 0]),
            "table, row group, header, row and cell roles on all 205 rows"
        );
        let last = rows[204].text().await?;
        assert!(
            last.contains("Program 204"),
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
        tsched_e2e::wait_for_text(&c, "#programs-list-count", "All 206 programs shown.").await?;

        // The meeting form's program picker holds the first 200 and finds the rest by typing.
        tsched_e2e::open_page(&c, "meetings", "Meetings").await?;
        tsched_e2e::wait_for_text(&c, "#meeting-program", "more programs").await?;
        let held = c
            .find_all(fantoccini::Locator::Css(
                "#meeting-program option:not([disabled])",
            ))
            .await?;
        assert_eq!(held.len(), 200, "the picker holds the first 200 programs");
        let find_box = find(&c, "#meeting-program-find").await?;
        assert!(
            find_box.is_displayed().await?,
            "a find box shows when there are more"
        );
        find_box.send_keys("Program 204").await?;
        tsched_e2e::wait_for_text(&c, "#meeting-program", "Program 204").await?;
        let options = c
            .find_all(fantoccini::Locator::Css("#meeting-program option"))
            .await?;
        assert_eq!(options.len(), 1, "only the program that matches is offered");
        let chosen = find(&c, "#meeting-program").await?.prop("value").await?;
        assert_eq!(
            chosen.as_deref(),
            Some(options[0].attr("value").await?.unwrap_or_default().as_str()),
            "the program found is chosen"
        );
        // The mode advice follows the program found (Teams is off in a new program).
        tsched_e2e::wait_for_text(&c, "#meeting-mode-reason", "does not offer Teams").await?;
        // The filter of the meetings list has its own find box, with "All programs" kept.
        let filter_find = find(&c, "#meetings-filter-find").await?;
        filter_find.send_keys("Program 203").await?;
        tsched_e2e::wait_for_text(&c, "#meetings-filter", "Program 203").await?;
        let filter_text = find(&c, "#meetings-filter").await?.text().await?;
        assert!(
            filter_text.contains("All programs") && !filter_text.contains("Program 204"),
            "{filter_text}"
        );
        Ok(())
    })
    .await
}

/// Optimistic concurrency in the window: the Programs panel was drawn from version 1; the CLI (a
/// second workstation) renames the program meanwhile; the window's save is refused naming who
/// changed it, nothing is overwritten, and Reload shows the other change so the save can be
/// made again on the new version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_save_on_a_program_changed_elsewhere_is_refused_with_a_reload() -> Result<(), BoxError> {
    let dir = tempfile::tempdir()?;
    tsched_e2e::ok(
        tsched(
            dir.path(),
            &["programs", "add", "Engineering", "--code", "eng"],
        ),
        "programs add",
    )?;
    let app = App::launch(dir.path()).await?;
    let data = dir.path().to_path_buf();
    app.run("stale_save", |c| async move {
        tsched_e2e::open_page(&c, "programs", "Programs").await?;
        tsched_e2e::click_settled(&c, "button.program-open[data-code=eng]").await?;
        tsched_e2e::wait_for_text(&c, "#panel-title", "Engineering").await?;
        tsched_e2e::ok(
            tsched(&data, &["programs", "rename", "eng", "Engineering Guild"]),
            "the other workstation's rename",
        )?;
        let desc = find(&c, "#edit-description").await?;
        desc.clear().await?;
        desc.send_keys("From the window").await?;
        find(&c, "#program-save").await?.click().await?;
        let err = tsched_e2e::wait_for_text(&c, "#panel-error", "was changed by").await?;
        assert!(
            err.contains("program 'eng'") && err.contains("reload and try again"),
            "the panel says who changed the program and what to do: {err}"
        );
        find(&c, "#panel-reload").await?.click().await?;
        tsched_e2e::wait_for_text(&c, "#panel-title", "Engineering Guild").await?;
        let desc = find(&c, "#edit-description").await?;
        desc.clear().await?;
        desc.send_keys("From the window").await?;
        find(&c, "#program-save").await?.click().await?;
        tsched_e2e::wait_for_text(&c, "#panel-status", "Saved.").await?;
        Ok(())
    })
    .await?;

    let out = tsched_e2e::ok(
        tsched(dir.path(), &["programs", "show", "eng", "--json"]),
        "programs show",
    )?;
    let p: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!(
        (&p["name"], &p["description"], &p["version"]),
        (
            &serde_json::json!("Engineering Guild"),
            &serde_json::json!("From the window"),
            &serde_json::json!(3)
        ),
        "the CLI's rename was kept and the window's save applied once, after the reload: {p}"
    );
    Ok(())
}
