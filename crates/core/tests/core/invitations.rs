//! Invitations (issue 22) against the sandbox over real HTTP, asserted on what each participant's
//! sandbox mailbox received: in calendar mode a create sends one REQUEST with the join link (a
//! resume sends none more), a reschedule one update with the same link, a cancel one CANCEL;
//! without Calendars.ReadWrite the create is refused naming the permission and who grants it,
//! with nothing recorded or sent; the connect asks for Calendars.ReadWrite only in calendar mode.

use chrono::Duration;
use serde_json::Value;
use tsched_core::graph::GraphClient;
use tsched_core::integration::{self, InvitationMode};
use tsched_core::meetings::{self, EndSpec, NewMeeting, RescheduleInput};
use tsched_core::tz::{parse_local, DstChoice};
use tsched_sandbox::{RunningSandbox, SandboxConfig, Seed};

use crate::membership::{count, program_with};
use crate::support::{host, Browser, Env};

const MEMBER: &str = "zoe.odegard1@contoso.example";
const MEMBER2: &str = "lukasz.garcia4@contoso.example";

/// The default tenant; with `calendar`, its app registration also lists Calendars.ReadWrite (so
/// the auto-consented admin grant holds it).
fn seed(calendar: bool) -> Seed {
    let mut s = Seed::default_tenant();
    if calendar {
        s.clients[0]
            .api_permissions
            .push("Calendars.ReadWrite".into());
    }
    s
}

/// A connected environment (auto-consent) whose invitation mode is `mode` from the connect on,
/// with program `eng` of two members.
async fn env_with(calendar_granted: bool, mode: InvitationMode) -> (Env, GraphClient) {
    let mut env = Env::with(SandboxConfig {
        auto_consent: true,
        seed: seed(calendar_granted),
        ..Default::default()
    })
    .await;
    let req = integration::ConnectRequest {
        invitations: Some(mode),
        ..env.request()
    };
    env.connect_with(&Browser::default(), &req)
        .await
        .expect("the host connects");
    let graph = integration::session(&env.store, env.tokens.clone())
        .expect("session")
        .graph()
        .clone();
    program_with(&mut env, "eng", &[MEMBER, MEMBER2]);
    (env, graph)
}

fn new_meeting(external_id: &str) -> NewMeeting {
    NewMeeting {
        program: "eng".into(),
        subject: "Mentoring kickoff".into(),
        start: parse_local("2030-03-15 09:00").expect("local time"),
        end: EndSpec::Duration(Duration::minutes(45)),
        time_zone: Some("Europe/Berlin".into()),
        dst: DstChoice::Refuse,
        participants: vec![MEMBER.into(), MEMBER2.into()],
        external_id: Some(external_id.into()),
        batch_id: None,
    }
}

fn mail(sb: &RunningSandbox, who: &str) -> Vec<Value> {
    sb.handle().mailbox(who)["items"]
        .as_array()
        .expect("items")
        .clone()
}

fn events_posted(sb: &RunningSandbox) -> u64 {
    count(sb, |r| r == "POST /me/events", None)
}

#[tokio::test]
async fn calendar_mode_invites_once_updates_with_the_same_link_and_cancels() {
    let (mut env, graph) = env_with(true, InvitationMode::Calendar).await;
    let status = integration::status(&env.store, env.tokens.as_ref()).expect("status");
    assert!(
        status.invitation_mode.is_calendar() && status.calendar_granted,
        "connected in calendar mode with Calendars.ReadWrite: {status:?}"
    );
    let actor = host();
    let created = meetings::create(&mut env.store, &graph, &actor, new_meeting("cal-1"))
        .await
        .expect("create");
    let m = created.meeting;
    assert_eq!(m.state, "created", "Graph confirmed it");
    assert!(m.invitations.is_calendar(), "made in calendar mode");
    assert!(
        m.event_id.is_some() && m.invitations_sent_at.is_some(),
        "the event and the time its invitations went out are recorded: {m:?}"
    );
    let link = m.join_web_url.clone().expect("join link stored");
    assert!(
        m.graph_id.is_some(),
        "its Teams meeting is found by the link"
    );
    for who in [MEMBER, MEMBER2] {
        let items = mail(&env.sandbox, who);
        assert_eq!(items.len(), 1, "{who} got one message: {items:?}");
        assert_eq!(items[0]["method"], "REQUEST", "an invitation");
        assert_eq!(items[0]["joinUrl"], link.as_str(), "with the join link");
    }

    // A crash after the event was made but before the row was marked: the resume sends the
    // same transactionId, and Exchange answers the same event without a second invitation.
    env.store
        .conn()
        .execute(
            "UPDATE meetings SET state = 'pending', graph_id = NULL WHERE id = ?1",
            [m.id],
        )
        .expect("simulate crash");
    let again = meetings::create(&mut env.store, &graph, &actor, new_meeting("cal-1"))
        .await
        .expect("resume");
    assert_eq!(again.meeting.state, "created", "resumed");
    assert_eq!(again.meeting.event_id, m.event_id, "the same event");
    for who in [MEMBER, MEMBER2] {
        assert_eq!(
            mail(&env.sandbox, who).len(),
            1,
            "a resume never sends {who} a second invitation"
        );
    }

    let moved = meetings::reschedule(
        &mut env.store,
        &graph,
        &actor,
        RescheduleInput {
            meeting: "cal-1".into(),
            start: parse_local("2030-03-16 10:00").expect("local"),
            end: EndSpec::Duration(Duration::minutes(30)),
            time_zone: None,
            dst: DstChoice::Refuse,
            subject: None,
            participants: None,
        },
    )
    .await
    .expect("reschedule");
    assert_eq!(
        moved.start_utc, "2030-03-16T09:00:00Z",
        "moved (CET is UTC+1)"
    );
    assert!(
        moved.invitations_updated_at.is_some(),
        "the update is recorded"
    );
    assert_eq!(
        moved.join_web_url.as_deref(),
        Some(link.as_str()),
        "same link"
    );
    for who in [MEMBER, MEMBER2] {
        let items = mail(&env.sandbox, who);
        assert_eq!(items.len(), 2, "{who} got one update: {items:?}");
        assert_eq!(
            (items[1]["method"].as_str(), items[1]["kind"].as_str()),
            (Some("REQUEST"), Some("update")),
            "an update"
        );
        assert_eq!(items[1]["joinUrl"], link.as_str(), "the join link stays");
        assert_eq!(
            items[1]["start"], "2030-03-16T09:00:00.0000000Z",
            "new time"
        );
    }

    let cancelled = meetings::cancel(&mut env.store, &graph, &actor, "cal-1")
        .await
        .expect("cancel");
    assert_eq!(cancelled.meeting.state, "cancelled", "cancelled");
    assert!(
        cancelled.meeting.invitations_cancelled_at.is_some(),
        "the cancellation is recorded"
    );
    for who in [MEMBER, MEMBER2] {
        let items = mail(&env.sandbox, who);
        assert_eq!(items.len(), 3, "{who} got one cancellation: {items:?}");
        assert_eq!(items[2]["method"], "CANCEL", "a CANCEL");
        assert!(
            items[2]["comment"]
                .as_str()
                .is_some_and(|c| c.contains("Mentoring kickoff")),
            "with a comment: {}",
            items[2]
        );
    }
    assert_eq!(
        env.sandbox
            .handle()
            .request_count("DELETE /me/onlineMeetings/{id}", 204),
        1,
        "the Teams meeting is cleaned up as before"
    );
    // Cancelling again sends nothing more.
    meetings::cancel(&mut env.store, &graph, &actor, "cal-1")
        .await
        .expect("cancel twice");
    assert_eq!(mail(&env.sandbox, MEMBER).len(), 3, "no second CANCEL");
    assert_eq!(events_posted(&env.sandbox), 2, "one POST, one resumed POST");
}

#[tokio::test]
async fn calendar_mode_without_calendars_readwrite_is_refused_naming_it_with_nothing_made() {
    let (mut env, graph) = env_with(false, InvitationMode::None).await;
    let status = integration::set_invitation_mode(
        &mut env.store,
        env.tokens.as_ref(),
        &host(),
        InvitationMode::Calendar,
    )
    .expect("a global admin sets the mode");
    assert!(!status.calendar_granted, "not granted");
    assert!(
        status
            .invitations_unavailable_reason
            .as_deref()
            .is_some_and(|r| r.contains("Calendars.ReadWrite")),
        "status says why: {status:?}"
    );
    let d = tsched_core::membership::diagnose(
        &mut env.store,
        Some(&graph),
        &host(),
        "eng",
        MEMBER,
        tsched_core::membership::CheckOptions::default(),
    )
    .await
    .expect("diagnose");
    let inv = d
        .failures()
        .find(|c| c.check == tsched_core::membership::CheckName::InvitationsCanBeSent)
        .expect("the diagnosis says invitations cannot be sent");
    assert!(
        inv.detail.contains("Calendars.ReadWrite")
            && inv
                .fix
                .as_deref()
                .is_some_and(|f| f.contains("global admin")),
        "naming the permission and the fix: {inv:?}"
    );
    let err = meetings::create(&mut env.store, &graph, &host(), new_meeting("cal-2"))
        .await
        .expect_err("refused");
    let text = err.to_string();
    assert!(
        text.contains("Calendars.ReadWrite") && text.contains("global admin"),
        "names the permission and who grants it: {text}"
    );
    assert!(
        env.store
            .tables()
            .meeting_by_external_id("cal-2")
            .expect("read")
            .is_none(),
        "nothing recorded"
    );
    assert_eq!(events_posted(&env.sandbox), 0, "nothing sent to Graph");

    // The stored grant says Calendars.ReadWrite but the host's token has none (revoked since):
    // Graph's 403 is said the same way, and the row is failed, not half-created.
    env.store
        .conn()
        .execute(
            "UPDATE integration SET granted_scopes = granted_scopes || ' Calendars.ReadWrite'",
            [],
        )
        .expect("stale grant");
    let err = meetings::create(&mut env.store, &graph, &host(), new_meeting("cal-3"))
        .await
        .expect_err("Graph refuses");
    assert!(
        err.to_string().contains("Calendars.ReadWrite"),
        "the 403 names the permission: {err}"
    );
    let row = env
        .store
        .tables()
        .meeting_by_external_id("cal-3")
        .expect("read")
        .expect("row");
    assert_eq!(
        (
            row.state.as_str(),
            row.event_id.as_deref(),
            row.graph_id.as_deref()
        ),
        ("failed", None, None),
        "refused for good: failed, with no event and no Teams meeting"
    );
    assert!(
        env.sandbox.handle().mailboxes()["mailboxes"]
            .as_object()
            .is_none_or(|m| m.is_empty()),
        "nobody got anything"
    );
    assert_eq!(
        env.sandbox.handle().snapshot()["meetings"]
            .as_array()
            .map(Vec::len),
        Some(0),
        "no Teams meeting upstream"
    );
}

#[tokio::test]
async fn none_mode_sends_no_invitation_and_asks_for_no_calendar() {
    let (mut env, graph) = env_with(true, InvitationMode::None).await;
    let created = meetings::create(&mut env.store, &graph, &host(), new_meeting("none-1"))
        .await
        .expect("create");
    assert_eq!(
        (
            created.meeting.invitations,
            created.meeting.event_id.as_deref()
        ),
        (InvitationMode::None, None),
        "made without invitations"
    );
    assert_eq!(events_posted(&env.sandbox), 0, "no calendar event");
    assert!(mail(&env.sandbox, MEMBER).is_empty(), "no mail");
    let url = integration::consent_url(
        &env.store,
        &env.sandbox.handle().tenant_id(),
        &tsched_core::auth::Cloud::sandbox(env.sandbox.base_url()).expect("cloud"),
        Some(&env.sandbox.handle().client_id()),
    )
    .expect("consent url");
    assert!(
        !url.contains("Calendars.ReadWrite"),
        "mode none never asks for the host's calendar: {url}"
    );
    integration::set_invitation_mode(
        &mut env.store,
        env.tokens.as_ref(),
        &host(),
        InvitationMode::Calendar,
    )
    .expect("mode");
    let url = integration::consent_url(
        &env.store,
        &env.sandbox.handle().tenant_id(),
        &tsched_core::auth::Cloud::sandbox(env.sandbox.base_url()).expect("cloud"),
        Some(&env.sandbox.handle().client_id()),
    )
    .expect("consent url");
    assert!(
        url.contains("Calendars.ReadWrite"),
        "calendar mode asks for it: {url}"
    );
}

/// `n` ready rows in program `eng`, each with two of `people`.
fn csv_rows(n: usize, people: &[&str]) -> String {
    let mut s = String::from("program,subject,start,duration_minutes,time_zone,participants\n");
    for i in 0..n {
        s.push_str(&format!(
            "eng,Mentoring {i},2030-04-{:02}T{:02}:00,30,UTC,{};{}\n",
            1 + i / 10,
            8 + i % 10,
            people[i % people.len()],
            people[(i + 1) % people.len()],
        ));
    }
    s
}

/// Every mailbox's REQUESTs (kind `request`) per event: how many each event sent each person.
fn requests_per_person_and_event(sb: &RunningSandbox) -> Vec<(String, String, usize)> {
    let all = sb.handle().mailboxes();
    let mut out = Vec::new();
    for (who, items) in all["mailboxes"].as_object().expect("mailboxes") {
        let mut per: std::collections::BTreeMap<String, usize> = Default::default();
        for i in items.as_array().expect("items") {
            if i["method"] == "REQUEST" && i["kind"] == "request" {
                *per.entry(i["eventId"].as_str().unwrap_or("").to_string())
                    .or_default() += 1;
            }
        }
        out.extend(per.into_iter().map(|(e, n)| (who.clone(), e, n)));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_calendar_batch_invites_each_participant_once_per_row_even_when_resumed() {
    use tsched_core::batch::run::{self as batch_run, GraphTransport, Transport};
    let (mut env, _graph) = env_with(true, InvitationMode::Calendar).await;
    let session = integration::session(&env.store, env.tokens.clone()).expect("session");
    let t: std::sync::Arc<dyn Transport> = std::sync::Arc::new(GraphTransport::new(&session));
    let people = [MEMBER, MEMBER2];
    let text = csv_rows(12, &people);
    let opts = tsched_core::batch::RunOptions {
        concurrency: 4,
        tick: std::time::Duration::from_millis(100),
        ..Default::default()
    };
    let out = batch_run::run(
        &mut env.store,
        session.graph(),
        t.clone(),
        &host(),
        "cal.csv",
        text.as_bytes(),
        &tsched_core::batch::PlanOptions::default(),
        &opts,
        &|_| {},
    )
    .await
    .expect("run");
    assert_eq!(out.batch.counts.done, 12, "every row done");
    let sent = requests_per_person_and_event(&env.sandbox);
    assert_eq!(sent.len(), 24, "two participants invited per row: {sent:?}");
    assert!(sent.iter().all(|(_, _, n)| *n == 1), "each once: {sent:?}");
    let m = env
        .store
        .tables()
        .meeting_by_id(1)
        .expect("read")
        .expect("a batch meeting");
    assert!(
        m.invitations.is_calendar() && m.event_id.is_some() && m.invitations_sent_at.is_some(),
        "batch meetings record their invitations: {m:?}"
    );
    let link = m.join_web_url.clone().expect("link");
    assert!(
        mail(&env.sandbox, &m.attendees[0].address)
            .iter()
            .any(|i| i["joinUrl"] == link.as_str()),
        "the invitation carries the meeting's join link"
    );

    // As if the run had died with every request in flight: the resume sends each again with
    // the same transactionId, and nobody gets a second invitation.
    env.store
        .conn()
        .execute_batch(&format!(
            "UPDATE batch_items SET state = 'in_flight' WHERE batch_id = {0};
             UPDATE batches SET state = 'running', lease_holder = NULL, lease_until = NULL, finished_at = NULL WHERE id = {0};",
            out.batch.id
        ))
        .expect("simulate a dead run");
    let again = batch_run::resume(
        &mut env.store,
        t.clone(),
        &host(),
        out.batch.id,
        &opts,
        &|_| {},
    )
    .await
    .expect("resume");
    assert_eq!(again.batch.counts.done, 12, "every row done again");
    assert!(
        events_posted(&env.sandbox) >= 24,
        "the resume did send each row again"
    );
    let sent = requests_per_person_and_event(&env.sandbox);
    assert_eq!(sent.len(), 24, "still 24 (person, event) pairs: {sent:?}");
    assert!(
        sent.iter().all(|(_, _, n)| *n == 1),
        "a resumed batch never sends a second invitation: {sent:?}"
    );

    // Undo: every row's event is cancelled (one CANCEL each), its Teams meeting deleted.
    let undone = batch_run::cancel(&mut env.store, Some(t), &host(), out.batch.id, true)
        .await
        .expect("cancel with undo");
    assert_eq!(
        (undone.undone, undone.undo_failed.len()),
        (12, 0),
        "every meeting undone"
    );
    let all = env.sandbox.handle().mailboxes();
    let cancels: usize = all["mailboxes"]
        .as_object()
        .expect("mailboxes")
        .values()
        .map(|items| {
            items
                .as_array()
                .expect("items")
                .iter()
                .filter(|i| i["method"] == "CANCEL")
                .count()
        })
        .sum();
    assert_eq!(cancels, 24, "each participant of each row got one CANCEL");
    let m = env
        .store
        .tables()
        .meeting_by_id(1)
        .expect("read")
        .expect("meeting");
    assert!(
        m.state == "cancelled" && m.invitations_cancelled_at.is_some(),
        "the undo records the cancellation: {m:?}"
    );
}
