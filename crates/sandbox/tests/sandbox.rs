//! Integration tests: every test spawns a sandbox on 127.0.0.1:0 and talks real HTTP to it.

mod sandbox {
    pub mod common;
    mod contract;
    mod events;
    mod graph;
    mod identity;
    mod msal;
    mod oidc;
}
