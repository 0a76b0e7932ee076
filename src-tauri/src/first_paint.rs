//! Start-up probe for the start-up bench (`make bench-startup`): when `TSCHED_BENCH_FIRST_PAINT`
//! names a file, a plugin reports the moment the page has painted for the first time (after the
//! `load` event and two animation frames, measured inside the page) by appending one line to that
//! file: `t=EPOCH_MS&origin=EPOCH_MS&dcl=MS&load=MS`, the paint time and the navigation's start
//! (both epoch milliseconds), and `DOMContentLoaded` and `load` in milliseconds after that start.
//! Without the variable nothing is registered, so a normal start-up is untouched.
//!
//! The same file is compiled into the bench's Tauri hello world
//! (`benches/startup/hello/src/main.rs` includes it by path), so both apps report through exactly
//! the same mechanism. The page cannot reach the harness over the network (our CSP allows `'self'`
//! and IPC only) and must not need a command permission, so the script asks for a navigation to a
//! reserved `.invalid` URL carrying the time; the plugin's navigation hook reads it and cancels the
//! navigation. Initialization scripts run as WebKit user scripts, outside the page's CSP.

use std::io::Write as _;
use std::path::PathBuf;

use tauri::plugin::{Builder, TauriPlugin};
use tauri::Runtime;

/// The environment variable that turns the probe on; its value is the file to append to.
pub const ENV: &str = "TSCHED_BENCH_FIRST_PAINT";

/// Where the probe's navigation goes (never loaded: the hook cancels it).
const REPORT_URL: &str = "https://first-paint.invalid/";

/// Runs in the main frame at document start: after `load` and two animation frames (the second
/// callback runs once the first frame with the loaded page has been produced), reports the time.
const SCRIPT: &str = r#"(function () {
  var report = function () {
    requestAnimationFrame(function () {
      requestAnimationFrame(function () {
        var t = performance.timeOrigin + performance.now();
        var nav = performance.getEntriesByType("navigation")[0] || {};
        location.href = "https://first-paint.invalid/?t=" + t +
          "&origin=" + performance.timeOrigin +
          "&dcl=" + (nav.domContentLoadedEventStart || 0) +
          "&load=" + (nav.loadEventStart || 0);
      });
    });
  };
  if (document.readyState === "complete") report();
  else window.addEventListener("load", report, { once: true });
})();"#;

/// The probe plugin, or `None` (the normal case) when [`ENV`] is not set.
pub fn plugin<R: Runtime>() -> Option<TauriPlugin<R>> {
    let file = PathBuf::from(std::env::var_os(ENV).filter(|v| !v.is_empty())?);
    Some(
        Builder::new("first-paint")
            .js_init_script(SCRIPT)
            .on_navigation(move |_webview, url| {
                if !url.as_str().starts_with(REPORT_URL) {
                    return true;
                }
                if let Some(report) = url.query() {
                    if let Ok(mut f) = std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(&file)
                    {
                        let _ = writeln!(f, "{report}");
                    }
                }
                false
            })
            .build(),
    )
}
