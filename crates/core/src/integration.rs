//! The tenant integration use cases: connect, status, remove. Filled in by the integration issue.
