//! List pages of the real window on the large store (a benchmark, not a timed test):
//! `make bench-window` (which first makes or reuses the store of
//! `cargo bench -p tsched-core --bench store_scale`, then runs this under Xvfb).
//!
//! It opens the release app over WebDriver on that store (10,000 programs, 250,000 meetings,
//! 1,000,000 audit rows, 500 operators), acting as one of its global admins, and for every list
//! page — the first page of programs, meetings, batches, audit entries and operators, a program
//! search, a filtered audit page, the participants of the 50,000-person program and "Show more" —
//! repeats the load `--runs`
//! times and reports p50/p95 of the time the page itself measured (`ui/list.js`): from the route
//! change (or the click) to the second animation frame after the 100 rows were put in the page,
//! so the IPC call, the query, the DOM and a painted frame are all in it. Target: ≤ 50 ms.
//!
//! The report goes to `$CARGO_TARGET_DIR/bench-reports/window-lists.md` and stdout.

use std::error::Error;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use fantoccini::Client;
use serde_json::Value;
use tsched_e2e::{target_dir, App};

type Res<T> = Result<T, Box<dyn Error + Send + Sync>>;

/// A global admin of the generated store (see `store_scale.rs`).
const ADMIN: &str = "operator000@contoso.example";
const TARGET_MS: f64 = 50.0;
const DEFAULT_RUNS: usize = 20;
/// How often to ask the page whether it has finished (see `wait_until`).
const POLL_MS: u64 = 250;

/// One measured kind of load.
struct Case {
    name: &'static str,
    /// The list element's id.
    list: &'static str,
    samples: Vec<Load>,
    rows: u64,
}

fn main() -> Res<()> {
    let mut runs = DEFAULT_RUNS;
    let mut css = String::new();
    let mut frames = false;
    let mut probe = None;
    let mut app = target_dir().join("release").join("teams-scheduler");
    let mut data = target_dir().join("bench-data").join("store-scale");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--runs" => runs = args.next().ok_or("--runs N")?.parse()?,
            "--app" => app = PathBuf::from(args.next().ok_or("--app BIN")?),
            "--data-dir" => data = PathBuf::from(args.next().ok_or("--data-dir DIR")?),
            // Extra CSS put into the page before measuring: for trying a style change on the
            // built app without rebuilding it (e.g. `--css 'table { table-layout: fixed }'`).
            "--css" => css = args.next().ok_or("--css RULES")?,
            // Also print when animation frames came around route changes (a diagnosis).
            "--frames" => frames = true,
            // Only a diagnosis: where the time after the reply goes, as built and under each
            // extra-CSS variant (`name=>rules;;name=>rules`, may be empty); see `probe`.
            "--probe" => probe = Some(args.next().ok_or("--probe VARIANTS")?),
            // cargo bench passes --bench; nothing else is expected.
            "--bench" => {}
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }
    if !app.exists() {
        return Err(format!(
            "{} is missing: `cargo build --release -p teams-scheduler` (make bench-window does)",
            app.display()
        )
        .into());
    }
    if !tsched_core_db(&data).exists() {
        return Err(format!(
            "no large store in {}: run `cargo bench -p tsched-core --bench store_scale` first (make bench-window does)",
            data.display()
        )
        .into());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let diagnosis_only = probe.is_some();
    let cases = rt.block_on(measure(app, data.clone(), runs, css.clone(), frames, probe))?;
    if diagnosis_only {
        return Ok(());
    }
    let mut report = report(&cases, runs, &data);
    if !css.is_empty() {
        report.push_str(&format!("\nWith extra CSS: `{css}`\n"));
    }
    println!("{report}");
    let dir = target_dir().join("bench-reports");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("window-lists.md"), &report)?;
    if cases.iter().any(|c| c.samples.is_empty()) {
        return Err("a case measured nothing".into());
    }
    Ok(())
}

fn tsched_core_db(dir: &std::path::Path) -> PathBuf {
    dir.join("teams-scheduler.db")
}

async fn measure(
    app: PathBuf,
    data: PathBuf,
    runs: usize,
    css: String,
    frames: bool,
    probe_variants: Option<String>,
) -> Res<Vec<Case>> {
    let app = App::launch_binary(&app, &data, &[("TSCHED_OPERATOR", ADMIN)])
        .await
        .map_err(|e| e.to_string())?;
    app.run("window_lists_bench", move |c| async move {
        let mut cases = Vec::new();
        add_css(&c, &css).await?;
        // Warm up once: the first visit of each page also loads its module.
        for page in ["programs", "meetings", "batches", "audit", "operators"] {
            route(&c, page).await?;
            loaded(&c, list_of(page), 0).await?;
        }
        if frames {
            frame_diagnosis(&c).await?;
        }
        if let Some(variants) = probe_variants {
            probe(&c, &variants).await?;
            return Ok(Vec::new());
        }
        for (name, page) in [
            ("Programs, first page", "programs"),
            ("Meetings, first page (all programs)", "meetings"),
            ("Batches, first page", "batches"),
            ("Audit, first page", "audit"),
            ("Operators, first page (of 500)", "operators"),
        ] {
            let list = list_of(page);
            let mut case = Case::new(name, list);
            for _ in 0..runs {
                route(&c, page).await?;
                case.add(loaded(&c, list, 0).await?);
            }
            cases.push(case);
        }

        let mut case = Case::new("Programs, search \"women\"", "programs-list");
        route(&c, "programs").await?;
        loaded(&c, "programs-list", 0).await?;
        for i in 0..runs {
            // Alternate two searches so every load asks for new rows.
            let text = if i % 2 == 0 { "women" } else { "science" };
            let before = loads(&c, "programs-list").await?;
            js(&c, &format!("const s = document.getElementById('program-search'); s.value = '{text}'; s.dispatchEvent(new Event('input'));")).await?;
            let got = loaded(&c, "programs-list", before).await?;
            if text == "women" {
                case.add(got);
            }
        }
        cases.push(case);

        let mut case = Case::new("Programs, \"Show 100 more\" (rows 101–200)", "programs-list");
        for _ in 0..runs {
            route(&c, "programs").await?;
            let before = loaded(&c, "programs-list", 0).await?;
            let n = loads(&c, "programs-list").await?;
            js(&c, "document.getElementById('programs-list-more').click();").await?;
            let got = loaded(&c, "programs-list", n).await?;
            assert_eq!(got.rows, before.rows + 100, "Show more must append a page of 100");
            case.add(got);
        }
        cases.push(case);

        let mut case = Case::new("Audit, filtered by operator", "audit-list");
        route(&c, "audit").await?;
        loaded(&c, "audit-list", 0).await?;
        for i in 0..runs {
            let who = format!("operator{:03}@contoso.example", 10 + i % 7);
            let before = loads(&c, "audit-list").await?;
            js(&c, &format!("document.getElementById('audit-operator').value = '{who}'; document.getElementById('audit-apply').click();")).await?;
            case.add(loaded(&c, "audit-list", before).await?);
        }
        cases.push(case);

        let mut case = Case::new("Participants of the 50,000-person program", "participants-list");
        route(&c, "programs").await?;
        loaded(&c, "programs-list", 0).await?;
        let before = loads(&c, "programs-list").await?;
        js(&c, "const s = document.getElementById('program-search'); s.value = '00000'; s.dispatchEvent(new Event('input'));").await?;
        loaded(&c, "programs-list", before).await?;
        for _ in 0..runs {
            js(&c, "document.getElementById('panel-close')?.click();").await?;
            js(&c, "document.querySelector('#programs-table .program-open').click();").await?;
            let got = loaded(&c, "participants-list", 0).await?;
            assert_eq!(got.rows, 100, "the panel must show the first 100 participants");
            case.add(got);
            // Wait until the panel closed, so the next sample is a new list element.
            js(&c, "document.getElementById('panel-close').click();").await?;
            wait_gone(&c, "participants-list").await?;
        }
        cases.push(case);
        Ok(cases)
    })
    .await
    .map_err(|e| e.to_string().into())
}

fn list_of(page: &str) -> &'static str {
    match page {
        "programs" => "programs-list",
        "meetings" => "meetings-list",
        "batches" => "batch-history",
        "operators" => "operators-list",
        _ => "audit-list",
    }
}

/// One load as the page measured it (see `ui/list.js`).
#[derive(Debug, Clone, Copy)]
struct Load {
    /// All of it: route change (or click) to the second frame after the insert.
    render_ms: f64,
    /// Route change to asking for the page (the page's other reads first).
    setup_ms: f64,
    /// IPC and query.
    fetch_ms: f64,
    /// Building and inserting the rows.
    dom_ms: f64,
    rows: u64,
}

impl Case {
    fn new(name: &'static str, list: &'static str) -> Self {
        Self {
            name,
            list,
            samples: Vec::new(),
            rows: 0,
        }
    }

    fn add(&mut self, l: Load) {
        self.samples.push(l);
        self.rows = l.rows;
    }
}

/// Diagnosis (`--frames`): when do animation frames come — idle, around route changes, and around
/// one thing at a time (an IPC call alone, a text change, a plain table of 10 or 100 rows, shown
/// or hidden)? A logger in the page records every frame; each line lists frames in ms from the
/// event.
async fn frame_diagnosis(c: &Client) -> Res<()> {
    js(c, "window.__f = []; const tick = () => { window.__f.push(performance.now()); requestAnimationFrame(tick); }; requestAnimationFrame(tick);").await?;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    for page in ["audit", "programs", "audit"] {
        route(c, page).await?;
        let l = loaded(c, list_of(page), 0).await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let v = js(c, "const r = performance.getEntriesByName('route').pop().startTime; const f = window.__f; const i = f.findIndex((x) => x > r); return f.slice(Math.max(0, i - 6), i + 10).map((x) => Math.round(x - r));").await?;
        println!(
            "{page}: render {:.0} fetch {:.0} dom {:.0}; frames from the route change: {v}",
            l.render_ms, l.fetch_ms, l.dom_ms
        );
    }
    let v = js(
        c,
        "const f = window.__f.slice(5, 60); return f.slice(1).map((x, i) => Math.round(x - f[i]));",
    )
    .await?;
    println!("frame intervals in the first second (idle): {v}");
    // A plain table of `n` rows and 5 columns, put into <main>.
    let table = |n: u32, hidden: bool| {
        format!("const t = document.createElement('table'); t.hidden = {hidden}; for (let i = 0; i < {n}; i++) {{ const r = t.insertRow(); for (let j = 0; j < 5; j++) r.insertCell().textContent = 'cell ' + i + ' ' + j; }} document.getElementById('main').append(t)")
    };
    for (what, script) in [
        (
            "IPC call only (app_info)",
            "window.__TAURI__.core.invoke('app_info')".to_string(),
        ),
        (
            "IPC call only (programs_page, 100 rows)",
            "window.__TAURI__.core.invoke('programs_page', { limit: 100 })".to_string(),
        ),
        (
            "one text change",
            "document.getElementById('version').textContent += ' '".to_string(),
        ),
        ("DOM only (100-row table, hidden)", table(100, true)),
        ("DOM only (10-row table)", table(10, false)),
        ("DOM only (100-row table)", table(100, false)),
    ] {
        tokio::time::sleep(Duration::from_millis(300)).await;
        js(
            c,
            &format!("window.__t0 = performance.now(); {script}; return 0;"),
        )
        .await?;
        tokio::time::sleep(Duration::from_millis(400)).await;
        let v = js(c, "const r = window.__t0; const f = window.__f; const i = f.findIndex((x) => x > r); return f.slice(Math.max(0, i - 3), i + 6).map((x) => Math.round(x - r));").await?;
        println!("{what}: frames from it: {v}");
    }
    Ok(())
}

/// Diagnosis (`--probe`): where a list page's time goes after the reply. For the Programs and
/// Audit pages, and for each `name=>css` variant (extra CSS added for the run, `;;` between
/// variants), it puts the shown rows back into the page six times (a copy of the `tbody`) and
/// prints, in ms: building the copy into the document, style (`getComputedStyle`), layout
/// (`offsetHeight`), then the first and the second animation frame. It first times a few IPC
/// calls alone (round trip in the page, and the reply's size).
async fn probe(c: &Client, variants: &str) -> Res<()> {
    for (what, call) in [
        ("app_info", "invoke('app_info')"),
        (
            "programs_page, 10 rows",
            "invoke('programs_page', { limit: 10 })",
        ),
        (
            "programs_page, 100 rows",
            "invoke('programs_page', { limit: 100 })",
        ),
        (
            "audit_page, 100 rows",
            "invoke('audit_page', { limit: 100 })",
        ),
    ] {
        let mut v = Vec::new();
        for _ in 0..8 {
            v.push(later(c, &format!("const invoke = window.__TAURI__.core.invoke; const t0 = performance.now(); {call}.then((r) => {{ window.__later = `${{Math.round(performance.now() - t0)}} ms/${{JSON.stringify(r).length}} B`; }}, (e) => {{ window.__later = String(e.message || e); }});"), 200).await?);
        }
        println!("IPC {what}: {}", v.join(", "));
    }
    let variants: Vec<(&str, &str)> = std::iter::once(("as built", ""))
        .chain(
            variants
                .split(";;")
                .filter(|v| !v.trim().is_empty())
                .map(|v| v.split_once("=>").unwrap_or((v, ""))),
        )
        .collect();
    for page in ["programs", "audit"] {
        route(c, page).await?;
        loaded(c, list_of(page), 0).await?;
        for (name, css) in &variants {
            let added = add_css(c, css).await?;
            tokio::time::sleep(Duration::from_millis(500)).await;
            let mut runs = Vec::new();
            for _ in 0..6 {
                tokio::time::sleep(Duration::from_millis(300)).await;
                runs.push(later(c, "const m = document.getElementById('main'); const tb = m.querySelector('tbody'); const t0 = performance.now(); tb.replaceWith(tb.cloneNode(true)); const t1 = performance.now(); void getComputedStyle(m.querySelector('tbody').lastElementChild.lastElementChild).color; const t2 = performance.now(); void document.body.offsetHeight; const t3 = performance.now(); requestAnimationFrame(() => { const t4 = performance.now(); requestAnimationFrame(() => { window.__later = [t1 - t0, t2 - t1, t3 - t2, t4 - t3, performance.now() - t3].map(Math.round).join('/'); }); });", 300).await?);
            }
            js(c, &format!("const sh = document.styleSheets[0]; for (let i = 0; i < {added}; i++) sh.deleteRule(sh.cssRules.length - 1); return 0;")).await?;
            println!(
                "{page}, {name}: DOM/style/layout/1st frame/2nd frame: {}",
                runs.join("  ")
            );
        }
    }
    Ok(())
}

/// Runs `script`, which sets `window.__later` when what it started is over, and reads that
/// `wait_ms` later ("-" if it was not set by then).
async fn later(c: &Client, script: &str, wait_ms: u64) -> Res<String> {
    js(c, &format!("window.__later = null; {script} return 0;")).await?;
    tokio::time::sleep(Duration::from_millis(wait_ms)).await;
    let v = js(c, "return window.__later;").await?;
    Ok(v.as_str().unwrap_or("-").to_string())
}

/// Adds CSS rules to the page's style sheet and returns how many. Through the CSSOM: the app's
/// content security policy refuses a `<style>` element put in by a script, silently.
async fn add_css(c: &Client, css: &str) -> Res<u64> {
    if css.trim().is_empty() {
        return Ok(0);
    }
    let n = js(c, &format!("const sh = document.styleSheets[0]; let n = 0; for (const r of {}.split('}}').filter((x) => x.trim())) {{ sh.insertRule(r + '}}', sh.cssRules.length); n++; }} return n;", serde_json::to_string(css)?)).await?;
    Ok(n.as_u64().unwrap_or(0))
}

/// Opens a page by its hash, through another page so the router runs every time.
async fn route(c: &Client, page: &str) -> Res<()> {
    js(c, "location.hash = '#/welcome';").await?;
    wait_until(
        c,
        "return document.querySelector('main h1')?.textContent === 'Welcome to Teams Scheduler';",
    )
    .await?;
    js(c, &format!("location.hash = '#/{page}';")).await?;
    Ok(())
}

async fn js(c: &Client, script: &str) -> Res<Value> {
    Ok(c.execute(script, vec![]).await?)
}

async fn wait_until(c: &Client, script: &str) -> Res<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if js(c, script).await? == Value::Bool(true) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("timed out waiting for: {script}").into());
        }
        // Not faster: every poll is a script run in the page, and polling every few ms held the
        // page's frames back (a page with nothing in <main> still measured ~100 ms).
        tokio::time::sleep(Duration::from_millis(POLL_MS)).await;
    }
}

async fn wait_gone(c: &Client, id: &str) -> Res<()> {
    wait_until(c, &format!("return !document.getElementById('{id}');")).await
}

/// How many loads the list element has recorded (0 when it is not there yet).
async fn loads(c: &Client, id: &str) -> Res<u64> {
    let v = js(
        c,
        &format!("return Number(document.getElementById('{id}')?.dataset.loads || 0);"),
    )
    .await?;
    Ok(v.as_u64().unwrap_or(0))
}

/// Waits until the list has recorded more than `after` loads and returns the latest.
async fn loaded(c: &Client, id: &str, after: u64) -> Res<Load> {
    wait_until(
        c,
        &format!("return Number(document.getElementById('{id}')?.dataset.loads || 0) > {after};"),
    )
    .await?;
    let v = js(
        c,
        &format!("const d = document.getElementById('{id}').dataset; return [Number(d.renderMs), Number(d.setupMs), Number(d.fetchMs), Number(d.domMs), Number(d.rows)];"),
    )
    .await?;
    let n = |i: usize| v.get(i).and_then(Value::as_f64).unwrap_or(f64::NAN);
    Ok(Load {
        render_ms: n(0),
        setup_ms: n(1),
        fetch_ms: n(2),
        dom_ms: n(3),
        rows: n(4) as u64,
    })
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn report(cases: &[Case], runs: usize, data: &std::path::Path) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "`make bench-window` — release app over WebDriver under Xvfb, store {} ({:.0} MiB), {runs} loads per row, load average {} at the end.\n",
        data.display(),
        std::fs::metadata(tsched_core_db(data)).map(|m| m.len() as f64 / 1048576.0).unwrap_or(0.0),
        std::fs::read_to_string("/proc/loadavg").unwrap_or_default().split_whitespace().take(3).collect::<Vec<_>>().join(" "),
    );
    let _ = writeln!(
        md,
        "| List | rows shown | p50 ms | p95 ms | target | met | p50 split: before asking / IPC + query / DOM / to the 2nd frame |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|");
    for c in cases {
        let sorted = |f: fn(&Load) -> f64| {
            let mut v: Vec<f64> = c.samples.iter().map(f).collect();
            v.sort_by(f64::total_cmp);
            v
        };
        let all = sorted(|l| l.render_ms);
        let setup = percentile(&sorted(|l| l.setup_ms), 0.5);
        let fetch = percentile(&sorted(|l| l.fetch_ms), 0.5);
        let dom = percentile(&sorted(|l| l.dom_ms), 0.5);
        let frames = percentile(
            &sorted(|l| l.render_ms - l.setup_ms - l.fetch_ms - l.dom_ms),
            0.5,
        );
        let p95 = percentile(&all, 0.95);
        let _ = writeln!(
            md,
            "| {} (`#{}`) | {} | {:.0} | {:.0} | ≤ {TARGET_MS} ms | {} | {setup:.0} / {fetch:.0} / {dom:.0} / {frames:.0} |",
            c.name,
            c.list,
            c.rows,
            percentile(&all, 0.5),
            p95,
            if p95 <= TARGET_MS { "yes" } else { "**no**" }
        );
    }
    md
}
