//! The admin API under `/admin/v1/`, authenticated with admin API keys.
//!
//! An admin key reads `avow_admin_<id>_<secret>`: `id` is 16 hex digits that select the stored
//! key, and `secret` is 32 random bytes in base64url. Only SHA-256 of the secret is stored, and
//! it is compared in constant time.

use avow_attest::app_attest::{AppId, Environment};
use avow_attest::encoding::encode_base64url;
use avow_store::{AdminKey, App, Store, StoreError};
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

use crate::AppState;
use crate::error::ApiError;

const ADMIN_KEY_PREFIX: &str = "avow_admin_";

/// Creates an admin key, stores its hash and returns the full key, which is never stored.
pub async fn create_admin_key(
    store: &dyn Store,
    now: i64,
) -> Result<Zeroizing<String>, StoreError> {
    let mut id = [0u8; 8];
    let mut secret = Zeroizing::new([0u8; 32]);
    // A failing system random generator leaves no safe way to continue.
    #[allow(clippy::expect_used)]
    {
        aws_lc_rs::rand::fill(&mut id).expect("system random generator failed");
        aws_lc_rs::rand::fill(secret.as_mut()).expect("system random generator failed");
    }
    let id = hex_lower(&id);
    let secret = Zeroizing::new(encode_base64url(secret.as_ref()));
    store
        .insert_admin_key(&AdminKey {
            id: id.clone(),
            secret_hash: avow_attest::sha256(secret.as_bytes()).to_vec(),
            created_at: now,
        })
        .await?;
    Ok(Zeroizing::new(format!(
        "{ADMIN_KEY_PREFIX}{id}_{}",
        secret.as_str()
    )))
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Proof that the request carried a valid admin key.
#[derive(Debug)]
pub struct AdminAuth {
    /// The id of the key used.
    pub key_id: String,
}

/// Rejection of a request without a valid admin key.
#[derive(Debug)]
pub struct Unauthorized(&'static str);

impl IntoResponse for Unauthorized {
    fn into_response(self) -> Response {
        let mut response =
            ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", self.0).into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer"),
        );
        response
    }
}

impl FromRequestParts<AppState> for AdminAuth {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let missing = || {
            Unauthorized("an admin key is required: Authorization: Bearer avow_admin_…")
                .into_response()
        };
        let invalid = || Unauthorized("the admin key is invalid").into_response();

        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .ok_or_else(missing)?;
        let key = value
            .strip_prefix("Bearer ")
            .and_then(|token| token.trim().strip_prefix(ADMIN_KEY_PREFIX))
            .ok_or_else(invalid)?;
        let (id, secret) = key.split_once('_').ok_or_else(invalid)?;
        if id.len() != 16 || !id.bytes().all(|byte| byte.is_ascii_hexdigit()) {
            return Err(invalid());
        }
        let stored = state
            .store
            .admin_key(id)
            .await
            .map_err(|error| ApiError::from(error).into_response())?
            .ok_or_else(invalid)?;
        let presented = avow_attest::sha256(secret.as_bytes());
        if bool::from(presented.as_slice().ct_eq(&stored.secret_hash)) {
            Ok(Self { key_id: stored.id })
        } else {
            Err(invalid())
        }
    }
}

/// `POST /admin/v1/apps` request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAppRequest {
    /// `ios` or `android`.
    pub platform: String,
    /// iOS: the Apple developer team id, 10 characters from A to Z and 0 to 9.
    #[serde(default)]
    pub team_id: Option<String>,
    /// iOS: the bundle identifier.
    #[serde(default)]
    pub bundle_id: Option<String>,
    /// iOS: `production` (the default) or `development`.
    #[serde(default)]
    pub environment: Option<String>,
    /// Android: the package name, which is also the app id.
    #[serde(default)]
    pub package_name: Option<String>,
    /// The SHA-256 digests of the app's signing certificates, as hex (colons allowed) or base64.
    #[serde(default)]
    pub certificate_digests: Vec<String>,
    /// Android: the lowest version code accepted.
    #[serde(default)]
    pub min_version_code: Option<i64>,
}

/// An app as the admin API shows it.
#[derive(Debug, Serialize)]
pub struct AppView {
    /// The app id used by the SDK API: `TEAMID.bundle.id` for iOS, the package name for Android.
    pub id: String,
    /// The platform.
    pub platform: String,
    /// The team id (iOS).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub team_id: String,
    /// The bundle id (iOS).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub bundle_id: String,
    /// The App Attest environment (iOS).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub environment: String,
    /// The package name (Android).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub package_name: String,
    /// The signing certificate digests, lowercase hex.
    pub certificate_digests: Vec<String>,
    /// The lowest version code accepted (Android).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_version_code: Option<i64>,
    /// Unix seconds of registration.
    pub created_at: i64,
}

impl From<App> for AppView {
    fn from(app: App) -> Self {
        Self {
            id: app.id,
            platform: app.platform,
            team_id: app.team_id,
            bundle_id: app.bundle_id,
            environment: app.environment,
            package_name: app.package_name,
            certificate_digests: app
                .certificate_digests
                .iter()
                .map(|digest| hex_lower(digest))
                .collect(),
            min_version_code: app.min_version_code,
            created_at: app.created_at,
        }
    }
}

/// `GET /admin/v1/apps` response.
#[derive(Debug, Serialize)]
pub struct AppList {
    /// Every registered app, ordered by id.
    pub apps: Vec<AppView>,
}

/// Registers an app.
pub async fn add_app(
    auth: AdminAuth,
    State(state): State<AppState>,
    body: Result<Json<NewAppRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<AppView>), ApiError> {
    let Json(request) = body?;
    let certificate_digests = request
        .certificate_digests
        .iter()
        .map(|digest| parse_certificate_digest(digest))
        .collect::<Result<Vec<_>, _>>()?;
    let app = match request.platform.as_str() {
        "ios" => ios_app(&request, certificate_digests, state.now())?,
        "android" => android_app(&request, certificate_digests, state.now())?,
        other => {
            return Err(ApiError::bad_request(
                "unsupported_platform",
                format!("platform {other:?} is not supported; use ios or android"),
            ));
        }
    };
    match state.store.insert_app(&app).await {
        Ok(()) => {}
        Err(StoreError::AlreadyExists(_)) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "app_exists",
                format!("an app with id {:?} is already registered", app.id),
            ));
        }
        Err(error) => return Err(error.into()),
    }
    tracing::info!(app_id = %app.id, admin_key = %auth.key_id, "app registered");
    crate::policy::audit(
        state.store.as_ref(),
        &auth.key_id,
        "app_registered",
        Some(&app.id),
        None,
        &format!("platform {}", app.platform),
        state.now(),
    )
    .await;
    Ok((StatusCode::CREATED, Json(app.into())))
}

fn ios_app(
    request: &NewAppRequest,
    certificate_digests: Vec<Vec<u8>>,
    now: i64,
) -> Result<App, ApiError> {
    let team_id = request.team_id.as_deref().unwrap_or_default();
    let bundle_id = request.bundle_id.as_deref().unwrap_or_default();
    let team_is_valid = team_id.len() == 10
        && team_id
            .bytes()
            .all(|byte| byte.is_ascii_uppercase() || byte.is_ascii_digit());
    if !team_is_valid {
        return Err(ApiError::bad_request(
            "invalid_team_id",
            "team_id must be 10 characters from A-Z and 0-9, as shown in the Apple developer account",
        ));
    }
    let bundle_is_valid = !bundle_id.is_empty()
        && bundle_id.len() <= 155
        && bundle_id
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'-' | b'_'));
    if !bundle_is_valid {
        return Err(ApiError::bad_request(
            "invalid_bundle_id",
            "bundle_id must be 1 to 155 characters from A-Z, a-z, 0-9, '.', '-' and '_'",
        ));
    }
    if request.package_name.is_some() || request.min_version_code.is_some() {
        return Err(ApiError::bad_request(
            "invalid_app",
            "package_name and min_version_code apply to android apps only",
        ));
    }
    let environment_name = request.environment.as_deref().unwrap_or("production");
    let environment = Environment::parse(environment_name).ok_or_else(|| {
        ApiError::bad_request(
            "invalid_environment",
            "environment must be production or development",
        )
    })?;
    Ok(App {
        id: AppId::new(team_id, bundle_id).as_str().to_owned(),
        platform: "ios".to_owned(),
        team_id: team_id.to_owned(),
        bundle_id: bundle_id.to_owned(),
        environment: environment.as_str().to_owned(),
        created_at: now,
        package_name: String::new(),
        certificate_digests,
        min_version_code: None,
    })
}

fn android_app(
    request: &NewAppRequest,
    certificate_digests: Vec<Vec<u8>>,
    now: i64,
) -> Result<App, ApiError> {
    let package_name = request.package_name.as_deref().unwrap_or_default();
    // Android package names: dot-separated segments of letters, digits and underscores, each
    // starting with a letter, at least two segments.
    let segments: Vec<&str> = package_name.split('.').collect();
    let package_is_valid = package_name.len() <= 255
        && segments.len() >= 2
        && segments.iter().all(|segment| {
            segment
                .bytes()
                .next()
                .is_some_and(|first| first.is_ascii_alphabetic())
                && segment
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_')
        });
    if !package_is_valid {
        return Err(ApiError::bad_request(
            "invalid_package_name",
            "package_name must be an Android package name such as com.example.app",
        ));
    }
    if request.team_id.is_some() || request.bundle_id.is_some() || request.environment.is_some() {
        return Err(ApiError::bad_request(
            "invalid_app",
            "team_id, bundle_id and environment apply to ios apps only",
        ));
    }
    if request.min_version_code.is_some_and(|code| code < 0) {
        return Err(ApiError::bad_request(
            "invalid_min_version_code",
            "min_version_code must not be negative",
        ));
    }
    Ok(App {
        id: package_name.to_owned(),
        platform: "android".to_owned(),
        team_id: String::new(),
        bundle_id: String::new(),
        environment: String::new(),
        created_at: now,
        package_name: package_name.to_owned(),
        certificate_digests,
        min_version_code: request.min_version_code,
    })
}

/// Parses a SHA-256 certificate digest given as hex (with or without colons, as the Play
/// Console and `keytool` print it) or base64.
fn parse_certificate_digest(text: &str) -> Result<Vec<u8>, ApiError> {
    let hex_digits: String = text.chars().filter(|c| *c != ':').collect();
    let decoded = if hex_digits.len() == 64 && hex_digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        (0..32)
            .map(|index| u8::from_str_radix(&hex_digits[index * 2..index * 2 + 2], 16))
            .collect::<Result<Vec<u8>, _>>()
            .ok()
    } else {
        avow_attest::encoding::decode_base64_any(text).ok()
    };
    decoded.filter(|digest| digest.len() == 32).ok_or_else(|| {
        ApiError::bad_request(
            "invalid_certificate_digest",
            format!("certificate digest {text:?} is not a SHA-256 digest in hex or base64"),
        )
    })
}

/// `PUT /admin/v1/apps/{id}/play-integrity-keys` request: the keys from the Play Console's
/// response encryption settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlayIntegrityKeysRequest {
    /// The base64 AES-256 decryption key.
    pub decryption_key: String,
    /// The base64 DER SubjectPublicKeyInfo of the EC P-256 verification key.
    pub verification_key: String,
}

/// Registers or replaces an Android app's Play Integrity keys, sealed under the master key.
pub async fn set_play_integrity_keys(
    auth: AdminAuth,
    State(state): State<AppState>,
    axum::extract::Path(app_id): axum::extract::Path<String>,
    body: Result<Json<PlayIntegrityKeysRequest>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let Json(request) = body?;
    let app = state.store.app(&app_id).await?.ok_or_else(|| {
        ApiError::not_found(
            "app_not_found",
            format!("no app with id {app_id:?} is registered"),
        )
    })?;
    if app.platform != "android" {
        return Err(ApiError::bad_request(
            "invalid_app",
            "Play Integrity keys apply to android apps only",
        ));
    }
    avow_attest::play_integrity::PlayIntegrityKeys::from_base64(
        &request.decryption_key,
        &request.verification_key,
    )
    .map_err(|error| ApiError::bad_request("invalid_play_integrity_keys", error.to_string()))?;
    let stored = crate::evidence::StoredPlayIntegrityKeys {
        decryption_key: request.decryption_key,
        verification_key: request.verification_key,
    };
    let plaintext =
        Zeroizing::new(serde_json::to_vec(&stored).map_err(|error| ApiError::internal(&error))?);
    let name = crate::evidence::PLAY_INTEGRITY_KEYS_SECRET;
    let sealed = state
        .master_key
        .seal(
            &plaintext,
            crate::evidence::secret_context(&app.id, name).as_bytes(),
        )
        .map_err(|error| ApiError::internal(&error))?;
    state
        .store
        .put_app_secret(&app.id, name, &sealed, state.now())
        .await?;
    tracing::info!(app_id = %app.id, admin_key = %auth.key_id, "Play Integrity keys registered");
    crate::policy::audit(
        state.store.as_ref(),
        &auth.key_id,
        "play_integrity_keys_set",
        Some(&app.id),
        None,
        "keys sealed under the master key",
        state.now(),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

/// Lists the registered apps.
pub async fn list_apps(
    _auth: AdminAuth,
    State(state): State<AppState>,
) -> Result<Json<AppList>, ApiError> {
    let apps = state.store.apps().await?;
    Ok(Json(AppList {
        apps: apps.into_iter().map(AppView::from).collect(),
    }))
}

/// `POST /admin/v1/apps/{id}/device-check/two-bits` request: read a device's two DeviceCheck
/// bits, or set them when `bit0` and `bit1` are given.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwoBitsRequest {
    /// The device token the app sent, base64.
    pub device_token: String,
    /// The new first bit; with `bit1`, sets both bits.
    #[serde(default)]
    pub bit0: Option<bool>,
    /// The new second bit; with `bit0`, sets both bits.
    #[serde(default)]
    pub bit1: Option<bool>,
}

/// The two bits Apple keeps for a device.
#[derive(Debug, Serialize)]
pub struct TwoBitsView {
    /// Whether the bits were ever set for this device.
    pub set: bool,
    /// The first bit.
    pub bit0: bool,
    /// The second bit.
    pub bit1: bool,
    /// Month of the last update, `YYYY-MM`, when Apple reports it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_update_time: Option<String>,
}

/// Reads or sets a device's two DeviceCheck bits for an iOS app, through Apple.
pub async fn device_check_two_bits(
    auth: AdminAuth,
    State(state): State<AppState>,
    axum::extract::Path(app_id): axum::extract::Path<String>,
    body: Result<Json<TwoBitsRequest>, JsonRejection>,
) -> Result<Json<TwoBitsView>, Response> {
    let Json(request) = body.map_err(|rejection| ApiError::from(rejection).into_response())?;
    let app = state
        .store
        .app(&app_id)
        .await
        .map_err(|error| ApiError::from(error).into_response())?
        .ok_or_else(|| {
            ApiError::not_found(
                "app_not_found",
                format!("no app with id {app_id:?} is registered"),
            )
            .into_response()
        })?;
    if app.platform != "ios" {
        return Err(
            ApiError::bad_request("invalid_app", "DeviceCheck applies to ios apps only")
                .into_response(),
        );
    }
    let Some(client) = &state.providers.device_check else {
        return Err(ApiError::bad_request(
            "device_check_not_configured",
            "DeviceCheck needs [device_check] in the server configuration",
        )
        .into_response());
    };
    let upstream = |error: crate::providers::ProviderError| {
        if error.is_outage() {
            let mut response = ApiError::new(
                StatusCode::FAILED_DEPENDENCY,
                "provider_unavailable",
                format!("Apple DeviceCheck cannot answer right now; retry later ({error})"),
            )
            .into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("30"));
            response
        } else {
            ApiError::new(
                StatusCode::FORBIDDEN,
                error.reason(),
                format!("Apple DeviceCheck: {error}"),
            )
            .into_response()
        }
    };
    match (request.bit0, request.bit1) {
        (Some(bit0), Some(bit1)) => {
            client
                .update_two_bits(&request.device_token, bit0, bit1)
                .await
                .map_err(upstream)?;
            tracing::info!(app_id = %app.id, admin_key = %auth.key_id, bit0, bit1, "DeviceCheck bits set");
            Ok(Json(TwoBitsView {
                set: true,
                bit0,
                bit1,
                last_update_time: None,
            }))
        }
        (None, None) => {
            let state = client
                .query_two_bits(&request.device_token)
                .await
                .map_err(upstream)?;
            Ok(Json(match state.into_bits() {
                Some(bits) => TwoBitsView {
                    set: true,
                    bit0: bits.bit0,
                    bit1: bits.bit1,
                    last_update_time: bits.last_update_time,
                },
                None => TwoBitsView {
                    set: false,
                    bit0: false,
                    bit1: false,
                    last_update_time: None,
                },
            }))
        }
        _ => Err(ApiError::bad_request(
            "invalid_two_bits",
            "give both bit0 and bit1 to set the bits, or neither to read them",
        )
        .into_response()),
    }
}
