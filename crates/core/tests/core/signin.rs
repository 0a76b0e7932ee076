//! Operator sign-in and bootstrap against the sandbox over real HTTP: the first account to sign
//! in (an operator, or the host connecting the integration) becomes the first global admin;
//! later sign-ins are matched to the roster or refused; the CLI session keeps the operator's
//! refresh token in its own keyring entry, never in SQLite.

use std::sync::Arc;

use tsched_core::auth::TokenStore;
use tsched_core::integration::{self, ConnectionState};
use tsched_core::operators::{self, NewOperator};
use tsched_core::signin::{self, SignInRequest};
use tsched_core::{Actor, Error, ErrorCode};
use tsched_sandbox::SandboxConfig;

use crate::support::{host, Browser, Env};

const ADMIN: &str = "admin@contoso.example";
const MEMBER: &str = "adele.vance0@contoso.example";
const OTHER: &str = "zoe.odegard1@contoso.example";

/// A sandbox where the app is approved organization-wide (so any member may sign in), not
/// connected yet.
async fn env() -> Env {
    let env = Env::with(SandboxConfig {
        auto_consent: false,
        ..Default::default()
    })
    .await;
    let h = env.sandbox.handle().clone();
    h.grant_admin_consent(&h.client_id(), None);
    env
}

fn request(env: &Env) -> SignInRequest {
    let h = env.sandbox.handle();
    SignInRequest {
        tenant: Some(h.tenant_id()),
        cloud: Some(
            tsched_core::auth::Cloud::sandbox(env.sandbox.base_url()).expect("sandbox URL"),
        ),
        client_id: Some(h.client_id()),
        timeout: Some(std::time::Duration::from_secs(20)),
        ..Default::default()
    }
}

/// Signs `account` in through the sandbox's real sign-in page.
async fn sign_in_as(env: &Env, account: &str) -> Result<signin::SignedIn, Error> {
    let prepared = signin::prepare(&env.store, &request(env))?;
    let browser = Browser {
        host_account: Some(account.to_string()),
        ..Default::default()
    };
    signin::sign_in(
        &prepared,
        &browser.opener(),
        tsched_core::auth::CancelToken::never(),
        &|_| {},
    )
    .await
}

fn actions(env: &Env) -> Vec<(String, String)> {
    env.store
        .tables()
        .audit_list(&Default::default())
        .expect("audit")
        .into_iter()
        .rev()
        .map(|r| (r.action, r.operator))
        .collect()
}

fn sandbox_user_id(env: &Env, upn: &str) -> String {
    env.sandbox.handle().snapshot()["users"]
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u["userPrincipalName"].as_str() == Some(upn))
        .and_then(|u| u["id"].as_str())
        .expect("the seed has the user")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_operator_to_sign_in_becomes_global_admin_and_others_must_be_on_the_roster() {
    let mut env = env().await;
    assert!(operators::is_setup_mode(&env.store).expect("mode"));

    let signed = sign_in_as(&env, ADMIN).await.expect("sign-in");
    assert_eq!(
        signed.me().user_principal_name,
        ADMIN,
        "GET /me names the account that signed in"
    );
    let info = signin::complete(&mut env.store, signed).expect("bootstrap");
    assert!(info.bootstrapped, "the first sign-in ends setup mode");
    assert_eq!(info.upn, ADMIN);
    assert_eq!(info.roles, vec!["global admin".to_string()]);
    assert_eq!(
        info.object_id,
        sandbox_user_id(&env, ADMIN),
        "the directory object id is recorded"
    );
    assert!(!operators::is_setup_mode(&env.store).expect("mode"));
    let bootstrap: Vec<_> = actions(&env)
        .into_iter()
        .filter(|(a, _)| a == "operator.bootstrap")
        .collect();
    assert_eq!(
        bootstrap,
        vec![("operator.bootstrap".to_string(), ADMIN.to_string())],
        "audited once, naming the new admin"
    );

    // Setup mode is over and no integration is connected: a sign-in to a sandbox is refused
    // (a local sandbox seeded with a victim's name must not sign anyone in as them).
    let err = signin::prepare(&env.store, &request(&env)).expect_err("sandbox after setup");
    assert_eq!(err.code(), ErrorCode::Denied);
    assert!(err.to_string().contains("sandbox"), "says why: {err}");
    // The admin adds the host and connects this sandbox: operators now sign in to it.
    let admin = Actor::operator(ADMIN);
    let host_upn = env.sandbox.handle().host_upn().expect("host");
    operators::add(
        &mut env.store,
        &admin,
        NewOperator {
            upn: host_upn.clone(),
            display_name: String::new(),
        },
    )
    .expect("add host");
    operators::grant(
        &mut env.store,
        &admin,
        &host_upn,
        tsched_core::access::Role::GlobalAdmin,
        None,
    )
    .expect("grant host");
    env.connect(&Browser::default()).await.expect("connect");

    // Someone not on the roster is refused, and nothing is written.
    let before = actions(&env).len();
    let err = {
        let signed = sign_in_as(&env, MEMBER).await.expect("sign-in");
        signin::complete(&mut env.store, signed)
    }
    .expect_err("not an operator");
    assert_eq!(err.code(), ErrorCode::Denied);
    assert!(
        err.to_string().contains(MEMBER) && err.to_string().contains("global admin"),
        "the refusal names the account and who can fix it: {err}"
    );
    assert_eq!(actions(&env).len(), before, "a refusal writes no audit row");

    // Added by UPN, they sign in: matched, object id linked (audited), roles as granted.
    operators::add(
        &mut env.store,
        &admin,
        NewOperator {
            upn: MEMBER.into(),
            display_name: String::new(),
        },
    )
    .expect("add");
    operators::grant(
        &mut env.store,
        &admin,
        MEMBER,
        tsched_core::access::Role::Support,
        None,
    )
    .expect("grant");
    let info = {
        let signed = sign_in_as(&env, MEMBER).await.expect("sign-in");
        signin::complete(&mut env.store, signed)
    }
    .expect("matched");
    assert!(!info.bootstrapped);
    assert_eq!(info.roles, vec!["support".to_string()]);
    assert!(
        !info.display_name.is_empty(),
        "the display name comes from the directory"
    );
    assert_eq!(
        actions(&env).last().map(|(a, _)| a.as_str()),
        Some("operator.link"),
        "the first sign-in links the directory object"
    );

    // Deactivated: refused.
    operators::set_active(&mut env.store, &admin, MEMBER, false).expect("deactivate");
    let err = {
        let signed = sign_in_as(&env, MEMBER).await.expect("sign-in");
        signin::complete(&mut env.store, signed)
    }
    .expect_err("deactivated");
    assert_eq!(err.code(), ErrorCode::Denied);
    assert!(err.to_string().contains("deactivated"), "{err}");

    // A guest account is refused before the roster is even consulted.
    let guest = env.sandbox.handle().snapshot()["users"]
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u["userType"] == "Guest")
        .and_then(|u| u["userPrincipalName"].as_str())
        .expect("the seed has guests")
        .to_string();
    let err = sign_in_as(&env, &guest).await.expect_err("guest refused");
    assert_eq!(err.code(), ErrorCode::Denied);
    assert!(err.to_string().contains("guest"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connecting_as_the_host_in_setup_mode_makes_the_host_the_first_global_admin() {
    let mut env = env().await;
    let status = env.connect(&Browser::default()).await.expect("connect");
    let host_upn = env.sandbox.handle().host_upn().expect("host");
    assert_eq!(
        status.first_global_admin.as_deref(),
        Some(host_upn.as_str()),
        "the host that signed in is the first global admin"
    );
    let who = operators::whoami(&env.store, &host()).expect("host resolves");
    assert!(matches!(
        who.subject,
        tsched_core::access::Subject::Operator { ref grants } if grants.iter().any(|g| g.role == tsched_core::access::Role::GlobalAdmin)
    ));
    let acts = actions(&env);
    let connect_at = acts
        .iter()
        .position(|(a, _)| a == "integration.connect")
        .expect("connect audited");
    let boot_at = acts
        .iter()
        .position(|(a, o)| a == "operator.bootstrap" && o == &host_upn)
        .expect("bootstrap audited");
    assert!(connect_at < boot_at, "both rows, in order: {acts:?}");
    assert_eq!(
        Actor::local().operator_upn,
        None,
        "the local user is not an operator"
    );
    assert_eq!(
        operators::actor_for(&env.store, None)
            .expect_err("setup mode is over")
            .code(),
        ErrorCode::Denied
    );

    // A reconnect later does not bootstrap again.
    let again = env.connect(&Browser::default()).await.expect("reconnect");
    assert_eq!(again.first_global_admin, None);

    // Removing the operator who connected leaves the integration alone.
    operators::add(
        &mut env.store,
        &host(),
        NewOperator {
            upn: ADMIN.into(),
            display_name: String::new(),
        },
    )
    .expect("add admin");
    operators::grant(
        &mut env.store,
        &host(),
        ADMIN,
        tsched_core::access::Role::GlobalAdmin,
        None,
    )
    .expect("grant");
    operators::remove(&mut env.store, &Actor::operator(ADMIN), &host_upn).expect("remove host");
    let tokens: Arc<dyn TokenStore> = env.tokens.clone();
    let checked = integration::check(&mut env.store, tokens)
        .await
        .expect("check");
    assert_eq!(
        checked.state,
        ConnectionState::Connected,
        "the integration still works after its connector left the roster: {:?}",
        checked.reasons
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_session_keeps_its_own_keyring_entry_and_no_token_in_the_store() {
    let mut env = env().await;
    env.connect(&Browser::default()).await.expect("connect");
    operators::add(
        &mut env.store,
        &host(),
        NewOperator {
            upn: OTHER.into(),
            display_name: String::new(),
        },
    )
    .expect("add");
    let tokens = env.tokens.clone();
    let signed = sign_in_as(&env, OTHER).await.expect("sign-in");
    let info = signin::save_cli_session(&mut env.store, tokens.as_ref(), signed).expect("login");
    assert_eq!(info.upn, OTHER);
    let session = signin::cli_session(&env.store)
        .expect("read")
        .expect("saved");
    assert_eq!(session.upn, OTHER);
    let account = session.keyring_account.clone().expect("a token is kept");
    assert!(account.starts_with("operator/"), "{account}");
    assert_eq!(
        tokens.len(),
        2,
        "one entry for the host, one for the operator"
    );
    let refresh = tokens
        .get(&account)
        .expect("keyring")
        .expect("operator's refresh token");
    let arc_tokens: Arc<dyn TokenStore> = tokens.clone();
    assert_eq!(
        signin::cli_actor(&env.store, arc_tokens.clone(), None, false)
            .await
            .expect("proven")
            .operator_upn,
        Some(OTHER.to_string()),
        "later runs act as the signed-in operator, proven by a refresh"
    );

    // The refresh token is nowhere in the store's files.
    let dir = env.store.path().parent().expect("data dir").to_path_buf();
    for entry in std::fs::read_dir(&dir).expect("dir") {
        let path = entry.expect("entry").path();
        let bytes = std::fs::read(&path).expect("read");
        assert!(
            !bytes
                .windows(refresh.expose().len())
                .any(|w| w == refresh.expose().as_bytes()),
            "{} holds the operator's refresh token",
            path.display()
        );
    }

    // whoami --check: refresh + /me work, until the tenant revokes the operator's sessions.
    let store_tokens: Arc<dyn TokenStore> = tokens.clone();
    let ok = signin::verify_cli_session(&env.store, &session, store_tokens.clone()).await;
    assert!(ok.ok, "{:?}", ok.reason);
    env.sandbox
        .handle()
        .revoke_refresh_tokens(OTHER)
        .expect("user");
    let bad = signin::verify_cli_session(&env.store, &session, store_tokens).await;
    assert!(!bad.ok, "a revoked sign-in fails the check");
    assert!(
        bad.reason
            .as_deref()
            .is_some_and(|r| r.contains("tsched login")),
        "and says what to do: {:?}",
        bad.reason
    );

    // Logout forgets the session and the operator's token, never the host's.
    let gone = signin::logout(&mut env.store, tokens.as_ref()).expect("logout");
    assert_eq!(gone.map(|s| s.upn), Some(OTHER.to_string()));
    assert_eq!(signin::cli_session(&env.store).expect("read"), None);
    assert_eq!(tokens.len(), 1, "only the host's entry is left");
    assert_eq!(
        integration::status(&env.store, tokens.as_ref())
            .expect("status")
            .state,
        ConnectionState::Connected
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_to_another_tenant_than_the_connected_one_is_refused() {
    let mut env = env().await;
    env.connect(&Browser::default()).await.expect("connect");
    // The store says it is connected to some other tenant.
    env.store
        .conn()
        .execute(
            "UPDATE integration SET tenant_id = '11111111-2222-3333-4444-555555555555'",
            [],
        )
        .expect("update");
    let err = sign_in_as(&env, ADMIN).await.expect_err("other tenant");
    assert_eq!(err.code(), ErrorCode::Denied);
    assert!(
        err.to_string()
            .contains("11111111-2222-3333-4444-555555555555"),
        "{err}"
    );
}

#[tokio::test]
async fn without_a_connection_the_tenant_must_be_named() {
    let env = env().await;
    let err = signin::prepare(&env.store, &SignInRequest::default()).expect_err("no tenant");
    assert_eq!(err.code(), ErrorCode::InvalidInput);
    assert!(err.to_string().contains("tenant"), "{err}");
}

/// A session and roster for the proof tests: connected, OTHER on the roster and logged in.
async fn logged_in_other() -> (Env, signin::CliSession) {
    let mut env = env().await;
    env.connect(&Browser::default()).await.expect("connect");
    operators::add(
        &mut env.store,
        &host(),
        NewOperator {
            upn: OTHER.into(),
            display_name: String::new(),
        },
    )
    .expect("add");
    let signed = sign_in_as(&env, OTHER).await.expect("sign-in");
    let tokens = env.tokens.clone();
    signin::save_cli_session(&mut env.store, tokens.as_ref(), signed).expect("login");
    let session = signin::cli_session(&env.store)
        .expect("read")
        .expect("saved");
    (env, session)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_session_without_this_users_keyring_token_does_not_act() {
    let (env, session) = logged_in_other().await;
    // Another OS user sharing the data directory has their own (empty) keyring.
    let other_users_keyring: Arc<dyn TokenStore> =
        Arc::new(tsched_core::auth::MemoryTokenStore::default());
    let err = signin::cli_actor(&env.store, other_users_keyring, None, false)
        .await
        .expect_err("no token in this user's keyring");
    assert_eq!(err.code(), ErrorCode::Denied, "{err}");
    assert!(
        err.to_string().contains(&session.upn) && err.to_string().contains("tsched login"),
        "names whose sign-in and what to do: {err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_rewritten_in_the_store_to_name_an_admin_does_not_act_as_them() {
    let (env, session) = logged_in_other().await;
    let host_id: String = env
        .store
        .conn()
        .query_row("SELECT host_object_id FROM integration", [], |r| r.get(0))
        .expect("host id");
    let host_upn = env.sandbox.handle().host_upn().expect("host");
    let forged = signin::CliSession {
        upn: host_upn.clone(),
        object_id: host_id,
        ..session.clone()
    };
    env.store
        .conn()
        .execute(
            "UPDATE settings SET value = ?1 WHERE key = ?2",
            rusqlite::params![
                serde_json::to_string(&forged).expect("json"),
                signin::SETTING_CLI_SESSION
            ],
        )
        .expect("forge");
    let tokens: Arc<dyn TokenStore> = env.tokens.clone();
    let err = signin::cli_actor(&env.store, tokens, None, false)
        .await
        .expect_err("a forged session is not proven");
    assert_eq!(err.code(), ErrorCode::Denied, "{err}");
    assert!(err.to_string().contains(&host_upn), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn naming_an_operator_without_the_test_switch_is_refused_and_with_it_is_audited() {
    let (mut env, _) = logged_in_other().await;
    let host_upn = env.sandbox.handle().host_upn().expect("host");
    let tokens: Arc<dyn TokenStore> = env.tokens.clone();
    let err = signin::cli_actor(&env.store, tokens.clone(), Some(&host_upn), false)
        .await
        .expect_err("impersonation without the switch");
    assert_eq!(err.code(), ErrorCode::Denied, "{err}");
    assert!(
        err.to_string().contains("TSCHED_TEST_IMPERSONATION"),
        "{err}"
    );
    let actor = signin::cli_actor(&env.store, tokens, Some(&host_upn), true)
        .await
        .expect("switch on");
    assert_eq!(
        actor.impersonated_by,
        Some(Actor::local().label),
        "the real actor is the local user"
    );
    operators::add(
        &mut env.store,
        &actor,
        NewOperator {
            upn: "new.one@contoso.example".into(),
            display_name: String::new(),
        },
    )
    .expect("add as the impersonated admin");
    let row = env
        .store
        .tables()
        .audit_list(&Default::default())
        .expect("audit")
        .into_iter()
        .next()
        .expect("a row");
    assert_eq!(row.action, "operator.add");
    assert_eq!(
        row.operator, host_upn,
        "the row names the operator acted as"
    );
    assert_eq!(
        row.real_actor,
        Some(Actor::local().label),
        "and records who really acted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_sign_in_to_another_cloud_than_the_integrations_is_refused() {
    let mut env = env().await;
    env.connect(&Browser::default()).await.expect("connect");
    let rogue = tsched_sandbox::Sandbox::spawn(SandboxConfig::default())
        .await
        .expect("a second, rogue sandbox");
    for asked in [
        tsched_core::auth::Cloud::sandbox(rogue.base_url()).expect("url"),
        tsched_core::auth::Cloud::Global,
    ] {
        let req = SignInRequest {
            cloud: Some(asked.clone()),
            ..request(&env)
        };
        let err = signin::prepare(&env.store, &req).expect_err("another cloud");
        assert_eq!(err.code(), ErrorCode::Denied, "{asked}: {err}");
        assert!(
            err.to_string().contains("integration's cloud"),
            "{asked}: {err}"
        );
    }
    let own = signin::prepare(
        &env.store,
        &SignInRequest {
            cloud: None,
            ..request(&env)
        },
    )
    .expect("the integration's own cloud");
    assert_eq!(
        own.tenant(),
        env.sandbox.handle().tenant_id(),
        "signs in to the integration's tenant"
    );
}
