//! The token endpoint (`POST {authority}/{tenant}/oauth2/v2.0/token`) and the [`TokenManager`]
//! that keeps the host's access token fresh.
//!
//! - Code redemption and refresh follow v2-oauth2-auth-code-flow
//!   (https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-auth-code-flow): a public
//!   client sends no secret; the code is redeemed with the PKCE verifier (RFC 7636 §4.5).
//! - The HTTP client never follows redirects: a token request answered by a redirect is an error,
//!   not something to re-post elsewhere.
//! - The access token stays in memory only. It is refreshed a little before expiry
//!   ([`REFRESH_SKEW`]) and once when Graph answers 401. Every refresh token returned replaces the
//!   old one in the keyring; callers arriving while a refresh runs wait for it and share its
//!   result (one token request for N callers).

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::error::TokenErrorBody;
use super::keyring::TokenStore;
use super::{AuthError, IdentityError};
use crate::secret::Sensitive;

/// Refresh this long before the access token expires.
pub const REFRESH_SKEW: Duration = Duration::from_secs(120);

/// The HTTP client for identity and Graph: no redirects, bounded time.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(15))
        .timeout(Duration::from_secs(60))
        .user_agent(concat!("TeamsScheduler/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("invariant: a rustls client with static options builds")
}

/// A successful token response. Secrets are wrapped.
#[derive(Debug, Clone)]
pub struct TokenResponse {
    /// The access token for Graph.
    pub access_token: Sensitive<String>,
    /// The new refresh token, when one was issued.
    pub refresh_token: Option<Sensitive<String>>,
    /// The ID token, when `openid` was requested.
    pub id_token: Option<Sensitive<String>>,
    /// Lifetime of the access token.
    pub expires_in: Duration,
    /// Granted scopes, space separated.
    pub scope: String,
}

#[derive(Deserialize)]
struct RawTokenResponse {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    id_token: Option<String>,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
    #[serde(default)]
    scope: String,
}

/// Pure: the form of an authorization-code redemption (RFC 6749 §4.1.3 + RFC 7636 §4.5).
pub fn code_form(
    client_id: &str,
    code: &Sensitive<String>,
    redirect_uri: &str,
    verifier: &Sensitive<String>,
    scope: &str,
) -> Vec<(&'static str, String)> {
    vec![
        ("client_id", client_id.to_string()),
        ("grant_type", "authorization_code".into()),
        ("code", code.expose().clone()),
        ("redirect_uri", redirect_uri.to_string()),
        ("code_verifier", verifier.expose().clone()),
        ("scope", scope.to_string()),
    ]
}

/// Pure: the form of a refresh (RFC 6749 §6).
pub fn refresh_form(
    client_id: &str,
    refresh_token: &Sensitive<String>,
    scope: &str,
) -> Vec<(&'static str, String)> {
    vec![
        ("client_id", client_id.to_string()),
        ("grant_type", "refresh_token".into()),
        ("refresh_token", refresh_token.expose().clone()),
        ("scope", scope.to_string()),
    ]
}

/// `{authority}/{tenant}/oauth2/v2.0/token`.
pub fn token_url(authority_base: &str, tenant: &str) -> String {
    format!("{authority_base}/{tenant}/oauth2/v2.0/token")
}

/// Posts a token request and reads the answer.
pub async fn request_token(
    http: &reqwest::Client,
    url: &str,
    form: &[(&'static str, String)],
) -> Result<TokenResponse, AuthError> {
    let host = url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default();
    let resp = http
        .post(url)
        .header("Accept", "application/json")
        .form(form)
        .send()
        .await
        .map_err(|e| AuthError::Network {
            host: host.clone(),
            reason: describe_reqwest(&e),
        })?;
    let status = resp.status();
    let body = resp.bytes().await.map_err(|e| AuthError::Network {
        host,
        reason: describe_reqwest(&e),
    })?;
    if status.is_success() {
        let de = &mut serde_json::Deserializer::from_slice(&body);
        // A success body holds tokens: a decode error names the JSON path, never the body.
        let raw: RawTokenResponse =
            serde_path_to_error::deserialize(de).map_err(|e| AuthError::BadResponse {
                status: status.as_u16(),
                detail: format!("the token response could not be read at '{}'", e.path()),
            })?;
        let secs = match raw.expires_in {
            Some(serde_json::Value::Number(n)) => n.as_u64().unwrap_or(0),
            Some(serde_json::Value::String(s)) => s.parse().unwrap_or(0),
            _ => 0,
        };
        return Ok(TokenResponse {
            access_token: Sensitive::new(raw.access_token),
            refresh_token: raw.refresh_token.map(Sensitive::new),
            id_token: raw.id_token.map(Sensitive::new),
            expires_in: Duration::from_secs(secs.max(60)),
            scope: raw.scope,
        });
    }
    if status.is_redirection() {
        return Err(AuthError::BadResponse {
            status: status.as_u16(),
            detail: "the token endpoint answered with a redirect, which is never followed; check the cloud/authority".into(),
        });
    }
    match serde_json::from_slice::<TokenErrorBody>(&body) {
        Ok(b) => Err(AuthError::Identity(IdentityError::from_body(b))),
        Err(_) => Err(AuthError::BadResponse {
            status: status.as_u16(),
            detail: truncate(&String::from_utf8_lossy(&body), 300),
        }),
    }
}

/// Pure: a reqwest error without anything but the host (URLs here carry no secrets, but keep
/// messages short).
pub(crate) fn describe_reqwest(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_decode() || e.is_body() {
        "the answer was cut off"
    } else {
        "request failed"
    };
    let mut src: Option<&dyn std::error::Error> = std::error::Error::source(e);
    let mut last = None;
    while let Some(s) = src {
        last = Some(s.to_string());
        src = s.source();
    }
    match last {
        Some(root) => format!("{kind}: {root}"),
        None => kind.to_string(),
    }
}

/// Truncates at a char boundary and marks the cut.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes in all)", &s[..end], s.len())
}

/// Everything the manager needs to refresh.
#[derive(Debug, Clone)]
pub struct RefreshConfig {
    /// `{authority}/{tenant}/oauth2/v2.0/token`.
    pub token_url: String,
    /// Application (client) id.
    pub client_id: String,
    /// Scopes to ask for on refresh.
    pub scope: String,
    /// Keyring account of the refresh token.
    pub account: String,
}

struct Cached {
    token: Sensitive<String>,
    expires: Instant,
}

/// What the manager learned that the store should record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RefreshRecord {
    /// When the last refresh succeeded.
    pub last_refresh_at: Option<DateTime<Utc>>,
    /// Scopes granted by the last refresh.
    pub granted_scope: Option<String>,
}

/// Keeps the host's access token fresh. Cheap to share behind an `Arc`.
pub struct TokenManager {
    http: reqwest::Client,
    cfg: RefreshConfig,
    store: Arc<dyn TokenStore>,
    skew: Duration,
    cached: tokio::sync::Mutex<Option<Cached>>,
    record: Mutex<RefreshRecord>,
}

impl fmt::Debug for TokenManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenManager")
            .field("token_url", &self.cfg.token_url)
            .field("account", &self.cfg.account)
            .finish_non_exhaustive()
    }
}

impl TokenManager {
    /// A manager with no access token yet (the first use refreshes).
    pub fn new(http: reqwest::Client, cfg: RefreshConfig, store: Arc<dyn TokenStore>) -> Self {
        Self {
            http,
            cfg,
            store,
            skew: REFRESH_SKEW,
            cached: tokio::sync::Mutex::new(None),
            record: Mutex::new(RefreshRecord::default()),
        }
    }

    /// Changes the refresh-ahead margin (tests).
    pub fn with_skew(mut self, skew: Duration) -> Self {
        self.skew = skew;
        self
    }

    /// Starts from a token just obtained at sign-in.
    pub async fn prime(&self, token: Sensitive<String>, expires_in: Duration) {
        *self.cached.lock().await = Some(Cached {
            token,
            expires: Instant::now() + expires_in,
        });
    }

    /// What the last refresh learned.
    pub fn record(&self) -> RefreshRecord {
        self.record
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// A valid access token, refreshing when it is missing or about to expire. Concurrent
    /// callers wait on one lock, so only the first refreshes and the rest reuse its token.
    pub async fn access_token(&self) -> Result<Sensitive<String>, AuthError> {
        let mut guard = self.cached.lock().await;
        if let Some(c) = guard.as_ref() {
            if Instant::now() + self.skew < c.expires {
                return Ok(c.token.clone());
            }
        }
        let fresh = self.refresh_locked().await?;
        let token = fresh.token.clone();
        *guard = Some(fresh);
        Ok(token)
    }

    /// Graph refused `rejected` with 401: forget it so the next call refreshes. If another
    /// caller already replaced it, nothing happens (one refresh per rejected token).
    pub async fn reject(&self, rejected: &Sensitive<String>) {
        let mut guard = self.cached.lock().await;
        if guard.as_ref().is_some_and(|c| &c.token == rejected) {
            *guard = None;
        }
    }

    async fn refresh_locked(&self) -> Result<Cached, AuthError> {
        let rt = self
            .store
            .get(&self.cfg.account)?
            .ok_or(AuthError::NoStoredToken)?;
        let form = refresh_form(&self.cfg.client_id, &rt, &self.cfg.scope);
        let started = Instant::now();
        let resp = request_token(&self.http, &self.cfg.token_url, &form).await?;
        if let Some(new_rt) = &resp.refresh_token {
            // Replace the old refresh token (identity-token-refresh.json: "Replace the old
            // refresh token with this newly acquired refresh token").
            self.store.set(&self.cfg.account, new_rt)?;
        }
        {
            let mut rec = self.record.lock().unwrap_or_else(|p| p.into_inner());
            rec.last_refresh_at = Some(Utc::now());
            rec.granted_scope = Some(resp.scope.clone());
        }
        Ok(Cached {
            token: resp.access_token,
            expires: started + resp.expires_in,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_carry_the_pkce_verifier_and_no_secret() {
        let f = code_form(
            "cid",
            &Sensitive::new("the-code".into()),
            "http://localhost:1234",
            &Sensitive::new("the-verifier".into()),
            "openid",
        );
        let get = |k: &str| f.iter().find(|(n, _)| *n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("grant_type"), Some("authorization_code"), "code grant");
        assert_eq!(
            get("code_verifier"),
            Some("the-verifier"),
            "RFC 7636 §4.5 verifier sent"
        );
        assert_eq!(
            get("client_secret"),
            None,
            "a public client never sends a secret"
        );
        let r = refresh_form("cid", &Sensitive::new("rt".into()), "s");
        assert!(
            r.contains(&("grant_type", "refresh_token".into())),
            "refresh grant"
        );
    }

    #[test]
    fn truncate_cuts_at_char_boundaries() {
        let s = "é".repeat(10);
        let t = truncate(&s, 5);
        assert!(
            t.starts_with("éé") && t.contains("20 bytes"),
            "cut on a boundary: {t}"
        );
        assert_eq!(truncate("short", 10), "short", "short strings untouched");
    }
}
