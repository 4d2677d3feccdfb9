//! JSON Web Key Sets and token verification against them.

use std::collections::HashMap;

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};

use crate::{ALGORITHM, Claims, DEFAULT_LEEWAY_SECS, TOKEN_TYPE, TokenError};

/// Maximum token length accepted for verification, in bytes. Avow tokens are about 600 bytes.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// A public key in JWK form (RFC 7517), as published in the JWKS.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// Key type: `EC`.
    pub kty: String,
    /// Curve: `P-256`.
    #[serde(default)]
    pub crv: String,
    /// X coordinate, base64url.
    #[serde(default)]
    pub x: String,
    /// Y coordinate, base64url.
    #[serde(default)]
    pub y: String,
    /// Key id.
    #[serde(default)]
    pub kid: String,
    /// Intended use: `sig`.
    #[serde(default, rename = "use", skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    /// Algorithm: `ES256`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
}

impl Jwk {
    /// Builds the JWK of an uncompressed P-256 point.
    pub fn from_point(kid: String, point: &[u8]) -> Result<Self, TokenError> {
        let unsupported = || TokenError::UnsupportedKey { kid: kid.clone() };
        let coordinates = match point {
            [0x04, coordinates @ ..] if coordinates.len() == 64 => coordinates,
            _ => return Err(unsupported()),
        };
        let (x, y) = coordinates.split_at(32);
        Ok(Self {
            kty: "EC".to_owned(),
            crv: "P-256".to_owned(),
            x: URL_SAFE_NO_PAD.encode(x),
            y: URL_SAFE_NO_PAD.encode(y),
            kid,
            use_: Some("sig".to_owned()),
            alg: Some(ALGORITHM.to_owned()),
        })
    }

    /// Returns the RFC 7638 thumbprint: base64url SHA-256 of the canonical JSON of the
    /// required members, in lexicographic order.
    pub fn thumbprint(&self) -> String {
        let canonical = format!(
            r#"{{"crv":"{}","kty":"{}","x":"{}","y":"{}"}}"#,
            self.crv, self.kty, self.x, self.y
        );
        URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, canonical.as_bytes()))
    }
}

/// A JSON Web Key Set.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwks {
    /// The keys.
    pub keys: Vec<Jwk>,
}

/// Verifies Avow tokens against a key set.
pub struct TokenVerifier {
    keys: HashMap<String, DecodingKey>,
    issuer: Option<String>,
    audiences: Vec<String>,
    leeway: u64,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenVerifier")
            .field("kids", &self.keys.keys().collect::<Vec<_>>())
            .field("issuer", &self.issuer)
            .field("audiences", &self.audiences)
            .field("leeway", &self.leeway)
            .finish()
    }
}

impl TokenVerifier {
    /// Builds a verifier that accepts tokens signed by any ES256 key of the set.
    ///
    /// Keys of other types or algorithms are skipped, so a JWKS shared with other issuers still
    /// works. A key that claims ES256 but is not a valid P-256 JWK is an error.
    pub fn from_jwks(jwks: &Jwks) -> Result<Self, TokenError> {
        let mut keys = HashMap::new();
        for jwk in &jwks.keys {
            let is_es256 = jwk.kty == "EC"
                && jwk.crv == "P-256"
                && jwk.alg.as_deref().is_none_or(|alg| alg == ALGORITHM);
            if !is_es256 {
                continue;
            }
            let key = DecodingKey::from_ec_components(&jwk.x, &jwk.y).map_err(|_| {
                TokenError::UnsupportedKey {
                    kid: jwk.kid.clone(),
                }
            })?;
            keys.insert(jwk.kid.clone(), key);
        }
        Ok(Self {
            keys,
            issuer: None,
            audiences: Vec::new(),
            leeway: DEFAULT_LEEWAY_SECS,
        })
    }

    /// Requires `iss` to equal `issuer`.
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Requires `aud` to equal one of `audiences`. Without this call any audience is accepted.
    pub fn with_audiences(mut self, audiences: Vec<String>) -> Self {
        self.audiences = audiences;
        self
    }

    /// Sets the clock-skew allowance in seconds. Defaults to 30.
    pub fn with_leeway(mut self, leeway: u64) -> Self {
        self.leeway = leeway;
        self
    }

    /// Returns how many ES256 keys the verifier holds.
    pub fn key_count(&self) -> usize {
        self.keys.len()
    }

    /// Verifies a token at time `now` (Unix seconds) and returns its claims.
    ///
    /// # Errors
    ///
    /// The first failed check, in this order: size, header (`alg`, `typ`, `kid`), signature,
    /// claims shape, `iss`, `aud`, `exp`, `iat`, `nbf`.
    pub fn verify(&self, token: &str, now: u64) -> Result<Claims, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::TooLarge {
                len: token.len(),
                max: MAX_TOKEN_LEN,
            });
        }
        let header = decode_header(token)?;
        if header.alg != ALGORITHM {
            return Err(TokenError::AlgorithmNotAllowed {
                received: header.alg,
            });
        }
        if header.typ.as_deref() != Some(TOKEN_TYPE) {
            return Err(TokenError::WrongType {
                received: header.typ.unwrap_or_default(),
            });
        }
        let kid = header.kid.ok_or(TokenError::MissingKid)?;
        // `kid` is only ever a map key, never a path, URL or query parameter.
        let key = self.keys.get(&kid).ok_or(TokenError::UnknownKid)?;

        let mut validation = Validation::new(Algorithm::ES256);
        // Time claims are checked below against the caller's clock, and `iss`/`aud` with exact
        // comparisons, so jsonwebtoken only checks the signature and the claims' shape.
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        let claims = jsonwebtoken::decode::<Claims>(token, key, &validation)
            .map_err(|error| match error.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature => TokenError::SignatureInvalid,
                jsonwebtoken::errors::ErrorKind::Json(_) => TokenError::InvalidClaim("payload"),
                _ => TokenError::Malformed,
            })?
            .claims;
        self.check_claims(&claims, now)?;
        Ok(claims)
    }

    /// Checks `iss`, `aud`, `exp`, `iat` and `nbf` of claims whose signature is already verified,
    /// at time `now` (Unix seconds).
    ///
    /// [`TokenVerifier::verify`] calls this after the signature check. Verifiers of other
    /// algorithms call it on a verifier built from an empty key set, so every Avow token is
    /// held to the same claim rules.
    ///
    /// # Errors
    ///
    /// The first failed check, in this order: `iss`, `aud`, `exp`, `iat`, `nbf`.
    pub fn check_claims(&self, claims: &Claims, now: u64) -> Result<(), TokenError> {
        if self
            .issuer
            .as_ref()
            .is_some_and(|issuer| claims.iss != *issuer)
        {
            return Err(TokenError::IssuerMismatch);
        }
        if !self.audiences.is_empty() && !self.audiences.contains(&claims.aud) {
            return Err(TokenError::AudienceMismatch);
        }
        if now >= claims.exp.saturating_add(self.leeway) {
            return Err(TokenError::Expired {
                exp: claims.exp,
                now,
                leeway: self.leeway,
            });
        }
        if claims.iat > now.saturating_add(self.leeway) {
            return Err(TokenError::IssuedInFuture {
                iat: claims.iat,
                now,
                leeway: self.leeway,
            });
        }
        if let Some(nbf) = claims.nbf
            && nbf > now.saturating_add(self.leeway)
        {
            return Err(TokenError::NotYetValid {
                nbf,
                now,
                leeway: self.leeway,
            });
        }
        Ok(())
    }
}

/// The header members the verifier reads. Duplicate members are rejected by serde.
#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    kid: Option<String>,
}

fn decode_header(token: &str) -> Result<Header, TokenError> {
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let header = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| TokenError::Malformed)?;
    serde_json::from_slice(&header).map_err(|_| TokenError::Malformed)
}
