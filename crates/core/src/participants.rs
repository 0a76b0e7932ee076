//! Participants of a program. Filled in by the programs-and-access issue.
