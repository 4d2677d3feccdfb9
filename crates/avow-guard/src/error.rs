//! Reasons a request's token is rejected.

use avow_token::TokenError;

/// Reasons a request is rejected by the guard.
///
/// [`GuardError::reason`] gives a stable snake_case code for each variant, for logs and
/// metrics. None of the variants carries token text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GuardError {
    /// The request has no token header, or the header is empty.
    #[error("request has no token")]
    MissingToken,
    /// The token header appears more than once.
    #[error("token header appears more than once")]
    RepeatedTokenHeader,
    /// The token header value is not visible ASCII.
    #[error("token header value is not visible ascii")]
    InvalidTokenHeader,
    /// The `Authorization` header does not use the `Bearer` scheme.
    #[error("authorization scheme is not bearer")]
    WrongScheme,
    /// The token header names `alg` `none`, in any letter case: an unsigned token.
    #[error("unsigned token (alg none) is not accepted")]
    AlgorithmNone,
    /// The token names the other algorithm of the ES256/HS256 pair. Accepting it would let a
    /// public key serve as an HMAC secret, or an HMAC secret holder forge ES256 tokens.
    #[error("algorithm {received:?} is not accepted, this guard accepts only {configured}")]
    AlgorithmConfusion {
        /// The algorithm this guard accepts.
        configured: &'static str,
        /// The `alg` header value.
        received: String,
    },
    /// The token names an algorithm that no Avow configuration accepts.
    #[error("algorithm {received:?} is not accepted, this guard accepts only {configured}")]
    AlgorithmNotAllowed {
        /// The algorithm this guard accepts.
        configured: &'static str,
        /// The `alg` header value.
        received: String,
    },
    /// The token failed a format, signature or claim check.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// Binding is required and the token has no `pay` claim.
    #[error("token is not bound to the request but binding is required")]
    BindingRequired,
    /// The token has a `pay` claim but this guard has no binding header to check it against.
    #[error("token is bound to a request header but no binding header is configured")]
    BindingNotConfigured,
    /// The token is bound, and the request lacks the binding header.
    #[error("request has no binding header")]
    BoundHeaderMissing,
    /// The binding header appears more than once.
    #[error("binding header appears more than once")]
    RepeatedBoundHeader,
    /// The SHA-256 of the binding header does not equal the token's `pay` claim.
    #[error("binding header does not match the token's pay claim")]
    BindingMismatch,
}

impl GuardError {
    /// Returns the stable snake_case reason code of this error.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::MissingToken => "missing_token",
            Self::RepeatedTokenHeader => "repeated_token_header",
            Self::InvalidTokenHeader => "invalid_token_header",
            Self::WrongScheme => "wrong_scheme",
            Self::AlgorithmNone => "algorithm_none",
            Self::AlgorithmConfusion { .. } => "algorithm_confusion",
            Self::AlgorithmNotAllowed { .. } => "algorithm_not_allowed",
            Self::Token(error) => error.reason(),
            Self::BindingRequired => "binding_required",
            Self::BindingNotConfigured => "binding_not_configured",
            Self::BoundHeaderMissing => "bound_header_missing",
            Self::RepeatedBoundHeader => "repeated_bound_header",
            Self::BindingMismatch => "binding_mismatch",
        }
    }

    /// Returns true when the request carried no token at all, as opposed to a bad one.
    pub fn is_missing_token(&self) -> bool {
        matches!(self, Self::MissingToken)
    }
}
