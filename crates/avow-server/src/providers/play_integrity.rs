//! Google Play Integrity: decoding a standard-request integrity token through Google's API.
//!
//! `POST {base}/v1/{packageName}:decodeIntegrityToken` with the JSON body
//! `{"integrityToken": "…"}` and an OAuth access token for the scope
//! [`PLAY_INTEGRITY_SCOPE`](super::PLAY_INTEGRITY_SCOPE). Google decrypts and verifies the
//! token and responds `{"tokenPayloadExternal": {…}}`. Google responds 400 for a token it cannot
//! decode and 403 when the service account may not query this package.
//!
//! This module only obtains the payload. Checking it (request hash, package name, certificate
//! digests, freshness, verdict labels) is the caller's job. Each decode counts against the
//! app's daily Play Integrity quota.

use std::fmt;
use std::time::Duration;

use serde::Serialize;
use zeroize::Zeroizing;

use super::google_auth::{GoogleServiceAccount, PLAY_INTEGRITY_SCOPE};
use super::http::{self, Transport};
use super::{CallPolicy, ProviderError, parse_base_url};
use crate::config::PlayIntegrityConfig;

/// Google's Play Integrity API host.
pub const DEFAULT_BASE_URL: &str = "https://playintegrity.googleapis.com";
/// Longest accepted Android package name. Android itself allows 255 characters.
const MAX_PACKAGE_NAME_LEN: usize = 255;
/// Provider name in logs.
const PROVIDER: &str = "play_integrity";

/// Everything a [`PlayIntegrityDecoder`] needs.
pub struct PlayIntegritySettings {
    /// Base URL of the Play Integrity API, normally [`DEFAULT_BASE_URL`].
    pub base_url: String,
    /// The service-account JSON key file contents.
    pub service_account_json: Zeroizing<Vec<u8>>,
    /// Replaces the key file's `token_uri` when set.
    pub token_uri: Option<String>,
    /// Timeouts, retries and circuit breaker.
    pub policy: CallPolicy,
}

impl PlayIntegritySettings {
    /// Builds the settings from the `[play_integrity]` configuration section and reads the
    /// key file. Returns `None` when no service-account file is configured, which leaves
    /// decoding through Google disabled.
    pub fn from_config(config: &PlayIntegrityConfig) -> Result<Option<Self>, ProviderError> {
        let Some(path) = &config.service_account_file else {
            return Ok(None);
        };
        let service_account_json = std::fs::read(path).map(Zeroizing::new).map_err(|error| {
            ProviderError::Config(format!(
                "cannot read service-account file {}: {error}",
                path.display()
            ))
        })?;
        Ok(Some(Self {
            base_url: config
                .base_url
                .clone()
                .unwrap_or_else(|| DEFAULT_BASE_URL.to_owned()),
            service_account_json,
            token_uri: config.token_uri.clone(),
            policy: CallPolicy {
                timeout: Duration::from_millis(config.timeout_ms),
                max_attempts: config.max_attempts,
                ..CallPolicy::default()
            },
        }))
    }
}

impl fmt::Debug for PlayIntegritySettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlayIntegritySettings")
            .field("base_url", &self.base_url)
            .field("token_uri", &self.token_uri)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// Client of the Play Integrity `decodeIntegrityToken` endpoint.
pub struct PlayIntegrityDecoder {
    base_url: String,
    account: GoogleServiceAccount,
    transport: Transport,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DecodeRequest<'a> {
    integrity_token: &'a str,
}

impl PlayIntegrityDecoder {
    /// Parses the service-account key, checks the URLs and builds the HTTP client.
    pub fn new(settings: PlayIntegritySettings) -> Result<Self, ProviderError> {
        let base_url = parse_base_url(&settings.base_url).map_err(|message| {
            ProviderError::Config(format!("Play Integrity base URL {message}"))
        })?;
        let account = GoogleServiceAccount::from_json(
            &settings.service_account_json,
            PLAY_INTEGRITY_SCOPE,
            settings.token_uri.as_deref(),
        )?;
        Ok(Self {
            base_url,
            account,
            transport: Transport::new(PROVIDER, settings.policy)?,
        })
    }

    /// Sends `integrity_token` to Google for `package_name` and returns the
    /// `tokenPayloadExternal` object unchecked.
    ///
    /// A token Google cannot decode is [`ProviderError::Rejected`]. An invalid package name
    /// is [`ProviderError::Config`] and sends nothing.
    pub async fn decode(
        &self,
        package_name: &str,
        integrity_token: &str,
    ) -> Result<serde_json::Value, ProviderError> {
        check_package_name(package_name)?;
        let url = format!("{}/v1/{package_name}:decodeIntegrityToken", self.base_url);
        let body = DecodeRequest { integrity_token };
        self.transport.call(|| self.decode_once(&url, &body)).await
    }

    async fn decode_once(
        &self,
        url: &str,
        body: &DecodeRequest<'_>,
    ) -> Result<serde_json::Value, ProviderError> {
        let access_token = self.account.access_token(&self.transport).await?;
        let request = self
            .transport
            .http()
            .post(url)
            .bearer_auth(access_token.as_str())
            .json(body);
        let response = match http::send(request).await {
            Ok(response) => response,
            Err(ProviderError::Unauthorized) => {
                // The token may have been revoked; fetch a new one on the next call.
                self.account.forget_access_token().await;
                return Err(ProviderError::Unauthorized);
            }
            Err(error) => return Err(error),
        };
        extract_payload(&response)
    }
}

impl fmt::Debug for PlayIntegrityDecoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlayIntegrityDecoder")
            .field("base_url", &self.base_url)
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

fn extract_payload(body: &[u8]) -> Result<serde_json::Value, ProviderError> {
    let mut response: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| ProviderError::InvalidResponse {
            detail: "decode response is not JSON",
        })?;
    match response
        .get_mut("tokenPayloadExternal")
        .map(serde_json::Value::take)
    {
        Some(payload @ serde_json::Value::Object(_)) => Ok(payload),
        _ => Err(ProviderError::InvalidResponse {
            detail: "decode response has no tokenPayloadExternal object",
        }),
    }
}

/// Accepts Java-style package names: dot-separated segments of ASCII letters, digits and `_`,
/// each starting with a letter. Anything else could alter the request path.
fn check_package_name(name: &str) -> Result<(), ProviderError> {
    let valid = !name.is_empty()
        && name.len() <= MAX_PACKAGE_NAME_LEN
        && name.split('.').all(|segment| {
            segment
                .chars()
                .next()
                .is_some_and(|first| first.is_ascii_alphabetic())
                && segment
                    .chars()
                    .all(|character| character.is_ascii_alphanumeric() || character == '_')
        });
    if valid {
        Ok(())
    } else {
        Err(ProviderError::Config(format!(
            "invalid Android package name {name:?}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_names_checked() {
        for good in ["com.example.app", "a", "com.Example_2.app_x"] {
            assert_eq!(check_package_name(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "com..app",
            ".com.app",
            "com.app.",
            "com.1app",
            "com/app",
            "com.app:decodeIntegrityToken",
            "com.app?x=1",
            "com.émoji",
        ] {
            assert!(check_package_name(bad).is_err(), "{bad}");
        }
        assert!(check_package_name(&"a".repeat(256)).is_err());
    }

    #[test]
    fn payload_extracted() {
        let payload = extract_payload(br#"{"tokenPayloadExternal":{"requestDetails":{}}}"#);
        assert_eq!(payload, Ok(serde_json::json!({ "requestDetails": {} })));
    }

    #[test]
    fn payload_missing_or_not_object() {
        for body in [
            &b"{}"[..],
            br#"{"tokenPayloadExternal":"x"}"#,
            b"not json",
            b"[]",
        ] {
            assert!(
                matches!(
                    extract_payload(body),
                    Err(ProviderError::InvalidResponse { .. })
                ),
                "{body:?}"
            );
        }
    }
}
