//! Table `integration`: metadata of the connected tenant (at most one row). Never tokens.
//! Filled in by the integration issue.
