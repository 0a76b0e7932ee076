//! The CLI's log: a daily file `<data dir>/logs/cli.YYYY-MM-DD.log` (14 kept) at `info` for our
//! crates, and, only when asked (`-v`, `-vv` or `RUST_LOG`), the same events on stderr, so the
//! normal output and its one-line errors do not change. A log folder that cannot be made never
//! stops the command: it warns once on stderr and runs without a file.

use std::path::Path;

use tracing_subscriber::filter::{EnvFilter, LevelFilter};
use tracing_subscriber::fmt;
use tracing_subscriber::prelude::*;

use tsched_core::diagnostics::{self, CLI_LOG_PREFIX};

/// What the file keeps: our crates at `info` (one line per use case and Graph call), the rest
/// only when it warns.
const FILE_FILTER: &str = "warn,tsched=info,tsched_core=info";

/// Installs the subscriber. `verbose` counts `-v`s; `RUST_LOG` (when set) decides stderr instead.
pub fn init(data_dir: Option<&Path>, verbose: u8) {
    let file = data_dir.and_then(file_writer).map(|w| {
        fmt::layer()
            .with_ansi(false)
            .with_writer(w)
            .with_filter(EnvFilter::new(FILE_FILTER))
    });
    let stderr = stderr_filter(verbose).map(|f| {
        fmt::layer()
            .with_ansi(false)
            .with_writer(std::io::stderr)
            .with_filter(f)
    });
    // A second init (never in this binary) would fail; nothing to do then.
    let _ = tracing_subscriber::registry()
        .with(file)
        .with(stderr)
        .try_init();
}

/// `RUST_LOG` wins; else `-v` shows our info, `-vv` our debug and everyone's info; else nothing.
fn stderr_filter(verbose: u8) -> Option<EnvFilter> {
    match std::env::var("RUST_LOG") {
        Ok(v) if !v.trim().is_empty() => return Some(EnvFilter::new(v)),
        _ => {}
    }
    match verbose {
        0 => None,
        1 => Some(EnvFilter::new("warn,tsched=info,tsched_core=info")),
        _ => Some(
            EnvFilter::builder()
                .with_default_directive(LevelFilter::INFO.into())
                .parse_lossy("tsched=debug,tsched_core=debug"),
        ),
    }
}

/// The daily rolling file, or `None` (after one warning) when the folder cannot be made.
fn file_writer(data_dir: &Path) -> Option<tracing_appender::rolling::RollingFileAppender> {
    match diagnostics::log_writer(data_dir, CLI_LOG_PREFIX) {
        Ok(w) => Some(w),
        Err(e) => {
            // When the data directory itself cannot exist, the command's own error names it;
            // a second line would only repeat it.
            if data_dir.is_dir() {
                eprintln!("tsched: warning: no log file ({e}); continuing without one");
            }
            None
        }
    }
}
