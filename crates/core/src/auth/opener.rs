//! The browser opener seam. RFC 8252 §4/§8.12: native apps sign in through the *system*
//! browser, never an embedded web view. The desktop app plugs in tauri-plugin-opener; the CLI
//! uses [`SystemBrowser`], which honours `$BROWSER` like gh and Python's `webbrowser` do
//! (a list of commands separated by the path separator; `%s` is replaced by the URL, otherwise the
//! URL is appended as the last argument) and otherwise asks the OS (xdg-open, open, the Windows URL
//! handler). Commands are run directly, never through a shell, so the URL cannot inject anything.

use std::fmt;
use std::process::{Command, Stdio};

use super::AuthError;

/// Opens a URL for the person to sign in.
pub trait BrowserOpener: Send + Sync {
    /// Opens `url`. An error means the person must open it by hand.
    fn open(&self, url: &str) -> Result<(), AuthError>;
}

/// The system browser, or `$BROWSER` when set.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemBrowser;

/// Any closure as an opener (tests, `--no-browser` printing, the Tauri plugin).
pub struct FnOpener<F>(pub F);

impl<F> fmt::Debug for FnOpener<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FnOpener")
    }
}

impl<F> BrowserOpener for FnOpener<F>
where
    F: Fn(&str) -> Result<(), AuthError> + Send + Sync,
{
    fn open(&self, url: &str) -> Result<(), AuthError> {
        (self.0)(url)
    }
}

/// Pure: the argv for one `$BROWSER` entry and a URL.
pub fn browser_command(entry: &str, url: &str) -> Option<Vec<String>> {
    let words: Vec<&str> = entry.split_whitespace().collect();
    if words.is_empty() {
        return None;
    }
    let mut argv: Vec<String> = words.iter().map(|w| w.replace("%s", url)).collect();
    if !words.iter().any(|w| w.contains("%s")) {
        argv.push(url.to_string());
    }
    Some(argv)
}

fn default_command(url: &str) -> Vec<String> {
    if cfg!(target_os = "macos") {
        vec!["open".into(), url.into()]
    } else if cfg!(windows) {
        // rundll32 hands the URL to the default handler without cmd.exe parsing `&`.
        vec![
            "rundll32".into(),
            "url.dll,FileProtocolHandler".into(),
            url.into(),
        ]
    } else {
        vec!["xdg-open".into(), url.into()]
    }
}

fn spawn(argv: &[String]) -> std::io::Result<()> {
    let (prog, args) = argv
        .split_first()
        .ok_or_else(|| std::io::Error::other("empty command"))?;
    let mut child = Command::new(prog)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    // Reap it in the background so no zombie is left; its exit status does not matter: the
    // loopback wait (or its timeout) is the real signal.
    std::thread::spawn(move || child.wait());
    Ok(())
}

impl BrowserOpener for SystemBrowser {
    fn open(&self, url: &str) -> Result<(), AuthError> {
        let mut tried = Vec::new();
        if let Some(var) = std::env::var_os("BROWSER").filter(|v| !v.is_empty()) {
            let var = var.to_string_lossy().into_owned();
            let sep = if cfg!(windows) { ';' } else { ':' };
            for entry in var.split(sep) {
                if let Some(argv) = browser_command(entry, url) {
                    match spawn(&argv) {
                        Ok(()) => return Ok(()),
                        Err(e) => tried.push(format!("{}: {e}", argv[0])),
                    }
                }
            }
        }
        let argv = default_command(url);
        match spawn(&argv) {
            Ok(()) => Ok(()),
            Err(e) => {
                tried.push(format!("{}: {e}", argv[0]));
                Err(AuthError::Browser {
                    reason: tried.join("; "),
                    url: url.to_string(),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browser_var_substitutes_or_appends_the_url() {
        assert_eq!(
            browser_command("firefox --new-tab", "http://x/?a=1&b=2"),
            Some(vec![
                "firefox".into(),
                "--new-tab".into(),
                "http://x/?a=1&b=2".into()
            ]),
            "without %s the URL is appended"
        );
        assert_eq!(
            browser_command("curl -s %s", "http://x"),
            Some(vec!["curl".into(), "-s".into(), "http://x".into()]),
            "%s is replaced in place"
        );
        assert_eq!(
            browser_command("   ", "http://x"),
            None,
            "blank entries are skipped"
        );
    }
}
