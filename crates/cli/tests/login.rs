//! `tsched login | whoami | logout` end to end with the real binary, a sandbox tenant over HTTP
//! and a private Secret Service: the first operator to sign in ends setup mode, later runs act as
//! them without `--as`, a stranger's sign-in is refused without disturbing the saved session,
//! and logout leaves the local user unable to act.

use std::path::Path;
use std::process::Output;

use serde_json::Value;
use tsched_sandbox::{Sandbox, SandboxConfig};

mod support;
use support::keyring::{connect_through_cli, private_keyring_or_skip, with_following_browser};
use support::Tsched;

const ADMIN: &str = "admin@contoso.example";
const STRANGER: &str = "adele.vance0@contoso.example";

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_string()
}

fn json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "command failed: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

/// `tsched login` against the sandbox as `account` (the sandbox approves automatically and
/// signs in the `login_hint` account).
async fn login(
    scratch: &Path,
    data: &Path,
    bus: &str,
    sandbox: &tsched_sandbox::RunningSandbox,
    account: &str,
) -> Output {
    let h = sandbox.handle();
    let args = [
        "login",
        "--tenant",
        &h.tenant_id(),
        "--client-id",
        &h.client_id(),
        "--sandbox",
        sandbox.base_url(),
        "--login-hint",
        account,
        "--timeout",
        "30",
        "--json",
    ];
    with_following_browser(scratch, data, bus, &args).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_ends_setup_mode_then_runs_act_as_the_operator_until_logout() {
    let Some(keyring) = private_keyring_or_skip() else {
        return;
    };
    let bus = keyring.address.clone();
    let sandbox = Sandbox::spawn(SandboxConfig {
        auto_consent: true,
        ..Default::default()
    })
    .await
    .expect("sandbox");
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let cli = Tsched::new(&data).bus(&bus);

    let who = json(&cli.run(&["whoami", "--json"]));
    assert_eq!(who["state"], "setup_mode", "a fresh store: {who}");
    let plain = cli.run(&["whoami"]);
    assert!(
        text(&plain.stdout).contains("Setup mode"),
        "and says so plainly: {}",
        text(&plain.stdout)
    );

    let out = login(dir.path(), &data, &bus, &sandbox, ADMIN).await;
    let info = json(&out);
    assert_eq!(info["upn"], ADMIN);
    assert_eq!(
        info["bootstrapped"], true,
        "the first sign-in ends setup mode"
    );
    assert_eq!(info["roles"], serde_json::json!(["global admin"]));
    assert!(
        text(&out.stderr).contains("Sign in with your own Microsoft account"),
        "progress names the operator sign-in: {}",
        text(&out.stderr)
    );

    let who = json(&cli.run(&["whoami", "--check", "--json"]));
    assert_eq!(
        (who["state"].as_str(), who["upn"].as_str()),
        (Some("signed_in"), Some(ADMIN)),
        "{who}"
    );
    assert_eq!(
        who["check"]["ok"], true,
        "the refresh token in the keyring works: {who}"
    );

    // Without --as, commands act as the signed-in operator; the audit names them.
    let out = cli.run(&["programs", "add", "Engineering", "--code", "eng"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let audit = json(&cli.run(&["audit", "--json"]));
    let rows = audit.as_array().expect("rows");
    let by = |action: &str| {
        rows.iter()
            .find(|r| r["action"] == action)
            .map(|r| r["operator"].as_str().unwrap_or_default().to_string())
    };
    assert_eq!(by("operator.bootstrap").as_deref(), Some(ADMIN));
    assert_eq!(by("program.create").as_deref(), Some(ADMIN));

    // Another OS user sharing this data directory has their own keyring, without ADMIN's token:
    // the saved session does not make them ADMIN.
    let other_user = private_keyring_or_skip().expect("a second private keyring");
    let out = Tsched::new(&data)
        .bus(&other_user.address)
        .run(&["programs", "list"]);
    assert_eq!(out.status.code(), Some(6), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("could not be proven") && text(&out.stderr).contains(ADMIN),
        "the session is refused without this user's keyring token: {}",
        text(&out.stderr)
    );

    // Setup mode is over: a sign-in to a sandbox needs the integration to be that sandbox (a
    // local sandbox seeded with someone's name must not sign anyone in as them). The admin,
    // acting through the proven session, connects it.
    let out = login(dir.path(), &data, &bus, &sandbox, ADMIN).await;
    assert_eq!(out.status.code(), Some(6), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("sandbox"),
        "says why: {}",
        text(&out.stderr)
    );
    connect_through_cli(dir.path(), &data, &keyring, &sandbox).await;

    // Someone who is not on the roster cannot sign in; the saved session stays.
    let out = login(dir.path(), &data, &bus, &sandbox, STRANGER).await;
    assert_eq!(out.status.code(), Some(6), "denied: {}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(STRANGER) && text(&out.stderr).contains("global admin"),
        "names the account and who can add them: {}",
        text(&out.stderr)
    );
    let who = json(&cli.run(&["whoami", "--json"]));
    assert_eq!(who["upn"], ADMIN, "the previous sign-in is kept");

    // Logout: the keyring entry and the session go; the local user may no longer act.
    let out = cli.run(&["logout"]);
    assert!(
        text(&out.stdout).contains(&format!("Signed out {ADMIN}")),
        "{}",
        text(&out.stdout)
    );
    let who = json(&cli.run(&["whoami", "--json"]));
    assert_eq!(who["state"], "signed_out", "{who}");
    let out = cli.run(&["programs", "list"]);
    assert_eq!(out.status.code(), Some(6), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("tsched login"),
        "says how to act again: {}",
        text(&out.stderr)
    );

    // Signing in again works and acts again.
    let info = json(&login(dir.path(), &data, &bus, &sandbox, ADMIN).await);
    assert_eq!(info["bootstrapped"], false, "no second bootstrap");
    let out = cli.run(&["programs", "list"]);
    assert!(
        out.status.success() && text(&out.stdout).contains("eng"),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}
