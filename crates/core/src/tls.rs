//! Extra certificate authorities the identity and Graph client trusts, on top of the built-in
//! web roots: a tenant sandbox served over HTTPS (`tsched-sandbox --tls`) signs its certificate
//! with a CA it made at start, and a client that should talk to it must trust that CA — never
//! turn verification off. The CA comes from `--ca-file` (the CLI calls [`trust_ca_file`]) or
//! the `TSCHED_CA_FILE` environment variable (read once, the first time a client is built).
//!
//! This module owns reading and checking the PEM file and applying the roots to a
//! `reqwest::ClientBuilder`; `auth::tokens::http_client` is its only caller. It never disables
//! or weakens certificate or host-name verification, and it trusts nothing else.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// The environment variable naming a PEM file of extra CA certificates.
pub const CA_FILE_ENV: &str = "TSCHED_CA_FILE";

/// Errors reading an extra CA file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The file could not be read.
    #[error("cannot read the CA file {path}: {source}")]
    Read {
        /// The file named.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file holds no PEM certificate (`-----BEGIN CERTIFICATE-----`).
    #[error("the CA file {path} holds no PEM certificate")]
    NoCertificate {
        /// The file named.
        path: PathBuf,
    },
    /// A certificate in the file is not a usable X.509 CA certificate.
    #[error("the CA file {path} holds a certificate that cannot be used: {detail}")]
    Invalid {
        /// The file named.
        path: PathBuf,
        /// What the TLS stack said.
        detail: String,
    },
}

/// The configured roots: `None` until configured (then the environment is read once).
fn slot() -> &'static Mutex<Option<Vec<reqwest::Certificate>>> {
    static SLOT: OnceLock<Mutex<Option<Vec<reqwest::Certificate>>>> = OnceLock::new();
    SLOT.get_or_init(|| Mutex::new(None))
}

/// Reads and checks a PEM file of CA certificates (one or more `CERTIFICATE` blocks).
pub fn load_ca_file(path: &Path) -> Result<Vec<reqwest::Certificate>, TlsError> {
    let pem = std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| TlsError::Invalid {
        path: path.to_owned(),
        detail: e.to_string(),
    })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_owned(),
        });
    }
    // The TLS stack parses the DER only when a client is built: build one now, so a bad file is
    // a located error here and never a failure (or a panic) in `http_client()` later.
    let mut probe = reqwest::Client::builder();
    for c in &certs {
        probe = probe.add_root_certificate(c.clone());
    }
    probe.build().map_err(|e| TlsError::Invalid {
        path: path.to_owned(),
        detail: e.to_string(),
    })?;
    Ok(certs)
}

/// Trusts the CA certificates in `path` for every client built from now on in this process
/// (replacing an earlier choice, including `TSCHED_CA_FILE`).
pub fn trust_ca_file(path: &Path) -> Result<(), TlsError> {
    let certs = load_ca_file(path)?;
    tracing::info!(path = %path.display(), certificates = certs.len(), "trusting an extra CA");
    *slot().lock().unwrap_or_else(|p| p.into_inner()) = Some(certs);
    Ok(())
}

/// The roots to add: the configured ones, else (once) those of `TSCHED_CA_FILE`. A bad
/// `TSCHED_CA_FILE` is logged and trusted for nothing: connections to a server signed by it then
/// fail verification, which is the safe way to fail.
fn configured_roots() -> Vec<reqwest::Certificate> {
    let mut guard = slot().lock().unwrap_or_else(|p| p.into_inner());
    if guard.is_none() {
        let from_env = match std::env::var_os(CA_FILE_ENV).filter(|v| !v.is_empty()) {
            None => Vec::new(),
            Some(path) => match load_ca_file(Path::new(&path)) {
                Ok(certs) => certs,
                Err(e) => {
                    tracing::warn!(error = %e, "{CA_FILE_ENV} is not used");
                    Vec::new()
                }
            },
        };
        *guard = Some(from_env);
    }
    guard.clone().unwrap_or_default()
}

/// Adds the extra CA certificates (if any) to a client under construction. The built-in roots
/// stay: Microsoft's clouds keep working alongside a sandbox.
pub fn with_extra_roots(mut builder: reqwest::ClientBuilder) -> reqwest::ClientBuilder {
    for cert in configured_roots() {
        builder = builder.add_root_certificate(cert);
    }
    builder
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_ca_file_is_a_located_error() {
        let err = load_ca_file(Path::new("/nonexistent/ca.pem")).expect_err("no such file");
        assert!(
            err.to_string().contains("/nonexistent/ca.pem"),
            "the error names the file: {err}"
        );
    }

    #[test]
    fn a_file_without_a_certificate_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate\n").expect("write");
        let err = load_ca_file(&path).expect_err("no PEM block");
        assert!(
            matches!(err, TlsError::NoCertificate { .. }),
            "no certificate: {err}"
        );
    }

    #[test]
    fn a_garbled_certificate_is_refused_before_any_client_is_built() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ca.pem");
        std::fs::write(
            &path,
            "-----BEGIN CERTIFICATE-----\nAAAAAAAAAAAAAAAAAAAA\n-----END CERTIFICATE-----\n",
        )
        .expect("write");
        let err = load_ca_file(&path).expect_err("garbled DER");
        assert!(
            matches!(err, TlsError::Invalid { .. }),
            "a bad certificate is a located error, not a panic in http_client(): {err}"
        );
    }
}
