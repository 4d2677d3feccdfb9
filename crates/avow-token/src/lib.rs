//! Avow tokens: claims, ES256 signing, JWKS publication and verification.
//!
//! An Avow token is a compact JWS (a JWT) with header `{"alg":"ES256","kid":…,"typ":"avow+jwt"}`
//! and the [`Claims`] below, signed with a P-256 key whose public half is published in a JWKS.
//! Any JWT library that can verify ES256 against a JWKS can check it.
//!
//! Verification takes the current time as a parameter. It accepts only ES256 with a key found
//! by `kid` in the configured key set. It checks the `typ` header, `iss`, `aud`, `exp` and `iat`
//! with an explicit leeway. It ignores `jku`, `x5u` and every other way a token could name its
//! own key.

#![deny(missing_docs)]
#![warn(clippy::unwrap_used, clippy::expect_used)]

mod error;
mod jwks;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

pub use error::TokenError;
pub use jwks::{Jwk, Jwks, MAX_TOKEN_LEN, TokenVerifier};

/// The `typ` header value of Avow tokens, so they cannot be mistaken for other JWTs.
pub const TOKEN_TYPE: &str = "avow+jwt";
/// The only signature algorithm Avow issues.
pub const ALGORITHM: &str = "ES256";
/// Default token lifetime in seconds.
pub const DEFAULT_LIFETIME_SECS: u64 = 300;
/// Default clock-skew allowance in seconds for `exp` and `iat` checks.
pub const DEFAULT_LEEWAY_SECS: u64 = 30;

/// The claims of an Avow token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer: the Avow server's configured issuer name.
    pub iss: String,
    /// Subject: the app id the token was issued to.
    pub sub: String,
    /// Audience: the API the token is meant for.
    pub aud: String,
    /// Issued at, Unix seconds.
    pub iat: u64,
    /// Expires at, Unix seconds.
    pub exp: u64,
    /// Not before, Unix seconds. Avow does not set it, but a token that carries it is not
    /// accepted before that time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    /// Unique token id.
    pub jti: String,
    /// The install (attested or registered device key) the token was issued to. Absent when
    /// the evidence carried no key, as with Play Integrity alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ins: Option<String>,
    /// Request binding: base64url (unpadded) SHA-256 of the value of one request header, such
    /// as `Authorization`, that the token is only valid with. Absent for unbound tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pay: Option<String>,
    /// The attestation result behind the token.
    pub att: AttestationClaim,
}

/// Summary of the attestation verdict behind a token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttestationClaim {
    /// The providers whose evidence backs the token, such as `app_attest` or `play_integrity`.
    pub prv: Vec<String>,
    /// The trust level of the strongest evidence: `hardware`, `platform` or `software`.
    pub trust: String,
    /// App integrity: `recognized`, `unrecognized` or `unevaluated`.
    pub app: String,
    /// Device integrity: `strong`, `device`, `basic` or `none`.
    pub dev: String,
    /// Risk flags, such as `rooted` or `virtual`; absent when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flg: Vec<String>,
    /// The App Attest environment, `production` or `development`, for App Attest evidence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    /// Unix seconds of the attestation behind the token.
    pub at: u64,
    /// The proof behind this token: `attestation` (full evidence), `assertion` (a proof of
    /// possession of the attested or registered key) or `reduced` (issued while the provider
    /// was unavailable).
    pub via: String,
    /// Reduced trust: issued under the policy's outage rules, with a shorter lifetime. Absent
    /// when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub red: bool,
}

#[derive(Serialize)]
struct Header<'a> {
    alg: &'static str,
    kid: &'a str,
    typ: &'static str,
}

/// An ES256 token signing key.
pub struct TokenSigner {
    kid: String,
    key_pair: EcdsaKeyPair,
    rng: SystemRandom,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSigner")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl TokenSigner {
    /// Generates a new P-256 key. Returns the signer and its PKCS#8 document, which the caller
    /// stores (encrypted) to load the key again with [`TokenSigner::from_pkcs8`].
    pub fn generate() -> Result<(Self, Zeroizing<Vec<u8>>), TokenError> {
        let rng = SystemRandom::new();
        let document = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| TokenError::KeyRejected)?;
        let pkcs8 = Zeroizing::new(document.as_ref().to_vec());
        let signer = Self::from_pkcs8(&pkcs8)?;
        Ok((signer, pkcs8))
    }

    /// Loads a P-256 key from a PKCS#8 document.
    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<Self, TokenError> {
        let key_pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)
            .map_err(|_| TokenError::KeyRejected)?;
        let jwk = Jwk::from_point(String::new(), key_pair.public_key().as_ref())?;
        Ok(Self {
            kid: jwk.thumbprint(),
            key_pair,
            rng: SystemRandom::new(),
        })
    }

    /// Returns the key id: the RFC 7638 JWK thumbprint of the public key.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Returns the public key as an uncompressed SEC1 point.
    pub fn public_key(&self) -> &[u8] {
        self.key_pair.public_key().as_ref()
    }

    /// Returns the public key as a JWK.
    pub fn jwk(&self) -> Result<Jwk, TokenError> {
        Jwk::from_point(self.kid.clone(), self.public_key())
    }

    /// Signs the claims and returns the compact token.
    pub fn sign(&self, claims: &Claims) -> Result<String, TokenError> {
        let header = Header {
            alg: ALGORITHM,
            kid: &self.kid,
            typ: TOKEN_TYPE,
        };
        let header = serde_json::to_vec(&header).map_err(|_| TokenError::Malformed)?;
        let payload = serde_json::to_vec(claims).map_err(|_| TokenError::Malformed)?;
        let mut token = URL_SAFE_NO_PAD.encode(header);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(payload, &mut token);
        let signature = self
            .key_pair
            .sign(&self.rng, token.as_bytes())
            .map_err(|_| TokenError::KeyRejected)?;
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature.as_ref(), &mut token);
        Ok(token)
    }
}

/// Returns a fresh random token id: 128 bits, base64url.
pub fn new_token_id() -> Result<String, TokenError> {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| TokenError::KeyRejected)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests;
