//! Start-up, memory and size of the desktop app against a Tauri v2 hello world, side by side.
//!
//! `make bench-startup` builds both release binaries (the hello world is the template in
//! `hello/`) and runs this under Xvfb and a private session bus. The two apps are alternated
//! (`--runs` each, after one discarded warm-up each) and for every run it records:
//!
//! - **first paint**: from just before `spawn` to the moment the page reports (from inside the
//!   page, after `load` and two animation frames) that it has painted. Both apps report through
//!   the same probe, `src-tauri/src/first_paint.rs`, which is active only when
//!   `TSCHED_BENCH_FIRST_PAINT` names a file;
//! - **PSS** after `--idle` seconds (10 by default) since that paint: the sum of `Pss` in
//!   `/proc/PID/smaps_rollup` over the app process and all its descendants (the WebKit web and
//!   network processes).
//!
//! It prints every run, then the medians, ratios (ours ÷ hello) against the targets, and the
//! release binary sizes, as a Markdown table for `docs/BENCHMARKS.md`.
//!
//! `--app2 BIN --label2 NAME` adds a second build of our app (e.g. an earlier commit's binary)
//! to the same rotation, so a before/after comparison shares one run's machine load; each app
//! keeps its own data directory and WebKit caches (an older build may not open a newer store).

use std::collections::HashMap;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context as _, Result};

/// The probe's switch (see `src-tauri/src/first_paint.rs`).
const PROBE_ENV: &str = "TSCHED_BENCH_FIRST_PAINT";

/// Ratio targets, ours ÷ hello.
const TARGET_STARTUP: f64 = 1.15;
const TARGET_PSS: f64 = 1.15;

#[derive(Debug)]
struct Args {
    runs: usize,
    idle: Duration,
    ours: PathBuf,
    hello: PathBuf,
    /// What to call `ours` in the report.
    label: String,
    /// A second build of our app, measured in the same rotation, and its name.
    app2: Option<(PathBuf, String)>,
}

fn usage() -> ! {
    eprintln!(
        "usage: startup-bench [--runs N] [--idle SECS] [--ours BIN] [--hello BIN] [--label NAME]\n\
         \x20      [--app2 BIN --label2 NAME]\n\
         Run it under a display: `make bench-startup` builds both apps and wraps it in xvfb-run."
    );
    std::process::exit(2)
}

fn parse_args() -> Result<Args> {
    let release = target_dir().join("release");
    let mut args = Args {
        runs: 10,
        idle: Duration::from_secs(10),
        ours: release.join("teams-scheduler"),
        hello: release.join("startup-hello"),
        label: "Teams Scheduler".to_string(),
        app2: None,
    };
    let mut app2 = None;
    let mut label2 = None;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--runs" => args.runs = value().parse().context("--runs")?,
            "--idle" => args.idle = Duration::from_secs_f64(value().parse().context("--idle")?),
            "--ours" => args.ours = PathBuf::from(value()),
            "--hello" => args.hello = PathBuf::from(value()),
            "--label" => args.label = value(),
            "--app2" => app2 = Some(PathBuf::from(value())),
            "--label2" => label2 = Some(value()),
            _ => usage(),
        }
    }
    args.app2 = match (app2, label2) {
        (Some(bin), label) => {
            let label = label.unwrap_or_else(|| {
                bin.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "second app".to_string())
            });
            Some((bin, label))
        }
        (None, Some(_)) => bail!("--label2 names the app given with --app2"),
        (None, None) => None,
    };
    if args.runs == 0 {
        bail!("--runs must be at least 1");
    }
    Ok(args)
}

/// Cargo's target directory (honours `CARGO_TARGET_DIR`).
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"))
}

/// One app under test.
#[derive(Debug)]
struct Subject {
    name: String,
    bin: PathBuf,
    /// Its own XDG homes (data directory, WebKit caches) under the scratch directory.
    home: PathBuf,
    paint_ms: Vec<f64>,
    navigation_ms: Vec<f64>,
    load_ms: Vec<f64>,
    pss_kib: Vec<u64>,
}

/// What one run measured; times in ms after spawn.
#[derive(Debug)]
struct Sample {
    paint_ms: f64,
    /// The page's navigation started (the native side is up and WebKit asks for the page).
    navigation_ms: f64,
    /// The page's `load` event.
    load_ms: f64,
    pss_kib: u64,
    processes: Vec<String>,
}

fn main() -> Result<()> {
    let args = parse_args()?;
    if std::env::var_os("DISPLAY").is_none() {
        bail!("no DISPLAY: run it through `make bench-startup` (xvfb-run -a dbus-run-session)");
    }
    let mut bins = vec![&args.ours, &args.hello];
    bins.extend(args.app2.as_ref().map(|(b, _)| b));
    for bin in bins {
        if !bin.exists() {
            bail!(
                "{} is missing: `make bench-startup` builds both apps first",
                bin.display()
            );
        }
    }
    // Private XDG homes (WebKit's caches and local storage, our data directory), shared by all
    // runs of this bench so every counted run is a warm start, as a user's second start is.
    let scratch = Scratch::new()?;
    // Hello world, then the second build (if any), then ours: the report's column order.
    let mut apps = vec![("Tauri hello world".to_string(), args.hello.clone())];
    apps.extend(args.app2.clone().map(|(bin, label)| (label, bin)));
    apps.push((args.label.clone(), args.ours.clone()));
    let mut subjects: Vec<Subject> = apps
        .into_iter()
        .enumerate()
        .map(|(i, (name, bin))| Subject {
            name,
            bin,
            home: scratch.path().join(format!("app{i}")),
            paint_ms: Vec::new(),
            navigation_ms: Vec::new(),
            load_ms: Vec::new(),
            pss_kib: Vec::new(),
        })
        .collect();
    eprintln!(
        "{} runs each, alternating, {:?} idle before PSS; one warm-up each first",
        args.runs, args.idle
    );
    for round in 0..=args.runs {
        for s in subjects.iter_mut() {
            std::fs::create_dir_all(&s.home)
                .with_context(|| format!("create {}", s.home.display()))?;
            let sample = run_once(&s.bin, &s.home, args.idle)
                .with_context(|| format!("{} run {round}", s.name))?;
            let what = if round == 0 { "warm-up" } else { "run" };
            eprintln!(
                "{:<18} {what} {round:>2}: navigation {:>6.1} ms, load {:>6.1} ms, first paint {:>6.1} ms, PSS {:>6.1} MiB ({})",
                s.name,
                sample.navigation_ms,
                sample.load_ms,
                sample.paint_ms,
                mib(sample.pss_kib),
                sample.processes.join(", ")
            );
            if round > 0 {
                s.paint_ms.push(sample.paint_ms);
                s.navigation_ms.push(sample.navigation_ms);
                s.load_ms.push(sample.load_ms);
                s.pss_kib.push(sample.pss_kib);
            }
        }
    }
    print!("{}", report(&subjects, args.runs, args.idle));
    Ok(())
}

/// A report row: what, its unit, the target ratio (none: reported only), and how to read it off
/// an app.
type Measure = (String, &'static str, Option<f64>, fn(&Subject) -> f64);

/// The Markdown report: one column per app (the hello world first), then each app's ratio to the
/// hello world with the target; then the raw samples.
fn report(subjects: &[Subject], runs: usize, idle: Duration) -> String {
    use std::fmt::Write as _;
    let mut md = String::new();
    let Some((hello, apps)) = subjects.split_first() else {
        return md;
    };
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let names: Vec<&str> = subjects.iter().map(|s| s.name.as_str()).collect();
    let _ = writeln!(md);
    let _ = writeln!(
        md,
        "| measure (median of {runs} runs each) | {} | {} | target | met |",
        names.join(" | "),
        apps.iter()
            .map(|a| format!("{} ÷ hello", a.name))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let _ = writeln!(
        md,
        "|---|{}---|---|",
        "---|".repeat(subjects.len() + apps.len())
    );
    let measures: [Measure; 3] = [
        (
            "start to first paint".to_string(),
            "ms",
            Some(TARGET_STARTUP),
            |s| median(&s.paint_ms),
        ),
        (
            format!(
                "PSS after {} s idle (app + WebKit processes)",
                idle.as_secs_f64()
            ),
            "MiB",
            Some(TARGET_PSS),
            |s| median_u64(&s.pss_kib) / 1024.0,
        ),
        // Reported, not a target: issue 16 withdrew the size target (≤ 1.5×).
        ("release binary size".to_string(), "MiB", None, |s| {
            std::fs::metadata(&s.bin).map(|m| m.len()).unwrap_or(0) as f64 / 1048576.0
        }),
    ];
    for (what, unit, target, value) in measures {
        let base = value(hello);
        let ratios: Vec<f64> = apps.iter().map(|a| value(a) / base).collect();
        let (target, met) = match target {
            Some(t) => (
                format!("≤ {t:.2}×"),
                ratios
                    .iter()
                    .map(|r| if *r <= t { "yes" } else { "no" })
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            None => ("reported".to_string(), "—".to_string()),
        };
        let _ = writeln!(
            md,
            "| {what} | {} | {} | {target} | {met} |",
            subjects
                .iter()
                .map(|s| format!("{:.1} {unit}", value(s)))
                .collect::<Vec<_>>()
                .join(" | "),
            ratios
                .iter()
                .map(|r| format!("{r:.2}×"))
                .collect::<Vec<_>>()
                .join(" | ")
        );
    }
    let _ = writeln!(md);
    let each = |f: &dyn Fn(&Subject) -> String| {
        subjects
            .iter()
            .map(|s| format!("{}: {}", s.name, f(s)))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let _ = writeln!(md, "first paint ms, {}", each(&|s| list(&s.paint_ms)));
    let _ = writeln!(
        md,
        "PSS MiB, {}",
        each(&|s| list(&s.pss_kib.iter().map(|&k| mib(k)).collect::<Vec<_>>()))
    );
    let _ = writeln!(md, "binary bytes, {}", each(&|s| size(&s.bin).to_string()));
    let _ = writeln!(
        md,
        "medians after spawn, {}",
        each(&|s| format!(
            "navigation {:.1} ms, load {:.1} ms, paint {:.1} ms",
            median(&s.navigation_ms),
            median(&s.load_ms),
            median(&s.paint_ms)
        ))
    );
    md
}

fn list(v: &[f64]) -> String {
    v.iter()
        .map(|x| format!("{x:.1}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

fn median_u64(v: &[u64]) -> f64 {
    median(&v.iter().map(|&x| x as f64).collect::<Vec<_>>())
}

fn epoch_ms(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

/// Starts `bin`, waits for its first-paint report, idles, sums PSS, and stops it.
fn run_once(bin: &Path, scratch: &Path, idle: Duration) -> Result<Sample> {
    let report = scratch.join("first-paint.txt");
    let _ = std::fs::remove_file(&report);
    let log = std::fs::File::create(scratch.join("app.log"))?;
    let mut cmd = Command::new(bin);
    cmd.env(PROBE_ENV, &report)
        .env("XDG_DATA_HOME", scratch.join("data"))
        .env("XDG_CACHE_HOME", scratch.join("cache"))
        .env("XDG_CONFIG_HOME", scratch.join("config"))
        .env_remove("TSCHED_DATA_DIR")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0);
    let started = SystemTime::now();
    let child = Group(
        cmd.spawn()
            .with_context(|| format!("spawn {}", bin.display()))?,
    );
    let r = wait_for_report(&report, Duration::from_secs(60))
        .with_context(|| format!("see {}", scratch.join("app.log").display()))?;
    let spawned = epoch_ms(started);
    std::thread::sleep(idle);
    let tree = process_tree(child.0.id())?;
    let mut pss_kib = 0;
    let mut processes = Vec::new();
    for (pid, name) in &tree {
        let pss = pss_of(*pid).with_context(|| format!("PSS of {name} ({pid})"))?;
        pss_kib += pss;
        processes.push(format!("{name} {:.1}", mib(pss)));
    }
    drop(child);
    Ok(Sample {
        paint_ms: r.t - spawned,
        navigation_ms: r.origin - spawned,
        load_ms: r.origin + r.load - spawned,
        pss_kib,
        processes,
    })
}

/// The probe's line: `t=…&origin=…&dcl=…&load=…` (see `src-tauri/src/first_paint.rs`).
#[derive(Debug)]
struct Report {
    /// Painted, epoch ms.
    t: f64,
    /// Navigation start, epoch ms.
    origin: f64,
    /// `load` event, ms after `origin`.
    load: f64,
}

fn parse_report(line: &str) -> Result<Report> {
    let field = |name: &str| -> Result<f64> {
        line.trim()
            .split('&')
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .with_context(|| format!("no {name} in probe line {line:?}"))?
            .parse()
            .with_context(|| format!("{name} in probe line {line:?}"))
    };
    Ok(Report {
        t: field("t")?,
        origin: field("origin")?,
        load: field("load")?,
    })
}

fn wait_for_report(file: &Path, within: Duration) -> Result<Report> {
    let deadline = Instant::now() + within;
    loop {
        if let Ok(text) = std::fs::read_to_string(file) {
            if let Some(line) = text.lines().next().filter(|l| !l.trim().is_empty()) {
                return parse_report(line);
            }
        }
        if Instant::now() > deadline {
            bail!("no first-paint report within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// `root` and all its descendants, as (pid, command name).
fn process_tree(root: u32) -> Result<Vec<(u32, String)>> {
    let mut parent_of: HashMap<u32, (u32, String)> = HashMap::new();
    for entry in std::fs::read_dir("/proc")? {
        let Some(pid) = entry?
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        // A process may exit between listing and reading: skip it.
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = stat[open + 1..close].to_string();
        let ppid = stat[close + 1..]
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        parent_of.insert(pid, (ppid, name));
    }
    let mut out = Vec::new();
    let mut frontier = vec![root];
    while let Some(p) = frontier.pop() {
        if let Some((_, name)) = parent_of.get(&p) {
            out.push((p, name.clone()));
        }
        frontier.extend(
            parent_of
                .iter()
                .filter(|(_, (ppid, _))| *ppid == p)
                .map(|(pid, _)| *pid),
        );
    }
    if out.is_empty() {
        bail!("the app ({root}) exited before its memory was read");
    }
    Ok(out)
}

/// Proportional set size of one process, in KiB.
fn pss_of(pid: u32) -> Result<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))?;
    text.lines()
        .find_map(|l| l.strip_prefix("Pss:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no Pss line in smaps_rollup")
}

/// A fresh directory under the system's temporary directory, removed on drop. (Not `tempfile`:
/// a release dependency on it would change the feature set cargo resolves for the release
/// binaries built next to this one, and so rebuild the desktop app.)
#[derive(Debug)]
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Result<Self> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir =
            std::env::temp_dir().join(format!("startup-bench-{}-{nanos}", std::process::id()));
        std::fs::create_dir(&dir).with_context(|| format!("create {}", dir.display()))?;
        Ok(Self(dir))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The app's process group: terminated on drop (WebKit's helpers too), killed if it lingers.
#[derive(Debug)]
struct Group(Child);

impl Drop for Group {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let signal = |sig: &str| {
            let _ = Command::new("kill")
                .args([sig, "--", &group])
                .stderr(Stdio::null())
                .status();
        };
        signal("-TERM");
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        signal("-KILL");
        let _ = self.0.wait();
        // Let the group's helpers go before the next app starts.
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(
            median(&[3.0, 1.0, 2.0]),
            2.0,
            "middle value of a sorted odd list"
        );
        assert_eq!(
            median(&[4.0, 1.0, 3.0, 2.0]),
            2.5,
            "mean of the two middle values"
        );
        assert_eq!(median_u64(&[10, 30, 20]), 20.0);
    }

    #[test]
    fn a_second_app_gets_its_own_column_and_ratio_to_the_hello_world() {
        let subject = |name: &str, paint: f64, pss_mib: u64| Subject {
            name: name.to_string(),
            bin: PathBuf::from("/nonexistent"),
            home: PathBuf::from("/nonexistent"),
            paint_ms: vec![paint],
            navigation_ms: vec![0.0],
            load_ms: vec![0.0],
            pss_kib: vec![pss_mib * 1024],
        };
        let md = report(
            &[
                subject("Tauri hello world", 800.0, 250),
                subject("0aaf4be", 880.0, 260),
                subject("HEAD", 960.0, 300),
            ],
            1,
            Duration::from_secs(10),
        );
        assert!(
            md.contains("| Tauri hello world | 0aaf4be | HEAD | 0aaf4be ÷ hello | HEAD ÷ hello |"),
            "one column per app and one ratio per app, hello world first: {md}"
        );
        assert!(
            md.contains("| 800.0 ms | 880.0 ms | 960.0 ms | 1.10× | 1.20× | ≤ 1.15× | yes, no |"),
            "each app's ratio is judged against the target on its own: {md}"
        );
        assert!(
            md.lines()
                .any(|l| l.starts_with("| release binary size") && l.ends_with("| reported | — |")),
            "size is reported, not judged (issue 16 withdrew its target): {md}"
        );
    }

    #[test]
    fn probe_line_is_read_by_name_in_any_order() {
        let r = parse_report("origin=1000.5&t=1250.25&dcl=100&load=120\n").expect("parses");
        assert_eq!(r.t, 1250.25, "paint time");
        assert_eq!(r.origin, 1000.5, "navigation start");
        assert_eq!(r.load, 120.0, "load after navigation start");
        assert!(
            parse_report("t=1&origin=2").is_err(),
            "a line without load must be rejected, not read as zero"
        );
        assert!(parse_report("t=x&origin=2&load=3").is_err(), "not a number");
    }

    #[test]
    fn the_probe_script_reports_the_fields_the_bench_reads() {
        // The bench and the probe are built separately; pin the shared vocabulary.
        let probe = include_str!("../../../src-tauri/src/first_paint.rs");
        for field in ["?t=", "&origin=", "&load=", "https://first-paint.invalid/"] {
            assert!(probe.contains(field), "the probe must send {field}");
        }
        assert!(
            probe.contains(&format!("\"{PROBE_ENV}\"")),
            "the probe must be switched on by {PROBE_ENV}"
        );
    }

    #[test]
    fn the_process_tree_holds_this_process_and_its_child() {
        let mut child = Command::new("sleep").arg("5").spawn().expect("sleep runs");
        let tree = process_tree(std::process::id()).expect("this process is listed");
        let _ = child.kill();
        let _ = child.wait();
        assert!(
            tree.iter().any(|(p, _)| *p == std::process::id()),
            "the root itself is counted"
        );
        assert!(
            tree.iter()
                .any(|(p, name)| *p == child.id() && name == "sleep"),
            "a child is counted by pid with its command name: {tree:?}"
        );
        assert!(
            pss_of(std::process::id()).expect("own PSS") > 0,
            "PSS is read"
        );
    }
}
