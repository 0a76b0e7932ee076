//! Helpers shared by the integration tests: spawning, PKCE, driving the sign-in page.

use base64::Engine as _;
use reqwest::redirect::Policy;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tsched_sandbox::{RunningSandbox, Sandbox, SandboxConfig};

pub const REDIRECT: &str = "http://localhost:53123/";
pub const SCOPES: &str =
    "openid profile offline_access User.Read User.ReadBasic.All OnlineMeetings.ReadWrite";

pub async fn spawn(auto_consent: bool) -> RunningSandbox {
    Sandbox::spawn(SandboxConfig {
        auto_consent,
        ..Default::default()
    })
    .await
    .expect("sandbox must start on 127.0.0.1:0")
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .expect("client")
}

pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

pub fn pkce() -> Pkce {
    let verifier = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));
    Pkce {
        verifier,
        challenge,
    }
}

pub fn authorize_url(
    sb: &RunningSandbox,
    tenant: &str,
    pkce: &Pkce,
    redirect: &str,
    scope: &str,
    extra: &[(&str, &str)],
) -> String {
    let mut u =
        url::Url::parse(&format!("{}/{tenant}/oauth2/v2.0/authorize", sb.base_url())).expect("url");
    {
        let mut q = u.query_pairs_mut();
        q.append_pair("client_id", &sb.handle().client_id())
            .append_pair("response_type", "code")
            .append_pair("redirect_uri", redirect)
            .append_pair("response_mode", "query")
            .append_pair("scope", scope)
            .append_pair("state", "st-123")
            .append_pair("code_challenge", &pkce.challenge)
            .append_pair("code_challenge_method", "S256");
        for (k, v) in extra {
            q.append_pair(k, v);
        }
    }
    u.to_string()
}

/// Query pairs of a 302's Location.
pub fn location(resp: &reqwest::Response) -> Vec<(String, String)> {
    let loc = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("a redirect must carry Location");
    url::Url::parse(loc)
        .expect("Location must be absolute")
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

pub fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// GETs the sign-in page and returns (page html, txn).
pub async fn open_page(url: &str) -> (String, String) {
    let resp = http().get(url).send().await.expect("GET authorize");
    assert_eq!(
        resp.status(),
        200,
        "without auto-consent the sign-in page must be shown"
    );
    let html = resp.text().await.expect("html");
    let start = html
        .find("name=\"txn\" value=\"")
        .expect("page must carry a txn field")
        + 18;
    let end = start + html[start..].find('"').expect("txn end");
    let txn = html[start..end].to_owned();
    (html, txn)
}

/// Posts the page's form; returns the redirect's query pairs.
pub async fn submit(
    sb: &RunningSandbox,
    path: &str,
    txn: &str,
    account: &str,
    action: &str,
    consent_org: bool,
) -> (u16, Vec<(String, String)>) {
    let mut form = vec![
        ("txn", txn.to_owned()),
        ("account", account.to_owned()),
        ("action", action.to_owned()),
    ];
    if consent_org {
        form.push(("consent_org", "true".to_owned()));
    }
    let resp = http()
        .post(format!("{}{path}", sb.base_url()))
        .form(&form)
        .send()
        .await
        .expect("POST page");
    let status = resp.status().as_u16();
    let pairs = if status == 302 {
        location(&resp)
    } else {
        Vec::new()
    };
    (status, pairs)
}

pub async fn token(sb: &RunningSandbox, form: &[(&str, &str)]) -> (u16, Value) {
    let resp = http()
        .post(format!(
            "{}/{}/oauth2/v2.0/token",
            sb.base_url(),
            sb.handle().tenant_id()
        ))
        .form(form)
        .send()
        .await
        .expect("POST token");
    let status = resp.status().as_u16();
    (
        status,
        resp.json().await.expect("token endpoint answers JSON"),
    )
}

pub async fn redeem(sb: &RunningSandbox, code: &str, pkce: &Pkce, redirect: &str) -> (u16, Value) {
    let cid = sb.handle().client_id();
    token(
        sb,
        &[
            ("client_id", cid.as_str()),
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect),
            ("code_verifier", pkce.verifier.as_str()),
            ("scope", SCOPES),
        ],
    )
    .await
}

/// Full auto-consent sign-in as `upn`; returns the token response.
pub async fn sign_in_auto(sb: &RunningSandbox, upn: &str) -> Value {
    let p = pkce();
    let url = authorize_url(
        sb,
        "organizations",
        &p,
        REDIRECT,
        SCOPES,
        &[("login_hint", upn)],
    );
    let resp = http().get(url).send().await.expect("GET authorize");
    assert_eq!(resp.status(), 302, "auto-consent redirects at once");
    let pairs = location(&resp);
    let code = param(&pairs, "code")
        .expect("auto-consent must yield a code")
        .to_owned();
    let (status, body) = redeem(sb, &code, &p, REDIRECT).await;
    assert_eq!(status, 200, "code redemption must succeed: {body}");
    body
}

pub fn bearer(tokens: &Value) -> String {
    format!(
        "Bearer {}",
        tokens["access_token"].as_str().expect("access_token")
    )
}

/// Mints a token for Graph tests (control API shortcut).
pub fn mint(sb: &RunningSandbox, upn: &str, scopes: Option<&[&str]>) -> String {
    let t = sb
        .handle()
        .mint_tokens(upn, scopes, None)
        .expect("known user");
    bearer(&t)
}

pub fn contract(name: &str) -> Value {
    let path = format!("{}/tests/contract/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("contract file must be present");
    serde_json::from_str(&text).expect("contract file is JSON")
}
