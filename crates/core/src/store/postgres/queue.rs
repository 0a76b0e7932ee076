//! PostgreSQL statements of the host agent's queue (`work_queue`) and its agents (`agents`),
//! behind [`QueueTable`]. Times are the server's (`clock_timestamp()`), shown as RFC 3339 UTC.

use super::exec::{changed, get, Exec};
use super::Row;
use crate::store::queue::{AgentRow, JobKind, JobRow, JobState, NewJob, QueueDepth, QueueTable};
use crate::store::StoreError;

/// A `timestamptz` column as the store's text form.
macro_rules! utc {
    ($col:literal) => {
        concat!(
            "to_char(",
            $col,
            " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
        )
    };
}

/// The columns [`job_from`] reads, in order.
const JOB_COLS: &str = concat!(
    "id, kind, program_id, programs, payload, state, requested_by, ",
    utc!("requested_at"),
    ", claimed_by, ",
    utc!("claim_until"),
    ", attempts, batch_id, result, error, ",
    utc!("finished_at")
);

fn job_from(db: &impl Exec, row: &Row) -> Result<JobRow, StoreError> {
    let kind: String = get(db, row, 1)?;
    let state: String = get(db, row, 5)?;
    Ok(JobRow {
        id: get(db, row, 0)?,
        kind: JobKind::parse(&kind)
            .ok_or_else(|| super::exec::bad_value(format!("unknown job kind '{kind}'")))?,
        program_id: get(db, row, 2)?,
        programs: get(db, row, 3)?,
        payload: get(db, row, 4)?,
        state: JobState::parse(&state)
            .ok_or_else(|| super::exec::bad_value(format!("unknown job state '{state}'")))?,
        requested_by: get(db, row, 6)?,
        requested_at: get(db, row, 7)?,
        claimed_by: get(db, row, 8)?,
        claim_until: get(db, row, 9)?,
        attempts: get(db, row, 10)?,
        batch_id: get(db, row, 11)?,
        result: get(db, row, 12)?,
        error: get(db, row, 13)?,
        finished_at: get(db, row, 14)?,
    })
}

impl<T: Exec> QueueTable for T {
    fn queue_insert(&self, job: &NewJob<'_>) -> Result<i64, StoreError> {
        let row = self.query_one(
            "INSERT INTO work_queue (kind, program_id, programs, payload, batch_id)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
            &[
                &job.kind.as_str(),
                &job.program_id,
                &job.programs,
                &job.payload,
                &job.batch_id,
            ],
        )?;
        get(self, &row, 0)
    }

    fn queue_job(&self, id: i64) -> Result<Option<JobRow>, StoreError> {
        self.query_opt(
            &format!("SELECT {JOB_COLS} FROM work_queue WHERE id = $1"),
            &[&id],
        )?
        .map(|r| job_from(self, &r))
        .transpose()
    }

    fn queue_claim(&self, agent: &str, ttl_secs: i64) -> Result<Option<JobRow>, StoreError> {
        let ttl = ttl_secs as f64;
        self.query_opt(
            &format!(
                "UPDATE work_queue SET state = 'claimed', claimed_by = $1,
                        claimed_login = session_user, claimed_at = clock_timestamp(),
                        claim_until = clock_timestamp() + make_interval(secs => $2),
                        attempts = attempts + 1
                 WHERE id = (SELECT id FROM work_queue
                             WHERE state = 'queued'
                                OR (state = 'claimed' AND claim_until < clock_timestamp())
                             ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
                 RETURNING {JOB_COLS}"
            ),
            &[&agent, &ttl],
        )?
        .map(|r| job_from(self, &r))
        .transpose()
    }

    fn queue_renew(&self, id: i64, agent: &str, ttl_secs: i64) -> Result<bool, StoreError> {
        let ttl = ttl_secs as f64;
        self.execute(
            "UPDATE work_queue SET claim_until = clock_timestamp() + make_interval(secs => $3)
             WHERE id = $1 AND state = 'claimed' AND claimed_by = $2",
            &[&id, &agent, &ttl],
        )
        .map(|n| n > 0)
    }

    fn queue_finish(
        &self,
        id: i64,
        agent: &str,
        state: JobState,
        result: Option<&str>,
        error: Option<&str>,
    ) -> Result<bool, StoreError> {
        self.execute(
            "UPDATE work_queue SET state = $3, result = $4, error = $5,
                    finished_at = clock_timestamp(), claim_until = NULL
             WHERE id = $1 AND state = 'claimed' AND claimed_by = $2",
            &[&id, &agent, &state.as_str(), &result, &error],
        )
        .map(|n| n > 0)
    }

    fn queue_release(&self, id: i64, agent: &str) -> Result<bool, StoreError> {
        self.execute(
            "UPDATE work_queue SET state = 'queued', claimed_by = NULL, claimed_login = NULL,
                    claimed_at = NULL, claim_until = NULL
             WHERE id = $1 AND state = 'claimed' AND claimed_by = $2",
            &[&id, &agent],
        )
        .map(|n| n > 0)
    }

    fn queue_set_batch(&self, id: i64, agent: &str, batch_id: i64) -> Result<bool, StoreError> {
        self.execute(
            "UPDATE work_queue SET batch_id = $3
             WHERE id = $1 AND state = 'claimed' AND claimed_by = $2",
            &[&id, &agent, &batch_id],
        )
        .map(|n| n > 0)
    }

    fn queue_depth(&self) -> Result<QueueDepth, StoreError> {
        let row = self.query_one(
            &format!(
                "SELECT count(*) FILTER (WHERE state = 'queued'),
                        count(*) FILTER (WHERE state = 'claimed'),
                        {},
                        extract(epoch FROM clock_timestamp()
                                - min(requested_at) FILTER (WHERE state = 'queued'))::float8
                 FROM work_queue WHERE state IN ('queued', 'claimed')",
                utc!("min(requested_at) FILTER (WHERE state = 'queued')")
            ),
            &[],
        )?;
        Ok(QueueDepth {
            queued: get(self, &row, 0)?,
            claimed: get(self, &row, 1)?,
            oldest_waiting_since: get(self, &row, 2)?,
            oldest_waiting_secs: get(self, &row, 3)?,
        })
    }

    fn queue_recent(&self, limit: u32) -> Result<Vec<JobRow>, StoreError> {
        let limit = i64::from(limit);
        self.query(
            &format!("SELECT {JOB_COLS} FROM work_queue ORDER BY id DESC LIMIT $1"),
            &[&limit],
        )?
        .iter()
        .map(|r| job_from(self, r))
        .collect()
    }

    fn queue_act_for(&self, requester: Option<&str>) -> Result<(), StoreError> {
        let value = requester.unwrap_or("");
        self.query_one(
            "SELECT set_config('tsched.acting_for', $1, false)",
            &[&value],
        )
        .map(|_| ())
    }

    fn queue_batch_of_uid(&self, uid: &str) -> Result<Option<i64>, StoreError> {
        match self.query_opt("SELECT id FROM batches WHERE uid = $1", &[&uid])? {
            Some(r) => Ok(Some(get(self, &r, 0)?)),
            None => Ok(None),
        }
    }

    fn queue_operator_of_login(&self, login: &str) -> Result<Option<String>, StoreError> {
        match self.query_opt("SELECT upn FROM operators WHERE login = $1", &[&login])? {
            Some(r) => Ok(Some(get(self, &r, 0)?)),
            None => Ok(None),
        }
    }

    fn agent_announce(&self, name: &str, host: &str, pid: i64) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO agents (name, host, pid, state) VALUES ($1, $2, $3, 'running')
             ON CONFLICT (name) DO UPDATE SET heartbeat_at = clock_timestamp(),
                 state = 'running', pause_reason = NULL",
            &[&name, &host, &pid],
        )
        .map(|_| ())
    }

    fn agent_beat(
        &self,
        name: &str,
        state: &str,
        pause_reason: Option<&str>,
        current_job: Option<i64>,
    ) -> Result<bool, StoreError> {
        self.execute(
            "UPDATE agents SET heartbeat_at = clock_timestamp(), state = $2, pause_reason = $3,
                    current_job = $4
             WHERE name = $1",
            &[&name, &state, &pause_reason, &current_job],
        )
        .map(|n| changed(n) > 0)
    }

    fn agents(&self, within_secs: i64) -> Result<Vec<AgentRow>, StoreError> {
        let within = within_secs as f64;
        let rows = self.query(
            &format!(
                "SELECT name, login, host, pid, {}, {},
                        extract(epoch FROM clock_timestamp() - heartbeat_at)::float8,
                        state, pause_reason, current_job
                 FROM agents
                 WHERE heartbeat_at > clock_timestamp() - make_interval(secs => $1)
                 ORDER BY heartbeat_at DESC",
                utc!("started_at"),
                utc!("heartbeat_at")
            ),
            &[&within],
        )?;
        rows.iter()
            .map(|r| {
                Ok(AgentRow {
                    name: get(self, r, 0)?,
                    login: get(self, r, 1)?,
                    host: get(self, r, 2)?,
                    pid: get(self, r, 3)?,
                    started_at: get(self, r, 4)?,
                    heartbeat_at: get(self, r, 5)?,
                    heartbeat_age_secs: get(self, r, 6)?,
                    state: get(self, r, 7)?,
                    pause_reason: get(self, r, 8)?,
                    current_job: get(self, r, 9)?,
                })
            })
            .collect()
    }
}
