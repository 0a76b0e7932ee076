//! `Sensitive<T>`: the wrapper every secret travels in (tokens, PKCE verifier, `state`, codes).
//!
//! Its `Debug` is redacted and it deliberately implements neither `Display` nor `Serialize`, so a
//! secret cannot end up in a log line, an error message, an audit row or an export by accident.
//! Reading the value is an explicit `expose()` at the one place that needs it.

use std::fmt;

/// A secret value. See the module docs.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Sensitive<T>(T);

impl<T> Sensitive<T> {
    /// Wraps a secret.
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The secret itself. Call only where the value must leave the process (an HTTP form field,
    /// the keyring), never to format it.
    pub fn expose(&self) -> &T {
        &self.0
    }

    /// Unwraps the secret, for handing it to a store that takes ownership.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> From<T> for Sensitive<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}

impl<T> fmt::Debug for Sensitive<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sensitive(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let s = Sensitive::new("eyJ0eXAiOiJKV1QiLCJhbGciOi.refresh-token-value".to_string());
        let shown = format!("{s:?} {:?}", Some(&s));
        assert!(
            !shown.contains("refresh-token-value"),
            "Debug must redact the secret: {shown}"
        );
        assert_eq!(
            s.expose(),
            "eyJ0eXAiOiJKV1QiLCJhbGciOi.refresh-token-value",
            "expose gives the value back"
        );
    }
}
