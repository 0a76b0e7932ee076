//! Identity platform rules: authorize page, consent, PKCE, codes, refresh, revocation.

use super::common::*;
use tsched_sandbox::seed::{DEFAULT_ADMIN_UPN, DEFAULT_HOST_UPN};

const MEMBER: &str = "adele.vance0@contoso.example";

#[tokio::test]
async fn auto_consent_host_sign_in_runs_end_to_end() {
    let sb = spawn(true).await;
    let tokens = sign_in_auto(&sb, DEFAULT_HOST_UPN).await;
    for field in [
        "token_type",
        "scope",
        "expires_in",
        "ext_expires_in",
        "access_token",
        "refresh_token",
        "id_token",
    ] {
        assert!(
            tokens.get(field).is_some(),
            "token response must carry {field} (openid+offline_access asked)"
        );
    }
    let me: serde_json::Value = http()
        .get(format!("{}/me", sb.graph_base_url()))
        .header("Authorization", bearer(&tokens))
        .send()
        .await
        .expect("GET /me")
        .json()
        .await
        .expect("json");
    assert_eq!(
        me["userPrincipalName"], DEFAULT_HOST_UPN,
        "the host account signed in"
    );
    assert_eq!(
        me["displayName"], "Teams Scheduler",
        "host display name is documented"
    );
}

#[tokio::test]
async fn member_without_grant_gets_consent_required() {
    let sb = spawn(false).await;
    let p = pkce();
    let (html, txn) = open_page(&authorize_url(&sb, "common", &p, REDIRECT, SCOPES, &[])).await;
    for id in [
        "id=\"account\"",
        "id=\"accept\"",
        "id=\"cancel\"",
        "id=\"account-0\"",
    ] {
        assert!(
            html.contains(id),
            "the page must expose stable element {id} for WebDriver"
        );
    }
    assert!(
        html.contains("OnlineMeetings.ReadWrite"),
        "the page lists requested permissions"
    );
    let (status, q) = submit(
        &sb,
        "/common/oauth2/v2.0/authorize",
        &txn,
        MEMBER,
        "accept",
        false,
    )
    .await;
    assert_eq!(status, 302, "consent errors are redirected to the app");
    assert_eq!(
        param(&q, "error"),
        Some("consent_required"),
        "no admin grant and user consent disallowed"
    );
    assert!(
        param(&q, "error_description").is_some_and(|d| d.starts_with("AADSTS65001")),
        "AADSTS65001 expected: {q:?}"
    );
    assert_eq!(
        param(&q, "state"),
        Some("st-123"),
        "state must be carried back untouched"
    );
    assert!(param(&q, "code").is_none(), "no code without consent");
}

#[tokio::test]
async fn admin_consenting_for_org_lets_members_sign_in() {
    let sb = spawn(false).await;
    let p = pkce();
    let (_, txn) = open_page(&authorize_url(
        &sb,
        sb.handle().tenant_id().as_str(),
        &p,
        REDIRECT,
        SCOPES,
        &[],
    ))
    .await;
    let (_, q) = submit(
        &sb,
        "/common/oauth2/v2.0/authorize",
        &txn,
        DEFAULT_ADMIN_UPN,
        "accept",
        true,
    )
    .await;
    assert!(
        param(&q, "code").is_some(),
        "an admin accepting for the org gets a code: {q:?}"
    );
    let p2 = pkce();
    let (_, txn2) = open_page(&authorize_url(
        &sb,
        "organizations",
        &p2,
        REDIRECT,
        SCOPES,
        &[],
    ))
    .await;
    let (_, q2) = submit(
        &sb,
        "/organizations/oauth2/v2.0/authorize",
        &txn2,
        MEMBER,
        "accept",
        false,
    )
    .await;
    let code = param(&q2, "code").expect("after an org-wide grant a member gets a code");
    let (status, body) = redeem(&sb, code, &p2, REDIRECT).await;
    assert_eq!(status, 200, "member redemption must work: {body}");
}

#[tokio::test]
async fn cancel_redirects_access_denied_with_subcode() {
    let sb = spawn(false).await;
    let p = pkce();
    let (_, txn) = open_page(&authorize_url(&sb, "common", &p, REDIRECT, SCOPES, &[])).await;
    let (status, q) = submit(
        &sb,
        "/common/oauth2/v2.0/authorize",
        &txn,
        MEMBER,
        "cancel",
        false,
    )
    .await;
    assert_eq!(status, 302, "cancel redirects to the app");
    assert_eq!(
        param(&q, "error"),
        Some("access_denied"),
        "cancel is access_denied"
    );
    assert_eq!(
        param(&q, "error_subcode"),
        Some("cancel"),
        "cancel carries error_subcode=cancel"
    );
    assert_eq!(
        param(&q, "state"),
        Some("st-123"),
        "state carried back on errors too"
    );
}

#[tokio::test]
async fn unregistered_redirect_uri_gets_error_page_not_redirect() {
    let sb = spawn(true).await;
    let p = pkce();
    for bad in [
        "http://evil.example/",
        "http://localhost:53123/callback",
        "https://localhost:53123/",
    ] {
        let resp = http()
            .get(authorize_url(&sb, "common", &p, bad, SCOPES, &[]))
            .send()
            .await
            .expect("GET");
        assert_eq!(
            resp.status(),
            400,
            "Microsoft never redirects to an unregistered redirect_uri ({bad})"
        );
        assert!(
            resp.headers().get("location").is_none(),
            "no Location for {bad}"
        );
        assert!(
            resp.text().await.expect("html").contains("AADSTS50011"),
            "error page names AADSTS50011"
        );
    }
}

#[tokio::test]
async fn loopback_redirect_port_is_ignored() {
    let sb = spawn(true).await;
    for uri in [
        "http://localhost:1234",
        "http://localhost:61000/",
        "http://localhost/",
    ] {
        let p = pkce();
        let resp = http()
            .get(authorize_url(
                &sb,
                "common",
                &p,
                uri,
                SCOPES,
                &[("login_hint", DEFAULT_HOST_UPN)],
            ))
            .send()
            .await
            .expect("GET");
        assert_eq!(
            resp.status(),
            302,
            "registered http://localhost matches {uri} (port ignored)"
        );
        let loc = resp.headers()["location"]
            .to_str()
            .expect("ascii")
            .to_owned();
        let port = url::Url::parse(uri).expect("url").port();
        assert_eq!(
            url::Url::parse(&loc).expect("url").port(),
            port,
            "redirect goes back to the requested port"
        );
    }
}

#[tokio::test]
async fn pkce_mismatch_reused_code_and_wrong_redirect_are_invalid_grant() {
    let sb = spawn(true).await;
    let p = pkce();
    let resp = http()
        .get(authorize_url(
            &sb,
            "common",
            &p,
            REDIRECT,
            SCOPES,
            &[("login_hint", DEFAULT_HOST_UPN)],
        ))
        .send()
        .await
        .expect("GET");
    let q = location(&resp);
    let code = param(&q, "code").expect("code").to_owned();
    let wrong = pkce();
    let (s, b) = redeem(&sb, &code, &wrong, REDIRECT).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (400, Some("invalid_grant")),
        "PKCE mismatch is invalid_grant"
    );
    assert_eq!(
        b["error_codes"][0], 501481,
        "AADSTS501481: verifier does not match challenge"
    );
    for f in [
        "error_description",
        "timestamp",
        "trace_id",
        "correlation_id",
    ] {
        assert!(b.get(f).is_some(), "token errors carry {f}");
    }
    let (s, b) = redeem(&sb, &code, &p, "http://localhost:53124/").await;
    assert_eq!(
        (s, b["error_codes"][0].as_u64()),
        (400, Some(50011)),
        "redirect_uri must be the one used for the code: {b}"
    );
    let (s, _) = redeem(&sb, &code, &p, REDIRECT).await;
    assert_eq!(s, 200, "failed attempts do not consume the code");
    let (s, b) = redeem(&sb, &code, &p, REDIRECT).await;
    assert_eq!(
        (s, b["error_codes"][0].as_u64()),
        (400, Some(54005)),
        "a code is single use (AADSTS54005): {b}"
    );
}

#[tokio::test]
async fn code_expires_after_ten_minutes() {
    let sb = spawn(true).await;
    let p = pkce();
    let resp = http()
        .get(authorize_url(
            &sb,
            "common",
            &p,
            REDIRECT,
            SCOPES,
            &[("login_hint", DEFAULT_HOST_UPN)],
        ))
        .send()
        .await
        .expect("GET");
    let code = param(&location(&resp), "code").expect("code").to_owned();
    sb.handle().advance_clock(601);
    let (s, b) = redeem(&sb, &code, &p, REDIRECT).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (400, Some("invalid_grant")),
        "expired code must fail: {b}"
    );
}

#[tokio::test]
async fn refresh_rotates_and_revocation_and_inactivity_fail() {
    let sb = spawn(true).await;
    let tokens = sign_in_auto(&sb, DEFAULT_HOST_UPN).await;
    let cid = sb.handle().client_id();
    let rt1 = tokens["refresh_token"].as_str().expect("rt").to_owned();
    let (s, b) = token(
        &sb,
        &[
            ("client_id", &cid),
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt1),
        ],
    )
    .await;
    assert_eq!(s, 200, "refresh works: {b}");
    let rt2 = b["refresh_token"]
        .as_str()
        .expect("a new refresh token each time")
        .to_owned();
    assert_ne!(rt1, rt2, "refresh tokens rotate");
    let (s, _) = token(
        &sb,
        &[
            ("client_id", &cid),
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt1),
        ],
    )
    .await;
    assert_eq!(s, 200, "the old refresh token keeps working until revoked");
    sb.handle()
        .revoke_refresh_tokens(DEFAULT_HOST_UPN)
        .expect("known user");
    let (s, b) = token(
        &sb,
        &[
            ("client_id", &cid),
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt2),
        ],
    )
    .await;
    assert_eq!(
        (s, b["error_codes"][0].as_u64()),
        (400, Some(50173)),
        "revoked → invalid_grant AADSTS50173: {b}"
    );
    let fresh = sign_in_auto(&sb, DEFAULT_HOST_UPN).await;
    sb.handle().update_knobs(|k| k.refresh_inactivity_secs = 60);
    sb.handle().advance_clock(120);
    let rt3 = fresh["refresh_token"].as_str().expect("rt");
    let (s, b) = token(
        &sb,
        &[
            ("client_id", &cid),
            ("grant_type", "refresh_token"),
            ("refresh_token", rt3),
        ],
    )
    .await;
    assert_eq!(
        (s, b["error_codes"][0].as_u64()),
        (400, Some(700082)),
        "inactive past lifetime → AADSTS700082: {b}"
    );
}

#[tokio::test]
async fn mfa_knob_gives_interaction_required() {
    let sb = spawn(true).await;
    let tokens = sign_in_auto(&sb, DEFAULT_HOST_UPN).await;
    sb.handle().update_knobs(|k| k.mfa_required = true);
    let cid = sb.handle().client_id();
    let rt = tokens["refresh_token"].as_str().expect("rt");
    let (s, b) = token(
        &sb,
        &[
            ("client_id", &cid),
            ("grant_type", "refresh_token"),
            ("refresh_token", rt),
        ],
    )
    .await;
    assert_eq!(
        (s, b["error"].as_str()),
        (400, Some("interaction_required")),
        "MFA knob → interaction_required"
    );
    assert_eq!(b["error_codes"][0], 50076, "AADSTS50076 for MFA");
}

fn admin_consent_url(sb: &tsched_sandbox::RunningSandbox, tenant: &str) -> String {
    let mut u =
        url::Url::parse(&format!("{}/{tenant}/v2.0/adminconsent", sb.base_url())).expect("url");
    u.query_pairs_mut()
        .append_pair("client_id", &sb.handle().client_id())
        .append_pair("scope", "https://graph.microsoft.com/.default")
        .append_pair("redirect_uri", "http://localhost:53123/")
        .append_pair("state", "12345");
    u.to_string()
}

#[tokio::test]
async fn admin_consent_by_non_admin_fails_and_by_admin_grants() {
    let sb = spawn(false).await;
    let tid = sb.handle().tenant_id();
    let (_, txn) = open_page(&admin_consent_url(&sb, &tid)).await;
    let (status, q) = submit(
        &sb,
        &format!("/{tid}/v2.0/adminconsent"),
        &txn,
        MEMBER,
        "accept",
        false,
    )
    .await;
    assert_eq!(status, 302, "non-admin outcome is redirected");
    assert_eq!(
        param(&q, "admin_consent"),
        Some("True"),
        "error redirects still carry admin_consent=True"
    );
    assert_eq!(
        param(&q, "error"),
        Some("consent_required"),
        "a non-admin cannot grant: {q:?}"
    );
    let (_, txn) = open_page(&admin_consent_url(&sb, "contoso.example")).await;
    let (_, q) = submit(
        &sb,
        "/contoso.example/v2.0/adminconsent",
        &txn,
        DEFAULT_ADMIN_UPN,
        "accept",
        false,
    )
    .await;
    assert_eq!(
        param(&q, "admin_consent"),
        Some("True"),
        "admin grants: {q:?}"
    );
    assert_eq!(
        param(&q, "tenant"),
        Some(tid.as_str()),
        "tenant GUID is returned"
    );
    assert_eq!(param(&q, "state"), Some("12345"), "state echoed");
    assert!(
        param(&q, "code").is_none(),
        "admin consent never returns a code"
    );
    let resp = http()
        .get(admin_consent_url(&sb, "common"))
        .send()
        .await
        .expect("GET");
    assert_eq!(resp.status(), 400, "adminconsent refuses the common tenant");
    // Now a member can sign in.
    let p = pkce();
    let (_, txn) = open_page(&authorize_url(&sb, "common", &p, REDIRECT, SCOPES, &[])).await;
    let (_, q) = submit(
        &sb,
        "/common/oauth2/v2.0/authorize",
        &txn,
        MEMBER,
        "accept",
        false,
    )
    .await;
    assert!(
        param(&q, "code").is_some(),
        "after admin consent members get codes: {q:?}"
    );
}

#[tokio::test]
async fn pkce_is_required() {
    let sb = spawn(true).await;
    let url = format!(
        "{}/common/oauth2/v2.0/authorize?client_id={}&response_type=code&redirect_uri=http%3A%2F%2Flocalhost%3A5000&scope=User.Read&state=s",
        sb.base_url(),
        sb.handle().client_id()
    );
    let resp = http().get(url).send().await.expect("GET");
    let q = location(&resp);
    assert_eq!(
        param(&q, "error"),
        Some("invalid_request"),
        "no code_challenge → invalid_request"
    );
}

#[tokio::test]
async fn a_dns_rebound_page_cannot_reach_the_control_api_to_mint_tokens() {
    let sb = spawn(true).await;
    let url = format!("{}/_sandbox/tokens", sb.base_url());
    let body = serde_json::json!({ "upn": DEFAULT_HOST_UPN });
    // A page of evil.example whose name now resolves to 127.0.0.1 sends its own Host.
    let rebound = http()
        .post(&url)
        .header("Host", "evil.example:80")
        .json(&body)
        .send()
        .await
        .expect("request");
    assert_eq!(
        rebound.status().as_u16(),
        403,
        "the control API refuses a non-loopback Host"
    );
    let state = http()
        .get(format!("{}/_sandbox/state", sb.base_url()))
        .header("Host", "attacker.test")
        .send()
        .await
        .expect("request");
    assert_eq!(state.status().as_u16(), 403, "state dump refused too");
    let local = http()
        .get(format!("{}/_sandbox/state", sb.base_url()))
        .send()
        .await
        .expect("request");
    assert_eq!(
        local.status().as_u16(),
        200,
        "addressed to 127.0.0.1 it answers"
    );
}
