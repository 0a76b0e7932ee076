//! Test helpers: a sandbox + on-disk store + in-memory keyring, and a scripted "browser" that
//! follows the authorize/admin-consent URL like a person would (pick an account, Accept or
//! Cancel), then hits the loopback redirect.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tsched_core::auth::{AuthError, Cloud, FnOpener, MemoryTokenStore, TokenStore};
use tsched_core::integration::{self, ConnectRequest, IntegrationStatus};
use tsched_core::{Actor, Error, Store};
use tsched_sandbox::{RunningSandbox, Sandbox, SandboxConfig};
use url::Url;

/// Rewrites the loopback URL before the browser visits it (wrong state, no code, …).
pub type Tamper = Arc<dyn Fn(Url) -> Url + Send + Sync>;

/// What the scripted browser does.
#[derive(Clone, Default)]
pub struct Browser {
    /// Account picked on the sign-in page (default: the seed's host).
    pub host_account: Option<String>,
    /// Account picked on the admin-consent page (default: the seed's admin).
    pub admin_account: Option<String>,
    /// Click Cancel instead of Accept.
    pub cancel: bool,
    /// Append `login_hint` to the authorize URL (auto-consent signs in that user).
    pub login_hint: Option<String>,
    /// Change the loopback URL.
    pub tamper: Option<Tamper>,
    /// Do nothing at all (timeout tests).
    pub idle: bool,
    /// Probe `/favicon.ico` on the loopback first, as real browsers do.
    pub probe_favicon: bool,
    /// Visit the loopback first with a forged `state` (its status goes to `probes`), as a stale
    /// tab or a hostile page would, then with the real redirect.
    pub forged_state_first: bool,
    /// Loopback URLs visited (hold codes: tests only).
    pub visited: Arc<Mutex<Vec<String>>>,
    /// Status lines of favicon probes.
    pub probes: Arc<Mutex<Vec<u16>>>,
}

impl Browser {
    pub fn opener(&self) -> FnOpener<impl Fn(&str) -> Result<(), AuthError> + Send + Sync> {
        let b = self.clone();
        FnOpener(move |url: &str| {
            if !b.idle {
                let b = b.clone();
                let url = url.to_string();
                tokio::spawn(async move { b.run(url).await });
            }
            Ok(())
        })
    }

    async fn run(self, start: String) {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let mut url = Url::parse(&start).expect("authorize URL parses");
        if let Some(h) = &self.login_hint {
            url.query_pairs_mut().append_pair("login_hint", h);
        }
        let mut resp = http.get(url.clone()).send().await.expect("GET authorize");
        for _ in 0..10 {
            if resp.status().is_redirection() {
                let loc = resp.headers()["location"]
                    .to_str()
                    .expect("location")
                    .to_string();
                let next = url.join(&loc).expect("location URL");
                if matches!(next.host_str(), Some("localhost") | Some("127.0.0.1"))
                    && next.port() != url.port()
                {
                    let target = match &self.tamper {
                        Some(t) => t(next),
                        None => next,
                    };
                    if self.probe_favicon {
                        let mut fav = target.clone();
                        fav.set_path("/favicon.ico");
                        fav.set_query(None);
                        if let Ok(r) = http.get(fav).send().await {
                            self.probes.lock().expect("lock").push(r.status().as_u16());
                        }
                    }
                    if self.forged_state_first {
                        let pairs: Vec<(String, String)> = target
                            .query_pairs()
                            .into_owned()
                            .map(|(k, v)| {
                                if k == "state" {
                                    (k, "forged".into())
                                } else {
                                    (k, v)
                                }
                            })
                            .collect();
                        let mut forged = target.clone();
                        forged.query_pairs_mut().clear().extend_pairs(pairs);
                        if let Ok(r) = http.get(forged).send().await {
                            self.probes.lock().expect("lock").push(r.status().as_u16());
                        }
                    }
                    self.visited.lock().expect("lock").push(target.to_string());
                    let _ = http.get(target).send().await;
                    return;
                }
                url = next;
                resp = http.get(url.clone()).send().await.expect("follow");
                continue;
            }
            let page = resp.text().await.unwrap_or_default();
            let (Some(txn), Some(action)) = (
                attr(&page, "name=\"txn\" value=\""),
                attr(&page, "action=\""),
            ) else {
                return; // an error page: a person would stop here
            };
            let admin_page = action.contains("adminconsent");
            let account = if admin_page {
                self.admin_account.clone()
            } else {
                self.host_account.clone()
            };
            let account = account.unwrap_or_else(|| {
                if admin_page {
                    "admin@contoso.example".into()
                } else {
                    "teams.scheduler@contoso.example".into()
                }
            });
            let form = [
                ("txn", txn.as_str()),
                ("account", account.as_str()),
                ("action", if self.cancel { "cancel" } else { "accept" }),
            ];
            let post = url.join(&action).expect("form action");
            url = post.clone();
            resp = http.post(post).form(&form).send().await.expect("POST page");
        }
    }
}

fn attr(html: &str, prefix: &str) -> Option<String> {
    let at = html.find(prefix)? + prefix.len();
    let end = html[at..].find('"')?;
    Some(html[at..at + end].replace("&amp;", "&"))
}

/// A sandbox, an on-disk store and an in-memory keyring.
pub struct Env {
    pub sandbox: RunningSandbox,
    pub store: Store,
    pub tokens: Arc<MemoryTokenStore>,
    /// Keeps the data directory alive for the test.
    pub _dir: tempfile::TempDir,
}

impl Env {
    pub async fn new(auto_consent: bool) -> Env {
        Self::with(SandboxConfig {
            auto_consent,
            ..Default::default()
        })
        .await
    }

    pub async fn with(cfg: SandboxConfig) -> Env {
        let sandbox = Sandbox::spawn(cfg).await.expect("sandbox starts");
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open_in(dir.path()).expect("store");
        Env {
            sandbox,
            store,
            tokens: Arc::new(MemoryTokenStore::default()),
            _dir: dir,
        }
    }

    pub fn request(&self) -> ConnectRequest {
        let h = self.sandbox.handle();
        ConnectRequest {
            client_id: Some(h.client_id()),
            timeout: Duration::from_secs(20),
            ..ConnectRequest::new(
                h.tenant_id(),
                Cloud::sandbox(self.sandbox.base_url()).expect("sandbox URL"),
            )
        }
    }

    pub async fn connect_with(
        &mut self,
        browser: &Browser,
        req: &ConnectRequest,
    ) -> Result<IntegrationStatus, Error> {
        let tokens: &dyn TokenStore = self.tokens.as_ref();
        // In setup mode anyone may connect; once the host's first connect made it the first
        // global admin, reconnecting is the host's (a global admin's) job.
        let actor = if tsched_core::operators::is_setup_mode(&self.store)? {
            Actor::operator("admin@contoso.example")
        } else {
            host()
        };
        integration::connect(
            &mut self.store,
            tokens,
            &actor,
            req,
            &browser.opener(),
            tsched_core::auth::CancelToken::never(),
            &|_| {},
        )
        .await
    }

    pub async fn connect(&mut self, browser: &Browser) -> Result<IntegrationStatus, Error> {
        let req = self.request();
        self.connect_with(browser, &req).await
    }

    /// Token endpoint calls so far (from the sandbox's request log).
    pub fn token_calls(&self) -> u64 {
        route_count(&self.sandbox, "/oauth2/v2.0/token")
    }

    /// Whether anything about the integration was saved.
    pub fn nothing_saved(&self) -> bool {
        let row: i64 = self
            .store
            .conn()
            .query_row("SELECT COUNT(*) FROM integration", [], |r| r.get(0))
            .expect("count");
        row == 0 && self.tokens.is_empty()
    }
}

/// Sum of request-log counts whose route contains `needle`.
pub fn route_count(sandbox: &RunningSandbox, needle: &str) -> u64 {
    let log = sandbox.handle().request_log();
    log["counts"]
        .as_array()
        .expect("counts")
        .iter()
        .filter(|c| c["route"].as_str().is_some_and(|r| r.contains(needle)))
        .map(|c| c["count"].as_u64().unwrap_or(0))
        .sum()
}

/// The sandbox's host account (teams.scheduler@…), which becomes the first global admin when it
/// connects the integration in setup mode: tests act as it after [`Env::connect`].
pub fn host() -> tsched_core::Actor {
    tsched_core::Actor::operator("teams.scheduler@contoso.example")
}
