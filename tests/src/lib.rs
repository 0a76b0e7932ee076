//! End-to-end harness: starts the real desktop app through `tauri-driver` + `WebKitWebDriver`
//! and drives it over WebDriver (fantoccini), and runs the real `tsched` binary.
//!
//! It must run under a display (`make test` wraps the suite in `xvfb-run -a dbus-run-session`).
//! Every process it starts is put in its own process group and killed on drop, also when a test
//! fails or panics; every window test leaves a screenshot of its final state under
//! `target/e2e-screenshots/`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};

/// Error type of the harness and the tests.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("invariant: tests/ sits in the workspace")
        .to_path_buf()
}

/// Cargo's target directory (honours `CARGO_TARGET_DIR`).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// A binary built by `cargo build` in the debug profile; panics with a fix if it is missing.
pub fn binary(name: &str) -> PathBuf {
    let p = target_dir().join("debug").join(name);
    assert!(
        p.exists(),
        "{} is missing: build it first with `cargo build --workspace --bins` (make test does)",
        p.display()
    );
    p
}

#[path = "../../crates/cli/tests/support/tsched.rs"]
mod runner;
pub use runner::Tsched;

impl Tsched {
    /// The `tsched` cargo built ([`binary`]) on `data_dir`, with the runner's default
    /// environment but the session's own D-Bus: the window suites run inside their own
    /// `dbus-run-session` and share its unlocked keyring ([`ensure_secret_service`]) with the app.
    pub fn new(data_dir: impl AsRef<Path>) -> Self {
        Self::at(binary("tsched"), data_dir).session_bus(true)
    }
}

/// Runs `tsched --data-dir dir ARGS` ([`Tsched::new`]).
pub fn tsched(dir: &Path, args: &[&str]) -> Output {
    Tsched::new(dir).run(args)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A child process in its own process group, killed with its whole group on drop.
#[derive(Debug)]
pub struct GroupChild {
    child: Child,
}

impl GroupChild {
    /// Spawns `cmd` as the leader of a new process group.
    pub fn spawn(cmd: &mut Command) -> std::io::Result<Self> {
        use std::os::unix::process::CommandExt;
        let child = cmd.process_group(0).spawn()?;
        Ok(Self { child })
    }

    /// The leader's pid (= the group id).
    pub fn id(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for GroupChild {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-TERM", "--", &group])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // Whatever is left of the group (the app, WebKit helpers) goes now.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
    }
}

/// Only one window at a time: WebKit under Xvfb on 2 cores is slow enough already.
static WINDOW_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The running app, driven over WebDriver.
#[derive(Debug)]
pub struct App {
    /// The WebDriver session.
    pub client: Client,
    _driver: GroupChild,
    /// `None` for a second window started by [`App::launch_beside`] (the first holds the lock).
    _guard: Option<tokio::sync::MutexGuard<'static, ()>>,
}

impl App {
    /// Starts the app on `data_dir` (through `tauri-driver`) and waits for the shell to render.
    pub async fn launch(data_dir: &Path) -> Result<Self, BoxError> {
        Self::launch_with(data_dir, &[]).await
    }

    /// Like [`App::launch`], with extra environment for the app (it inherits tauri-driver's),
    /// e.g. `TSCHED_OPERATOR` or `BROWSER`.
    pub async fn launch_with(data_dir: &Path, env: &[(&str, &str)]) -> Result<Self, BoxError> {
        Self::launch_binary(&binary("teams-scheduler"), data_dir, env).await
    }

    /// Like [`App::launch_with`], but starts the app binary at `app` instead of the one cargo
    /// built (e.g. `/usr/bin/teams-scheduler` installed from the .deb).
    pub async fn launch_binary(
        app: &Path,
        data_dir: &Path,
        env: &[(&str, &str)],
    ) -> Result<Self, BoxError> {
        let guard = WINDOW_LOCK.lock().await;
        Self::start(app, data_dir, env, Some(guard)).await
    }

    /// A second app instance beside this one (two workstations on one team database): its own
    /// tauri-driver and WebKitWebDriver on their own ports, its own data directory and
    /// environment. It shares this window's turn on the display instead of waiting for it.
    pub async fn launch_beside(
        &self,
        data_dir: &Path,
        env: &[(&str, &str)],
    ) -> Result<Self, BoxError> {
        Self::start(&binary("teams-scheduler"), data_dir, env, None).await
    }

    async fn start(
        app: &Path,
        data_dir: &Path,
        env: &[(&str, &str)],
        guard: Option<tokio::sync::MutexGuard<'static, ()>>,
    ) -> Result<Self, BoxError> {
        assert!(
            std::env::var_os("DISPLAY").is_some(),
            "window tests need a display: run them through `make test` (xvfb-run -a dbus-run-session)"
        );
        let port = free_port();
        let native_port = free_port();
        let log = std::fs::File::create(target_dir().join(format!("tauri-driver-{port}.log")))?;
        let driver = GroupChild::spawn(
            Command::new(tauri_driver())
                .args([
                    "--port",
                    &port.to_string(),
                    "--native-port",
                    &native_port.to_string(),
                ])
                .env("TSCHED_DATA_DIR", data_dir)
                // Tests name the window's operator with TSCHED_OPERATOR: the test-only switch.
                .env("TSCHED_TEST_IMPERSONATION", "1")
                .envs(env.iter().copied())
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log),
        )?;
        let url = format!("http://127.0.0.1:{port}");
        wait_for_port(port, Duration::from_secs(20))?;
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), "wry".into());
        caps.insert(
            "tauri:options".into(),
            serde_json::json!({ "application": app.display().to_string() }),
        );
        // WebDriver is plain HTTP on loopback: no TLS stack, so no crypto-provider ambiguity.
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        // tauri-driver listens before its WebKitWebDriver is ready and then drops the first
        // request (`IncompleteMessage`); retry the new-session request for a while.
        let deadline = Instant::now() + Duration::from_secs(20);
        let client = loop {
            match ClientBuilder::new(connector.clone())
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(client) => break client,
                Err(e) if Instant::now() < deadline => {
                    eprintln!("webdriver session not ready yet ({e}); retrying");
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Err(e) => return Err(e.into()),
            }
        };
        let app = Self {
            client,
            _driver: driver,
            _guard: guard,
        };
        app.wait_for("main h1").await?;
        Ok(app)
    }

    /// Waits (up to 15 s) for an element matching `css`.
    pub async fn wait_for(&self, css: &str) -> Result<fantoccini::elements::Element, BoxError> {
        Ok(self
            .client
            .wait()
            .at_most(Duration::from_secs(15))
            .for_element(Locator::Css(css))
            .await?)
    }

    /// Saves a PNG of the window under `target/e2e-screenshots/{name}.png`.
    pub async fn screenshot(&self, name: &str) -> Result<PathBuf, BoxError> {
        let dir = target_dir().join("e2e-screenshots");
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, self.client.screenshot().await?)?;
        Ok(path)
    }

    /// Runs a test body, then always saves the final screenshot and closes the session, and only
    /// then reports the body's outcome (a panic inside the body is reported as a failure too).
    /// The body may hand a value back (e.g. the path of a file the window saved).
    pub async fn run<F, Fut, T>(self, name: &str, body: F) -> Result<T, BoxError>
    where
        F: FnOnce(Client) -> Fut,
        Fut: std::future::Future<Output = Result<T, BoxError>> + Send + 'static,
        T: Send + 'static,
    {
        let outcome = tokio::spawn(body(self.client.clone())).await;
        let shot = self.screenshot(name).await;
        let _ = self.client.clone().close().await;
        drop(self);
        shot?;
        match outcome {
            Ok(r) => r,
            Err(join) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
            Err(join) => Err(join.into()),
        }
    }
}

/// Makes sure an unlocked Secret Service answers in this D-Bus session, so the app and `tsched`
/// can keep the host's refresh token: starts (or unlocks) gnome-keyring's secrets component with
/// the password `pass`, exactly as `make test` does (the login keyring in `$HOME` keeps the
/// password it was first created with, so both must agree), then stores and clears a probe item.
/// If something in the session (WebKit, an earlier probe) already D-Bus-activated a *locked*
/// daemon, that daemon is replaced by an unlocked one. The suite is meant to run inside its own
/// `dbus-run-session`; an unlocked desktop keyring is used as it is.
pub fn ensure_secret_service() -> Result<(), BoxError> {
    if unlock_keyring(false).is_ok() && probe_keyring()? {
        return Ok(());
    }
    unlock_keyring(true)?;
    if probe_keyring()? {
        Ok(())
    } else {
        Err("no usable Secret Service: run the window tests inside `dbus-run-session` with gnome-keyring installed".into())
    }
}

fn unlock_keyring(replace: bool) -> Result<(), BoxError> {
    use std::io::Write as _;
    let mut cmd = Command::new("gnome-keyring-daemon");
    if replace {
        cmd.arg("--replace");
    }
    let mut daemon = cmd
        .args(["--unlock", "--components=secrets"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    daemon.stdin.take().ok_or("stdin")?.write_all(b"pass")?;
    // The launcher forks the daemon and exits; the daemon lives as long as the D-Bus session.
    daemon.wait()?;
    Ok(())
}

/// Stores and clears a probe item; false when the keyring refuses or does not answer in time.
fn probe_keyring() -> Result<bool, BoxError> {
    use std::io::Write as _;
    let mut probe = Command::new("secret-tool")
        .args([
            "store",
            "--label",
            "tsched e2e probe",
            "service",
            "teams-scheduler-e2e-probe",
            "account",
            "probe",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    probe.stdin.take().ok_or("stdin")?.write_all(b"x")?;
    let deadline = Instant::now() + Duration::from_secs(5);
    let stored = loop {
        if let Some(status) = probe.try_wait()? {
            break status.success();
        }
        if Instant::now() > deadline {
            let _ = probe.kill();
            let _ = probe.wait();
            break false;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = Command::new("secret-tool")
        .args([
            "clear",
            "service",
            "teams-scheduler-e2e-probe",
            "account",
            "probe",
        ])
        .stderr(Stdio::null())
        .status();
    Ok(stored)
}

/// Writes an executable `$BROWSER` script into `dir` that appends every URL it is given to
/// `urls.txt` next to it (and opens nothing); returns (script, log file).
pub fn recording_browser(dir: &Path) -> Result<(PathBuf, PathBuf), BoxError> {
    use std::os::unix::fs::PermissionsExt as _;
    let log = dir.join("urls.txt");
    let script = dir.join("record-browser.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{}'\n", log.display()),
    )?;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))?;
    Ok((script, log))
}

/// Waits (up to `within`) until `file` has a line, and returns the last one.
pub async fn wait_for_line(file: &Path, within: Duration) -> Result<String, BoxError> {
    let deadline = Instant::now() + within;
    loop {
        if let Ok(text) = std::fs::read_to_string(file) {
            if let Some(line) = text.lines().rfind(|l| !l.trim().is_empty()) {
                return Ok(line.trim().to_string());
            }
        }
        if Instant::now() > deadline {
            return Err(format!("{} got no line within {within:?}", file.display()).into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn tauri_driver() -> PathBuf {
    if let Some(p) = std::env::var_os("TAURI_DRIVER") {
        return PathBuf::from(p);
    }
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    match home.map(|h| h.join("bin/tauri-driver")) {
        Some(p) if p.exists() => p,
        _ => PathBuf::from("tauri-driver"),
    }
}

fn wait_for_port(port: u16, within: Duration) -> Result<(), BoxError> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!("tauri-driver did not listen on port {port} within {within:?}").into())
}

/// Saves a PNG of the window under `target/e2e-screenshots/{name}.png` from inside a test body.
pub async fn save_screenshot(client: &Client, name: &str) -> Result<PathBuf, BoxError> {
    let dir = target_dir().join("e2e-screenshots");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("{name}.png"));
    std::fs::write(&path, client.screenshot().await?)?;
    Ok(path)
}

/// Finds an element or fails with the selector in the message.
pub async fn find(client: &Client, css: &str) -> Result<fantoccini::elements::Element, BoxError> {
    client
        .find(Locator::Css(css))
        .await
        .map_err(|e| format!("{css}: {e}").into())
}

/// Clicks an element below a long list once the page has stopped moving it. List rows past the
/// 10th are laid out only when they come near the view (`content-visibility`, ui/styles.css), so
/// scrolling to an element under them moves it once more a frame later: WebDriver's own
/// scroll-then-click can land on what was there before (a person sees it move first). This
/// scrolls it to the middle of the view until it keeps its place for two frames, then clicks.
pub async fn click_settled(client: &Client, css: &str) -> Result<(), BoxError> {
    let settle = r#"const [css, done] = arguments; let last = null; let n = 0;
        const step = () => {
          const el = document.querySelector(css);
          if (!el) return done(false);
          el.scrollIntoView({ block: "center" });
          requestAnimationFrame(() => requestAnimationFrame(() => {
            const top = el.getBoundingClientRect().top;
            if (top === last || ++n > 20) done(true); else { last = top; step(); }
          }));
        };
        step();"#;
    let found = client
        .execute_async(settle, vec![serde_json::Value::String(css.to_string())])
        .await
        .map_err(|e| format!("{css}: {e}"))?;
    if found != serde_json::Value::Bool(true) {
        return Err(format!("{css}: not in the page").into());
    }
    find(client, css).await?.click().await?;
    Ok(())
}

/// Waits (up to 15 s) until the element's text contains `needle`; returns the text.
pub async fn wait_for_text(client: &Client, css: &str, needle: &str) -> Result<String, BoxError> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let text = match client.find(Locator::Css(css)).await {
            Ok(el) => el.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if text.contains(needle) {
            return Ok(text);
        }
        if Instant::now() > deadline {
            return Err(format!("{css} never contained {needle:?}; last text: {text:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits (up to 15 s) until `check` holds for the window's current URL; returns it.
pub async fn wait_for_url(
    c: &Client,
    what: &str,
    check: impl Fn(&str) -> bool,
) -> Result<String, BoxError> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let url = c.current_url().await?.to_string();
        if check(&url) {
            return Ok(url);
        }
        if Instant::now() > deadline {
            return Err(format!("the window never reached {what}; last URL {url}").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Plays the person in the webview: opens `url` (a sandbox sign-in or consent page whose
/// server is `base`), picks `account`, accepts, and waits until the browser reached the app's
/// loopback listener.
pub async fn accept_in_webview(
    c: &Client,
    base: &str,
    url: &str,
    account: &str,
) -> Result<(), BoxError> {
    c.goto(url).await?;
    find(c, "#account").await?.select_by_value(account).await?;
    find(c, "#accept").await?.click().await?;
    wait_for_url(c, "the app's loopback listener", |u| {
        u.starts_with("http://localhost")
            || (u.starts_with("http://127.0.0.1:") && !u.starts_with(base))
    })
    .await?;
    Ok(())
}

/// Opens a page through the sidebar, as a person would, and waits for its title.
pub async fn open_page(c: &Client, page: &str, title: &str) -> Result<(), BoxError> {
    find(c, &format!(".sidebar a[data-page={page}]"))
        .await?
        .click()
        .await?;
    wait_for_text(c, "main h1", title).await?;
    Ok(())
}

/// Runs `tsched --data-dir dir ARGS` ([`Tsched::new`]) with `env` set as well.
pub fn tsched_with(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    env.iter()
        .fold(Tsched::new(dir), |t, (key, value)| t.env(key, value))
        .run(args)
}

/// The output of a command that must have succeeded; else an error naming `what` with its
/// stderr.
pub fn ok(out: Output, what: &str) -> Result<Output, BoxError> {
    if out.status.success() {
        Ok(out)
    } else {
        Err(format!("{what} failed: {}", String::from_utf8_lossy(&out.stderr)).into())
    }
}

/// A `BROWSER` command that acts like a person who approves at once: it follows the authorize URL
/// (a sandbox with auto-consent answers with the redirect) to the app's or `tsched`'s loopback
/// listener. The script is written into `dir`.
pub fn approving_browser(dir: &Path) -> Result<String, BoxError> {
    let follow = dir.join("follow.py");
    std::fs::write(
        &follow,
        "import sys, urllib.request\nurllib.request.urlopen(sys.argv[1], timeout=20).read()\n",
    )?;
    Ok(format!("python3 {}", follow.display()))
}

/// `tsched integration connect` of the store in `dir` to a sandbox tenant (`base` URL, tenant
/// and client id), signing in through `browser`; the host account becomes the first global admin.
pub fn cli_connect(
    dir: &Path,
    base: &str,
    tenant: &str,
    client_id: &str,
    browser: &str,
) -> Result<Output, BoxError> {
    let args = [
        "integration",
        "connect",
        "--tenant",
        tenant,
        "--client-id",
        client_id,
        "--sandbox",
        base,
        "--timeout",
        "30",
    ];
    ok(
        tsched_with(dir, &[("BROWSER", browser)], &args),
        "integration connect",
    )
}
