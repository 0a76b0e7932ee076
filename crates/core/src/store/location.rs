//! Where the store is, and who acts on a shared one.
//!
//! A data directory works with the embedded SQLite store unless a team database is named, in
//! this order: the `--database-url` flag, the `TSCHED_DATABASE_URL` environment variable, the
//! small config file `<data dir>/store.toml` written by `tsched store use`. Nothing named: the
//! embedded store, exactly as before (`make run` and every test without a URL open SQLite).
//!
//! The config file sits in the data directory because an operator "works from their own data
//! directory": two data directories on one machine may work with two databases (and the tests
//! keep apart by data directory alone). It is owner-only (0600) and holds the URL without any
//! password, its `sslmode` and CA file; a URL given with a password is accepted, but the password
//! goes to the OS keyring, never into the file.
//!
//! The operator's database password lives in the OS keyring under service
//! [`KEYRING_SERVICE`] and account `login@host:port/database` ([`keyring_account`]), read when
//! the store is opened ([`open`]). On a shared store the database login *is* the operator
//! ([`shared_actor`]): the server records `session_user` in the audit, so naming someone else
//! (`--as`) is refused rather than half-honoured.
//!
//! This module does file and keyring I/O and connects; it never prints and never puts a
//! password in an error, a `Debug` or the file.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::postgres::{self, PgConfig, PgConn, SslMode, DEFAULT_CONNECT_TIMEOUT};
use super::{Backend, Store, StoreError};
use crate::actor::Actor;
use crate::auth::keyring::{KeyringTokenStore, TokenStore};
use crate::error::Error;
use crate::secret::Sensitive;

/// Environment variable naming the team database (a `postgres://` URL).
pub const DATABASE_URL_ENV: &str = "TSCHED_DATABASE_URL";
/// The config file in the data directory that remembers the team database (`tsched store use`).
pub const CONFIG_FILE_NAME: &str = "store.toml";
/// Keyring service of the operators' database passwords (apart from the refresh tokens').
pub const KEYRING_SERVICE: &str = "teams-scheduler-database";

/// Where the chosen store came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// `--database-url`.
    Flag,
    /// `TSCHED_DATABASE_URL`.
    Env,
    /// `<data dir>/store.toml`.
    ConfigFile,
    /// Nothing named: the embedded store.
    Default,
}

impl Source {
    /// In words, for `store status`.
    pub fn describe(self) -> &'static str {
        match self {
            Source::Flag => "--database-url",
            Source::Env => DATABASE_URL_ENV,
            Source::ConfigFile => CONFIG_FILE_NAME,
            Source::Default => "default",
        }
    }
}

/// The store a run works with. `Debug` never shows a password.
#[derive(Debug, Clone)]
pub enum Location {
    /// The embedded SQLite store in a data directory.
    Embedded {
        /// The data directory.
        data_dir: PathBuf,
    },
    /// A team's PostgreSQL database.
    Shared {
        /// Where and how to connect (a password written in a flag's or the environment's URL
        /// stays inside, redacted).
        config: PgConfig,
        /// Which setting named it.
        source: Source,
    },
}

impl Location {
    /// Which setting chose this store.
    pub fn source(&self) -> Source {
        match self {
            Location::Embedded { .. } => Source::Default,
            Location::Shared { source, .. } => *source,
        }
    }

    /// True for a team database.
    pub fn is_shared(&self) -> bool {
        matches!(self, Location::Shared { .. })
    }

    /// The database file, or the team database's URL without its password.
    pub fn address(&self) -> String {
        match self {
            Location::Embedded { data_dir } => {
                crate::paths::db_path(data_dir).display().to_string()
            }
            Location::Shared { config, .. } => url_of(config),
        }
    }
}

/// The config file of a data directory.
pub fn config_path(data_dir: &Path) -> PathBuf {
    data_dir.join(CONFIG_FILE_NAME)
}

/// Chooses the store: `flag`, else `TSCHED_DATABASE_URL`, else the data directory's config
/// file, else the embedded store.
pub fn resolve(flag: Option<&str>, data_dir: &Path) -> Result<Location, Error> {
    let env = std::env::var(DATABASE_URL_ENV).ok();
    resolve_with(flag, env.as_deref(), data_dir)
}

/// [`resolve`] with the environment's value given (tests). Empty values count as unset.
pub fn resolve_with(
    flag: Option<&str>,
    env: Option<&str>,
    data_dir: &Path,
) -> Result<Location, Error> {
    let given = |v: Option<&str>| {
        v.map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    if let Some(url) = given(flag) {
        return Ok(Location::Shared {
            config: PgConfig::parse(&url)?,
            source: Source::Flag,
        });
    }
    if let Some(url) = given(env) {
        return Ok(Location::Shared {
            config: PgConfig::parse(&url).map_err(|e| in_setting(e, DATABASE_URL_ENV))?,
            source: Source::Env,
        });
    }
    match read_saved(data_dir)? {
        Some(config) => Ok(Location::Shared {
            config,
            source: Source::ConfigFile,
        }),
        None => Ok(Location::Embedded {
            data_dir: data_dir.to_path_buf(),
        }),
    }
}

/// Names the setting a refused URL came from (the URL itself is never repeated).
fn in_setting(e: StoreError, setting: &str) -> Error {
    match e {
        StoreError::PgConfig { reason } => Error::Store(StoreError::PgConfig {
            reason: format!("{reason} (in {setting})"),
        }),
        other => Error::Store(other),
    }
}

/// The URL without a password, as written to the config file and shown: the configuration's
/// `Display` plus a connect timeout other than the default (which `Display` leaves out).
pub fn url_of(cfg: &PgConfig) -> String {
    let mut url = cfg.to_string();
    if cfg.connect_timeout != DEFAULT_CONNECT_TIMEOUT {
        url.push_str(&format!(
            "&connect_timeout={}",
            cfg.connect_timeout.as_secs()
        ));
    }
    url
}

/// The same configuration without the password its URL carried.
pub fn without_password(cfg: &PgConfig) -> Result<PgConfig, Error> {
    Ok(PgConfig::parse(&url_of(cfg))?)
}

/// The team database remembered in `data_dir`'s config file, if any.
pub fn read_saved(data_dir: &Path) -> Result<Option<PgConfig>, Error> {
    let path = config_path(data_dir);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Error::Store(StoreError::Open {
                path,
                source: Box::new(e),
            }))
        }
    };
    parse_file(&text)
        .map(Some)
        .map_err(|reason| bad_file(&path, &reason))
}

fn bad_file(path: &Path, reason: &str) -> Error {
    Error::invalid(
        "store config",
        format!(
            "{} cannot be read ({reason}); run `tsched store use URL` again or `tsched store forget`",
            path.display()
        ),
    )
}

/// Remembers `cfg` (without any password) in `data_dir`'s config file, owner-only. Returns the
/// file.
pub fn save(data_dir: &Path, cfg: &PgConfig) -> Result<PathBuf, Error> {
    let path = config_path(data_dir);
    let io_err = |e: std::io::Error| {
        Error::Store(StoreError::Open {
            path: path.clone(),
            source: Box::new(e),
        })
    };
    if !data_dir.is_dir() {
        super::create_private_dir(data_dir).map_err(io_err)?;
    }
    let text = render(cfg);
    // Written beside and renamed over, so a crash leaves the old file or the new one; created
    // 0600 so the file is never readable by others, not even for a moment.
    let tmp = data_dir.join(format!("{CONFIG_FILE_NAME}.tmp"));
    {
        use std::io::Write as _;
        let _ = std::fs::remove_file(&tmp);
        let mut o = std::fs::OpenOptions::new();
        o.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            o.mode(0o600);
        }
        let mut f = o.open(&tmp).map_err(io_err)?;
        f.write_all(text.as_bytes()).map_err(io_err)?;
        f.sync_all().map_err(io_err)?;
    }
    std::fs::rename(&tmp, &path).map_err(io_err)?;
    super::owner_only(&path).map_err(io_err)?;
    Ok(path)
}

/// Removes `data_dir`'s config file; true when there was one.
pub fn forget(data_dir: &Path) -> Result<bool, Error> {
    let path = config_path(data_dir);
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::Store(StoreError::Open {
            path,
            source: Box::new(e),
        })),
    }
}

/// The file's text: the URL without a password, and its TLS settings spelt out for a reader
/// (they win over the URL's when someone edits one and not the other).
fn render(cfg: &PgConfig) -> String {
    let mut out = String::from(
        "# Teams Scheduler: the team database this data directory works with (`tsched store use`).\n\
         # No password here: it is in the OS keyring (`tsched store login`).\n",
    );
    out.push_str(&format!("url = {}\n", toml_string(&url_of(cfg))));
    out.push_str(&format!(
        "sslmode = {}\n",
        toml_string(cfg.sslmode.as_str())
    ));
    if let Some(ca) = &cfg.ca_file {
        out.push_str(&format!(
            "ca_file = {}\n",
            toml_string(&ca.to_string_lossy())
        ));
    }
    out
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Reads a TOML basic string that starts `s`; returns it and what follows.
fn parse_toml_string(s: &str) -> Result<(String, &str), String> {
    let mut chars = s.char_indices();
    if !matches!(chars.next(), Some((_, '"'))) {
        return Err("a value must be a \"quoted string\"".into());
    }
    let mut out = String::new();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((out, &s[i + 1..])),
            '\\' => match chars.next() {
                Some((_, '"')) => out.push('"'),
                Some((_, '\\')) => out.push('\\'),
                Some((_, 'n')) => out.push('\n'),
                Some((_, 't')) => out.push('\t'),
                Some((j, 'u')) => {
                    let hex = s.get(j + 1..j + 5).ok_or("a short \\u escape")?;
                    let c = u32::from_str_radix(hex, 16)
                        .ok()
                        .and_then(char::from_u32)
                        .ok_or("a bad \\u escape")?;
                    out.push(c);
                    for _ in 0..4 {
                        chars.next();
                    }
                }
                _ => return Err("an unknown escape in a string".into()),
            },
            c => out.push(c),
        }
    }
    Err("a string is not closed".into())
}

/// Parses the file's `key = "value"` lines (the TOML subset [`render`] writes). The error never
/// repeats a line (a hand-edited URL may hold a password).
fn parse_file(text: &str) -> Result<PgConfig, String> {
    let mut url = None;
    let mut sslmode = None;
    let mut ca_file = None;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, rest) = line
            .split_once('=')
            .ok_or_else(|| format!("line {} is not key = \"value\"", n + 1))?;
        let (value, tail) =
            parse_toml_string(rest.trim()).map_err(|e| format!("line {}: {e}", n + 1))?;
        let tail = tail.trim();
        if !(tail.is_empty() || tail.starts_with('#')) {
            return Err(format!("line {}: text after the value", n + 1));
        }
        match key.trim() {
            "url" => url = Some(value),
            "sslmode" => sslmode = Some(value),
            "ca_file" => ca_file = Some(value),
            other => {
                return Err(format!(
                    "line {}: unknown key {other} (known: url, sslmode, ca_file)",
                    n + 1
                ))
            }
        }
    }
    let url = url.ok_or("it names no url")?;
    let mut cfg = PgConfig::parse(&url).map_err(|e| e.to_string())?;
    if cfg.has_url_password() {
        // Never written by us; a password put here by hand is not used from a plain file.
        return Err("its url holds a password; passwords belong in the OS keyring".into());
    }
    if let Some(mode) = sslmode {
        cfg = cfg.with_sslmode(match mode.as_str() {
            "disable" => SslMode::Disable,
            "require" => SslMode::Require,
            "verify-full" => SslMode::VerifyFull,
            _ => return Err("its sslmode is not verify-full, require or disable".into()),
        });
    }
    if let Some(ca) = ca_file.filter(|c| !c.is_empty()) {
        cfg = cfg.with_ca_file(ca);
    }
    Ok(cfg)
}

/// The keyring account of `cfg`'s login on its database: `login@host:port/database`.
pub fn keyring_account(cfg: &PgConfig) -> String {
    format!("{}@{}/{}", cfg.user, cfg.address(), cfg.dbname)
}

/// The OS keyring under [`KEYRING_SERVICE`].
pub fn keyring() -> KeyringTokenStore {
    KeyringTokenStore::with_service(KEYRING_SERVICE)
}

/// The password saved for `cfg`'s login, if any.
pub fn saved_password(
    passwords: &dyn TokenStore,
    cfg: &PgConfig,
) -> Result<Option<Sensitive<String>>, Error> {
    Ok(passwords.get(&keyring_account(cfg))?)
}

/// The password another session of `location` (a change feed, a second connection) logs in
/// with, as [`open`] chooses it: the one saved in `passwords` for a team database whose URL
/// carries none; `None` for the embedded store or a URL with its own.
pub fn session_password(
    location: &Location,
    passwords: &dyn TokenStore,
) -> Result<Option<Sensitive<String>>, Error> {
    match location {
        Location::Shared { config, .. } if !config.has_url_password() => {
            saved_password(passwords, config)
        }
        _ => Ok(None),
    }
}

/// Checks `password` by connecting as `cfg`'s login, then saves it in the keyring. Nothing is
/// saved when the connection fails.
pub fn login(
    passwords: &dyn TokenStore,
    cfg: &PgConfig,
    password: &Sensitive<String>,
) -> Result<(), Error> {
    let conn = PgConn::connect(cfg, Some(password))?;
    drop(conn);
    passwords.set(&keyring_account(cfg), password)?;
    Ok(())
}

/// `store init` as the database owner: the schema, roles and policies
/// ([`postgres::init`]'s scripts) and, with `admin` (UPN, display name), the first global admin
/// ([`postgres::bootstrap`]), all in one transaction, so a refused admin leaves no half-set-up
/// store behind that a second init would refuse. A second run is refused by the scripts and
/// changes nothing. Returns the first admin's operator id.
pub fn init_team_database(
    cfg: &PgConfig,
    password: Option<&Sensitive<String>>,
    admin: Option<(&str, &str)>,
) -> Result<Option<i64>, Error> {
    let mut owner = PgConn::connect(cfg, password)?;
    let id = owner.write(|tx| -> Result<Option<i64>, StoreError> {
        tx.batch_execute(postgres::SCHEMA_V1)?;
        tx.batch_execute(postgres::ROLES)?;
        match admin {
            Some((upn, name)) => {
                let row = tx.query_one(
                    "SELECT tsched.tsched_bootstrap($1, $2)",
                    &[&upn.trim(), &name.trim()],
                )?;
                Ok(Some(row.try_get::<_, i64>(0).map_err(|e| tx.err(&e))?))
            }
            None => Ok(None),
        }
    })?;
    owner.batch_execute("SET search_path = tsched, public")?;
    postgres::check_schema(&owner, postgres::SCHEMA_VERSION)?;
    Ok(id)
}

/// `store use`: remembers `cfg` (without its password) in `data_dir`'s config file. When a
/// password comes along (`password`, else the one in `cfg`'s URL), it is checked by connecting
/// and saved in the keyring first ([`login`]); if that fails, nothing is saved at all. Returns
/// the file and whether a password was saved.
pub fn use_database(
    data_dir: &Path,
    cfg: &PgConfig,
    password: Option<&Sensitive<String>>,
    passwords: &dyn TokenStore,
) -> Result<(PathBuf, bool), Error> {
    let clean = without_password(cfg)?;
    let saved = match cfg.password(password) {
        Some(pw) => {
            login(passwords, &clean, pw)?;
            true
        }
        None => false,
    };
    Ok((save(data_dir, &clean)?, saved))
}

/// Deletes the password saved for `cfg`'s login (none saved is not an error).
pub fn forget_password(passwords: &dyn TokenStore, cfg: &PgConfig) -> Result<(), Error> {
    Ok(passwords.delete(&keyring_account(cfg))?)
}

/// Opens the store `location` names: the embedded store, or the team database with the URL's
/// password (a flag's or the environment's) else the one saved in `passwords`.
pub fn open(location: &Location, passwords: &dyn TokenStore) -> Result<Store, Error> {
    match location {
        Location::Embedded { data_dir } => Ok(Store::open_in(data_dir)?),
        Location::Shared { config, .. } => {
            if config.has_url_password() {
                return Ok(Store::open_postgres(config, None)?);
            }
            let password = saved_password(passwords, config)?.ok_or_else(|| no_password(config))?;
            Ok(Store::open_postgres(config, Some(&password))?)
        }
    }
}

fn no_password(cfg: &PgConfig) -> Error {
    Error::Denied(format!(
        "no database password is saved for login {} on {}/{}; run `tsched store login`",
        cfg.user,
        cfg.address(),
        cfg.dbname
    ))
}

impl Store {
    /// The database login this store acts as, when it is a team's shared database.
    pub fn shared_login(&self) -> Option<&str> {
        match &self.backend {
            Backend::Postgres(c) => Some(c.login()),
            Backend::Sqlite(_) => None,
        }
    }

    /// Whether this store's team-database connection has ended (the server restarted, a network
    /// cut, an administrator ended the session): a front end that keeps one store open connects
    /// again instead of failing every later call. Always false for the embedded store.
    pub fn is_disconnected(&self) -> bool {
        match &self.backend {
            Backend::Postgres(c) => c.is_closed(),
            Backend::Sqlite(_) => false,
        }
    }
}

/// The refusal of `--as` / `TSCHED_OPERATOR` on a shared store.
pub const AS_REFUSED: &str =
    "--as cannot act as someone else on a team database: sign in to the database as yourself";

/// Who acts on a shared store: the database login, as the roster knows it (the server records
/// the same login as the audit's operator). Naming an operator (`as_upn`) is refused: the
/// server would act as the login anyway. `None` for the embedded store, where the Microsoft
/// sign-in proves who acts (`signin::cli_actor`).
pub fn shared_actor(store: &Store, as_upn: Option<&str>) -> Option<Result<Actor, Error>> {
    let login = store.shared_login()?.to_lowercase();
    if as_upn.map(str::trim).is_some_and(|u| !u.is_empty()) {
        return Some(Err(Error::Denied(AS_REFUSED.into())));
    }
    Some(crate::operators::actor_for(store, Some(&login)))
}

/// The schema version the open store holds (`PRAGMA user_version`, or the team database's
/// `tsched_meta`), for `store status`.
pub fn schema_version(store: &Store) -> Result<i64, Error> {
    match &store.backend {
        Backend::Sqlite(c) => Ok(c
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| store.err(e))?),
        Backend::Postgres(c) => {
            let row = c.query_one("SELECT schema_version::bigint FROM tsched_meta", &[])?;
            Ok(row.try_get::<_, i64>(0).map_err(|e| c.err(&e))?)
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::keyring::MemoryTokenStore;

    const SECRET: &str = "Sup3r-Secret-pw";

    fn tmp() -> tempfile::TempDir {
        tempfile::tempdir().expect("tempdir")
    }

    #[test]
    fn without_any_url_the_embedded_store_is_chosen() {
        let dir = tmp();
        let loc = resolve_with(None, None, dir.path()).expect("resolves");
        assert!(
            matches!(&loc, Location::Embedded { data_dir } if data_dir == dir.path()),
            "nothing named keeps the embedded store: {loc:?}"
        );
        let loc = resolve_with(Some("  "), Some(""), dir.path()).expect("resolves");
        assert!(
            !loc.is_shared(),
            "empty flag and environment values count as unset"
        );
    }

    #[test]
    fn the_flag_wins_over_the_environment_which_wins_over_the_config_file() {
        let dir = tmp();
        let file_cfg = PgConfig::parse("postgres://file@file.example/db").expect("valid");
        save(dir.path(), &file_cfg).expect("saved");
        let host = |loc: &Location| match loc {
            Location::Shared { config, .. } => config.host.clone(),
            Location::Embedded { .. } => "embedded".into(),
        };
        let flag = "postgres://flag@flag.example/db";
        let env = "postgres://env@env.example/db";
        let l = resolve_with(Some(flag), Some(env), dir.path()).expect("resolves");
        assert_eq!(
            (host(&l), l.source()),
            ("flag.example".into(), Source::Flag),
            "--database-url wins over everything"
        );
        let l = resolve_with(None, Some(env), dir.path()).expect("resolves");
        assert_eq!(
            (host(&l), l.source()),
            ("env.example".into(), Source::Env),
            "TSCHED_DATABASE_URL wins over the config file"
        );
        let l = resolve_with(None, None, dir.path()).expect("resolves");
        assert_eq!(
            (host(&l), l.source()),
            ("file.example".into(), Source::ConfigFile),
            "the config file names the store when nothing else does"
        );
        assert!(forget(dir.path()).expect("forget"), "the file existed");
        let l = resolve_with(None, None, dir.path()).expect("resolves");
        assert!(!l.is_shared(), "forgetting returns to the embedded store");
        assert!(
            !forget(dir.path()).expect("forget twice"),
            "forgetting again finds nothing"
        );
    }

    #[test]
    fn the_config_file_round_trips_tls_settings_and_never_holds_the_password() {
        let dir = tmp();
        let cfg = PgConfig::parse(&format!(
            "postgres://ana%40contoso.com:{SECRET}@db.example:6543/team?sslmode=require&connect_timeout=4"
        ))
        .expect("valid")
        .with_ca_file("/etc/ssl/team \"ca\".pem");
        let path = save(dir.path(), &cfg).expect("saved");
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(
            !text.contains(SECRET),
            "the password must never be written to the config file: {text}"
        );
        let back = read_saved(dir.path())
            .expect("reads")
            .expect("a config is saved");
        assert_eq!(
            url_of(&back),
            url_of(&cfg),
            "the file keeps login, address, database, sslmode, CA file and timeout"
        );
        assert!(
            !back.has_url_password(),
            "the saved configuration carries no password"
        );
        assert_eq!(back.sslmode, SslMode::Require, "sslmode survives");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "the config file is owner-only");
        }
        assert!(
            !dir.path().join("store.toml.tmp").exists(),
            "no temporary file is left behind"
        );
    }

    #[test]
    fn a_hand_written_password_or_bad_line_is_refused_without_echoing_it() {
        let dir = tmp();
        for text in [
            format!("url = \"postgres://a:{SECRET}@h/db\"\n"),
            format!("url = postgres://a:{SECRET}@h/db\n"),
            format!("url = \"postgres://a@h/db\"\nsslmode = \"prefer{SECRET}\"\n"),
            format!("password = \"{SECRET}\"\nurl = \"postgres://a@h/db\"\n"),
        ] {
            std::fs::write(config_path(dir.path()), &text).expect("write");
            let err = resolve_with(None, None, dir.path()).expect_err("refused");
            let msg = err.to_string();
            assert!(
                !msg.contains(SECRET),
                "the error must not repeat the file's secret: {msg}"
            );
            assert!(
                msg.contains("store forget") && !msg.contains('\n'),
                "one line naming the fix: {msg}"
            );
        }
    }

    #[test]
    fn flag_and_environment_errors_and_debug_never_show_the_password() {
        let dir = tmp();
        let loc = resolve_with(
            Some(&format!("postgres://a:{SECRET}@h/db")),
            None,
            dir.path(),
        )
        .expect("a URL with a password is accepted");
        let shown = format!("{loc:?} {}", loc.address());
        assert!(
            !shown.contains(SECRET),
            "Debug and the address never show it: {shown}"
        );
        let err = resolve_with(
            None,
            Some(&format!("postgres://a:{SECRET}@h/db?sslmode=allow")),
            dir.path(),
        )
        .expect_err("a weak sslmode is refused");
        let msg = err.to_string();
        assert!(
            !msg.contains(SECRET) && msg.contains(DATABASE_URL_ENV),
            "the error names the setting, not the URL: {msg}"
        );
    }

    #[test]
    fn the_keyring_account_names_login_address_and_database() {
        let cfg = PgConfig::parse("postgres://ana%40contoso.com@db.example/team").expect("valid");
        assert_eq!(
            keyring_account(&cfg),
            "ana@contoso.com@db.example:5432/team",
            "one password per login per database"
        );
    }

    #[test]
    fn opening_a_shared_store_without_a_saved_password_says_run_store_login() {
        let dir = tmp();
        let cfg = PgConfig::parse("postgres://ana@127.0.0.1:1/team?sslmode=disable").expect("ok");
        let loc = Location::Shared {
            config: cfg.clone(),
            source: Source::ConfigFile,
        };
        let passwords = MemoryTokenStore::default();
        let err = open(&loc, &passwords).expect_err("no password saved");
        let msg = err.to_string();
        assert!(
            msg.contains("run `tsched store login`") && msg.contains("ana"),
            "the error names the login and the fix: {msg}"
        );
        let _ = dir;
    }

    #[test]
    fn a_failed_login_saves_nothing_and_does_not_show_the_password() {
        // Port 1 on loopback: nothing listens, the connection fails at once.
        let cfg =
            PgConfig::parse("postgres://ana@127.0.0.1:1/team?sslmode=disable&connect_timeout=2")
                .expect("ok");
        let passwords = MemoryTokenStore::default();
        let err = login(&passwords, &cfg, &Sensitive::new(SECRET.to_string()))
            .expect_err("nothing answers");
        assert!(
            !err.to_string().contains(SECRET),
            "the error never shows the password: {err}"
        );
        assert!(passwords.is_empty(), "a failed login must save nothing");
    }

    #[test]
    fn the_embedded_store_has_no_shared_login_and_no_shared_actor() {
        let store = Store::open_in_memory().expect("in memory");
        assert_eq!(store.shared_login(), None, "SQLite has no database login");
        assert!(
            shared_actor(&store, Some("x@y")).is_none(),
            "on the embedded store the sign-in decides, not the database login"
        );
    }
}
