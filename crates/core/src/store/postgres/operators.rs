//! PostgreSQL statements of the `operators` and `operator_roles` tables, behind
//! [`OperatorTable`].
//!
//! Reads are plain queries (row-level security shows a global admin or support the whole roster,
//! any other operator their own row and roles). Writes go through roles.sql's SECURITY DEFINER
//! roster functions, which also keep each operator's login and group memberships in step; they
//! name operators by UPN and programs by code, so the ids the trait takes are looked up first.
//! Who may call them:
//! - `tsched_bootstrap`: the database owner, while the roster is empty (the first operator, who
//!   becomes global admin at once); [`OperatorTable::operator_insert`] uses it then;
//! - `tsched_operator_add/remove/set_active`, `tsched_role_grant/revoke`: an active global admin
//!   (never the owner, who is no operator); nobody grants themselves a role;
//! - `tsched_operator_link_identity`: any operator, for their own row only (the owner, who may
//!   write the table directly, links any row).
//!
//! The database keeps an active global admin by constraint triggers: a change that would leave
//! none fails with SQLSTATE 23514 (check_violation) before the use case's own check runs.

use super::exec::{changed, get, Exec, PgRow};
use super::Row;
use crate::roles::{Role, RoleGrant};
use crate::store::operators::{self as shared, OperatorRow, OperatorTable, SELECT};
use crate::store::page::{self, Page, PageError};
use crate::store::StoreError;

const KIND: &str = "operators";

fn from_row(db: &impl Exec, row: &Row) -> Result<OperatorRow, StoreError> {
    shared::operator_from(&PgRow { db, row })
}

/// The roles of each operator of `ids`, as (operator id, grant).
fn roles_of_many(db: &impl Exec, ids: &[i64]) -> Result<Vec<(i64, RoleGrant)>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows = db.query(
        "SELECT r.operator_id, r.role, p.code FROM operator_roles r \
         LEFT JOIN programs p ON p.id = r.program_id WHERE r.operator_id = ANY($1)",
        &[&ids],
    )?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let id: i64 = get(db, r, 0)?;
        let role: String = get(db, r, 1)?;
        let program: Option<String> = get(db, r, 2)?;
        if let Some(role) = shared::stored_role(&role) {
            out.push((id, RoleGrant { role, program }));
        }
    }
    Ok(out)
}

/// Fills in the roles of `ops` (sorted, as SQLite's backend gives them).
fn with_roles(db: &impl Exec, mut ops: Vec<OperatorRow>) -> Result<Vec<OperatorRow>, StoreError> {
    let ids: Vec<i64> = ops.iter().map(|o| o.id).collect();
    for (id, grant) in roles_of_many(db, &ids)? {
        if let Some(op) = ops.iter_mut().find(|o| o.id == id) {
            op.roles.push(grant);
        }
    }
    for op in &mut ops {
        op.roles.sort();
    }
    Ok(ops)
}

fn one(db: &impl Exec, row: Option<Row>) -> Result<Option<OperatorRow>, StoreError> {
    match row {
        Some(r) => Ok(with_roles(db, vec![from_row(db, &r)?])?.pop()),
        None => Ok(None),
    }
}

/// The folding of SQLite's NOCASE (ASCII letters only), which `operators.login` holds.
fn nocase(s: &str) -> String {
    s.to_ascii_lowercase()
}

/// The UPN of operator `id`, if there is one.
fn upn_of(db: &impl Exec, id: i64) -> Result<Option<String>, StoreError> {
    match db.query_opt("SELECT upn FROM operators WHERE id = $1", &[&id])? {
        Some(r) => Ok(Some(get(db, &r, 0)?)),
        None => Ok(None),
    }
}

/// What SQLite's foreign keys answer for a grant naming a missing operator or program.
fn missing(what: &str, constraint: &str) -> StoreError {
    StoreError::Pg {
        message: format!("FOREIGN KEY constraint failed: no such {what}"),
        sqlstate: Some("23503".to_string()),
        constraint: Some(constraint.to_string()),
    }
}

fn list_page(
    db: &impl Exec,
    after: Option<&str>,
    limit: u32,
) -> Result<Page<OperatorRow>, PageError> {
    let after: Option<String> = after.map(|c| page::decode(KIND, c)).transpose()?;
    let limit = page::limit(limit);
    let fetch = i64::from(limit) + 1;
    // The cursor holds the last UPN as shown; NOCASE order is the order of `login`.
    let rows = match after {
        Some(upn) => db.query(
            &format!("{SELECT} WHERE login > $1 ORDER BY login LIMIT $2"),
            &[&nocase(&upn), &fetch],
        )?,
        None => db.query(&format!("{SELECT} ORDER BY login LIMIT $1"), &[&fetch])?,
    };
    let ops = rows
        .iter()
        .map(|r| from_row(db, r))
        .collect::<Result<Vec<_>, _>>()?;
    let ops = with_roles(db, ops)?;
    Ok(page::finish(KIND, ops, limit, |o| o.upn.clone()))
}

impl<T: Exec> OperatorTable for T {
    fn operator_roles(&self, operator_id: i64) -> Result<Vec<RoleGrant>, StoreError> {
        let mut roles: Vec<RoleGrant> = roles_of_many(self, &[operator_id])?
            .into_iter()
            .map(|(_, g)| g)
            .collect();
        roles.sort();
        Ok(roles)
    }

    fn operator_count(&self) -> Result<i64, StoreError> {
        get(
            self,
            &self.query_one("SELECT count(*) FROM operators", &[])?,
            0,
        )
    }

    fn operator_count_active_global_admins(&self) -> Result<i64, StoreError> {
        get(
            self,
            &self.query_one(
                "SELECT count(DISTINCT o.id) FROM operators o \
                 JOIN operator_roles r ON r.operator_id = o.id \
                 WHERE o.active AND r.role = 'global_admin'",
                &[],
            )?,
            0,
        )
    }

    fn operator_by_upn(&self, upn: &str) -> Result<Option<OperatorRow>, StoreError> {
        let row = self.query_opt(
            &format!("{SELECT} WHERE login = $1"),
            &[&nocase(upn.trim())],
        )?;
        one(self, row)
    }

    fn operator_by_object_id(&self, object_id: &str) -> Result<Option<OperatorRow>, StoreError> {
        let row = self.query_opt(&format!("{SELECT} WHERE object_id = $1"), &[&object_id])?;
        one(self, row)
    }

    fn operators_list(&self) -> Result<Vec<OperatorRow>, StoreError> {
        let ops = self
            .query(&format!("{SELECT} ORDER BY login"), &[])?
            .iter()
            .map(|r| from_row(self, r))
            .collect::<Result<Vec<_>, _>>()?;
        with_roles(self, ops)
    }

    fn operators_page(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<OperatorRow>, PageError> {
        list_page(self, after, limit)
    }

    /// While the roster is empty (the owner's setup), `tsched_bootstrap`: the operator is global
    /// admin at once (the use case's following grant of global admin finds it held). Otherwise
    /// `tsched_operator_add` (a global admin). An object id is written directly, which only the
    /// owner may (a global admin adds operators by UPN; they link themselves at sign-in).
    fn operator_insert(
        &self,
        upn: &str,
        object_id: Option<&str>,
        display_name: &str,
    ) -> Result<i64, StoreError> {
        let empty: bool = get(
            self,
            &self.query_one("SELECT NOT EXISTS (SELECT 1 FROM operators)", &[])?,
            0,
        )?;
        let sql = if empty {
            "SELECT tsched_bootstrap($1, $2)"
        } else {
            "SELECT tsched_operator_add($1, $2)"
        };
        let id: i64 = get(self, &self.query_one(sql, &[&upn, &display_name])?, 0)?;
        if let Some(object_id) = object_id {
            self.execute(
                "UPDATE operators SET object_id = $2 WHERE id = $1",
                &[&id, &object_id],
            )?;
        }
        Ok(id)
    }

    fn operator_delete(&self, id: i64) -> Result<usize, StoreError> {
        let Some(upn) = upn_of(self, id)? else {
            return Ok(0);
        };
        self.execute("SELECT tsched_operator_remove($1)", &[&upn])?;
        Ok(1)
    }

    fn operator_set_active(&self, id: i64, active: bool) -> Result<usize, StoreError> {
        let Some(upn) = upn_of(self, id)? else {
            return Ok(0);
        };
        self.execute(
            "SELECT tsched_operator_set_active($1, $2)",
            &[&upn, &active],
        )?;
        Ok(1)
    }

    /// The operator's own session: `tsched_operator_link_identity` (which records an object id
    /// once: a different one later changes nothing and answers 0). Any other row: a direct
    /// UPDATE, which only the owner may make.
    fn operator_link_identity(
        &self,
        id: i64,
        object_id: &str,
        display_name: &str,
    ) -> Result<usize, StoreError> {
        let Some(row) = self.query_opt(
            "SELECT login = session_user FROM operators WHERE id = $1",
            &[&id],
        )?
        else {
            return Ok(0);
        };
        let own: bool = get(self, &row, 0)?;
        if own {
            let linked: bool = get(
                self,
                &self.query_one(
                    "SELECT tsched_operator_link_identity($1, $2)",
                    &[&object_id, &display_name],
                )?,
                0,
            )?;
            return Ok(usize::from(linked));
        }
        let n = self.execute(
            "UPDATE operators SET object_id = $2, \
             display_name = CASE WHEN $3 = '' THEN display_name ELSE $3 END WHERE id = $1",
            &[&id, &object_id, &display_name],
        )?;
        Ok(changed(n))
    }

    /// `tsched_role_grant`. A missing operator or program is refused as SQLite's foreign keys
    /// refuse it (SQLSTATE 23503); a grant already held is a unique violation (23505), except
    /// the global admin `tsched_bootstrap` made in the owner's setup, which answers 1 as the
    /// grant SQLite makes at that point.
    fn operator_grant(
        &self,
        operator_id: i64,
        role: Role,
        program_id: Option<i64>,
    ) -> Result<usize, StoreError> {
        let row = self.query_opt(
            "SELECT o.upn, p.code, \
                 EXISTS (SELECT 1 FROM operator_roles r WHERE r.operator_id = o.id \
                         AND r.role = $2 AND r.program_id IS NOT DISTINCT FROM $3), \
                 tsched_is_operator() \
             FROM operators o LEFT JOIN programs p ON p.id = $3 WHERE o.id = $1",
            &[&operator_id, &role.as_str(), &program_id],
        )?;
        let Some(row) = row else {
            return Err(missing("operator", "operator_roles_operator_id_fkey"));
        };
        let upn: String = get(self, &row, 0)?;
        let code: Option<String> = get(self, &row, 1)?;
        let held: bool = get(self, &row, 2)?;
        let session_is_operator: bool = get(self, &row, 3)?;
        if program_id.is_some() && code.is_none() {
            return Err(missing("program", "operator_roles_program_id_fkey"));
        }
        if held && role == Role::GlobalAdmin && !session_is_operator {
            return Ok(1);
        }
        self.execute(
            "SELECT tsched_role_grant($1, $2, $3)",
            &[&upn, &role.as_str(), &code],
        )?;
        Ok(1)
    }

    fn operator_revoke(
        &self,
        operator_id: i64,
        role: Role,
        program_id: Option<i64>,
    ) -> Result<usize, StoreError> {
        let Some(row) = self.query_opt(
            "SELECT o.upn, p.code FROM operators o LEFT JOIN programs p ON p.id = $2 \
             WHERE o.id = $1",
            &[&operator_id, &program_id],
        )?
        else {
            return Ok(0);
        };
        let upn: String = get(self, &row, 0)?;
        let code: Option<String> = get(self, &row, 1)?;
        if program_id.is_some() && code.is_none() {
            return Ok(0);
        }
        let revoked: bool = get(
            self,
            &self.query_one(
                "SELECT tsched_role_revoke($1, $2, $3)",
                &[&upn, &role.as_str(), &code],
            )?,
            0,
        )?;
        Ok(usize::from(revoked))
    }
}
