//! Real-window tests of the Operators and Audit pages: ending setup mode by adding yourself,
//! granting a per-program role, and reading the audit trail with a filter.

use fantoccini::Locator;
use tsched_e2e::{find, tsched, wait_for_text, App, BoxError};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_mode_ends_when_the_first_operator_is_added_then_roles_show_in_the_audit(
) -> Result<(), BoxError> {
    let dir = tempfile::tempdir()?;
    let out = tsched(
        dir.path(),
        &["programs", "add", "Engineering", "--code", "eng"],
    );
    assert!(
        out.status.success(),
        "seed a program: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = dir.path().join("eng participants.csv");
    std::fs::write(&csv, "email,display_name\r\nzoe.odegard1@contoso.example,Zoë Ødegård\r\nngozi.nunez5@contoso.example,Ngozi Núñez\r\n")?;
    let csv_path = csv.display().to_string();
    // Downloads go to the XDG Downloads folder: point it into the test's directory.
    let (config, downloads) = (dir.path().join("config"), dir.path().join("downloads"));
    std::fs::create_dir_all(&config)?;
    std::fs::create_dir_all(&downloads)?;
    std::fs::write(
        config.join("user-dirs.dirs"),
        format!("XDG_DOWNLOAD_DIR=\"{}\"\n", downloads.display()),
    )?;
    let config = config.display().to_string();
    let env = [
        ("TSCHED_OPERATOR", "admin@contoso.example"),
        ("XDG_CONFIG_HOME", config.as_str()),
    ];
    let app = App::launch_with(dir.path(), &env).await?;
    app.run("operators_and_audit", move |c| async move {
        wait_for_text(&c, "#session", "Setup mode").await?;
        find(&c, ".sidebar a[data-page=operators]")
            .await?
            .click()
            .await?;
        wait_for_text(&c, "#setup-banner", "no operators yet").await?;
        // The form offers the acting address first, so setup mode cannot lock the window out.
        wait_for_text(&c, "#operators-list", "No operators yet").await?;
        let prefilled = find(&c, "#operator-upn")
            .await?
            .prop("value")
            .await?
            .unwrap_or_default();
        assert_eq!(
            prefilled, "admin@contoso.example",
            "the acting operator is offered as the first one"
        );
        find(&c, "#operator-add").await?.click().await?;
        wait_for_text(&c, "#operators-table", "Global admin").await?;
        let who = wait_for_text(&c, "#session", "admin@contoso.example").await?;
        assert!(
            who.contains("Global admin"),
            "the header now names the operator and role: {who}"
        );
        assert!(
            !find(&c, "#setup-banner").await?.is_displayed().await?,
            "setup mode is over"
        );

        find(&c, "#operator-upn")
            .await?
            .send_keys("ta@contoso.example")
            .await?;
        find(&c, "#operator-name")
            .await?
            .send_keys("Tia Track")
            .await?;
        find(&c, "#operator-add").await?.click().await?;
        wait_for_text(&c, "#operators-table", "ta@contoso.example").await?;
        // A row's "Grant role" fills in the grant form's operator.
        find(
            &c,
            "#operators-table tr[data-upn='ta@contoso.example'] .grant-open",
        )
        .await?
        .click()
        .await?;
        let chosen = find(&c, "#grant-upn").await?.prop("value").await?;
        assert_eq!(chosen.as_deref(), Some("ta@contoso.example"));
        find(&c, "#grant-role")
            .await?
            .select_by_value("track_admin")
            .await?;
        find(&c, "#grant-program")
            .await?
            .select_by_value("eng")
            .await?;
        find(&c, "#grant-submit").await?.click().await?;
        let row = wait_for_text(
            &c,
            "#operators-table tr[data-upn='ta@contoso.example']",
            "Track admin of eng",
        )
        .await?;
        assert!(row.contains("Active"), "the new operator is active: {row}");

        // Participants from a CSV file picked in the window (bytes read in JS, sent to a command).
        find(&c, ".sidebar a[data-page=programs]")
            .await?
            .click()
            .await?;
        find(&c, "button.program-open[data-code=eng]")
            .await?
            .click()
            .await?;
        wait_for_text(&c, "#panel-title", "Engineering").await?;
        find(&c, "#participants-file")
            .await?
            .send_keys(&csv_path)
            .await?;
        find(&c, "#participants-import").await?.click().await?;
        let table =
            wait_for_text(&c, "#participants-table", "zoe.odegard1@contoso.example").await?;
        assert!(
            table.contains("Zoë Ødegård") && table.contains("ngozi.nunez5@contoso.example"),
            "both rows, UTF-8 intact: {table}"
        );

        find(&c, ".sidebar a[data-page=audit]")
            .await?
            .click()
            .await?;
        let all = wait_for_text(&c, "#audit-table", "operator.grant").await?;
        assert!(
            all.contains("operator.add") && all.contains("program.create"),
            "every change is listed: {all}"
        );
        assert!(
            all.contains("participants.import"),
            "the import is audited: {all}"
        );
        find(&c, "#audit-action")
            .await?
            .select_by_value("operator.grant")
            .await?;
        find(&c, "#audit-apply").await?.click().await?;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let rows = loop {
            let rows = c.find_all(Locator::Css("#audit-table tbody tr")).await?;
            if rows.len() == 1 || std::time::Instant::now() > deadline {
                break rows;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        };
        assert_eq!(rows.len(), 1, "the action filter keeps only the grant");
        let grant = rows[0].text().await?;
        assert!(
            grant.contains("admin@contoso.example")
                && grant.contains("operator:ta@contoso.example"),
            "who and on whom: {grant}"
        );
        find(&c, "#audit-export-csv").await?.click().await?;
        let err = find(&c, "#audit-error").await?.text().await?;
        assert!(err.is_empty(), "the export runs without an error: {err}");
        // The Blob download lands in the Downloads folder with the filtered rows.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let text = loop {
            let file = std::fs::read_dir(&downloads)?
                .flatten()
                .map(|e| e.path())
                .find(|p| p.extension().is_some_and(|x| x == "csv"));
            if let Some(text) = file
                .and_then(|f| std::fs::read_to_string(f).ok())
                .filter(|t| t.lines().count() >= 2)
            {
                break text;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the CSV export was saved in the Downloads folder"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        };
        assert!(
            text.starts_with("id,at,operator,action,target"),
            "the export has the CSV header: {text}"
        );
        assert_eq!(
            text.lines().count(),
            2,
            "header and the one filtered row: {text}"
        );
        assert!(text.contains("operator.grant"), "the filtered row: {text}");
        Ok(())
    })
    .await
}
