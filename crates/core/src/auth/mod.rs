//! Sign-in for the tenant integration: the host account's browser sign-in (authorization code
//! with PKCE over a loopback redirect, RFC 8252 / RFC 7636), organization-wide approval (admin
//! consent), the token manager that refreshes the access token, and the OS keyring that holds
//! the refresh token.
//!
//! The OAuth 2.0 protocol legs (authorize URL with PKCE S256 and `state`, code exchange,
//! refresh) are the `oauth2` crate's. One file per concern of ours: `cloud` (base URLs),
//! `consent` (admin-consent URL, tenant and scope rules), `loopback` (the single-use listener),
//! `opener` (system browser seam), `flow` (the interactive legs), `tokens` (token endpoint
//! transport, Entra's error body, the manager), `keyring` (token store), `error`. This module
//! never prints, never writes a file, and never lets a token, code, verifier or `state` reach a
//! message, a log or the store.

pub mod cloud;
pub mod consent;
pub mod error;
pub mod flow;
pub mod id_token;
pub mod keyring;
pub mod loopback;
pub mod opener;
pub mod tokens;

pub use cloud::{Cloud, Endpoints};
pub use error::{AuthError, IdentityAction, IdentityError};
pub use flow::{ConnectProgress, FlowConfig, DEFAULT_TIMEOUT};
pub use keyring::{KeyringTokenStore, MemoryTokenStore, TokenStore};
pub use loopback::{cancel_pair, CancelHandle, CancelToken, RedirectSpec};
pub use opener::{BrowserOpener, FnOpener};
pub use tokens::{TokenManager, TokenResponse};
