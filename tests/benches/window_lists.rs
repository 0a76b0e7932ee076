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
//! so the IPC call, the query, the DOM and a painted frame are all in it.
//!
//! Next to each load it measures the **floor**: the same rows as static HTML in the same window.
//! After a real load it copies what the page shows (the whole `<main>` for a first page, the list
//! or panel for a click, the added rows for "Show more") from the DOM; then, from the state the
//! real load started in (the welcome page, the previous rows, the closed panel, the first 100
//! rows), it puts that copy in with one `innerHTML` and times it the same way, to the second
//! animation frame after the insert. Same document, stylesheet, fonts, content security policy
//! and WebView; no IPC, no query, no script building rows. Ours and the floor alternate load by
//! load, so both see the same machine load. Target: ours ≤ 1.3× the floor at p50.
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
/// Ours ÷ the floor at p50.
const TARGET_RATIO: f64 = 1.3;
const DEFAULT_RUNS: usize = 20;
/// How often to ask the page whether it has finished (see `wait_until`).
const POLL_MS: u64 = 250;

/// One measured kind of load.
struct Case {
    name: &'static str,
    /// The list element's id.
    list: &'static str,
    samples: Vec<Load>,
    /// The same rows as static HTML (see `floor`).
    floors: Vec<FloorLoad>,
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
    if cases
        .iter()
        .any(|c| c.samples.is_empty() || c.floors.is_empty())
    {
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
        install_floor(&c).await?;
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
                // The floor: the page as drawn, put into <main> from the welcome page, where
                // the real load started too.
                capture(&c, "#main", None).await?;
                to_welcome(&c).await?;
                case.floors.push(floor(&c, "#main", false).await?);
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
                capture(&c, "#programs-list", None).await?;
                case.floors.push(floor(&c, "#programs-list", false).await?);
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
            // The floor: back to the first 100 rows, then the copied next 100 appended.
            capture(&c, "#programs-list", Some(before.rows)).await?;
            js(&c, &format!("for (const r of Array.from(document.querySelector('#programs-list tbody').children).slice({})) r.remove(); return 0;", before.rows)).await?;
            case.floors.push(floor(&c, "#programs-list", true).await?);
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
            capture(&c, "#audit-list", None).await?;
            case.floors.push(floor(&c, "#audit-list", false).await?);
        }
        cases.push(case);

        let mut case = Case::new("Members (participants) of the 50,000-person program", "participants-list");
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
            // The floor: the open panel as drawn, put into the closed panel.
            capture(&c, "#program-panel", None).await?;
            // Wait until the panel closed, so the next sample is a new list element.
            js(&c, "document.getElementById('panel-close').click();").await?;
            wait_gone(&c, "participants-list").await?;
            case.floors.push(floor(&c, "#program-panel", false).await?);
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

/// One floor load: the same rows as static HTML (see `floor`).
#[derive(Debug, Clone, Copy)]
struct FloorLoad {
    /// The insert to the second animation frame after it.
    render_ms: f64,
    /// Parsing and inserting the HTML.
    dom_ms: f64,
}

impl Case {
    fn new(name: &'static str, list: &'static str) -> Self {
        Self {
            name,
            list,
            samples: Vec::new(),
            floors: Vec::new(),
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
        (
            "meetings_page, 100 rows",
            "invoke('meetings_page', { program: null, stateFilter: null, cursor: null, limit: 100 })",
        ),
        (
            "programs_page, 200 rows (a picker's before)",
            "invoke('programs_page', { search: null, cursor: null, limit: 200 })",
        ),
        (
            "programs_page, 200 names (a picker's now)",
            "invoke('programs_page', { search: null, cursor: null, limit: 200, namesOnly: true })",
        ),
        ("meetings_default_tz", "invoke('meetings_default_tz')"),
        (
            "operators_page, 100 rows",
            "invoke('operators_page', { cursor: null, limit: 100 })",
        ),
    ] {
        let mut v = Vec::new();
        for _ in 0..8 {
            v.push(later(c, &format!("const invoke = window.__TAURI__.core.invoke; const t0 = performance.now(); {call}.then((r) => {{ window.__later = `${{Math.round(performance.now() - t0)}} ms/${{JSON.stringify(r).length}} B`; }}, (e) => {{ window.__later = String(e.message || e); }});"), 200).await?);
        }
        println!("IPC {what}: {}", v.join(", "));
    }
    // The Meetings page asks three things side by side: does the list's reply wait for the
    // others (one store, one lock) when they are asked together?
    let mut v = Vec::new();
    for _ in 0..8 {
        v.push(later(c, "const invoke = window.__TAURI__.core.invoke; const t0 = performance.now(); const l = invoke('meetings_page', { program: null, stateFilter: null, cursor: null, limit: 100 }).then(() => performance.now() - t0); const p = invoke('programs_page', { search: null, cursor: null, limit: 200, namesOnly: true }).then(() => performance.now() - t0); const z = invoke('meetings_default_tz').then(() => performance.now() - t0); Promise.all([l, p, z]).then((ts) => { window.__later = ts.map(Math.round).join('/'); }, (e) => { window.__later = String(e.message || e); });", 300).await?);
    }
    println!(
        "IPC the Meetings page's three calls together, list/programs/zone ms: {}",
        v.join(", ")
    );
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

/// The page side of the floor: `capture(sel, keep)` copies the HTML of what `sel` shows (with
/// `keep`, only the rows of its table after the first `keep`); `floor(sel, append)` puts the copy
/// into `sel` (in place of its children, or appended to its table's rows), unhides it, and times
/// it as `ui/list.js` times a load, to the second animation frame after the insert;
/// `restore(sel)` gives `sel` back the live nodes (or rows) it had, so the page's own script,
/// which holds those nodes, carries on.
const FLOOR_JS: &str = r#"
window.__floor = {
  capture(sel, keep) {
    const el = document.querySelector(sel);
    this.html = keep === null ? el.innerHTML
      : Array.from(el.querySelector('tbody').children).slice(keep).map((r) => r.outerHTML).join('');
    return this.html.length;
  },
  floor(sel, append) {
    const el = document.querySelector(sel);
    this.done = false;
    this.saved = Array.from(el.childNodes);
    this.hidden = el.hidden;
    const tbody = append ? el.querySelector('tbody') : null;
    this.rows = tbody ? tbody.children.length : 0;
    const t0 = performance.now();
    if (tbody) tbody.insertAdjacentHTML('beforeend', this.html); else el.innerHTML = this.html;
    el.hidden = false;
    const built = performance.now();
    requestAnimationFrame(() => requestAnimationFrame(() => {
      this.ms = performance.now() - t0;
      this.dom = built - t0;
      this.done = true;
    }));
  },
  restore(sel, append) {
    const el = document.querySelector(sel);
    if (append) { for (const r of Array.from(el.querySelector('tbody').children).slice(this.rows)) r.remove(); }
    else el.replaceChildren(...this.saved);
    el.hidden = this.hidden;
  },
};
return 0;
"#;

/// Puts the floor's script into the page (once; the app is one document for the whole run).
async fn install_floor(c: &Client) -> Res<()> {
    js(c, FLOOR_JS).await?;
    Ok(())
}

/// Copies what `sel` shows now for the next `floor` (with `keep`, only the table rows after the
/// first `keep`).
async fn capture(c: &Client, sel: &str, keep: Option<u64>) -> Res<()> {
    let keep = keep.map_or("null".to_string(), |k| k.to_string());
    let len = js(
        c,
        &format!("return window.__floor.capture({sel:?}, {keep});"),
    )
    .await?;
    if len.as_u64().unwrap_or(0) == 0 {
        return Err(format!("nothing to copy in {sel}").into());
    }
    Ok(())
}

/// One floor load: lets the page settle as a real load's start does (one poll), puts the copy in,
/// waits for its second frame the way `loaded` does, reads the time, gives the page back its live
/// nodes and lets that settle too.
async fn floor(c: &Client, sel: &str, append: bool) -> Res<FloorLoad> {
    tokio::time::sleep(Duration::from_millis(POLL_MS)).await;
    js(
        c,
        &format!("window.__floor.floor({sel:?}, {append}); return 0;"),
    )
    .await?;
    wait_until(c, "return window.__floor.done === true;").await?;
    let v = js(c, "return [window.__floor.ms, window.__floor.dom];").await?;
    js(
        c,
        &format!("window.__floor.restore({sel:?}, {append}); return 0;"),
    )
    .await?;
    // Let the restored page settle before the next real load starts timing.
    tokio::time::sleep(Duration::from_millis(POLL_MS)).await;
    let n = |i: usize| v.get(i).and_then(Value::as_f64).unwrap_or(f64::NAN);
    Ok(FloorLoad {
        render_ms: n(0),
        dom_ms: n(1),
    })
}

/// Shows the welcome page (the start of every first-page load).
async fn to_welcome(c: &Client) -> Res<()> {
    js(c, "location.hash = '#/welcome';").await?;
    wait_until(
        c,
        "return document.querySelector('main h1')?.textContent === 'Welcome to Teams Scheduler';",
    )
    .await
}

/// Opens a page by its hash, through another page so the router runs every time.
async fn route(c: &Client, page: &str) -> Res<()> {
    to_welcome(c).await?;
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
        "| List | rows shown | ours p50 ms | ours p95 ms | floor p50 ms | floor p95 ms | ours ÷ floor (p50) | ≤ {TARGET_RATIO}× | ours p50 split: before asking / IPC + query / DOM / to the 2nd frame | floor p50 split: HTML in / to the 2nd frame |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---|---|");
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
        let p50 = percentile(&all, 0.5);
        let p95 = percentile(&all, 0.95);
        let floor_sorted = |f: fn(&FloorLoad) -> f64| {
            let mut v: Vec<f64> = c.floors.iter().map(f).collect();
            v.sort_by(f64::total_cmp);
            v
        };
        let floor_all = floor_sorted(|l| l.render_ms);
        let floor_p50 = percentile(&floor_all, 0.5);
        let floor_dom = percentile(&floor_sorted(|l| l.dom_ms), 0.5);
        let floor_frames = percentile(&floor_sorted(|l| l.render_ms - l.dom_ms), 0.5);
        let ratio = p50 / floor_p50;
        let _ = writeln!(
            md,
            "| {} (`#{}`) | {} | {p50:.0} | {p95:.0} | {floor_p50:.0} | {:.0} | {ratio:.2}× | {} | {setup:.0} / {fetch:.0} / {dom:.0} / {frames:.0} | {floor_dom:.0} / {floor_frames:.0} |",
            c.name,
            c.list,
            c.rows,
            percentile(&floor_all, 0.95),
            if ratio <= TARGET_RATIO { "yes" } else { "**no**" }
        );
    }
    md
}
