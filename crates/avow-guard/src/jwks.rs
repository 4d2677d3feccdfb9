//! ES256 key sources: a fixed JWKS, a JWKS file, or a JWKS URL that is fetched at start and
//! fetched again when a token names an unknown `kid`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use avow_token::{ALGORITHM, Claims, Jwk, Jwks, TokenError, TokenVerifier};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, ParsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Url;
use tokio::io::AsyncReadExt as _;

use crate::layer::{Clock as _, SystemClock};

/// Default minimum time between two fetches caused by unknown `kid`s: 5 minutes, the
/// `max-age` an Avow server sends with its JWKS.
pub const DEFAULT_JWKS_COOLDOWN: Duration = Duration::from_secs(300);
/// Default time limit of one JWKS fetch, connection and body included.
pub const DEFAULT_JWKS_TIMEOUT: Duration = Duration::from_secs(10);
/// Default maximum JWKS size in bytes. An Avow JWKS with three keys is under 1 KiB.
pub const DEFAULT_JWKS_MAX_BYTES: usize = 64 * 1024;

/// Settings of a [`JwksSource`] that loads its keys from a file or a URL.
#[derive(Clone, Debug)]
pub struct JwksOptions {
    cooldown: Duration,
    timeout: Duration,
    max_bytes: usize,
}

impl Default for JwksOptions {
    fn default() -> Self {
        Self {
            cooldown: DEFAULT_JWKS_COOLDOWN,
            timeout: DEFAULT_JWKS_TIMEOUT,
            max_bytes: DEFAULT_JWKS_MAX_BYTES,
        }
    }
}

impl JwksOptions {
    /// Sets the minimum time between two loads caused by unknown `kid`s, counted in whole
    /// seconds of the guard's clock. Defaults to [`DEFAULT_JWKS_COOLDOWN`].
    pub fn cooldown(mut self, cooldown: Duration) -> Self {
        self.cooldown = cooldown;
        self
    }

    /// Sets the time limit of one fetch from a URL. Defaults to [`DEFAULT_JWKS_TIMEOUT`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the maximum size of the JWKS document in bytes, for URLs and files. Defaults to
    /// [`DEFAULT_JWKS_MAX_BYTES`].
    pub fn max_bytes(mut self, max_bytes: usize) -> Self {
        self.max_bytes = max_bytes;
        self
    }
}

/// Reasons a JWKS cannot be loaded.
///
/// [`JwksError::reason`] gives a stable snake_case code for each variant.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JwksError {
    /// The JWKS URL cannot be parsed, or its scheme is not `http` or `https`.
    #[error("invalid jwks url: {0}")]
    InvalidUrl(String),
    /// The HTTP client could not be built.
    #[error("cannot build the http client: {0}")]
    Client(String),
    /// The JWKS file could not be read.
    #[error("cannot read jwks file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The request failed before a response arrived: connection refused, DNS or TLS failure.
    #[error("jwks request failed: {0}")]
    Unreachable(String),
    /// The request did not finish within the configured timeout.
    #[error("jwks request timed out")]
    Timeout,
    /// The server responded with a status other than 200.
    #[error("jwks request returned status {0}, expected 200")]
    Status(u16),
    /// The document is larger than the configured maximum.
    #[error("jwks is larger than the maximum of {max} bytes")]
    TooLarge {
        /// The maximum size in bytes.
        max: usize,
    },
    /// The document is not a JSON object with a `keys` array of JWKs.
    #[error("jwks is not a json key set")]
    Malformed,
    /// A key claims ES256 but is not a valid P-256 key.
    #[error("invalid jwks: {0}")]
    InvalidKey(TokenError),
    /// The key set has no ES256 P-256 key, so every token would be rejected.
    #[error("jwks has no es256 key")]
    NoEs256Key,
}

impl JwksError {
    /// Returns the stable snake_case reason code of this error.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::InvalidUrl(_) => "jwks_invalid_url",
            Self::Client(_) => "jwks_client_failed",
            Self::Read { .. } => "jwks_read_failed",
            Self::Unreachable(_) => "jwks_unreachable",
            Self::Timeout => "jwks_timeout",
            Self::Status(_) => "jwks_status",
            Self::TooLarge { .. } => "jwks_too_large",
            Self::Malformed => "jwks_malformed",
            Self::InvalidKey(_) => "jwks_invalid_key",
            Self::NoEs256Key => "jwks_no_es256_key",
        }
    }
}

/// The ES256 keys a guard verifies with, and where they come from.
///
/// - [`JwksSource::fixed`]: a key set passed in as a value, never reloaded.
/// - [`JwksSource::from_file`]: a JWKS file, for networks without egress to the Avow server.
/// - [`JwksSource::from_url`]: the JWKS an Avow server publishes at
///   `/.well-known/jwks.json`, fetched when the source is created.
///
/// A file or URL source loads its keys again when a token names a `kid` that is not in the
/// current set, so a signing-key rotation on the server is picked up without a restart. Such
/// loads happen at most once per cooldown, and requests that arrive during a load wait for it
/// instead of starting their own. A load that fails, or that returns no usable ES256 key,
/// keeps the current keys. [`JwksSource::refresh`] and [`JwksSource::spawn_refresh`] load on
/// demand or on a timer.
///
/// Cloning is cheap and every clone shares the same keys.
#[derive(Clone)]
pub struct JwksSource {
    inner: Arc<Inner>,
}

struct Inner {
    origin: Origin,
    options: JwksOptions,
    current: RwLock<Arc<KeySet>>,
    /// Serializes loads, so concurrent requests share one load.
    reload: tokio::sync::Mutex<ReloadState>,
    /// Loads finished after the first one, successful or not.
    loads: AtomicU64,
    failures: AtomicU64,
}

enum Origin {
    Fixed,
    File(PathBuf),
    Url { url: Url, client: reqwest::Client },
}

#[derive(Default)]
struct ReloadState {
    /// Clock time of the last load attempt, in Unix seconds.
    last_attempt: Option<u64>,
}

/// The state of a source before a check: see [`JwksSource::mark`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct LoadMark {
    pub(crate) generation: u64,
    loads: u64,
}

/// One loaded key set. `generation` counts the successful loads.
struct KeySet {
    jwks: Jwks,
    verifier: TokenVerifier,
    generation: u64,
}

impl fmt::Debug for JwksSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = self.current();
        let kids: Vec<&str> = keys.jwks.keys.iter().map(|jwk| jwk.kid.as_str()).collect();
        let mut debug = f.debug_struct("JwksSource");
        match &self.inner.origin {
            Origin::Fixed => debug.field("origin", &"fixed"),
            Origin::File(path) => debug.field("file", path),
            Origin::Url { url, .. } => debug.field("url", &redacted(url)),
        };
        debug
            .field("kids", &kids)
            .field("cooldown", &self.inner.options.cooldown)
            .finish_non_exhaustive()
    }
}

impl JwksSource {
    /// Creates a source that always verifies with `jwks`.
    ///
    /// # Errors
    ///
    /// [`JwksError::InvalidKey`] or [`JwksError::NoEs256Key`].
    pub fn fixed(jwks: Jwks) -> Result<Self, JwksError> {
        Self::new(Origin::Fixed, JwksOptions::default(), jwks)
    }

    /// Reads a JWKS file now, and again when a token names an unknown `kid` (at most once per
    /// cooldown), so replacing the file rotates the keys.
    ///
    /// # Errors
    ///
    /// [`JwksError::Read`], [`JwksError::TooLarge`], [`JwksError::Malformed`],
    /// [`JwksError::InvalidKey`] or [`JwksError::NoEs256Key`].
    pub fn from_file(path: impl AsRef<Path>, options: JwksOptions) -> Result<Self, JwksError> {
        let path = path.as_ref().to_owned();
        let bytes = read_file_sync(&path, options.max_bytes)?;
        let jwks = parse_jwks(&bytes)?;
        Self::new(Origin::File(path), options, jwks)
    }

    /// Fetches the JWKS at `url` now, and again when a token names an unknown `kid` (at most
    /// once per cooldown). Redirects are not followed.
    ///
    /// # Errors
    ///
    /// [`JwksError::InvalidUrl`], [`JwksError::Client`], or any error of a fetch:
    /// [`JwksError::Unreachable`], [`JwksError::Timeout`], [`JwksError::Status`],
    /// [`JwksError::TooLarge`], [`JwksError::Malformed`], [`JwksError::InvalidKey`] or
    /// [`JwksError::NoEs256Key`].
    pub async fn from_url(url: &str, options: JwksOptions) -> Result<Self, JwksError> {
        let url = Url::parse(url).map_err(|error| JwksError::InvalidUrl(error.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(JwksError::InvalidUrl(format!(
                "scheme {} is not http or https",
                url.scheme()
            )));
        }
        let client = reqwest::Client::builder()
            .timeout(options.timeout)
            .connect_timeout(options.timeout)
            // A JWKS is served at a fixed address, so a redirect is reported, not followed.
            .redirect(reqwest::redirect::Policy::none())
            .retry(reqwest::retry::never())
            .user_agent(concat!("avow-guard/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| JwksError::Client(error.to_string()))?;
        let bytes = fetch(&client, &url, options.max_bytes).await?;
        let jwks = parse_jwks(&bytes)?;
        tracing::info!(
            url = %redacted(&url),
            keys = jwks.keys.len(),
            "jwks fetched"
        );
        Self::new(Origin::Url { url, client }, options, jwks)
    }

    fn new(origin: Origin, options: JwksOptions, jwks: Jwks) -> Result<Self, JwksError> {
        let verifier = signature_verifier(&jwks)?;
        Ok(Self {
            inner: Arc::new(Inner {
                origin,
                options,
                current: RwLock::new(Arc::new(KeySet {
                    jwks,
                    verifier,
                    generation: 0,
                })),
                reload: tokio::sync::Mutex::new(ReloadState::default()),
                loads: AtomicU64::new(0),
                failures: AtomicU64::new(0),
            }),
        })
    }

    /// Returns the key set in use.
    pub fn jwks(&self) -> Jwks {
        self.current().jwks.clone()
    }

    /// Returns how many loads after the first one finished, successful or not.
    pub fn reload_count(&self) -> u64 {
        self.inner.loads.load(Ordering::Relaxed)
    }

    /// Returns how many loads after the first one failed and kept the previous keys.
    pub fn reload_failure_count(&self) -> u64 {
        self.inner.failures.load(Ordering::Relaxed)
    }

    /// Returns true for file and URL sources, which can load new keys.
    pub fn is_reloadable(&self) -> bool {
        !matches!(self.inner.origin, Origin::Fixed)
    }

    /// Loads the keys again now, whatever the cooldown, and records `now` (Unix seconds) as
    /// the time of the last load. A fixed source returns at once.
    ///
    /// # Errors
    ///
    /// The error of the load. The previous keys stay in use.
    pub async fn refresh(&self, now: u64) -> Result<(), JwksError> {
        if !self.is_reloadable() {
            return Ok(());
        }
        let mut state = self.inner.reload.lock().await;
        self.reload(&mut state, now).await
    }

    /// Starts a task on the current tokio runtime that calls [`JwksSource::refresh`] every
    /// `period`, with the system clock, from one `period` after the call. Failures are logged
    /// and keep the previous keys. Abort the returned handle to stop the task.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, or when `period` is zero.
    pub fn spawn_refresh(&self, period: Duration) -> tokio::task::JoinHandle<()> {
        let source = self.clone();
        tokio::spawn(async move {
            let start = tokio::time::Instant::now() + period;
            let mut interval = tokio::time::interval_at(start, period);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                // `reload` logs the failure, and the next tick retries.
                let _ = source.refresh(SystemClock.now()).await;
            }
        })
    }

    /// Loads the keys again because a token named a `kid` that the key set of `seen` lacks.
    ///
    /// Nothing is loaded when a load finished after `seen` was taken (the caller shares its
    /// result), or when the last load started less than a cooldown before `now`. Requests
    /// that arrive during a load wait for it on the reload lock and then share its result.
    pub(crate) async fn reload_for_unknown_kid(&self, seen: LoadMark, now: u64) {
        if !self.is_reloadable() {
            return;
        }
        let mut state = self.inner.reload.lock().await;
        if self.inner.loads.load(Ordering::Acquire) != seen.loads {
            return;
        }
        let cooldown = self.inner.options.cooldown.as_secs();
        if let Some(last) = state.last_attempt
            && now < last.saturating_add(cooldown)
        {
            tracing::debug!(
                retry_in_secs = last.saturating_add(cooldown) - now,
                "token names an unknown kid; jwks reload waits for its cooldown"
            );
            return;
        }
        // `reload` logs the failure, and the current keys stay in use.
        let _ = self.reload(&mut state, now).await;
    }

    /// Returns the marks of the key set in use and of the loads finished so far. Taken before
    /// a check, it lets [`JwksSource::reload_for_unknown_kid`] detect a load that finished
    /// since.
    pub(crate) fn mark(&self) -> LoadMark {
        // The load count is read first: a load bumps the generation before the count, so a
        // mark never pairs a new count with an old generation.
        let loads = self.inner.loads.load(Ordering::Acquire);
        LoadMark {
            generation: self.current().generation,
            loads,
        }
    }

    /// Returns the generation of the key set in use. It changes with every successful load.
    pub(crate) fn generation(&self) -> u64 {
        self.current().generation
    }

    /// Verifies a token's header, `kid` and signature with the current keys and returns its
    /// claims. Claim rules are the caller's: this check applies no issuer, audience or time
    /// rule.
    pub(crate) fn verify_signature(&self, token: &str) -> Result<Claims, TokenError> {
        // The time passed is irrelevant: the verifier's leeway accepts every time.
        self.current().verifier.verify(token, 0)
    }

    fn current(&self) -> Arc<KeySet> {
        let current = self
            .inner
            .current
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        Arc::clone(&current)
    }

    /// Loads, validates and installs a key set. The caller holds the reload lock.
    async fn reload(&self, state: &mut ReloadState, now: u64) -> Result<(), JwksError> {
        state.last_attempt = Some(now);
        let loaded = match &self.inner.origin {
            Origin::Fixed => return Ok(()),
            Origin::File(path) => read_file(path, self.inner.options.max_bytes).await,
            Origin::Url { url, client } => fetch(client, url, self.inner.options.max_bytes).await,
        }
        .and_then(|bytes| {
            let jwks = parse_jwks(&bytes)?;
            let verifier = signature_verifier(&jwks)?;
            Ok((jwks, verifier))
        });
        let result = match loaded {
            Ok((jwks, verifier)) => {
                self.install(jwks, verifier);
                Ok(())
            }
            Err(error) => {
                self.inner.failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    origin = %self.origin_label(),
                    reason = error.reason(),
                    %error,
                    "jwks reload failed; the previous keys stay in use"
                );
                Err(error)
            }
        };
        self.inner.loads.fetch_add(1, Ordering::AcqRel);
        result
    }

    fn install(&self, jwks: Jwks, verifier: TokenVerifier) {
        let mut current = self
            .inner
            .current
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let changed = current.jwks != jwks;
        let generation = current.generation + 1;
        let keys = jwks.keys.len();
        *current = Arc::new(KeySet {
            jwks,
            verifier,
            generation,
        });
        drop(current);
        if changed {
            tracing::info!(origin = %self.origin_label(), keys, "jwks reloaded with new keys");
        } else {
            tracing::debug!(origin = %self.origin_label(), keys, "jwks reloaded, keys unchanged");
        }
    }

    fn origin_label(&self) -> String {
        match &self.inner.origin {
            Origin::Fixed => "fixed".to_owned(),
            Origin::File(path) => path.display().to_string(),
            Origin::Url { url, .. } => redacted(url),
        }
    }
}

/// Builds a verifier for the header, `kid` and signature checks only: no issuer, no audience,
/// and a leeway so large that no `exp` or `iat` fails. The guard applies its own claim rules
/// afterwards, so one key set serves configurations with different rules.
fn signature_verifier(jwks: &Jwks) -> Result<TokenVerifier, JwksError> {
    for jwk in jwks.keys.iter().filter(|jwk| is_es256(jwk)) {
        check_point(jwk).map_err(JwksError::InvalidKey)?;
    }
    let verifier = TokenVerifier::from_jwks(jwks)
        .map_err(JwksError::InvalidKey)?
        .with_leeway(u64::MAX);
    if verifier.key_count() == 0 {
        return Err(JwksError::NoEs256Key);
    }
    Ok(verifier)
}

/// Selects the keys that [`TokenVerifier::from_jwks`] uses: EC P-256 keys with no `alg` or
/// `alg` ES256.
fn is_es256(jwk: &Jwk) -> bool {
    jwk.kty == "EC" && jwk.crv == "P-256" && jwk.alg.as_deref().is_none_or(|alg| alg == ALGORITHM)
}

/// Checks that a key's coordinates are 32 bytes each and form a point on P-256. The
/// verifier itself would only fail at the first signature check with such a key.
fn check_point(jwk: &Jwk) -> Result<(), TokenError> {
    let unsupported = || TokenError::UnsupportedKey {
        kid: jwk.kid.clone(),
    };
    let x = URL_SAFE_NO_PAD.decode(&jwk.x).map_err(|_| unsupported())?;
    let y = URL_SAFE_NO_PAD.decode(&jwk.y).map_err(|_| unsupported())?;
    if x.len() != 32 || y.len() != 32 {
        return Err(unsupported());
    }
    let mut point = Vec::with_capacity(65);
    point.push(0x04);
    point.extend_from_slice(&x);
    point.extend_from_slice(&y);
    ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &point).map_err(|_| unsupported())?;
    Ok(())
}

fn parse_jwks(bytes: &[u8]) -> Result<Jwks, JwksError> {
    serde_json::from_slice(bytes).map_err(|_| JwksError::Malformed)
}

async fn fetch(
    client: &reqwest::Client,
    url: &Url,
    max_bytes: usize,
) -> Result<Vec<u8>, JwksError> {
    let transport = |error: reqwest::Error| {
        if error.is_timeout() {
            JwksError::Timeout
        } else {
            JwksError::Unreachable(error.without_url().to_string())
        }
    };
    let mut response = client
        .get(url.clone())
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(transport)?;
    if response.status() != reqwest::StatusCode::OK {
        return Err(JwksError::Status(response.status().as_u16()));
    }
    if response
        .content_length()
        .is_some_and(|length| length > max_bytes as u64)
    {
        return Err(JwksError::TooLarge { max: max_bytes });
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport)? {
        if body.len() + chunk.len() > max_bytes {
            return Err(JwksError::TooLarge { max: max_bytes });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn read_file_sync(path: &Path, max_bytes: usize) -> Result<Vec<u8>, JwksError> {
    use std::io::Read as _;

    let read_error = |source| JwksError::Read {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let mut bytes = Vec::new();
    // Reading one byte more than the maximum distinguishes a file at the limit from a
    // larger one.
    file.take(max_bytes as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if bytes.len() > max_bytes {
        return Err(JwksError::TooLarge { max: max_bytes });
    }
    Ok(bytes)
}

async fn read_file(path: &Path, max_bytes: usize) -> Result<Vec<u8>, JwksError> {
    let read_error = |source| JwksError::Read {
        path: path.to_owned(),
        source,
    };
    let file = tokio::fs::File::open(path).await.map_err(read_error)?;
    let mut bytes = Vec::new();
    file.take(max_bytes as u64 + 1)
        .read_to_end(&mut bytes)
        .await
        .map_err(read_error)?;
    if bytes.len() > max_bytes {
        return Err(JwksError::TooLarge { max: max_bytes });
    }
    Ok(bytes)
}

/// Returns the URL without user info, query or fragment, for logs.
fn redacted(url: &Url) -> String {
    format!("{}{}", url.origin().ascii_serialization(), url.path())
}
