//! Membership: "is this address a member of our tenant?", and the diagnosis "can X be offered a
//! Teams meeting in program P?".
//!
//! The lookup tries, in order and stopping at the first hit: `GET /users/{address}` (as a UPN),
//! `mail eq '…'`, then `proxyAddresses/any(p:p eq 'smtp:…')` (see `graph::users`). A hit is a
//! **member**, or a **guest** when the UPN carries `#EXT#` (the basic profile that
//! `User.ReadBasic.All` returns has no `userType` —
//! https://learn.microsoft.com/en-us/graph/permissions-reference#userreadbasicall); more than
//! one match is **ambiguous**; no match is **not found**. Results are cached in
//! `directory_cache` for a TTL (setting `membership.cache_ttl_hours`, default 24 h). Many
//! addresses go through `$batch`, 20 per call, one rule per round.
//!
//! Pure parts (normalising, classifying, diagnosis rules) are apart from the I/O. This module
//! never prints; progress goes through a callback.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::access::{self, Action};
use crate::actor::Actor;
use crate::error::Error;
use crate::graph::batch::{self, ItemResponse};
use crate::graph::users::{self, DirectoryUser, UserList};
use crate::graph::{GraphClient, GraphError, GraphRequest};
use crate::programs::MeetingMode;
use crate::store::directory_cache::{self as cache, CacheRow};
use crate::store::Store;

/// What the directory says about an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberClass {
    /// A member of the tenant.
    Member,
    /// A B2B guest (`#EXT#` in the UPN).
    Guest,
    /// No user has this address.
    NotFound,
    /// More than one user matched.
    Ambiguous,
}

impl MemberClass {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            MemberClass::Member => "member",
            MemberClass::Guest => "guest",
            MemberClass::NotFound => "not_found",
            MemberClass::Ambiguous => "ambiguous",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [
            MemberClass::Member,
            MemberClass::Guest,
            MemberClass::NotFound,
            MemberClass::Ambiguous,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }
}

/// Which lookup found the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchRule {
    /// `GET /users/{address}`.
    Upn,
    /// `mail eq`.
    Mail,
    /// `proxyAddresses/any`.
    ProxyAddress,
}

impl MatchRule {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchRule::Upn => "upn",
            MatchRule::Mail => "mail",
            MatchRule::ProxyAddress => "proxy_address",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [MatchRule::Upn, MatchRule::Mail, MatchRule::ProxyAddress]
            .into_iter()
            .find(|c| c.as_str() == s)
    }

    const ORDER: [MatchRule; 3] = [MatchRule::Upn, MatchRule::Mail, MatchRule::ProxyAddress];

    fn request(self, address: &str) -> GraphRequest {
        match self {
            MatchRule::Upn => users::by_upn_request(address),
            MatchRule::Mail => users::by_mail_request(address),
            MatchRule::ProxyAddress => users::by_proxy_request(address),
        }
    }
}

/// The result for one address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Membership {
    /// The normalised address (trimmed, lower case).
    pub address: String,
    /// The class.
    pub class: MemberClass,
    /// Which rule matched (none for not found).
    pub matched_by: Option<MatchRule>,
    /// Display name.
    pub display_name: Option<String>,
    /// Object id.
    pub object_id: Option<String>,
    /// UPN.
    pub upn: Option<String>,
    /// When the directory was asked (UTC RFC 3339).
    pub checked_at: String,
    /// Whether this came from the cache.
    pub from_cache: bool,
}

/// One input address and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AddressCheck {
    /// The address as given.
    pub input: String,
    /// The result, when checked.
    pub result: Option<Membership>,
    /// Why it could not be checked (malformed, Graph refused, throttled).
    pub error: Option<String>,
}

/// Progress of a bulk check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MembershipProgress {
    /// Addresses with a final answer so far.
    pub done: usize,
    /// Addresses in all.
    pub total: usize,
}

/// Options of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CheckOptions {
    /// Ignore the cache (the answer still refreshes it).
    pub refresh: bool,
}

/// Pure: trims, validates and lower-cases an address. Addresses compare case-insensitively.
/// `#` is allowed (guest UPNs hold `#EXT#`); it is percent-encoded on the wire.
pub fn normalize_address(raw: &str) -> Result<String, String> {
    crate::participants::validate_email(raw).map(|a| a.to_lowercase())
}

/// Pure: the addresses in a CSV file: the column headed `email`, `address`, `upn` or `mail`
/// (case-insensitive), else the first column of a file without such a header. Blank cells are
/// skipped; every other cell is returned as written (checked later, so a malformed one is
/// reported with the others).
pub fn addresses_from_csv(bytes: &[u8]) -> Result<Vec<String>, Error> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let mut rows = Vec::new();
    for (i, rec) in reader.records().enumerate() {
        let rec = rec.map_err(|e| Error::BadFile {
            file: "CSV".into(),
            problems: vec![crate::error::LineProblem {
                line: i as u64 + 1,
                message: e.to_string(),
            }],
        })?;
        rows.push(
            rec.iter()
                // A cell we exported with a formula guard (`'-ann@…`) reads back as written.
                .map(|c| {
                    crate::batch::csv::restore_cell(c.trim_start_matches('\u{feff}')).to_string()
                })
                .collect::<Vec<_>>(),
        );
    }
    let header_col = rows.first().and_then(|h| {
        h.iter().position(|c| {
            matches!(
                c.to_ascii_lowercase().as_str(),
                "email" | "address" | "upn" | "mail" | "e-mail"
            )
        })
    });
    let (col, skip) = match header_col {
        Some(c) => (c, 1),
        None => (0, 0),
    };
    Ok(rows
        .into_iter()
        .skip(skip)
        .filter_map(|r| r.get(col).cloned())
        .filter(|c| !c.is_empty())
        .collect())
}

/// Pure: the class of the users one rule found.
pub fn classify(found: &[DirectoryUser]) -> Option<(MemberClass, Option<&DirectoryUser>)> {
    match found {
        [] => None,
        [one] if one.is_guest() => Some((MemberClass::Guest, Some(one))),
        [one] => Some((MemberClass::Member, Some(one))),
        _ => Some((MemberClass::Ambiguous, None)),
    }
}

fn result_of(
    address: &str,
    class: MemberClass,
    rule: Option<MatchRule>,
    user: Option<&DirectoryUser>,
    now: &str,
) -> Membership {
    Membership {
        address: address.to_string(),
        class,
        matched_by: rule,
        display_name: user.and_then(|u| u.display_name.clone()),
        object_id: user.map(|u| u.id.clone()),
        upn: user.map(|u| u.user_principal_name.clone()),
        checked_at: now.to_string(),
        from_cache: false,
    }
}

/// Pure: whether a cached row is still fresh.
pub fn is_fresh(checked_at: &str, ttl_hours: i64, now: DateTime<Utc>) -> bool {
    DateTime::parse_from_rfc3339(checked_at)
        .map(|t| now.signed_duration_since(t.with_timezone(&Utc)) < Duration::hours(ttl_hours))
        .unwrap_or(false)
}

fn from_cache(row: CacheRow) -> Option<Membership> {
    Some(Membership {
        class: MemberClass::parse(&row.class)?,
        matched_by: row.matched_by.as_deref().and_then(MatchRule::parse),
        address: row.address,
        display_name: row.display_name,
        object_id: row.object_id,
        upn: row.upn,
        checked_at: row.checked_at,
        from_cache: true,
    })
}

fn to_cache(m: &Membership) -> CacheRow {
    CacheRow {
        address: m.address.clone(),
        class: m.class.as_str().to_string(),
        matched_by: m.matched_by.map(|r| r.as_str().to_string()),
        object_id: m.object_id.clone(),
        upn: m.upn.clone(),
        display_name: m.display_name.clone(),
        checked_at: m.checked_at.clone(),
    }
}

/// What one rule said about one address.
enum Step {
    Hit(MemberClass, Option<DirectoryUser>),
    Miss,
    Failed(GraphError),
}

fn shape_error(e: serde_json::Error) -> GraphError {
    GraphError::Decode {
        path: String::new(),
        reason: e.to_string(),
        body: String::new(),
        request_id: None,
    }
}

fn step_of(rule: MatchRule, r: Result<ItemResponse, GraphError>) -> Step {
    let resp = match r {
        Ok(resp) => resp,
        Err(e) => return Step::Failed(e),
    };
    if resp.status == 404 && rule == MatchRule::Upn {
        return Step::Miss;
    }
    if !(200..300).contains(&resp.status) {
        return Step::Failed(resp.error());
    }
    let found: Vec<DirectoryUser> = match rule {
        MatchRule::Upn => match serde_json::from_value::<DirectoryUser>(resp.body) {
            Ok(u) => vec![u],
            Err(e) => return Step::Failed(shape_error(e)),
        },
        _ => match serde_json::from_value::<UserList>(resp.body) {
            Ok(l) => l.value,
            Err(e) => return Step::Failed(shape_error(e)),
        },
    };
    match classify(&found) {
        None => Step::Miss,
        Some((class, user)) => Step::Hit(class, user.cloned()),
    }
}

/// Sends the requests: one alone goes directly, more go through `$batch` (20 per call).
async fn run(
    graph: &GraphClient,
    reqs: Vec<GraphRequest>,
) -> Result<Vec<Result<ItemResponse, GraphError>>, Error> {
    if reqs.len() == 1 {
        let out = match graph.send(&reqs[0]).await {
            Ok(raw) => Ok(ItemResponse {
                status: raw.status,
                headers: HashMap::new(),
                body: serde_json::from_slice(&raw.body).unwrap_or(serde_json::Value::Null),
            }),
            Err(GraphError::Status { status: 404, .. }) => Ok(ItemResponse {
                status: 404,
                headers: HashMap::new(),
                body: serde_json::Value::Null,
            }),
            Err(e @ (GraphError::Status { .. } | GraphError::Throttled { .. })) => Err(e),
            Err(e) => return Err(e.into()),
        };
        return Ok(vec![out]);
    }
    let got = batch::execute(graph, &reqs, &|_, _| {}).await?;
    Ok(got.into_iter().map(Ok).collect())
}

/// Looks up addresses in the directory (no cache, no access check): the three rules in order,
/// each round only for the addresses still unresolved, 20 per `$batch` call. Results keyed by
/// normalised address; `Err` for an address Graph would not answer.
pub async fn lookup(
    graph: &GraphClient,
    addresses: &[String],
    progress: &(dyn Fn(MembershipProgress) + Send + Sync),
) -> Result<HashMap<String, Result<Membership, GraphError>>, Error> {
    let total = addresses.len();
    let mut out: HashMap<String, Result<Membership, GraphError>> = HashMap::new();
    let mut pending: Vec<String> = addresses.to_vec();
    for rule in MatchRule::ORDER {
        if pending.is_empty() {
            break;
        }
        let mut next = Vec::new();
        for chunk in pending.chunks(batch::MAX_ITEMS) {
            let reqs: Vec<GraphRequest> = chunk.iter().map(|a| rule.request(a)).collect();
            let answers = run(graph, reqs).await?;
            let now = crate::time::now_db();
            for (addr, answer) in chunk.iter().zip(answers) {
                match step_of(rule, answer) {
                    Step::Hit(class, user) => {
                        out.insert(
                            addr.clone(),
                            Ok(result_of(addr, class, Some(rule), user.as_ref(), &now)),
                        );
                    }
                    Step::Miss if rule == MatchRule::ProxyAddress => {
                        out.insert(
                            addr.clone(),
                            Ok(result_of(addr, MemberClass::NotFound, None, None, &now)),
                        );
                    }
                    Step::Miss => next.push(addr.clone()),
                    Step::Failed(why) => {
                        out.insert(addr.clone(), Err(why));
                    }
                }
            }
            progress(MembershipProgress {
                done: out.len(),
                total,
            });
        }
        pending = next;
    }
    Ok(out)
}

/// Checks many addresses (a list or a CSV's column): needs [`Action::MembershipCheck`] (on
/// `program` when given). Malformed addresses are reported, not fatal; duplicates are checked
/// once. Fresh cache rows answer without Graph unless `opts.refresh`; every Graph answer
/// refreshes the cache. The output lists every input, in input order.
#[tracing::instrument(skip_all, err(level = "warn"), fields(operator = %actor.label, program = program.unwrap_or(""), addresses = addresses.len()))]
pub async fn check_many(
    store: &mut Store,
    graph: &GraphClient,
    actor: &Actor,
    program: Option<&str>,
    addresses: &[String],
    opts: CheckOptions,
    progress: &(dyn Fn(MembershipProgress) + Send + Sync),
) -> Result<Vec<AddressCheck>, Error> {
    let program = program.map(|p| p.trim().to_ascii_lowercase());
    access::require(
        store.tables(),
        actor,
        Action::MembershipCheck,
        program.as_deref(),
    )
    .map_err(|e| match e {
        Error::Denied(m) if program.is_none() => {
            Error::Denied(format!("{m}; name one of your programs"))
        }
        other => other,
    })?;
    check_unchecked(store, graph, addresses, opts, progress).await
}

/// [`check_many`] without the access check, for use cases that already made theirs.
pub(crate) async fn check_unchecked(
    store: &mut Store,
    graph: &GraphClient,
    addresses: &[String],
    opts: CheckOptions,
    progress: &(dyn Fn(MembershipProgress) + Send + Sync),
) -> Result<Vec<AddressCheck>, Error> {
    Ok(check_inner(store, graph, addresses, opts, progress)
        .await?
        .0)
}

/// The checks, plus the Graph error of each address Graph would not answer.
async fn check_inner(
    store: &mut Store,
    graph: &GraphClient,
    addresses: &[String],
    opts: CheckOptions,
    progress: &(dyn Fn(MembershipProgress) + Send + Sync),
) -> Result<(Vec<AddressCheck>, HashMap<String, GraphError>), Error> {
    let now = Utc::now();
    let ttl = store.tables().directory_ttl_hours()?;
    let mut known: HashMap<String, Result<Membership, String>> = HashMap::new();
    let mut to_ask: Vec<String> = Vec::new();
    // Every distinct well-formed address, in input order, and its cache row: one read of the
    // cache for all of them.
    let mut seen = std::collections::HashSet::new();
    let wanted: Vec<String> = addresses
        .iter()
        .filter_map(|raw| normalize_address(raw).ok())
        .filter(|addr| seen.insert(addr.clone()))
        .collect();
    let mut rows = if opts.refresh || wanted.is_empty() {
        HashMap::new()
    } else {
        let keys: Vec<&str> = wanted.iter().map(String::as_str).collect();
        store.tables().directory_get_many(&keys)?
    };
    for addr in wanted {
        let cached = rows
            .remove(&addr)
            .filter(|r| is_fresh(&r.checked_at, ttl, now))
            .and_then(from_cache);
        match cached {
            Some(m) => {
                known.insert(addr, Ok(m));
            }
            None => to_ask.push(addr),
        }
    }
    let from_cache_count = known.len();
    let total = from_cache_count + to_ask.len();
    progress(MembershipProgress {
        done: from_cache_count,
        total,
    });
    let asked = lookup(graph, &to_ask, &|p| {
        progress(MembershipProgress {
            done: from_cache_count + p.done,
            total,
        })
    })
    .await?;
    let fresh: Vec<_> = asked.values().flatten().map(to_cache).collect();
    if !fresh.is_empty() {
        store.write(|tx| -> Result<(), Error> { Ok(tx.directory_put_many(&fresh)?) })?;
    }
    let mut failures = HashMap::new();
    for (addr, r) in asked {
        match r {
            Ok(m) => {
                known.insert(addr, Ok(m));
            }
            Err(e) => {
                known.insert(addr.clone(), Err(e.to_string()));
                failures.insert(addr, e);
            }
        }
    }
    let checks = addresses
        .iter()
        .map(|raw| match normalize_address(raw) {
            Err(why) => AddressCheck {
                input: raw.clone(),
                result: None,
                error: Some(why),
            },
            Ok(addr) => match known.get(&addr) {
                Some(Ok(m)) => AddressCheck {
                    input: raw.clone(),
                    result: Some(m.clone()),
                    error: None,
                },
                Some(Err(why)) => AddressCheck {
                    input: raw.clone(),
                    result: None,
                    error: Some(why.clone()),
                },
                None => AddressCheck {
                    input: raw.clone(),
                    result: None,
                    error: Some("not checked".into()),
                },
            },
        })
        .collect();
    Ok((checks, failures))
}

/// Sets how long membership results are cached, in hours (0 = always ask; at most 30 days). A
/// global admin's setting; audited.
#[tracing::instrument(skip_all, err(level = "warn"), fields(operator = %actor.label, hours))]
pub fn set_cache_ttl_hours(store: &mut Store, actor: &Actor, hours: i64) -> Result<(), Error> {
    if !(0..=720).contains(&hours) {
        return Err(Error::invalid(
            "hours",
            format!("{hours} is not between 0 and 720 hours"),
        ));
    }
    store.write(|tx| -> Result<(), Error> {
        let who = access::require(tx, actor, Action::IntegrationManage, None)?;
        let before = tx.directory_ttl_hours()?;
        tx.directory_set_ttl_hours(hours)?;
        who.audit(
            tx,
            crate::store::audit_log::AuditEntry {
                action: "settings.membership_cache_ttl",
                target: &format!("setting:{}", cache::SETTING_TTL_HOURS),
                before: Some(serde_json::json!(before)),
                after: Some(serde_json::json!(hours)),
                ..Default::default()
            },
        )?;
        Ok(())
    })
}

/// The cache lifetime in hours.
pub fn cache_ttl_hours(store: &Store) -> Result<i64, Error> {
    Ok(store.tables().directory_ttl_hours()?)
}

/// Checks one address; a malformed address or a Graph failure is an error.
#[tracing::instrument(skip_all, err(level = "warn"), fields(operator = %actor.label))]
pub async fn check(
    store: &mut Store,
    graph: &GraphClient,
    actor: &Actor,
    address: &str,
    opts: CheckOptions,
) -> Result<Membership, Error> {
    let addr = normalize_address(address).map_err(|why| Error::invalid("address", why))?;
    access::require(store.tables(), actor, Action::MembershipCheck, None)?;
    let (mut out, mut failures) =
        check_inner(store, graph, &[address.to_string()], opts, &|_| {}).await?;
    if let Some(e) = failures.remove(&addr) {
        return Err(e.into());
    }
    let one = out.pop().expect("invariant: one input gives one result");
    one.result
        .ok_or_else(|| Error::invalid("address", one.error.unwrap_or_else(|| "not checked".into())))
}

/// Each check of a diagnosis, in the order they are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckName {
    /// The tenant integration is connected.
    IntegrationConnected,
    /// The connected cloud offers Graph online meetings.
    CloudOffersMeetings,
    /// Invitations can be sent as the invitation mode says (in `calendar` mode the host's
    /// sign-in holds `Calendars.ReadWrite`).
    InvitationsCanBeSent,
    /// The program exists and is not archived.
    ProgramActive,
    /// The program allows Teams video calls.
    TeamsModeEnabled,
    /// The address is a member of the tenant (not a guest).
    IsMember,
    /// The address is a participant of the program.
    IsParticipant,
    /// The acting operator may manage meetings in the program.
    OperatorMayAct,
}

impl CheckName {
    /// Words for humans.
    pub fn label(self) -> &'static str {
        match self {
            CheckName::IntegrationConnected => "integration connected",
            CheckName::CloudOffersMeetings => "cloud offers Teams meetings",
            CheckName::InvitationsCanBeSent => "invitations can be sent",
            CheckName::ProgramActive => "program exists and is active",
            CheckName::TeamsModeEnabled => "Teams mode enabled in the program",
            CheckName::IsMember => "member of the tenant (not a guest)",
            CheckName::IsParticipant => "participant of the program",
            CheckName::OperatorMayAct => "you may manage meetings in the program",
        }
    }
}

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiagnosisCheck {
    /// Which check.
    pub check: CheckName,
    /// Passed?
    pub passed: bool,
    /// What was found.
    pub detail: String,
    /// What to do when it failed.
    pub fix: Option<String>,
}

/// "Can `address` be offered a Teams meeting in `program`?"
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnosis {
    /// The address (normalised when valid).
    pub address: String,
    /// The program code as given.
    pub program: String,
    /// Every check, in order.
    pub checks: Vec<DiagnosisCheck>,
    /// The directory result, when it could be checked.
    pub membership: Option<Membership>,
}

impl Diagnosis {
    /// True when every check passed.
    pub fn ok(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }

    /// The failing checks.
    pub fn failures(&self) -> impl Iterator<Item = &DiagnosisCheck> {
        self.checks.iter().filter(|c| !c.passed)
    }
}

fn pass(check: CheckName, detail: impl Into<String>) -> DiagnosisCheck {
    DiagnosisCheck {
        check,
        passed: true,
        detail: detail.into(),
        fix: None,
    }
}

fn fail(check: CheckName, detail: impl Into<String>, fix: impl Into<String>) -> DiagnosisCheck {
    DiagnosisCheck {
        check,
        passed: false,
        detail: detail.into(),
        fix: Some(fix.into()),
    }
}

/// The program- and tenant-level checks (the same for every participant), read from the store.
#[derive(Debug, Clone)]
pub(crate) struct Context {
    pub checks: Vec<DiagnosisCheck>,
    pub program_id: Option<i64>,
    pub program_code: String,
}

pub(crate) fn context(store: &Store, actor: &Actor, program: &str) -> Result<Context, Error> {
    let conn = store.tables();
    let mut checks = Vec::new();
    let row = conn.integration_get()?;
    match row.as_ref() {
        None => checks.push(fail(
            CheckName::IntegrationConnected,
            "no Microsoft 365 tenant is connected",
            "a global admin connects the tenant (tsched integration connect)",
        )),
        Some(r) if r.state == crate::store::integration::RowState::Removed => checks.push(fail(
            CheckName::IntegrationConnected,
            "the integration was removed",
            "a global admin connects the tenant again (tsched integration connect)",
        )),
        Some(r) if r.state == crate::store::integration::RowState::NeedsAttention => {
            checks.push(fail(
                CheckName::IntegrationConnected,
                format!(
                    "the integration needs attention: {}",
                    r.attention_reason
                        .as_deref()
                        .unwrap_or("see tsched integration status")
                ),
                "a global admin repairs it (tsched integration check, or connect again)",
            ))
        }
        Some(r) => checks.push(pass(
            CheckName::IntegrationConnected,
            format!("connected as {}", r.host_upn),
        )),
    }
    let cloud_reason = row.as_ref().and_then(|r| {
        crate::auth::Cloud::from_stored(&r.cloud, &r.authority_base)
            .ok()
            .and_then(|c| c.meetings_unavailable_reason())
    });
    checks.push(match (row.as_ref(), cloud_reason) {
        (None, _) => fail(
            CheckName::CloudOffersMeetings,
            "unknown until a tenant is connected",
            "connect the tenant first",
        ),
        (Some(_), Some(why)) => fail(
            CheckName::CloudOffersMeetings,
            why,
            "use another meeting mode for this program",
        ),
        (Some(r), None) => pass(
            CheckName::CloudOffersMeetings,
            format!("the {} cloud offers online meetings", r.cloud),
        ),
    });
    let mode = conn.integration_invitation_mode()?;
    let granted = row
        .as_ref()
        .map(|r| r.granted_scopes.as_str())
        .unwrap_or("");
    checks.push(
        match crate::integration::invitations_unavailable(mode, granted) {
            None if mode.is_calendar() => pass(
                CheckName::InvitationsCanBeSent,
                "invitations are sent from the host's calendar (Calendars.ReadWrite granted)",
            ),
            None => pass(
                CheckName::InvitationsCanBeSent,
                "no invitations are sent (mode none): share the join link or export the .ics",
            ),
            Some(why) => fail(
                CheckName::InvitationsCanBeSent,
                why,
                "a global admin grants Calendars.ReadWrite (admin consent) and reconnects the host \
                 (tsched integration connect), or sets the mode back (tsched integration \
                 invitations none)",
            ),
        },
    );
    let code = program.trim().to_ascii_lowercase();
    let p = conn.program_by_code(&code)?;
    match &p {
        None => checks.push(fail(
            CheckName::ProgramActive,
            format!("program '{code}' does not exist"),
            "check the code (tsched programs list)",
        )),
        Some(p) if p.archived => checks.push(fail(
            CheckName::ProgramActive,
            format!("program '{}' is archived", p.code),
            format!(
                "a global admin unarchives it (tsched programs unarchive {})",
                p.code
            ),
        )),
        Some(p) => checks.push(pass(
            CheckName::ProgramActive,
            format!("program '{}' ({}) is active", p.code, p.name),
        )),
    }
    let teams = MeetingMode::TeamsVideo.as_str();
    checks.push(match &p {
        None => fail(
            CheckName::TeamsModeEnabled,
            "no such program",
            "check the program code",
        ),
        Some(p) if p.enabled_modes.iter().any(|m| m == teams) => {
            pass(CheckName::TeamsModeEnabled, "Teams video calls are enabled")
        }
        Some(p) => fail(
            CheckName::TeamsModeEnabled,
            format!("program '{}' does not allow Teams video calls", p.code),
            format!(
                "a track admin enables it (tsched programs modes enable {} teams-video)",
                p.code
            ),
        ),
    });
    let who = access::resolve(conn, actor);
    checks.push(match who {
        Err(e) => fail(
            CheckName::OperatorMayAct,
            e.to_string(),
            "act as an operator of this store (--as UPN)",
        ),
        Ok(who) => match access::decide(&who.subject, Action::MeetingsManage, Some(&code)) {
            access::Decision::Allowed => pass(
                CheckName::OperatorMayAct,
                format!("{} may manage meetings in '{code}'", who.label),
            ),
            access::Decision::Denied { reason } => fail(
                CheckName::OperatorMayAct,
                format!("{} as {reason}", who.label),
                format!("a global admin grants it (tsched operators grant UPN coordinator --program {code})"),
            ),
        },
    });
    Ok(Context {
        checks,
        program_id: p.as_ref().map(|p| p.id),
        program_code: code,
    })
}

/// Pure: the per-address checks given the context, the address and its directory result.
pub(crate) fn person_checks(
    store: &Store,
    ctx: &Context,
    address: &str,
    membership: Result<&Membership, &str>,
) -> Result<Vec<DiagnosisCheck>, Error> {
    let mut checks = Vec::new();
    checks.push(match membership {
        Err(why) => fail(
            CheckName::IsMember,
            format!("could not be checked: {why}"),
            "fix the check above (or the address) and try again",
        ),
        Ok(m) => match m.class {
            MemberClass::Member => pass(
                CheckName::IsMember,
                format!(
                    "member {} ({}), matched by {}",
                    m.upn.as_deref().unwrap_or(""),
                    m.display_name.as_deref().unwrap_or(""),
                    m.matched_by.map(MatchRule::as_str).unwrap_or("")
                ),
            ),
            MemberClass::Guest => fail(
                CheckName::IsMember,
                format!(
                    "{} is a guest account ({})",
                    address,
                    m.upn.as_deref().unwrap_or("")
                ),
                "guests cannot be offered Teams meetings here; use the person's member account in this tenant, or another meeting mode",
            ),
            MemberClass::NotFound => fail(
                CheckName::IsMember,
                format!("no user in the tenant has the address {address}"),
                "check the spelling, or ask IT whether the person has an account in this tenant",
            ),
            MemberClass::Ambiguous => fail(
                CheckName::IsMember,
                format!("more than one user has the address {address}"),
                "use the person's exact UPN instead",
            ),
        },
    });
    let in_program = match ctx.program_id {
        None => None,
        Some(pid) => {
            let mut keys = vec![address.to_string()];
            if let Ok(m) = membership {
                keys.extend(m.upn.clone());
            }
            let mut found = None;
            for k in keys {
                if let Some(p) = store.tables().participant_by_email(pid, &k)? {
                    found = Some(p.email);
                    break;
                }
            }
            Some(found)
        }
    };
    checks.push(match in_program {
        None => fail(
            CheckName::IsParticipant,
            "no such program",
            "check the program code",
        ),
        Some(Some(email)) => pass(
            CheckName::IsParticipant,
            format!("{email} is a participant of '{}'", ctx.program_code),
        ),
        Some(None) => fail(
            CheckName::IsParticipant,
            format!("{address} is not a participant of '{}'", ctx.program_code),
            format!(
                "a track admin adds them (tsched programs participants add {} {address})",
                ctx.program_code
            ),
        ),
    });
    Ok(checks)
}

/// Assembles the diagnosis in display order.
fn assemble(
    ctx: &Context,
    address: &str,
    person: Vec<DiagnosisCheck>,
    membership: Option<Membership>,
) -> Diagnosis {
    let mut checks = ctx.checks.clone();
    // Order: integration, cloud, program, Teams mode, member, participant, operator.
    let operator = checks
        .pop()
        .expect("invariant: context ends with the operator check");
    checks.extend(person);
    checks.push(operator);
    Diagnosis {
        address: address.to_string(),
        program: ctx.program_code.clone(),
        checks,
        membership,
    }
}

/// Diagnoses several addresses for one program. Needs [`Action::MembershipCheck`] on the
/// program (or globally, when the program does not exist). `graph` is `None` when no session
/// could be built; the membership check then fails with the reason.
#[tracing::instrument(skip_all, err(level = "warn"), fields(operator = %actor.label, program = %program, addresses = addresses.len()))]
pub async fn diagnose_many(
    store: &mut Store,
    graph: Option<&GraphClient>,
    actor: &Actor,
    program: &str,
    addresses: &[String],
    opts: CheckOptions,
) -> Result<Vec<Diagnosis>, Error> {
    let code = program.trim().to_ascii_lowercase();
    access::require(store.tables(), actor, Action::MembershipCheck, Some(&code))?;
    let ctx = context(store, actor, &code)?;
    let connected = ctx.checks[0].passed;
    let results: Vec<AddressCheck> = match graph {
        Some(g) if connected => check_unchecked(store, g, addresses, opts, &|_| {}).await?,
        _ => addresses
            .iter()
            .map(|a| AddressCheck {
                input: a.clone(),
                result: None,
                error: Some("the tenant is not connected".into()),
            })
            .collect(),
    };
    let mut out = Vec::new();
    for r in results {
        let addr = normalize_address(&r.input).unwrap_or_else(|_| r.input.trim().to_string());
        let membership = match (&r.result, &r.error) {
            (Some(m), _) => Ok(m),
            (None, e) => Err(e.as_deref().unwrap_or("not checked")),
        };
        let person = person_checks(store, &ctx, &addr, membership)?;
        out.push(assemble(&ctx, &addr, person, r.result.clone()));
    }
    Ok(out)
}

/// Diagnoses one address.
#[tracing::instrument(skip_all, err(level = "warn"), fields(operator = %actor.label, program = %program))]
pub async fn diagnose(
    store: &mut Store,
    graph: Option<&GraphClient>,
    actor: &Actor,
    program: &str,
    address: &str,
    opts: CheckOptions,
) -> Result<Diagnosis, Error> {
    let mut v = diagnose_many(store, graph, actor, program, &[address.to_string()], opts).await?;
    Ok(v.pop().expect("invariant: one input gives one diagnosis"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(upn: &str) -> DirectoryUser {
        DirectoryUser {
            id: "id".into(),
            user_principal_name: upn.into(),
            display_name: None,
            mail: None,
        }
    }

    #[test]
    fn classes_follow_the_match_count_and_ext_marker() {
        assert_eq!(classify(&[]), None, "no match: try the next rule");
        assert_eq!(
            classify(&[user("a@contoso.com")]).map(|c| c.0),
            Some(MemberClass::Member),
            "one member"
        );
        assert_eq!(
            classify(&[user("a_fabrikam.com#EXT#@contoso.com")]).map(|c| c.0),
            Some(MemberClass::Guest),
            "#EXT# marks a guest"
        );
        assert_eq!(
            classify(&[user("a@contoso.com"), user("b@contoso.com")]).map(|c| c.0),
            Some(MemberClass::Ambiguous),
            "two matches are ambiguous"
        );
    }

    #[test]
    fn addresses_are_trimmed_lowercased_and_malformed_ones_refused() {
        assert_eq!(
            normalize_address("  Ann.Lee@Contoso.COM "),
            Ok("ann.lee@contoso.com".into()),
            "trim + case-fold"
        );
        assert!(normalize_address("not-an-address").is_err(), "no @ refused");
        assert!(normalize_address("a@@b.com").is_err(), "two @ refused");
        assert!(
            normalize_address("ann_fabrikam.com#EXT#@contoso.com").is_ok(),
            "a guest UPN with # is a valid address"
        );
    }

    #[test]
    fn csv_addresses_come_from_the_email_column_or_the_first_one() {
        let with_header =
            "\u{feff}name,Email\nAnn,ann@contoso.com\nBob, bob@contoso.com \nNo mail,\n";
        assert_eq!(
            addresses_from_csv(with_header.as_bytes()).expect("csv"),
            vec!["ann@contoso.com", "bob@contoso.com"],
            "the email column, trimmed, blanks skipped"
        );
        assert_eq!(
            addresses_from_csv(b"ann@contoso.com\r\nbob@contoso.com\r\n").expect("csv"),
            vec!["ann@contoso.com", "bob@contoso.com"],
            "headerless single column with CRLF"
        );
        assert_eq!(
            addresses_from_csv(
                b"email
'-ann@contoso.com
'+bob@contoso.com
"
            )
            .expect("csv"),
            vec!["-ann@contoso.com", "+bob@contoso.com"],
            "an address our own CSV export guarded against formulas reads back unchanged"
        );
    }

    #[test]
    fn cache_freshness_follows_the_ttl() {
        let now = DateTime::parse_from_rfc3339("2027-01-02T00:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        assert!(
            is_fresh("2027-01-01T01:00:00Z", 24, now),
            "23 h old is fresh with 24 h TTL"
        );
        assert!(
            !is_fresh("2027-01-01T00:00:00Z", 24, now),
            "24 h old is stale"
        );
        assert!(!is_fresh("garbage", 24, now), "unreadable time is stale");
    }
}
