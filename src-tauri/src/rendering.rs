//! How WebKitGTK paints the window.
//!
//! WebKitGTK 2.46 and later paint a page with Skia on the GPU whenever a GL driver is there —
//! including Mesa's software rasteriser (llvmpipe) on machines without a GPU: virtual machines,
//! remote desktops, CI. Our pages are forms and tables, with no canvas, video or 3D; painted on
//! the CPU they show sooner and the app and its web process use less memory (measured in
//! `docs/BENCHMARKS.md`, "Start-up, memory and size"). So the app asks WebKit for CPU painting
//! unless the person who started it already chose: `WEBKIT_SKIA_ENABLE_CPU_RENDERING=0` keeps
//! WebKit's GPU painting. Compositing stays as WebKit decides.

use std::ffi::OsStr;

/// WebKit's own switch; its web processes inherit it from the app's environment.
pub const CPU_PAINTING: &str = "WEBKIT_SKIA_ENABLE_CPU_RENDERING";

/// Pure: the value to set, given what the environment holds (`None` = leave it as it is).
pub fn cpu_painting_value(current: Option<&OsStr>) -> Option<&'static str> {
    match current {
        Some(_) => None,
        None => Some("1"),
    }
}

/// Sets [`CPU_PAINTING`] unless it is set. Call it first thing in `main`, before any thread
/// exists (changing the environment is only sound while nothing else reads it).
pub fn prefer_cpu_painting() {
    if let Some(value) = cpu_painting_value(std::env::var_os(CPU_PAINTING).as_deref()) {
        std::env::set_var(CPU_PAINTING, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_painting_is_asked_for_only_when_nobody_chose() {
        assert_eq!(cpu_painting_value(None), Some("1"));
        assert_eq!(
            cpu_painting_value(Some(OsStr::new("0"))),
            None,
            "a person's 0 is kept"
        );
        assert_eq!(cpu_painting_value(Some(OsStr::new("1"))), None);
        assert_eq!(cpu_painting_value(Some(OsStr::new(""))), None);
    }
}
