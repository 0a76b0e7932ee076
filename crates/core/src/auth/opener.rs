//! The browser opener seam. RFC 8252 §4/§8.12: native apps sign in through the *system*
//! browser, never an embedded web view. The core only names the seam; the front ends plug in
//! the opener: the desktop app tauri-plugin-opener, the CLI the `webbrowser` crate (which honours
//! `$BROWSER`), tests a closure.

use std::fmt;

use super::AuthError;

/// Opens a URL for the person to sign in.
pub trait BrowserOpener: Send + Sync {
    /// Opens `url`. An error means the person must open it by hand.
    fn open(&self, url: &str) -> Result<(), AuthError>;
}

/// Any closure as an opener (the front ends' openers, `--no-browser` printing, tests).
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
