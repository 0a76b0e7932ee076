//! Turning what tokio-postgres, rustls and the server report into the one-line
//! [`StoreError`] a person can act on: which login, which address, and what to change.
//!
//! Owns the classification only. No message here ever holds a password: the client's errors
//! never carry it, and the config's `Display` leaves it out.

use std::fmt;
use std::path::PathBuf;

use tokio_postgres::error::DbError;

use super::config::{PgConfig, SslMode};
use crate::store::StoreError;

/// Why TLS with the team database could not be set up.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsProblem {
    /// The server does not offer TLS, and `sslmode` requires it.
    ServerWithoutTls {
        /// The mode asked for.
        sslmode: SslMode,
    },
    /// The server accepts this login only over TLS (`hostssl` rules), and `sslmode=disable`.
    ServerRequiresTls,
    /// `verify-full`: the certificate is not signed by a trusted CA.
    Untrusted {
        /// The CA file that was trusted beside the built-in roots, if any.
        ca_file: Option<PathBuf>,
        /// What rustls said.
        detail: String,
    },
    /// `verify-full`: the certificate is not valid for the host name connected to.
    WrongHost {
        /// The name checked.
        host: String,
        /// What rustls said.
        detail: String,
    },
    /// The CA file cannot be used.
    CaFile {
        /// The file.
        path: PathBuf,
        /// Why.
        detail: String,
    },
    /// Any other TLS failure.
    Other {
        /// What the TLS stack said.
        detail: String,
    },
}

impl fmt::Display for TlsProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsProblem::ServerWithoutTls { sslmode } => write!(
                f,
                "the server does not offer TLS and sslmode={sslmode} requires it; turn TLS on at \
                 the server (ssl = on), or only on a trusted network set sslmode=disable"
            ),
            TlsProblem::ServerRequiresTls => f.write_str(
                "the server accepts this login only over TLS and sslmode=disable; set \
                 sslmode=verify-full (with the CA file that signed the server's certificate)",
            ),
            TlsProblem::Untrusted { ca_file, detail } => {
                write!(
                    f,
                    "the server's certificate is not signed by a trusted CA ({detail}); with \
                     sslmode=verify-full give the CA file that signed it (sslrootcert=<file>)"
                )?;
                match ca_file {
                    Some(p) => write!(f, " — {} does not hold that CA", p.display()),
                    None => f.write_str(" — no CA file was given"),
                }
            }
            TlsProblem::WrongHost { host, detail } => write!(
                f,
                "the server's certificate is not valid for the name {host} ({detail}); connect \
                 with a name the certificate was issued for (sslmode=verify-full checks it)"
            ),
            TlsProblem::CaFile { path, detail } => {
                write!(f, "cannot use the CA file {}: {detail}", path.display())
            }
            TlsProblem::Other { detail } => f.write_str(detail),
        }
    }
}

/// The message of [`StoreError::PgSchema`].
pub fn schema_message(database: &str, found: Option<i64>, supported: i64) -> String {
    match found {
        None => format!(
            "the database {database} is not set up for Teams Scheduler (no tsched_meta schema \
             version); check the database name, or ask a global admin to set it up"
        ),
        Some(v) if v < supported => format!(
            "the team database {database} has schema version {v}, older than this app's \
             {supported}; ask a global admin to upgrade the team database"
        ),
        Some(v) => format!(
            "the team database {database} was written by a newer Teams Scheduler (schema version \
             {v}; this version knows up to {supported}); upgrade the app"
        ),
    }
}

/// One line: newlines and runs of spaces folded.
pub(super) fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// When the error happened: connecting (nothing answered yet) or using an open connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    Connect,
    Use,
}

/// Classifies an error of connecting or of a statement.
pub(super) fn classify(
    cfg: &PgConfig,
    phase: Phase,
    e: &tokio_postgres::Error,
    lost: Option<String>,
) -> StoreError {
    if let Some(db) = e.as_db_error() {
        return classify_db(cfg, phase, db);
    }
    let lost_err = |detail: String| StoreError::PgConnectionLost {
        address: cfg.address(),
        detail: lost.clone().unwrap_or(detail),
    };
    if e.is_closed() {
        return lost_err("the connection was closed".to_string());
    }
    let mut io_detail = None;
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(r) = err.downcast_ref::<rustls::Error>() {
            return tls_error(cfg, r);
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if let Some(r) = io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                return tls_error(cfg, r);
            }
            io_detail.get_or_insert_with(|| one_line(&io.to_string()));
        }
        cur = err.source();
    }
    let text = chain_text(e);
    if text.contains("server does not support TLS") {
        return StoreError::PgTls {
            address: cfg.address(),
            reason: TlsProblem::ServerWithoutTls {
                sslmode: cfg.sslmode,
            },
        };
    }
    if text.contains("password missing") {
        return StoreError::PgConfig {
            reason: format!(
                "the server asks login {} for a password and none was given",
                cfg.user
            ),
        };
    }
    match (phase, io_detail) {
        (Phase::Connect, Some(detail)) => StoreError::PgUnreachable {
            address: cfg.address(),
            detail,
        },
        (Phase::Use, Some(detail)) => lost_err(detail),
        (_, None) => StoreError::Pg {
            message: text,
            sqlstate: None,
            constraint: None,
        },
    }
}

/// The error and its causes, `: `-joined (tokio-postgres's `Display` leaves the cause out).
fn chain_text(e: &tokio_postgres::Error) -> String {
    let mut text = e.to_string();
    let mut cur = std::error::Error::source(e);
    while let Some(err) = cur {
        let part = err.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        cur = err.source();
    }
    one_line(&text)
}

fn tls_error(cfg: &PgConfig, e: &rustls::Error) -> StoreError {
    use rustls::CertificateError as C;
    let detail = one_line(&e.to_string());
    let reason = match e {
        rustls::Error::InvalidCertificate(C::NotValidForName)
        | rustls::Error::InvalidCertificate(C::NotValidForNameContext { .. }) => {
            TlsProblem::WrongHost {
                host: cfg.host.clone(),
                detail,
            }
        }
        rustls::Error::InvalidCertificate(_) => TlsProblem::Untrusted {
            ca_file: cfg.ca_file.clone(),
            detail,
        },
        _ => TlsProblem::Other { detail },
    };
    StoreError::PgTls {
        address: cfg.address(),
        reason,
    }
}

fn classify_db(cfg: &PgConfig, phase: Phase, db: &DbError) -> StoreError {
    let message = one_line(db.message());
    match db.code().code() {
        // invalid_password
        "28P01" => StoreError::PgAuthFailed {
            login: cfg.user.clone(),
        },
        // invalid_authorization_specification: pg_hba.conf refused, or no LOGIN right.
        "28000" if message.contains("no encryption") && cfg.sslmode == SslMode::Disable => {
            StoreError::PgTls {
                address: cfg.address(),
                reason: TlsProblem::ServerRequiresTls,
            }
        }
        "28000" => StoreError::PgLoginRefused {
            login: cfg.user.clone(),
            address: cfg.address(),
            message,
        },
        // invalid_catalog_name
        "3D000" => StoreError::PgUnknownDatabase {
            database: cfg.dbname.clone(),
            address: cfg.address(),
        },
        // insufficient_privilege
        "42501" => StoreError::PgDenied {
            login: cfg.user.clone(),
            message,
        },
        // admin_shutdown, crash_shutdown, cannot_connect_now
        "57P01" | "57P02" | "57P03" if phase == Phase::Connect => StoreError::PgUnreachable {
            address: cfg.address(),
            detail: message,
        },
        "57P01" | "57P02" | "57P03" => StoreError::PgConnectionLost {
            address: cfg.address(),
            detail: message,
        },
        code if code.starts_with("08") => StoreError::PgConnectionLost {
            address: cfg.address(),
            detail: message,
        },
        code => StoreError::Pg {
            message,
            sqlstate: Some(code.to_string()),
            constraint: db.constraint().map(str::to_string),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_messages_say_who_must_act() {
        assert!(
            schema_message("team", None, 3).contains("not set up"),
            "a database without tsched_meta is not ours"
        );
        assert!(
            schema_message("team", Some(2), 3).contains("ask a global admin to upgrade"),
            "an older schema is the admin's to upgrade"
        );
        assert!(
            schema_message("team", Some(4), 3).contains("upgrade the app"),
            "a newer schema means this app is old"
        );
    }

    #[test]
    fn one_line_folds_server_detail_lines() {
        assert_eq!(
            one_line("a\n  DETAIL: b"),
            "a DETAIL: b",
            "one line per error"
        );
    }
}
