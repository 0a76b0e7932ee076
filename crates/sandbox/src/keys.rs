//! The token-signing key: one RSA-2048 key per process (generated on first use, then shared by
//! every sandbox in the process), its JSON Web Key for `/discovery/v2.0/keys`, and RS256
//! compact JWS signing of id and access tokens (RFC 7515 §3.1, RFC 7518 §3.3).
//!
//! The key is generated with the `rsa` crate (ring cannot generate RSA keys) and signs through
//! ring, whose RSA is fast even in debug builds. The private key never leaves this module.

use std::sync::OnceLock;

use base64::Engine as _;
use serde_json::{json, Value};

/// Errors making the signing key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// RSA key generation or its PKCS#8 encoding failed.
    #[error("cannot generate the token-signing RSA key: {0}")]
    Generate(String),
    /// ring refused the generated key.
    #[error("the generated RSA key was rejected: {0}")]
    Rejected(String),
}

/// The process-wide signing key: private half (ring), `kid`, public JWK.
pub struct SigningKey {
    pair: ring::signature::RsaKeyPair,
    kid: String,
    jwk: Value,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

static KEY: OnceLock<Result<SigningKey, String>> = OnceLock::new();

/// Modulus size, as Microsoft's signing keys.
pub const RSA_BITS: usize = 2048;

impl SigningKey {
    /// The process-wide key, generated on the first call (0.45-1.0 s in a debug build, 10-60 ms
    /// in release: docs/SANDBOX.md).
    pub fn shared() -> Result<&'static SigningKey, KeyError> {
        KEY.get_or_init(|| SigningKey::generate().map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| KeyError::Generate(e.clone()))
    }

    /// A fresh key (tests; `shared()` is what the sandbox uses).
    pub fn generate() -> Result<SigningKey, KeyError> {
        use rsa::pkcs8::EncodePrivateKey as _;
        let mut rng = getrandom::SysRng;
        let private = rsa::PrivateKey::new(&mut rng, RSA_BITS)
            .map_err(|e| KeyError::Generate(e.to_string()))?;
        let der = private
            .to_pkcs8_der()
            .map_err(|e| KeyError::Generate(e.to_string()))?;
        let pair = ring::signature::RsaKeyPair::from_pkcs8(der.as_bytes())
            .map_err(|e| KeyError::Rejected(e.to_string()))?;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let parts = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(pair.public());
        let (n, e) = (parts.n, parts.e);
        // RFC 7638 thumbprint of the public key as the kid: stable for the key, unique per key.
        let thumb_input = format!(
            "{{\"e\":\"{}\",\"kty\":\"RSA\",\"n\":\"{}\"}}",
            b64.encode(&e),
            b64.encode(&n)
        );
        let kid = b64.encode(ring::digest::digest(
            &ring::digest::SHA256,
            thumb_input.as_bytes(),
        ));
        let jwk = json!({
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": kid,
            "n": b64.encode(&n),
            "e": b64.encode(&e),
        });
        Ok(SigningKey { pair, kid, jwk })
    }

    /// The key id carried in every token header and in the JWKS.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public JSON Web Key (RFC 7517 §4): `kty, use, alg, kid, n, e`.
    pub fn jwk(&self) -> &Value {
        &self.jwk
    }

    /// The modulus and exponent, big-endian (for verifying in tests).
    pub fn public_components(&self) -> (Vec<u8>, Vec<u8>) {
        let parts = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(self.pair.public());
        (parts.n, parts.e)
    }

    /// `base64url(header).base64url(claims).base64url(RS256 signature)` with header
    /// `{"typ":"JWT","alg":"RS256","kid":…}`.
    pub fn sign_jwt(&self, claims: &Value) -> String {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = json!({"typ": "JWT", "alg": "RS256", "kid": self.kid});
        let signing_input = format!(
            "{}.{}",
            b64.encode(header.to_string()),
            b64.encode(claims.to_string())
        );
        let mut sig = vec![0u8; self.pair.public().modulus_len()];
        let rng = ring::rand::SystemRandom::new();
        // PKCS#1 v1.5 padding is deterministic: the RNG is not used, and signing fails only
        // for a wrong output length, which the line above rules out.
        if self
            .pair
            .sign(
                &ring::signature::RSA_PKCS1_SHA256,
                &rng,
                signing_input.as_bytes(),
                &mut sig,
            )
            .is_err()
        {
            sig.clear();
        }
        format!("{signing_input}.{}", b64.encode(sig))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_tokens_verify_with_the_published_key() {
        let key = SigningKey::shared().expect("key generation works");
        let jwt = key.sign_jwt(&json!({"sub": "x"}));
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3, "compact JWS has three parts");
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let sig = b64.decode(parts[2]).expect("signature is base64url");
        let (n, e) = key.public_components();
        let public = ring::signature::RsaPublicKeyComponents { n: &n, e: &e };
        public
            .verify(
                &ring::signature::RSA_PKCS1_2048_8192_SHA256,
                format!("{}.{}", parts[0], parts[1]).as_bytes(),
                &sig,
            )
            .expect("RS256 signature must verify with the JWK's n and e");
        assert_eq!(key.jwk()["kid"], key.kid(), "JWKS kid = header kid");
        let header: Value =
            serde_json::from_slice(&b64.decode(parts[0]).expect("header b64")).expect("json");
        assert_eq!(header["kid"], key.kid(), "header names the key");
        assert_eq!(header["alg"], "RS256", "Microsoft signs RS256");
    }

    #[test]
    fn signing_a_token_takes_well_under_ten_milliseconds() {
        let key = SigningKey::shared().expect("key generation works");
        let claims = json!({"sub": "x", "scp": "User.Read OnlineMeetings.ReadWrite"});
        let t = std::time::Instant::now();
        for _ in 0..100 {
            let _ = key.sign_jwt(&claims);
        }
        let each = t.elapsed() / 100;
        eprintln!("RS256 signing took {each:?} per token");
        assert!(
            each < std::time::Duration::from_millis(10),
            "token issuance must stay cheap for the throughput bench: {each:?}"
        );
    }

    #[test]
    fn key_generation_takes_under_ten_seconds_even_in_debug() {
        let t = std::time::Instant::now();
        let _k = SigningKey::generate().expect("key generation works");
        let took = t.elapsed();
        eprintln!("RSA-{RSA_BITS} key generation took {took:?}");
        assert!(
            took < std::time::Duration::from_secs(10),
            "generating the signing key must stay fast: {took:?}"
        );
    }
}
