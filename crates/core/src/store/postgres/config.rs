//! Where the team database is and how to reach it: [`PgConfig`], parsed from a
//! `postgres://login@host:port/database?sslmode=verify-full` URL.
//!
//! It owns the URL's rules (which parameters are understood, the `sslmode` default) and keeps
//! the password out of every `Debug` and `Display`. It does no I/O beyond checking nothing.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::secret::Sensitive;
use crate::store::StoreError;

/// How the connection is protected, as libpq's `sslmode` names it (the three that make sense
/// for a team database; `prefer`/`allow` silently fall back to plain text and are refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// No TLS: only on a trusted network (a server's `hostssl` rules refuse it).
    Disable,
    /// TLS, the server's certificate not checked: encryption against a passive listener only.
    Require,
    /// TLS, the certificate signed by a trusted CA (the built-in roots or the CA file) and valid
    /// for the host name connected to. The default.
    VerifyFull,
}

impl SslMode {
    /// The name in a URL (`verify-full`).
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Require => "require",
            SslMode::VerifyFull => "verify-full",
        }
    }

    fn parse(s: &str) -> Result<SslMode, StoreError> {
        match s {
            "disable" => Ok(SslMode::Disable),
            "require" => Ok(SslMode::Require),
            "verify-full" => Ok(SslMode::VerifyFull),
            other => Err(config_err(format!(
                "sslmode={other} is not supported; use verify-full (the default), require or disable"
            ))),
        }
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The default port of PostgreSQL.
pub const DEFAULT_PORT: u16 = 5432;

/// How long connecting (TCP, TLS and login) may take by default.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The team database to connect to. `Debug` and `Display` never show a password.
#[derive(Clone)]
pub struct PgConfig {
    /// Host name or IP address; also the name the server certificate must be valid for.
    pub host: String,
    /// The address to connect to instead of resolving `host` (libpq's `hostaddr`); the
    /// certificate is still checked against `host`.
    pub hostaddr: Option<IpAddr>,
    /// TCP port.
    pub port: u16,
    /// The database.
    pub dbname: String,
    /// The login (an operator's UPN in lower case in a team deployment).
    pub user: String,
    /// TLS mode; `verify-full` unless the URL says otherwise.
    pub sslmode: SslMode,
    /// PEM file of CA certificates trusted beside the built-in roots (`sslrootcert=` in the
    /// URL), for a server whose certificate a team's own CA signed.
    pub ca_file: Option<PathBuf>,
    /// How long connecting may take.
    pub connect_timeout: Duration,
    /// The password written in the URL, used only when no separate password is given.
    url_password: Option<Sensitive<String>>,
}

fn config_err(reason: impl Into<String>) -> StoreError {
    StoreError::PgConfig {
        reason: reason.into(),
    }
}

impl PgConfig {
    /// Parses a `postgres://` (or `postgresql://`) URL. Understood query parameters: `sslmode`
    /// (`disable` | `require` | `verify-full`, default `verify-full`), `sslrootcert` (a CA
    /// file), `hostaddr`, `connect_timeout` (seconds). Any other parameter is refused, so a typo
    /// cannot silently weaken the connection. The error never repeats the URL (it may hold a
    /// password).
    pub fn parse(url: &str) -> Result<PgConfig, StoreError> {
        let u = url::Url::parse(url.trim()).map_err(|e| {
            config_err(format!(
                "not a URL ({e}); expected postgres://login@host:port/database"
            ))
        })?;
        if u.scheme() != "postgres" && u.scheme() != "postgresql" {
            return Err(config_err(format!(
                "the scheme is {}:// where postgres:// was expected",
                u.scheme()
            )));
        }
        let host = match u.host() {
            Some(url::Host::Domain(d)) => d.to_string(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            None => return Err(config_err("the URL names no host")),
        };
        let decode = |s: &str, what: &str| -> Result<String, StoreError> {
            percent_decode(s).ok_or_else(|| config_err(format!("the {what} is not valid UTF-8")))
        };
        let user = decode(u.username(), "login")?;
        if user.is_empty() {
            return Err(config_err(
                "the URL names no login (postgres://login@host/database)",
            ));
        }
        let url_password = match u.password() {
            Some(p) => Some(Sensitive::new(decode(p, "password")?)),
            None => None,
        };
        let dbname = decode(u.path().trim_start_matches('/'), "database name")?;
        if dbname.is_empty() || dbname.contains('/') {
            return Err(config_err(
                "the URL names no database (postgres://login@host/database)",
            ));
        }
        let mut cfg = PgConfig {
            host,
            hostaddr: None,
            port: u.port().unwrap_or(DEFAULT_PORT),
            dbname,
            user,
            sslmode: SslMode::VerifyFull,
            ca_file: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            url_password,
        };
        for (k, v) in u.query_pairs() {
            match &*k {
                "sslmode" => cfg.sslmode = SslMode::parse(&v)?,
                "sslrootcert" => cfg.ca_file = Some(PathBuf::from(&*v)),
                "hostaddr" => {
                    cfg.hostaddr =
                        Some(v.parse().map_err(|_| {
                            config_err(format!("hostaddr={v} is not an IP address"))
                        })?)
                }
                "connect_timeout" => {
                    let secs: u64 = v.parse().map_err(|_| {
                        config_err(format!("connect_timeout={v} is not a number of seconds"))
                    })?;
                    cfg.connect_timeout = Duration::from_secs(secs.max(1));
                }
                other => {
                    return Err(config_err(format!(
                        "the URL parameter {other} is not understood (known: sslmode, \
                         sslrootcert, hostaddr, connect_timeout)"
                    )))
                }
            }
        }
        Ok(cfg)
    }

    /// Trusts the CA certificates in `path` (PEM) beside the built-in roots.
    pub fn with_ca_file(mut self, path: impl Into<PathBuf>) -> PgConfig {
        self.ca_file = Some(path.into());
        self
    }

    /// Sets the TLS mode.
    pub fn with_sslmode(mut self, mode: SslMode) -> PgConfig {
        self.sslmode = mode;
        self
    }

    /// Whether the URL carried a password.
    pub fn has_url_password(&self) -> bool {
        self.url_password.is_some()
    }

    /// The password to log in with: the separate one when given, else the URL's.
    pub(crate) fn password<'a>(
        &'a self,
        separate: Option<&'a Sensitive<String>>,
    ) -> Option<&'a Sensitive<String>> {
        separate.or(self.url_password.as_ref())
    }

    /// `host:port`, for messages.
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Debug for PgConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgConfig")
            .field("host", &self.host)
            .field("hostaddr", &self.hostaddr)
            .field("port", &self.port)
            .field("dbname", &self.dbname)
            .field("user", &self.user)
            .field("sslmode", &self.sslmode)
            .field("ca_file", &self.ca_file)
            .field("connect_timeout", &self.connect_timeout)
            .field(
                "url_password",
                &self.url_password.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// The URL without its password: `postgres://login@host:port/database?sslmode=…`.
impl fmt::Display for PgConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "postgres://{}@{}/{}?sslmode={}",
            percent_encode(&self.user),
            self.address(),
            percent_encode(&self.dbname),
            self.sslmode
        )?;
        if let Some(ip) = self.hostaddr {
            write!(f, "&hostaddr={ip}")?;
        }
        if let Some(ca) = &self.ca_file {
            write!(f, "&sslrootcert={}", percent_encode(&ca.to_string_lossy()))?;
        }
        Ok(())
    }
}

/// What a URL part keeps unencoded: RFC 3986's unreserved characters, and `/` (a CA file's path).
const URL_PART: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// `s` with its `%XX` escapes decoded (a lone or short `%` stays); `None` when the bytes are
/// not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

fn percent_encode(s: &str) -> String {
    utf8_percent_encode(s, URL_PART).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_gives_every_part_and_verify_full_by_default() {
        let c = PgConfig::parse("postgres://alice%40contoso.com:pw@db.example:6543/team")
            .expect("a valid URL");
        assert_eq!(c.host, "db.example", "host");
        assert_eq!(c.port, 6543, "port");
        assert_eq!(c.dbname, "team", "database");
        assert_eq!(c.user, "alice@contoso.com", "the login is percent-decoded");
        assert_eq!(
            c.sslmode,
            SslMode::VerifyFull,
            "without sslmode the certificate and host name are checked"
        );
        assert!(c.has_url_password(), "the URL's password is kept for later");
        let d = PgConfig::parse("postgresql://bob@127.0.0.1/x?sslmode=disable&connect_timeout=3")
            .expect("valid");
        assert_eq!(d.port, DEFAULT_PORT, "the default port is 5432");
        assert_eq!(d.sslmode, SslMode::Disable, "sslmode=disable is honoured");
        assert_eq!(
            d.connect_timeout,
            Duration::from_secs(3),
            "timeout in seconds"
        );
    }

    #[test]
    fn the_separate_password_wins_over_the_urls() {
        let c = PgConfig::parse("postgres://a:from-url@h/db").expect("valid");
        let sep = Sensitive::new("separate".to_string());
        assert_eq!(
            c.password(Some(&sep)).map(|p| p.expose().as_str()),
            Some("separate"),
            "a separate password is used, not the URL's"
        );
        assert_eq!(
            c.password(None).map(|p| p.expose().as_str()),
            Some("from-url"),
            "the URL's password is the fallback"
        );
    }

    #[test]
    fn debug_and_display_never_show_the_password() {
        let c = PgConfig::parse("postgres://a:Sup3r-Secret@h:1/db?sslmode=require").expect("valid");
        let shown = format!("{c:?} {c}");
        assert!(
            !shown.contains("Sup3r-Secret"),
            "the password must not be shown: {shown}"
        );
        assert_eq!(
            c.to_string(),
            "postgres://a@h:1/db?sslmode=require",
            "Display is the URL without its password"
        );
    }

    #[test]
    fn unknown_parameters_and_weak_modes_are_refused_without_echoing_the_url() {
        for url in [
            "postgres://a:Sup3r-Secret@h/db?sslmod=disable",
            "postgres://a:Sup3r-Secret@h/db?sslmode=prefer",
            "postgres://a:Sup3r-Secret@h/",
            "mysql://a:Sup3r-Secret@h/db",
            "postgres://:Sup3r-Secret@h/db",
        ] {
            let err = PgConfig::parse(url).expect_err("refused");
            let msg = err.to_string();
            assert!(
                matches!(err, StoreError::PgConfig { .. }),
                "a bad URL is a config error: {msg}"
            );
            assert!(
                !msg.contains("Sup3r-Secret"),
                "the error must not repeat the password: {msg}"
            );
        }
    }

    #[test]
    fn percent_decoding_keeps_a_lone_percent() {
        assert_eq!(percent_decode("a%40b").as_deref(), Some("a@b"), "%40 is @");
        assert_eq!(
            percent_decode("50%").as_deref(),
            Some("50%"),
            "a lone % stays"
        );
        assert_eq!(
            percent_decode("%4"),
            Some("%4".to_string()),
            "a short escape stays"
        );
    }
}
