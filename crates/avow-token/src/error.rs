/// Failures to issue a token, and reasons for rejecting one.
///
/// [`TokenError::reason`] gives a stable snake_case code for each variant.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The token is not a compact JWS with a JSON header and payload.
    #[error("token is malformed")]
    Malformed,
    /// The token is longer than any Avow token can be.
    #[error("token is {len} bytes, more than the maximum of {max}")]
    TooLarge {
        /// The length received.
        len: usize,
        /// The maximum accepted length.
        max: usize,
    },
    /// The header names an algorithm other than ES256.
    #[error("algorithm {received:?} is not accepted, only ES256 is")]
    AlgorithmNotAllowed {
        /// The `alg` header value.
        received: String,
    },
    /// The header's `typ` is not `avow+jwt`.
    #[error("token type {received:?} is not accepted, expected \"avow+jwt\"")]
    WrongType {
        /// The `typ` header value, empty when absent.
        received: String,
    },
    /// The header has no `kid`.
    #[error("token header has no kid")]
    MissingKid,
    /// No key in the key set has the token's `kid`.
    #[error("no key with the token's kid in the key set")]
    UnknownKid,
    /// The signature does not verify with the key named by `kid`.
    #[error("token signature is invalid")]
    SignatureInvalid,
    /// A claim is missing or has the wrong type.
    #[error("claim {0} is missing or invalid")]
    InvalidClaim(&'static str),
    /// `iss` is not the expected issuer.
    #[error("issuer does not match the expected issuer")]
    IssuerMismatch,
    /// `aud` is not one of the expected audiences.
    #[error("audience does not match the expected audience")]
    AudienceMismatch,
    /// `exp` has passed.
    #[error("token expired at {exp} (now {now}, leeway {leeway} s)")]
    Expired {
        /// The `exp` claim.
        exp: u64,
        /// The verification time.
        now: u64,
        /// The allowed clock skew in seconds.
        leeway: u64,
    },
    /// `iat` is in the future.
    #[error("token issued in the future at {iat} (now {now}, leeway {leeway} s)")]
    IssuedInFuture {
        /// The `iat` claim.
        iat: u64,
        /// The verification time.
        now: u64,
        /// The allowed clock skew in seconds.
        leeway: u64,
    },
    /// `nbf` is in the future.
    #[error("token not valid before {nbf} (now {now}, leeway {leeway} s)")]
    NotYetValid {
        /// The `nbf` claim.
        nbf: u64,
        /// The verification time.
        now: u64,
        /// The allowed clock skew in seconds.
        leeway: u64,
    },
    /// A key in a key set is not a P-256 EC key usable for ES256.
    #[error("key {kid:?} is not an ES256 P-256 key")]
    UnsupportedKey {
        /// The key's `kid`.
        kid: String,
    },
    /// A key could not be generated, loaded or used for signing.
    #[error("signing key rejected by the crypto backend")]
    KeyRejected,
}

impl TokenError {
    /// Returns the stable snake_case reason code of this error.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Malformed => "token_malformed",
            Self::TooLarge { .. } => "token_too_large",
            Self::AlgorithmNotAllowed { .. } => "algorithm_not_allowed",
            Self::WrongType { .. } => "wrong_token_type",
            Self::MissingKid => "missing_kid",
            Self::UnknownKid => "unknown_kid",
            Self::SignatureInvalid => "signature_invalid",
            Self::InvalidClaim(_) => "invalid_claim",
            Self::IssuerMismatch => "issuer_mismatch",
            Self::AudienceMismatch => "audience_mismatch",
            Self::Expired { .. } => "token_expired",
            Self::IssuedInFuture { .. } => "token_issued_in_future",
            Self::NotYetValid { .. } => "token_not_yet_valid",
            Self::UnsupportedKey { .. } => "unsupported_key",
            Self::KeyRejected => "key_rejected",
        }
    }
}
