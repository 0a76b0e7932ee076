//! Where the window's downloads go: the audit export (and any other file the window builds) is a
//! Blob link, and WebKit would otherwise save it in the process's working directory. Downloads
//! land in the user's Downloads folder under a name that never overwrites an existing file; only
//! `blob:` and `data:` URLs (files the window made itself) may be downloaded at all.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use tauri::webview::DownloadEvent;
use tauri::{Manager, Runtime, Webview};

/// The download handler of the main window.
pub fn handle<R: Runtime>(webview: Webview<R>, event: DownloadEvent<'_>) -> bool {
    match event {
        DownloadEvent::Requested { url, destination } => {
            if !matches!(url.scheme(), "blob" | "data") {
                return false;
            }
            let name = destination
                .file_name()
                .map(OsStr::to_owned)
                .unwrap_or_else(|| "download".into());
            let dir = webview
                .path()
                .download_dir()
                .or_else(|_| webview.path().home_dir());
            if let Ok(dir) = dir {
                *destination = unique_path(&dir, &name);
            }
            true
        }
        _ => true,
    }
}

/// `dir/name`, or `dir/stem (n).ext` with the first `n` that does not exist yet.
pub fn unique_path(dir: &Path, name: &OsStr) -> PathBuf {
    let first = dir.join(name);
    if !first.exists() {
        return first;
    }
    let as_path = Path::new(name);
    let stem = as_path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = as_path
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    (1..)
        .map(|n| dir.join(format!("{stem} ({n}){ext}")))
        .find(|p| !p.exists())
        .expect("invariant: an unbounded range always has a free name")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_export_on_the_same_day_does_not_overwrite_the_first() {
        let dir = tempfile::tempdir().expect("tempdir");
        let name = OsStr::new("teams-scheduler-audit-2027-03-14.csv");
        let first = unique_path(dir.path(), name);
        assert_eq!(first, dir.path().join(name), "a free name is used as it is");
        std::fs::write(&first, "x").expect("write");
        let second = unique_path(dir.path(), name);
        assert_eq!(
            second,
            dir.path().join("teams-scheduler-audit-2027-03-14 (1).csv"),
            "the next free name keeps the extension"
        );
    }
}
