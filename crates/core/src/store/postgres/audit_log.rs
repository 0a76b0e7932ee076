//! PostgreSQL statements of the `audit_log` table, behind [`AuditTable`].
//!
//! The server stamps every row (roles.sql `tsched_audit_stamp`): `operator` is the session's
//! login and `at` the server's clock, whatever the entry says, and `real_actor` is always NULL
//! (the login is proven by the connection). A role that may not read the row it writes (a
//! coordinator's, a track admin's row of another program) cannot use `RETURNING`, so the id is
//! read back only when the row is readable; otherwise `audit_append` answers 0.

use super::exec::{get, params, Exec, PgRow};
use super::{Row, ToSql};
use crate::store::audit_log::{self as shared, AuditEntry, AuditFilter, AuditRow, AuditTable};
use crate::store::page::{self, Arg, Page, PageError};
use crate::store::StoreError;

const INSERT: &str = "INSERT INTO audit_log (at, operator, action, target, program_code, \
     before_json, after_json, graph_request_id, real_actor) \
     VALUES ('', '', $1, $2, $3, $4, $5, $6, NULL)";

fn from_row(db: &impl Exec, row: &Row) -> Result<AuditRow, StoreError> {
    shared::audit_from(&PgRow { db, row })
}

/// The same filters and order as SQLite's `list_query`: each filter a plain condition, then the
/// keyset `(at, id) < cursor`, newest first.
fn list_page(db: &impl Exec, f: &AuditFilter) -> Result<Page<AuditRow>, PageError> {
    let limit = page::limit(f.limit);
    let mut sql = String::from(
        "SELECT id, at, operator, action, target, program_code, before_json, after_json, \
         graph_request_id, real_actor FROM audit_log WHERE true",
    );
    let mut args: Vec<Arg> = Vec::new();
    let mut bind = |a: Arg| {
        args.push(a);
        format!("${}", args.len())
    };
    sql.push_str(&shared::page_constraints(f, &mut bind)?);
    let n = bind(Arg::Int(i64::from(limit) + 1));
    sql.push_str(&format!(" ORDER BY at DESC, id DESC LIMIT {n}"));
    let rows = db
        .query(&sql, &params(&args))?
        .iter()
        .map(|r| from_row(db, r))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(shared::finish_page(rows, limit))
}

impl<T: Exec> AuditTable for T {
    fn audit_append(&self, e: &AuditEntry<'_>) -> Result<i64, StoreError> {
        let before = e.before.as_ref().map(|v| v.to_string());
        let after = e.after.as_ref().map(|v| v.to_string());
        let params: [&(dyn ToSql + Sync); 6] = [
            &e.action,
            &e.target,
            &e.program_code,
            &before,
            &after,
            &e.graph_request_id,
        ];
        // RETURNING needs the new row to pass the read policy: the owner reads every row (it is
        // no operator), an operator the rows `tsched_may_read_audit` allows.
        let readable: bool = get(
            self,
            &self.query_one(
                "SELECT NOT tsched_is_operator() OR tsched_may_read_audit($1)",
                &[&e.program_code],
            )?,
            0,
        )?;
        if readable {
            let row = self.query_one(&format!("{INSERT} RETURNING id"), &params)?;
            get(self, &row, 0)
        } else {
            self.execute(INSERT, &params)?;
            Ok(0)
        }
    }

    fn audit_append_all(&self, entries: &[AuditEntry<'_>]) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        let col = |f: &dyn Fn(&AuditEntry<'_>) -> Option<String>| -> Vec<Option<String>> {
            entries.iter().map(f).collect()
        };
        let action = col(&|e| Some(e.action.to_string()));
        let target = col(&|e| Some(e.target.to_string()));
        let program = col(&|e| e.program_code.map(str::to_string));
        let before = col(&|e| e.before.as_ref().map(|v| v.to_string()));
        let after = col(&|e| e.after.as_ref().map(|v| v.to_string()));
        let request = col(&|e| e.graph_request_id.map(str::to_string));
        // In the given order (ids follow it); stamped like any row (operator, at, real_actor).
        self.execute(
            "INSERT INTO audit_log (at, operator, action, target, program_code, before_json,
                 after_json, graph_request_id, real_actor)
             SELECT '', '', t.action, t.target, t.program_code, t.before_json, t.after_json,
                 t.graph_request_id, NULL
             FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
                 WITH ORDINALITY
                 AS t (action, target, program_code, before_json, after_json, graph_request_id, n)
             ORDER BY t.n",
            &[&action, &target, &program, &before, &after, &request],
        )?;
        Ok(())
    }

    fn audit_list(&self, f: &AuditFilter) -> Result<Vec<AuditRow>, StoreError> {
        list_page(self, f).map(|p| p.items).map_err(|e| match e {
            PageError::Store(e) => e,
            other => StoreError::Pg {
                message: other.to_string(),
                sqlstate: None,
                constraint: None,
            },
        })
    }

    fn audit_page(&self, f: &AuditFilter) -> Result<Page<AuditRow>, PageError> {
        list_page(self, f)
    }
}
