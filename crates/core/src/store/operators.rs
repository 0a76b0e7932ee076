//! Tables `operators` and `operator_roles`. Filled in by the programs-and-access issue.
