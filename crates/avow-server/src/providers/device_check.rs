//! Apple DeviceCheck: device token validation and the two bits Apple keeps per device and
//! developer team.
//!
//! The app obtains an opaque device token from `DCDevice.generateToken` and sends it to us. We
//! pass it to Apple with one of three `POST` endpoints under the environment's host:
//!
//! 1. `/v1/validate_device_token`: Apple responds 200 with an empty body for a genuine token.
//! 2. `/v1/query_two_bits`: 200 with `{"bit0", "bit1", "last_update_time": "YYYY-MM"}`, or 200
//!    with the text `Failed to find bit state` when the bits were never set.
//! 3. `/v1/update_two_bits`: 200 with an empty body.
//!
//! Each body carries `device_token`, a unique `transaction_id` and `timestamp` in milliseconds
//! since the Unix epoch; an update adds `bit0` and `bit1`. Requests are authorised with a
//! developer JWT: ES256 over the team's `.p8` key, header `kid` = key id, claims `iss` = team id
//! and `iat`. Apple responds 400 for a malformed or unknown device token and 401 for a bad JWT.
//!
//! No signed evidence reaches our server: the result is only as trustworthy as the TLS
//! connection to Apple.

use std::fmt;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use rustls_pki_types::PrivatePkcs8KeyDer;
use rustls_pki_types::pem::PemObject as _;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::http::{self, Transport};
use super::{CallPolicy, ProviderError, jws_compact, jws_signing_input, parse_base_url};
use crate::config::DeviceCheckConfig;

/// Apple's production DeviceCheck host, for apps distributed through the App Store or
/// TestFlight.
pub const PRODUCTION_BASE_URL: &str = "https://api.devicecheck.apple.com";
/// Apple's development DeviceCheck host, for apps built for development.
pub const DEVELOPMENT_BASE_URL: &str = "https://api.development.devicecheck.apple.com";
/// Age at which the developer JWT is replaced. Apple accepts one for up to an hour after its
/// `iat`, so a 20-minute rotation leaves room for clock skew and slow retries.
pub const DEVELOPER_TOKEN_REFRESH: Duration = Duration::from_secs(20 * 60);
/// The text Apple returns with status 200 when the two bits of a device were never set.
const BITS_NOT_SET_TEXT: &str = "Failed to find bit state";
/// Provider name in logs.
const PROVIDER: &str = "device_check";

/// The DeviceCheck environment, which selects Apple's host.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DeviceCheckEnvironment {
    /// Apps built for development: `api.development.devicecheck.apple.com`.
    Development,
    /// App Store and TestFlight apps: `api.devicecheck.apple.com`.
    #[default]
    Production,
}

impl DeviceCheckEnvironment {
    /// Returns Apple's base URL for this environment.
    pub fn base_url(self) -> &'static str {
        match self {
            Self::Development => DEVELOPMENT_BASE_URL,
            Self::Production => PRODUCTION_BASE_URL,
        }
    }
}

/// Everything a [`DeviceCheckClient`] needs.
pub struct DeviceCheckSettings {
    /// Base URL of the DeviceCheck API, normally [`DeviceCheckEnvironment::base_url`].
    pub base_url: String,
    /// Apple developer team id, the JWT `iss`.
    pub team_id: String,
    /// Id of the DeviceCheck key, the JWT header `kid`.
    pub key_id: String,
    /// The `.p8` file contents: a PKCS#8 PEM P-256 private key.
    pub private_key_pem: Zeroizing<Vec<u8>>,
    /// Timeouts, retries and circuit breaker.
    pub policy: CallPolicy,
}

impl DeviceCheckSettings {
    /// Builds the settings from the `[device_check]` configuration section and reads the key
    /// file. Returns `None` when no key file is configured, which leaves DeviceCheck disabled.
    pub fn from_config(config: &DeviceCheckConfig) -> Result<Option<Self>, ProviderError> {
        let Some(path) = &config.private_key_file else {
            return Ok(None);
        };
        let required = |value: &Option<String>, key: &str| {
            value
                .clone()
                .filter(|value| !value.is_empty())
                .ok_or_else(|| {
                    ProviderError::Config(format!(
                        "device_check.{key} is required when device_check.private_key_file is set"
                    ))
                })
        };
        let team_id = required(&config.team_id, "team_id")?;
        let key_id = required(&config.key_id, "key_id")?;
        let private_key_pem = std::fs::read(path).map(Zeroizing::new).map_err(|error| {
            ProviderError::Config(format!(
                "cannot read DeviceCheck key file {}: {error}",
                path.display()
            ))
        })?;
        let base_url = config
            .base_url
            .clone()
            .unwrap_or_else(|| config.environment.base_url().to_owned());
        Ok(Some(Self {
            base_url,
            team_id,
            key_id,
            private_key_pem,
            policy: CallPolicy {
                timeout: Duration::from_millis(config.timeout_ms),
                max_attempts: config.max_attempts,
                ..CallPolicy::default()
            },
        }))
    }
}

impl fmt::Debug for DeviceCheckSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceCheckSettings")
            .field("base_url", &self.base_url)
            .field("team_id", &self.team_id)
            .field("key_id", &self.key_id)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// The two bits of a device, as last set by this developer team.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct TwoBits {
    /// The first bit.
    pub bit0: bool,
    /// The second bit.
    pub bit1: bool,
    /// Month of the last update, `YYYY-MM`, when Apple reports it.
    #[serde(default)]
    pub last_update_time: Option<String>,
}

/// Result of [`DeviceCheckClient::query_two_bits`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TwoBitsState {
    /// The bits were never set for this device.
    NotSet,
    /// The bits as stored by Apple.
    Set(TwoBits),
}

impl TwoBitsState {
    /// Returns the bits, or `None` when they were never set.
    pub fn into_bits(self) -> Option<TwoBits> {
        match self {
            Self::NotSet => None,
            Self::Set(bits) => Some(bits),
        }
    }
}

/// Client of Apple's DeviceCheck server API.
pub struct DeviceCheckClient {
    base_url: String,
    team_id: String,
    key_id: String,
    signing_key: EcdsaKeyPair,
    transport: Transport,
    developer_token: Mutex<Option<DeveloperToken>>,
}

struct DeveloperToken {
    jwt: String,
    minted_at: Instant,
}

#[derive(Serialize)]
struct DeviceRequest<'a> {
    device_token: &'a str,
    transaction_id: &'a str,
    timestamp: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    bit0: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bit1: Option<bool>,
}

impl DeviceCheckClient {
    /// Parses the key, checks the base URL and builds the HTTP client.
    pub fn new(settings: DeviceCheckSettings) -> Result<Self, ProviderError> {
        let base_url = parse_base_url(&settings.base_url)
            .map_err(|message| ProviderError::Config(format!("DeviceCheck base URL {message}")))?;
        if settings.team_id.is_empty() || settings.key_id.is_empty() {
            return Err(ProviderError::Config(
                "DeviceCheck team id and key id must not be empty".to_owned(),
            ));
        }
        let key_der =
            PrivatePkcs8KeyDer::from_pem_slice(&settings.private_key_pem).map_err(|_| {
                ProviderError::Config(
                    "DeviceCheck key is not a PEM \"PRIVATE KEY\" (PKCS#8) block".to_owned(),
                )
            })?;
        let signing_key =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, key_der.secret_pkcs8_der())
                .map_err(|error| {
                    ProviderError::Config(format!("DeviceCheck key is not a P-256 key: {error}"))
                })?;
        Ok(Self {
            base_url,
            team_id: settings.team_id,
            key_id: settings.key_id,
            signing_key,
            transport: Transport::new(PROVIDER, settings.policy)?,
            developer_token: Mutex::new(None),
        })
    }

    /// Asks Apple whether `device_token` (base64, as the app sent it) comes from a genuine
    /// Apple device running this team's app.
    ///
    /// `Ok(())` means Apple accepted the token. A rejected token is
    /// [`ProviderError::Rejected`] with status 400.
    pub async fn validate(&self, device_token: &str) -> Result<(), ProviderError> {
        self.post("validate_device_token", device_token, None)
            .await
            .map(drop)
    }

    /// Reads the two bits Apple keeps for the device.
    pub async fn query_two_bits(&self, device_token: &str) -> Result<TwoBitsState, ProviderError> {
        let body = self.post("query_two_bits", device_token, None).await?;
        parse_two_bits(&body)
    }

    /// Sets the two bits Apple keeps for the device. `bit0` and `bit1` are Apple's names; their
    /// meaning is ours to choose.
    pub async fn update_two_bits(
        &self,
        device_token: &str,
        bit0: bool,
        bit1: bool,
    ) -> Result<(), ProviderError> {
        self.post("update_two_bits", device_token, Some((bit0, bit1)))
            .await
            .map(drop)
    }

    async fn post(
        &self,
        endpoint: &str,
        device_token: &str,
        bits: Option<(bool, bool)>,
    ) -> Result<Vec<u8>, ProviderError> {
        let url = format!("{}/v1/{endpoint}", self.base_url);
        // Retries resend the same transaction id: they are the same transaction.
        let transaction_id = transaction_id()?;
        let body = DeviceRequest {
            device_token,
            transaction_id: &transaction_id,
            timestamp: unix_millis(),
            bit0: bits.map(|(bit0, _)| bit0),
            bit1: bits.map(|(_, bit1)| bit1),
        };
        self.transport.call(|| self.post_once(&url, &body)).await
    }

    async fn post_once(
        &self,
        url: &str,
        body: &DeviceRequest<'_>,
    ) -> Result<Vec<u8>, ProviderError> {
        let jwt = self.developer_token()?;
        let request = self.transport.http().post(url).bearer_auth(jwt).json(body);
        let result = http::send(request).await;
        if matches!(result, Err(ProviderError::Unauthorized)) {
            // Apple rejected the JWT; mint a new one next time instead of reusing it.
            *self.lock_developer_token() = None;
        }
        result
    }

    /// Returns the cached developer JWT, or mints a new one when it is 20 minutes old.
    fn developer_token(&self) -> Result<String, ProviderError> {
        let now = self.transport.clock().now();
        let mut cached = self.lock_developer_token();
        if let Some(token) = cached.as_ref()
            && now.saturating_duration_since(token.minted_at) < DEVELOPER_TOKEN_REFRESH
        {
            return Ok(token.jwt.clone());
        }
        let jwt = self.mint_developer_token()?;
        *cached = Some(DeveloperToken {
            jwt: jwt.clone(),
            minted_at: now,
        });
        Ok(jwt)
    }

    fn mint_developer_token(&self) -> Result<String, ProviderError> {
        let header = serde_json::json!({ "alg": "ES256", "kid": self.key_id });
        let claims = serde_json::json!({ "iss": self.team_id, "iat": crate::unix_now() });
        let signing_input = jws_signing_input(&header, &claims);
        let signature = self
            .signing_key
            .sign(&SystemRandom::new(), signing_input.as_bytes())
            .map_err(|_| ProviderError::Config("signing the DeviceCheck JWT failed".to_owned()))?;
        Ok(jws_compact(signing_input, signature.as_ref()))
    }

    fn lock_developer_token(&self) -> MutexGuard<'_, Option<DeveloperToken>> {
        // The cache holds a complete value or nothing, so a poisoned lock is still consistent.
        self.developer_token
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl fmt::Debug for DeviceCheckClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceCheckClient")
            .field("base_url", &self.base_url)
            .field("team_id", &self.team_id)
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

fn parse_two_bits(body: &[u8]) -> Result<TwoBitsState, ProviderError> {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.starts_with('{') {
        return serde_json::from_str::<TwoBits>(text)
            .map(TwoBitsState::Set)
            .map_err(|_| ProviderError::InvalidResponse {
                detail: "two-bits response is not the documented JSON object",
            });
    }
    if text.contains(BITS_NOT_SET_TEXT) {
        return Ok(TwoBitsState::NotSet);
    }
    Err(ProviderError::InvalidResponse {
        detail: "two-bits response is neither JSON nor the bits-not-set text",
    })
}

/// Returns 16 random bytes in hex, unique per call.
fn transaction_id() -> Result<String, ProviderError> {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes)
        .map_err(|_| ProviderError::Config("the random generator failed".to_owned()))?;
    Ok(bytes.iter().map(|byte| format!("{byte:02x}")).collect())
}

fn unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_bits_json_parsed() {
        let state =
            parse_two_bits(br#"{"bit0":true,"bit1":false,"last_update_time":"2024-05"}"#).unwrap();
        assert_eq!(
            state,
            TwoBitsState::Set(TwoBits {
                bit0: true,
                bit1: false,
                last_update_time: Some("2024-05".to_owned()),
            })
        );
    }

    #[test]
    fn two_bits_without_update_time() {
        let state = parse_two_bits(br#"{"bit0":false,"bit1":true}"#).unwrap();
        let expected = TwoBits {
            bit0: false,
            bit1: true,
            last_update_time: None,
        };
        assert_eq!(state, TwoBitsState::Set(expected.clone()));
        assert_eq!(state.into_bits(), Some(expected));
    }

    #[test]
    fn two_bits_not_set_text() {
        let state = parse_two_bits(b"Failed to find bit state").unwrap();
        assert_eq!(state, TwoBitsState::NotSet);
        assert_eq!(state.into_bits(), None);
    }

    #[test]
    fn two_bits_other_bodies_invalid() {
        for body in [&b""[..], b"{\"bit0\":1}", b"ok", b"{"] {
            let error = parse_two_bits(body).unwrap_err();
            assert!(
                matches!(error, ProviderError::InvalidResponse { .. }),
                "{body:?}: {error:?}"
            );
        }
    }

    #[test]
    fn transaction_ids_differ() {
        let first = transaction_id().unwrap();
        assert_eq!(first.len(), 32);
        assert_ne!(first, transaction_id().unwrap());
    }
}
