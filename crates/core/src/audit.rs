//! The audit trail's use-case side: what a change records. Rows are appended inside the same
//! transaction as the change they describe, so a change and its audit row land together or not at
//! all. The table refuses UPDATE and DELETE (see `store::audit_log`).

pub use crate::store::audit_log::{AuditEntry, AuditFilter, AuditRow};
