//! Graph rules: auth errors, users, meetings, $batch, throttling.

use serde_json::{json, Value};

use super::common::*;
use tsched_sandbox::seed::DEFAULT_HOST_UPN;

async fn call(
    sb: &tsched_sandbox::RunningSandbox,
    method: reqwest::Method,
    path: &str,
    auth: Option<&str>,
    body: Option<Value>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut rb = http().request(method, format!("{}{path}", sb.graph_base_url()));
    if let Some(a) = auth {
        rb = rb.header("Authorization", a);
    }
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let resp = rb.send().await.expect("graph call");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("body");
    (
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

fn meeting_body() -> Value {
    json!({"startDateTime": "2030-07-12T14:30:34.2444915-07:00", "endDateTime": "2030-07-12T15:00:34.2464912-07:00", "subject": "Planning"})
}

#[tokio::test]
async fn bad_bearer_tokens_get_401_with_www_authenticate() {
    let sb = spawn(true).await;
    let good = mint(&sb, DEFAULT_HOST_UPN, None);
    sb.handle().expire_access_tokens();
    for auth in [
        None,
        Some("Bearer garbled"),
        Some("Bearer a.b.c"),
        Some(good.as_str()),
    ] {
        let (s, h, b) = call(&sb, reqwest::Method::GET, "/me", auth, None).await;
        assert_eq!(
            s, 401,
            "missing/garbled/unknown/expired token must be 401 ({auth:?})"
        );
        assert!(
            h.get("www-authenticate").is_some(),
            "401 carries WWW-Authenticate"
        );
        assert!(
            h.get("request-id").is_some() && h.get("client-request-id").is_some(),
            "every answer has request ids"
        );
        assert_eq!(
            b["error"]["code"], "InvalidAuthenticationToken",
            "documented 401 code"
        );
        for k in ["date", "request-id", "client-request-id"] {
            assert!(
                b["error"]["innerError"].get(k).is_some(),
                "innerError.{k} present"
            );
        }
    }
}

#[tokio::test]
async fn client_request_id_is_echoed() {
    let sb = spawn(true).await;
    let auth = mint(&sb, DEFAULT_HOST_UPN, None);
    let resp = http()
        .get(format!("{}/me", sb.graph_base_url()))
        .header("Authorization", auth)
        .header("client-request-id", "abc-123")
        .send()
        .await
        .expect("GET");
    assert_eq!(
        resp.headers()["client-request-id"],
        "abc-123",
        "the client's id must be echoed"
    );
}

#[tokio::test]
async fn missing_scope_is_403() {
    let sb = spawn(false).await;
    let auth = mint(&sb, DEFAULT_HOST_UPN, Some(&["User.Read"]));
    let (s, _, b) = call(
        &sb,
        reqwest::Method::POST,
        "/me/onlineMeetings",
        Some(&auth),
        Some(meeting_body()),
    )
    .await;
    assert_eq!(
        s, 403,
        "creating a meeting needs OnlineMeetings.ReadWrite: {b}"
    );
    let (s, _, b) = call(
        &sb,
        reqwest::Method::GET,
        "/users/admin@contoso.example",
        Some(&auth),
        None,
    )
    .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (403, Some("Authorization_RequestDenied")),
        "reading others needs User.ReadBasic.All"
    );
}

#[tokio::test]
async fn users_by_upn_guest_404_and_basic_profile() {
    let sb = spawn(true).await;
    let auth = mint(
        &sb,
        DEFAULT_HOST_UPN,
        Some(&["User.Read", "User.ReadBasic.All"]),
    );
    let snapshot = sb.handle().snapshot();
    let guest = snapshot["users"]
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u["userType"] == "Guest")
        .expect("a guest")
        .clone();
    let upn = guest["userPrincipalName"].as_str().expect("upn");
    assert!(upn.contains("#EXT#"), "guest UPNs use #EXT#");
    let (s, _, b) = call(
        &sb,
        reqwest::Method::GET,
        &format!("/users/{}", upn.replace('#', "%23")),
        Some(&auth),
        None,
    )
    .await;
    assert_eq!(s, 200, "URL-encoded #EXT# UPNs resolve: {b}");
    assert_eq!(b["id"], guest["id"], "same user");
    assert!(
        b.get("jobTitle").is_none() && b.get("businessPhones").is_none(),
        "User.ReadBasic.All returns only the basic profile: {b}"
    );
    let (s, _, b) = call(
        &sb,
        reqwest::Method::GET,
        "/users/ADELE.VANCE0@contoso.example?$select=displayName,mail",
        Some(&auth),
        None,
    )
    .await;
    assert_eq!(s, 200, "UPN lookup is case-insensitive");
    assert_eq!(
        b.as_object().map(|o| o.len()),
        Some(3),
        "$select returns only selected props + @odata.context: {b}"
    );
    let (s, _, b) = call(
        &sb,
        reqwest::Method::GET,
        "/users/nobody@contoso.example",
        Some(&auth),
        None,
    )
    .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (404, Some("Request_ResourceNotFound")),
        "unknown user → 404"
    );
    let (s, _, _) = call(
        &sb,
        reqwest::Method::GET,
        "/users/adele.vance0@contoso.example?$select=nope",
        Some(&auth),
        None,
    )
    .await;
    assert_eq!(s, 400, "unknown $select property is rejected");
}

#[tokio::test]
async fn user_filters_mail_upn_and_proxy_addresses() {
    let sb = spawn(true).await;
    let auth = mint(&sb, DEFAULT_HOST_UPN, Some(&["User.ReadBasic.All"]));
    // Member 0 has mail AdeleV0@contoso.example (≠ UPN) and UPN as an smtp alias.
    let (s, _, b) = call(
        &sb,
        reqwest::Method::GET,
        "/users?$filter=mail%20eq%20'adelev0@CONTOSO.example'",
        Some(&auth),
        None,
    )
    .await;
    assert_eq!(s, 200, "mail eq is a default query: {b}");
    assert_eq!(
        b["value"].as_array().map(Vec::len),
        Some(1),
        "mail matching is case-insensitive: {b}"
    );
    let (s, _, b) = call(
        &sb,
        reqwest::Method::GET,
        "/users?$filter=userPrincipalName%20eq%20'Adele.Vance0@contoso.example'",
        Some(&auth),
        None,
    )
    .await;
    assert_eq!(
        (s, b["value"].as_array().map(Vec::len)),
        (200, Some(1)),
        "UPN eq works: {b}"
    );
    let path = "/users?$filter=proxyAddresses/any(p:p%20eq%20'smtp:adele0@alias.contoso.example')";
    let (s, _, b) = call(&sb, reqwest::Method::GET, path, Some(&auth), None).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (400, Some("Request_UnsupportedQuery")),
        "proxyAddresses/any needs advanced query params: {b}"
    );
    let resp = http()
        .get(format!("{}{path}&$count=true", sb.graph_base_url()))
        .header("Authorization", &auth)
        .header("ConsistencyLevel", "eventual")
        .send()
        .await
        .expect("GET");
    assert_eq!(
        resp.status(),
        200,
        "with ConsistencyLevel + $count the query works"
    );
    let b: Value = resp.json().await.expect("json");
    assert_eq!(
        b["@odata.count"], 1,
        "advanced queries return @odata.count: {b}"
    );
}

#[tokio::test]
async fn meeting_create_rules_and_fields() {
    let sb = spawn(true).await;
    let auth = mint(&sb, DEFAULT_HOST_UPN, None);
    let (s, _, m) = call(
        &sb,
        reqwest::Method::POST,
        "/me/onlineMeetings",
        Some(&auth),
        Some(meeting_body()),
    )
    .await;
    assert_eq!(s, 201, "create answers 201: {m}");
    assert_eq!(
        m["startDateTime"], "2030-07-12T21:30:34.2444915Z",
        "start normalised to UTC Z"
    );
    let url = m["joinWebUrl"].as_str().expect("joinWebUrl");
    assert!(
        url.starts_with("https://teams.microsoft.com/l/meetup-join/19%3ameeting_")
            && url.contains("%40thread.v2/0?context="),
        "real joinWebUrl form: {url}"
    );
    assert_eq!(
        m["participants"]["organizer"]["upn"], DEFAULT_HOST_UPN,
        "organizer = caller"
    );
    assert!(
        m["joinMeetingIdSettings"]["joinMeetingId"].is_string(),
        "joinMeetingId present"
    );
    let mut with_ext = meeting_body();
    with_ext["externalId"] = json!("x-1");
    let (s, _, _) = call(
        &sb,
        reqwest::Method::POST,
        "/me/onlineMeetings",
        Some(&auth),
        Some(with_ext),
    )
    .await;
    assert_eq!(s, 400, "externalId is rejected on plain POST");
    let bad = json!({"startDateTime": "2030-07-12T15:00:00Z", "endDateTime": "2030-07-12T14:00:00Z", "subject": "x"});
    let (s, _, _) = call(
        &sb,
        reqwest::Method::POST,
        "/me/onlineMeetings",
        Some(&auth),
        Some(bad),
    )
    .await;
    assert_eq!(s, 400, "end before start is rejected");
}

#[tokio::test]
async fn create_or_get_is_201_then_200_same_meeting() {
    let sb = spawn(true).await;
    let auth = mint(&sb, DEFAULT_HOST_UPN, None);
    let mut body = meeting_body();
    body["externalId"] = json!("7eb8263f-d0e0-4149-bb1c-1f0476083c56");
    let (s1, _, m1) = call(
        &sb,
        reqwest::Method::POST,
        "/me/onlineMeetings/createOrGet",
        Some(&auth),
        Some(body.clone()),
    )
    .await;
    assert_eq!(s1, 201, "first createOrGet creates");
    body["subject"] = json!("ignored");
    let (s2, _, m2) = call(
        &sb,
        reqwest::Method::POST,
        "/me/onlineMeetings/createOrGet",
        Some(&auth),
        Some(body),
    )
    .await;
    assert_eq!(s2, 200, "second createOrGet returns the existing meeting");
    assert_eq!(m1["id"], m2["id"], "same meeting for the same externalId");
    assert_eq!(
        m2["subject"], "Planning",
        "other body fields are ignored when it exists"
    );
    let other = mint(&sb, "admin@contoso.example", None);
    let mut b3 = meeting_body();
    b3["externalId"] = json!("7eb8263f-d0e0-4149-bb1c-1f0476083c56");
    let (s3, _, m3) = call(
        &sb,
        reqwest::Method::POST,
        "/me/onlineMeetings/createOrGet",
        Some(&other),
        Some(b3),
    )
    .await;
    assert_eq!(s3, 201, "the key includes the organizer");
    assert_ne!(m3["id"], m1["id"], "another organizer gets another meeting");
}

#[tokio::test]
async fn patch_rules_delete_then_get_404_and_filter_by_join_url() {
    let sb = spawn(true).await;
    let auth = mint(&sb, DEFAULT_HOST_UPN, None);
    let (_, _, m) = call(
        &sb,
        reqwest::Method::POST,
        "/me/onlineMeetings",
        Some(&auth),
        Some(meeting_body()),
    )
    .await;
    let id = m["id"].as_str().expect("id").to_owned();
    let path = format!("/me/onlineMeetings/{id}");
    let (s, _, _) = call(
        &sb,
        reqwest::Method::PATCH,
        &path,
        Some(&auth),
        Some(json!({"startDateTime": "2030-07-13T10:00:00Z"})),
    )
    .await;
    assert_eq!(s, 400, "PATCH with start but no end is rejected");
    let (s, _, p) = call(&sb, reqwest::Method::PATCH, &path, Some(&auth), Some(json!({"startDateTime": "2030-07-13T10:00:00-07:00", "endDateTime": "2030-07-13T11:00:00-07:00", "subject": "Moved", "participants": {"attendees": [{"upn": "adele.vance0@contoso.example"}]}}))).await;
    assert_eq!(s, 200, "PATCH with both times works: {p}");
    assert_eq!(
        p["endDateTime"], "2030-07-13T18:00:00.0000000Z",
        "PATCH normalises to UTC"
    );
    assert_eq!(
        p["participants"]["attendees"].as_array().map(Vec::len),
        Some(1),
        "attendees replaced whole"
    );
    let (s, _, _) = call(
        &sb,
        reqwest::Method::PATCH,
        &path,
        Some(&auth),
        Some(json!({"participants": {"organizer": {"upn": "admin@contoso.example"}}})),
    )
    .await;
    assert_eq!(s, 400, "organizer cannot change");
    let join = m["joinWebUrl"].as_str().expect("url");
    let filter: String =
        url::form_urlencoded::byte_serialize(format!("JoinWebUrl eq '{join}'").as_bytes())
            .collect();
    let (s, _, f) = call(
        &sb,
        reqwest::Method::GET,
        &format!("/me/onlineMeetings?$filter={filter}"),
        Some(&auth),
        None,
    )
    .await;
    assert_eq!(
        (s, f["value"].as_array().map(Vec::len)),
        (200, Some(1)),
        "filter by JoinWebUrl finds the meeting: {f}"
    );
    let (s, _, _) = call(&sb, reqwest::Method::DELETE, &path, Some(&auth), None).await;
    assert_eq!(s, 204, "DELETE answers 204");
    let (s, _, _) = call(&sb, reqwest::Method::GET, &path, Some(&auth), None).await;
    assert_eq!(s, 404, "a deleted meeting is gone");
}

#[tokio::test]
async fn batch_limits_dependencies_and_own_statuses() {
    let sb = spawn(true).await;
    let auth = mint(&sb, DEFAULT_HOST_UPN, None);
    let reqs: Vec<Value> = (0..21)
        .map(|i| json!({"id": i.to_string(), "method": "GET", "url": "/me"}))
        .collect();
    let (s, _, _) = call(
        &sb,
        reqwest::Method::POST,
        "/$batch",
        Some(&auth),
        Some(json!({"requests": reqs})),
    )
    .await;
    assert_eq!(s, 400, "more than 20 requests → 400");
    let body = json!({"requests": [
        {"id": "1", "method": "GET", "url": "/users/nobody@contoso.example"},
        {"id": "2", "dependsOn": ["1"], "method": "GET", "url": "/me"},
        {"id": "3", "method": "POST", "url": "/me/onlineMeetings", "headers": {"Content-Type": "application/json"}, "body": meeting_body()},
        {"id": "4", "method": "GET", "url": "me"}
    ]});
    let (s, _, b) = call(
        &sb,
        reqwest::Method::POST,
        "/$batch",
        Some(&auth),
        Some(body),
    )
    .await;
    assert_eq!(s, 200, "a parseable batch is 200: {b}");
    let by_id = |id: &str| {
        b["responses"]
            .as_array()
            .expect("responses")
            .iter()
            .find(|r| r["id"] == id)
            .cloned()
            .expect("item")
    };
    assert_eq!(by_id("1")["status"], 404, "item 1 answered on its own");
    assert_eq!(by_id("2")["status"], 424, "a failed dependency gives 424");
    assert_eq!(by_id("3")["status"], 201, "item 3 created a meeting");
    assert_eq!(
        by_id("4")["status"],
        200,
        "relative URL without leading slash works"
    );
    assert!(
        by_id("4")["headers"].get("request-id").is_some(),
        "items carry their own headers"
    );
}

#[tokio::test]
async fn throttling_gives_429_with_retry_after_also_per_batch_item() {
    let sb = spawn(true).await;
    let auth = mint(&sb, DEFAULT_HOST_UPN, None);
    sb.handle().update_knobs(|k| k.throttle_rps = Some(2.0));
    let mut statuses = Vec::new();
    let mut retry = None;
    for _ in 0..4 {
        let resp = http()
            .get(format!("{}/me", sb.graph_base_url()))
            .header("Authorization", &auth)
            .send()
            .await
            .expect("GET");
        if resp.status() == 429 {
            retry = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let b: Value = resp.json().await.expect("json");
            assert_eq!(b["error"]["code"], "TooManyRequests", "documented 429 body");
            statuses.push(429);
        } else {
            statuses.push(resp.status().as_u16());
        }
    }
    assert!(
        statuses.contains(&429),
        "over the ceiling must be throttled: {statuses:?}"
    );
    let secs: u64 = retry
        .expect("Retry-After present")
        .parse()
        .expect("integer seconds");
    assert!(secs >= 1, "Retry-After at least 1");
    let reqs: Vec<Value> = (0..5)
        .map(|i| json!({"id": i.to_string(), "method": "GET", "url": "/me"}))
        .collect();
    let (s, _, b) = call(
        &sb,
        reqwest::Method::POST,
        "/$batch",
        Some(&auth),
        Some(json!({"requests": reqs})),
    )
    .await;
    assert_eq!(s, 200, "the batch itself succeeds");
    let throttled = b["responses"]
        .as_array()
        .expect("responses")
        .iter()
        .filter(|r| r["status"] == 429)
        .count();
    assert!(
        throttled >= 1,
        "each sub-request counts against the bucket: {b}"
    );
    assert!(
        b["responses"]
            .as_array()
            .expect("r")
            .iter()
            .filter(|r| r["status"] == 429)
            .all(|r| r["headers"].get("Retry-After").is_some()),
        "throttled items carry Retry-After"
    );
}

#[tokio::test]
async fn request_log_counts_routes() {
    let sb = spawn(true).await;
    let auth = mint(&sb, DEFAULT_HOST_UPN, None);
    for _ in 0..3 {
        call(&sb, reqwest::Method::GET, "/me", Some(&auth), None).await;
    }
    assert_eq!(
        sb.handle().request_count("GET /me", 200),
        3,
        "the log counts by route and status"
    );
    let log: Value = http()
        .get(format!("{}/_sandbox/requests", sb.base_url()))
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("json");
    assert!(
        log["counts"].as_array().is_some_and(|c| !c.is_empty()),
        "control API exposes counts"
    );
}
