//! Server configuration: an optional TOML file, then `AVOW_*` environment variables on top.
//!
//! Every key has a default, so `avow serve` runs with no configuration at all. Unknown keys in
//! the file are an error that names the key. Secrets never come from the file: the master key
//! comes from `AVOW_MASTER_KEY` or from a file in the data directory.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::providers::{self, DeviceCheckEnvironment};

/// Default listen address: loopback only, so a fresh server is not reachable from outside.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Default data directory, relative to the working directory.
pub const DEFAULT_DATA_DIR: &str = "avow-data";
/// Default token issuer (`iss`).
pub const DEFAULT_ISSUER: &str = "avow";
/// Default nonce lifetime in seconds.
pub const DEFAULT_NONCE_TTL_SECS: u64 = 120;
/// Longest accepted nonce lifetime: a nonce is meant to be used within seconds.
pub const MAX_NONCE_TTL_SECS: u64 = 3600;
/// Longest accepted token lifetime, and the default cap on every app's token lifetime.
pub const MAX_TOKEN_LIFETIME_SECS: u64 = 24 * 3600;
/// Default timeout of one request to a provider (Apple DeviceCheck, Google Play Integrity), in
/// milliseconds.
pub const DEFAULT_PROVIDER_TIMEOUT_MS: u64 = 5_000;
/// Longest accepted provider request timeout, in milliseconds.
pub const MAX_PROVIDER_TIMEOUT_MS: u64 = 60_000;
/// Default number of attempts per provider call, the first included.
pub const DEFAULT_PROVIDER_MAX_ATTEMPTS: u32 = 2;
/// Largest accepted number of attempts per provider call.
pub const MAX_PROVIDER_ATTEMPTS: u32 = 5;

/// Environment variables that override configuration keys, with the key each one sets.
pub const ENV_OVERRIDES: &[(&str, &str)] = &[
    ("AVOW_LISTEN", "listen"),
    ("AVOW_DATA_DIR", "data_dir"),
    ("AVOW_DATABASE", "database"),
    ("AVOW_ISSUER", "issuer"),
    ("AVOW_LOG_FORMAT", "log_format"),
    ("AVOW_NONCE_TTL_SECS", "nonce.ttl_secs"),
    ("AVOW_TOKEN_MAX_LIFETIME_SECS", "token.max_lifetime_secs"),
    ("AVOW_APP_ATTEST_EXTRA_ROOTS", "app_attest.extra_roots"),
    ("AVOW_EVIDENCE_MAX_AGE_SECS", "evidence.max_age_secs"),
    (
        "AVOW_QUOTA_PLAY_INTEGRITY_PER_APP_PER_DAY",
        "quota.play_integrity_per_app_per_day",
    ),
    ("AVOW_REVEAL_REJECTION_REASONS", "reveal_rejection_reasons"),
    (
        "AVOW_EVIDENCE_MAX_FUTURE_SKEW_SECS",
        "evidence.max_future_skew_secs",
    ),
    ("AVOW_SAFETYNET_EXTRA_ROOTS", "safetynet.extra_roots"),
    (
        "AVOW_HUAWEI_SAFETY_DETECT_EXTRA_ROOTS",
        "huawei_safety_detect.extra_roots",
    ),
    ("AVOW_ANDROID_KEY_EXTRA_ROOTS", "android_key.extra_roots"),
    (
        "AVOW_ANDROID_KEY_STATUS_LIST_FILE",
        "android_key.status_list_file",
    ),
    ("AVOW_DEVICE_CHECK_ENVIRONMENT", "device_check.environment"),
    ("AVOW_DEVICE_CHECK_BASE_URL", "device_check.base_url"),
    ("AVOW_DEVICE_CHECK_TEAM_ID", "device_check.team_id"),
    ("AVOW_DEVICE_CHECK_KEY_ID", "device_check.key_id"),
    (
        "AVOW_DEVICE_CHECK_PRIVATE_KEY_FILE",
        "device_check.private_key_file",
    ),
    ("AVOW_DEVICE_CHECK_TIMEOUT_MS", "device_check.timeout_ms"),
    (
        "AVOW_DEVICE_CHECK_MAX_ATTEMPTS",
        "device_check.max_attempts",
    ),
    ("AVOW_PLAY_INTEGRITY_BASE_URL", "play_integrity.base_url"),
    (
        "AVOW_PLAY_INTEGRITY_SERVICE_ACCOUNT_FILE",
        "play_integrity.service_account_file",
    ),
    ("AVOW_PLAY_INTEGRITY_TOKEN_URI", "play_integrity.token_uri"),
    (
        "AVOW_PLAY_INTEGRITY_TIMEOUT_MS",
        "play_integrity.timeout_ms",
    ),
    (
        "AVOW_PLAY_INTEGRITY_MAX_ATTEMPTS",
        "play_integrity.max_attempts",
    ),
    ("AVOW_MARKETS_TRUSTED_HEADER", "markets.trusted_header"),
    ("AVOW_MARKETS_GEOIP_FILE", "markets.geoip_file"),
    (
        "AVOW_MARKETS_TRUST_FORWARDED_FOR",
        "markets.trust_forwarded_for",
    ),
    (
        "AVOW_PINNING_CHECK_INTERVAL_SECS",
        "pinning.check_interval_secs",
    ),
    (
        "AVOW_PINNING_EXPIRY_WARNING_DAYS",
        "pinning.expiry_warning_days",
    ),
    ("AVOW_PINNING_GRACE_DAYS", "pinning.grace_days"),
    (
        "AVOW_PINNING_RESIGN_INTERVAL_SECS",
        "pinning.resign_interval_secs",
    ),
    ("AVOW_PINNING_PROBE_TIMEOUT_MS", "pinning.probe_timeout_ms"),
];

/// Server configuration.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address and port to listen on. Defaults to `127.0.0.1:8080`.
    pub listen: String,
    /// Directory for the SQLite database and the master key file. Created when missing.
    /// Defaults to `avow-data` in the working directory.
    pub data_dir: PathBuf,
    /// Database URL: `sqlite://PATH` or `postgres://…`. Defaults to `avow.db` in the data
    /// directory.
    pub database: Option<String>,
    /// Token issuer, the `iss` claim. Defaults to `avow`.
    pub issuer: String,
    /// Log format: `text` or `json`. Defaults to `text`.
    pub log_format: LogFormat,
    /// Nonce settings.
    pub nonce: NonceConfig,
    /// Token settings.
    pub token: TokenConfig,
    /// Apple App Attest settings.
    pub app_attest: AppAttestConfig,
    /// Apple DeviceCheck client settings.
    pub device_check: DeviceCheckConfig,
    /// Google Play Integrity decode client settings.
    pub play_integrity: PlayIntegrityConfig,
    /// Freshness of provider evidence that carries a timestamp.
    pub evidence: EvidenceConfig,
    /// Google SafetyNet settings.
    pub safetynet: ExtraRootsConfig,
    /// Huawei Safety Detect settings.
    pub huawei_safety_detect: ExtraRootsConfig,
    /// Android key attestation settings.
    pub android_key: AndroidKeyConfig,
    /// Market resolution settings.
    pub markets: MarketsConfig,
    /// Provider quota budgets.
    pub quota: QuotaConfig,
    /// Dynamic certificate pinning: live checks, publishing and pin-failure reports.
    pub pinning: PinningConfig,
    /// Whether denied clients learn the policy's reasons even for production apps. Apps
    /// registered for App Attest's development environment always do. Defaults to false.
    pub reveal_rejection_reasons: bool,
}

/// Default Play Integrity budget per app per day: Google's default quota.
pub const DEFAULT_PLAY_INTEGRITY_PER_APP_PER_DAY: u64 = 10_000;

/// Provider quota budgets.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct QuotaConfig {
    /// Play Integrity calls per app per day (Google counts days from midnight US Pacific
    /// time). Defaults to 10000, Google's default quota.
    pub play_integrity_per_app_per_day: u64,
}

impl Default for QuotaConfig {
    fn default() -> Self {
        Self {
            play_integrity_per_app_per_day: DEFAULT_PLAY_INTEGRITY_PER_APP_PER_DAY,
        }
    }
}

/// Default maximum age of timestamped evidence (Play Integrity, SafetyNet, Huawei) in seconds.
pub const DEFAULT_EVIDENCE_MAX_AGE_SECS: u64 = 600;
/// Default allowed clock skew of evidence timestamps into the future, in seconds.
pub const DEFAULT_EVIDENCE_MAX_FUTURE_SKEW_SECS: u64 = 60;

/// Freshness of provider evidence that carries a timestamp.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct EvidenceConfig {
    /// Maximum age of the evidence's timestamp, seconds. Defaults to 600.
    pub max_age_secs: u64,
    /// Allowed clock skew into the future, seconds. Defaults to 60.
    pub max_future_skew_secs: u64,
}

impl Default for EvidenceConfig {
    fn default() -> Self {
        Self {
            max_age_secs: DEFAULT_EVIDENCE_MAX_AGE_SECS,
            max_future_skew_secs: DEFAULT_EVIDENCE_MAX_FUTURE_SKEW_SECS,
        }
    }
}

impl EvidenceConfig {
    /// Returns the freshness window.
    pub fn freshness(&self) -> Freshness {
        Freshness {
            max_age_secs: self.max_age_secs,
            max_future_skew_secs: self.max_future_skew_secs,
        }
    }
}

/// The window in which an evidence timestamp must lie.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Freshness {
    /// Maximum age, seconds.
    pub max_age_secs: u64,
    /// Allowed skew into the future, seconds.
    pub max_future_skew_secs: u64,
}

/// Settings of a provider whose certificate chains end at compiled-in roots.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct ExtraRootsConfig {
    /// PEM files with further trusted roots, next to the compiled-in ones. Defaults to none.
    pub extra_roots: Vec<PathBuf>,
}

/// Android key attestation settings.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct AndroidKeyConfig {
    /// PEM files with further trusted roots, next to Google's hardware attestation roots.
    /// Defaults to none.
    pub extra_roots: Vec<PathBuf>,
    /// Google's attestation status list (the JSON published at
    /// `https://android.googleapis.com/attestation/status`), downloaded by the operator. Without
    /// it, revocation is not checked. Defaults to none.
    pub status_list_file: Option<PathBuf>,
}

/// Market resolution settings. The market comes from the trusted header first, then from the
/// GeoIP database, then from the default market of the app's policy. The region a client
/// declares never decides it.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct MarketsConfig {
    /// Name of a request header that carries the client's country, set by a CDN or load
    /// balancer in front of Avow, such as `CF-IPCountry`. Set it only when clients cannot reach
    /// Avow around that proxy, because a client can send the header itself. Defaults to none.
    pub trusted_header: Option<String>,
    /// A GeoLite2-Country or GeoIP2-Country database (MaxMind DB format) that maps the client
    /// address to its country. Read once at start. Defaults to none.
    pub geoip_file: Option<PathBuf>,
    /// Whether the GeoIP lookup uses the first address of `X-Forwarded-For` in place of the
    /// TCP peer address. Enable it only behind a proxy that replaces any `X-Forwarded-For` the
    /// client sends. Defaults to false.
    pub trust_forwarded_for: bool,
}

/// Default seconds between two background checks of every API domain.
pub const DEFAULT_PIN_CHECK_INTERVAL_SECS: u64 = 3600;
/// Default days before an expiry from which a domain is reported as `expiring_soon`.
pub const DEFAULT_PIN_EXPIRY_WARNING_DAYS: u64 = 21;
/// Default days a published pin document keeps the pins that the previous document had.
pub const DEFAULT_PIN_GRACE_DAYS: u64 = 30;
/// Default age in seconds of a document's signature after which `GET /v1/pins` signs it again.
pub const DEFAULT_PIN_RESIGN_INTERVAL_SECS: u64 = 3600;
/// Default timeout of one live-chain probe (TCP connect and TLS handshake), in milliseconds.
pub const DEFAULT_PIN_PROBE_TIMEOUT_MS: u64 = 5_000;
/// Default number of API domains the background check probes at the same time.
pub const DEFAULT_PIN_CHECK_CONCURRENCY: usize = 4;
/// Default pin-failure reports accepted per client address per minute, by one server instance.
pub const DEFAULT_PIN_REPORTS_PER_MINUTE_PER_CLIENT: u32 = 30;
/// Default pin-failure reports accepted per app per minute, by one server instance.
pub const DEFAULT_PIN_REPORTS_PER_MINUTE_PER_APP: u32 = 600;
/// Default maximum of report groups (host, reason, document version, app version) per app.
pub const DEFAULT_PIN_MAX_REPORT_GROUPS: u64 = 10_000;

/// Dynamic certificate pinning settings.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct PinningConfig {
    /// Seconds between two background checks of every API domain's live chain (1 to 604800).
    /// Defaults to 3600.
    pub check_interval_secs: u64,
    /// Days before a certificate on a validated path, or the published document, expires from
    /// which the domain is `expiring_soon` (1 to 365). Defaults to 21.
    pub expiry_warning_days: u64,
    /// Days a newly published document keeps the pins that the previous document had and the
    /// new pin set dropped, so apps holding the previous document keep working (0 to 365).
    /// Defaults to 30.
    pub grace_days: u64,
    /// Age in seconds of a document's signature after which `GET /v1/pins` signs the same
    /// version again with the current time as `iat`, so apps get signed server time (60 to
    /// 86400). Defaults to 3600.
    pub resign_interval_secs: u64,
    /// Timeout of one live-chain probe, TCP connect and TLS handshake together, in
    /// milliseconds (1 to 60000). Defaults to 5000.
    pub probe_timeout_ms: u64,
    /// API domains the background check probes at the same time (1 to 64). Defaults to 4.
    pub check_concurrency: usize,
    /// Pin-failure reports accepted per client address per minute by each server instance (1
    /// to 100000). Defaults to 30.
    pub reports_per_minute_per_client: u32,
    /// Pin-failure reports accepted per app per minute by each server instance (1 to
    /// 1000000). Defaults to 600.
    pub reports_per_minute_per_app: u32,
    /// Report groups (host, reason, document version, app version) kept per app; reports that
    /// would start a new group beyond it are dropped (1 to 1000000). Defaults to 10000.
    pub max_report_groups_per_app: u64,
}

impl Default for PinningConfig {
    fn default() -> Self {
        Self {
            check_interval_secs: DEFAULT_PIN_CHECK_INTERVAL_SECS,
            expiry_warning_days: DEFAULT_PIN_EXPIRY_WARNING_DAYS,
            grace_days: DEFAULT_PIN_GRACE_DAYS,
            resign_interval_secs: DEFAULT_PIN_RESIGN_INTERVAL_SECS,
            probe_timeout_ms: DEFAULT_PIN_PROBE_TIMEOUT_MS,
            check_concurrency: DEFAULT_PIN_CHECK_CONCURRENCY,
            reports_per_minute_per_client: DEFAULT_PIN_REPORTS_PER_MINUTE_PER_CLIENT,
            reports_per_minute_per_app: DEFAULT_PIN_REPORTS_PER_MINUTE_PER_APP,
            max_report_groups_per_app: DEFAULT_PIN_MAX_REPORT_GROUPS,
        }
    }
}

impl PinningConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        let ranges: [(&str, u64, u64, u64); 9] = [
            (
                "check_interval_secs",
                self.check_interval_secs,
                1,
                7 * 86_400,
            ),
            ("expiry_warning_days", self.expiry_warning_days, 1, 365),
            ("grace_days", self.grace_days, 0, 365),
            (
                "resign_interval_secs",
                self.resign_interval_secs,
                60,
                86_400,
            ),
            ("probe_timeout_ms", self.probe_timeout_ms, 1, 60_000),
            (
                "check_concurrency",
                u64::try_from(self.check_concurrency).unwrap_or(u64::MAX),
                1,
                64,
            ),
            (
                "reports_per_minute_per_client",
                u64::from(self.reports_per_minute_per_client),
                1,
                100_000,
            ),
            (
                "reports_per_minute_per_app",
                u64::from(self.reports_per_minute_per_app),
                1,
                1_000_000,
            ),
            (
                "max_report_groups_per_app",
                self.max_report_groups_per_app,
                1,
                1_000_000,
            ),
        ];
        for (key, value, min, max) in ranges {
            if !(min..=max).contains(&value) {
                return Err(ConfigError::Invalid(format!(
                    "pinning.{key} must be between {min} and {max}, got {value}"
                )));
            }
        }
        Ok(())
    }
}

/// Log output format.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable lines.
    #[default]
    Text,
}

/// Nonce settings.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct NonceConfig {
    /// Seconds a nonce stays valid after issue. Defaults to 120.
    pub ttl_secs: u64,
}

/// Token settings.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct TokenConfig {
    /// Maximum seconds any token stays valid after issue. Each app's policy sets the lifetime
    /// of its tokens (`rules.token_lifetime_secs`, 300 by default), and this caps it server-wide.
    /// Defaults to 86400, the largest lifetime a policy accepts.
    pub max_lifetime_secs: u64,
}

/// Apple App Attest settings.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct AppAttestConfig {
    /// PEM files with further trusted roots, next to Apple's App Attestation Root CA, for
    /// example a test CA. Defaults to none.
    pub extra_roots: Vec<PathBuf>,
}

/// Apple DeviceCheck client settings. The client is enabled when `private_key_file` is set.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct DeviceCheckConfig {
    /// Apple environment to call: `production` (App Store and TestFlight builds) or
    /// `development`. Defaults to `production`.
    pub environment: DeviceCheckEnvironment,
    /// URL that replaces the environment's Apple host, for example a mock server. Must be
    /// `https`, or `http` on a loopback address. Defaults to none.
    pub base_url: Option<String>,
    /// Apple developer team id. Required with `private_key_file`. Defaults to none.
    pub team_id: Option<String>,
    /// Id of the key with DeviceCheck enabled. Required with `private_key_file`. Defaults to
    /// none.
    pub key_id: Option<String>,
    /// The `.p8` private key file downloaded from Apple. Defaults to none, which disables
    /// DeviceCheck.
    pub private_key_file: Option<PathBuf>,
    /// Timeout of one request to Apple, in milliseconds (1 to 60000). Defaults to 5000.
    pub timeout_ms: u64,
    /// Attempts per call, the first included (1 to 5). Defaults to 2.
    pub max_attempts: u32,
}

/// Google Play Integrity decode client settings. The client is enabled when
/// `service_account_file` is set.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct PlayIntegrityConfig {
    /// URL that replaces Google's Play Integrity host, for example a mock server. Must be
    /// `https`, or `http` on a loopback address. Defaults to none.
    pub base_url: Option<String>,
    /// The service-account JSON key file of a Google Cloud project linked to the app in the
    /// Play Console. Defaults to none, which disables decoding through Google.
    pub service_account_file: Option<PathBuf>,
    /// URL that replaces the key file's `token_uri`. Same rules as `base_url`. Defaults to
    /// none.
    pub token_uri: Option<String>,
    /// Timeout of one request to Google, in milliseconds (1 to 60000). Defaults to 5000.
    pub timeout_ms: u64,
    /// Attempts per call, the first included (1 to 5). Defaults to 2.
    pub max_attempts: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN.to_owned(),
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            database: None,
            issuer: DEFAULT_ISSUER.to_owned(),
            log_format: LogFormat::Text,
            nonce: NonceConfig::default(),
            token: TokenConfig::default(),
            app_attest: AppAttestConfig::default(),
            device_check: DeviceCheckConfig::default(),
            play_integrity: PlayIntegrityConfig::default(),
            evidence: EvidenceConfig::default(),
            safetynet: ExtraRootsConfig::default(),
            huawei_safety_detect: ExtraRootsConfig::default(),
            android_key: AndroidKeyConfig::default(),
            quota: QuotaConfig::default(),
            pinning: PinningConfig::default(),
            reveal_rejection_reasons: false,
            markets: MarketsConfig::default(),
        }
    }
}

impl Default for DeviceCheckConfig {
    fn default() -> Self {
        Self {
            environment: DeviceCheckEnvironment::Production,
            base_url: None,
            team_id: None,
            key_id: None,
            private_key_file: None,
            timeout_ms: DEFAULT_PROVIDER_TIMEOUT_MS,
            max_attempts: DEFAULT_PROVIDER_MAX_ATTEMPTS,
        }
    }
}

impl Default for PlayIntegrityConfig {
    fn default() -> Self {
        Self {
            base_url: None,
            service_account_file: None,
            token_uri: None,
            timeout_ms: DEFAULT_PROVIDER_TIMEOUT_MS,
            max_attempts: DEFAULT_PROVIDER_MAX_ATTEMPTS,
        }
    }
}

impl Default for NonceConfig {
    fn default() -> Self {
        Self {
            ttl_secs: DEFAULT_NONCE_TTL_SECS,
        }
    }
}

impl Default for TokenConfig {
    fn default() -> Self {
        Self {
            max_lifetime_secs: MAX_TOKEN_LIFETIME_SECS,
        }
    }
}

/// Failures to load the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this configuration (unknown keys included).
    #[error("invalid config file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message, which names the offending key.
        message: String,
    },
    /// An environment variable has an invalid value.
    #[error("invalid value in environment variable {variable}: {message}")]
    Env {
        /// The variable.
        variable: &'static str,
        /// The problem found.
        message: String,
    },
    /// A value is out of range or inconsistent.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// Loads the file at `path` when given, then applies environment overrides read through
    /// `env`, then validates the result.
    pub fn load(
        path: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut config = match path {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_owned(),
                    source,
                })?;
                Self::from_toml(&text).map_err(|message| ConfigError::Parse {
                    path: path.to_owned(),
                    message,
                })?
            }
            None => Self::default(),
        };
        config.apply_env(env)?;
        config.validate()?;
        Ok(config)
    }

    /// Parses TOML text. Returns the parser's message on error.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|error| error.message().to_owned())
    }

    fn apply_env(&mut self, env: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        let number = |variable: &'static str, value: &str| {
            value.parse::<u64>().map_err(|_| ConfigError::Env {
                variable,
                message: "expected a whole number of seconds".to_owned(),
            })
        };
        let milliseconds = |variable: &'static str, value: &str| {
            value.parse::<u64>().map_err(|_| ConfigError::Env {
                variable,
                message: "expected a whole number of milliseconds".to_owned(),
            })
        };
        let attempts = |variable: &'static str, value: &str| {
            value.parse::<u32>().map_err(|_| ConfigError::Env {
                variable,
                message: "expected a whole number of attempts".to_owned(),
            })
        };
        for (variable, _) in ENV_OVERRIDES {
            let Some(value) = env(variable) else { continue };
            match *variable {
                "AVOW_LISTEN" => self.listen = value,
                "AVOW_DATA_DIR" => self.data_dir = PathBuf::from(value),
                "AVOW_DATABASE" => self.database = Some(value),
                "AVOW_ISSUER" => self.issuer = value,
                "AVOW_LOG_FORMAT" => {
                    self.log_format = match value.as_str() {
                        "json" => LogFormat::Json,
                        "text" => LogFormat::Text,
                        _ => {
                            return Err(ConfigError::Env {
                                variable,
                                message: "expected json or text".to_owned(),
                            });
                        }
                    }
                }
                "AVOW_NONCE_TTL_SECS" => self.nonce.ttl_secs = number(variable, &value)?,
                "AVOW_TOKEN_MAX_LIFETIME_SECS" => {
                    self.token.max_lifetime_secs = number(variable, &value)?
                }
                "AVOW_APP_ATTEST_EXTRA_ROOTS" => {
                    self.app_attest.extra_roots = std::env::split_paths(&value).collect();
                }
                "AVOW_QUOTA_PLAY_INTEGRITY_PER_APP_PER_DAY" => {
                    self.quota.play_integrity_per_app_per_day =
                        value.parse().map_err(|_| ConfigError::Env {
                            variable,
                            message: "expected a whole number of calls".to_owned(),
                        })?;
                }
                "AVOW_REVEAL_REJECTION_REASONS" => {
                    self.reveal_rejection_reasons = match value.as_str() {
                        "true" | "1" => true,
                        "false" | "0" => false,
                        _ => {
                            return Err(ConfigError::Env {
                                variable,
                                message: "expected true or false".to_owned(),
                            });
                        }
                    };
                }
                "AVOW_EVIDENCE_MAX_AGE_SECS" => {
                    self.evidence.max_age_secs = number(variable, &value)?;
                }
                "AVOW_EVIDENCE_MAX_FUTURE_SKEW_SECS" => {
                    self.evidence.max_future_skew_secs = number(variable, &value)?;
                }
                "AVOW_SAFETYNET_EXTRA_ROOTS" => {
                    self.safetynet.extra_roots = std::env::split_paths(&value).collect();
                }
                "AVOW_HUAWEI_SAFETY_DETECT_EXTRA_ROOTS" => {
                    self.huawei_safety_detect.extra_roots = std::env::split_paths(&value).collect();
                }
                "AVOW_ANDROID_KEY_EXTRA_ROOTS" => {
                    self.android_key.extra_roots = std::env::split_paths(&value).collect();
                }
                "AVOW_ANDROID_KEY_STATUS_LIST_FILE" => {
                    self.android_key.status_list_file = Some(PathBuf::from(value));
                }
                "AVOW_DEVICE_CHECK_ENVIRONMENT" => {
                    self.device_check.environment = match value.as_str() {
                        "production" => DeviceCheckEnvironment::Production,
                        "development" => DeviceCheckEnvironment::Development,
                        _ => {
                            return Err(ConfigError::Env {
                                variable,
                                message: "expected production or development".to_owned(),
                            });
                        }
                    }
                }
                "AVOW_DEVICE_CHECK_BASE_URL" => self.device_check.base_url = Some(value),
                "AVOW_DEVICE_CHECK_TEAM_ID" => self.device_check.team_id = Some(value),
                "AVOW_DEVICE_CHECK_KEY_ID" => self.device_check.key_id = Some(value),
                "AVOW_DEVICE_CHECK_PRIVATE_KEY_FILE" => {
                    self.device_check.private_key_file = Some(PathBuf::from(value));
                }
                "AVOW_DEVICE_CHECK_TIMEOUT_MS" => {
                    self.device_check.timeout_ms = milliseconds(variable, &value)?;
                }
                "AVOW_DEVICE_CHECK_MAX_ATTEMPTS" => {
                    self.device_check.max_attempts = attempts(variable, &value)?;
                }
                "AVOW_PLAY_INTEGRITY_BASE_URL" => self.play_integrity.base_url = Some(value),
                "AVOW_PLAY_INTEGRITY_SERVICE_ACCOUNT_FILE" => {
                    self.play_integrity.service_account_file = Some(PathBuf::from(value));
                }
                "AVOW_PLAY_INTEGRITY_TOKEN_URI" => self.play_integrity.token_uri = Some(value),
                "AVOW_PLAY_INTEGRITY_TIMEOUT_MS" => {
                    self.play_integrity.timeout_ms = milliseconds(variable, &value)?;
                }
                "AVOW_PLAY_INTEGRITY_MAX_ATTEMPTS" => {
                    self.play_integrity.max_attempts = attempts(variable, &value)?;
                }
                "AVOW_MARKETS_TRUSTED_HEADER" => self.markets.trusted_header = Some(value),
                "AVOW_MARKETS_GEOIP_FILE" => {
                    self.markets.geoip_file = Some(PathBuf::from(value));
                }
                "AVOW_PINNING_CHECK_INTERVAL_SECS" => {
                    self.pinning.check_interval_secs = number(variable, &value)?;
                }
                "AVOW_PINNING_EXPIRY_WARNING_DAYS" => {
                    self.pinning.expiry_warning_days =
                        value.parse().map_err(|_| ConfigError::Env {
                            variable,
                            message: "expected a whole number of days".to_owned(),
                        })?;
                }
                "AVOW_PINNING_GRACE_DAYS" => {
                    self.pinning.grace_days = value.parse().map_err(|_| ConfigError::Env {
                        variable,
                        message: "expected a whole number of days".to_owned(),
                    })?;
                }
                "AVOW_PINNING_RESIGN_INTERVAL_SECS" => {
                    self.pinning.resign_interval_secs = number(variable, &value)?;
                }
                "AVOW_PINNING_PROBE_TIMEOUT_MS" => {
                    self.pinning.probe_timeout_ms = milliseconds(variable, &value)?;
                }
                "AVOW_MARKETS_TRUST_FORWARDED_FOR" => {
                    self.markets.trust_forwarded_for = match value.as_str() {
                        "true" => true,
                        "false" => false,
                        _ => {
                            return Err(ConfigError::Env {
                                variable,
                                message: "expected true or false".to_owned(),
                            });
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), ConfigError> {
        self.listen_addr()?;
        if !(1..=MAX_NONCE_TTL_SECS).contains(&self.nonce.ttl_secs) {
            return Err(ConfigError::Invalid(format!(
                "nonce.ttl_secs must be between 1 and {MAX_NONCE_TTL_SECS}"
            )));
        }
        if !(1..=MAX_TOKEN_LIFETIME_SECS).contains(&self.token.max_lifetime_secs) {
            return Err(ConfigError::Invalid(format!(
                "token.max_lifetime_secs must be between 1 and {MAX_TOKEN_LIFETIME_SECS}"
            )));
        }
        if self.issuer.is_empty() {
            return Err(ConfigError::Invalid("issuer must not be empty".to_owned()));
        }
        self.device_check.validate()?;
        self.play_integrity.validate()?;
        self.markets.validate()?;
        self.pinning.validate()?;
        Ok(())
    }

    /// Returns the parsed listen address.
    pub fn listen_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.listen.parse().map_err(|_| {
            ConfigError::Invalid(format!(
                "listen must be an address and port such as {DEFAULT_LISTEN}, got {:?}",
                self.listen
            ))
        })
    }

    /// Returns the database URL, defaulting to `avow.db` in the data directory.
    pub fn database_url(&self) -> DatabaseUrl {
        match &self.database {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                DatabaseUrl::Postgres(url.clone())
            }
            Some(url) => DatabaseUrl::Sqlite(url.clone()),
            None => DatabaseUrl::SqliteFile(self.data_dir.join("avow.db")),
        }
    }
}

impl DeviceCheckConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        validate_provider_call("device_check", self.timeout_ms, self.max_attempts)?;
        validate_provider_url("device_check.base_url", self.base_url.as_deref())?;
        if self.private_key_file.is_some() {
            for (key, value) in [("team_id", &self.team_id), ("key_id", &self.key_id)] {
                if value.as_deref().is_none_or(str::is_empty) {
                    return Err(ConfigError::Invalid(format!(
                        "device_check.{key} is required when device_check.private_key_file is set"
                    )));
                }
            }
        }
        Ok(())
    }
}

impl MarketsConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if let Some(name) = &self.trusted_header
            && axum::http::HeaderName::from_bytes(name.as_bytes()).is_err()
        {
            return Err(ConfigError::Invalid(format!(
                "markets.trusted_header {name:?} is not a valid HTTP header name"
            )));
        }
        Ok(())
    }
}

impl PlayIntegrityConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        validate_provider_call("play_integrity", self.timeout_ms, self.max_attempts)?;
        validate_provider_url("play_integrity.base_url", self.base_url.as_deref())?;
        validate_provider_url("play_integrity.token_uri", self.token_uri.as_deref())
    }
}

fn validate_provider_call(
    section: &str,
    timeout_ms: u64,
    max_attempts: u32,
) -> Result<(), ConfigError> {
    if !(1..=MAX_PROVIDER_TIMEOUT_MS).contains(&timeout_ms) {
        return Err(ConfigError::Invalid(format!(
            "{section}.timeout_ms must be between 1 and {MAX_PROVIDER_TIMEOUT_MS}"
        )));
    }
    if !(1..=MAX_PROVIDER_ATTEMPTS).contains(&max_attempts) {
        return Err(ConfigError::Invalid(format!(
            "{section}.max_attempts must be between 1 and {MAX_PROVIDER_ATTEMPTS}"
        )));
    }
    Ok(())
}

fn validate_provider_url(key: &str, url: Option<&str>) -> Result<(), ConfigError> {
    match url {
        Some(url) => providers::parse_base_url(url)
            .map(drop)
            .map_err(|message| ConfigError::Invalid(format!("{key} {message}"))),
        None => Ok(()),
    }
}

/// The location of the server's state.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A PostgreSQL URL.
    Postgres(String),
    /// A `sqlite:` URL.
    Sqlite(String),
    /// A SQLite database file.
    SqliteFile(PathBuf),
}

impl std::fmt::Debug for DatabaseUrl {
    // A PostgreSQL URL may contain a password, so only the kind is printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Postgres(_) => f.write_str("Postgres(..)"),
            Self::Sqlite(url) => write!(f, "Sqlite({url:?})"),
            Self::SqliteFile(path) => write!(f, "SqliteFile({path:?})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn empty_file_gives_defaults() {
        assert_eq!(Config::from_toml("").unwrap(), Config::default());
    }

    #[test]
    fn unknown_key_named_in_error() {
        let message = Config::from_toml("listne = \"127.0.0.1:1\"").unwrap_err();
        assert!(message.contains("listne"), "{message}");
        let message = Config::from_toml("[nonce]\nttl = 5").unwrap_err();
        assert!(message.contains("ttl"), "{message}");
    }

    #[test]
    fn file_values_read() {
        let config = Config::from_toml(
            "listen = \"127.0.0.1:9000\"\nissuer = \"x\"\n[nonce]\nttl_secs = 30\n\
             [token]\nmax_lifetime_secs = 60\n[app_attest]\nextra_roots = [\"a.pem\"]",
        )
        .unwrap();
        assert_eq!(config.listen, "127.0.0.1:9000");
        assert_eq!(config.issuer, "x");
        assert_eq!(config.nonce.ttl_secs, 30);
        assert_eq!(config.token.max_lifetime_secs, 60);
        assert_eq!(config.app_attest.extra_roots, vec![PathBuf::from("a.pem")]);
    }

    #[test]
    fn env_overrides_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("avow.toml");
        std::fs::write(&path, "[nonce]\nttl_secs = 30\n").unwrap();
        let config = Config::load(Some(&path), |name| match name {
            "AVOW_NONCE_TTL_SECS" => Some("45".to_owned()),
            "AVOW_LISTEN" => Some("127.0.0.1:9999".to_owned()),
            _ => None,
        })
        .unwrap();
        assert_eq!(config.nonce.ttl_secs, 45);
        assert_eq!(config.listen, "127.0.0.1:9999");
    }

    #[test]
    fn bad_env_value_names_variable() {
        let error = Config::load(None, |name| {
            (name == "AVOW_TOKEN_MAX_LIFETIME_SECS").then(|| "five".to_owned())
        })
        .unwrap_err();
        assert!(
            error.to_string().contains("AVOW_TOKEN_MAX_LIFETIME_SECS"),
            "{error}"
        );
    }

    #[test]
    fn out_of_range_values_rejected() {
        let error = Config::load(None, |name| {
            (name == "AVOW_NONCE_TTL_SECS").then(|| "0".to_owned())
        })
        .unwrap_err();
        assert!(error.to_string().contains("nonce.ttl_secs"), "{error}");
        let error = Config::load(None, |name| {
            (name == "AVOW_LISTEN").then(|| "nowhere".to_owned())
        })
        .unwrap_err();
        assert!(error.to_string().contains("listen"), "{error}");
    }

    #[test]
    fn default_database_is_sqlite_in_data_dir() {
        let config = Config::load(None, no_env).unwrap();
        assert_eq!(
            config.database_url(),
            DatabaseUrl::SqliteFile(PathBuf::from("avow-data/avow.db"))
        );
    }

    #[test]
    fn postgres_url_detected_and_hidden_in_debug() {
        let config = Config {
            database: Some("postgres://user:secret@127.0.0.1/test".to_owned()),
            ..Config::default()
        };
        let url = config.database_url();
        assert!(matches!(url, DatabaseUrl::Postgres(_)));
        assert!(!format!("{url:?}").contains("secret"));
    }

    #[test]
    fn provider_sections_read() {
        let config = Config::from_toml(
            "[device_check]\nenvironment = \"development\"\nteam_id = \"TEAM123456\"\n\
             key_id = \"KEY1234567\"\nprivate_key_file = \"dc.p8\"\ntimeout_ms = 800\n\
             max_attempts = 3\n[play_integrity]\nservice_account_file = \"sa.json\"\n\
             base_url = \"http://127.0.0.1:9\"\ntoken_uri = \"http://127.0.0.1:9/token\"\n\
             timeout_ms = 900\nmax_attempts = 1",
        )
        .unwrap();

        let device_check = &config.device_check;
        assert_eq!(
            device_check.environment,
            DeviceCheckEnvironment::Development
        );
        assert_eq!(device_check.team_id.as_deref(), Some("TEAM123456"));
        assert_eq!(device_check.key_id.as_deref(), Some("KEY1234567"));
        assert_eq!(device_check.private_key_file, Some(PathBuf::from("dc.p8")));
        assert_eq!(device_check.timeout_ms, 800);
        assert_eq!(device_check.max_attempts, 3);

        let play_integrity = &config.play_integrity;
        assert_eq!(
            play_integrity.service_account_file,
            Some(PathBuf::from("sa.json"))
        );
        assert_eq!(
            play_integrity.base_url.as_deref(),
            Some("http://127.0.0.1:9")
        );
        assert_eq!(
            play_integrity.token_uri.as_deref(),
            Some("http://127.0.0.1:9/token")
        );
        assert_eq!(play_integrity.timeout_ms, 900);
        assert_eq!(play_integrity.max_attempts, 1);

        config.validate().unwrap();
    }

    #[test]
    fn provider_defaults() {
        let config = Config::default();
        assert_eq!(
            config.device_check.environment,
            DeviceCheckEnvironment::Production
        );
        assert_eq!(config.device_check.private_key_file, None);
        assert_eq!(config.device_check.timeout_ms, DEFAULT_PROVIDER_TIMEOUT_MS);
        assert_eq!(
            config.device_check.max_attempts,
            DEFAULT_PROVIDER_MAX_ATTEMPTS
        );
        assert_eq!(config.play_integrity.service_account_file, None);
        assert_eq!(
            config.play_integrity.timeout_ms,
            DEFAULT_PROVIDER_TIMEOUT_MS
        );
    }

    #[test]
    fn provider_env_overrides() {
        let config = Config::load(None, |name| {
            let value = match name {
                "AVOW_DEVICE_CHECK_ENVIRONMENT" => "development",
                "AVOW_DEVICE_CHECK_BASE_URL" => "http://127.0.0.1:1",
                "AVOW_DEVICE_CHECK_TEAM_ID" => "TEAM",
                "AVOW_DEVICE_CHECK_KEY_ID" => "KEY",
                "AVOW_DEVICE_CHECK_PRIVATE_KEY_FILE" => "key.p8",
                "AVOW_DEVICE_CHECK_TIMEOUT_MS" => "250",
                "AVOW_DEVICE_CHECK_MAX_ATTEMPTS" => "1",
                "AVOW_PLAY_INTEGRITY_BASE_URL" => "http://[::1]:2",
                "AVOW_PLAY_INTEGRITY_SERVICE_ACCOUNT_FILE" => "sa.json",
                "AVOW_PLAY_INTEGRITY_TOKEN_URI" => "http://localhost:3/token",
                "AVOW_PLAY_INTEGRITY_TIMEOUT_MS" => "350",
                "AVOW_PLAY_INTEGRITY_MAX_ATTEMPTS" => "4",
                _ => return None,
            };
            Some(value.to_owned())
        })
        .unwrap();
        assert_eq!(
            config.device_check,
            DeviceCheckConfig {
                environment: DeviceCheckEnvironment::Development,
                base_url: Some("http://127.0.0.1:1".to_owned()),
                team_id: Some("TEAM".to_owned()),
                key_id: Some("KEY".to_owned()),
                private_key_file: Some(PathBuf::from("key.p8")),
                timeout_ms: 250,
                max_attempts: 1,
            }
        );
        assert_eq!(
            config.play_integrity,
            PlayIntegrityConfig {
                base_url: Some("http://[::1]:2".to_owned()),
                service_account_file: Some(PathBuf::from("sa.json")),
                token_uri: Some("http://localhost:3/token".to_owned()),
                timeout_ms: 350,
                max_attempts: 4,
            }
        );
    }

    #[test]
    fn provider_env_values_checked() {
        for (variable, value) in [
            ("AVOW_DEVICE_CHECK_ENVIRONMENT", "staging"),
            ("AVOW_DEVICE_CHECK_TIMEOUT_MS", "1s"),
            ("AVOW_PLAY_INTEGRITY_MAX_ATTEMPTS", "-1"),
        ] {
            let error = Config::load(None, |name| (name == variable).then(|| value.to_owned()))
                .unwrap_err();
            assert!(error.to_string().contains(variable), "{error}");
            assert!(!error.to_string().contains(value), "{error}");
        }
    }

    #[test]
    fn device_check_key_requires_ids() {
        let error = Config::load(None, |name| {
            (name == "AVOW_DEVICE_CHECK_PRIVATE_KEY_FILE").then(|| "key.p8".to_owned())
        })
        .unwrap_err();
        assert!(
            error.to_string().contains("device_check.team_id"),
            "{error}"
        );
    }

    #[test]
    fn provider_limits_checked() {
        for (variable, value, key) in [
            (
                "AVOW_DEVICE_CHECK_TIMEOUT_MS",
                "0",
                "device_check.timeout_ms",
            ),
            (
                "AVOW_DEVICE_CHECK_MAX_ATTEMPTS",
                "6",
                "device_check.max_attempts",
            ),
            (
                "AVOW_PLAY_INTEGRITY_TIMEOUT_MS",
                "60001",
                "play_integrity.timeout_ms",
            ),
            (
                "AVOW_PLAY_INTEGRITY_MAX_ATTEMPTS",
                "0",
                "play_integrity.max_attempts",
            ),
        ] {
            let error = Config::load(None, |name| (name == variable).then(|| value.to_owned()))
                .unwrap_err();
            assert!(error.to_string().contains(key), "{variable}: {error}");
        }
    }

    #[test]
    fn provider_urls_need_https_off_loopback() {
        for (variable, value, key) in [
            (
                "AVOW_DEVICE_CHECK_BASE_URL",
                "http://provider.example",
                "device_check.base_url",
            ),
            (
                "AVOW_PLAY_INTEGRITY_BASE_URL",
                "not a url",
                "play_integrity.base_url",
            ),
            (
                "AVOW_PLAY_INTEGRITY_TOKEN_URI",
                "http://192.0.2.1/token",
                "play_integrity.token_uri",
            ),
        ] {
            let error = Config::load(None, |name| (name == variable).then(|| value.to_owned()))
                .unwrap_err();
            assert!(error.to_string().contains(key), "{variable}: {error}");
        }
    }

    #[test]
    fn markets_section_read() {
        let config = Config::from_toml(
            "[markets]\ntrusted_header = \"CF-IPCountry\"\ngeoip_file = \"GeoLite2-Country.mmdb\"\n\
             trust_forwarded_for = true",
        )
        .unwrap();
        assert_eq!(
            config.markets,
            MarketsConfig {
                trusted_header: Some("CF-IPCountry".to_owned()),
                geoip_file: Some(PathBuf::from("GeoLite2-Country.mmdb")),
                trust_forwarded_for: true,
            }
        );
        config.validate().unwrap();
        assert_eq!(Config::default().markets, MarketsConfig::default());
        assert!(!MarketsConfig::default().trust_forwarded_for);
    }

    #[test]
    fn markets_env_overrides() {
        let config = Config::load(None, |name| {
            let value = match name {
                "AVOW_MARKETS_TRUSTED_HEADER" => "X-Country",
                "AVOW_MARKETS_GEOIP_FILE" => "/var/lib/geoip/country.mmdb",
                "AVOW_MARKETS_TRUST_FORWARDED_FOR" => "true",
                _ => return None,
            };
            Some(value.to_owned())
        })
        .unwrap();
        assert_eq!(
            config.markets,
            MarketsConfig {
                trusted_header: Some("X-Country".to_owned()),
                geoip_file: Some(PathBuf::from("/var/lib/geoip/country.mmdb")),
                trust_forwarded_for: true,
            }
        );
    }

    #[test]
    fn markets_values_checked() {
        let error = Config::load(None, |name| {
            (name == "AVOW_MARKETS_TRUST_FORWARDED_FOR").then(|| "yes".to_owned())
        })
        .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("AVOW_MARKETS_TRUST_FORWARDED_FOR"),
            "{error}"
        );

        let error = Config::load(None, |name| {
            (name == "AVOW_MARKETS_TRUSTED_HEADER").then(|| "CF IPCountry".to_owned())
        })
        .unwrap_err();
        assert!(
            error.to_string().contains("markets.trusted_header"),
            "{error}"
        );
    }

    #[test]
    fn pinning_section_read_and_checked() {
        let config = Config::from_toml(
            "[pinning]\ncheck_interval_secs = 60\nexpiry_warning_days = 14\ngrace_days = 0\n\
             resign_interval_secs = 600\nprobe_timeout_ms = 2000\ncheck_concurrency = 2\n\
             reports_per_minute_per_client = 5\nreports_per_minute_per_app = 50\n\
             max_report_groups_per_app = 100",
        )
        .unwrap();
        assert_eq!(
            config.pinning,
            PinningConfig {
                check_interval_secs: 60,
                expiry_warning_days: 14,
                grace_days: 0,
                resign_interval_secs: 600,
                probe_timeout_ms: 2000,
                check_concurrency: 2,
                reports_per_minute_per_client: 5,
                reports_per_minute_per_app: 50,
                max_report_groups_per_app: 100,
            }
        );
        config.validate().unwrap();

        let defaults = Config::default().pinning;
        assert_eq!(defaults.check_interval_secs, 3600);
        assert_eq!(defaults.expiry_warning_days, 21);
        assert_eq!(defaults.grace_days, 30);
        assert_eq!(defaults.resign_interval_secs, 3600);

        let message = Config::from_toml("[pinning]\ninterval = 5").unwrap_err();
        assert!(message.contains("interval"), "{message}");
    }

    #[test]
    fn pinning_env_overrides_and_limits() {
        let config = Config::load(None, |name| {
            let value = match name {
                "AVOW_PINNING_CHECK_INTERVAL_SECS" => "5",
                "AVOW_PINNING_EXPIRY_WARNING_DAYS" => "7",
                "AVOW_PINNING_GRACE_DAYS" => "2",
                "AVOW_PINNING_RESIGN_INTERVAL_SECS" => "120",
                "AVOW_PINNING_PROBE_TIMEOUT_MS" => "750",
                _ => return None,
            };
            Some(value.to_owned())
        })
        .unwrap();
        assert_eq!(config.pinning.check_interval_secs, 5);
        assert_eq!(config.pinning.expiry_warning_days, 7);
        assert_eq!(config.pinning.grace_days, 2);
        assert_eq!(config.pinning.resign_interval_secs, 120);
        assert_eq!(config.pinning.probe_timeout_ms, 750);

        for (variable, value, key) in [
            (
                "AVOW_PINNING_CHECK_INTERVAL_SECS",
                "0",
                "pinning.check_interval_secs",
            ),
            (
                "AVOW_PINNING_RESIGN_INTERVAL_SECS",
                "10",
                "pinning.resign_interval_secs",
            ),
            ("AVOW_PINNING_GRACE_DAYS", "366", "pinning.grace_days"),
        ] {
            let error = Config::load(None, |name| (name == variable).then(|| value.to_owned()))
                .unwrap_err();
            assert!(error.to_string().contains(key), "{variable}: {error}");
        }
        let error = Config::load(None, |name| {
            (name == "AVOW_PINNING_GRACE_DAYS").then(|| "soon".to_owned())
        })
        .unwrap_err();
        assert!(
            error.to_string().contains("AVOW_PINNING_GRACE_DAYS"),
            "{error}"
        );
    }

    #[test]
    fn sample_config_in_docs_parses() {
        let text = include_str!("../../../docs/avow.example.toml");
        Config::from_toml(text).unwrap();
    }
}
