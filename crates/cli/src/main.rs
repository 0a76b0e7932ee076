//! `tsched`: the Teams Scheduler command line. Each subcommand lives in `commands/<name>.rs` and is
//! a few lines over `tsched-core`. Failures print one line on stderr and exit non-zero; the exit
//! status tells the kind of failure (see `exit_code`).

mod commands;
mod logging;
mod output;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Teams Scheduler: connect a Microsoft 365 tenant to your programs and hold meetings as Teams calls.
#[derive(Debug, Parser)]
#[command(name = "tsched", version, about, propagate_version = true)]
struct Cli {
    /// Data directory shared with the desktop app (default: $TSCHED_DATA_DIR, else the
    /// platform's app-data directory, e.g. ~/.local/share/teams-scheduler).
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,

    /// Work with this team database (postgres://login@host:port/database?sslmode=verify-full)
    /// instead of TSCHED_DATABASE_URL, the one `tsched store use` remembered, or the embedded
    /// store. Its password comes from the OS keyring (`tsched store login`).
    #[arg(long, global = true, value_name = "URL")]
    database_url: Option<String>,

    /// Act as this operator of the roster (their UPN) without proving it: a test-only switch,
    /// honoured only with TSCHED_TEST_IMPERSONATION=1 (and then audited as impersonation by the
    /// local user). Otherwise `tsched login` proves who acts; without a sign-in the local user
    /// acts, which works only in setup mode.
    #[arg(
        long = "as",
        global = true,
        env = "TSCHED_OPERATOR",
        value_name = "UPN"
    )]
    as_upn: Option<String>,

    /// Also trust the CA certificates in this PEM file for identity and Graph (e.g. the
    /// `ca_file` of `tsched-sandbox --tls`); verification always stays on. For `store init` and
    /// `store use`, also the team database server's CA (remembered in store.toml).
    #[arg(long, global = true, env = "TSCHED_CA_FILE", value_name = "PEM")]
    ca_file: Option<PathBuf>,

    /// Also print the log on stderr: -v our info, -vv our debug (RUST_LOG overrides). The log
    /// file under <data dir>/logs is written either way.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Programs (tracks) and their meeting modes.
    #[command(subcommand)]
    Programs(commands::programs::Programs),
    /// Operators (the people who use the app) and their roles.
    #[command(subcommand)]
    Operators(commands::operators::Operators),
    /// Read or export the audit trail.
    Audit(commands::audit::Audit),
    /// Create Teams meetings in bulk from a CSV file: validate, run, list, show, resume, cancel, export.
    #[command(subcommand)]
    Batch(commands::batch::BatchCmd),
    /// The Microsoft 365 tenant integration: connect, status, check, consent-url, remove.
    #[command(subcommand)]
    Integration(commands::integration::IntegrationCmd),
    /// Directory membership: is an address a member of the tenant; can a person get a Teams meeting.
    #[command(subcommand)]
    Members(commands::members::Members),
    /// Teams meetings: create, reschedule, cancel, list, show, ics.
    #[command(subcommand)]
    Meetings(commands::meetings::MeetingsCmd),
    /// Sign in as yourself (an operator) through the browser; later runs act as you.
    Login(commands::session::Login),
    /// Forget your sign-in (removes your refresh token from the OS keyring).
    Logout,
    /// Who is acting: signed-in operator and roles, or setup mode.
    Whoami(commands::session::Whoami),
    /// Diagnostics for support: export a zip of recent logs, versions and failures.
    #[command(subcommand)]
    Diagnostics(commands::diagnostics::DiagnosticsCmd),
    /// Which store: the embedded one or a team's shared database (init, use, login, status, forget).
    #[command(subcommand)]
    Store(commands::store::StoreCmd),
    /// The host agent of a team store: run it where the host's token is; status; queued jobs.
    #[command(subcommand)]
    Agent(commands::agent::AgentCmd),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(
        tsched_core::paths::resolve_data_dir(cli.data_dir.as_deref()).as_deref(),
        cli.verbose,
    );
    tracing::info!(version = env!("CARGO_PKG_VERSION"), "tsched started");
    if let Some(path) = cli.ca_file.as_deref() {
        if let Err(e) = tsched_core::tls::trust_ca_file(path) {
            eprintln!("tsched: error: {e}");
            return ExitCode::from(3);
        }
    }
    let ctx = commands::Context::new(cli.data_dir, cli.as_upn).with_database_url(cli.database_url);
    let result = match cli.command {
        Command::Programs(cmd) => commands::programs::run(cmd, &ctx),
        Command::Operators(cmd) => commands::operators::run(cmd, &ctx),
        Command::Audit(cmd) => commands::audit::run(cmd, &ctx),
        Command::Batch(cmd) => commands::batch::run(cmd, &ctx),
        Command::Integration(cmd) => commands::integration::run(cmd, &ctx),
        Command::Members(cmd) => commands::members::run(cmd, &ctx),
        Command::Meetings(cmd) => commands::meetings::run(cmd, &ctx),
        Command::Login(args) => commands::session::login(args, &ctx),
        Command::Logout => commands::session::logout(&ctx),
        Command::Whoami(args) => commands::session::whoami(args, &ctx),
        Command::Diagnostics(cmd) => commands::diagnostics::run(cmd, &ctx),
        Command::Store(cmd) => commands::store::run(cmd, &ctx, cli.ca_file.as_deref()),
        Command::Agent(cmd) => commands::agent::run(cmd, &ctx),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the chain of causes joined, never a backtrace.
            tracing::warn!(error = %one_line(&e), "command failed");
            eprintln!("tsched: error: {}", one_line(&e));
            ExitCode::from(exit_code(&e))
        }
    }
}

fn one_line(e: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in e.chain() {
        let s = cause.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
    }
    parts.join(": ").replace('\n', " ")
}

/// Exit statuses: 1 generic, 2 usage (clap), 3 invalid input, 4 not found, 5 conflict,
/// 6 denied, 7 store locked, 8 store unusable or unavailable, 9 integration sign-in needs action,
/// 10 OS keyring unavailable, 11 network or Graph failure.
fn exit_code(e: &anyhow::Error) -> u8 {
    use tsched_core::ErrorCode as C;
    match e.downcast_ref::<tsched_core::Error>().map(|e| e.code()) {
        Some(C::InvalidInput) => 3,
        Some(C::NotFound) => 4,
        Some(C::Conflict) => 5,
        Some(C::Denied) => 6,
        Some(C::StoreLocked) => 7,
        Some(C::StoreUnusable) | Some(C::StoreUnavailable) => 8,
        Some(C::NotConnected | C::ReconnectRequired | C::ConsentRequired | C::MfaRequired)
        | Some(C::SignInFailed | C::SignInCancelled | C::Timeout) => 9,
        Some(C::KeyringUnavailable) => 10,
        Some(C::Network | C::Graph) => 11,
        _ => 1,
    }
}
