//! Tenant sandbox: a local HTTP emulator of the Microsoft identity platform (v2) and the
//! Microsoft Graph v1.0 endpoints Teams Scheduler uses, so the client, CLI and UI can be tested
//! without a real tenant. Identity lives under `{base_url}/{tenant}/…`, Graph under
//! `{base_url}/v1.0/…`, test controls under `{base_url}/_sandbox/…`. With `tls: true` it serves
//! HTTPS under a CA made at start (`tls`), so Microsoft's own libraries (MSAL requires an https
//! authority) use it through its OpenID discovery document, JWKS and RS256-signed tokens (`keys`).
//!
//! It exists to catch the client's mistakes, so it shares no model types with the client and
//! is as strict as Microsoft's documentation (`shared/graph-contract/`) wherever it can be.
//!
//! ```no_run
//! # async fn demo() -> Result<(), tsched_sandbox::SandboxError> {
//! let sandbox = tsched_sandbox::Sandbox::spawn(tsched_sandbox::SandboxConfig {
//!     auto_consent: true,
//!     ..Default::default()
//! })
//! .await?;
//! let authority = sandbox.base_url(); // e.g. http://127.0.0.1:41234
//! let graph = sandbox.graph_base_url(); // authority + "/v1.0"
//! # let _ = (authority, graph); Ok(()) }
//! ```

pub mod control;
pub mod faults;
pub mod graph;
pub mod identity;
pub mod keys;
pub mod seed;
pub mod state;
pub mod throttle;
pub mod tls;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State as AxState};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{any, get, post};
use axum::Router;
use serde_json::{json, Value};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use seed::{Seed, SeedClient, SeedUser};
pub use state::Knobs;

use state::{LogEntry, RequestLog, Shared, SharedRef, State};

/// Errors starting a sandbox.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SandboxError {
    /// The listening socket could not be bound.
    #[error("cannot bind {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// The seed is unusable (e.g. no client, unknown host account).
    #[error("invalid seed: {0}")]
    InvalidSeed(String),
    /// `tls: true` but the certificates or the TLS configuration could not be made.
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    /// The CA certificate could not be written where clients read it.
    #[error("cannot write the CA certificate to {path}: {source}")]
    CaFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// How to start a sandbox. `SandboxConfig::default()` = default seed on `127.0.0.1:0`.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Where to listen; port 0 picks a free port.
    pub bind: SocketAddr,
    /// The tenant to serve.
    pub seed: Seed,
    /// Auto-approve sign-in and consent pages; implies an admin grant of every client's
    /// configured permissions at start (docs/SANDBOX.md "Consent").
    pub auto_consent: bool,
    /// Graph token-bucket ceiling (requests/s per client+tenant); `None` = off.
    pub throttle_rps: Option<f64>,
    /// Share of Graph requests that get an injected fault (0..=1).
    pub fault_rate: f64,
    /// Seed of the fault RNG.
    pub rng_seed: u64,
    /// Access-token lifetime in seconds.
    pub token_lifetime_secs: i64,
    /// Serve HTTPS with a certificate signed by a CA generated at start (`base_url` is then
    /// `https://…`; the CA's PEM is in [`RunningSandbox::ca_file`]).
    pub tls: bool,
    /// Where to write the CA's PEM when `tls`; `None` = a file in the temp directory, removed
    /// when the sandbox stops.
    pub ca_file: Option<PathBuf>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            seed: Seed::default_tenant(),
            auto_consent: false,
            throttle_rps: None,
            fault_rate: 0.0,
            rng_seed: 0,
            token_lifetime_secs: 3_600,
            tls: false,
            ca_file: None,
        }
    }
}

/// Label a handler leaves on its response for the request log.
#[derive(Debug, Clone)]
pub struct RouteLabel(pub String);

/// Entry point.
#[derive(Debug)]
pub struct Sandbox;

impl Sandbox {
    /// Binds, starts serving on the current tokio runtime and returns once ready.
    pub async fn spawn(config: SandboxConfig) -> Result<RunningSandbox, SandboxError> {
        if config.seed.clients.is_empty() {
            return Err(SandboxError::InvalidSeed(
                "the seed registers no client".into(),
            ));
        }
        let listener = tokio::net::TcpListener::bind(config.bind)
            .await
            .map_err(|source| SandboxError::Bind {
                addr: config.bind,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| SandboxError::Bind {
            addr: config.bind,
            source,
        })?;
        let scheme = if config.tls { "https" } else { "http" };
        let base_url = format!("{scheme}://{addr}");
        // Warm the process-wide token-signing key off the async threads, so the first token
        // does not wait for RSA key generation (about a second in a debug build).
        tokio::task::spawn_blocking(|| {
            let _ = keys::SigningKey::shared();
        });
        let knobs = Knobs {
            auto_consent: config.auto_consent,
            throttle_rps: config.throttle_rps,
            fault_rate: config.fault_rate,
            token_lifetime_secs: config.token_lifetime_secs,
            ..Knobs::default()
        };
        let shared: SharedRef = Arc::new(Shared {
            state: Mutex::new(State::new(config.seed, base_url.clone(), knobs)),
            log: Mutex::new(RequestLog::default()),
            throttle: throttle::Throttle::default(),
            faults: faults::Faults::new(config.rng_seed),
        });
        let app = router(shared.clone());
        let (tx, rx) = oneshot::channel::<()>();
        let mut ca = None;
        let task = if config.tls {
            let tls = tls::SandboxTls::generate()?;
            let (path, remove_on_drop) = match config.ca_file {
                Some(p) => (p, false),
                None => (
                    std::env::temp_dir().join(format!(
                        "tsched-sandbox-ca-{}-{}.pem",
                        std::process::id(),
                        addr.port()
                    )),
                    true,
                ),
            };
            std::fs::write(&path, tls.ca_pem()).map_err(|source| SandboxError::CaFile {
                path: path.clone(),
                source,
            })?;
            ca = Some(CaFile {
                path,
                pem: tls.ca_pem().to_owned(),
                remove_on_drop,
            });
            let listener = tls.listen(listener).map_err(|source| SandboxError::Bind {
                addr: config.bind,
                source,
            })?;
            tokio::spawn(async move {
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = rx.await;
                    })
                    .await;
            })
        } else {
            tokio::spawn(async move {
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = rx.await;
                    })
                    .await;
            })
        };
        Ok(RunningSandbox {
            base_url,
            ca,
            handle: SandboxHandle { shared },
            shutdown: Some(tx),
            task: Some(task),
        })
    }
}

fn router(shared: SharedRef) -> Router {
    Router::new()
        .route(
            "/{tenant}/oauth2/v2.0/authorize",
            get(identity::authorize::authorize_get).post(identity::authorize::authorize_post),
        )
        .route("/{tenant}/oauth2/v2.0/token", post(identity::token::token))
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(identity::discovery::openid_configuration),
        )
        .route(
            "/{tenant}/discovery/v2.0/keys",
            get(identity::discovery::jwks),
        )
        .route(
            "/common/discovery/instance",
            get(identity::discovery::instance_discovery),
        )
        .route(
            "/{tenant}/v2.0/adminconsent",
            get(identity::authorize::admin_consent_get)
                .post(identity::authorize::admin_consent_post),
        )
        .route("/v1.0/$batch", post(graph::batch::handle))
        .route("/v1.0/{*rest}", any(graph::handle_http))
        .nest("/_sandbox", control::router())
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            log_requests,
        ))
        .with_state(shared)
}

async fn log_requests(AxState(shared): AxState<SharedRef>, req: Request, next: Next) -> Response {
    let method = req.method().to_string();
    let path = req.uri().path().to_owned();
    let resp = next.run(req).await;
    if path.starts_with("/_sandbox") {
        return resp;
    }
    let route = match resp.extensions().get::<RouteLabel>() {
        Some(l) => l.0.clone(),
        None => identity_route(&method, &path),
    };
    shared.log_lock().record(LogEntry {
        at: chrono::Utc::now().to_rfc3339(),
        method,
        path,
        route,
        status: resp.status().as_u16(),
    });
    resp
}

fn identity_route(method: &str, path: &str) -> String {
    for suffix in [
        "/oauth2/v2.0/authorize",
        "/oauth2/v2.0/token",
        "/v2.0/adminconsent",
        "/v2.0/.well-known/openid-configuration",
        "/discovery/v2.0/keys",
    ] {
        if path.ends_with(suffix) {
            return format!("{method} /{{tenant}}{suffix}");
        }
    }
    format!("{method} {path}")
}

/// The CA certificate a TLS sandbox wrote for its clients.
#[derive(Debug)]
struct CaFile {
    path: PathBuf,
    pem: String,
    remove_on_drop: bool,
}

/// A running sandbox; stops serving when dropped.
#[derive(Debug)]
pub struct RunningSandbox {
    base_url: String,
    ca: Option<CaFile>,
    handle: SandboxHandle,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl RunningSandbox {
    /// `http://127.0.0.1:PORT` — the authority base (identity URLs are `{base}/{tenant}/…`).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// With `tls`: the file holding the CA certificate (PEM) clients must trust.
    pub fn ca_file(&self) -> Option<&Path> {
        self.ca.as_ref().map(|c| c.path.as_path())
    }

    /// With `tls`: the CA certificate (PEM) clients must trust.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca.as_ref().map(|c| c.pem.as_str())
    }

    /// `{base_url}/v1.0` — the Graph base.
    pub fn graph_base_url(&self) -> String {
        format!("{}/v1.0", self.base_url)
    }

    /// Handle to inspect and steer the state.
    pub fn handle(&self) -> &SandboxHandle {
        &self.handle
    }

    /// Graceful stop: waits for the server task to end.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RunningSandbox {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
        if let Some(ca) = self.ca.take().filter(|c| c.remove_on_drop) {
            let _ = std::fs::remove_file(ca.path);
        }
    }
}

/// Cloneable handle on a sandbox's state (what the `/_sandbox/` control API calls).
#[derive(Debug, Clone)]
pub struct SandboxHandle {
    pub(crate) shared: SharedRef,
}

impl SandboxHandle {
    pub fn base_url(&self) -> String {
        self.shared.lock().base_url.clone()
    }

    pub fn tenant_id(&self) -> String {
        self.shared.lock().seed.tenant_id.clone()
    }

    /// The first registered client's id.
    pub fn client_id(&self) -> String {
        self.shared
            .lock()
            .seed
            .clients
            .first()
            .map(|c| c.client_id.clone())
            .unwrap_or_default()
    }

    pub fn host_upn(&self) -> Option<String> {
        self.shared.lock().seed.host_upn.clone()
    }

    /// UPN of the first administrator in the seed.
    pub fn admin_upn(&self) -> Option<String> {
        self.shared
            .lock()
            .first_admin()
            .map(|u| u.user_principal_name.clone())
    }

    pub fn knobs(&self) -> Knobs {
        self.shared.lock().knobs.clone()
    }

    pub fn set_knobs(&self, knobs: Knobs) {
        let mut st = self.shared.lock();
        if st.knobs.throttle_rps != knobs.throttle_rps {
            self.shared.throttle.reset();
        }
        st.knobs = knobs;
    }

    /// Changes some knobs in place.
    pub fn update_knobs(&self, f: impl FnOnce(&mut Knobs)) {
        let mut k = self.knobs();
        f(&mut k);
        self.set_knobs(k);
    }

    /// Records an org-wide admin grant; `None` scopes = the client's configured permissions.
    pub fn grant_admin_consent(&self, client_id: &str, scopes: Option<&[&str]>) {
        let mut st = self.shared.lock();
        let scopes: Vec<String> = match scopes {
            Some(s) => s.iter().map(|x| (*x).to_owned()).collect(),
            None => st
                .client(client_id)
                .map(|c| c.api_permissions.clone())
                .unwrap_or_default(),
        };
        st.grant_admin(client_id, &scopes);
    }

    /// Removes the admin grant and every user grant of a client.
    pub fn revoke_consent(&self, client_id: &str) {
        let mut st = self.shared.lock();
        st.admin_grants.remove(client_id);
        st.user_grants.retain(|(c, _), _| c != client_id);
    }

    /// Revokes a user's refresh tokens (AADSTS50173 afterwards). `None` for an unknown user.
    pub fn revoke_refresh_tokens(&self, user: &str) -> Option<usize> {
        let mut st = self.shared.lock();
        let id = st.user(user)?.id.clone();
        Some(st.revoke_refresh_tokens(&id))
    }

    /// Makes every issued access token expired now.
    pub fn expire_access_tokens(&self) {
        self.shared.lock().expire_access_tokens();
    }

    /// Moves the sandbox clock forward (codes, tokens and inactivity use it).
    pub fn advance_clock(&self, seconds: i64) {
        self.shared.lock().clock_offset += chrono::Duration::seconds(seconds);
    }

    /// Issues tokens for a user without the browser leg (tests of Graph code only).
    /// Grants are not checked: the token carries `scopes` (default: the client's configured
    /// permissions). Returns the token response JSON.
    pub fn mint_tokens(
        &self,
        upn: &str,
        scopes: Option<&[&str]>,
        client_id: Option<&str>,
    ) -> Option<Value> {
        let mut st = self.shared.lock();
        let user_id = st.user(upn)?.id.clone();
        let client = match client_id {
            Some(c) => st.client(c)?.clone(),
            None => st.seed.clients.first()?.clone(),
        };
        let scopes: Vec<String> = match scopes {
            Some(s) => s.iter().filter_map(|x| state::canonical_scope(x)).collect(),
            None => client.api_permissions.clone(),
        };
        // The token reflects consent, so record a user grant for exactly these scopes.
        st.user_grants
            .entry((client.client_id.clone(), user_id.clone()))
            .or_default()
            .extend(state::graph_scopes(&scopes));
        let mut requested = scopes.clone();
        requested.push("offline_access".into());
        Some(identity::token::issue_tokens(
            &mut st,
            &client.client_id,
            &user_id,
            &requested,
            true,
            None,
        ))
    }

    /// JSON dump: tenant, users, meetings (with organizer and externalId), calendar events
    /// (with transactionId, iCalUId, sequence, removed), grants, knobs.
    pub fn snapshot(&self) -> Value {
        let st = self.shared.lock();
        let meetings: Vec<Value> = st
            .meetings
            .iter()
            .map(|m| {
                json!({
                    "id": m.id,
                    "organizer_id": m.organizer_id,
                    "organizer_upn": st.user(&m.organizer_id).map(|u| u.user_principal_name.clone()),
                    "external_id": m.external_id,
                    "resource": m.resource,
                })
            })
            .collect();
        let events: Vec<Value> = st
            .events
            .iter()
            .map(|e| {
                json!({
                    "id": e.id,
                    "organizer_id": e.organizer_id,
                    "transaction_id": e.transaction_id,
                    "ical_uid": e.ical_uid,
                    "sequence": e.sequence,
                    "removed": e.removed,
                    "meeting_id": e.meeting_id,
                    "resource": e.resource,
                })
            })
            .collect();
        let admin: Value = st
            .admin_grants
            .iter()
            .map(|(c, s)| (c.clone(), json!(s)))
            .collect::<serde_json::Map<_, _>>()
            .into();
        let users_grants: Vec<Value> = st
            .user_grants
            .iter()
            .map(|((c, u), s)| json!({"client_id": c, "user_id": u, "scopes": s}))
            .collect();
        json!({
            "base_url": st.base_url,
            "tenant_id": st.seed.tenant_id,
            "domains": st.seed.domains,
            "clients": st.seed.clients,
            "users": st.seed.users,
            "meetings": meetings,
            "events": events,
            "grants": {"admin": admin, "users": users_grants},
            "knobs": st.knobs,
            "live_refresh_tokens": st.refresh_tokens.values().filter(|t| !t.revoked).count(),
            "access_tokens": st.access_tokens.len(),
        })
    }

    /// What one mailbox received from organizers' events (invitations, updates,
    /// cancellations), oldest first: `{ "address": <mailbox key>, "items": [MailItem…] }`.
    /// Any of a directory user's addresses (UPN, mail, `smtp:` alias) names their mailbox.
    pub fn mailbox(&self, address: &str) -> Value {
        let st = self.shared.lock();
        let key = graph::events::mailbox_key(&st, address);
        let items = st.mailboxes.get(&key).cloned().unwrap_or_default();
        json!({ "address": key, "items": items })
    }

    /// Every mailbox that received something: `{ "mailboxes": { <key>: [MailItem…] } }`.
    pub fn mailboxes(&self) -> Value {
        let st = self.shared.lock();
        json!({ "mailboxes": st.mailboxes })
    }

    /// Empties every mailbox (events stay).
    pub fn clear_mailboxes(&self) {
        self.shared.lock().mailboxes.clear();
    }

    /// Every secret this sandbox issued or received (codes, PKCE verifiers, access, refresh and
    /// ID tokens), for leak scans: `{ "secrets": [{ "kind", "value" }, …] }`. Read-only.
    pub fn issued_secrets(&self) -> Value {
        let st = self.shared.lock();
        let secrets: Vec<Value> = st
            .issued
            .iter()
            .map(|(kind, value)| json!({ "kind": kind, "value": value }))
            .collect();
        json!({ "secrets": secrets })
    }

    /// Request log: counts by route and status, plus the last 1000 requests.
    pub fn request_log(&self) -> Value {
        self.shared.log_lock().to_json()
    }

    /// Count of logged requests with this route label and status.
    pub fn request_count(&self, route: &str, status: u16) -> u64 {
        self.shared
            .log_lock()
            .counts
            .get(&(route.to_owned(), status))
            .copied()
            .unwrap_or(0)
    }

    pub fn reset_request_log(&self) {
        *self.shared.log_lock() = RequestLog::default();
    }
}
