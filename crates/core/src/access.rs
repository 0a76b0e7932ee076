//! Access levels: the one pure function that decides who may do what. Filled in by the programs-and-access issue.
