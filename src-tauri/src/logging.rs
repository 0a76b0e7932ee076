//! The desktop app's log: a daily file `<data dir>/logs/app.YYYY-MM-DD.log` (14 kept) at `info`
//! for our crates; `RUST_LOG` also prints to stderr (nothing on stderr otherwise). A log folder
//! that cannot be made never stops the app: it warns once on stderr and runs without a file.

use std::path::Path;

use tracing_subscriber::filter::EnvFilter;
use tracing_subscriber::fmt;
use tracing_subscriber::prelude::*;

use tsched_core::diagnostics::{self, APP_LOG_PREFIX, LOG_FILES_KEPT, LOG_SUFFIX};

/// What the file keeps: our crates at `info` (one line per use case and Graph call), the rest
/// only when it warns.
const FILE_FILTER: &str = "warn,teams_scheduler=info,tsched_core=info";

/// Installs the subscriber for the app's lifetime.
pub fn init(data_dir: Option<&Path>) {
    let file = data_dir.and_then(file_writer).map(|w| {
        fmt::layer()
            .with_ansi(false)
            .with_writer(w)
            .with_filter(EnvFilter::new(FILE_FILTER))
    });
    let stderr = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .map(|v| {
            fmt::layer()
                .with_ansi(false)
                .with_writer(std::io::stderr)
                .with_filter(EnvFilter::new(v))
        });
    // Tests may start the app's pieces more than once in a process; the first one wins.
    let _ = tracing_subscriber::registry()
        .with(file)
        .with(stderr)
        .try_init();
}

/// The daily rolling file, or `None` (after one warning) when the folder cannot be made.
fn file_writer(data_dir: &Path) -> Option<tracing_appender::rolling::RollingFileAppender> {
    let dir = diagnostics::log_dir(data_dir);
    let made = make_private_dir(&dir)
        .map_err(|e| e.to_string())
        .and_then(|()| {
            tracing_appender::rolling::Builder::new()
                .rotation(tracing_appender::rolling::Rotation::DAILY)
                .filename_prefix(APP_LOG_PREFIX)
                .filename_suffix(LOG_SUFFIX)
                .max_log_files(LOG_FILES_KEPT)
                .build(&dir)
                .map_err(|e| e.to_string())
        });
    match made {
        Ok(w) => Some(w),
        Err(e) => {
            eprintln!(
                "teams-scheduler: warning: no log file ({}: {e}); continuing without one",
                dir.display()
            );
            None
        }
    }
}

/// The log folder, owner-only: log lines name operators and tenants.
fn make_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        b.mode(0o700);
    }
    b.create(dir)
}
