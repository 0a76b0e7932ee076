//! `tsched login | logout | whoami`: the operator's own sign-in. `login` runs the browser flow
//! (scopes `openid profile offline_access User.Read`), matches the account to the roster (the
//! first account in setup mode becomes global admin) and keeps the operator's refresh token in
//! the OS keyring under its own entry so later runs act as them unattended.

use std::time::Duration;

use clap::Args;
use serde::Serialize;
use tsched_core::access::Subject;
use tsched_core::signin::{self, SignInRequest};
use tsched_core::Actor;

use super::integration::{cloud, ctrl_c_token, show_progress, BrowserArgs};
use super::Context;
use crate::output;

/// `tsched login`.
#[derive(Debug, Args)]
pub struct Login {
    /// Tenant id (GUID) or verified domain (default: the connected integration's tenant).
    #[arg(long)]
    tenant: Option<String>,
    /// Cloud: global, usgov, dod, china (default: the integration's).
    #[arg(long)]
    cloud: Option<String>,
    /// Application (client) id (default: the integration's).
    #[arg(long)]
    client_id: Option<String>,
    #[command(flatten)]
    browser: BrowserArgs,
    /// Print JSON for scripts.
    #[arg(long)]
    json: bool,
}

/// `tsched whoami`.
#[derive(Debug, Args)]
pub struct Whoami {
    /// Also refresh the saved sign-in and re-read your account from Microsoft (network).
    #[arg(long)]
    check: bool,
    /// Print JSON for scripts.
    #[arg(long)]
    json: bool,
}

pub fn login(args: Login, ctx: &Context) -> anyhow::Result<()> {
    if ctx.location()?.is_shared() {
        // On a team database the database login is the operator (proven by the server); a
        // Microsoft sign-in would only write this workstation's session into shared settings.
        anyhow::bail!(tsched_core::Error::Invalid {
            field: "store",
            reason: "this data directory works with a team database, where you act as your database login: use `tsched store login --password-stdin` instead".into(),
        });
    }
    let mut store = ctx.store()?;
    let b = &args.browser;
    let cloud = match (&args.cloud, &b.sandbox) {
        (None, None) => None,
        (c, s) => Some(cloud(c.as_deref().unwrap_or(""), s.as_deref())?),
    };
    let req = SignInRequest {
        tenant: args.tenant,
        cloud,
        client_id: args.client_id,
        redirect_uri: b.redirect_uri.clone(),
        timeout: Some(Duration::from_secs(b.timeout.max(1))),
        login_hint: b.login_hint.clone(),
    };
    let prepared = signin::prepare(&store, &req)?;
    let opener = b.opener();
    let signed = ctx.runtime()?.block_on(async {
        signin::sign_in(&prepared, opener.as_ref(), ctrl_c_token(), &show_progress).await
    })?;
    let info = signin::save_cli_session(&mut store, ctx.tokens().as_ref(), signed)?;
    if args.json {
        return output::json(&info);
    }
    println!(
        "Signed in as {} ({}), tenant {}.",
        info.upn, info.display_name, info.tenant_id
    );
    println!("  roles: {}", roles_text(&info.roles));
    if info.bootstrapped {
        println!("Setup mode has ended: {} is the first global admin (audited). Add other operators with `tsched operators add`.", info.upn);
    }
    Ok(())
}

pub fn logout(ctx: &Context) -> anyhow::Result<()> {
    let mut store = ctx.store()?;
    match signin::logout(&mut store, ctx.tokens().as_ref())? {
        Some(s) => println!(
            "Signed out {}: the saved sign-in was removed from the OS keyring.",
            s.upn
        ),
        None => println!("Not signed in; nothing to remove."),
    }
    Ok(())
}

/// What `whoami --json` prints.
#[derive(Debug, Serialize)]
struct WhoamiOut {
    /// `setup_mode`, `signed_in`, `acting_as` (the --as override) or `signed_out`.
    state: &'static str,
    upn: Option<String>,
    display_name: Option<String>,
    tenant_id: Option<String>,
    signed_in_at: Option<String>,
    roles: Vec<String>,
    check: Option<signin::Verification>,
}

fn roles_text(roles: &[String]) -> String {
    if roles.is_empty() {
        "none (ask a global admin to grant one)".into()
    } else {
        roles.join(", ")
    }
}

pub fn whoami(args: Whoami, ctx: &Context) -> anyhow::Result<()> {
    let store = ctx.store()?;
    let session = signin::cli_session(&store)?;
    let setup = tsched_core::operators::is_setup_mode(&store)?;
    let mut out = WhoamiOut {
        state: "signed_out",
        upn: None,
        display_name: None,
        tenant_id: None,
        signed_in_at: None,
        roles: Vec::new(),
        check: None,
    };
    let acting: Option<Actor> = match (&ctx.as_upn, &session) {
        (Some(upn), _) => {
            out.state = "acting_as";
            Some(Actor::operator(upn.clone()))
        }
        (None, Some(s)) => {
            out.state = "signed_in";
            out.display_name = Some(s.display_name.clone());
            out.tenant_id = Some(s.tenant_id.clone());
            out.signed_in_at = Some(s.signed_in_at.clone());
            Some(Actor::operator(s.upn.clone()))
        }
        (None, None) if setup => {
            out.state = "setup_mode";
            None
        }
        (None, None) => None,
    };
    if let Some(actor) = &acting {
        out.upn = actor.operator_upn.clone();
        let resolved = tsched_core::operators::whoami(&store, actor)?;
        if let Subject::Operator { grants } = resolved.subject {
            out.roles = grants.iter().map(ToString::to_string).collect();
        }
    }
    if args.check {
        if let (Some(s), None) = (&session, &ctx.as_upn) {
            let tokens = ctx.tokens();
            out.check = Some(
                ctx.runtime()?
                    .block_on(signin::verify_cli_session(&store, s, tokens)),
            );
        }
    }
    if args.json {
        return output::json(&out);
    }
    match out.state {
        "setup_mode" => {
            println!("Setup mode: this store has no operators yet, so you (the local user) may do everything.");
            println!("The first account to sign in — `tsched login`, or connecting the integration as the host — becomes the first global admin.");
        }
        "signed_out" => println!("Not signed in. Run `tsched login` (or pass --as UPN)."),
        state => {
            let upn = out.upn.clone().unwrap_or_default();
            if state == "acting_as" {
                println!("Acting as {upn} (--as / TSCHED_OPERATOR: not a verified sign-in).");
            } else {
                println!(
                    "Signed in as {upn} ({}), tenant {}, since {}.",
                    out.display_name.clone().unwrap_or_default(),
                    out.tenant_id.clone().unwrap_or_default(),
                    out.signed_in_at.clone().unwrap_or_default()
                );
            }
            println!("  roles: {}", roles_text(&out.roles));
        }
    }
    if let Some(c) = &out.check {
        match &c.reason {
            None => println!("  check: the saved sign-in works ({}).", c.checked_at),
            Some(r) => println!("  check failed: {r}"),
        }
    }
    if out.check.as_ref().is_some_and(|c| !c.ok) {
        return Err(tsched_core::Error::Denied(
            out.check
                .and_then(|c| c.reason)
                .unwrap_or_else(|| "the saved sign-in does not work".into()),
        )
        .into());
    }
    Ok(())
}
