//! The team database's TLS client configuration for each [`SslMode`]: rustls with the ring
//! provider (the one the HTTP client already uses).
//!
//! `verify-full` trusts the built-in web roots plus a team's CA file, as `crate::tls` does for
//! HTTP, and checks the host name; `require` encrypts without checking who answers (still
//! checking the handshake's signatures); `disable` is plain text. Nothing here turns
//! verification off for `verify-full`, ever.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use super::config::{PgConfig, SslMode};
use super::error::TlsProblem;
use crate::store::StoreError;

/// The connector for a config: `None` for `sslmode=disable`.
pub(super) fn connector(
    cfg: &PgConfig,
) -> Result<Option<tokio_postgres_rustls::MakeRustlsConnect>, StoreError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls_err = |reason: TlsProblem| StoreError::PgTls {
        address: cfg.address(),
        reason,
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| {
            tls_err(TlsProblem::Other {
                detail: e.to_string(),
            })
        })?;
    let config = match cfg.sslmode {
        SslMode::Disable => return Ok(None),
        SslMode::Require => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(EncryptOnly { provider }))
            .with_no_client_auth(),
        SslMode::VerifyFull => {
            let mut roots = rustls::RootCertStore::empty();
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            if let Some(path) = &cfg.ca_file {
                for cert in load_ca_file(path).map_err(tls_err)? {
                    roots.add(cert).map_err(|e| {
                        tls_err(TlsProblem::CaFile {
                            path: path.clone(),
                            detail: e.to_string(),
                        })
                    })?;
                }
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
    };
    Ok(Some(tokio_postgres_rustls::MakeRustlsConnect::new(config)))
}

/// The certificates of a PEM file (one or more `CERTIFICATE` blocks).
fn load_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsProblem> {
    let problem = |detail: String| TlsProblem::CaFile {
        path: path.to_owned(),
        detail,
    };
    let pem = std::fs::read(path).map_err(|e| problem(format!("cannot read it: {e}")))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| problem(format!("not a PEM certificate file: {e}")))?;
    if certs.is_empty() {
        return Err(problem("it holds no PEM certificate".to_string()));
    }
    Ok(certs)
}

/// `sslmode=require`: any certificate is accepted (as libpq does without a root file), but the
/// handshake's signatures are still verified with the provider's algorithms, so the session
/// key belongs to whoever holds the certificate's key.
#[derive(Debug)]
struct EncryptOnly {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_or_empty_ca_file_is_a_located_error() {
        let missing = load_ca_file(Path::new("/nonexistent/ca.pem")).expect_err("no file");
        assert!(
            missing.to_string().contains("/nonexistent/ca.pem"),
            "the error names the file: {missing}"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let empty = dir.path().join("ca.pem");
        std::fs::write(&empty, "no certificate here\n").expect("write");
        let err = load_ca_file(&empty).expect_err("no PEM block");
        assert!(
            err.to_string().contains("no PEM certificate"),
            "an empty file is refused, not trusted for nothing: {err}"
        );
    }
}
