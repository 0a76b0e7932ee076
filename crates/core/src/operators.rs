//! Operators (the people who use the app) and their roles. Filled in by the programs-and-access issue.
