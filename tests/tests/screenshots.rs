//! README screenshots, taken from the real window so they never go stale.
//! Run with `make screenshots` (ignored in the normal suite: it writes into `docs/screenshots/`).

use tsched_e2e::{tsched, wait_for_text, workspace_root, App, BoxError};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes docs/screenshots; run through `make screenshots`"]
async fn readme_screenshots() -> Result<(), BoxError> {
    let dir = tempfile::tempdir()?;
    for (name, code) in [
        ("Engineering Mentoring", "eng"),
        ("Operations Buddies", "ops"),
        ("Design Circle", "design"),
    ] {
        let out = tsched(dir.path(), &["programs", "add", name, "--code", code]);
        assert!(
            out.status.success(),
            "seeding {code}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let app = App::launch(dir.path()).await?;
    let out_dir = workspace_root().join("docs/screenshots");
    std::fs::create_dir_all(&out_dir)?;
    app.run("readme_screenshots", move |c| async move {
        for page in [
            "programs",
            "integration",
            "members",
            "meetings",
            "batches",
            "audit",
        ] {
            c.execute(&format!("location.hash = '#/{page}'"), vec![])
                .await?;
            wait_for_text(&c, "main h1", "").await?;
            tokio::time::sleep(std::time::Duration::from_millis(400)).await;
            std::fs::write(out_dir.join(format!("{page}.png")), c.screenshot().await?)?;
        }
        Ok(())
    })
    .await
}
