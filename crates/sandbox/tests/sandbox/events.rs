//! Calendar events and the attendees' mailboxes (issue 22): what each participant receives when
//! the host's calendar creates, reschedules and cancels a Teams meeting, over real HTTP.

use serde_json::{json, Value};

use super::common::*;
use tsched_sandbox::seed::DEFAULT_HOST_UPN;
use tsched_sandbox::RunningSandbox;

/// Adele's mail (`AdeleV0@contoso.example`) differs from her UPN: the invitation is addressed to
/// the mail, her mailbox is the same whichever address the control API is asked with.
const ADELE_MAIL: &str = "AdeleV0@contoso.example";
const ADELE_UPN: &str = "adele.vance0@contoso.example";
const ZOE: &str = "zoe.odegard1@contoso.example";
const OUTSIDER: &str = "guest.person@fabrikam.example";

fn calendar_token(sb: &RunningSandbox) -> String {
    mint(
        sb,
        DEFAULT_HOST_UPN,
        Some(&[
            "User.Read",
            "OnlineMeetings.ReadWrite",
            "Calendars.ReadWrite",
        ]),
    )
}

async fn call(
    sb: &RunningSandbox,
    method: reqwest::Method,
    path: &str,
    auth: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut rb = http()
        .request(method, format!("{}{path}", sb.graph_base_url()))
        .header("Authorization", auth);
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let resp = rb.send().await.expect("graph call");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The control API's view of one mailbox.
async fn mailbox(sb: &RunningSandbox, address: &str) -> Vec<Value> {
    let resp = http()
        .get(format!("{}/_sandbox/mailbox/{address}", sb.base_url()))
        .send()
        .await
        .expect("GET mailbox");
    assert_eq!(
        resp.status(),
        200,
        "the mailbox view answers for any address"
    );
    let v: Value = resp.json().await.expect("json");
    v["items"].as_array().cloned().unwrap_or_default()
}

fn event_body(tx: Option<&str>) -> Value {
    let mut b = json!({
        "subject": "Thesis defence: Zoë Ødegård",
        "body": {"contentType": "HTML", "content": "Your defence slot."},
        "start": {"dateTime": "2030-05-06T09:00:00", "timeZone": "W. Europe Standard Time"},
        "end": {"dateTime": "2030-05-06T09:45:00", "timeZone": "W. Europe Standard Time"},
        "attendees": [
            {"emailAddress": {"address": ADELE_MAIL, "name": "Adele Vance"}, "type": "required"},
            {"emailAddress": {"address": ZOE}, "type": "required"},
            {"emailAddress": {"address": OUTSIDER, "name": "Guest Person"}, "type": "optional"}
        ],
        "allowNewTimeProposals": false,
        "isOnlineMeeting": true,
        "onlineMeetingProvider": "teamsForBusiness"
    });
    if let Some(t) = tx {
        b["transactionId"] = json!(t);
    }
    b
}

async fn create(sb: &RunningSandbox, auth: &str, tx: Option<&str>) -> Value {
    let (s, ev) = call(
        sb,
        reqwest::Method::POST,
        "/me/events",
        auth,
        Some(event_body(tx)),
    )
    .await;
    assert_eq!(s, 201, "create event: {ev}");
    ev
}

#[tokio::test]
async fn create_sends_one_request_with_the_join_link_to_every_attendee() {
    let sb = spawn(true).await;
    let auth = calendar_token(&sb);
    let ev = create(&sb, &auth, Some("tsched-row-1")).await;
    let join = ev["onlineMeeting"]["joinUrl"]
        .as_str()
        .expect("a Teams event carries onlineMeeting.joinUrl")
        .to_owned();
    assert!(
        join.starts_with("https://teams.microsoft.com/l/meetup-join/"),
        "join links look like the onlineMeetings ones: {join}"
    );
    assert_eq!(ev["isOnlineMeeting"], true, "online meeting enabled");
    assert_eq!(
        ev["start"]["timeZone"], "UTC",
        "without Prefer, times come back in UTC"
    );
    assert_eq!(
        ev["start"]["dateTime"], "2030-05-06T07:00:00.0000000",
        "09:00 Berlin summer time is 07:00 UTC"
    );
    assert_eq!(
        ev["transactionId"], "tsched-row-1",
        "returned because the app set it"
    );
    assert!(
        ev["body"]["content"]
            .as_str()
            .is_some_and(|c| c.contains(&join)),
        "Exchange puts the join blob in the body"
    );
    for who in [ADELE_MAIL, ZOE, OUTSIDER] {
        let items = mailbox(&sb, who).await;
        assert_eq!(items.len(), 1, "{who} gets exactly one message: {items:?}");
        let m = &items[0];
        assert_eq!(
            (m["method"].as_str(), m["kind"].as_str()),
            (Some("REQUEST"), Some("request")),
            "{who}: the first message is an iTIP REQUEST"
        );
        assert_eq!(
            m["joinUrl"],
            join.as_str(),
            "{who}: the invitation carries the join link"
        );
        assert_eq!(m["eventId"], ev["id"], "{who}: names the event");
        assert_eq!(
            m["iCalUId"], ev["iCalUId"],
            "{who}: same iCalUId as the event"
        );
        assert_eq!(m["sequence"], 0, "{who}: first invitation has sequence 0");
        assert_eq!(m["subject"], ev["subject"], "{who}: subject");
        assert_eq!(
            m["start"], "2030-05-06T07:00:00.0000000Z",
            "{who}: start in UTC"
        );
    }
    assert_eq!(
        mailbox(&sb, ADELE_UPN).await.len(),
        1,
        "Adele's UPN and her mail reach the same mailbox"
    );
    assert!(
        mailbox(&sb, DEFAULT_HOST_UPN).await.is_empty(),
        "the organizer does not invite themselves"
    );
    // The Teams meeting is a real online meeting, found by its join link.
    let filter = url::form_urlencoded::byte_serialize(format!("JoinWebUrl eq '{join}'").as_bytes())
        .collect::<String>();
    let (s, list) = call(
        &sb,
        reqwest::Method::GET,
        &format!("/me/onlineMeetings?$filter={filter}"),
        &auth,
        None,
    )
    .await;
    assert_eq!(s, 200, "filter by JoinWebUrl");
    assert_eq!(
        list["value"].as_array().map(Vec::len),
        Some(1),
        "the event's Teams meeting is an onlineMeeting with that joinWebUrl"
    );
    let (s, got) = call(
        &sb,
        reqwest::Method::GET,
        &format!("/me/events/{}", ev["id"].as_str().expect("id")),
        &auth,
        None,
    )
    .await;
    assert_eq!(s, 200, "get by id");
    assert_eq!(
        got["onlineMeeting"]["joinUrl"],
        join.as_str(),
        "same link on GET"
    );
}

#[tokio::test]
async fn same_transaction_id_twice_makes_one_event_and_one_invitation_each() {
    let sb = spawn(true).await;
    let auth = calendar_token(&sb);
    let first = create(&sb, &auth, Some("row-7-of-batch-3")).await;
    let again = create(&sb, &auth, Some("row-7-of-batch-3")).await;
    assert_eq!(
        first["id"], again["id"],
        "a retried POST with the same transactionId returns the existing event"
    );
    assert_eq!(
        first["onlineMeeting"]["joinUrl"], again["onlineMeeting"]["joinUrl"],
        "and the same join link"
    );
    let (s, list) = call(&sb, reqwest::Method::GET, "/me/events", &auth, None).await;
    assert_eq!(s, 200, "list events");
    assert_eq!(
        list["value"].as_array().map(Vec::len),
        Some(1),
        "one event on the calendar"
    );
    assert_eq!(
        sb.handle().snapshot()["meetings"].as_array().map(Vec::len),
        Some(1),
        "one Teams meeting behind it"
    );
    for who in [ADELE_MAIL, ZOE, OUTSIDER] {
        assert_eq!(
            mailbox(&sb, who).await.len(),
            1,
            "{who}: a retry must not send a second invitation"
        );
    }
    // Another organizer may use the same transactionId: de-duplication is per organizer.
    let other = mint(&sb, ZOE, Some(&["Calendars.ReadWrite"]));
    let (s, theirs) = call(
        &sb,
        reqwest::Method::POST,
        "/me/events",
        &other,
        Some(event_body(Some("row-7-of-batch-3"))),
    )
    .await;
    assert_eq!(s, 201, "another organizer's event");
    assert_ne!(
        theirs["id"], first["id"],
        "transactionId is scoped to the organizer"
    );
}

#[tokio::test]
async fn reschedule_sends_one_update_with_the_same_link() {
    let sb = spawn(true).await;
    let auth = calendar_token(&sb);
    let ev = create(&sb, &auth, Some("r1")).await;
    let id = ev["id"].as_str().expect("id");
    let join = ev["onlineMeeting"]["joinUrl"].clone();
    let (s, upd) = call(
        &sb,
        reqwest::Method::PATCH,
        &format!("/me/events/{id}"),
        &auth,
        Some(json!({
            "start": {"dateTime": "2030-05-07T13:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2030-05-07T13:45:00", "timeZone": "UTC"}
        })),
    )
    .await;
    assert_eq!(s, 200, "PATCH time: {upd}");
    assert_eq!(
        upd["onlineMeeting"]["joinUrl"], join,
        "the join link stays on reschedule"
    );
    assert_eq!(
        upd["start"]["dateTime"], "2030-05-07T13:00:00.0000000",
        "new start"
    );
    for who in [ADELE_MAIL, ZOE, OUTSIDER] {
        let items = mailbox(&sb, who).await;
        assert_eq!(items.len(), 2, "{who}: the invitation and one update");
        let u = &items[1];
        assert_eq!(
            (u["method"].as_str(), u["kind"].as_str()),
            (Some("REQUEST"), Some("update")),
            "{who}: an update is a REQUEST"
        );
        assert_eq!(u["sequence"], 1, "{who}: with a higher sequence");
        assert_eq!(u["joinUrl"], join, "{who}: same join link");
        assert_eq!(
            u["start"], "2030-05-07T13:00:00.0000000Z",
            "{who}: the new time"
        );
        assert_eq!(
            u["iCalUId"], items[0]["iCalUId"],
            "{who}: same iCalUId, so calendars update in place"
        );
    }
    let meeting = &sb.handle().snapshot()["meetings"][0]["resource"];
    assert_eq!(
        meeting["startDateTime"], "2030-05-07T13:00:00.0000000Z",
        "the Teams meeting follows the event"
    );
    // Organizer-only changes send nothing.
    let (s, _) = call(
        &sb,
        reqwest::Method::PATCH,
        &format!("/me/events/{id}"),
        &auth,
        Some(json!({"reminderMinutesBeforeStart": 30, "categories": ["Defences"]})),
    )
    .await;
    assert_eq!(s, 200, "PATCH reminder");
    assert_eq!(
        mailbox(&sb, ZOE).await.len(),
        2,
        "a reminder change mails nobody"
    );
}

#[tokio::test]
async fn attendee_changes_reach_only_the_changed_attendees() {
    let sb = spawn(true).await;
    let auth = calendar_token(&sb);
    let ev = create(&sb, &auth, None).await;
    let id = ev["id"].as_str().expect("id");
    let newcomer = "lukasz.garcia4@contoso.example";
    let (s, upd) = call(
        &sb,
        reqwest::Method::PATCH,
        &format!("/me/events/{id}"),
        &auth,
        Some(json!({"attendees": [
            {"emailAddress": {"address": ADELE_MAIL}, "type": "required"},
            {"emailAddress": {"address": newcomer}, "type": "required"}
        ]})),
    )
    .await;
    assert_eq!(s, 200, "PATCH attendees: {upd}");
    assert_eq!(
        mailbox(&sb, ADELE_MAIL).await.len(),
        1,
        "event-update.md: unchanged attendees get nothing"
    );
    let z = mailbox(&sb, ZOE).await;
    assert_eq!(z.len(), 2, "a removed attendee gets a cancellation");
    assert_eq!(z[1]["method"], "CANCEL", "removed → CANCEL");
    let n = mailbox(&sb, newcomer).await;
    assert_eq!(n.len(), 1, "an added attendee gets one invitation");
    assert_eq!(
        (n[0]["method"].as_str(), n[0]["kind"].as_str()),
        (Some("REQUEST"), Some("request")),
        "added → REQUEST"
    );
    assert_eq!(
        n[0]["joinUrl"], ev["onlineMeeting"]["joinUrl"],
        "with the join link"
    );
}

#[tokio::test]
async fn cancel_sends_one_cancel_to_every_attendee() {
    let sb = spawn(true).await;
    let auth = calendar_token(&sb);
    let ev = create(&sb, &auth, Some("c1")).await;
    let id = ev["id"].as_str().expect("id");
    let (s, body) = call(
        &sb,
        reqwest::Method::POST,
        &format!("/me/events/{id}/cancel"),
        &auth,
        Some(json!({"comment": "The defence moves to next term."})),
    )
    .await;
    assert_eq!(s, 202, "event-cancel.md: 202 Accepted");
    assert!(body.is_null(), "no body");
    for who in [ADELE_MAIL, ZOE, OUTSIDER] {
        let items = mailbox(&sb, who).await;
        assert_eq!(items.len(), 2, "{who}: the invitation and one cancellation");
        let c = &items[1];
        assert_eq!(
            (c["method"].as_str(), c["kind"].as_str()),
            (Some("CANCEL"), Some("cancel")),
            "{who}: CANCEL"
        );
        assert_eq!(
            c["comment"], "The defence moves to next term.",
            "{who}: the organizer's comment"
        );
        assert_eq!(c["sequence"], 1, "{who}: cancel raises the sequence");
    }
    let (s, err) = call(
        &sb,
        reqwest::Method::GET,
        &format!("/me/events/{id}"),
        &auth,
        None,
    )
    .await;
    assert_eq!(
        (s, err["error"]["code"].as_str()),
        (404, Some("ErrorItemNotFound")),
        "a cancelled event left the calendar"
    );
    let (s, _) = call(
        &sb,
        reqwest::Method::POST,
        &format!("/me/events/{id}/cancel"),
        &auth,
        Some(json!({})),
    )
    .await;
    assert_eq!(s, 404, "cancelling again finds nothing");
    assert_eq!(mailbox(&sb, ZOE).await.len(), 2, "and sends nothing");
    // Delete of an organizer's meeting also cancels it (event-delete.md).
    let ev2 = create(&sb, &auth, Some("c2")).await;
    let (s, _) = call(
        &sb,
        reqwest::Method::DELETE,
        &format!("/me/events/{}", ev2["id"].as_str().expect("id")),
        &auth,
        None,
    )
    .await;
    assert_eq!(s, 204, "delete → 204");
    let z = mailbox(&sb, ZOE).await;
    assert_eq!(z.len(), 4, "second invitation and its cancellation");
    assert_eq!(
        z[3]["method"], "CANCEL",
        "deleting an organizer's meeting sends a cancellation"
    );
}

#[tokio::test]
async fn without_calendars_readwrite_nothing_is_created_and_nobody_is_mailed() {
    let sb = spawn(true).await;
    // The seed client's configured permissions do not include Calendars.ReadWrite.
    let auth = mint(&sb, DEFAULT_HOST_UPN, None);
    let (s, err) = call(
        &sb,
        reqwest::Method::POST,
        "/me/events",
        &auth,
        Some(event_body(Some("x"))),
    )
    .await;
    assert_eq!(s, 403, "creating an event needs Calendars.ReadWrite");
    assert_eq!(
        err["error"]["code"], "ErrorAccessDenied",
        "the Outlook workload's code"
    );
    assert_eq!(
        err["error"]["message"], "Access is denied. Check credentials and try again.",
        "and message"
    );
    assert!(
        err["error"]["innerError"]["request-id"].is_string(),
        "innerError carries the request id"
    );
    let snap = sb.handle().snapshot();
    assert_eq!(snap["events"].as_array().map(Vec::len), Some(0), "no event");
    assert_eq!(
        snap["meetings"].as_array().map(Vec::len),
        Some(0),
        "no half-created Teams meeting"
    );
    for who in [ADELE_MAIL, ZOE, OUTSIDER] {
        assert!(mailbox(&sb, who).await.is_empty(), "{who}: no mail");
    }
    let (s, _) = call(&sb, reqwest::Method::GET, "/me/events", &auth, None).await;
    assert_eq!(
        s, 403,
        "reading the calendar needs Calendars.Read or ReadWrite"
    );
    // An admin grant of Calendars.ReadWrite shows in the next token's scopes.
    sb.handle()
        .grant_admin_consent(&sb.handle().client_id(), Some(&["Calendars.ReadWrite"]));
    let tokens = sb
        .handle()
        .mint_tokens(DEFAULT_HOST_UPN, Some(&["User.Read"]), None)
        .expect("token");
    assert!(
        tokens["scope"]
            .as_str()
            .is_some_and(|s| s.split(' ').any(|x| x == "Calendars.ReadWrite")),
        "a granted Calendars.ReadWrite is reported in the token's scopes: {}",
        tokens["scope"]
    );
    let (s, _) = call(
        &sb,
        reqwest::Method::POST,
        "/me/events",
        &bearer(&tokens),
        Some(event_body(None)),
    )
    .await;
    assert_eq!(s, 201, "with the grant the same request succeeds");
}

#[tokio::test]
async fn missing_subject_start_or_end_is_a_400_and_sends_nothing() {
    let sb = spawn(true).await;
    let auth = calendar_token(&sb);
    for missing in ["subject", "start", "end"] {
        let mut b = event_body(None);
        b.as_object_mut().expect("object").remove(missing);
        let (s, err) = call(&sb, reqwest::Method::POST, "/me/events", &auth, Some(b)).await;
        assert_eq!(s, 400, "missing {missing} is rejected");
        assert_eq!(
            err["error"]["code"], "ErrorPropertyValidationFailure",
            "missing {missing}: Graph's validation code"
        );
    }
    let mut b = event_body(None);
    b["end"] = json!({"dateTime": "2030-05-06T08:00:00", "timeZone": "W. Europe Standard Time"});
    let (s, _) = call(&sb, reqwest::Method::POST, "/me/events", &auth, Some(b)).await;
    assert_eq!(s, 400, "end before start is rejected");
    let mut b = event_body(None);
    b["start"]["timeZone"] = json!("Middle Earth Time");
    let (s, err) = call(&sb, reqwest::Method::POST, "/me/events", &auth, Some(b)).await;
    assert_eq!(
        (s, err["error"]["code"].as_str()),
        (400, Some("TimeZoneNotSupportedException")),
        "unknown time zone"
    );
    assert!(
        mailbox(&sb, ZOE).await.is_empty(),
        "rejected requests send nothing"
    );
    assert_eq!(
        sb.handle().snapshot()["events"].as_array().map(Vec::len),
        Some(0),
        "and store nothing"
    );
}

#[tokio::test]
async fn users_path_reaches_only_the_callers_own_calendar() {
    let sb = spawn(true).await;
    let auth = calendar_token(&sb);
    let (s, _) = call(
        &sb,
        reqwest::Method::POST,
        &format!("/users/{DEFAULT_HOST_UPN}/events"),
        &auth,
        Some(event_body(None)),
    )
    .await;
    assert_eq!(s, 201, "/users/{{own upn}}/events is the caller's calendar");
    let (s, err) = call(
        &sb,
        reqwest::Method::POST,
        &format!("/users/{ZOE}/events"),
        &auth,
        Some(event_body(None)),
    )
    .await;
    assert_eq!(
        (s, err["error"]["code"].as_str()),
        (403, Some("ErrorAccessDenied")),
        "another user's calendar is not shared"
    );
    let (s, err) = call(
        &sb,
        reqwest::Method::GET,
        "/users/nobody@contoso.example/events",
        &auth,
        None,
    )
    .await;
    assert_eq!(
        (s, err["error"]["code"].as_str()),
        (404, Some("ErrorInvalidUser")),
        "unknown user"
    );
}

#[tokio::test]
async fn throttled_creates_send_exactly_one_invitation_per_created_event() {
    let sb = spawn(true).await;
    let auth = calendar_token(&sb);
    sb.handle().update_knobs(|k| k.throttle_rps = Some(2.0));
    let mut created = 0;
    let mut throttled = 0;
    for n in 0..8 {
        let (s, _) = call(
            &sb,
            reqwest::Method::POST,
            "/me/events",
            &auth,
            Some(event_body(Some(&format!("t{n}")))),
        )
        .await;
        match s {
            201 => created += 1,
            429 => throttled += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(
        throttled > 0,
        "the events route is throttled like the other Graph routes"
    );
    assert_eq!(
        mailbox(&sb, ZOE).await.len(),
        created,
        "a throttled request creates nothing and sends nothing"
    );
    let resp = http()
        .delete(format!("{}/_sandbox/mailboxes", sb.base_url()))
        .send()
        .await
        .expect("DELETE mailboxes");
    assert_eq!(resp.status(), 204, "mailboxes can be emptied");
    assert!(mailbox(&sb, ZOE).await.is_empty(), "emptied");
}
