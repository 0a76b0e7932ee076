//! Teams Scheduler core: the product's domain and use cases (programs, participants, operators
//! and roles, membership checks, meetings, batches, audit, diagnostics), its SQLite store
//! (`store`), the Microsoft Graph client (`graph`) and sign-in (`auth`, `signin`, `integration`).
//! Both front ends — the Tauri desktop app and the `tsched` CLI — are thin layers over this crate.
//!
//! This crate must not depend on Tauri or clap, must not print, and must never let a token reach
//! SQLite, logs, audit rows, exports or error messages.

pub mod access;
pub mod actor;
pub mod agent;
pub mod audit;
pub mod auth;
pub mod batch;
pub mod demo;
pub mod diagnostics;
pub mod error;
pub mod exports;
pub mod graph;
pub mod ics;
pub mod identity;
pub mod integration;
pub mod meetings;
pub mod membership;
pub mod operators;
pub mod participants;
pub mod paths;
pub mod programs;
pub mod roles;
pub mod secret;
pub mod signin;
pub mod store;
pub mod time;
pub mod tls;
pub mod tz;
pub mod welcome;

pub use actor::Actor;
pub use error::{Error, ErrorCode};
pub use store::Store;
