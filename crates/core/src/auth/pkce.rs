//! PKCE (RFC 7636) and the `state` value: random secrets made here, compared in constant time.
//!
//! RFC 7636 §4.1: the verifier is 43–128 characters of the unreserved set; 32 random bytes in
//! base64url without padding give exactly 43. §4.2: `S256` challenge = BASE64URL(SHA256(verifier)).
//! RFC 8252 §8.9 / RFC 6749 §10.12: `state` binds the redirect to this attempt (CSRF); it is
//! compared with `subtle` so timing does not reveal a prefix. Everything here is `Sensitive`.

use base64::Engine as _;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::secret::Sensitive;

/// A PKCE verifier and its S256 challenge.
#[derive(Debug, Clone)]
pub struct Pkce {
    /// The secret verifier (sent only to the token endpoint).
    pub verifier: Sensitive<String>,
    /// BASE64URL(SHA256(verifier)), sent on the authorize URL.
    pub challenge: String,
}

/// 32 bytes from the OS-seeded CSPRNG, base64url without padding (43 characters).
pub fn random_urlsafe() -> String {
    let mut buf = [0u8; 32];
    rand::rng().fill_bytes(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

/// The S256 challenge of a verifier (RFC 7636 §4.2).
pub fn s256_challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

impl Pkce {
    /// A fresh verifier and challenge.
    pub fn generate() -> Self {
        let verifier = random_urlsafe();
        let challenge = s256_challenge(&verifier);
        Self {
            verifier: Sensitive::new(verifier),
            challenge,
        }
    }
}

/// A fresh `state` value.
pub fn new_state() -> Sensitive<String> {
    Sensitive::new(random_urlsafe())
}

/// Compares the `state` that came back with the one sent, in constant time.
pub fn state_matches(expected: &Sensitive<String>, received: &str) -> bool {
    let a = expected.expose().as_bytes();
    let b = received.as_bytes();
    // `ct_eq` on slices of different length returns false without comparing contents.
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s256_matches_rfc7636_appendix_b() {
        // RFC 7636 Appendix B test vector.
        assert_eq!(
            s256_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "S256 must equal the RFC 7636 Appendix B example"
        );
    }

    #[test]
    fn verifier_has_rfc_length_and_alphabet() {
        let p = Pkce::generate();
        let v = p.verifier.expose();
        assert_eq!(
            v.len(),
            43,
            "32 random bytes encode to 43 chars (RFC 7636 §4.1 minimum)"
        );
        assert!(
            v.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "verifier must use the unreserved alphabet"
        );
        assert_ne!(
            Pkce::generate().challenge,
            p.challenge,
            "each sign-in gets a fresh verifier"
        );
    }

    #[test]
    fn state_comparison_is_exact() {
        let s = new_state();
        let same = s.expose().clone();
        assert!(state_matches(&s, &same), "the echoed state must match");
        assert!(!state_matches(&s, &same[..10]), "a prefix must not match");
        assert!(!state_matches(&s, ""), "an empty state must not match");
    }
}
