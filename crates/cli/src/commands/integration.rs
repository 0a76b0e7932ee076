//! `tsched integration …`: connect the Microsoft 365 tenant (host sign-in or organization-wide
//! approval), show its status, verify it, print the approval URL, choose how participants are
//! invited (`invitations none|calendar`), remove it. Each arm is a few
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

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum InvitationsArg {
    /// No invitation is sent: the join link, and `.ics` files exported by hand.
    None,
    /// Each meeting is an event on the host's calendar: Exchange sends the invitations,
    /// updates and cancellations (needs Calendars.ReadWrite).
    Calendar,
}

impl From<InvitationsArg> for integration::InvitationMode {
    fn from(a: InvitationsArg) -> Self {
        match a {
            InvitationsArg::None => integration::InvitationMode::None,
            InvitationsArg::Calendar => integration::InvitationMode::Calendar,
        }
    }
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
        /// How participants are invited (else the current mode; `none` at first). `calendar`
        /// also asks for Calendars.ReadWrite.
        #[arg(long, value_enum)]
        invitations: Option<InvitationsArg>,
        #[command(flatten)]
        browser: BrowserArgs,
    },
    /// Choose how participants are invited to new meetings (a global admin's setting):
    /// `none`, or `calendar` (from the host's calendar; needs Calendars.ReadWrite).
    Invitations {
        /// The mode.
        #[arg(value_enum)]
        mode: InvitationsArg,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
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
    print_invitations(s);
}

fn print_invitations(s: &integration::IntegrationStatus) {
    match s.invitation_mode {
        integration::InvitationMode::None => println!(
            "  invitations:   none (share the join link or export .ics files; `tsched integration invitations calendar` sends them from the host's calendar)"
        ),
        integration::InvitationMode::Calendar => println!(
            "  invitations:   calendar (from the host's calendar; Calendars.ReadWrite {})",
            if s.calendar_granted { "granted" } else { "NOT granted" }
        ),
    }
    if let Some(why) = &s.invitations_unavailable_reason {
        println!("  Invitations cannot be sent: {why}");
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
            invitations,
            browser,
        } => {
            let mut store = ctx.store()?;
            let actor = ctx.actor(&store)?;
            let req = ConnectRequest {
                invitations: invitations.map(Into::into),
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
        IntegrationCmd::Invitations { mode, json } => {
            let mut store = ctx.store()?;
            let actor = ctx.actor(&store)?;
            let s = integration::set_invitation_mode(
                &mut store,
                keyring.as_ref(),
                &actor,
                mode.into(),
            )?;
            if json {
                output::json(&s)?;
            } else {
                println!("Invitation mode set to {}.", s.invitation_mode);
                print_invitations(&s);
                if s.invitation_mode.is_calendar() && !s.calendar_granted {
                    println!("Then reconnect the host account (tsched integration connect --tenant …): it asks for Calendars.ReadWrite now.");
                }
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
