//! Errors of sign-in, token refresh and the keyring, each phrased as the action a person can
//! take. Identity-platform errors keep their `AADSTS` code (reference-error-codes:
//! https://learn.microsoft.com/en-us/entra/identity-platform/reference-error-codes).
//! No variant ever carries a token, code, verifier or `state`.

use std::fmt;
use std::time::Duration;

/// What the person should do about an identity-platform error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityAction {
    /// AADSTS700082 (refresh token expired by inactivity), 50173 (grant revoked), and other
    /// `invalid_grant` on refresh: sign the host account in again.
    Reconnect,
    /// AADSTS65001: nobody consented; a global admin must grant organization-wide approval.
    AdminConsent,
    /// AADSTS65004 or `error_subcode=cancel`: the person cancelled.
    Cancelled,
    /// AADSTS50076 / 50079: multi-factor authentication must be completed interactively.
    CompleteMfa,
    /// Anything else: show the code and description verbatim.
    Other,
}

/// An error answered by the identity platform (token endpoint body or redirect query).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityError {
    /// OAuth `error` (`invalid_grant`, `consent_required`, ...).
    pub error: String,
    /// The first AADSTS number, from `error_codes` or the description.
    pub aadsts: Option<u32>,
    /// `error_description`, line breaks folded to spaces.
    pub description: String,
    /// `error_subcode` / `suberror` when present (`cancel`, `consent_required`, ...).
    pub subcode: Option<String>,
    /// Where a global admin grants organization-wide approval, when known (for 65001).
    pub admin_consent_url: Option<String>,
}

impl IdentityError {
    /// Builds one from the parts an error response carries.
    pub fn new(error: &str, description: &str, codes: &[u32], subcode: Option<&str>) -> Self {
        let aadsts = codes.first().copied().or_else(|| parse_aadsts(description));
        Self {
            error: error.to_string(),
            aadsts,
            description: description
                .split(['\r', '\n'])
                .filter(|l| !l.trim().is_empty())
                .collect::<Vec<_>>()
                .join(" "),
            subcode: subcode.map(str::to_string),
            admin_consent_url: None,
        }
    }

    /// What to do about it.
    pub fn action(&self) -> IdentityAction {
        match self.aadsts {
            Some(700082) | Some(50173) => IdentityAction::Reconnect,
            Some(65001) => IdentityAction::AdminConsent,
            Some(65004) => IdentityAction::Cancelled,
            Some(50076) | Some(50079) => IdentityAction::CompleteMfa,
            _ if self.subcode.as_deref() == Some("cancel") => IdentityAction::Cancelled,
            _ => IdentityAction::Other,
        }
    }

    fn code_label(&self) -> String {
        match self.aadsts {
            Some(n) => format!("AADSTS{n}"),
            None => self.error.clone(),
        }
    }
}

impl fmt::Display for IdentityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let code = self.code_label();
        match self.action() {
            IdentityAction::Reconnect => write!(
                f,
                "the host account's sign-in has expired or was revoked ({code}); reconnect the host account"
            ),
            IdentityAction::AdminConsent => {
                write!(f, "Teams Scheduler is not approved in this tenant ({code}); ask a global admin to grant organization-wide approval")?;
                if let Some(url) = &self.admin_consent_url {
                    write!(f, " at {url}")?;
                }
                Ok(())
            }
            IdentityAction::Cancelled => write!(f, "sign-in was cancelled ({code})"),
            IdentityAction::CompleteMfa => write!(
                f,
                "multi-factor authentication is required ({code}); connect again and complete MFA in the browser"
            ),
            IdentityAction::Other => {
                if self.description.is_empty() {
                    write!(f, "the identity platform refused: {code} ({})", self.error)
                } else if self.description.starts_with(&code) {
                    write!(f, "the identity platform refused: {}", self.description)
                } else {
                    write!(f, "the identity platform refused: {code}: {}", self.description)
                }
            }
        }
    }
}

/// `AADSTS65004: …` → 65004.
pub fn parse_aadsts(description: &str) -> Option<u32> {
    let at = description.find("AADSTS")?;
    let digits: String = description[at + 6..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// Errors of the `auth` module.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The identity platform answered with an error; see [`IdentityError::action`].
    #[error("{0}")]
    Identity(IdentityError),
    /// The redirect had neither `code` nor `error`.
    #[error("the sign-in response carried no authorization code; start the sign-in again")]
    MissingCode,
    /// The admin consent redirect did not say `admin_consent=True`.
    #[error("the approval response did not confirm organization-wide approval; start again")]
    ConsentNotConfirmed,
    /// Nobody finished in the browser in time.
    #[error("no answer from the browser within {} seconds; start the sign-in again", .after.as_secs())]
    Timeout {
        /// How long we waited.
        after: Duration,
    },
    /// The app or user cancelled the wait.
    #[error("sign-in was cancelled")]
    Aborted,
    /// The fixed loopback port from the settings is taken.
    #[error("port {port} on localhost is in use by another program; close it or configure another redirect port")]
    PortInUse {
        /// The port.
        port: u16,
    },
    /// The loopback listener could not be started.
    #[error("cannot listen on localhost for the sign-in response: {0}")]
    Listener(#[source] std::io::Error),
    /// The browser could not be started.
    #[error("cannot open the browser ({reason}); open this address yourself: {url}")]
    Browser {
        /// What failed.
        reason: String,
        /// The address to open by hand.
        url: String,
    },
    /// The OS keyring is locked, missing or refused the operation. Never falls back to a file.
    #[error("the OS keyring is unavailable or locked ({reason}); unlock it (or start a Secret Service such as GNOME Keyring) and try again — Teams Scheduler never stores tokens in a file")]
    Keyring {
        /// What the keyring said.
        reason: String,
    },
    /// The refresh token is not in the keyring.
    #[error(
        "the host account's sign-in is missing from the OS keyring; reconnect the host account"
    )]
    NoStoredToken,
    /// The token response had no refresh token (offline_access not granted).
    #[error("the sign-in returned no refresh token (offline_access was not granted); check the app registration's permissions and connect again")]
    NoRefreshToken,
    /// The identity platform could not be reached.
    #[error("cannot reach the identity platform at {host}: {reason}")]
    Network {
        /// Host name tried.
        host: String,
        /// What went wrong (never a token).
        reason: String,
    },
    /// The identity platform answered something unreadable.
    #[error("unexpected answer from the identity platform (HTTP {status}): {detail}")]
    BadResponse {
        /// HTTP status.
        status: u16,
        /// What could not be read; never a token.
        detail: String,
    },
}

impl AuthError {
    /// The identity error inside, if any.
    pub fn identity(&self) -> Option<&IdentityError> {
        match self {
            AuthError::Identity(e) => Some(e),
            _ => None,
        }
    }

    /// The stable code front ends show.
    pub fn code(&self) -> crate::ErrorCode {
        use crate::ErrorCode as C;
        match self {
            AuthError::Identity(e) => match e.action() {
                IdentityAction::Reconnect => C::ReconnectRequired,
                IdentityAction::AdminConsent => C::ConsentRequired,
                IdentityAction::Cancelled => C::SignInCancelled,
                IdentityAction::CompleteMfa => C::MfaRequired,
                IdentityAction::Other => C::SignInFailed,
            },
            AuthError::NoStoredToken => C::ReconnectRequired,
            AuthError::Aborted => C::SignInCancelled,
            AuthError::Timeout { .. } => C::Timeout,
            AuthError::Keyring { .. } => C::KeyringUnavailable,
            AuthError::Network { .. } => C::Network,
            _ => C::SignInFailed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ident(desc: &str, codes: &[u32], sub: Option<&str>) -> IdentityError {
        IdentityError::new("invalid_grant", desc, codes, sub)
    }

    #[test]
    fn inactivity_and_revocation_ask_to_reconnect() {
        for code in [700082, 50173] {
            let e = ident(
                &format!("AADSTS{code}: expired.\r\nTrace ID: x"),
                &[code],
                None,
            );
            assert_eq!(
                e.action(),
                IdentityAction::Reconnect,
                "AADSTS{code} means reconnect"
            );
            let msg = e.to_string();
            assert!(msg.contains("reconnect the host account"), "{msg}");
            assert!(
                msg.contains(&format!("AADSTS{code}")),
                "the code must stay visible: {msg}"
            );
        }
    }

    #[test]
    fn missing_consent_names_the_admin_and_the_url() {
        let mut e = ident(
            "AADSTS65001: The user or administrator has not consented",
            &[],
            None,
        );
        e.admin_consent_url = Some("https://login.example/t/v2.0/adminconsent?x".into());
        assert_eq!(
            e.action(),
            IdentityAction::AdminConsent,
            "65001 parsed from the description"
        );
        let msg = e.to_string();
        assert!(
            msg.contains("global admin") && msg.contains("adminconsent?x"),
            "{msg}"
        );
    }

    #[test]
    fn cancel_mfa_and_other_codes() {
        assert_eq!(
            ident("AADSTS65004: declined", &[65004], None).action(),
            IdentityAction::Cancelled,
            "65004 = cancelled"
        );
        assert_eq!(
            ident("no code here", &[], Some("cancel")).action(),
            IdentityAction::Cancelled,
            "error_subcode=cancel = cancelled"
        );
        assert_eq!(
            ident("AADSTS50076: mfa", &[50076], None).action(),
            IdentityAction::CompleteMfa,
            "50076 = MFA"
        );
        let other = ident(
            "AADSTS70011: The provided value for 'scope' isn't valid.\r\nTrace ID: abc",
            &[70011],
            None,
        );
        assert_eq!(
            other.action(),
            IdentityAction::Other,
            "70011 has no special action"
        );
        let msg = other.to_string();
        assert!(
            msg.contains("AADSTS70011: The provided value for 'scope' isn't valid. Trace ID: abc"),
            "verbatim, one line: {msg}"
        );
    }

    #[test]
    fn parse_aadsts_reads_the_number_only() {
        assert_eq!(
            parse_aadsts("AADSTS700082: The refresh token has expired"),
            Some(700082),
            "number after the prefix"
        );
        assert_eq!(
            parse_aadsts("the user canceled"),
            None,
            "no code, no number"
        );
    }
}
