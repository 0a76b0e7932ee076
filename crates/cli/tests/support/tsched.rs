//! The one way the tests run the real `tsched` binary: the CLI test binaries (`mod support;`)
//! and the window E2E crate (`tsched-e2e`, which includes this file by path) build every run
//! with [`Tsched`], so the environment rules below live here only.
//!
//! Every run gets `--data-dir`, `TSCHED_TEST_IMPERSONATION=1` (tests name operators with `--as`
//! and `TSCHED_OPERATOR`: the test-only switch), none of a developer's own `TSCHED_OPERATOR`,
//! `TSCHED_DATA_DIR`, `TSCHED_CA_FILE` or `RUST_LOG`, and a D-Bus address that leads nowhere,
//! so a developer's real keyring is never touched, unless the test gives a bus.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A D-Bus address with no bus behind it: the keyring is unavailable.
const NO_BUS: &str = "unix:path=/nonexistent/tsched-test-bus";

/// The developer's settings a run never inherits (tests set what they need explicitly).
const NOT_INHERITED: [&str; 5] = [
    "TSCHED_OPERATOR",
    "TSCHED_DATA_DIR",
    "TSCHED_CA_FILE",
    // A developer's team database must never be what a test writes to.
    "TSCHED_DATABASE_URL",
    "RUST_LOG",
];

/// Which D-Bus (and so which Secret Service) `tsched` reaches.
#[derive(Debug, Clone)]
enum Bus {
    /// [`NO_BUS`]: the keyring is unavailable.
    Nowhere,
    /// A private session bus, e.g. a throwaway keyring's.
    At(String),
    /// The session bus the tests run in (`make test`'s unlocked keyring).
    Session,
}

/// A `tsched` run on one data directory; configure it, then [`run`](Tsched::run) it as often as
/// needed.
#[derive(Debug, Clone)]
pub struct Tsched {
    binary: PathBuf,
    data_dir: PathBuf,
    bus: Bus,
    /// Set (`Some`) or removed (`None`) after the defaults, in order.
    env: Vec<(OsString, Option<OsString>)>,
}

impl Tsched {
    /// The binary at `binary` on `data_dir`, with the default environment.
    pub fn at(binary: impl Into<PathBuf>, data_dir: impl AsRef<Path>) -> Self {
        Self {
            binary: binary.into(),
            data_dir: data_dir.as_ref().to_path_buf(),
            bus: Bus::Nowhere,
            env: Vec::new(),
        }
    }

    /// Reaches the Secret Service on the session bus at `address` (a private keyring).
    pub fn bus(mut self, address: &str) -> Self {
        self.bus = Bus::At(address.to_string());
        self
    }

    /// With `yes`, keeps the session bus the tests run in (`make test`'s unlocked keyring);
    /// without, D-Bus leads nowhere (the default).
    pub fn session_bus(mut self, yes: bool) -> Self {
        self.bus = if yes { Bus::Session } else { Bus::Nowhere };
        self
    }

    /// `$BROWSER`: the command that opens the sign-in address.
    pub fn browser(self, command: &str) -> Self {
        self.env("BROWSER", command)
    }

    /// `TSCHED_CA_FILE`: the CA a sandbox over HTTPS is trusted with.
    pub fn ca_file(self, path: &Path) -> Self {
        self.env("TSCHED_CA_FILE", path)
    }

    /// Sets `key` (after the defaults, so it may override them).
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        let value = value.as_ref().to_os_string();
        self.env.push((key.as_ref().to_os_string(), Some(value)));
        self
    }

    /// Removes `key` (after the defaults, so it may override them).
    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Self {
        self.env.push((key.as_ref().to_os_string(), None));
        self
    }

    /// The command `tsched --data-dir DIR ARGS`, for a test that spawns it itself.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.binary);
        cmd.arg("--data-dir").arg(&self.data_dir).args(args);
        for key in NOT_INHERITED {
            cmd.env_remove(key);
        }
        cmd.env("TSCHED_TEST_IMPERSONATION", "1");
        match &self.bus {
            Bus::Nowhere => cmd.env("DBUS_SESSION_BUS_ADDRESS", NO_BUS),
            Bus::At(address) => cmd.env("DBUS_SESSION_BUS_ADDRESS", address),
            Bus::Session => &mut cmd,
        };
        for (key, value) in &self.env {
            match value {
                Some(v) => cmd.env(key, v),
                None => cmd.env_remove(key),
            };
        }
        cmd
    }

    /// Runs `tsched ARGS` to the end.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args)
            .output()
            .expect("invariant: the tsched binary runs")
    }

    /// [`run`](Tsched::run) off the async runtime, so a sandbox in this process keeps serving.
    pub async fn run_async(&self, args: &[&str]) -> Output {
        let mut cmd = self.command(args);
        tokio::task::spawn_blocking(move || cmd.output())
            .await
            .expect("invariant: the blocking task is not cancelled")
            .expect("invariant: the tsched binary runs")
    }

    /// Runs and asserts success, returning stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "tsched {args:?} must succeed; stderr: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// Runs and asserts failure with `code` and exactly one line on stderr, returning that line.
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        let o = self.run(args);
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(
            o.status.code(),
            Some(code),
            "tsched {args:?} must exit {code}; stdout: {} stderr: {err}",
            String::from_utf8_lossy(&o.stdout)
        );
        assert_eq!(
            err.lines().count(),
            1,
            "a failure prints exactly one line on stderr: {err:?}"
        );
        err.trim_end().to_string()
    }
}
