//! Membership checks against the sandbox over real HTTP: each lookup rule and class, the cache and
//! its TTL, `$batch` chunking (45 addresses → 3 calls), per-item throttling, progress events, and
//! the diagnosis with each failing check.

use std::sync::{Arc, Mutex};

use tsched_core::graph::GraphClient;
use tsched_core::membership::{self, CheckName, CheckOptions, MatchRule, MemberClass};
use tsched_core::programs::{self, MeetingMode, NewProgram};
use tsched_core::{participants, Actor};
use tsched_sandbox::{RunningSandbox, SandboxConfig, Seed, SeedUser};

use crate::support::{host, Browser, Env};

pub const ADMIN: &str = "admin@contoso.example";

fn user(upn: &str, mail: Option<&str>, proxies: &[&str]) -> SeedUser {
    SeedUser {
        id: tsched_sandbox::seed::user_id_for(upn),
        user_principal_name: upn.into(),
        mail: mail.map(str::to_string),
        proxy_addresses: proxies.iter().map(|p| p.to_string()).collect(),
        given_name: None,
        surname: None,
        display_name: format!("Test {upn}"),
        user_type: "Member".into(),
        is_admin: false,
        job_title: None,
    }
}

/// The default tenant plus: two users sharing an alias (ambiguous) and a mail with a quote.
pub fn seed() -> Seed {
    let mut s = Seed::default_tenant();
    s.users.push(user(
        "twin.one@contoso.example",
        Some("twin.one@contoso.example"),
        &[
            "SMTP:twin.one@contoso.example",
            "smtp:twins@contoso.example",
        ],
    ));
    s.users.push(user(
        "twin.two@contoso.example",
        Some("twin.two@contoso.example"),
        &[
            "SMTP:twin.two@contoso.example",
            "smtp:twins@contoso.example",
        ],
    ));
    s.users.push(user(
        "obrien@contoso.example",
        Some("o'brien@contoso.example"),
        &["SMTP:o'brien@contoso.example"],
    ));
    s
}

/// A connected environment (auto-consent) with the extra seed users.
pub async fn connected() -> (Env, GraphClient) {
    let mut env = Env::with(SandboxConfig {
        auto_consent: true,
        seed: seed(),
        ..Default::default()
    })
    .await;
    env.connect(&Browser::default())
        .await
        .expect("the host connects through the sandbox");
    let session = tsched_core::integration::session(&env.store, env.tokens.clone())
        .expect("a session from the stored connection");
    let graph = session.graph().clone();
    (env, graph)
}

/// Request-log count of routes that satisfy `pred` (any status when `status` is None).
pub fn count(sb: &RunningSandbox, pred: impl Fn(&str) -> bool, status: Option<u64>) -> u64 {
    let log = sb.handle().request_log();
    log["counts"]
        .as_array()
        .expect("counts")
        .iter()
        .filter(|c| c["route"].as_str().is_some_and(&pred))
        .filter(|c| match status {
            None => true,
            Some(s) => c["status"].as_u64() == Some(s),
        })
        .map(|c| c["count"].as_u64().unwrap_or(0))
        .sum()
}

fn users_calls(sb: &RunningSandbox) -> u64 {
    count(sb, |r| r.contains("/users"), None)
}

/// A program with Teams enabled and these participants.
pub fn program_with(env: &mut Env, code: &str, people: &[&str]) {
    let actor = host();
    programs::add(
        &mut env.store,
        &actor,
        NewProgram {
            name: format!("Program {code}"),
            code: Some(code.into()),
            description: None,
        },
    )
    .expect("program added");
    programs::set_mode(
        &mut env.store,
        &actor,
        code,
        MeetingMode::TeamsVideo,
        true,
        None,
    )
    .expect("Teams enabled");
    for p in people {
        participants::add(&mut env.store, &actor, code, p, "").expect("participant added");
    }
}

async fn check_one(env: &mut Env, graph: &GraphClient, addr: &str) -> membership::Membership {
    membership::check(
        &mut env.store,
        graph,
        &host(),
        addr,
        CheckOptions::default(),
    )
    .await
    .expect("the check runs")
}

#[tokio::test]
async fn each_rule_and_class_is_found_in_order() {
    let (mut env, graph) = connected().await;
    let cases = [
        (
            "  Zoe.Odegard1@Contoso.Example ",
            MemberClass::Member,
            Some(MatchRule::Upn),
        ),
        (
            "adelev0@contoso.example",
            MemberClass::Member,
            Some(MatchRule::Mail),
        ),
        (
            "adele0@alias.contoso.example",
            MemberClass::Member,
            Some(MatchRule::ProxyAddress),
        ),
        (
            "zoe0_fabrikam.com#EXT#@contoso.example",
            MemberClass::Guest,
            Some(MatchRule::Upn),
        ),
        (
            "zoe0@fabrikam.com",
            MemberClass::Guest,
            Some(MatchRule::Mail),
        ),
        ("nobody.here@contoso.example", MemberClass::NotFound, None),
        (
            "twins@contoso.example",
            MemberClass::Ambiguous,
            Some(MatchRule::ProxyAddress),
        ),
        (
            "o'brien@contoso.example",
            MemberClass::Member,
            Some(MatchRule::Mail),
        ),
        ("a#b@contoso.example", MemberClass::NotFound, None),
    ];
    for (addr, class, rule) in cases {
        let m = check_one(&mut env, &graph, addr).await;
        assert_eq!(m.class, class, "class of {addr}: {m:?}");
        assert_eq!(m.matched_by, rule, "rule that matched {addr}: {m:?}");
        assert_eq!(m.address, addr.trim().to_lowercase(), "address normalised");
        assert!(!m.from_cache, "first check asks Graph");
    }
    let m = check_one(&mut env, &graph, "adelev0@contoso.example").await;
    assert_eq!(
        m.upn.as_deref(),
        Some("adele.vance0@contoso.example"),
        "the UPN behind a mail match is reported"
    );
    assert!(
        m.object_id.is_some() && m.display_name.is_some(),
        "id and name: {m:?}"
    );
    assert_eq!(
        env.sandbox.handle().request_count("GET /users", 400),
        0,
        "no lookup is malformed (quotes doubled, # encoded, advanced query headers sent)"
    );
    let bad = membership::check(
        &mut env.store,
        &graph,
        &host(),
        "not an address",
        CheckOptions::default(),
    )
    .await
    .expect_err("malformed address refused");
    assert_eq!(bad.code(), tsched_core::ErrorCode::InvalidInput, "{bad}");
}

#[tokio::test]
async fn cache_answers_within_the_ttl_and_refresh_or_expiry_ask_again() {
    let (mut env, graph) = connected().await;
    let addr = "lukasz.garcia4@contoso.example";
    check_one(&mut env, &graph, addr).await;
    let after_first = users_calls(&env.sandbox);
    let again = check_one(&mut env, &graph, addr).await;
    assert!(again.from_cache, "second check within the TTL is cached");
    assert_eq!(
        users_calls(&env.sandbox),
        after_first,
        "the cache spared Graph"
    );
    let refreshed = membership::check(
        &mut env.store,
        &graph,
        &host(),
        addr,
        CheckOptions { refresh: true },
    )
    .await
    .expect("refresh");
    assert!(!refreshed.from_cache, "--refresh bypasses the cache");
    assert!(
        users_calls(&env.sandbox) > after_first,
        "refresh asked Graph"
    );
    env.store
        .tables()
        .directory_set_ttl_hours(0)
        .expect("TTL setting");
    let before = users_calls(&env.sandbox);
    let expired = check_one(&mut env, &graph, addr).await;
    assert!(!expired.from_cache, "a stale row is not used");
    assert!(
        users_calls(&env.sandbox) > before,
        "a stale row asks Graph again"
    );
}

fn members(sb: &RunningSandbox, n: usize) -> Vec<String> {
    sb.handle().snapshot()["users"]
        .as_array()
        .expect("users")
        .iter()
        .filter_map(|u| u["userPrincipalName"].as_str())
        .filter(|u| {
            !u.contains("#EXT#")
                && u.contains('.')
                && u.starts_with(|c: char| c.is_ascii_lowercase())
        })
        .take(n)
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn forty_five_addresses_take_three_batch_calls_and_report_progress() {
    let (mut env, graph) = connected().await;
    let addrs = members(&env.sandbox, 45);
    assert_eq!(addrs.len(), 45, "enough seeded members");
    env.sandbox.handle().reset_request_log();
    let events = Arc::new(Mutex::new(Vec::new()));
    let ev = events.clone();
    let out = membership::check_many(
        &mut env.store,
        &graph,
        &host(),
        None,
        &addrs,
        CheckOptions::default(),
        &move |p| ev.lock().expect("lock").push(p),
    )
    .await
    .expect("bulk check");
    assert_eq!(out.len(), 45, "every input is listed");
    assert!(
        out.iter().all(|c| c
            .result
            .as_ref()
            .is_some_and(|m| m.class == MemberClass::Member)),
        "all members: {out:?}"
    );
    assert_eq!(
        count(&env.sandbox, |r| r == "POST /$batch", None),
        3,
        "45 lookups = 20 + 20 + 5 per $batch call: {}",
        env.sandbox.handle().request_log()
    );
    let events = events.lock().expect("lock");
    let last = events.last().expect("progress reported");
    assert_eq!((last.done, last.total), (45, 45), "progress ends complete");
    assert!(events.len() >= 3, "progress after each call: {events:?}");
}

#[tokio::test]
async fn throttled_batch_items_are_retried_after_retry_after() {
    let (mut env, graph) = connected().await;
    let addrs = members(&env.sandbox, 20);
    env.sandbox.handle().reset_request_log();
    env.sandbox
        .handle()
        .update_knobs(|k| k.throttle_rps = Some(8.0));
    let out = membership::check_many(
        &mut env.store,
        &graph,
        &host(),
        None,
        &addrs,
        CheckOptions::default(),
        &|_| {},
    )
    .await
    .expect("bulk check under throttling");
    assert!(
        out.iter().all(|c| c
            .result
            .as_ref()
            .is_some_and(|m| m.class == MemberClass::Member)),
        "every address answered despite throttling: {out:?}"
    );
    assert!(
        count(&env.sandbox, |r| r.starts_with("$batch item"), Some(429)) > 0,
        "some items were throttled (else the test proves nothing): {}",
        env.sandbox.handle().request_log()
    );
}

#[tokio::test]
async fn diagnosis_names_each_failing_check_with_a_fix() {
    let (mut env, graph) = connected().await;
    program_with(
        &mut env,
        "eng",
        &["zoe.odegard1@contoso.example", "zoe0@fabrikam.com"],
    );
    let actor = host();
    let d = membership::diagnose(
        &mut env.store,
        Some(&graph),
        &actor,
        "eng",
        "zoe.odegard1@contoso.example",
        CheckOptions::default(),
    )
    .await
    .expect("diagnose");
    assert!(
        d.ok(),
        "a member participant in a Teams program passes: {d:#?}"
    );
    assert_eq!(
        d.checks.len(),
        8,
        "eight checks shown (invitations included)"
    );

    let failing = |d: &membership::Diagnosis| d.failures().map(|c| c.check).collect::<Vec<_>>();
    let d = membership::diagnose(
        &mut env.store,
        Some(&graph),
        &actor,
        "eng",
        "zoe0@fabrikam.com",
        CheckOptions::default(),
    )
    .await
    .expect("diagnose guest");
    assert_eq!(
        failing(&d),
        vec![CheckName::IsMember],
        "a guest fails only the member check"
    );
    assert!(
        d.failures()
            .all(|c| c.fix.as_deref().is_some_and(|f| !f.is_empty())),
        "each failure carries a fix"
    );
    let d = membership::diagnose(
        &mut env.store,
        Some(&graph),
        &actor,
        "eng",
        "lukasz.garcia4@contoso.example",
        CheckOptions::default(),
    )
    .await
    .expect("diagnose non-participant");
    assert_eq!(
        failing(&d),
        vec![CheckName::IsParticipant],
        "not a participant"
    );
    let d = membership::diagnose(
        &mut env.store,
        Some(&graph),
        &actor,
        "nope",
        "lukasz.garcia4@contoso.example",
        CheckOptions::default(),
    )
    .await
    .expect("diagnose unknown program");
    assert!(
        failing(&d).contains(&CheckName::ProgramActive)
            && failing(&d).contains(&CheckName::TeamsModeEnabled),
        "unknown program fails the program checks: {d:#?}"
    );
    programs::set_mode(
        &mut env.store,
        &actor,
        "eng",
        MeetingMode::TeamsVideo,
        false,
        None,
    )
    .expect("disable");
    let d = membership::diagnose(
        &mut env.store,
        Some(&graph),
        &actor,
        "eng",
        "zoe.odegard1@contoso.example",
        CheckOptions::default(),
    )
    .await
    .expect("diagnose");
    assert_eq!(
        failing(&d),
        vec![CheckName::TeamsModeEnabled],
        "Teams disabled"
    );
    programs::set_archived(&mut env.store, &actor, "eng", true, None).expect("archive");
    let d = membership::diagnose(
        &mut env.store,
        Some(&graph),
        &actor,
        "eng",
        "zoe.odegard1@contoso.example",
        CheckOptions::default(),
    )
    .await
    .expect("diagnose");
    assert!(
        failing(&d).contains(&CheckName::ProgramActive),
        "archived program: {d:#?}"
    );

    // An operator who may check membership (support) but not manage meetings.
    tsched_core::operators::add(
        &mut env.store,
        &actor,
        tsched_core::operators::NewOperator {
            upn: ADMIN.into(),
            display_name: String::new(),
        },
    )
    .expect("first operator");
    let admin = host();
    tsched_core::operators::add(
        &mut env.store,
        &admin,
        tsched_core::operators::NewOperator {
            upn: "sam@contoso.example".into(),
            display_name: String::new(),
        },
    )
    .expect("support operator");
    tsched_core::operators::grant(
        &mut env.store,
        &admin,
        "sam@contoso.example",
        tsched_core::access::Role::Support,
        None,
    )
    .expect("grant support");
    programs::set_archived(&mut env.store, &admin, "eng", false, None).expect("unarchive");
    programs::set_mode(
        &mut env.store,
        &admin,
        "eng",
        MeetingMode::TeamsVideo,
        true,
        None,
    )
    .expect("enable");
    let d = membership::diagnose(
        &mut env.store,
        Some(&graph),
        &Actor::operator("sam@contoso.example"),
        "eng",
        "zoe.odegard1@contoso.example",
        CheckOptions::default(),
    )
    .await
    .expect("support may diagnose");
    assert_eq!(
        failing(&d),
        vec![CheckName::OperatorMayAct],
        "support may not manage meetings: {d:#?}"
    );
}

#[tokio::test]
async fn diagnosis_without_a_connection_fails_the_integration_check() {
    let mut env = Env::new(true).await;
    let actor = host();
    programs::add(
        &mut env.store,
        &actor,
        NewProgram {
            name: "Engineering".into(),
            code: Some("eng".into()),
            description: None,
        },
    )
    .expect("program added");
    participants::add(
        &mut env.store,
        &actor,
        "eng",
        "zoe.odegard1@contoso.example",
        "",
    )
    .expect("participant added");
    let d = membership::diagnose(
        &mut env.store,
        None,
        &host(),
        "eng",
        "zoe.odegard1@contoso.example",
        CheckOptions::default(),
    )
    .await
    .expect("diagnose without Graph");
    let failing: Vec<CheckName> = d.failures().map(|c| c.check).collect();
    assert!(
        failing.contains(&CheckName::IntegrationConnected)
            && failing.contains(&CheckName::CloudOffersMeetings)
            && failing.contains(&CheckName::TeamsModeEnabled)
            && failing.contains(&CheckName::IsMember),
        "not connected: integration, cloud and membership fail: {d:#?}"
    );
}

#[tokio::test]
async fn diagnosis_in_a_cloud_without_meetings_fails_the_cloud_check() {
    let mut env = Env::new(true).await;
    env.store
        .tables()
        .integration_put(&tsched_core::store::integration::IntegrationRow {
            cloud: "china".into(),
            authority_base: "https://login.chinacloudapi.cn".into(),
            graph_base: "https://microsoftgraph.chinacloudapi.cn/v1.0".into(),
            tenant_id: "t".into(),
            client_id: "c".into(),
            host_object_id: "o".into(),
            host_upn: "host@contoso.cn".into(),
            host_display_name: "Teams Scheduler".into(),
            granted_scopes: "OnlineMeetings.ReadWrite User.ReadBasic.All".into(),
            state: tsched_core::store::integration::RowState::Connected,
            attention_reason: None,
            connected_at: "2027-01-01T00:00:00Z".into(),
            connected_by: None,
            last_refresh_at: None,
            removed_at: None,
        })
        .expect("integration row");
    let d = membership::diagnose(
        &mut env.store,
        None,
        &host(),
        "eng",
        "zoe.odegard1@contoso.example",
        CheckOptions::default(),
    )
    .await
    .expect("diagnose");
    let cloud = d
        .checks
        .iter()
        .find(|c| c.check == CheckName::CloudOffersMeetings)
        .expect("cloud check present");
    assert!(
        !cloud.passed,
        "China has no Graph online meetings: {cloud:?}"
    );
    assert!(
        cloud.detail.contains("China"),
        "the reason names the cloud: {cloud:?}"
    );
    assert!(
        d.checks[0].passed,
        "the integration itself is connected: {:?}",
        d.checks[0]
    );
}

/// The same addresses through `$batch` (items with `ConsistencyLevel` headers and OData
/// literals) give the same answers as one by one, and duplicates and bad rows are listed too.
#[tokio::test]
async fn batch_rounds_give_the_same_answers_as_single_checks() {
    let (mut env, graph) = connected().await;
    let cases = [
        (
            "  Zoe.Odegard1@Contoso.Example ",
            MemberClass::Member,
            Some(MatchRule::Upn),
        ),
        (
            "adelev0@contoso.example",
            MemberClass::Member,
            Some(MatchRule::Mail),
        ),
        (
            "adele0@alias.contoso.example",
            MemberClass::Member,
            Some(MatchRule::ProxyAddress),
        ),
        (
            "zoe0_fabrikam.com#EXT#@contoso.example",
            MemberClass::Guest,
            Some(MatchRule::Upn),
        ),
        (
            "zoe0@fabrikam.com",
            MemberClass::Guest,
            Some(MatchRule::Mail),
        ),
        ("nobody.here@contoso.example", MemberClass::NotFound, None),
        (
            "twins@contoso.example",
            MemberClass::Ambiguous,
            Some(MatchRule::ProxyAddress),
        ),
        (
            "o'brien@contoso.example",
            MemberClass::Member,
            Some(MatchRule::Mail),
        ),
        ("a#b@contoso.example", MemberClass::NotFound, None),
    ];
    let mut inputs: Vec<String> = cases.iter().map(|c| c.0.to_string()).collect();
    inputs.push("ZOE.ODEGARD1@contoso.example".into());
    inputs.push("no-at-sign".into());
    env.sandbox.handle().reset_request_log();
    let out = membership::check_many(
        &mut env.store,
        &graph,
        &host(),
        None,
        &inputs,
        CheckOptions::default(),
        &|_| {},
    )
    .await
    .expect("bulk check");
    assert_eq!(
        out.len(),
        inputs.len(),
        "every input listed, duplicates included"
    );
    for ((addr, class, rule), got) in cases.iter().zip(&out) {
        let m = got
            .result
            .as_ref()
            .unwrap_or_else(|| panic!("{addr} checked: {got:?}"));
        assert_eq!(
            (m.class, m.matched_by),
            (*class, *rule),
            "{addr} through $batch"
        );
    }
    assert_eq!(
        out[cases.len()].result.as_ref().map(|m| m.class),
        Some(MemberClass::Member),
        "a duplicate in other case gets the same answer"
    );
    assert!(
        out[cases.len() + 1].error.is_some(),
        "a bad row is reported, not fatal"
    );
    assert_eq!(
        count(&env.sandbox, |r| r.contains("/users"), Some(400)),
        0,
        "no batch item was malformed: {}",
        env.sandbox.handle().request_log()
    );
    assert_eq!(
        count(&env.sandbox, |r| r == "POST /$batch", None),
        3,
        "one $batch call per rule round (UPN, mail, proxyAddresses)"
    );
}
