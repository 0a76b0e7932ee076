//! Table `participants`. Filled in by the programs-and-access issue.
