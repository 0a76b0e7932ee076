//! `tsched integration …`: connect the Microsoft 365 tenant (host sign-in or organization-wide
//! approval), show its status, verify it, print the approval URL, remove it. Each arm is a few
//! lines over `tsched_core::integration`; progress goes to stderr, results to stdout.

use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use tsched_core::auth::{cancel_pair, AuthError, Cloud, ConnectProgress, FnOpener};
use tsched_core::integration::{self, Approach, ConnectRequest, ConnectionState};

use super::Context;
use crate::output;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ApproachArg {
    /// The host account signs in (approval must exist or the host may consent).
    Host,
    /// A global admin grants organization-wide approval first, then the host signs in.
    AdminConsent,
}

/// How a browser sign-in runs (shared by `integration connect` and `login`).
#[derive(Debug, Args)]
pub struct BrowserArgs {
    /// Base URL of a running tsched-sandbox instead of a Microsoft cloud.
    #[arg(long, value_name = "URL")]
    pub sandbox: Option<String>,
    /// Print the address instead of opening a browser.
    #[arg(long)]
    pub no_browser: bool,
    /// Loopback redirect URI (default http://localhost with a free port).
    #[arg(long)]
    pub redirect_uri: Option<String>,
    /// Seconds to wait for the browser.
    #[arg(long, default_value_t = 300)]
    pub timeout: u64,
    /// Pre-fill this account in the account picker (its UPN).
    #[arg(long)]
    pub login_hint: Option<String>,
}

impl BrowserArgs {
    /// The system browser through the `webbrowser` crate (`$BROWSER` first, `%s` replaced by
    /// the URL, then xdg-open and the desktop's openers; http(s) only), or under `--no-browser`
    /// a stand-in that opens nothing (the address is printed by the progress output).
    pub fn opener(&self) -> Box<dyn tsched_core::auth::BrowserOpener> {
        if self.no_browser {
            Box::new(FnOpener(|_url: &str| -> Result<(), AuthError> { Ok(()) }))
        } else {
            Box::new(FnOpener(|url: &str| {
                webbrowser::open(url).map_err(|e| AuthError::Browser {
                    reason: e.to_string(),
                    url: url.to_string(),
                })
            }))
        }
    }
}

/// A cancel token that Ctrl-C triggers (call inside the runtime).
pub(super) fn ctrl_c_token() -> tsched_core::auth::CancelToken {
    let (handle, token) = cancel_pair();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            handle.cancel();
        }
    });
    token
}

#[derive(Debug, Subcommand)]
pub enum IntegrationCmd {
    /// Connect the tenant through the system browser.
    Connect {
        /// Which approach.
        #[arg(long, value_enum, default_value = "host")]
        approach: ApproachArg,
        /// Tenant id (GUID) or verified domain, e.g. contoso.onmicrosoft.com.
        #[arg(long)]
        tenant: String,
        /// Cloud: global (the default), usgov, dod, china; or sandbox with --sandbox URL.
        #[arg(long)]
        cloud: Option<String>,
        /// Application (client) id of your app registration (else the settings).
        #[arg(long)]
        client_id: Option<String>,
        #[command(flatten)]
        browser: BrowserArgs,
    },
    /// Show the connection status.
    Status {
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Refresh the host's sign-in and read its profile: proves the connection works.
    Check {
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Print the organization-wide approval address for a global admin to open.
    ConsentUrl {
        /// Tenant id (GUID) or verified domain.
        #[arg(long)]
        tenant: String,
        /// Cloud: global (the default), usgov, dod, china; or sandbox with --sandbox URL.
        #[arg(long)]
        cloud: Option<String>,
        /// Application (client) id (else the settings).
        #[arg(long)]
        client_id: Option<String>,
        /// Base URL of a running tsched-sandbox.
        #[arg(long, value_name = "URL")]
        sandbox: Option<String>,
    },
    /// Remove the integration: forget the host's sign-in; programs keep their settings.
    Remove,
}

pub(super) fn cloud(name: &str, sandbox: Option<&str>) -> anyhow::Result<Cloud> {
    Cloud::chosen(name, sandbox).map_err(|reason| {
        tsched_core::Error::Invalid {
            field: "cloud",
            reason,
        }
        .into()
    })
}

pub(super) fn show_progress(p: ConnectProgress) {
    match p {
        ConnectProgress::OpeningBrowser { step, url } => {
            let what = match step {
                "admin_consent" => "A global admin grants organization-wide approval",
                "operator_sign_in" => "Sign in with your own Microsoft account",
                _ => "Sign in with the host account (Teams Scheduler)",
            };
            eprintln!("{what} in the browser. If it does not open, visit:\n  {url}");
        }
        ConnectProgress::OpenBrowserFailed { reason, .. } => {
            eprintln!("Could not open a browser ({reason}); open the address above yourself.")
        }
        ConnectProgress::WaitingForBrowser { timeout_secs, .. } => {
            eprintln!("Waiting up to {timeout_secs} s for the browser… (Ctrl-C cancels)")
        }
        ConnectProgress::AdminConsentGranted => {
            eprintln!("Organization-wide approval granted. Now the host account signs in.")
        }
        ConnectProgress::ExchangingCode => eprintln!("Finishing sign-in…"),
        ConnectProgress::ReadingProfile => eprintln!("Reading the signed-in account…"),
        ConnectProgress::Saved => {}
    }
}

fn print_status(s: &integration::IntegrationStatus) {
    match s.state {
        ConnectionState::NotConnected => {
            println!("Not connected.");
            if let Some(at) = &s.removed_at {
                println!("  removed: {at}");
            }
            println!("Connect with: tsched integration connect --tenant <tenant id or domain>");
            return;
        }
        ConnectionState::Connected => println!("Connected."),
        ConnectionState::NeedsAttention => println!("Connected, needs attention:"),
    }
    for r in &s.reasons {
        println!("  ! {r}");
    }
    let v = |o: &Option<String>| o.clone().unwrap_or_default();
    println!("  tenant:        {} ({})", v(&s.tenant_id), v(&s.cloud));
    println!(
        "  host account:  {} ({})",
        v(&s.host_upn),
        v(&s.host_display_name)
    );
    println!("  permissions:   {}", s.granted_scopes.join(", "));
    if !s.missing_scopes.is_empty() {
        println!("  missing:       {}", s.missing_scopes.join(", "));
    }
    println!(
        "  connected:     {} by {}",
        v(&s.connected_at),
        v(&s.connected_by)
    );
    if let Some(at) = &s.last_refresh_at {
        println!("  last refresh:  {at}");
    }
    if let Some(why) = &s.meetings_unavailable_reason {
        println!("  Teams meetings unavailable: {why}");
    }
}

pub fn run(cmd: IntegrationCmd, ctx: &Context) -> anyhow::Result<()> {
    let keyring = ctx.tokens();
    match cmd {
        IntegrationCmd::Connect {
            approach,
            tenant,
            cloud: cloud_name,
            client_id,
            browser,
        } => {
            let mut store = ctx.store()?;
            let actor = ctx.actor(&store)?;
            let req = ConnectRequest {
                approach: match approach {
                    ApproachArg::Host => Approach::HostSignIn,
                    ApproachArg::AdminConsent => Approach::AdminConsent,
                },
                client_id,
                redirect_uri: browser.redirect_uri.clone(),
                timeout: Duration::from_secs(browser.timeout.max(1)),
                login_hint: browser.login_hint.clone(),
                ..ConnectRequest::new(
                    tenant,
                    cloud(
                        cloud_name.as_deref().unwrap_or(""),
                        browser.sandbox.as_deref(),
                    )?,
                )
            };
            let opener = browser.opener();
            let status = ctx.runtime()?.block_on(async {
                integration::connect(
                    &mut store,
                    keyring.as_ref(),
                    &actor,
                    &req,
                    opener.as_ref(),
                    ctrl_c_token(),
                    &show_progress,
                )
                .await
            })?;
            print_status(&status);
            if let Some(upn) = &status.first_global_admin {
                // The host signed in while connecting: it is now the first global admin, and
                // this CLI acts as it (no operator token is kept: the host's entry is the
                // integration's).
                if let Some(op) = tsched_core::operators::roster(
                    &store,
                    &tsched_core::Actor::operator(upn.clone()),
                )?
                .operators
                .into_iter()
                .find(|o| &o.upn == upn)
                {
                    tsched_core::signin::adopt_host_as_cli_session(&mut store, &op)?;
                }
                println!("Setup mode has ended: {upn} (the host account that signed in) is the first global admin, and this command line now acts as it. Add operators with `tsched operators add`; each then signs in with `tsched login`.");
            }
        }
        IntegrationCmd::Status { json } => {
            let store = ctx.store()?;
            let s = integration::status(&store, keyring.as_ref())?;
            if json {
                output::json(&s)?;
            } else {
                print_status(&s);
            }
        }
        IntegrationCmd::Check { json } => {
            let mut store = ctx.store()?;
            let tokens = keyring.clone();
            let s = ctx
                .runtime()?
                .block_on(integration::check(&mut store, tokens))?;
            if json {
                output::json(&s)?;
            } else {
                print_status(&s);
            }
        }
        IntegrationCmd::ConsentUrl {
            tenant,
            cloud: cloud_name,
            client_id,
            sandbox,
        } => {
            let store = ctx.store()?;
            let c = cloud(cloud_name.as_deref().unwrap_or(""), sandbox.as_deref())?;
            let url = integration::consent_url(&store, &tenant, &c, client_id.as_deref())?;
            println!("{url}");
            eprintln!("A global admin of the tenant opens this address and accepts. Then connect with the host account: tsched integration connect --tenant {tenant}");
        }
        IntegrationCmd::Remove => {
            let mut store = ctx.store()?;
            let actor = ctx.actor(&store)?;
            let removed = integration::remove(&mut store, keyring.as_ref(), &actor)?;
            println!("Integration removed: the host's sign-in was deleted from the OS keyring. Programs keep their settings; Teams meetings are unavailable until you connect again.");
            println!("To also revoke access in Microsoft Entra:");
            for line in removed.revoke_instructions {
                println!("  - {line}");
            }
        }
    }
    Ok(())
}
