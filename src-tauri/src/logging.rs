//! The desktop app's log: a daily file `<data dir>/logs/app.YYYY-MM-DD.log` (14 kept) at `info`
//! for our crates; `RUST_LOG` also prints to stderr (nothing on stderr otherwise). A log folder
//! that cannot be made never stops the app: it warns once on stderr and runs without a file.

use std::path::Path;

use tracing_subscriber::filter::EnvFilter;
use tracing_subscriber::fmt;
use tracing_subscriber::prelude::*;

use tsched_core::diagnostics::{self, APP_LOG_PREFIX};

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
    match diagnostics::log_writer(data_dir, APP_LOG_PREFIX) {
        Ok(w) => Some(w),
        Err(e) => {
            eprintln!("teams-scheduler: warning: no log file ({e}); continuing without one");
            None
        }
    }
}
