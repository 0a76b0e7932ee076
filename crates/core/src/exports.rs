//! Saving an export (audit CSV/JSON, batch results CSV, meetings .ics) as a file for the desktop
//! app, whose web view cannot download a Blob (WebKitGTK drops `<a download>` clicks). The file
//! goes to the export folder — `$TSCHED_EXPORT_DIR`, else the user's Downloads folder, else home —
//! under a sanitized name, never over an existing file, written whole or not at all. Every export
//! file is owner-only (0600 on Unix); [`write_private`] does the same for a path the CLI was given.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::error::Error;

/// File kinds an export may have.
const EXTENSIONS: [&str; 3] = ["csv", "json", "ics"];

/// Where exports go.
pub fn export_dir() -> Option<PathBuf> {
    std::env::var_os("TSCHED_EXPORT_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(dirs::download_dir)
        .or_else(dirs::home_dir)
}

/// Pure: a safe file name from a suggested one (`batch-3.csv`): letters, digits, `.`, `-`, `_`
/// only, at most 100 characters, one of the export extensions.
pub fn safe_name(suggested: &str) -> Result<String, Error> {
    let cleaned: String = suggested
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let cleaned = cleaned.trim_start_matches('.').to_string();
    let (stem, ext) = cleaned
        .rsplit_once('.')
        .ok_or_else(|| Error::invalid("name", format!("'{suggested}' has no file extension")))?;
    let ext = ext.to_ascii_lowercase();
    if !EXTENSIONS.contains(&ext.as_str()) {
        return Err(Error::invalid(
            "name",
            format!("'.{ext}' is not an export type (csv, json or ics)"),
        ));
    }
    if stem.is_empty() {
        return Err(Error::invalid("name", "the file name is empty"));
    }
    let stem: String = stem.chars().take(100 - ext.len() - 1).collect();
    Ok(format!("{stem}.{ext}"))
}

/// Writes `text` into `dir` as `name` (sanitized), or `name (2)`, `name (3)`… when taken.
/// Returns the path written.
pub fn save_text(dir: &Path, name: &str, text: &str) -> Result<PathBuf, Error> {
    let name = safe_name(name)?;
    let (stem, ext) = name
        .rsplit_once('.')
        .expect("invariant: safe_name keeps an extension");
    std::fs::create_dir_all(dir).map_err(|e| io_error(dir, &e))?;
    for n in 1..1000u32 {
        let candidate = if n == 1 {
            dir.join(&name)
        } else {
            dir.join(format!("{stem} ({n}).{ext}"))
        };
        match private_options().create_new(true).open(&candidate) {
            Ok(mut f) => {
                let written = f.write_all(text.as_bytes()).and_then(|()| f.sync_all());
                if let Err(e) = written {
                    let _ = std::fs::remove_file(&candidate);
                    return Err(io_error(&candidate, &e));
                }
                return Ok(candidate);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io_error(&candidate, &e)),
        }
    }
    Err(Error::Conflict(format!(
        "{} already holds 999 files named like {name}; clear some out",
        dir.display()
    )))
}

/// Options for writing an export: owner-only (0600 on Unix), as exports hold meeting links,
/// passcodes and participant addresses.
fn private_options() -> std::fs::OpenOptions {
    let mut o = std::fs::OpenOptions::new();
    o.write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        o.mode(0o600);
    }
    o
}

/// Writes `text` to `path` (a file the user named on the command line), replacing its content;
/// a new file is owner-only (0600 on Unix), and an existing one loses its group and other
/// permissions before the export goes in.
pub fn write_private(path: &Path, text: &str) -> Result<(), Error> {
    let mut f = private_options()
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| io_error(path, &e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let meta = f.metadata().map_err(|e| io_error(path, &e))?;
        let mode = meta.permissions().mode() & 0o7777;
        if meta.is_file() && mode & 0o077 != 0 {
            f.set_permissions(std::fs::Permissions::from_mode(mode & !0o077))
                .map_err(|e| io_error(path, &e))?;
        }
    }
    f.set_len(0)
        .and_then(|()| f.write_all(text.as_bytes()))
        .and_then(|()| f.sync_all())
        .map_err(|e| io_error(path, &e))
}

fn io_error(path: &Path, e: &std::io::Error) -> Error {
    Error::invalid("export", format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_sanitized_and_limited_to_export_types() {
        assert_eq!(safe_name("batch-3.csv").expect("ok"), "batch-3.csv");
        assert_eq!(
            safe_name("../../etc/passwd.csv").expect("ok"),
            "-..-etc-passwd.csv",
            "no directory can be reached"
        );
        assert_eq!(safe_name("Audit 2027.JSON").expect("ok"), "Audit-2027.json");
        assert!(safe_name("run.sh").is_err(), "only csv, json, ics");
        assert!(safe_name("noext").is_err());
        assert!(safe_name(".csv").is_err(), "an empty stem is refused");
        assert!(
            safe_name(&format!("{}.ics", "x".repeat(300)))
                .expect("ok")
                .len()
                <= 100
        );
    }

    #[test]
    fn an_existing_file_is_never_overwritten() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = save_text(dir.path(), "batch-1.csv", "first").expect("save");
        let b = save_text(dir.path(), "batch-1.csv", "second").expect("save");
        assert_eq!(a, dir.path().join("batch-1.csv"));
        assert_eq!(b, dir.path().join("batch-1 (2).csv"));
        assert_eq!(std::fs::read_to_string(&a).expect("read"), "first");
        assert_eq!(std::fs::read_to_string(&b).expect("read"), "second");
    }

    #[test]
    fn an_unwritable_folder_is_a_located_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("not-a-dir");
        std::fs::write(&file, "x").expect("write");
        let err = save_text(&file, "a.csv", "x").expect_err("not a directory");
        assert!(err.to_string().contains("not-a-dir"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn export_files_are_not_readable_by_other_users() {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        let dir = tempfile::tempdir().expect("tempdir");
        let saved = save_text(dir.path(), "audit.csv", "secret-ish").expect("save");
        assert_eq!(mode(&saved), 0o600, "a saved export is owner-only");
        let named = dir.path().join("meetings.ics");
        write_private(&named, "BEGIN:VCALENDAR").expect("write");
        assert_eq!(mode(&named), 0o600, "a new CLI export file is owner-only");
        std::fs::set_permissions(&named, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        write_private(&named, "short").expect("rewrite");
        assert_eq!(
            mode(&named),
            0o600,
            "an existing wide file is tightened first"
        );
        assert_eq!(
            std::fs::read_to_string(&named).expect("read"),
            "short",
            "the old, longer content is replaced, not left as a tail"
        );
    }
}
