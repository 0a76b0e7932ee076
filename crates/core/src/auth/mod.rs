//! Sign-in for the tenant integration and for operators (PKCE, loopback redirect, admin consent,
//! token refresh, keyring). Filled in by the integration issue.
