//! The token endpoint (`POST {authority}/{tenant}/oauth2/v2.0/token`) and the [`TokenManager`]
//! that keeps the host's access token fresh.
//!
//! - The protocol legs are the `oauth2` crate's: code redemption with the PKCE verifier
//!   (RFC 7636 §4.5) and the refresh-token grant (RFC 6749 §6), as a public client (no secret,
//!   `client_id` in the body), per v2-oauth2-auth-code-flow
//!   (https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-auth-code-flow).
//!   What stays ours: the transport ([`send_capped`]: no redirect is ever followed, the body is
//!   capped at [`MAX_TOKEN_BODY`]), the Entra error body ([`EntraErrorResponse`], with
//!   `error_codes` and `suberror` for the AADSTS-to-action mapping) and the mapping to
//!   [`AuthError`], which never carries a token.
//! - The access token stays in memory only. It is refreshed a little before expiry
//!   ([`REFRESH_SKEW`]) and once when Graph answers 401. Every refresh token returned replaces the
//!   old one in the keyring; callers arriving while a refresh runs wait for it and share its
//!   result (one token request for N callers).
//! - One `tracing` event per token request: method, path template, grant type, status, duration
//!   and the AADSTS code of a refusal. Never a token, code or verifier.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use oauth2::basic::{
    BasicRevocationErrorResponse, BasicTokenIntrospectionResponse, BasicTokenType,
};
use oauth2::{
    AuthType, AuthorizationCode, ClientId, ExtraTokenFields, PkceCodeVerifier, RedirectUrl,
    RefreshToken, RequestTokenError, Scope, StandardRevocableToken, StandardTokenResponse,
    TokenResponse as _, TokenUrl,
};
use serde::{Deserialize, Serialize};

use super::keyring::TokenStore;
use super::{AuthError, IdentityError};
use crate::secret::Sensitive;

/// Refresh this long before the access token expires.
pub const REFRESH_SKEW: Duration = Duration::from_secs(120);

/// Largest token-endpoint answer read. Entra's token responses (access, refresh and ID token)
/// are a few KiB; a larger answer is refused rather than buffered.
pub const MAX_TOKEN_BODY: usize = 256 * 1024;

/// The path template logged for token requests (the tenant is not a secret, but one template
/// keeps the events comparable).
const TOKEN_PATH: &str = "/{tenant}/oauth2/v2.0/token";

/// The HTTP client for identity and Graph: no redirects, bounded time.
pub fn http_client() -> reqwest::Client {
    // Extra CAs (--ca-file / TSCHED_CA_FILE, checked when configured) on top of the web roots.
    crate::tls::with_extra_roots(reqwest::Client::builder())
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

/// The OpenID Connect field Entra adds to the token response.
#[derive(Clone, Deserialize, Serialize)]
pub struct IdTokenField {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
}

impl fmt::Debug for IdTokenField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IdTokenField { .. }")
    }
}

impl ExtraTokenFields for IdTokenField {}

/// The JSON error body of Entra's token endpoint (identity-token-errors.json): RFC 6749 §5.2's
/// `error` and `error_description`, plus `error_codes` (the AADSTS numbers) and `suberror`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct EntraErrorResponse {
    /// OAuth `error` (`invalid_grant`, ...); any string, Entra adds its own.
    pub error: String,
    /// Human-readable text, starting with the AADSTS code.
    #[serde(default)]
    pub error_description: String,
    /// The AADSTS numbers.
    #[serde(default)]
    pub error_codes: Vec<u32>,
    /// `suberror` (`bad_token`, `consent_required`, ...).
    #[serde(default)]
    pub suberror: Option<String>,
}

impl fmt::Display for EntraErrorResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error, self.error_description)
    }
}

impl oauth2::ErrorResponse for EntraErrorResponse {}

impl From<EntraErrorResponse> for IdentityError {
    fn from(b: EntraErrorResponse) -> Self {
        IdentityError::new(
            &b.error,
            &b.error_description,
            &b.error_codes,
            b.suberror.as_deref(),
        )
    }
}

/// The oauth2 client specialised for Entra: our error body and the ID-token field.
pub(crate) type EntraClient<HasAuthUrl = oauth2::EndpointNotSet> = oauth2::Client<
    EntraErrorResponse,
    StandardTokenResponse<IdTokenField, BasicTokenType>,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    HasAuthUrl,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
>;

/// A public client (no secret: `client_id` goes in the body) for `token_url`.
pub(crate) fn entra_client(client_id: &str, token_url: &str) -> Result<EntraClient, AuthError> {
    let url = TokenUrl::new(token_url.to_string()).map_err(|e| AuthError::BadResponse {
        status: 0,
        detail: format!("the token endpoint '{token_url}' is not a URL: {e}"),
    })?;
    Ok(oauth2::Client::new(ClientId::new(client_id.to_string()))
        .set_auth_type(AuthType::RequestBody)
        .set_token_uri(url))
}

/// `{authority}/{tenant}/oauth2/v2.0/token`.
pub fn token_url(authority_base: &str, tenant: &str) -> String {
    format!("{authority_base}/{tenant}/oauth2/v2.0/token")
}

/// Why the transport gave no response to read. Never holds a body.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TransportError {
    /// Connecting, sending or reading failed.
    #[error("{0}")]
    Network(String),
    /// A 3xx: never followed, never re-posted elsewhere.
    #[error("the token endpoint answered with a redirect, which is never followed; check the cloud/authority")]
    Redirect,
    /// The body passed [`MAX_TOKEN_BODY`].
    #[error("the answer is larger than {} KiB and was not read", MAX_TOKEN_BODY / 1024)]
    TooLarge,
}

/// oauth2's HTTP seam over our reqwest client (see [`send_capped`]); remembers the status.
pub(crate) struct Capped<'a> {
    http: &'a reqwest::Client,
    seen: AtomicU16,
}

impl<'a> Capped<'a> {
    fn new(http: &'a reqwest::Client) -> Self {
        Self {
            http,
            seen: AtomicU16::new(0),
        }
    }

    fn status(&self) -> u16 {
        self.seen.load(Ordering::Relaxed)
    }
}

impl<'c> oauth2::AsyncHttpClient<'c> for Capped<'_> {
    type Error = TransportError;
    type Future =
        Pin<Box<dyn Future<Output = Result<oauth2::HttpResponse, TransportError>> + Send + 'c>>;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(send_capped(self.http, &self.seen, request))
    }
}

/// Sends `request`: records the status in `seen`, refuses redirects and reads at most
/// [`MAX_TOKEN_BODY`] bytes (oauth2's own reqwest client reads any length).
async fn send_capped(
    http: &reqwest::Client,
    seen: &AtomicU16,
    request: oauth2::HttpRequest,
) -> Result<oauth2::HttpResponse, TransportError> {
    let net = |e: reqwest::Error| TransportError::Network(describe_reqwest(&e));
    let request = reqwest::Request::try_from(request).map_err(net)?;
    let mut resp = http.execute(request).await.map_err(net)?;
    let status = resp.status();
    seen.store(status.as_u16(), Ordering::Relaxed);
    if status.is_redirection() {
        return Err(TransportError::Redirect);
    }
    if resp
        .content_length()
        .is_some_and(|n| n > MAX_TOKEN_BODY as u64)
    {
        return Err(TransportError::TooLarge);
    }
    let mut builder = oauth2::http::Response::builder().status(status);
    for (name, value) in resp.headers() {
        builder = builder.header(name, value);
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(net)? {
        if body.len() + chunk.len() > MAX_TOKEN_BODY {
            return Err(TransportError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    builder
        .body(body)
        .map_err(|e| TransportError::Network(format!("unreadable response: {e}")))
}

type OauthResult = Result<
    StandardTokenResponse<IdTokenField, BasicTokenType>,
    RequestTokenError<TransportError, EntraErrorResponse>,
>;

/// Redeems an authorization code with its PKCE verifier (RFC 7636 §4.5).
pub(crate) async fn exchange_code(
    http: &reqwest::Client,
    client: &EntraClient<impl oauth2::EndpointState>,
    code: Sensitive<String>,
    verifier: PkceCodeVerifier,
    redirect_uri: &RedirectUrl,
    scope: &str,
) -> Result<TokenResponse, AuthError> {
    let transport = Capped::new(http);
    let started = Instant::now();
    let result = client
        .exchange_code(AuthorizationCode::new(code.expose().clone()))
        .set_pkce_verifier(verifier)
        .set_redirect_uri(std::borrow::Cow::Borrowed(redirect_uri))
        .add_extra_param("scope", scope.to_string())
        .request_async(&transport)
        .await;
    finish(
        client,
        "authorization_code",
        result,
        transport.status(),
        started,
    )
}

/// The refresh-token grant (RFC 6749 §6).
pub(crate) async fn refresh(
    http: &reqwest::Client,
    cfg: &RefreshConfig,
    refresh_token: &Sensitive<String>,
) -> Result<TokenResponse, AuthError> {
    let client = entra_client(&cfg.client_id, &cfg.token_url)?;
    let rt = RefreshToken::new(refresh_token.expose().clone());
    let transport = Capped::new(http);
    let started = Instant::now();
    let result = client
        .exchange_refresh_token(&rt)
        .add_scopes(cfg.scope.split_whitespace().map(|s| Scope::new(s.into())))
        .request_async(&transport)
        .await;
    finish(
        &client,
        "refresh_token",
        result,
        transport.status(),
        started,
    )
}

/// Logs the call and turns oauth2's answer into ours.
fn finish<S: oauth2::EndpointState>(
    client: &EntraClient<S>,
    grant_type: &'static str,
    result: OauthResult,
    status: u16,
    started: Instant,
) -> Result<TokenResponse, AuthError> {
    let host = client
        .token_uri()
        .url()
        .host_str()
        .unwrap_or_default()
        .to_string();
    let out = result
        .map(into_response)
        .map_err(|e| into_auth_error(e, status, host));
    let aadsts = out
        .as_ref()
        .err()
        .and_then(|e| e.identity())
        .and_then(|i| i.aadsts);
    let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    match &out {
        Ok(_) => tracing::info!(
            target: "tsched::identity",
            method = "POST",
            path = TOKEN_PATH,
            grant_type,
            status,
            duration_ms,
            "token request"
        ),
        Err(e) => tracing::warn!(
            target: "tsched::identity",
            method = "POST",
            path = TOKEN_PATH,
            grant_type,
            status,
            duration_ms,
            aadsts,
            error_code = ?e.code(),
            "token request failed"
        ),
    }
    out
}

fn into_response(r: StandardTokenResponse<IdTokenField, BasicTokenType>) -> TokenResponse {
    TokenResponse {
        access_token: Sensitive::new(r.access_token().secret().clone()),
        refresh_token: r
            .refresh_token()
            .map(|t| Sensitive::new(t.secret().clone())),
        id_token: r.extra_fields().id_token.clone().map(Sensitive::new),
        // A missing or tiny lifetime still gets a minute, so a token is never refreshed per call.
        expires_in: r
            .expires_in()
            .unwrap_or_default()
            .max(Duration::from_secs(60)),
        scope: r
            .scopes()
            .map(|s| s.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" "))
            .unwrap_or_default(),
    }
}

/// Pure: oauth2's error as ours. A body is quoted only when the status says it is an error (a
/// 200 body holds tokens: only the JSON path that failed is named).
fn into_auth_error(
    e: RequestTokenError<TransportError, EntraErrorResponse>,
    status: u16,
    host: String,
) -> AuthError {
    match e {
        RequestTokenError::ServerResponse(b) => AuthError::Identity(b.into()),
        RequestTokenError::Request(TransportError::Network(reason)) => {
            AuthError::Network { host, reason }
        }
        RequestTokenError::Request(other) => AuthError::BadResponse {
            status,
            detail: other.to_string(),
        },
        RequestTokenError::Parse(e, _) if status == 200 => AuthError::BadResponse {
            status,
            detail: format!("the token response could not be read at '{}'", e.path()),
        },
        RequestTokenError::Parse(_, body) => AuthError::BadResponse {
            status,
            detail: truncate(&String::from_utf8_lossy(&body), 300),
        },
        RequestTokenError::Other(detail) => AuthError::BadResponse { status, detail },
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
        let started = Instant::now();
        let resp = refresh(&self.http, &self.cfg, &rt).await?;
        if let Some(new_rt) = &resp.refresh_token {
            // Rotation: replace the old refresh token (identity-token-refresh.json: "Replace the
            // old refresh token with this newly acquired refresh token").
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
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A one-shot token endpoint on 127.0.0.1 that answers `status` with `body` (JSON).
    async fn endpoint(status: &'static str, body: Vec<u8>) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.expect("accept");
            let mut buf = vec![0u8; 8192];
            let _ = s.read(&mut buf).await;
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nLocation: http://127.0.0.1:1/\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(head.as_bytes()).await;
            let _ = s.write_all(&body).await;
        });
        format!("http://127.0.0.1:{port}/t/oauth2/v2.0/token")
    }

    fn cfg(token_url: String) -> RefreshConfig {
        RefreshConfig {
            token_url,
            client_id: "cid".into(),
            scope: "openid offline_access".into(),
            account: "a".into(),
        }
    }

    #[tokio::test]
    async fn an_oversized_token_response_is_refused_not_buffered() {
        let huge = format!(
            "{{\"access_token\":\"{}\",\"token_type\":\"Bearer\"}}",
            "A".repeat(MAX_TOKEN_BODY + 1)
        );
        let url = endpoint("200 OK", huge.into_bytes()).await;
        let err = refresh(&http_client(), &cfg(url), &Sensitive::new("rt".into()))
            .await
            .expect_err("a body over the cap must be refused");
        let msg = err.to_string();
        assert!(
            matches!(err, AuthError::BadResponse { .. }) && msg.contains("larger than"),
            "the cap is named: {msg}"
        );
        assert!(
            !msg.contains("AAAA"),
            "no part of the body is quoted: {msg}"
        );
    }

    #[tokio::test]
    async fn an_unreadable_token_response_never_quotes_the_tokens_it_holds() {
        let body = br#"{"access_token":"SECRET-ACCESS","refresh_token":"SECRET-REFRESH","token_type":"Bearer","expires_in":"soon"}"#;
        let url = endpoint("200 OK", body.to_vec()).await;
        let err = refresh(&http_client(), &cfg(url), &Sensitive::new("rt".into()))
            .await
            .expect_err("expires_in as a word is unreadable");
        let msg = err.to_string();
        assert!(
            msg.contains("expires_in") && !msg.contains("SECRET"),
            "the JSON path is named, no token: {msg}"
        );
    }

    #[tokio::test]
    async fn a_redirect_from_the_token_endpoint_is_never_followed() {
        let url = endpoint("302 Found", Vec::new()).await;
        let err = refresh(&http_client(), &cfg(url), &Sensitive::new("rt".into()))
            .await
            .expect_err("a redirect is an error");
        assert!(
            matches!(err, AuthError::BadResponse { status: 302, .. })
                && err.to_string().contains("never followed"),
            "the redirect is reported, not followed: {err}"
        );
    }

    /// Collects what a `fmt` subscriber writes, for asserting on log lines.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn each_token_request_logs_one_event_without_any_secret() {
        let log = Captured::default();
        let sink = log.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || sink.clone())
            .with_ansi(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let ok = br#"{"access_token":"SECRET-ACCESS","refresh_token":"SECRET-ROTATED","id_token":"SECRET-ID","token_type":"Bearer","expires_in":3600,"scope":"openid"}"#;
        let refused = br#"{"error":"invalid_grant","error_description":"AADSTS50173: revoked","error_codes":[50173]}"#;
        let mut text = String::new();
        // A callsite first hit by a test on another thread while this subscriber was being set
        // may keep the interest it had without it; once registered, a rebuild fixes that. So a
        // second round runs only if the first missed an event (never because of a secret).
        for _round in 0..2 {
            tracing::callsite::rebuild_interest_cache();
            log.0.lock().expect("lock").clear();
            let url = endpoint("200 OK", ok.to_vec()).await;
            let rt = Sensitive::new("SECRET-RT".to_string());
            let got = refresh(&http_client(), &cfg(url), &rt)
                .await
                .expect("a token");
            assert_eq!(
                got.refresh_token.as_ref().map(|t| t.expose().as_str()),
                Some("SECRET-ROTATED"),
                "the rotated refresh token is returned for the keyring"
            );
            let url = endpoint("400 Bad Request", refused.to_vec()).await;
            refresh(&http_client(), &cfg(url), &rt)
                .await
                .expect_err("revoked");
            text = String::from_utf8(log.0.lock().expect("lock").clone()).expect("utf-8");
            if text.lines().count() == 2 {
                break;
            }
        }
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "one event per token request: {text}");
        assert!(
            lines
                .iter()
                .all(|l| l.contains("/{tenant}/oauth2/v2.0/token")
                    && l.contains("refresh_token")
                    && l.contains("POST")
                    && l.contains("duration_ms")),
            "method, path template, grant type and duration are logged: {text}"
        );
        assert!(
            lines[0].contains("200") && lines[1].contains("400") && lines[1].contains("50173"),
            "status, and the AADSTS code of a refusal: {text}"
        );
        assert!(!text.contains("SECRET"), "no token reaches the log: {text}");
    }

    #[tokio::test]
    async fn entra_error_bodies_keep_the_aadsts_code_and_suberror() {
        let body = br#"{"error":"invalid_grant","error_description":"AADSTS700082: The refresh token has expired due to inactivity.\r\nTrace ID: x","error_codes":[700082],"suberror":"bad_token"}"#;
        let url = endpoint("400 Bad Request", body.to_vec()).await;
        let err = refresh(&http_client(), &cfg(url), &Sensitive::new("rt".into()))
            .await
            .expect_err("refused");
        let ident = err.identity().expect("an identity error");
        assert_eq!(ident.aadsts, Some(700082), "error_codes read");
        assert_eq!(ident.subcode.as_deref(), Some("bad_token"), "suberror read");
        assert_eq!(
            ident.action(),
            super::super::IdentityAction::Reconnect,
            "inactivity means reconnect"
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
