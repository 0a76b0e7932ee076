//! Sign-in for the tenant integration: the host account's browser sign-in (authorization code
//! with PKCE over a loopback redirect, RFC 8252 / RFC 7636), organization-wide approval (admin
//! consent), the token manager that refreshes the access token, and the OS keyring that holds
//! the refresh token.
//!
//! One file per concern: `cloud` (base URLs), `pkce` (verifier, challenge, state), `consent`
//! (pure URL building, tenant and scope rules), `loopback` (the single-use listener), `opener`
//! (system browser seam), `flow` (the interactive legs), `tokens` (token endpoint + manager),
//! `keyring` (token store), `error`. This module never prints, never writes a file, and never
//! lets a token, code, verifier or `state` reach a message, a log or the store.

pub mod cloud;
pub mod consent;
pub mod error;
pub mod flow;
pub mod keyring;
pub mod loopback;
pub mod opener;
pub mod pkce;
pub mod tokens;

pub use cloud::{Cloud, Endpoints};
pub use error::{AuthError, IdentityAction, IdentityError};
pub use flow::{ConnectProgress, FlowConfig, DEFAULT_TIMEOUT};
pub use keyring::{KeyringTokenStore, MemoryTokenStore, TokenStore};
pub use loopback::{cancel_pair, CancelHandle, CancelToken, RedirectSpec};
pub use opener::{BrowserOpener, FnOpener, SystemBrowser};
pub use tokens::{TokenManager, TokenResponse};
