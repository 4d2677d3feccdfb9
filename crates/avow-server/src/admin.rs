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
    /// `ios`.
    pub platform: String,
    /// The Apple developer team id: 10 characters, A to Z and 0 to 9.
    pub team_id: String,
    /// The bundle identifier.
    pub bundle_id: String,
    /// `production` (the default) or `development`.
    #[serde(default)]
    pub environment: Option<String>,
}

/// An app as the admin API shows it.
#[derive(Debug, Serialize)]
pub struct AppView {
    /// The app id, `TEAMID.bundle.id`, used by the SDK API.
    pub id: String,
    /// The platform.
    pub platform: String,
    /// The team id.
    pub team_id: String,
    /// The bundle id.
    pub bundle_id: String,
    /// The App Attest environment.
    pub environment: String,
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
    if request.platform != "ios" {
        return Err(ApiError::bad_request(
            "unsupported_platform",
            format!("platform {:?} is not supported; use ios", request.platform),
        ));
    }
    let team_is_valid = request.team_id.len() == 10
        && request
            .team_id
            .bytes()
            .all(|byte| byte.is_ascii_uppercase() || byte.is_ascii_digit());
    if !team_is_valid {
        return Err(ApiError::bad_request(
            "invalid_team_id",
            "team_id must be 10 characters from A-Z and 0-9, as shown in the Apple developer account",
        ));
    }
    let bundle_is_valid = !request.bundle_id.is_empty()
        && request.bundle_id.len() <= 155
        && request
            .bundle_id
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'-' | b'_'));
    if !bundle_is_valid {
        return Err(ApiError::bad_request(
            "invalid_bundle_id",
            "bundle_id must be 1 to 155 characters from A-Z, a-z, 0-9, '.', '-' and '_'",
        ));
    }
    let environment_name = request.environment.as_deref().unwrap_or("production");
    let environment = Environment::parse(environment_name).ok_or_else(|| {
        ApiError::bad_request(
            "invalid_environment",
            "environment must be production or development",
        )
    })?;

    let app = App {
        id: AppId::new(&request.team_id, &request.bundle_id)
            .as_str()
            .to_owned(),
        platform: request.platform,
        team_id: request.team_id,
        bundle_id: request.bundle_id,
        environment: environment.as_str().to_owned(),
        created_at: state.now(),
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
    Ok((StatusCode::CREATED, Json(app.into())))
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
