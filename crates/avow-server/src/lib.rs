//! The Avow HTTP service.
//!
//! Routes:
//!
//! | route | purpose |
//! |---|---|
//! | `POST /v1/challenge` | a single-use nonce bound to an app |
//! | `POST /v1/attest` | App Attest attestation → install state → token |
//! | `POST /v1/refresh` | App Attest assertion over a fresh nonce → token |
//! | `GET /.well-known/jwks.json` | the token verification keys |
//! | `POST /admin/v1/apps`, `GET /admin/v1/apps` | app registration (admin key) |
//! | `/admin/v1/apps/{id}/policy`, `/admin/v1/installs/{id}`, `/admin/v1/audit`, … | policies, installs, debug devices, quota and the audit log (admin key; see [`admin_policy`]) |
//! | `/admin/v1/apps/{id}/api-domains`, `…/pin-sets/{host}`, `…/pins/plan`, `…/pins/publish`, … | API domains, pin sets and pin documents (admin key; see [`pinning`]) |
//! | `GET /v1/pins`, `POST /v1/pin-reports` | the signed pin document for apps, and their pin-failure reports |
//! | `/v1/check` (any method) | token check for nginx `auth_request` and Envoy `ext_authz`, with limited use on request (see [`check`]) |
//! | `POST /v1/tokens/consume` | consumes a limited-use token once across all instances (see [`consume`]) |
//! | `GET /healthz`, `GET /readyz` | liveness, and readiness with a database check |
//! | `GET /metrics` | counters and gauges in the Prometheus text format |
//!
//! [`Server::start`] prepares everything `avow serve` needs with no configuration: the data
//! directory, the database and its migrations, the master key, the first signing key and the
//! first admin key.

#![deny(missing_docs)]

pub mod admin;
pub mod admin_policy;
pub mod api;
pub mod check;
pub mod config;
pub mod consume;
pub mod decide;
pub mod error;
pub mod evidence;
pub mod keys;
pub mod market;
pub mod metrics;
pub mod pinning;
pub mod policy;
pub mod providers;

use std::sync::Arc;
use std::time::Duration;

use avow_attest::app_attest::Roots;
use avow_store::{PostgresStore, SqliteStore, Store, StoreError};
use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, State};
use axum::http::{Request, StatusCode, header};
use axum::routing::{get, post};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::TraceLayer;
use zeroize::Zeroizing;

pub use config::Config;
use config::DatabaseUrl;
use keys::{KeyError, KeyRing, MasterKey};

/// Largest request body accepted, in bytes. An attestation object is about 5 KiB.
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// How often expired nonces are deleted.
const NONCE_PURGE_INTERVAL: Duration = Duration::from_secs(300);
/// How long an expired nonce is kept, so a late replay still reads as a replay.
const NONCE_RETENTION_SECS: i64 = 24 * 3600;
/// How long shutdown waits for requests in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// State shared by all request handlers.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: Arc<dyn Store>,
    /// The configuration in force.
    pub config: Arc<Config>,
    /// The token signing keys.
    pub key_ring: Arc<KeyRing>,
    /// Trusted roots for App Attest credential certificates.
    pub app_attest_roots: Arc<Roots>,
    /// Trust anchors and clients of the other providers.
    pub providers: Arc<evidence::Providers>,
    /// The master key that seals signing keys and app secrets.
    pub master_key: Arc<MasterKey>,
    /// Parsed policies by app.
    pub policies: Arc<policy::PolicyCache>,
    /// The key that signs decoy tokens for denied clients. It is generated at start and never
    /// published, so no backend accepts its tokens.
    pub decoy_signer: Arc<avow_token::TokenSigner>,
    /// Counters and gauges served at `GET /metrics`.
    pub metrics: Arc<metrics::Metrics>,
    /// Resolves the market of a request.
    pub markets: Arc<market::MarketResolver>,
    /// Pin-signing keys, the live-chain probe and report rate limits.
    pub pinning: Arc<pinning::Pinning>,
    /// Token check configurations of the check and consume endpoints, by audience list.
    pub check_configs: Arc<check::CheckConfigs>,
}

impl AppState {
    /// Returns the current time in Unix seconds.
    pub fn now(&self) -> i64 {
        unix_now()
    }
}

/// Returns the current time in Unix seconds.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
        })
}

/// Failures that stop the server from starting.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data directory could not be created.
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The database could not be opened or migrated.
    #[error("cannot open the database: {0}")]
    Store(#[from] StoreError),
    /// The master key or a signing key could not be loaded.
    #[error(transparent)]
    Keys(#[from] KeyError),
    /// A configured root could not be read or parsed.
    #[error("cannot load App Attest root {path}: {message}")]
    Root {
        /// The file.
        path: String,
        /// The failure.
        message: String,
    },
    /// The listen address could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address.
        address: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// A provider's roots, status list or client could not be loaded.
    #[error("cannot set up the attestation providers: {0}")]
    Providers(String),
    /// The trusted market header or the GeoIP database could not be set up.
    #[error(transparent)]
    Markets(#[from] market::MarketError),
    /// The TLS client of the live-chain probe could not be set up.
    #[error("cannot set up the live-chain probe: {0}")]
    Probe(String),
    /// Serving connections failed.
    #[error("server failed: {source}")]
    Serve {
        /// The I/O error.
        source: std::io::Error,
    },
}

/// A prepared server: state loaded, listener not yet bound.
pub struct Server {
    state: AppState,
    first_admin_key: Option<Zeroizing<String>>,
    listener: tokio::net::TcpListener,
}

impl Server {
    /// Opens the database, loads or creates the keys and loads the roots.
    ///
    /// `master_key_env` is the value of `AVOW_MASTER_KEY`, when set.
    pub async fn start(config: Config, master_key_env: Option<String>) -> Result<Self, StartError> {
        // The address is bound first, so a server that cannot listen creates no state and
        // prints no admin key.
        let address = config.listen_addr()?;
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .map_err(|source| StartError::Bind {
                address: address.to_string(),
                source,
            })?;
        std::fs::create_dir_all(&config.data_dir).map_err(|source| StartError::DataDir {
            path: config.data_dir.display().to_string(),
            source,
        })?;
        let store = open_store(&config.database_url()).await?;
        let master_key = MasterKey::load_or_create(&config.data_dir, master_key_env)?;
        let key_ring = KeyRing::load_or_create(store.as_ref(), &master_key, unix_now()).await?;
        let pin_keys =
            pinning::signing::PinKeyRing::load_or_create(store.as_ref(), &master_key, unix_now())
                .await?;
        let fetcher = pinning::Pinning::tls_fetcher(&config.pinning)
            .map_err(|error| StartError::Probe(error.to_string()))?;
        let pinning = pinning::Pinning::new(pin_keys, fetcher, &config.pinning);

        let mut roots = Roots::apple();
        for path in &config.app_attest.extra_roots {
            let root_error = |message: String| StartError::Root {
                path: path.display().to_string(),
                message,
            };
            let pem = std::fs::read(path).map_err(|error| root_error(error.to_string()))?;
            roots
                .add_pem(&pem)
                .map_err(|error| root_error(error.to_string()))?;
        }

        let providers = evidence::Providers::from_config(&config).map_err(StartError::Providers)?;
        let (decoy_signer, _) = avow_token::TokenSigner::generate()
            .map_err(|_| KeyError::Crypto("decoy key generation failed"))?;
        let markets = market::MarketResolver::from_config(&config.markets)?;

        let first_admin_key = if store.admin_key_count().await? == 0 {
            Some(admin::create_admin_key(store.as_ref(), unix_now()).await?)
        } else {
            None
        };

        Ok(Self {
            state: AppState {
                store,
                config: Arc::new(config),
                key_ring: Arc::new(key_ring),
                app_attest_roots: Arc::new(roots),
                providers: Arc::new(providers),
                master_key: Arc::new(master_key),
                policies: Arc::new(policy::PolicyCache::default()),
                decoy_signer: Arc::new(decoy_signer),
                metrics: Arc::new(metrics::Metrics::for_server()),
                markets: Arc::new(markets),
                pinning: Arc::new(pinning),
                check_configs: Arc::new(check::CheckConfigs::default()),
            },
            first_admin_key,
            listener,
        })
    }

    /// Takes the admin key created by this start, when the database had none. It is shown once.
    pub fn take_first_admin_key(&mut self) -> Option<Zeroizing<String>> {
        self.first_admin_key.take()
    }

    /// Returns the shared state.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Binds the listen address and serves until `shutdown` completes, then drains requests in
    /// flight for up to 10 seconds.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartError> {
        let address = self.state.config.listen_addr()?;
        let listener = self.listener;
        let local = listener.local_addr().map_err(|source| StartError::Bind {
            address: address.to_string(),
            source,
        })?;
        tracing::info!(address = %local, "listening");

        let purge = tokio::spawn(purge_nonces(self.state.store.clone()));
        let purge_used = tokio::spawn(consume::purge_used_tokens(self.state.store.clone()));
        let (checks_stop, checks_stopped) = tokio::sync::watch::channel(false);
        let checks = tokio::spawn(pinning::monitor::run(self.state.clone(), checks_stopped));
        let (stop_sender, stop_receiver) = tokio::sync::oneshot::channel::<()>();
        let service =
            router(self.state).into_make_service_with_connect_info::<std::net::SocketAddr>();
        let serve = axum::serve(listener, service).with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!("shutdown requested, draining requests in flight");
            let _ = checks_stop.send(true);
            let _ = stop_sender.send(());
        });
        let serve = tokio::spawn(async move { serve.await });
        let outcome = tokio::select! {
            result = serve => result,
            () = async {
                let _ = stop_receiver.await;
                tokio::time::sleep(SHUTDOWN_GRACE).await;
            } => {
                tracing::warn!("requests still in flight after the grace period; stopping anyway");
                Ok(Ok(()))
            }
        };
        purge.abort();
        purge_used.abort();
        // The check stops at its next await once the signal arrives, and a probe in flight is
        // dropped.
        checks.abort();
        let result = match outcome {
            Ok(result) => result,
            Err(join_error) => Err(std::io::Error::other(join_error.to_string())),
        };
        result.map_err(|source| StartError::Serve { source })?;
        tracing::info!("stopped");
        Ok(())
    }
}

/// Opens the database named by the configuration and applies pending migrations.
pub async fn open_store(url: &DatabaseUrl) -> Result<Arc<dyn Store>, StoreError> {
    Ok(match url {
        DatabaseUrl::Postgres(url) => Arc::new(PostgresStore::connect(url).await?),
        DatabaseUrl::Sqlite(url) => Arc::new(SqliteStore::connect(url).await?),
        DatabaseUrl::SqliteFile(path) => Arc::new(SqliteStore::open(path).await?),
    })
}

async fn purge_nonces(store: Arc<dyn Store>) {
    let mut interval = tokio::time::interval(NONCE_PURGE_INTERVAL);
    loop {
        interval.tick().await;
        match store.purge_nonces(unix_now() - NONCE_RETENTION_SECS).await {
            Ok(0) => {}
            Ok(deleted) => tracing::debug!(deleted, "expired nonces purged"),
            Err(error) => tracing::warn!(%error, "purging expired nonces failed; retrying later"),
        }
    }
}

/// Builds the router with its middleware.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/challenge", post(api::challenge))
        .route("/v1/attest", post(api::attest))
        .route("/v1/refresh", post(api::refresh))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/v1/check", axum::routing::any(check::check))
        .route("/v1/tokens/consume", post(consume::consume))
        .route("/admin/v1/apps", post(admin::add_app).get(admin::list_apps))
        .route(
            "/admin/v1/apps/{id}/play-integrity-keys",
            axum::routing::put(admin::set_play_integrity_keys),
        )
        .route(
            "/admin/v1/apps/{id}/device-check/two-bits",
            post(admin::device_check_two_bits),
        )
        .merge(admin_policy::routes())
        .merge(pinning::routes())
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics::handler))
        .route("/readyz", get(readyz))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
                // The span names the route template, never the raw URI or headers.
                let route = request
                    .extensions()
                    .get::<MatchedPath>()
                    .map_or("unmatched", MatchedPath::as_str);
                tracing::info_span!("request", method = %request.method(), route)
            }),
        )
        .layer(SetSensitiveRequestHeadersLayer::new([
            header::AUTHORIZATION,
        ]))
        .with_state(state)
}

async fn jwks(State(state): State<AppState>) -> impl axum::response::IntoResponse {
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        axum::Json(state.key_ring.jwks().clone()),
    )
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<AppState>) -> Result<&'static str, error::ApiError> {
    state.store.ping().await.map_err(|error| {
        tracing::warn!(%error, "readiness check: database unavailable");
        error::ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "database_unavailable",
            "the database does not answer",
        )
    })?;
    Ok("ready")
}

async fn method_not_allowed() -> error::ApiError {
    error::ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not accept this method",
    )
}

async fn not_found() -> error::ApiError {
    error::ApiError::not_found("route_not_found", "no such route")
}
