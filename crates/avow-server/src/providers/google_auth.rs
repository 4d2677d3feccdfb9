//! OAuth 2.0 access tokens for a Google service account, with the JWT bearer grant of
//! RFC 7523.
//!
//! 1. Read the service-account JSON key file: `client_email`, `private_key` (PKCS#8 PEM, RSA),
//!    `private_key_id` and `token_uri`.
//! 2. Sign a JWT with RS256, header `kid` = `private_key_id`, claims `iss` = `client_email`,
//!    `scope`, `aud` = the token URI, `iat` and `exp` = `iat` + 3600.
//! 3. `POST` the form `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<JWT>`
//!    to the token URI and read `access_token` and `expires_in` from the JSON response.
//! 4. Reuse the access token until 60 seconds before it expires.

use std::fmt;
use std::time::{Duration, Instant};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use reqwest::header::CONTENT_TYPE;
use rustls_pki_types::PrivatePkcs8KeyDer;
use rustls_pki_types::pem::PemObject as _;
use serde::Deserialize;
use tokio::sync::Mutex;
use zeroize::Zeroizing;

use super::http::{self, Transport};
use super::{ProviderError, jws_compact, jws_signing_input, parse_base_url};

/// OAuth scope of the Play Integrity API.
pub const PLAY_INTEGRITY_SCOPE: &str = "https://www.googleapis.com/auth/playintegrity";
/// The RFC 7523 grant type.
const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// Lifetime of the signed assertion. Google accepts at most one hour.
const ASSERTION_LIFETIME_SECS: i64 = 3600;
/// How long before its expiry an access token is replaced, so that it does not expire in
/// flight.
const ACCESS_TOKEN_MARGIN: Duration = Duration::from_secs(60);

/// A Google service account that obtains OAuth access tokens for one scope.
///
/// Concurrent callers share one token request: the cache lock is held while a new token is
/// fetched.
pub struct GoogleServiceAccount {
    client_email: String,
    private_key_id: String,
    token_uri: String,
    scope: String,
    signing_key: RsaKeyPair,
    cached: Mutex<Option<AccessToken>>,
}

struct AccessToken {
    value: Zeroizing<String>,
    refresh_at: Instant,
}

/// The fields of a service-account key file that are used. Others are ignored.
#[derive(Deserialize)]
struct KeyFile {
    #[serde(rename = "type")]
    kind: Option<String>,
    client_email: String,
    private_key: String,
    private_key_id: String,
    token_uri: String,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: u64,
    token_type: Option<String>,
}

impl GoogleServiceAccount {
    /// Parses a service-account JSON key file. `token_uri`, when given, replaces the key
    /// file's `token_uri`, for example to reach a mock server.
    pub fn from_json(
        json: &[u8],
        scope: &str,
        token_uri: Option<&str>,
    ) -> Result<Self, ProviderError> {
        let key_file: KeyFile = serde_json::from_slice(json).map_err(|error| {
            // serde quotes a value only on a type mismatch. Every field read here is a
            // string, so the key text itself cannot appear in the message.
            ProviderError::Config(format!("service-account key file is invalid: {error}"))
        })?;
        let private_key = Zeroizing::new(key_file.private_key);
        if key_file
            .kind
            .as_deref()
            .is_some_and(|kind| kind != "service_account")
        {
            return Err(ProviderError::Config(
                "key file is not a service-account key (its \"type\" is not \"service_account\")"
                    .to_owned(),
            ));
        }
        let token_uri = parse_base_url(token_uri.unwrap_or(&key_file.token_uri))
            .map_err(|message| ProviderError::Config(format!("token URI {message}")))?;
        let key_der = PrivatePkcs8KeyDer::from_pem_slice(private_key.as_bytes()).map_err(|_| {
            ProviderError::Config(
                "service-account private_key is not a PEM \"PRIVATE KEY\" (PKCS#8) block"
                    .to_owned(),
            )
        })?;
        let signing_key = RsaKeyPair::from_pkcs8(key_der.secret_pkcs8_der()).map_err(|error| {
            ProviderError::Config(format!(
                "service-account private_key is not an RSA key: {error}"
            ))
        })?;
        Ok(Self {
            client_email: key_file.client_email,
            private_key_id: key_file.private_key_id,
            token_uri,
            scope: scope.to_owned(),
            signing_key,
            cached: Mutex::new(None),
        })
    }

    /// Returns the service account's email address, the JWT `iss`.
    pub fn client_email(&self) -> &str {
        &self.client_email
    }

    /// Returns the URI that access tokens are requested from.
    pub fn token_uri(&self) -> &str {
        &self.token_uri
    }

    /// Returns a valid access token, from the cache or from the token endpoint.
    ///
    /// Any error response of the token endpoint other than 408, 429 or 5xx is
    /// [`ProviderError::Unauthorized`]: the key, its permissions or our clock are wrong.
    pub(super) async fn access_token(
        &self,
        transport: &Transport,
    ) -> Result<Zeroizing<String>, ProviderError> {
        let mut cached = self.cached.lock().await;
        let now = transport.clock().now();
        if let Some(token) = cached.as_ref()
            && now < token.refresh_at
        {
            return Ok(token.value.clone());
        }
        *cached = None;

        let token = self.request_token(transport).await?;
        let lifetime = Duration::from_secs(token.expires_in).saturating_sub(ACCESS_TOKEN_MARGIN);
        let value = Zeroizing::new(token.access_token);
        *cached = Some(AccessToken {
            value: value.clone(),
            refresh_at: now + lifetime,
        });
        Ok(value)
    }

    /// Drops the cached access token, after the API refused it.
    pub(super) async fn forget_access_token(&self) {
        *self.cached.lock().await = None;
    }

    async fn request_token(&self, transport: &Transport) -> Result<TokenResponse, ProviderError> {
        let assertion = Zeroizing::new(self.assertion()?);
        let form = Zeroizing::new(format!(
            "grant_type={}&assertion={}",
            form_encode(JWT_BEARER_GRANT),
            form_encode(&assertion)
        ));
        let request = transport
            .http()
            .post(&self.token_uri)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form.as_bytes().to_vec());
        let body = http::send(request).await.map_err(|error| match error {
            ProviderError::Rejected { status, message } => {
                tracing::warn!(
                    status,
                    %message,
                    client_email = %self.client_email,
                    "Google token endpoint rejected the service-account assertion"
                );
                ProviderError::Unauthorized
            }
            other => other,
        })?;
        let token: TokenResponse =
            serde_json::from_slice(&body).map_err(|_| ProviderError::InvalidResponse {
                detail: "token endpoint response lacks access_token or expires_in",
            })?;
        if token
            .token_type
            .as_deref()
            .is_some_and(|kind| !kind.eq_ignore_ascii_case("bearer"))
        {
            return Err(ProviderError::InvalidResponse {
                detail: "token endpoint issued a token that is not a bearer token",
            });
        }
        Ok(token)
    }

    /// Signs the RFC 7523 assertion.
    fn assertion(&self) -> Result<String, ProviderError> {
        let issued_at = crate::unix_now();
        let header = serde_json::json!({
            "alg": "RS256",
            "typ": "JWT",
            "kid": self.private_key_id,
        });
        let claims = serde_json::json!({
            "iss": self.client_email,
            "scope": self.scope,
            "aud": self.token_uri,
            "iat": issued_at,
            "exp": issued_at + ASSERTION_LIFETIME_SECS,
        });
        let signing_input = jws_signing_input(&header, &claims);
        let mut signature = vec![0u8; self.signing_key.public_modulus_len()];
        self.signing_key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| {
                ProviderError::Config("signing the service-account assertion failed".to_owned())
            })?;
        Ok(jws_compact(signing_input, &signature))
    }
}

impl fmt::Debug for GoogleServiceAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GoogleServiceAccount")
            .field("client_email", &self.client_email)
            .field("private_key_id", &self.private_key_id)
            .field("token_uri", &self.token_uri)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// Encodes a value for an `application/x-www-form-urlencoded` body: bytes other than ASCII
/// letters, digits and `*-._` become `%XX`.
fn form_encode(value: &str) -> String {
    let mut encoded = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'*' | b'-' | b'.' | b'_') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encode_escapes_reserved_bytes() {
        assert_eq!(
            form_encode(JWT_BEARER_GRANT),
            "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"
        );
        assert_eq!(form_encode("aZ09-._*"), "aZ09-._*");
        assert_eq!(form_encode("a b+/é"), "a%20b%2B%2F%C3%A9");
    }
}
