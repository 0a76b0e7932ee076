//! E2E harness.
