//! Meetings page commands: the default zone, list and show (with local times), create and cancel
//! (Graph calls, on a worker with their own store; see [`super::work`]) and the `.ics` export.

use serde::{Deserialize, Serialize};
use tauri::State;
use tsched_core::agent;
use tsched_core::graph::meetings::CreateOrGetOutcome;
use tsched_core::meetings::{self, ListFilter, Meeting, NewMeeting, RescheduleInput};
use tsched_core::store::page::Page;
use tsched_core::tz;

use super::work::{self, Work};
use super::{blank_none, CmdResult};
use crate::state::AppState;

/// How long the window waits for the host agent to carry out a meeting it queued (a team
/// store) before saying it is queued and will be done when an agent runs.
const AGENT_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// A meeting with its times in its own zone, ready to show.
#[derive(Debug, Clone, Serialize)]
pub struct MeetingItem {
    /// The stored meeting.
    #[serde(flatten)]
    pub meeting: Meeting,
    /// Start in the meeting's zone.
    pub start_local: String,
    /// End in the meeting's zone.
    pub end_local: String,
}

impl From<Meeting> for MeetingItem {
    fn from(m: Meeting) -> Self {
        Self {
            start_local: tz::format_local(&m.start_utc, &m.time_zone),
            end_local: tz::format_local(&m.end_utc, &m.time_zone),
            meeting: m,
        }
    }
}

/// The zone new meetings default to.
#[tauri::command(async)]
pub fn meetings_default_tz(state: State<'_, AppState>) -> CmdResult<String> {
    Ok(state.with_store(|s| meetings::default_time_zone(s))?)
}

/// One page of the meetings of one program (or of all programs the actor may view), by start
/// time: `{ items, next_cursor }`; `cursor` is the previous page's `next_cursor`.
pub fn page_inner(
    state: &AppState,
    program: Option<String>,
    meeting_state: Option<String>,
    cursor: Option<String>,
    limit: Option<u32>,
) -> CmdResult<Page<MeetingItem>> {
    let filter = ListFilter {
        program_code: blank_none(program),
        state: blank_none(meeting_state),
        after: blank_none(cursor),
        limit: limit.unwrap_or(0),
        ..Default::default()
    };
    let page = state.with_actor(|s, actor| meetings::list_page(s, actor, &filter))?;
    Ok(page.map(MeetingItem::from))
}

/// See [`page_inner`].
#[tauri::command(async)]
pub fn meetings_page(
    state: State<'_, AppState>,
    program: Option<String>,
    state_filter: Option<String>,
    cursor: Option<String>,
    limit: Option<u32>,
) -> CmdResult<Page<MeetingItem>> {
    page_inner(&state, program, state_filter, cursor, limit)
}

/// One meeting by id or externalId.
#[tauri::command(async)]
pub fn meetings_show(state: State<'_, AppState>, key: String) -> CmdResult<MeetingItem> {
    Ok(state
        .with_actor(|s, actor| meetings::show(s, actor, &key))?
        .into())
}

/// The create form.
#[derive(Debug, Clone, Deserialize)]
pub struct CreateInput {
    /// Program code.
    pub program: String,
    /// Subject.
    pub subject: String,
    /// Local start, `YYYY-MM-DD HH:MM` or `YYYY-MM-DDTHH:MM`.
    pub start: String,
    /// Local end in the same zone (or give `duration`).
    pub end: Option<String>,
    /// Duration: 45m, 1h, 1h30m or minutes.
    pub duration: Option<String>,
    /// IANA zone (default: the setting).
    pub time_zone: Option<String>,
    /// Participant addresses.
    pub participants: Vec<String>,
}

/// What create did.
#[derive(Debug, Clone, Serialize)]
pub struct CreatedView {
    /// The meeting.
    pub meeting: MeetingItem,
    /// Whether it already existed (same externalId).
    pub existing: bool,
}

/// Validates (no network) then creates the Teams meeting as the host.
pub fn create_inner(work: &Work, input: CreateInput) -> CmdResult<CreatedView> {
    let (start, end, dst) = meetings::parse_when(
        &input.start,
        blank_none(input.end).as_deref(),
        blank_none(input.duration).as_deref(),
        None,
    )?;
    let participants: Vec<String> = input
        .participants
        .iter()
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect();
    let new = NewMeeting {
        program: input.program,
        subject: input.subject,
        start,
        end,
        time_zone: blank_none(input.time_zone),
        dst,
        participants,
        external_id: None,
        batch_id: None,
    };
    let (mut store, actor) = work.open()?;
    if store.is_shared() {
        // A team store: the host agent creates it (this workstation holds no host token).
        let job = agent::enqueue_create(&store, &actor, &new)?;
        let v = work::block_on(agent::result_of(&store, job, AGENT_WAIT))?;
        let key = v["meeting"]["external_id"].as_str().unwrap_or_default();
        return Ok(CreatedView {
            existing: v["outcome"] == "existing",
            meeting: meetings::show(&store, &actor, key)?.into(),
        });
    }
    let created = work::block_on(meetings::create_as_host(
        &mut store,
        work.tokens(),
        &actor,
        new,
    ))?;
    Ok(CreatedView {
        existing: created.outcome == CreateOrGetOutcome::Existing,
        meeting: created.meeting.into(),
    })
}

/// See [`create_inner`].
#[tauri::command]
pub async fn meetings_create(
    state: State<'_, AppState>,
    input: CreateInput,
) -> CmdResult<CreatedView> {
    let w = Work::from_state(&state)?;
    work::off_thread(move || create_inner(&w, input)).await
}

/// What cancel did.
#[derive(Debug, Clone, Serialize)]
pub struct CancelledView {
    /// The meeting, now cancelled.
    pub meeting: MeetingItem,
    /// Notes (already cancelled, already gone upstream).
    pub notes: Vec<String>,
}

/// Cancels a meeting: lobby locked, deleted in Teams, confirmed gone.
pub fn cancel_inner(work: &Work, key: &str) -> CmdResult<CancelledView> {
    let (mut store, actor) = work.open()?;
    if store.is_shared() {
        let job = agent::enqueue_cancel(&store, &actor, key)?;
        let v = work::block_on(agent::result_of(&store, job, AGENT_WAIT))?;
        let notes = v["notes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|n| n.as_str().map(str::to_string))
            .collect();
        return Ok(CancelledView {
            meeting: meetings::show(&store, &actor, key)?.into(),
            notes,
        });
    }
    let session = work.session(&store)?;
    let c = work::block_on(meetings::cancel(&mut store, session.graph(), &actor, key))?;
    Ok(CancelledView {
        meeting: c.meeting.into(),
        notes: c.notes,
    })
}

/// See [`cancel_inner`].
#[tauri::command]
pub async fn meetings_cancel(state: State<'_, AppState>, key: String) -> CmdResult<CancelledView> {
    let w = Work::from_state(&state)?;
    work::off_thread(move || cancel_inner(&w, &key)).await
}

/// The reschedule form: a new local start with an end or a duration; zone and subject optional.
#[derive(Debug, Clone, Deserialize)]
pub struct RescheduleForm {
    /// Row id or externalId of the meeting.
    pub key: String,
    /// New local start, `YYYY-MM-DD HH:MM`.
    pub start: String,
    /// New local end (or give a duration).
    pub end: Option<String>,
    /// Duration such as `45m` or `1h30m`.
    pub duration: Option<String>,
    /// IANA zone; default the meeting's own.
    pub time_zone: Option<String>,
    /// New subject, if changed.
    pub subject: Option<String>,
}

/// Moves a meeting (Graph PATCH with start and end together); the join link stays the same.
pub fn reschedule_inner(work: &Work, form: RescheduleForm) -> CmdResult<MeetingItem> {
    let (start, end, dst) = meetings::parse_when(
        &form.start,
        blank_none(form.end).as_deref(),
        blank_none(form.duration).as_deref(),
        None,
    )?;
    let input = RescheduleInput {
        meeting: form.key,
        start,
        end,
        time_zone: blank_none(form.time_zone),
        dst,
        subject: blank_none(form.subject),
        participants: None,
    };
    let (mut store, actor) = work.open()?;
    if store.is_shared() {
        let key = input.meeting.clone();
        let job = agent::enqueue_reschedule(&store, &actor, &input)?;
        work::block_on(agent::result_of(&store, job, AGENT_WAIT))?;
        return Ok(meetings::show(&store, &actor, &key)?.into());
    }
    let session = work.session(&store)?;
    let row = work::block_on(meetings::reschedule(
        &mut store,
        session.graph(),
        &actor,
        input,
    ))?;
    Ok(row.into())
}

/// Reschedules a meeting.
#[tauri::command]
pub async fn meetings_reschedule(
    state: State<'_, AppState>,
    input: RescheduleForm,
) -> CmdResult<MeetingItem> {
    let w = Work::from_state(&state)?;
    work::off_thread(move || reschedule_inner(&w, input)).await
}

/// The `.ics` of one meeting (REQUEST, or CANCEL once cancelled).
#[tauri::command(async)]
pub fn meetings_ics(state: State<'_, AppState>, key: String) -> CmdResult<String> {
    Ok(state.with_actor(|s, actor| meetings::ics_for(s, actor, &key))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> (tempfile::TempDir, AppState) {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut s = tsched_core::Store::open_in(dir.path()).expect("store");
        let p = tsched_core::programs::NewProgram {
            name: "Engineering".into(),
            code: Some("eng".into()),
            description: None,
        };
        tsched_core::programs::add(&mut s, &tsched_core::Actor::local(), p)
            .expect("program added in setup mode");
        drop(s);
        let tokens = std::sync::Arc::new(tsched_core::auth::MemoryTokenStore::default());
        let st = AppState::with(Some(dir.path().to_path_buf()), None, tokens);
        (dir, st)
    }

    fn input() -> CreateInput {
        CreateInput {
            program: "eng".into(),
            subject: "Kick-off".into(),
            start: "2099-03-15T09:00".into(),
            end: None,
            duration: Some("45m".into()),
            time_zone: Some("Europe/Berlin".into()),
            participants: vec!["adele@contoso.example".into(), " ".into()],
        }
    }

    #[test]
    fn create_refuses_bad_input_with_the_field_before_any_network_use() {
        let (_dir, state) = state();
        let w = Work::from_state(&state).expect("data dir");
        let err = create_inner(
            &w,
            CreateInput {
                start: "next tuesday".into(),
                ..input()
            },
        )
        .expect_err("a start that is not a date is refused");
        assert_eq!(
            err.code, "invalid_input",
            "bad start is the caller's: {err:?}"
        );
        assert!(
            err.message.starts_with("start:"),
            "the message names the field: {}",
            err.message
        );
        let err = create_inner(
            &w,
            CreateInput {
                subject: "  ".into(),
                ..input()
            },
        )
        .expect_err("an empty subject is refused");
        assert!(
            err.message.starts_with("subject:"),
            "validation runs before the session: {}",
            err.message
        );
        let err = create_inner(&w, input()).expect_err("valid input but nothing connected");
        assert_eq!(
            err.code, "not_connected",
            "only valid input gets as far as the session: {err:?}"
        );
    }

    #[test]
    fn list_is_empty_at_first_and_times_show_in_the_meetings_zone() {
        let (_dir, state) = state();
        let rows = page_inner(&state, Some("eng".into()), None, None, None)
            .expect("list")
            .items;
        assert!(rows.is_empty(), "no meetings yet: {rows:?}");
        assert_eq!(
            tz::format_local("2099-03-15T08:00:00Z", "Europe/Berlin"),
            "2099-03-15 09:00 CET",
            "local times are what the form shows back"
        );
    }
}
