//! Runtime state of one sandbox: directory index, consent grants, pending sign-ins, codes,
//! tokens, meetings, calendar events, the attendees' mailboxes, knobs and the request log. One `Mutex` guards it; handlers keep the lock
//! for a few map operations only and never across an `.await`.
//! It owns no HTTP: identity and Graph modules read and change it.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::faults::Faults;
use crate::seed::{Seed, SeedClient, SeedUser};
use crate::throttle::Throttle;

/// Delegated Graph permissions the sandbox knows, in their canonical spelling.
pub const GRAPH_SCOPES: &[&str] = &[
    "User.Read",
    "User.ReadWrite",
    "User.ReadBasic.All",
    "User.Read.All",
    "Directory.Read.All",
    "OnlineMeetings.Read",
    "OnlineMeetings.ReadWrite",
    "Calendars.Read",
    "Calendars.ReadWrite",
];
/// Permissions only an administrator can consent to (permissions reference: "Admin consent
/// required: Yes").
pub const ADMIN_ONLY_SCOPES: &[&str] = &["User.Read.All", "Directory.Read.All"];
/// OpenID Connect scopes; they need no Graph consent.
pub const OIDC_SCOPES: &[&str] = &["openid", "profile", "email", "offline_access"];

/// Runtime knobs, changeable through the control API (`/_sandbox/knobs`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Knobs {
    /// Auto-approve sign-in/consent pages (see docs/SANDBOX.md for what this implies).
    pub auto_consent: bool,
    /// Token-bucket ceiling per (client, tenant) in requests/second; `None` = no throttling.
    pub throttle_rps: Option<f64>,
    /// Share (0..=1) of Graph requests answered with a fault (503/504/500/drop/slow).
    pub fault_rate: f64,
    /// Delay of a "slow answer" fault, in milliseconds.
    pub slow_ms: u64,
    /// Access-token lifetime in seconds (`expires_in`).
    pub token_lifetime_secs: i64,
    /// Refresh tokens unused for this long fail with AADSTS700082.
    pub refresh_inactivity_secs: i64,
    /// Token requests fail with `interaction_required` (AADSTS50076).
    pub mfa_required: bool,
    /// Tokens carry a signature that does not verify with the published key (a forger's or a
    /// broken proxy's tokens), to test that clients check ID-token signatures.
    pub forge_signatures: bool,
}

impl Default for Knobs {
    fn default() -> Self {
        Knobs {
            auto_consent: false,
            throttle_rps: None,
            fault_rate: 0.0,
            slow_ms: 2_000,
            token_lifetime_secs: 3_600,
            refresh_inactivity_secs: 90 * 24 * 3_600,
            mfa_required: false,
            forge_signatures: false,
        }
    }
}

/// A sign-in in progress on the authorize or adminconsent page.
#[derive(Debug, Clone)]
pub struct PendingAuth {
    pub tenant_path: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub state: Option<String>,
    pub code_challenge: String,
    pub requested_scope: String,
    pub nonce: Option<String>,
    pub login_hint: Option<String>,
    pub admin_consent_flow: bool,
    pub created: DateTime<Utc>,
}

/// An issued authorization code (single use, 10 minutes).
#[derive(Debug, Clone)]
pub struct AuthCode {
    pub client_id: String,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub user_id: String,
    pub scopes: Vec<String>,
    pub nonce: Option<String>,
    pub issued: DateTime<Utc>,
    pub redeemed: bool,
}

/// A refresh token. Using it does not revoke it (identity-token-refresh.json notes).
#[derive(Debug, Clone)]
pub struct RefreshToken {
    pub client_id: String,
    pub user_id: String,
    pub scopes: Vec<String>,
    pub last_used: DateTime<Utc>,
    pub revoked: bool,
}

/// A live access token.
#[derive(Debug, Clone)]
pub struct AccessToken {
    pub client_id: String,
    pub user_id: String,
    pub scopes: BTreeSet<String>,
    pub expires: DateTime<Utc>,
}

/// A stored online meeting: the full JSON resource plus its keys.
#[derive(Debug, Clone)]
pub struct Meeting {
    pub id: String,
    pub organizer_id: String,
    pub external_id: Option<String>,
    pub resource: Value,
}

/// A calendar event of an organizer (`/me/events`). `resource` holds the event JSON with
/// `start`/`end` in UTC; the instants are kept apart for time-zone rendering and mail.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: String,
    pub organizer_id: String,
    /// Client-chosen de-duplication key (event resource: `transactionId`).
    pub transaction_id: Option<String>,
    pub ical_uid: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// iTIP SEQUENCE of the last invitation Exchange sent (RFC 5546 §2.1.4).
    pub sequence: u32,
    /// Cancelled or deleted: moved to Deleted Items, no longer in the calendar.
    pub removed: bool,
    /// The online meeting (in `State::meetings`) behind `onlineMeeting.joinUrl`.
    pub meeting_id: Option<String>,
    pub resource: Value,
}

/// What one attendee's mailbox received from Exchange for an event (the control API's
/// mailbox view). `method` is the iTIP method (RFC 5546 §1.4): `REQUEST` or `CANCEL`; `kind`
/// says whether a REQUEST was the first invitation or an update.
#[derive(Debug, Clone, Serialize)]
pub struct MailItem {
    pub method: &'static str,
    pub kind: &'static str,
    #[serde(rename = "eventId")]
    pub event_id: String,
    #[serde(rename = "iCalUId")]
    pub ical_uid: String,
    pub subject: Value,
    pub start: String,
    pub end: String,
    #[serde(rename = "joinUrl")]
    pub join_url: Option<String>,
    pub sequence: u32,
    pub at: String,
    /// The organizer's address.
    pub from: String,
    /// The attendee address as the organizer wrote it.
    pub to: String,
    /// The organizer's cancellation comment.
    pub comment: Option<String>,
}

/// One entry of the request log.
#[derive(Debug, Clone, Serialize)]
pub struct LogEntry {
    pub at: String,
    pub method: String,
    pub path: String,
    pub route: String,
    pub status: u16,
}

/// Everything guarded by the state mutex.
#[derive(Debug)]
pub struct State {
    pub seed: Seed,
    pub base_url: String,
    user_index: HashMap<String, usize>,
    pub admin_grants: HashMap<String, BTreeSet<String>>,
    pub user_grants: HashMap<(String, String), BTreeSet<String>>,
    pub pending: HashMap<String, PendingAuth>,
    pub codes: HashMap<String, AuthCode>,
    pub refresh_tokens: HashMap<String, RefreshToken>,
    pub access_tokens: HashMap<String, AccessToken>,
    pub meetings: Vec<Meeting>,
    pub events: Vec<Event>,
    /// Mailbox key (see `graph::events::mailbox_key`) → what it received, oldest first.
    pub mailboxes: BTreeMap<String, Vec<MailItem>>,
    pub knobs: Knobs,
    pub clock_offset: Duration,
    /// Every secret handed out or received, in order: `(kind, value)` with kind `code`,
    /// `code_verifier`, `access_token`, `refresh_token` or `id_token`. Never pruned, so a leak
    /// scan (`GET /_sandbox/issued`) can look for each one, even a rotated or expired one.
    pub issued: Vec<(&'static str, String)>,
}

/// The request log, apart from `State` so logging never waits on Graph work.
#[derive(Debug, Default)]
pub struct RequestLog {
    pub counts: BTreeMap<(String, u16), u64>,
    pub recent: VecDeque<LogEntry>,
}

const RECENT_LOG_LEN: usize = 1_000;

impl RequestLog {
    pub fn record(&mut self, entry: LogEntry) {
        *self
            .counts
            .entry((entry.route.clone(), entry.status))
            .or_insert(0) += 1;
        if self.recent.len() == RECENT_LOG_LEN {
            self.recent.pop_front();
        }
        self.recent.push_back(entry);
    }

    pub fn to_json(&self) -> Value {
        let counts: Vec<Value> = self
            .counts
            .iter()
            .map(|((route, status), n)| json!({"route": route, "status": status, "count": n}))
            .collect();
        json!({"counts": counts, "recent": self.recent})
    }
}

/// Shared by every handler.
#[derive(Debug)]
pub struct Shared {
    pub state: Mutex<State>,
    pub log: Mutex<RequestLog>,
    pub throttle: Throttle,
    pub faults: Faults,
}

pub type SharedRef = Arc<Shared>;

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock is a sandbox bug; keep serving with the data as left.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn log_lock(&self) -> MutexGuard<'_, RequestLog> {
        self.log
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl State {
    pub fn new(seed: Seed, base_url: String, knobs: Knobs) -> Self {
        let mut user_index = HashMap::new();
        for (i, u) in seed.users.iter().enumerate() {
            user_index.insert(u.id.to_lowercase(), i);
            user_index.insert(u.user_principal_name.to_lowercase(), i);
        }
        let mut admin_grants = HashMap::new();
        for c in &seed.clients {
            if !c.admin_granted.is_empty() {
                admin_grants.insert(
                    c.client_id.clone(),
                    c.admin_granted
                        .iter()
                        .filter_map(|s| canonical_scope(s))
                        .collect(),
                );
            }
        }
        let mut state = State {
            seed,
            base_url,
            user_index,
            admin_grants,
            user_grants: HashMap::new(),
            pending: HashMap::new(),
            codes: HashMap::new(),
            refresh_tokens: HashMap::new(),
            access_tokens: HashMap::new(),
            meetings: Vec::new(),
            events: Vec::new(),
            mailboxes: BTreeMap::new(),
            knobs,
            clock_offset: Duration::zero(),
            issued: Vec::new(),
        };
        if state.knobs.auto_consent {
            // Auto-consent implies the global admin already granted every client its
            // configured permissions org-wide (docs/SANDBOX.md, "Consent").
            let clients: Vec<(String, Vec<String>)> = state
                .seed
                .clients
                .iter()
                .map(|c| (c.client_id.clone(), c.api_permissions.clone()))
                .collect();
            for (id, perms) in clients {
                state.grant_admin(&id, &perms);
            }
        }
        state
    }

    /// Sandbox clock: wall clock plus the offset set by `/_sandbox/clock/advance`.
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.clock_offset
    }

    pub fn user(&self, id_or_upn: &str) -> Option<&SeedUser> {
        self.user_index
            .get(&id_or_upn.to_lowercase())
            .and_then(|&i| self.seed.users.get(i))
    }

    pub fn client(&self, client_id: &str) -> Option<&SeedClient> {
        self.seed
            .clients
            .iter()
            .find(|c| c.client_id.eq_ignore_ascii_case(client_id))
    }

    pub fn host_user(&self) -> Option<&SeedUser> {
        self.seed.host_upn.as_deref().and_then(|u| self.user(u))
    }

    pub fn first_admin(&self) -> Option<&SeedUser> {
        self.seed.users.iter().find(|u| u.is_admin)
    }

    /// True when `{tenant}` in an identity URL names this tenant (GUID or verified domain).
    pub fn is_own_tenant(&self, segment: &str) -> bool {
        segment.eq_ignore_ascii_case(&self.seed.tenant_id)
            || self
                .seed
                .domains
                .iter()
                .any(|d| d.eq_ignore_ascii_case(segment))
    }

    pub fn grant_admin(&mut self, client_id: &str, scopes: &[String]) {
        let entry = self.admin_grants.entry(client_id.to_owned()).or_default();
        entry.extend(scopes.iter().filter_map(|s| canonical_scope(s)));
    }

    /// Graph permissions consented for this user and client (admin grant ∪ user grant).
    pub fn consented(&self, client_id: &str, user_id: &str) -> BTreeSet<String> {
        let mut set = self
            .admin_grants
            .get(client_id)
            .cloned()
            .unwrap_or_default();
        if let Some(user) = self
            .user_grants
            .get(&(client_id.to_owned(), user_id.to_owned()))
        {
            set.extend(user.iter().cloned());
        }
        set
    }

    /// Resource scopes from `scopes` not yet consented.
    pub fn missing_consent(
        &self,
        client_id: &str,
        user_id: &str,
        scopes: &[String],
    ) -> Vec<String> {
        let have = self.consented(client_id, user_id);
        graph_scopes(scopes)
            .into_iter()
            .filter(|s| !have.contains(s))
            .collect()
    }

    pub fn expire_access_tokens(&mut self) {
        let now = self.now();
        for t in self.access_tokens.values_mut() {
            t.expires = now - Duration::seconds(1);
        }
    }

    /// Revokes all refresh tokens of a user; returns how many were live.
    pub fn revoke_refresh_tokens(&mut self, user_id: &str) -> usize {
        let mut n = 0;
        for t in self.refresh_tokens.values_mut() {
            if t.user_id == user_id && !t.revoked {
                t.revoked = true;
                n += 1;
            }
        }
        n
    }
}

/// Canonical spelling of a scope (`https://graph.microsoft.com/user.read` → `User.Read`), or
/// `None` if unknown. `.default` is resolved by the caller.
pub fn canonical_scope(raw: &str) -> Option<String> {
    let s = raw
        .strip_prefix("https://graph.microsoft.com/")
        .or_else(|| raw.strip_prefix("https://graph.microsoft.com//"))
        .unwrap_or(raw);
    GRAPH_SCOPES
        .iter()
        .chain(OIDC_SCOPES.iter())
        .find(|k| k.eq_ignore_ascii_case(s))
        .map(|k| (*k).to_owned())
}

/// Only the Graph (resource) scopes of a list.
pub fn graph_scopes(scopes: &[String]) -> Vec<String> {
    scopes
        .iter()
        .filter(|s| !OIDC_SCOPES.contains(&s.as_str()))
        .cloned()
        .collect()
}

/// Random opaque value (for codes, tokens, ids).
pub fn random_token(bytes: usize) -> String {
    use base64::Engine as _;
    let mut buf = Vec::with_capacity(bytes);
    while buf.len() < bytes {
        buf.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    }
    buf.truncate(bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

/// Graph `innerError.date` format, e.g. `2025-02-13T10:17:06`.
pub fn graph_date(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_canonicalised_case_insensitively() {
        assert_eq!(
            canonical_scope("https://graph.microsoft.com/user.read").as_deref(),
            Some("User.Read"),
            "the identity platform treats scope names case-insensitively"
        );
        assert_eq!(
            canonical_scope("Mail.Send"),
            None,
            "unknown scopes must be rejected"
        );
    }
}
