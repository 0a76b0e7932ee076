//! The two interactive browser legs, end to end up to the token response: open the system
//! browser on the authorize (or admin-consent) URL, wait on the loopback listener for the
//! redirect, check `state`, and redeem the code (RFC 8252 §7.3, RFC 7636). The authorize URL
//! (PKCE S256, `state`) and the code exchange are the `oauth2` crate's; the admin-consent leg is
//! not an OAuth 2.0 grant and stays ours. A redirect whose `state` is missing or not this
//! attempt's is answered 404 and the wait goes on (RFC 6749 §10.12: it may be a forged or stale
//! request, which must neither end nor decide this sign-in). Nothing is stored here;
//! `integration` decides what to keep.

use std::time::Duration;

use oauth2::{AuthUrl, CsrfToken, PkceCodeChallenge, RedirectUrl, Scope};
use serde::Serialize;
use subtle::ConstantTimeEq;

use super::cloud::Endpoints;
use super::consent::{admin_consent_url, OPERATOR_SCOPE, SIGN_IN_SCOPE, SIGN_IN_SCOPE_CALENDAR};
use super::loopback::{Callback, CancelToken, Loopback, Page, RedirectSpec, Verdict};
use super::opener::BrowserOpener;
use super::tokens::{entra_client, exchange_code, token_url, TokenResponse};
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
    /// The host account connecting an integration whose invitation mode is `calendar`: it also
    /// asks for the host's calendar (`Calendars.ReadWrite`).
    HostWithCalendar,
    /// An operator signing in as themselves.
    Operator,
}

impl Purpose {
    /// The host's sign-in, with the calendar permission when invitations go by calendar.
    pub fn host(calendar: bool) -> Self {
        if calendar {
            Purpose::HostWithCalendar
        } else {
            Purpose::Host
        }
    }

    /// The scopes requested.
    pub fn scope(self) -> &'static str {
        match self {
            Purpose::Host => SIGN_IN_SCOPE,
            Purpose::HostWithCalendar => SIGN_IN_SCOPE_CALENDAR,
            Purpose::Operator => OPERATOR_SCOPE,
        }
    }

    /// The progress step name.
    pub fn step(self) -> &'static str {
        match self {
            Purpose::Host | Purpose::HostWithCalendar => "host_sign_in",
            Purpose::Operator => "operator_sign_in",
        }
    }

    fn success_text(self) -> &'static str {
        match self {
            Purpose::Host | Purpose::HostWithCalendar => "Teams Scheduler received the host account's sign-in and is finishing the connection.",
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

/// A fresh random `state` (oauth2's CSRF token: 16 bytes from the OS RNG, base64url).
pub fn new_state() -> Sensitive<String> {
    Sensitive::new(CsrfToken::new_random().secret().clone())
}

/// Compares the `state` that came back with the one sent, in constant time, so timing does not
/// reveal a prefix (`ct_eq` on slices of different length is false without comparing).
pub fn state_matches(expected: &Sensitive<String>, received: &str) -> bool {
    expected
        .expose()
        .as_bytes()
        .ct_eq(received.as_bytes())
        .into()
}

/// Tells the browser and the person what went wrong, without secrets.
fn failure<T>(e: AuthError) -> Verdict<T> {
    Verdict::Done(Page::Failure(e.to_string()), Err(e))
}

fn callback_error(cb: &Callback) -> Option<AuthError> {
    let error = cb.get("error")?;
    let desc = cb.get("error_description").unwrap_or("");
    Some(AuthError::Identity(IdentityError::new(
        error,
        desc,
        &[],
        cb.get("error_subcode"),
    )))
}

/// Pure: judges a redirect that carries this attempt's `state`; anything else is a stray.
fn judge<T>(
    cb: &Callback,
    state: &Sensitive<String>,
    accept: impl FnOnce(&Callback) -> Verdict<T>,
) -> Verdict<T> {
    // RFC 6749 §10.12: check state before trusting anything else in the response.
    if !cb.get("state").is_some_and(|s| state_matches(state, s)) {
        return Verdict::Stray;
    }
    match callback_error(cb) {
        Some(e) => failure(e),
        None => accept(cb),
    }
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

fn bad_url(what: &str, e: url::ParseError) -> AuthError {
    AuthError::BadResponse {
        status: 0,
        detail: format!("the {what} is not a valid URL: {e}"),
    }
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
    // oauth2 sends this string as given (no trailing slash added): Entra compares it exactly.
    let redirect_uri =
        RedirectUrl::new(listener.redirect_uri()).map_err(|e| bad_url("redirect URI", e))?;
    let authorize = format!(
        "{}/{}/oauth2/v2.0/authorize",
        cfg.endpoints.authority_base, cfg.tenant
    );
    let client = entra_client(
        &cfg.client_id,
        &token_url(&cfg.endpoints.authority_base, &cfg.tenant),
    )?
    .set_auth_uri(AuthUrl::new(authorize).map_err(|e| bad_url("authorize endpoint", e))?)
    .set_redirect_uri(redirect_uri.clone());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client
        .authorize_url(CsrfToken::new_random)
        .add_scopes(
            cfg.purpose
                .scope()
                .split_whitespace()
                .map(|s| Scope::new(s.into())),
        )
        .set_pkce_challenge(challenge)
        .add_extra_param("response_mode", "query")
        // Always show the account picker: the host is a dedicated account, and an operator may
        // not be whoever is signed in to the browser.
        .add_extra_param("prompt", "select_account");
    if let Some(h) = &cfg.login_hint {
        request = request.add_extra_param("login_hint", h.clone());
    }
    let (url, csrf) = request.url();
    let state = Sensitive::new(csrf.secret().clone());
    open(
        opener,
        cfg.purpose.step(),
        url.as_str(),
        cfg.timeout,
        progress,
    );
    let code = listener
        .wait(cfg.timeout, cancel, |cb| {
            judge(cb, &state, |cb| {
                match cb.get("code").filter(|c| !c.is_empty()) {
                    Some(c) => Verdict::Done(
                        Page::Success {
                            title: "Signed in".into(),
                            text: cfg.purpose.success_text().into(),
                        },
                        Ok(Sensitive::new(c.to_string())),
                    ),
                    None => failure(AuthError::MissingCode),
                }
            })
        })
        .await?;
    progress(ConnectProgress::ExchangingCode);
    exchange_code(
        http,
        &client,
        code,
        verifier,
        &redirect_uri,
        cfg.purpose.scope(),
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
        cfg.purpose.scope(),
    );
    open(opener, "admin_consent", &url, cfg.timeout, progress);
    listener
        .wait(cfg.timeout, cancel, |cb| {
            judge(cb, &state, |cb| {
                if cb
                    .get("admin_consent")
                    .is_some_and(|v| v.eq_ignore_ascii_case("true"))
                {
                    Verdict::Done(
                        Page::Success {
                            title: "Organization-wide approval granted".into(),
                            text: "Teams Scheduler is approved for your organization. The host account signs in next.".into(),
                        },
                        Ok(()),
                    )
                } else {
                    failure(AuthError::ConsentNotConfirmed)
                }
            })
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cb(pairs: &[(&str, &str)]) -> Callback {
        Callback {
            query: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn accept(_: &Callback) -> Verdict<()> {
        Verdict::Done(Page::Failure("accepted".into()), Ok(()))
    }

    #[test]
    fn a_callback_with_a_missing_or_wrong_state_is_a_stray_even_with_an_error() {
        let state = new_state();
        for pairs in [
            vec![("code", "c")],
            vec![("code", "c"), ("state", "forged")],
            vec![("error", "access_denied")],
            vec![("error", "access_denied"), ("state", "")],
        ] {
            assert!(
                matches!(judge(&cb(&pairs), &state, accept), Verdict::Stray),
                "{pairs:?} must not end the wait"
            );
        }
        let s = state.expose().clone();
        assert!(
            matches!(
                judge(&cb(&[("code", "c"), ("state", &s)]), &state, accept),
                Verdict::Done(_, Ok(()))
            ),
            "the matching state is judged"
        );
        assert!(
            matches!(
                judge(
                    &cb(&[("error", "access_denied"), ("state", &s)]),
                    &state,
                    accept
                ),
                Verdict::Done(_, Err(AuthError::Identity(_)))
            ),
            "an error with the matching state ends the wait"
        );
    }

    #[test]
    fn state_comparison_is_exact() {
        let s = new_state();
        let same = s.expose().clone();
        assert!(state_matches(&s, &same), "the echoed state must match");
        assert!(!state_matches(&s, &same[..10]), "a prefix must not match");
        assert!(!state_matches(&s, ""), "an empty state must not match");
        assert_ne!(new_state(), s, "each attempt gets a fresh state");
    }
}
