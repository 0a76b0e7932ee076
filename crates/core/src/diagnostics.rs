//! The diagnostics bundle support staff ask for when a sign-in or a Graph call fails: one zip
//! (deflate) with the recent log files, the app/OS/WebKitGTK versions, the store's schema
//! version, the integration's status (tenant, hosts, scopes, expiry) and the recent failures with
//! their Graph `request-id`s. Also where the log files live (`<data dir>/logs`, kept 14 days), so
//! both front ends and the bundle agree.
//!
//! It must never carry a secret: no token, code, verifier, password or `Authorization` header is
//! read here (the integration status comes from the store row, not the keyring), and as a second
//! line of defence every log line that mentions `authorization` or `bearer` is withheld from the
//! bundle. The zip is written `0600`, whole or not at all, never over an existing file.

use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};

use chrono::{Datelike as _, Timelike as _, Utc};
use serde::Serialize;
use serde_json::json;

use crate::access::{self, Action};
use crate::actor::Actor;
use crate::auth::Cloud;
use crate::error::Error;
use crate::integration::{self, KeyringCheck};
use crate::store::{self, Store};

/// Folder of the log files inside the data directory.
pub const LOG_DIR_NAME: &str = "logs";
/// How many daily log files each front end keeps (two weeks).
pub const LOG_FILES_KEPT: usize = 14;
/// File name prefix of the CLI's daily log (`cli.2026-12-04.log`).
pub const CLI_LOG_PREFIX: &str = "cli";
/// File name prefix of the desktop app's daily log (`app.2026-12-04.log`).
pub const APP_LOG_PREFIX: &str = "app";
/// File name suffix of every log file.
pub const LOG_SUFFIX: &str = "log";

/// Most log bytes put in one bundle (the newest lines are kept when a file is cut).
const LOG_BYTES_MAX: u64 = 16 * 1024 * 1024;
/// Most failures of each kind listed.
const FAILURES_MAX: usize = 100;
/// Most failed log events listed in `failures.json`.
const LOG_EVENTS_MAX: usize = 200;
/// What replaces a log line that looked like it carried a credential.
const WITHHELD: &str = "[line withheld from the diagnostics bundle: it mentioned a credential]";

/// The log folder of a data directory.
pub fn log_dir(data_dir: &Path) -> PathBuf {
    data_dir.join(LOG_DIR_NAME)
}

/// The daily rolling log file of a front end (`<data dir>/logs/{prefix}.YYYY-MM-DD.log`,
/// [`LOG_FILES_KEPT`] kept), its folder made owner-only first: log lines name operators and
/// tenants. The error says what could not be made; the front end decides how to warn.
pub fn log_writer(
    data_dir: &Path,
    prefix: &str,
) -> Result<tracing_appender::rolling::RollingFileAppender, String> {
    let dir = log_dir(data_dir);
    crate::store::create_private_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix(prefix)
        .filename_suffix(LOG_SUFFIX)
        .max_log_files(LOG_FILES_KEPT)
        .build(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))
}

/// What only the front end knows about where it runs.
#[derive(Debug, Clone, Serialize)]
pub struct Environment {
    /// `cli` or `app`.
    pub front_end: String,
    /// The front end's version (`CARGO_PKG_VERSION`).
    pub app_version: String,
    /// WebKitGTK's version, when the window reports it.
    pub webkitgtk_version: Option<String>,
}

/// What [`export`] wrote.
#[derive(Debug, Clone, Serialize)]
pub struct Exported {
    /// The zip written.
    pub path: PathBuf,
    /// The files inside it, in order.
    pub entries: Vec<String>,
}

/// Writes the bundle to `dest`, which must not exist yet. Needs the right to manage the
/// integration (the bundle lists failures across every program).
pub fn export(
    store: &Store,
    actor: &Actor,
    data_dir: &Path,
    env: &Environment,
    dest: &Path,
) -> Result<Exported, Error> {
    access::require(store.tables(), actor, Action::IntegrationManage, None)?;
    write_to(dest, Ok(store), data_dir, env)
}

/// The bundle when the store cannot be opened (corrupt, locked, from a newer version): logs,
/// versions and `why`, nothing from the store. No access check is possible then; it holds
/// nothing this OS user cannot already read in the data directory.
pub fn export_without_store(
    data_dir: &Path,
    env: &Environment,
    dest: &Path,
    why: &str,
) -> Result<Exported, Error> {
    write_to(dest, Err(why), data_dir, env)
}

fn write_to(
    dest: &Path,
    store: Result<&Store, &str>,
    data_dir: &Path,
    env: &Environment,
) -> Result<Exported, Error> {
    let file = create_private(dest)?;
    match write_bundle(file, store, data_dir, env) {
        Ok(entries) => {
            tracing::info!(entries = entries.len(), "diagnostics bundle exported");
            Ok(Exported {
                path: dest.to_path_buf(),
                entries,
            })
        }
        Err(e) => {
            // Whole or not at all: a cut bundle would mislead support.
            let _ = std::fs::remove_file(dest);
            Err(e)
        }
    }
}

/// Writes the bundle into `dir` as `tsched-diagnostics-<UTC time>.zip` (or `… (2).zip` when
/// taken): for the window, which saves into the export folder.
pub fn export_into(
    store: &Store,
    actor: &Actor,
    data_dir: &Path,
    env: &Environment,
    dir: &Path,
) -> Result<Exported, Error> {
    export(store, actor, data_dir, env, &free_name_in(dir)?)
}

/// A bundle's path in `dir` not taken yet: `tsched-diagnostics-<UTC time>.zip`, or
/// `… (2).zip`. Creates `dir` when needed.
pub fn free_name_in(dir: &Path) -> Result<PathBuf, Error> {
    std::fs::create_dir_all(dir).map_err(|e| io_error(dir, &e))?;
    let stem = format!("tsched-diagnostics-{}", Utc::now().format("%Y%m%d-%H%M%S"));
    for n in 1..100u32 {
        let name = if n == 1 {
            format!("{stem}.zip")
        } else {
            format!("{stem} ({n}).zip")
        };
        let candidate = dir.join(name);
        if !candidate.exists() {
            return Ok(candidate);
        }
    }
    Err(Error::Conflict(format!(
        "{} already holds 99 diagnostics bundles named {stem}; clear some out",
        dir.display()
    )))
}

fn create_private(dest: &Path) -> Result<std::fs::File, Error> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    opts.open(dest).map_err(|e| io_error(dest, &e))
}

fn io_error(path: &Path, e: &std::io::Error) -> Error {
    Error::invalid(
        "diagnostics",
        format!("cannot write {}: {e}", path.display()),
    )
}

fn zip_error(e: zip::result::ZipError) -> Error {
    Error::invalid("diagnostics", format!("cannot write the zip: {e}"))
}

fn write_bundle(
    file: std::fs::File,
    store: Result<&Store, &str>,
    data_dir: &Path,
    env: &Environment,
) -> Result<Vec<String>, Error> {
    let mut opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o600);
    // Entries dated now (UTC), not 1980: support reads the times.
    let now = Utc::now().naive_utc();
    if let Ok(t) = zip::DateTime::from_date_and_time(
        u16::try_from(now.year()).unwrap_or(1980),
        now.month() as u8,
        now.day() as u8,
        now.hour() as u8,
        now.minute() as u8,
        now.second() as u8,
    ) {
        opts = opts.last_modified_time(t);
    }
    let mut zip = zip::ZipWriter::new(file);
    let mut entries = Vec::new();
    let mut put = |zip: &mut zip::ZipWriter<std::fs::File>, name: String, bytes: &[u8]| {
        zip.start_file(name.as_str(), opts).map_err(zip_error)?;
        zip.write_all(bytes)
            .map_err(|e| Error::invalid("diagnostics", format!("cannot write the zip: {e}")))?;
        entries.push(name);
        Ok::<(), Error>(())
    };

    let logs = recent_logs(&log_dir(data_dir));
    let summary = summary(store, data_dir, env, &logs);
    put(&mut zip, "summary.json".into(), &pretty(&summary))?;
    let failures = failures(store, &logs);
    put(&mut zip, "failures.json".into(), &pretty(&failures))?;
    for log in &logs {
        put(&mut zip, format!("logs/{}", log.name), log.text.as_bytes())?;
    }
    let file = zip.finish().map_err(zip_error)?;
    file.sync_all()
        .map_err(|e| Error::invalid("diagnostics", format!("cannot write the zip: {e}")))?;
    Ok(entries)
}

fn pretty(v: &serde_json::Value) -> Vec<u8> {
    serde_json::to_vec_pretty(v).expect("invariant: a JSON value always serializes")
}

/// One log file as it goes into the bundle.
#[derive(Debug)]
struct LogFile {
    name: String,
    text: String,
    cut: bool,
}

/// The newest log files first, within [`LOG_BYTES_MAX`] in all, scrubbed line by line.
fn recent_logs(dir: &Path) -> Vec<LogFile> {
    let Ok(read) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<(std::time::SystemTime, PathBuf, String, u64)> = read
        .filter_map(Result::ok)
        .filter_map(|e| {
            // No symlinks: the bundle takes only files our front ends wrote.
            let meta = e.path().symlink_metadata().ok()?;
            let name = e.file_name().to_str()?.to_string();
            (meta.is_file() && name.ends_with(&format!(".{LOG_SUFFIX}"))).then(|| {
                let modified = meta.modified().unwrap_or(std::time::UNIX_EPOCH);
                (modified, e.path(), name, meta.len())
            })
        })
        .collect();
    files.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| b.2.cmp(&a.2)));
    let mut budget = LOG_BYTES_MAX;
    let mut out = Vec::new();
    for (_, path, name, len) in files.into_iter().take(2 * LOG_FILES_KEPT) {
        if budget == 0 {
            break;
        }
        let take = len.min(budget);
        let Some(raw) = read_tail(&path, len, take) else {
            continue;
        };
        budget -= take;
        out.push(LogFile {
            name,
            text: scrub(&String::from_utf8_lossy(&raw)),
            cut: take < len,
        });
    }
    out
}

fn read_tail(path: &Path, len: u64, take: u64) -> Option<Vec<u8>> {
    let mut f = std::fs::File::open(path).ok()?;
    f.seek(SeekFrom::Start(len - take)).ok()?;
    let mut buf = Vec::with_capacity(take as usize);
    f.take(take).read_to_end(&mut buf).ok()?;
    Some(buf)
}

/// Pure: withholds every line that mentions an `Authorization` header or a bearer token. Our
/// own events never carry one; this guards against a dependency's debug output.
pub fn scrub(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let lower = line.to_ascii_lowercase();
        if lower.contains("authorization") || lower.contains("bearer") {
            out.push_str(WITHHELD);
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

/// Pure: the `request-id` a core error message names (`[request-id …]`), if any.
pub fn request_id_in(message: &str) -> Option<String> {
    let start = message.find("[request-id ")? + "[request-id ".len();
    let rest = &message[start..];
    let end = rest.find(']')?;
    Some(rest[..end].trim().to_string()).filter(|s| !s.is_empty())
}

fn os_release() -> serde_json::Value {
    let text = std::fs::read_to_string("/etc/os-release")
        .or_else(|_| std::fs::read_to_string("/usr/lib/os-release"))
        .unwrap_or_default();
    let field = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .map(|v| v.trim_matches('"').to_string())
    };
    let kernel = |f: &str| {
        std::fs::read_to_string(format!("/proc/sys/kernel/{f}"))
            .ok()
            .map(|s| s.trim().to_string())
    };
    json!({
        "family": std::env::consts::OS,
        "arch": std::env::consts::ARCH,
        "pretty_name": field("PRETTY_NAME"),
        "id": field("ID"),
        "version_id": field("VERSION_ID"),
        "kernel": {
            "ostype": kernel("ostype"),
            "osrelease": kernel("osrelease"),
            "version": kernel("version"),
        },
    })
}

fn summary(
    store: Result<&Store, &str>,
    data_dir: &Path,
    env: &Environment,
    logs: &[LogFile],
) -> serde_json::Value {
    let (store_json, integration) = match store {
        Ok(store) => {
            let schema = store::migrations::version(store)
                .map(|v| json!(v))
                .unwrap_or_else(|e| json!(format!("unreadable: {e}")));
            (
                json!({
                    "schema_version": schema,
                    "schema_version_of_this_build": store::migrations::CURRENT_VERSION,
                    "path": store.path().display().to_string(),
                }),
                integration_summary(store),
            )
        }
        Err(why) => (
            json!({
                "error": format!("the store could not be opened: {why}"),
                "schema_version_of_this_build": store::migrations::CURRENT_VERSION,
                "path": crate::paths::db_path(data_dir).display().to_string(),
            }),
            json!({ "error": "the store could not be opened" }),
        ),
    };
    json!({
        "generated_at": crate::time::now_db(),
        "front_end": env.front_end,
        "app_version": env.app_version,
        "core_version": env!("CARGO_PKG_VERSION"),
        "webkitgtk_version": env.webkitgtk_version,
        "os": os_release(),
        "store": store_json,
        "log_dir": log_dir(data_dir).display().to_string(),
        "logs": logs.iter().map(|l| json!({ "file": l.name, "cut_to_newest": l.cut })).collect::<Vec<_>>(),
        "integration": integration,
    })
}

/// Tenant, hosts, scopes and expiry from the store row; the keyring is not read (so no token
/// can be), hence `NotChecked`.
fn integration_summary(store: &Store) -> serde_json::Value {
    let row = match store.tables().integration_get() {
        Ok(row) => row,
        Err(e) => return json!({ "error": format!("unreadable: {e}") }),
    };
    let mode = store
        .tables()
        .integration_invitation_mode()
        .unwrap_or_default();
    let status = integration::assess(row.as_ref(), mode, KeyringCheck::NotChecked, Utc::now());
    let hosts = row.as_ref().map(|r| {
        let graph_host = url::Url::parse(&r.graph_base)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string));
        let authority_host = Cloud::from_stored(&r.cloud, &r.authority_base)
            .map(|c| c.authority_host())
            .ok();
        json!({ "authority_host": authority_host, "graph_host": graph_host })
    });
    json!({
        "state": status.state,
        "reasons": status.reasons,
        "cloud": status.cloud,
        "tenant_id": status.tenant_id,
        "client_id": status.client_id,
        "hosts": hosts,
        "host_upn": status.host_upn,
        "granted_scopes": status.granted_scopes,
        "missing_scopes": status.missing_scopes,
        "connected_at": status.connected_at,
        "last_refresh_at": status.last_refresh_at,
        "inactivity_expires_at": status.inactivity_expires_at,
        "removed_at": status.removed_at,
        "meetings_available": status.meetings_available,
        "meetings_unavailable_reason": status.meetings_unavailable_reason,
        "invitation_mode": status.invitation_mode,
        "invitations_unavailable_reason": status.invitations_unavailable_reason,
    })
}

/// Recent failures: failed batch items, meetings whose last Graph call failed, and the log's
/// warnings and errors (each Graph failure there carries `request_id` and `client_request_id`).
fn failures(store: Result<&Store, &str>, logs: &[LogFile]) -> serde_json::Value {
    // Newest first: files come newest first, and each file's lines are read from its end.
    let events: Vec<&str> = logs
        .iter()
        .flat_map(|l| l.text.lines().rev())
        .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "))
        .take(LOG_EVENTS_MAX)
        .collect();
    let Ok(store) = store else {
        return json!({ "log_events_newest_first": events });
    };
    let limit = FAILURES_MAX as u32;
    let batch_items = rows_or_error(store.tables().batch_items_recent_failed(limit), |i| {
        json!({
            "batch_id": i.batch_id,
            "line": i.line,
            "external_id": i.external_id,
            "error_code": i.error_code,
            "request_id": i.error_message.as_deref().and_then(request_id_in),
            "error": i.error_message,
            "attempts": i.attempts,
            "at": i.updated_at,
        })
    });
    let meetings = rows_or_error(store.tables().meetings_recent_with_errors(limit), |m| {
        json!({
            "external_id": m.external_id,
            "state": m.state,
            "request_id": m.last_error.as_deref().and_then(request_id_in),
            "error": m.last_error,
            "at": m.updated_at,
        })
    });
    json!({
        "batch_items": batch_items,
        "meetings": meetings,
        "log_events_newest_first": events,
    })
}

/// The rows as JSON, or what made them unreadable (a bundle is written even then).
fn rows_or_error<T, E: std::fmt::Display>(
    rows: Result<Vec<T>, E>,
    map: impl Fn(&T) -> serde_json::Value,
) -> serde_json::Value {
    match rows {
        Ok(rows) => json!(rows.iter().map(map).collect::<Vec<_>>()),
        Err(e) => json!({ "error": format!("unreadable: {e}") }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Environment {
        Environment {
            front_end: "cli".into(),
            app_version: "9.9.9".into(),
            webkitgtk_version: Some("2.48.1".into()),
        }
    }

    fn read_zip(path: &Path) -> Vec<(String, String)> {
        let f = std::fs::File::open(path).expect("open zip");
        let mut z = zip::ZipArchive::new(f).expect("a valid zip");
        (0..z.len())
            .map(|i| {
                let mut e = z.by_index(i).expect("entry");
                let name = e.name().expect("name").to_string();
                let mut s = String::new();
                e.read_to_string(&mut s).expect("utf-8 entry");
                (name, s)
            })
            .collect()
    }

    #[test]
    fn bundle_has_summary_failures_and_logs_and_is_private() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open_in(dir.path()).expect("store");
        std::fs::create_dir_all(log_dir(dir.path())).expect("logs");
        std::fs::write(
            log_dir(dir.path()).join("cli.2026-12-04.log"),
            "2026-12-04T10:00:00Z  WARN tsched_core::graph: graph call failed status=500 request_id=\"r-1\"\nAuthorization: Bearer planted\n2026-12-04T10:00:05Z  WARN tsched_core::graph::trace: graph call failed status=503 request_id=\"r-2\"\n",
        )
        .expect("log");
        let dest = dir.path().join("out.zip");
        let out = export(&store, &Actor::local(), dir.path(), &env(), &dest).expect("export");
        assert_eq!(
            out.entries,
            ["summary.json", "failures.json", "logs/cli.2026-12-04.log"],
            "the bundle lists summary, failures, then the logs"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&dest).expect("meta").permissions().mode();
            assert_eq!(
                mode & 0o777,
                0o600,
                "the bundle is readable by its owner only"
            );
        }
        let files = read_zip(&dest);
        let summary: serde_json::Value = serde_json::from_str(&files[0].1).expect("json");
        assert_eq!(
            summary["app_version"], "9.9.9",
            "the front end's version is named"
        );
        assert_eq!(
            summary["webkitgtk_version"], "2.48.1",
            "WebKitGTK's version is named"
        );
        assert_eq!(
            summary["store"]["schema_version"],
            store::migrations::CURRENT_VERSION,
            "the store's schema version is named"
        );
        assert_eq!(
            summary["integration"]["state"], "not_connected",
            "a store without integration says so: {summary}"
        );
        let failures: serde_json::Value = serde_json::from_str(&files[1].1).expect("json");
        assert!(
            failures["log_events_newest_first"][0]
                .as_str()
                .is_some_and(|l| l.contains("r-2")),
            "the log's newest Graph failure comes first, with its request-id: {failures}"
        );
        assert!(
            failures["log_events_newest_first"][1]
                .as_str()
                .is_some_and(|l| l.contains("r-1")),
            "the older failure follows: {failures}"
        );
        let log = &files[2].1;
        assert!(
            !log.contains("planted"),
            "an Authorization line never reaches the bundle"
        );
        assert!(
            log.contains("withheld"),
            "the withheld line is marked: {log}"
        );
    }

    #[test]
    fn an_existing_file_is_never_overwritten_by_a_bundle() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open_in(dir.path()).expect("store");
        let dest = dir.path().join("taken.zip");
        std::fs::write(&dest, "keep me").expect("write");
        let err = export(&store, &Actor::local(), dir.path(), &env(), &dest).expect_err("taken");
        assert!(
            err.to_string().contains("taken.zip"),
            "the error names the file: {err}"
        );
        assert_eq!(std::fs::read_to_string(&dest).expect("read"), "keep me");
        let a = export_into(&store, &Actor::local(), dir.path(), &env(), dir.path()).expect("a");
        let b = export_into(&store, &Actor::local(), dir.path(), &env(), dir.path()).expect("b");
        assert_ne!(a.path, b.path, "a second bundle gets its own name");
    }

    #[test]
    fn an_unopenable_store_still_gives_a_bundle_of_logs_and_versions() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(log_dir(dir.path())).expect("logs");
        std::fs::write(
            log_dir(dir.path()).join("app.2026-12-04.log"),
            "2026-12-04T10:00:00Z ERROR teams_scheduler: the store is unusable\n",
        )
        .expect("log");
        let dest = dir.path().join("out.zip");
        let out = export_without_store(dir.path(), &env(), &dest, "file is not a database")
            .expect("a bundle without the store");
        assert!(
            out.entries.iter().any(|e| e == "logs/app.2026-12-04.log"),
            "the logs are there when the store is not: {:?}",
            out.entries
        );
        let files = read_zip(&dest);
        let summary: serde_json::Value = serde_json::from_str(&files[0].1).expect("json");
        assert!(
            summary["store"]["error"]
                .as_str()
                .is_some_and(|e| e.contains("file is not a database")),
            "the summary says why the store is missing: {summary}"
        );
        let failures: serde_json::Value = serde_json::from_str(&files[1].1).expect("json");
        assert!(
            failures["log_events_newest_first"][0]
                .as_str()
                .is_some_and(|l| l.contains("unusable")),
            "the log's errors are still listed: {failures}"
        );
    }

    #[test]
    fn request_ids_are_read_from_core_error_messages() {
        assert_eq!(
            request_id_in(
                "Microsoft Graph refused the request (HTTP 500): boom [request-id abc-1]"
            )
            .as_deref(),
            Some("abc-1"),
            "the GraphError display's request-id is found"
        );
        assert_eq!(request_id_in("no id here"), None, "no id, no guess");
    }
}
