//! OpenID Connect metadata, signed tokens and TLS (issue 21): what MSAL and other OIDC
//! libraries read before and after a sign-in, replayed against the documented shapes in
//! tests/contract/identity-openid-configuration.json, identity-instance-discovery.json and
//! identity-id-token-claims.json.

use base64::Engine as _;
use serde_json::Value;
use tsched_sandbox::{Sandbox, SandboxConfig};

use super::common::*;

fn b64json(part: &str) -> Value {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .expect("JWT parts are base64url without padding");
    serde_json::from_slice(&bytes).expect("JWT header and payload are JSON")
}

async fn get_json(client: &reqwest::Client, url: &str) -> (u16, Value) {
    let resp = client.get(url).send().await.expect("GET");
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("JSON body"))
}

/// Verifies a compact JWS (RS256) against a JWKS; returns the payload.
fn verify_rs256(jwt: &str, jwks: &Value) -> Value {
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3, "a signed JWT has three parts");
    let header = b64json(parts[0]);
    assert_eq!(header["alg"], "RS256", "Microsoft signs RS256");
    assert_eq!(
        header["typ"], "JWT",
        "typ is always JWT (id-token-claims-reference)"
    );
    let kid = header["kid"].as_str().expect("the header names its key");
    let key = jwks["keys"]
        .as_array()
        .expect("keys array")
        .iter()
        .find(|k| k["kid"] == kid)
        .unwrap_or_else(|| panic!("the token's kid {kid} must be in the JWKS"));
    assert_eq!(key["kty"], "RSA", "RSA key");
    assert_eq!(key["use"], "sig", "signing key");
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let n = b64
        .decode(key["n"].as_str().expect("n"))
        .expect("n is base64url");
    let e = b64
        .decode(key["e"].as_str().expect("e"))
        .expect("e is base64url");
    let sig = b64.decode(parts[2]).expect("signature is base64url");
    ring::signature::RsaPublicKeyComponents { n: &n, e: &e }
        .verify(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            format!("{}.{}", parts[0], parts[1]).as_bytes(),
            &sig,
        )
        .expect("the RS256 signature must verify with the JWKS key");
    b64json(parts[1])
}

#[tokio::test]
async fn tls_sandbox_is_reachable_only_by_clients_that_trust_its_ca() {
    let sb = Sandbox::spawn(SandboxConfig {
        tls: true,
        ..Default::default()
    })
    .await
    .expect("a TLS sandbox starts");
    assert!(
        sb.base_url().starts_with("https://127.0.0.1:"),
        "--tls makes base_url https: {}",
        sb.base_url()
    );
    let ca_file = sb
        .ca_file()
        .expect("a TLS sandbox writes its CA")
        .to_owned();
    let pem = std::fs::read_to_string(&ca_file).expect("the CA file is readable");
    assert!(
        pem.starts_with("-----BEGIN CERTIFICATE-----"),
        "the CA file is a PEM certificate"
    );
    let trusting = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).expect("PEM parses"))
        .build()
        .expect("client");
    let tid = sb.handle().tenant_id();
    for host in ["127.0.0.1", "localhost"] {
        let port = sb.base_url().rsplit(':').next().expect("port");
        let url = format!("https://{host}:{port}/{tid}/v2.0/.well-known/openid-configuration");
        let (status, doc) = get_json(&trusting, &url).await;
        assert_eq!(status, 200, "the certificate covers {host}");
        assert!(
            doc["issuer"]
                .as_str()
                .is_some_and(|i| i.starts_with("https://")),
            "the issuer is https when serving TLS: {}",
            doc["issuer"]
        );
    }
    let untrusting = reqwest::Client::new();
    let err = untrusting
        .get(format!("{}/_sandbox/knobs", sb.base_url()))
        .send()
        .await
        .expect_err("a client that does not trust the sandbox CA must refuse the certificate");
    assert!(err.is_connect(), "a TLS verification failure: {err}");
    drop(sb);
    assert!(
        !ca_file.exists(),
        "the temp CA file goes away with the sandbox"
    );
}

#[tokio::test]
async fn plain_http_stays_the_default() {
    let sb = spawn(false).await;
    assert!(
        sb.base_url().starts_with("http://"),
        "no --tls, no TLS: {}",
        sb.base_url()
    );
    assert!(sb.ca_file().is_none(), "no CA without TLS");
}

#[tokio::test]
async fn discovery_document_for_each_tenant_form() {
    let sb = spawn(false).await;
    let base = sb.base_url().to_owned();
    let tid = sb.handle().tenant_id();
    for (segment, prefix, issuer) in [
        (
            tid.clone(),
            format!("{base}/{tid}"),
            format!("{base}/{tid}/v2.0"),
        ),
        (
            "contoso.example".to_owned(),
            format!("{base}/{tid}"),
            format!("{base}/{tid}/v2.0"),
        ),
        (
            "common".to_owned(),
            format!("{base}/common"),
            format!("{base}/{{tenantid}}/v2.0"),
        ),
        (
            "organizations".to_owned(),
            format!("{base}/organizations"),
            format!("{base}/{{tenantid}}/v2.0"),
        ),
    ] {
        let url = format!("{base}/{segment}/v2.0/.well-known/openid-configuration");
        let (status, doc) = get_json(&http(), &url).await;
        assert_eq!(status, 200, "discovery for {segment}");
        assert_eq!(doc["issuer"], issuer, "issuer for {segment}");
        for (key, path) in [
            ("authorization_endpoint", "/oauth2/v2.0/authorize"),
            ("token_endpoint", "/oauth2/v2.0/token"),
            ("jwks_uri", "/discovery/v2.0/keys"),
        ] {
            assert_eq!(doc[key], format!("{prefix}{path}"), "{key} for {segment}");
        }
        assert_eq!(
            doc["id_token_signing_alg_values_supported"],
            serde_json::json!(["RS256"]),
            "RS256 only"
        );
        let (status, jwks) = get_json(&http(), doc["jwks_uri"].as_str().expect("jwks_uri")).await;
        assert_eq!(status, 200, "jwks_uri answers for {segment}");
        assert_eq!(
            jwks["keys"].as_array().map(Vec::len),
            Some(1),
            "one signing key"
        );
    }
    let (status, err) = get_json(
        &http(),
        &format!("{base}/fabrikam.example/v2.0/.well-known/openid-configuration"),
    )
    .await;
    assert_eq!(status, 400, "unknown tenant");
    assert_eq!(
        err["error_codes"],
        serde_json::json!([90002]),
        "AADSTS90002: {err}"
    );
}

/// The documented sample response: every key it shows is in ours, with the same URL shape once
/// Microsoft's host is our base URL.
#[tokio::test]
async fn contract_openid_configuration_matches_the_documented_sample() {
    let sb = spawn(false).await;
    let c = contract("identity-openid-configuration.json");
    let documented = c["exchange"]["response"]["body"]
        .as_object()
        .expect("documented body");
    let path = c["exchange"]["request"]["path"].as_str().expect("path");
    let (status, ours) = get_json(&http(), &format!("{}{path}", sb.base_url())).await;
    assert_eq!(status, 200, "the documented request works as documented");
    for (key, value) in documented {
        let mine = &ours[key.as_str()];
        match value {
            Value::String(s) if s.starts_with("https://login.microsoftonline.com/") => {
                let expected = s
                    .replace("https://login.microsoftonline.com", sb.base_url())
                    .replace("{tenant}", "common");
                assert_eq!(
                    mine,
                    &Value::String(expected),
                    "{key} keeps the documented path"
                );
            }
            Value::String(_) => assert!(mine.is_string(), "{key} is a string"),
            Value::Array(items) => {
                for item in items {
                    assert!(
                        mine.as_array().is_some_and(|a| a.contains(item)),
                        "{key} includes the documented {item}"
                    );
                }
            }
            other => assert_eq!(mine, other, "{key}"),
        }
    }
    let template = c["multi_tenant_issuer_template"]
        .as_str()
        .expect("template");
    assert_eq!(
        ours["issuer"],
        template.replace("https://login.microsoftonline.com", sb.base_url()),
        "common's issuer is the {{tenantid}} template"
    );
}

#[tokio::test]
async fn id_and_access_tokens_are_signed_with_the_published_key_and_carry_the_documented_claims() {
    let sb = spawn(true).await;
    let base = sb.base_url().to_owned();
    let tid = sb.handle().tenant_id();
    let cid = sb.handle().client_id();
    let upn = sb.handle().host_upn().expect("host");
    let p = pkce();
    let url = authorize_url(
        &sb,
        &tid,
        &p,
        REDIRECT,
        SCOPES,
        &[("login_hint", upn.as_str()), ("nonce", "n-0S6_WzA2Mj")],
    );
    let resp = http().get(url).send().await.expect("authorize");
    assert_eq!(resp.status(), 302, "auto-consent redirects");
    let pairs = location(&resp);
    let code = param(&pairs, "code").expect("code").to_owned();
    let (status, tokens) = redeem(&sb, &code, &p, REDIRECT).await;
    assert_eq!(status, 200, "redeemed: {tokens}");

    let (_, doc) = get_json(
        &http(),
        &format!("{base}/{tid}/v2.0/.well-known/openid-configuration"),
    )
    .await;
    let (_, jwks) = get_json(&http(), doc["jwks_uri"].as_str().expect("jwks_uri")).await;
    let id = verify_rs256(tokens["id_token"].as_str().expect("id_token"), &jwks);
    let spec = contract("identity-id-token-claims.json");
    for claim in spec["payload"].as_object().expect("claims").keys() {
        assert!(
            id.get(claim).is_some(),
            "the id token carries {claim}: {id}"
        );
    }
    assert_eq!(
        id["iss"], doc["issuer"],
        "iss = the discovery document's issuer"
    );
    assert!(
        id["iss"].as_str().is_some_and(|i| i.ends_with("/v2.0")),
        "v2.0 issuer ends in /v2.0"
    );
    assert_eq!(id["aud"], cid.as_str(), "aud = the client id");
    assert_eq!(id["tid"], tid.as_str(), "tid = tenant");
    assert_eq!(id["preferred_username"], upn.as_str(), "preferred_username");
    assert_eq!(
        id["nonce"], "n-0S6_WzA2Mj",
        "the authorize request's nonce is echoed"
    );
    assert_eq!(id["ver"], "2.0", "v2.0 id token");
    assert_ne!(id["sub"], id["oid"], "sub is pairwise, not the object id");
    let (iat, nbf, exp) = (
        id["iat"].as_i64().expect("iat"),
        id["nbf"].as_i64().expect("nbf"),
        id["exp"].as_i64().expect("exp"),
    );
    assert!(iat <= nbf && nbf < exp, "iat <= nbf < exp");

    let access = tokens["access_token"].as_str().expect("access_token");
    let at = verify_rs256(access, &jwks);
    assert_eq!(at["tid"], tid.as_str(), "access token tid");
    let me = http()
        .get(format!("{}/me", sb.graph_base_url()))
        .header("Authorization", bearer(&tokens))
        .send()
        .await
        .expect("GET /me");
    assert_eq!(
        me.status(),
        200,
        "Graph still accepts the signed access token"
    );
}

#[tokio::test]
async fn an_authorize_request_without_nonce_gets_an_id_token_without_nonce() {
    let sb = spawn(true).await;
    let tokens = sign_in_auto(&sb, &sb.handle().host_upn().expect("host")).await;
    let part = tokens["id_token"]
        .as_str()
        .and_then(|t| t.split('.').nth(1))
        .expect("id token payload");
    assert!(
        b64json(part).get("nonce").is_none(),
        "no nonce asked, none echoed"
    );
}

#[tokio::test]
async fn instance_discovery_answers_in_microsofts_shape_for_this_sandbox_only() {
    let sb = Sandbox::spawn(SandboxConfig {
        tls: true,
        ..Default::default()
    })
    .await
    .expect("TLS sandbox");
    let pem = sb.ca_pem().expect("CA").to_owned();
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).expect("PEM"))
        .build()
        .expect("client");
    let c = contract("identity-instance-discovery.json");
    let documented = &c["exchange"]["response"]["body"];
    let tid = sb.handle().tenant_id();
    // MSAL for Python asks with the authority's host name only (no port).
    for asked in [
        format!("{}/{tid}/oauth2/v2.0/authorize", sb.base_url()),
        format!("https://127.0.0.1/{tid}/oauth2/v2.0/authorize"),
    ] {
        let resp = client
            .get(format!("{}/common/discovery/instance", sb.base_url()))
            .query(&[
                ("api-version", "1.1"),
                ("authorization_endpoint", asked.as_str()),
            ])
            .send()
            .await
            .expect("GET instance discovery");
        assert_eq!(
            resp.status(),
            200,
            "this sandbox is a known instance: {asked}"
        );
        let body: Value = resp.json().await.expect("JSON");
        for key in documented.as_object().expect("body").keys() {
            assert!(
                body.get(key).is_some(),
                "documented key {key} present: {body}"
            );
        }
        for key in documented["metadata"][0].as_object().expect("entry").keys() {
            assert!(
                body["metadata"][0].get(key).is_some(),
                "metadata entry has {key}"
            );
        }
        let tde = body["tenant_discovery_endpoint"]
            .as_str()
            .expect("endpoint");
        assert_eq!(
            tde,
            format!(
                "{}/{tid}/v2.0/.well-known/openid-configuration",
                sb.base_url()
            ),
            "the discovery endpoint is on this sandbox, port included"
        );
        let (status, _) = get_json(&client, tde).await;
        assert_eq!(status, 200, "the tenant discovery endpoint answers");
    }
    let resp = client
        .get(format!("{}/common/discovery/instance", sb.base_url()))
        .query(&[(
            "authorization_endpoint",
            "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
        )])
        .send()
        .await
        .expect("GET");
    assert_eq!(resp.status(), 400, "another host is not this instance");
    let body: Value = resp.json().await.expect("JSON");
    assert_eq!(
        body["error"], "invalid_instance",
        "MSAL looks for invalid_instance"
    );
    assert_eq!(
        body["error_codes"],
        serde_json::json!([50049]),
        "AADSTS50049"
    );
}

#[tokio::test]
async fn client_info_is_answered_when_msal_asks_for_it() {
    let sb = spawn(true).await;
    let h = sb.handle();
    let upn = h.host_upn().expect("host");
    let p = pkce();
    let url = authorize_url(
        &sb,
        "organizations",
        &p,
        REDIRECT,
        SCOPES,
        &[("login_hint", upn.as_str())],
    );
    let resp = http().get(url).send().await.expect("authorize");
    let code = param(&location(&resp), "code").expect("code").to_owned();
    let cid = h.client_id();
    let (status, body) = token(
        &sb,
        &[
            ("client_id", cid.as_str()),
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", p.verifier.as_str()),
            ("client_info", "1"),
        ],
    )
    .await;
    assert_eq!(status, 200, "redeemed: {body}");
    let info = b64json(
        body["client_info"]
            .as_str()
            .expect("client_info when asked"),
    );
    let id = b64json(
        body["id_token"]
            .as_str()
            .and_then(|t| t.split('.').nth(1))
            .expect("id token"),
    );
    assert_eq!(info["uid"], id["oid"], "uid = the user's object id");
    assert_eq!(info["utid"], h.tenant_id().as_str(), "utid = tenant id");
    let plain = h.mint_tokens(&upn, None, None).expect("mint");
    assert!(
        plain.get("client_info").is_none(),
        "not asked, not answered"
    );
}
