//! The two interactive browser legs, end to end up to the token response: open the system
//! browser on the authorize (or admin-consent) URL, wait on the loopback listener for the
//! redirect, check `state`, and redeem the code (RFC 8252 §7.3, RFC 7636). Nothing is stored
//! here; `integration` decides what to keep.

use std::time::Duration;

use serde::Serialize;

use super::cloud::Endpoints;
use super::consent::{admin_consent_url, authorize_url, OPERATOR_SCOPE, SIGN_IN_SCOPE};
use super::loopback::{CancelToken, Loopback, Page, RedirectSpec};
use super::opener::BrowserOpener;
use super::pkce::{new_state, state_matches, Pkce};
use super::tokens::{code_form, request_token, token_url, TokenResponse};
use super::{AuthError, IdentityError};
use crate::secret::Sensitive;

/// Default time the person gets in the browser.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// Progress of a connection, for a UI (Tauri event / channel) or the CLI. Carries no secret;
/// URLs shown hold only the PKCE challenge and the `state`, which are useless without the
/// verifier and this process's listener.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ConnectProgress {
    /// The browser is being sent to this address.
    OpeningBrowser {
        /// Which step: `admin_consent`, `host_sign_in` or `operator_sign_in`.
        step: &'static str,
        /// The address.
        url: String,
    },
    /// The browser could not be opened; the person must open the address.
    OpenBrowserFailed {
        /// The address to open by hand.
        url: String,
        /// Why.
        reason: String,
    },
    /// Waiting for the browser to come back.
    WaitingForBrowser {
        /// Which step.
        step: &'static str,
        /// Seconds before giving up.
        timeout_secs: u64,
    },
    /// A global admin granted organization-wide approval; the host signs in next.
    AdminConsentGranted,
    /// Redeeming the code.
    ExchangingCode,
    /// Reading the host account's profile.
    ReadingProfile,
    /// Saved: connected.
    Saved,
}

/// Whose sign-in a flow is: the dedicated host account connecting the tenant, or an operator
/// proving who they are. Decides the scopes, the progress step name and the browser's page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Purpose {
    /// The host account (Teams Scheduler) connecting the integration.
    #[default]
    Host,
    /// An operator signing in as themselves.
    Operator,
}

impl Purpose {
    /// The scopes requested.
    pub fn scope(self) -> &'static str {
        match self {
            Purpose::Host => SIGN_IN_SCOPE,
            Purpose::Operator => OPERATOR_SCOPE,
        }
    }

    /// The progress step name.
    pub fn step(self) -> &'static str {
        match self {
            Purpose::Host => "host_sign_in",
            Purpose::Operator => "operator_sign_in",
        }
    }

    fn success_text(self) -> &'static str {
        match self {
            Purpose::Host => "Teams Scheduler received the host account's sign-in and is finishing the connection.",
            Purpose::Operator => "Teams Scheduler received your sign-in and is checking you against the operator roster.",
        }
    }
}

/// What an interactive leg needs.
#[derive(Debug, Clone)]
pub struct FlowConfig {
    /// Host or operator sign-in.
    pub purpose: Purpose,
    /// Authority and Graph bases.
    pub endpoints: Endpoints,
    /// Validated tenant id or domain.
    pub tenant: String,
    /// Application (client) id.
    pub client_id: String,
    /// Loopback redirect.
    pub redirect: RedirectSpec,
    /// How long to wait for the browser.
    pub timeout: Duration,
    /// Pre-fills the account picker.
    pub login_hint: Option<String>,
}

/// Tells the browser and the person what went wrong, without secrets.
fn failure(e: AuthError) -> (Page, Result<Sensitive<String>, AuthError>) {
    (Page::Failure(e.to_string()), Err(e))
}

fn callback_error(cb: &super::loopback::Callback) -> Option<AuthError> {
    let error = cb.get("error")?;
    let desc = cb.get("error_description").unwrap_or("");
    Some(AuthError::Identity(IdentityError::new(
        error,
        desc,
        &[],
        cb.get("error_subcode"),
    )))
}

fn open(
    opener: &dyn BrowserOpener,
    step: &'static str,
    url: &str,
    timeout: Duration,
    progress: &(dyn Fn(ConnectProgress) + Send + Sync),
) {
    progress(ConnectProgress::OpeningBrowser {
        step,
        url: url.to_string(),
    });
    if let Err(e) = opener.open(url) {
        let reason = match e {
            AuthError::Browser { reason, .. } => reason,
            other => other.to_string(),
        };
        progress(ConnectProgress::OpenBrowserFailed {
            url: url.to_string(),
            reason,
        });
    }
    progress(ConnectProgress::WaitingForBrowser {
        step,
        timeout_secs: timeout.as_secs(),
    });
}

/// Browser sign-in (host or operator, per `cfg.purpose`): authorization code + PKCE through the
/// system browser.
pub async fn sign_in(
    http: &reqwest::Client,
    cfg: &FlowConfig,
    opener: &dyn BrowserOpener,
    cancel: CancelToken,
    progress: &(dyn Fn(ConnectProgress) + Send + Sync),
) -> Result<TokenResponse, AuthError> {
    let listener = Loopback::bind(&cfg.redirect).await?;
    let redirect_uri = listener.redirect_uri();
    let pkce = Pkce::generate();
    let state = new_state();
    let url = authorize_url(
        &cfg.endpoints.authority_base,
        &cfg.tenant,
        &cfg.client_id,
        &redirect_uri,
        state.expose(),
        &pkce.challenge,
        cfg.login_hint.as_deref(),
        cfg.purpose.scope(),
    );
    open(opener, cfg.purpose.step(), &url, cfg.timeout, progress);
    let code = listener
        .wait(cfg.timeout, cancel, |cb| {
            // RFC 6749 §10.12: check state before trusting anything else in the response.
            match cb.get("state") {
                Some(s) if state_matches(&state, s) => {}
                None if cb.get("error").is_some() => {
                    return failure(callback_error(cb).expect("invariant: error is present"))
                }
                _ => return failure(AuthError::StateMismatch),
            }
            if let Some(e) = callback_error(cb) {
                return failure(e);
            }
            match cb.get("code").filter(|c| !c.is_empty()) {
                Some(c) => (
                    Page::Success {
                        title: "Signed in".into(),
                        text: cfg.purpose.success_text().into(),
                    },
                    Ok(Sensitive::new(c.to_string())),
                ),
                None => failure(AuthError::MissingCode),
            }
        })
        .await?;
    progress(ConnectProgress::ExchangingCode);
    let form = code_form(
        &cfg.client_id,
        &code,
        &redirect_uri,
        &pkce.verifier,
        cfg.purpose.scope(),
    );
    request_token(
        http,
        &token_url(&cfg.endpoints.authority_base, &cfg.tenant),
        &form,
    )
    .await
}

/// Organization-wide approval by a global admin through the system browser. Returns when the
/// redirect confirms `admin_consent=True`; no code comes back (v2-admin-consent).
pub async fn admin_consent(
    cfg: &FlowConfig,
    opener: &dyn BrowserOpener,
    cancel: CancelToken,
    progress: &(dyn Fn(ConnectProgress) + Send + Sync),
) -> Result<(), AuthError> {
    let listener = Loopback::bind(&cfg.redirect).await?;
    let redirect_uri = listener.redirect_uri();
    let state = new_state();
    let url = admin_consent_url(
        &cfg.endpoints.authority_base,
        &cfg.tenant,
        &cfg.client_id,
        &redirect_uri,
        state.expose(),
    );
    open(opener, "admin_consent", &url, cfg.timeout, progress);
    listener
        .wait(cfg.timeout, cancel, |cb| {
            match cb.get("state") {
                Some(s) if state_matches(&state, s) => {}
                None if cb.get("error").is_some() => {
                    let e = callback_error(cb).expect("invariant: error is present");
                    return (Page::Failure(e.to_string()), Err(e));
                }
                _ => {
                    let e = AuthError::StateMismatch;
                    return (Page::Failure(e.to_string()), Err(e));
                }
            }
            if let Some(e) = callback_error(cb) {
                return (Page::Failure(e.to_string()), Err(e));
            }
            if cb
                .get("admin_consent")
                .is_some_and(|v| v.eq_ignore_ascii_case("true"))
            {
                (
                    Page::Success {
                        title: "Organization-wide approval granted".into(),
                        text: "Teams Scheduler is approved for your organization. The host account signs in next.".into(),
                    },
                    Ok(()),
                )
            } else {
                let e = AuthError::ConsentNotConfirmed;
                (Page::Failure(e.to_string()), Err(e))
            }
        })
        .await
}
