//! `tsched store init | use | login | status | forget`: which store this data directory works
//! with. Without a team database named (`--database-url`, `TSCHED_DATABASE_URL`, or `store use`)
//! it is the embedded SQLite store. The operator's database password goes to the OS keyring
//! (`store login`), read from standard input, never from a flag's value.

use std::io::{BufRead as _, IsTerminal as _};
use std::path::Path;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use serde::Serialize;
use tsched_core::secret::Sensitive;
use tsched_core::store::location::{self, Location, Source};
use tsched_core::store::postgres::PgConfig;

use super::Context;
use crate::output;

#[derive(Debug, Subcommand)]
pub enum StoreCmd {
    /// Set up a team database, once, as its owner: schema, group roles, policies, the audit
    /// table; with --admin the first global admin. The global --ca-file is the server's CA.
    Init(InitArgs),
    /// Work with this team database from this data directory (remembered in store.toml, no
    /// password in it). The global --ca-file is the server's CA.
    Use(UseArgs),
    /// Save your database password in the OS keyring, after checking it by connecting.
    Login(PasswordArgs),
    /// Which store, where, its schema version, your login, and whether it answers.
    Status {
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Back to the embedded store: removes store.toml and the saved database password.
    Forget,
    /// Copy this data directory's embedded store (programs, modes, participants, operators,
    /// meetings, batches, audit) into an empty team database, as its owner, in one
    /// transaction, verified by counts and spot checks; the local file is left untouched. Run
    /// `store init URL` (without --admin) first. The global --ca-file is the server's CA.
    MigrateTo(MigrateArgs),
}

/// `tsched store migrate-to`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// postgres://owner@host:port/database?sslmode=verify-full (the database owner's login).
    url: String,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    password: PasswordArgs,
}

/// `tsched store init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// postgres://owner@host:port/database?sslmode=verify-full (the database owner's login).
    url: String,
    /// The first global admin's UPN (their database login is made from it).
    #[arg(long, value_name = "UPN")]
    admin: Option<String>,
    /// The first global admin's display name.
    #[arg(long, value_name = "NAME", default_value = "")]
    admin_name: String,
    #[command(flatten)]
    password: PasswordArgs,
}

/// `tsched store use`.
#[derive(Debug, Args)]
pub struct UseArgs {
    /// postgres://your-login@host:port/database?sslmode=verify-full
    url: String,
    #[command(flatten)]
    password: PasswordArgs,
}

/// Where a database password comes from.
#[derive(Debug, Args)]
pub struct PasswordArgs {
    /// Read the database password from the first line of standard input.
    #[arg(long)]
    password_stdin: bool,
}

impl PasswordArgs {
    /// The password from standard input, when asked for.
    fn read(&self) -> anyhow::Result<Option<Sensitive<String>>> {
        if !self.password_stdin {
            return Ok(None);
        }
        let stdin = std::io::stdin();
        if stdin.is_terminal() {
            eprint!("Database password (shown as typed): ");
        }
        let mut line = String::new();
        stdin
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        let pw = line.trim_end_matches(['\r', '\n']).to_string();
        if pw.is_empty() {
            anyhow::bail!(invalid(
                "password",
                "standard input held no password (one line is read)"
            ));
        }
        Ok(Some(Sensitive::new(pw)))
    }
}

pub fn run(cmd: StoreCmd, ctx: &Context, ca_file: Option<&Path>) -> anyhow::Result<()> {
    match cmd {
        StoreCmd::Init(args) => init(args, ca_file),
        StoreCmd::Use(args) => use_database(args, ctx, ca_file),
        StoreCmd::Login(args) => login(args, ctx),
        StoreCmd::Status { json } => status(ctx, json),
        StoreCmd::Forget => forget(ctx),
        StoreCmd::MigrateTo(args) => migrate_to(args, ctx, ca_file),
    }
}

fn parse(url: &str, ca_file: Option<&Path>) -> anyhow::Result<PgConfig> {
    let cfg = PgConfig::parse(url).map_err(tsched_core::Error::from)?;
    Ok(match ca_file {
        Some(ca) => cfg.with_ca_file(ca),
        None => cfg,
    })
}

/// The database owner's password: from standard input, the URL, or the keyring.
fn owner_password(
    args: &PasswordArgs,
    cfg: &PgConfig,
) -> anyhow::Result<Option<Sensitive<String>>> {
    Ok(match args.read()? {
        Some(pw) => Some(pw),
        None if cfg.has_url_password() => None,
        None => Some(
            location::saved_password(&location::keyring(), cfg)
                .ok()
                .flatten()
                .ok_or_else(|| {
                    invalid(
                        "password",
                        format!(
                            "no password for the database owner {}: pass --password-stdin and give it on standard input",
                            cfg.user
                        ),
                    )
                })?,
        ),
    })
}

fn init(args: InitArgs, ca_file: Option<&Path>) -> anyhow::Result<()> {
    let cfg = parse(&args.url, ca_file)?;
    let password = owner_password(&args.password, &cfg)?;
    let admin = args
        .admin
        .as_deref()
        .map(|upn| (upn, args.admin_name.as_str()));
    let id = location::init_team_database(&cfg, password.as_ref(), admin)?;
    println!(
        "Initialised the team database {} (schema version {}).",
        location::url_of(&location::without_password(&cfg)?),
        tsched_core::store::postgres::SCHEMA_VERSION
    );
    match (args.admin.as_deref(), id) {
        (Some(upn), Some(_)) => println!(
            "First global admin: {upn} (database login {}); give it a password, then they run `tsched store use URL` and `tsched store login`.",
            upn.trim().to_ascii_lowercase()
        ),
        _ => println!(
            "No operator yet: name the first global admin with `SELECT tsched.tsched_bootstrap('UPN', 'Name')` as the owner."
        ),
    }
    Ok(())
}

fn use_database(args: UseArgs, ctx: &Context, ca_file: Option<&Path>) -> anyhow::Result<()> {
    let cfg = parse(&args.url, ca_file)?;
    let password = args.password.read()?;
    let dir = ctx.data_dir()?;
    let (file, saved) =
        location::use_database(&dir, &cfg, password.as_ref(), &location::keyring())?;
    println!(
        "This data directory now works with {} (remembered in {}).",
        location::url_of(&location::without_password(&cfg)?),
        file.display()
    );
    if saved {
        println!("Your database password was checked and saved in the OS keyring.");
    } else {
        println!("Next: `tsched store login --password-stdin` saves your database password in the OS keyring.");
    }
    Ok(())
}

fn login(args: PasswordArgs, ctx: &Context) -> anyhow::Result<()> {
    let Location::Shared { config, .. } = ctx.location()? else {
        anyhow::bail!(invalid(
            "store",
            "this data directory works with the embedded store; run `tsched store use URL` first"
        ));
    };
    let password = args.read()?.ok_or_else(|| {
        invalid(
            "password",
            "pass --password-stdin and give the password on standard input",
        )
    })?;
    location::login(&location::keyring(), &config, &password)?;
    println!(
        "Saved the database password of {} for {}/{} in the OS keyring.",
        config.user,
        config.address(),
        config.dbname
    );
    Ok(())
}

fn migrate_to(args: MigrateArgs, ctx: &Context, ca_file: Option<&Path>) -> anyhow::Result<()> {
    use tsched_core::store::postgres::{self, Step};
    let cfg = parse(&args.url, ca_file)?;
    let password = owner_password(&args.password, &cfg)?;
    // The local store of this data directory, whatever store.toml names for daily work.
    let local = tsched_core::Store::open_in(&ctx.data_dir()?).map_err(tsched_core::Error::from)?;
    let mut owner =
        postgres::PgConn::connect(&cfg, password.as_ref()).map_err(tsched_core::Error::from)?;
    let show = |step: Step| match step {
        Step::Checked => eprintln!("The team database is empty and ready; copying…"),
        Step::Copied { table, rows } => eprintln!("  {table}: {rows} rows"),
        Step::Logins { operators } => eprintln!("  logins of {operators} operators"),
        Step::Verified => eprintln!("Counts and spot checks match; committing."),
        _ => {}
    };
    let report = postgres::migrate_from_sqlite(&local, &mut owner, &show)
        .map_err(tsched_core::Error::from)?;
    if args.json {
        return output::json(&report);
    }
    let total: u64 = report.tables.iter().map(|t| t.rows).sum();
    println!(
        "Copied {total} rows in {} tables into {} ({} rows compared field by field); {} was left untouched.",
        report.tables.len(),
        location::url_of(&location::without_password(&cfg)?),
        report.rows_spot_checked,
        local.path().display()
    );
    if !report.logins_created.is_empty() {
        println!(
            "New database logins without a password (give each one, e.g. ALTER ROLE ... PASSWORD): {}",
            report.logins_created.join(", ")
        );
    }
    Ok(())
}

/// What `store status` reports. No password, ever.
#[derive(Debug, Serialize)]
struct Status {
    /// `embedded` or `shared`.
    store: &'static str,
    /// `sqlite` or `postgresql`.
    backend: &'static str,
    /// Which setting chose it.
    source: Source,
    /// The database file, or the URL without its password.
    address: String,
    /// The config file, when one is saved.
    config_file: Option<String>,
    /// The database login (shared store only).
    login: Option<String>,
    /// Whether the keyring holds this login's password (shared store only; `None` when the
    /// keyring could not be read).
    password_saved: Option<bool>,
    /// The schema version the store holds, when it opened.
    schema_version: Option<i64>,
    /// Whether the store opened.
    reachable: bool,
    /// Why not, in one line.
    error: Option<String>,
}

fn status(ctx: &Context, json: bool) -> anyhow::Result<()> {
    let dir = ctx.data_dir()?;
    let loc = ctx.location()?;
    let file = location::config_path(&dir);
    let (login, password_saved) = match &loc {
        Location::Shared { config, .. } => (
            Some(config.user.clone()),
            if config.has_url_password() {
                Some(true)
            } else {
                location::saved_password(&location::keyring(), config)
                    .ok()
                    .map(|p| p.is_some())
            },
        ),
        Location::Embedded { .. } => (None, None),
    };
    let opened = location::open(&loc, &location::keyring())
        .and_then(|store| location::schema_version(&store));
    let (schema_version, error) = match opened {
        Ok(v) => (Some(v), None),
        Err(e) => (None, Some(e.to_string().replace('\n', " "))),
    };
    let s = Status {
        store: if loc.is_shared() {
            "shared"
        } else {
            "embedded"
        },
        backend: if loc.is_shared() {
            "postgresql"
        } else {
            "sqlite"
        },
        source: loc.source(),
        address: loc.address(),
        config_file: file.exists().then(|| file.display().to_string()),
        login,
        password_saved,
        schema_version,
        reachable: error.is_none(),
        error,
    };
    if json {
        return output::json(&s);
    }
    println!(
        "Store: {} ({}), chosen by {}",
        s.store,
        s.backend,
        s.source.describe()
    );
    println!("  address: {}", s.address);
    if let Some(login) = &s.login {
        let saved = match s.password_saved {
            Some(true) => "password saved",
            Some(false) => "no password saved: run `tsched store login --password-stdin`",
            None => "the keyring could not be read",
        };
        println!("  login: {login} ({saved})");
    }
    match (&s.schema_version, &s.error) {
        (Some(v), _) => println!("  schema version: {v}; reachable"),
        (None, Some(e)) => println!("  not reachable: {e}"),
        (None, None) => {}
    }
    Ok(())
}

fn forget(ctx: &Context) -> anyhow::Result<()> {
    let dir = ctx.data_dir()?;
    let saved = location::read_saved(&dir).ok().flatten();
    // The password goes first; the file is removed even when the keyring cannot be reached, and
    // then the keyring's failure is reported.
    let keyring_result = match &saved {
        Some(cfg) => location::forget_password(&location::keyring(), cfg),
        None => Ok(()),
    };
    let removed = location::forget(&dir)?;
    keyring_result.context(
        "store.toml was removed, but the saved password could not be deleted from the OS keyring",
    )?;
    if removed {
        println!("This data directory works with the embedded store again; the team database's address and your saved password are forgotten.");
    } else {
        println!("No team database was remembered here; this data directory works with the embedded store.");
    }
    Ok(())
}

/// An invalid-input error (exit status 3) naming `field`.
fn invalid(field: &'static str, reason: impl Into<String>) -> tsched_core::Error {
    tsched_core::Error::Invalid {
        field,
        reason: reason.into(),
    }
}
