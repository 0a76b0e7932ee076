//! The PostgreSQL backend's connection layer, for team deployments: one shared database whose
//! server enforces the role matrix (per-operator logins, GRANTs, row-level security).
//!
//! This module owns reaching the server ([`PgConfig`], TLS per `sslmode`), a blocking
//! connection usable inside and outside tokio runtimes ([`PgConn`], [`PgTx`]), the errors a
//! person can act on (the `Pg*` variants of [`StoreError`](crate::store::StoreError)) and the
//! schema-version check ([`check_schema`]). The tables' SQL and the migrations are built on it
//! elsewhere; nothing here knows a table but `tsched_meta`. A password never reaches an error,
//! a `Debug` or a log line.

mod audit_log;
mod batches;
mod config;
mod conn;
mod directory_cache;
mod error;
pub mod exec;
mod init;
mod integration;
mod listen;
mod meetings;
mod migrate;
mod operators;
mod participants;
mod programs;
mod queue;
mod settings;
mod tls;

/// The team database's schema version this build reads and writes (`tsched_meta`).
pub const SCHEMA_VERSION: i64 = 1;

pub use config::{PgConfig, SslMode, DEFAULT_CONNECT_TIMEOUT, DEFAULT_PORT};
pub use conn::{check_schema, PgConn, PgTx, APPLICATION_NAME};
pub use error::{schema_message, TlsProblem};
pub use init::{bootstrap, init, ROLES, SCHEMA_V1};
pub use listen::{
    backoff, Change, ChangeFeed, Coalescer, FeedEvent, CHANNEL, COALESCE, FEED_APPLICATION_NAME,
    TABLES,
};
pub use migrate::{
    migrate_from_sqlite, MigrationReport, Step, TableCount, LOCAL_SETTINGS, SERVER_KEPT,
};
/// Row and parameter types of the statements, so callers need no direct tokio-postgres import.
pub use tokio_postgres::{types::ToSql, Row};
