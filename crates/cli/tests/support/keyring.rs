//! A private Secret Service (a throwaway `dbus-daemon` + `gnome-keyring-daemon` with a temporary
//! home, so a developer's real keyring is never touched) for the real `tsched` binary.

use std::io::Write as _;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use super::Tsched;

/// A private session bus with an unlocked Secret Service; both die with this value.
pub struct PrivateKeyring {
    pub address: String,
    daemons: Vec<Child>,
    _home: tempfile::TempDir,
}

impl PrivateKeyring {
    pub fn start() -> Option<PrivateKeyring> {
        let home = tempfile::tempdir().expect("tempdir");
        let bus = home.path().join("bus");
        let mut dbus = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .arg(format!("--address=unix:path={}", bus.display()))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let mut line = String::new();
        {
            use std::io::BufRead as _;
            let out = dbus.stdout.take().expect("piped stdout");
            std::io::BufReader::new(out).read_line(&mut line).ok()?;
        }
        let address = line.trim().to_string();
        let run = home.path().join("run");
        std::fs::create_dir_all(&run).expect("runtime dir");
        let mut gk = match Command::new("gnome-keyring-daemon")
            .args(["--unlock", "--components=secrets", "--foreground"])
            .env("DBUS_SESSION_BUS_ADDRESS", &address)
            .env("HOME", home.path())
            .env("XDG_DATA_HOME", home.path().join("data"))
            .env("XDG_RUNTIME_DIR", &run)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(c) => c,
            Err(_) => {
                let _ = dbus.kill();
                let _ = dbus.wait();
                return None;
            }
        };
        if let Some(mut stdin) = gk.stdin.take() {
            let _ = stdin.write_all(b"test-password");
        }
        std::thread::sleep(Duration::from_millis(700));
        Some(PrivateKeyring {
            address,
            daemons: vec![gk, dbus],
            _home: home,
        })
    }
}

impl Drop for PrivateKeyring {
    fn drop(&mut self) {
        for d in &mut self.daemons {
            let _ = d.kill();
            let _ = d.wait();
        }
    }
}

/// A private keyring, or `None` (the caller skips) where the daemons are missing. Under `make
/// test` (TSCHED_TEST_SECRET_SERVICE set) a missing daemon fails: a skip would hide a test.
pub fn private_keyring_or_skip() -> Option<PrivateKeyring> {
    let keyring = PrivateKeyring::start();
    if keyring.is_none() {
        assert!(
            std::env::var_os("TSCHED_TEST_SECRET_SERVICE").is_none(),
            "dbus-daemon and gnome-keyring-daemon must be installed when TSCHED_TEST_SECRET_SERVICE is set"
        );
        eprintln!("skipped: dbus-daemon and gnome-keyring-daemon are needed for a private keyring");
    }
    keyring
}

/// Runs `tsched ARGS` (off the async runtime) with `$BROWSER` set to a python script, written
/// into `scratch`, that follows the sign-in address to the loopback (the sandbox approves
/// automatically).
pub async fn with_following_browser(
    scratch: &Path,
    data: &Path,
    bus: &str,
    args: &[&str],
) -> Output {
    let script = scratch.join("follow.py");
    std::fs::write(
        &script,
        "import sys, urllib.request\nurllib.request.urlopen(sys.argv[1], timeout=20).read()\n",
    )
    .expect("script");
    Tsched::new(data)
        .bus(bus)
        .browser(&format!("python3 {}", script.display()))
        .run_async(args)
        .await
}

/// Connects the integration with `tsched integration connect` against `sandbox` (auto-consent).
pub async fn connect_through_cli(
    scratch: &Path,
    data: &Path,
    keyring: &PrivateKeyring,
    sandbox: &tsched_sandbox::RunningSandbox,
) {
    let h = sandbox.handle();
    let args = [
        "integration",
        "connect",
        "--tenant",
        &h.tenant_id(),
        "--client-id",
        &h.client_id(),
        "--sandbox",
        sandbox.base_url(),
        "--timeout",
        "30",
    ];
    let out = with_following_browser(scratch, data, &keyring.address, &args).await;
    assert!(
        out.status.success(),
        "connect through the private keyring: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
