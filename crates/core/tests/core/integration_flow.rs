//! The integration issue end to end against the sandbox: both approaches, every refusal, the
//! token manager (rotation, single-flight refresh, 401 then refresh, revocation), removal, and
//! the leak check over the SQLite file and the audit export.

use std::sync::Arc;
use std::time::Duration;

use tsched_core::audit::AuditFilter;
use tsched_core::auth::{AuthError, RedirectSpec, TokenStore};
use tsched_core::integration::{self, Approach, ConnectionState, Verified};
use tsched_core::{ErrorCode, Store};

use crate::support::{route_count, Browser, Env};

const HOST: &str = "teams.scheduler@contoso.example";

fn account(env: &Env) -> String {
    let row = env
        .store
        .tables()
        .integration_get()
        .expect("read")
        .expect("row");
    let cloud = tsched_core::auth::Cloud::from_stored(&row.cloud, &row.authority_base)
        .expect("stored cloud");
    tsched_core::auth::keyring::account(
        &tsched_core::auth::keyring::Binding::new(env.store.path(), &cloud),
        &row.tenant_id,
        &row.host_object_id,
    )
}

fn refresh_token(env: &Env) -> String {
    env.tokens
        .get(&account(env))
        .expect("keyring")
        .expect("stored")
        .expose()
        .clone()
}

#[tokio::test]
async fn host_sign_in_connects_and_keeps_the_refresh_token_only_in_the_keyring() {
    let mut env = Env::new(true).await;
    let browser = Browser {
        probe_favicon: true,
        ..Default::default()
    };
    let status = env.connect(&browser).await.expect("host sign-in connects");
    assert_eq!(
        status.state,
        ConnectionState::Connected,
        "fresh connection is connected: {:?}",
        status.reasons
    );
    assert_eq!(
        status.host_upn.as_deref(),
        Some(HOST),
        "the host account is read from /me"
    );
    assert_eq!(
        status.tenant_id.as_deref(),
        Some(env.sandbox.handle().tenant_id().as_str()),
        "tenant id from the ID token"
    );
    assert!(
        status.missing_scopes.is_empty(),
        "all required permissions granted: {:?}",
        status.missing_scopes
    );
    assert!(
        status.meetings_available,
        "meetings are available once connected"
    );
    assert_eq!(
        *browser.probes.lock().expect("lock"),
        vec![404],
        "a favicon probe gets 404 and does not end the wait"
    );
    assert!(
        !refresh_token(&env).is_empty(),
        "the refresh token is in the keyring"
    );
    let audit = env
        .store
        .tables()
        .audit_list(&AuditFilter {
            action: Some("integration.connect".into()),
            ..Default::default()
        })
        .expect("audit");
    assert_eq!(audit.len(), 1, "the connection is audited once");
    assert_eq!(
        audit[0].operator, "admin@contoso.example",
        "the audit row names who connected"
    );
    let again = integration::status(&env.store, env.tokens.as_ref()).expect("status");
    assert_eq!(
        again.state,
        ConnectionState::Connected,
        "status reads the same state back"
    );
}

#[tokio::test]
async fn admin_consent_then_host_sign_in_connects_without_auto_consent() {
    let mut env = Env::new(false).await;
    let mut req = env.request();
    req.approach = Approach::AdminConsent;
    // The tenant may be given as a verified domain.
    req.tenant = "contoso.example".into();
    let status = env
        .connect_with(&Browser::default(), &req)
        .await
        .expect("approval then sign-in");
    assert_eq!(
        status.state,
        ConnectionState::Connected,
        "{:?}",
        status.reasons
    );
    let grants = env.sandbox.handle().snapshot()["grants"]["admin"].clone();
    assert!(
        grants.to_string().contains("OnlineMeetings.ReadWrite"),
        "the admin granted org-wide: {grants}"
    );
    assert_eq!(
        status.tenant_id.as_deref(),
        Some(env.sandbox.handle().tenant_id().as_str()),
        "a domain resolves to the tenant id"
    );
}

#[tokio::test]
async fn host_sign_in_without_approval_asks_for_a_global_admin_with_the_url() {
    let mut env = Env::new(false).await;
    let err = env
        .connect(&Browser::default())
        .await
        .expect_err("no approval, host may not consent");
    assert_eq!(
        err.code(),
        ErrorCode::ConsentRequired,
        "AADSTS65001 means admin consent: {err}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("global admin") && msg.contains("/v2.0/adminconsent?client_id="),
        "the message carries the approval URL: {msg}"
    );
    assert!(
        msg.contains("AADSTS65001"),
        "the AADSTS code is kept: {msg}"
    );
    assert!(env.nothing_saved(), "a failed sign-in saves nothing");
}

#[tokio::test]
async fn cancelling_on_the_consent_page_says_sign_in_was_cancelled() {
    let mut env = Env::new(false).await;
    let mut req = env.request();
    req.approach = Approach::AdminConsent;
    let err = env
        .connect_with(
            &Browser {
                cancel: true,
                ..Default::default()
            },
            &req,
        )
        .await
        .expect_err("cancelled");
    assert_eq!(
        err.code(),
        ErrorCode::SignInCancelled,
        "AADSTS65004 / error_subcode=cancel: {err}"
    );
    assert!(err.to_string().contains("cancelled"), "{err}");
    assert!(env.nothing_saved(), "cancel saves nothing");
}

#[tokio::test]
async fn a_callback_with_a_forged_state_gets_404_and_does_not_end_the_sign_in() {
    let mut env = Env::new(true).await;
    let browser = Browser {
        forged_state_first: true,
        ..Default::default()
    };
    let status = env
        .connect(&browser)
        .await
        .expect("the real redirect still completes the sign-in");
    assert_eq!(
        browser.probes.lock().expect("lock").as_slice(),
        &[404],
        "the forged callback is answered 404 (issue 17: it used to end the wait)"
    );
    assert_eq!(
        status.state,
        integration::ConnectionState::Connected,
        "connected by the real redirect: {status:?}"
    );
    assert_eq!(env.token_calls(), 1, "only the real code is redeemed, once");
}

#[tokio::test]
async fn a_callback_without_code_is_refused() {
    let mut env = Env::new(true).await;
    let tamper = Arc::new(|mut u: url::Url| {
        let pairs: Vec<(String, String)> = u
            .query_pairs()
            .into_owned()
            .filter(|(k, _)| k != "code")
            .collect();
        u.query_pairs_mut().clear().extend_pairs(pairs);
        u
    });
    let err = env
        .connect(&Browser {
            tamper: Some(tamper),
            ..Default::default()
        })
        .await
        .expect_err("no code");
    assert!(
        matches!(err, tsched_core::Error::Auth(AuthError::MissingCode)),
        "missing code: {err:?}"
    );
    assert!(env.nothing_saved(), "nothing saved without a code");
}

#[tokio::test]
async fn a_second_callback_finds_the_listener_closed() {
    let mut env = Env::new(true).await;
    let browser = Browser::default();
    env.connect(&browser).await.expect("first sign-in");
    let visited = browser.visited.lock().expect("lock").clone();
    assert_eq!(visited.len(), 1, "one callback was made");
    let replay = reqwest::get(&visited[0]).await;
    assert!(
        replay.is_err(),
        "the single-use listener is gone; a replayed callback cannot connect"
    );
}

#[tokio::test]
async fn no_answer_from_the_browser_times_out() {
    let mut env = Env::new(true).await;
    let mut req = env.request();
    req.timeout = Duration::from_millis(300);
    let err = env
        .connect_with(
            &Browser {
                idle: true,
                ..Default::default()
            },
            &req,
        )
        .await
        .expect_err("timeout");
    assert_eq!(err.code(), ErrorCode::Timeout, "{err}");
    assert!(env.nothing_saved(), "nothing saved on timeout");
}

#[tokio::test]
async fn a_taken_redirect_port_is_reported() {
    let mut env = Env::new(true).await;
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let mut req = env.request();
    req.redirect_uri = Some(format!("http://localhost:{port}"));
    let err = env
        .connect_with(&Browser::default(), &req)
        .await
        .expect_err("port in use");
    assert!(
        err.to_string().contains(&format!("port {port}")),
        "names the port: {err}"
    );
    assert!(env.nothing_saved(), "nothing saved");
}

#[tokio::test]
async fn bad_tenants_are_refused_before_any_browser() {
    let mut env = Env::new(true).await;
    let mut req = env.request();
    req.approach = Approach::AdminConsent;
    req.tenant = "common".into();
    let err = env
        .connect_with(&Browser::default(), &req)
        .await
        .expect_err("common refused");
    assert_eq!(err.code(), ErrorCode::InvalidInput, "{err}");
    assert!(err.to_string().contains("'common' is not allowed"), "{err}");
    req.tenant = "not/a tenant".into();
    let err = env
        .connect_with(&Browser::default(), &req)
        .await
        .expect_err("malformed refused");
    assert!(err.to_string().contains("neither a tenant id"), "{err}");
    assert_eq!(
        route_count(&env.sandbox, "authorize") + route_count(&env.sandbox, "adminconsent"),
        0,
        "no browser leg started"
    );
}

#[tokio::test]
async fn a_locked_keyring_saves_nothing() {
    let mut env = Env::new(true).await;
    env.tokens.set_locked(true);
    let err = env
        .connect(&Browser::default())
        .await
        .expect_err("keyring locked");
    assert_eq!(err.code(), ErrorCode::KeyringUnavailable, "{err}");
    assert!(
        err.to_string().contains("never stores tokens in a file"),
        "says there is no file fallback: {err}"
    );
    env.tokens.set_locked(false);
    assert!(env.nothing_saved(), "no row without the keyring entry");
}

#[tokio::test]
async fn mfa_required_says_complete_mfa() {
    let mut env = Env::new(true).await;
    env.sandbox.handle().update_knobs(|k| k.mfa_required = true);
    let err = env.connect(&Browser::default()).await.expect_err("mfa");
    assert_eq!(err.code(), ErrorCode::MfaRequired, "{err}");
    assert!(err.to_string().contains("AADSTS50076"), "{err}");
    assert!(env.nothing_saved(), "nothing saved");
}

/// Issue 21: the ID token must verify against the keys the identity platform publishes; a
/// token endpoint that hands out forged tokens (a rogue proxy, a broken emulator) connects nothing.
#[tokio::test]
async fn an_id_token_whose_signature_does_not_verify_connects_nothing() {
    let mut env = Env::new(true).await;
    env.sandbox
        .handle()
        .update_knobs(|k| k.forge_signatures = true);
    let err = env
        .connect(&Browser::default())
        .await
        .expect_err("a forged ID token must fail the sign-in");
    assert!(
        err.to_string().contains("signature does not verify"),
        "the error says why: {err}"
    );
    assert!(env.nothing_saved(), "nothing saved after a forged token");
}

#[tokio::test]
async fn a_guest_host_is_refused_with_an_explanation() {
    let mut env = Env::new(true).await;
    let guest = env.sandbox.handle().snapshot()["users"]
        .as_array()
        .expect("users")
        .iter()
        .filter_map(|u| u["userPrincipalName"].as_str())
        .find(|u| u.contains("#EXT#"))
        .expect("the default seed has guests")
        .to_string();
    let err = env
        .connect(&Browser {
            login_hint: Some(guest.clone()),
            ..Default::default()
        })
        .await
        .expect_err("guest refused");
    assert_eq!(err.code(), ErrorCode::InvalidInput, "{err}");
    assert!(err.to_string().contains("guest account"), "{err}");
    assert!(env.nothing_saved(), "a guest is never saved");
}

#[tokio::test]
async fn refresh_rotates_the_keyring_token() {
    let mut env = Env::new(true).await;
    env.connect(&Browser::default()).await.expect("connect");
    let before = refresh_token(&env);
    let session = integration::session(&env.store, env.tokens.clone()).expect("session");
    session
        .tokens()
        .access_token()
        .await
        .expect("refresh works");
    let after = refresh_token(&env);
    assert_ne!(before, after, "the new refresh token replaced the old one");
    let outcome = session.verify().await;
    assert!(
        matches!(outcome, Verified::Ok { .. }),
        "verify works after refresh: {outcome:?}"
    );
    integration::record(&mut env.store, &outcome).expect("record");
    let s = integration::status(&env.store, env.tokens.as_ref()).expect("status");
    assert!(s.last_refresh_at.is_some(), "last refresh recorded");
}

#[tokio::test]
async fn concurrent_callers_share_one_refresh() {
    let mut env = Env::new(true).await;
    env.connect(&Browser::default()).await.expect("connect");
    let session = integration::session(&env.store, env.tokens.clone()).expect("session");
    let before = env.token_calls();
    let calls = (0..8).map(|_| {
        let s = session.clone();
        tokio::spawn(async move { s.tokens().access_token().await.map(|t| t.expose().clone()) })
    });
    let mut tokens = Vec::new();
    for c in calls {
        tokens.push(c.await.expect("join").expect("token"));
    }
    assert_eq!(
        env.token_calls() - before,
        1,
        "eight callers, one token request"
    );
    assert!(
        tokens.windows(2).all(|w| w[0] == w[1]),
        "all callers got the same token"
    );
}

#[tokio::test]
async fn a_401_from_graph_refreshes_once_and_retries() {
    let mut env = Env::new(true).await;
    env.connect(&Browser::default()).await.expect("connect");
    let session = integration::session(&env.store, env.tokens.clone()).expect("session");
    tsched_core::graph::users::me(session.graph())
        .await
        .expect("first call refreshes");
    let before = env.token_calls();
    env.sandbox.handle().expire_access_tokens();
    let me = tsched_core::graph::users::me(session.graph())
        .await
        .expect("401 then refresh then OK");
    assert_eq!(
        me.value.user_principal_name, HOST,
        "the retried call succeeds"
    );
    assert_eq!(
        env.token_calls() - before,
        1,
        "exactly one refresh after the 401"
    );
    let log = env.sandbox.handle().request_log().to_string();
    assert!(
        log.contains("401"),
        "Graph really answered 401 first: {log}"
    );
}

#[tokio::test]
async fn a_revoked_refresh_token_asks_to_reconnect_and_marks_attention() {
    let mut env = Env::new(true).await;
    env.connect(&Browser::default()).await.expect("connect");
    env.sandbox
        .handle()
        .revoke_refresh_tokens(HOST)
        .expect("host exists");
    let s = integration::check(&mut env.store, env.tokens.clone())
        .await
        .expect("check runs");
    assert_eq!(
        s.state,
        ConnectionState::NeedsAttention,
        "revoked grant needs attention"
    );
    assert!(
        s.reasons
            .iter()
            .any(|r| r.contains("reconnect the host account") && r.contains("AADSTS50173")),
        "{:?}",
        s.reasons
    );
}

#[tokio::test]
async fn ninety_days_of_inactivity_asks_to_reconnect() {
    let mut env = Env::new(true).await;
    env.connect(&Browser::default()).await.expect("connect");
    env.sandbox.handle().advance_clock(91 * 24 * 3600);
    let session = integration::session(&env.store, env.tokens.clone()).expect("session");
    let err = session
        .tokens()
        .access_token()
        .await
        .expect_err("expired by inactivity");
    assert_eq!(err.code(), ErrorCode::ReconnectRequired, "{err}");
    assert!(err.to_string().contains("AADSTS700082"), "{err}");
}

#[tokio::test]
async fn an_unreachable_identity_platform_is_a_network_error() {
    let mut env = Env::new(true).await;
    env.connect(&Browser::default()).await.expect("connect");
    // The tenant's identity platform goes away (the sandbox stops; its port is closed).
    let gone = std::mem::replace(
        &mut env.sandbox,
        tsched_sandbox::Sandbox::spawn(Default::default())
            .await
            .expect("another sandbox"),
    );
    gone.shutdown().await;
    let s = integration::check(&mut env.store, env.tokens.clone())
        .await
        .expect("check runs");
    assert_eq!(
        s.state,
        ConnectionState::NeedsAttention,
        "refresh failure needs attention"
    );
    assert!(
        s.reasons
            .iter()
            .any(|r| r.contains("cannot reach the identity platform")),
        "{:?}",
        s.reasons
    );
}

#[tokio::test]
async fn remove_deletes_the_keyring_entry_and_keeps_an_audited_record() {
    let mut env = Env::new(true).await;
    env.connect(&Browser::default()).await.expect("connect");
    let removed = integration::remove(
        &mut env.store,
        env.tokens.as_ref(),
        &tsched_core::Actor::operator(HOST),
    )
    .expect("remove");
    assert!(
        removed
            .revoke_instructions
            .iter()
            .any(|l| l.contains("Enterprise applications")),
        "tells where to revoke consent"
    );
    assert!(env.tokens.is_empty(), "the keyring entry is gone");
    let s = integration::status(&env.store, env.tokens.as_ref()).expect("status");
    assert_eq!(
        s.state,
        ConnectionState::NotConnected,
        "removed = not connected"
    );
    assert!(!s.meetings_available, "Teams meetings become unavailable");
    assert!(s.removed_at.is_some(), "removal time kept");
    let audit = env
        .store
        .tables()
        .audit_list(&AuditFilter {
            action: Some("integration.remove".into()),
            ..Default::default()
        })
        .expect("audit");
    assert_eq!(audit.len(), 1, "removal audited");
    let again = integration::remove(
        &mut env.store,
        env.tokens.as_ref(),
        &tsched_core::Actor::operator(HOST),
    );
    assert!(
        matches!(again, Err(tsched_core::Error::NotConnected)),
        "removing twice says not connected"
    );
}

#[tokio::test]
async fn no_token_code_or_secret_reaches_the_database_or_the_audit_export() {
    let mut env = Env::new(true).await;
    let browser = Browser::default();
    env.connect(&browser).await.expect("connect");
    let mut secrets: Vec<String> = Vec::new();
    let cb = url::Url::parse(&browser.visited.lock().expect("lock")[0]).expect("callback URL");
    secrets.extend(
        cb.query_pairs()
            .filter(|(k, _)| k == "code" || k == "state")
            .map(|(_, v)| v.into_owned()),
    );
    secrets.push(refresh_token(&env));
    let session = integration::session(&env.store, env.tokens.clone()).expect("session");
    secrets.push(
        session
            .tokens()
            .access_token()
            .await
            .expect("token")
            .expose()
            .clone(),
    );
    secrets.push(refresh_token(&env));
    let outcome = session.verify().await;
    integration::record(&mut env.store, &outcome).expect("record");
    integration::remove(
        &mut env.store,
        env.tokens.as_ref(),
        &tsched_core::Actor::operator(HOST),
    )
    .expect("remove");
    let export = serde_json::to_string(
        &env.store
            .tables()
            .audit_list(&AuditFilter::default())
            .expect("audit"),
    )
    .expect("json");
    let status = serde_json::to_string(
        &integration::status(&env.store, env.tokens.as_ref()).expect("status"),
    )
    .expect("json");
    let db_path = env.store.path().to_path_buf();
    drop(std::mem::replace(
        &mut env.store,
        Store::open_in_memory().expect("mem"),
    ));
    let mut bytes = std::fs::read(&db_path).expect("db file");
    if let Ok(wal) = std::fs::read(db_path.with_extension("db-wal")) {
        bytes.extend(wal);
    }
    let hay = String::from_utf8_lossy(&bytes);
    for s in &secrets {
        assert!(s.len() > 10, "a real secret was captured");
        assert!(
            !hay.contains(s.as_str()),
            "the SQLite file must not contain a token/code/state"
        );
        assert!(
            !export.contains(s.as_str()),
            "the audit export must not contain a token/code/state"
        );
        assert!(
            !status.contains(s.as_str()),
            "the status JSON must not contain a token/code/state"
        );
    }
}

#[tokio::test]
async fn secret_service_stores_and_reads_the_refresh_token() {
    if std::env::var("TSCHED_TEST_SECRET_SERVICE").as_deref() != Ok("1") {
        eprintln!("skipped: set TSCHED_TEST_SECRET_SERVICE=1 inside an unlocked Secret Service session to run");
        return;
    }
    let store = tsched_core::auth::KeyringTokenStore::with_service("teams-scheduler-test");
    let account = format!("sandbox/{}/host", uuid::Uuid::new_v4());
    let secret = tsched_core::secret::Sensitive::new(format!("rt-{}", uuid::Uuid::new_v4()));
    store
        .set(&account, &secret)
        .expect("Secret Service stores the token");
    let read = store.get(&account).expect("read back").expect("present");
    assert_eq!(
        read.expose(),
        secret.expose(),
        "the same token comes back from the Secret Service"
    );
    let rotated = tsched_core::secret::Sensitive::new("rt-rotated".to_string());
    store.set(&account, &rotated).expect("replace");
    assert_eq!(
        store
            .get(&account)
            .expect("read")
            .expect("present")
            .expose(),
        "rt-rotated",
        "set replaces the old token"
    );
    store.delete(&account).expect("delete");
    assert!(
        store.get(&account).expect("read").is_none(),
        "deleted from the Secret Service"
    );
}

#[test]
fn redirect_setting_forms() {
    assert!(
        RedirectSpec::parse("http://localhost:0").is_ok(),
        "explicit port 0 is ephemeral"
    );
}

#[tokio::test]
async fn a_track_admin_cannot_connect_the_integration() {
    let mut env = Env::new(true).await;
    let admin = tsched_core::Actor::local();
    let op = |upn: &str| tsched_core::operators::NewOperator {
        upn: upn.into(),
        display_name: String::new(),
    };
    tsched_core::operators::add(&mut env.store, &admin, op("boss@contoso.example"))
        .expect("first operator");
    let boss = tsched_core::Actor::operator("boss@contoso.example");
    tsched_core::programs::add(
        &mut env.store,
        &boss,
        tsched_core::programs::NewProgram {
            name: "Engineering".into(),
            code: Some("eng".into()),
            description: None,
        },
    )
    .expect("program");
    tsched_core::operators::add(&mut env.store, &boss, op("track@contoso.example"))
        .expect("operator");
    tsched_core::operators::grant(
        &mut env.store,
        &boss,
        "track@contoso.example",
        tsched_core::access::Role::TrackAdmin,
        Some("eng"),
    )
    .expect("grant");
    let track = tsched_core::Actor::operator("track@contoso.example");
    let denied = integration::authorize(&env.store, &track);
    assert!(
        matches!(&denied, Err(e) if e.code() == ErrorCode::Denied),
        "a track admin may not manage the integration: {denied:?}"
    );
}

#[tokio::test]
async fn an_authority_rewritten_in_the_store_never_receives_the_host_refresh_token() {
    let mut env = Env::new(true).await;
    env.connect(&Browser::default()).await.expect("connect");
    let rt = refresh_token(&env);
    // Someone who can write the store but not read the keyring points it at their own server.
    let attacker = std::net::TcpListener::bind("127.0.0.1:0").expect("attacker listens");
    attacker.set_nonblocking(true).expect("nonblocking");
    let evil = format!("http://{}", attacker.local_addr().expect("addr"));
    env.store
        .conn()
        .execute(
            "UPDATE integration SET authority_base = ?1, graph_base = ?1 || '/v1.0'",
            [&evil],
        )
        .expect("rewrite");
    let tokens: Arc<dyn TokenStore> = env.tokens.clone();
    let checked = integration::check(&mut env.store, tokens).await;
    assert!(
        matches!(attacker.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the rewritten authority was contacted"
    );
    let status = checked.expect("a check with no token reports, it does not fail");
    assert_ne!(
        status.state,
        ConnectionState::Connected,
        "no token is found for another authority: {:?}",
        status.reasons
    );
    assert!(
        env.tokens.get(&account(&env)).expect("keyring").is_none(),
        "the keyring holds no token bound to the rewritten authority"
    );
    let kept = env.tokens.len();
    assert_eq!(
        kept, 1,
        "the host's token is still there, under its own authority"
    );
    assert!(!rt.is_empty(), "a refresh token was issued");
}

#[tokio::test]
async fn removing_the_integration_in_a_copied_data_directory_keeps_the_original_stores_token() {
    let mut env = Env::new(true).await;
    env.connect(&Browser::default()).await.expect("connect");
    // A copy of the data directory (a restored backup, a colleague's copy) on the same machine.
    let copy = tempfile::tempdir().expect("temp dir");
    let original = env.store.path().to_path_buf();
    env.store
        .conn()
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
        .expect("checkpoint");
    std::fs::copy(
        &original,
        copy.path().join(original.file_name().expect("name")),
    )
    .expect("copy the store");
    let mut copied = Store::open_in(copy.path()).expect("the copy opens");
    let in_copy = integration::status(&copied, env.tokens.as_ref()).expect("status");
    assert_ne!(
        in_copy.state,
        ConnectionState::Connected,
        "the copy finds no token of its own: {:?}",
        in_copy.reasons
    );
    integration::remove(
        &mut copied,
        env.tokens.as_ref(),
        &tsched_core::Actor::operator(HOST),
    )
    .expect("remove in the copy");
    let s = integration::status(&env.store, env.tokens.as_ref()).expect("status");
    assert_eq!(
        s.state,
        ConnectionState::Connected,
        "the original store still has its token after the copy removed its integration: {:?}",
        s.reasons
    );
}
