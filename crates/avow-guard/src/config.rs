//! Guard configuration: where the token is read from, which keys verify it and which claims
//! it must carry.

use std::fmt;
use std::time::Duration;

use avow_token::{Jwks, TokenError, TokenVerifier};
use aws_lc_rs::hmac;
use axum::http::HeaderName;
use axum::http::header::AUTHORIZATION;
use zeroize::Zeroizing;

use crate::jwks::{JwksError, JwksSource};

/// Default name of the request header that carries the token, `Avow-Token`. It is lowercase
/// because [`HeaderName`] stores names that way, and header names are case-insensitive.
pub const DEFAULT_TOKEN_HEADER: &str = "avow-token";
/// Default clock-skew allowance for the `exp` and `iat` checks.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);
/// Minimum HS256 secret length in bytes: the output size of SHA-256.
pub const MIN_HMAC_SECRET_LEN: usize = 32;

/// The request header a token is read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenHeader {
    /// The whole value of the named header is the token, as in `Avow-Token: eyJ…`.
    Named(HeaderName),
    /// `Authorization: Bearer eyJ…` (RFC 6750).
    AuthorizationBearer,
}

impl TokenHeader {
    pub(crate) fn name(&self) -> &HeaderName {
        match self {
            Self::Named(name) => name,
            Self::AuthorizationBearer => &AUTHORIZATION,
        }
    }
}

impl Default for TokenHeader {
    fn default() -> Self {
        Self::Named(HeaderName::from_static(DEFAULT_TOKEN_HEADER))
    }
}

/// The keys that verify tokens. A configuration accepts exactly one algorithm.
pub enum Keys {
    /// ES256 with the keys of a fixed JWKS, looked up by `kid`.
    Es256(Jwks),
    /// ES256 with the keys of a [`JwksSource`]: a JWKS file or URL that is loaded again when
    /// a token names an unknown `kid`.
    Es256Source(JwksSource),
    /// HS256 with a shared secret of at least [`MIN_HMAC_SECRET_LEN`] bytes. The `kid`
    /// header is not used.
    Hs256(Zeroizing<Vec<u8>>),
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Es256(jwks) => f.debug_tuple("Es256").field(jwks).finish(),
            Self::Es256Source(source) => f.debug_tuple("Es256Source").field(source).finish(),
            Self::Hs256(_) => f.debug_tuple("Hs256").finish_non_exhaustive(),
        }
    }
}

/// Reasons a guard configuration is rejected when it is built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The issuer is empty.
    #[error("issuer is empty, set the issuer name of the Avow server")]
    EmptyIssuer,
    /// No audience is configured, so any audience would be accepted.
    #[error("no audience configured, set at least one expected audience")]
    NoAudience,
    /// The HS256 secret is shorter than [`MIN_HMAC_SECRET_LEN`].
    #[error("hs256 secret is {len} bytes, the minimum is {min}")]
    HmacSecretTooShort {
        /// The secret's length in bytes.
        len: usize,
        /// The minimum length in bytes.
        min: usize,
    },
    /// A JWKS key claims ES256 but is not a valid P-256 key.
    #[error("invalid jwks: {0}")]
    InvalidJwks(TokenError),
    /// The JWKS has no ES256 key, so every token would be rejected.
    #[error("jwks has no es256 key")]
    NoEs256Key,
    /// The leeway has a fraction of a second. Claims carry whole seconds.
    #[error("leeway must be a whole number of seconds")]
    InvalidLeeway,
    /// The binding header is the header that carries the token.
    #[error("binding header {0} is the token header, choose another header")]
    BindingHeaderIsTokenHeader(HeaderName),
    /// Binding is required but no binding header is configured.
    #[error("binding is required but no binding header is configured")]
    BindingHeaderMissing,
    /// The Avow server URL cannot be parsed, has a scheme other than `http` or `https`, or
    /// has a query or fragment.
    #[error("invalid avow server url: {0}")]
    InvalidServerUrl(String),
    /// The HTTP client could not be built.
    #[error("cannot build the http client: {0}")]
    HttpClient(String),
}

/// The signature verifier of the configured algorithm, with its claim rules.
pub(crate) enum Verifier {
    Es256 {
        /// Checks the header, `kid` and signature.
        keys: JwksSource,
        /// Built from an empty key set, so it only checks claims.
        claim_rules: TokenVerifier,
    },
    Hs256 {
        /// Boxed because an aws-lc-rs 1.19 `hmac::Key` keeps its state inline, over 1 KB.
        key: Box<hmac::Key>,
        /// Built from an empty key set, so it only checks claims.
        claim_rules: TokenVerifier,
    },
}

/// The checks a guard applies to every request. Built with [`GuardConfig::builder`].
pub struct GuardConfig {
    pub(crate) token_header: TokenHeader,
    pub(crate) verifier: Verifier,
    pub(crate) binding_header: Option<HeaderName>,
    pub(crate) require_binding: bool,
}

impl fmt::Debug for GuardConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("GuardConfig");
        debug
            .field("token_header", &self.token_header)
            .field("algorithm", &self.algorithm());
        if let Verifier::Es256 { keys, .. } = &self.verifier {
            debug.field("keys", keys);
        }
        debug
            .field("binding_header", &self.binding_header)
            .field("require_binding", &self.require_binding)
            .finish_non_exhaustive()
    }
}

impl GuardConfig {
    /// Starts a configuration that verifies tokens with `keys`, requires `iss` to equal
    /// `issuer` and `aud` to be one of `audiences`.
    pub fn builder(
        keys: Keys,
        issuer: impl Into<String>,
        audiences: Vec<String>,
    ) -> GuardConfigBuilder {
        GuardConfigBuilder {
            keys,
            issuer: issuer.into(),
            audiences,
            token_header: TokenHeader::default(),
            leeway: DEFAULT_LEEWAY,
            binding_header: None,
            require_binding: false,
        }
    }

    /// Returns the header the token is read from.
    pub fn token_header(&self) -> &TokenHeader {
        &self.token_header
    }

    /// Returns the ES256 key source, or `None` for an HS256 configuration.
    pub fn jwks_source(&self) -> Option<&JwksSource> {
        match &self.verifier {
            Verifier::Es256 { keys, .. } => Some(keys),
            Verifier::Hs256 { .. } => None,
        }
    }

    /// Returns the name of the algorithm this configuration accepts.
    pub(crate) fn algorithm(&self) -> &'static str {
        match self.verifier {
            Verifier::Es256 { .. } => "ES256",
            Verifier::Hs256 { .. } => "HS256",
        }
    }
}

/// Builder of a [`GuardConfig`].
#[derive(Debug)]
pub struct GuardConfigBuilder {
    keys: Keys,
    issuer: String,
    audiences: Vec<String>,
    token_header: TokenHeader,
    leeway: Duration,
    binding_header: Option<HeaderName>,
    require_binding: bool,
}

impl GuardConfigBuilder {
    /// Sets the header the token is read from. Defaults to `Avow-Token`.
    pub fn token_header(mut self, token_header: TokenHeader) -> Self {
        self.token_header = token_header;
        self
    }

    /// Sets the clock-skew allowance for `exp` and `iat`, in whole seconds. Defaults to 30 s.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Sets the request header whose SHA-256 a bound token's `pay` claim must equal, such as
    /// `Authorization`. Defaults to none, and then bound tokens are rejected.
    pub fn binding_header(mut self, name: HeaderName) -> Self {
        self.binding_header = Some(name);
        self
    }

    /// Rejects tokens without a `pay` claim when `required` is true. Defaults to false.
    pub fn require_binding(mut self, required: bool) -> Self {
        self.require_binding = required;
        self
    }

    /// Checks the settings and builds the configuration.
    ///
    /// # Errors
    ///
    /// An empty issuer or audience list, a short HS256 secret, a JWKS without a usable ES256
    /// key, a fractional leeway, or a binding header that is missing or equals the token
    /// header.
    pub fn build(self) -> Result<GuardConfig, ConfigError> {
        if self.issuer.is_empty() {
            return Err(ConfigError::EmptyIssuer);
        }
        if self.audiences.is_empty() {
            return Err(ConfigError::NoAudience);
        }
        if self.leeway.subsec_nanos() != 0 {
            return Err(ConfigError::InvalidLeeway);
        }
        let leeway = self.leeway.as_secs();
        if let Some(binding) = &self.binding_header
            && binding == self.token_header.name()
        {
            return Err(ConfigError::BindingHeaderIsTokenHeader(binding.clone()));
        }
        if self.require_binding && self.binding_header.is_none() {
            return Err(ConfigError::BindingHeaderMissing);
        }

        // Built from an empty key set: the key source checks signatures, this checks claims.
        let claim_rules = TokenVerifier::from_jwks(&Jwks::default())
            .map_err(ConfigError::InvalidJwks)?
            .with_issuer(self.issuer)
            .with_audiences(self.audiences)
            .with_leeway(leeway);
        let verifier = match self.keys {
            Keys::Es256(jwks) => {
                let keys = JwksSource::fixed(jwks).map_err(|error| match error {
                    JwksError::InvalidKey(error) => ConfigError::InvalidJwks(error),
                    _ => ConfigError::NoEs256Key,
                })?;
                Verifier::Es256 { keys, claim_rules }
            }
            Keys::Es256Source(keys) => Verifier::Es256 { keys, claim_rules },
            Keys::Hs256(secret) => {
                if secret.len() < MIN_HMAC_SECRET_LEN {
                    return Err(ConfigError::HmacSecretTooShort {
                        len: secret.len(),
                        min: MIN_HMAC_SECRET_LEN,
                    });
                }
                Verifier::Hs256 {
                    key: Box::new(hmac::Key::new(hmac::HMAC_SHA256, &secret)),
                    claim_rules,
                }
            }
        };
        Ok(GuardConfig {
            token_header: self.token_header,
            verifier,
            binding_header: self.binding_header,
            require_binding: self.require_binding,
        })
    }
}
