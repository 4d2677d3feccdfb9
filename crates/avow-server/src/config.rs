//! Server configuration: an optional TOML file, then `AVOW_*` environment variables on top.
//!
//! Every key has a default, so `avow serve` runs with no configuration at all. Unknown keys in
//! the file are an error that names the key. Secrets never come from the file: the master key
//! comes from `AVOW_MASTER_KEY` or from a file in the data directory.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Default listen address: loopback only, so a fresh server is not reachable from outside.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Default data directory, relative to the working directory.
pub const DEFAULT_DATA_DIR: &str = "avow-data";
/// Default token issuer (`iss`).
pub const DEFAULT_ISSUER: &str = "avow";
/// Default nonce lifetime in seconds.
pub const DEFAULT_NONCE_TTL_SECS: u64 = 120;
/// Default token lifetime in seconds.
pub const DEFAULT_TOKEN_LIFETIME_SECS: u64 = avow_token::DEFAULT_LIFETIME_SECS;
/// Longest accepted nonce lifetime: a nonce is meant to be used within seconds.
pub const MAX_NONCE_TTL_SECS: u64 = 3600;
/// Longest accepted token lifetime.
pub const MAX_TOKEN_LIFETIME_SECS: u64 = 24 * 3600;

/// Environment variables that override configuration keys, with the key each one sets.
pub const ENV_OVERRIDES: &[(&str, &str)] = &[
    ("AVOW_LISTEN", "listen"),
    ("AVOW_DATA_DIR", "data_dir"),
    ("AVOW_DATABASE", "database"),
    ("AVOW_ISSUER", "issuer"),
    ("AVOW_LOG_FORMAT", "log_format"),
    ("AVOW_NONCE_TTL_SECS", "nonce.ttl_secs"),
    ("AVOW_TOKEN_LIFETIME_SECS", "token.lifetime_secs"),
    ("AVOW_APP_ATTEST_EXTRA_ROOTS", "app_attest.extra_roots"),
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
    /// Seconds a token stays valid after issue. Defaults to 300.
    pub lifetime_secs: u64,
}

/// Apple App Attest settings.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct AppAttestConfig {
    /// PEM files with further trusted roots, next to Apple's App Attestation Root CA, for
    /// example a test CA. Defaults to none.
    pub extra_roots: Vec<PathBuf>,
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
            lifetime_secs: DEFAULT_TOKEN_LIFETIME_SECS,
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
                "AVOW_TOKEN_LIFETIME_SECS" => self.token.lifetime_secs = number(variable, &value)?,
                "AVOW_APP_ATTEST_EXTRA_ROOTS" => {
                    self.app_attest.extra_roots = std::env::split_paths(&value).collect();
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
        if !(1..=MAX_TOKEN_LIFETIME_SECS).contains(&self.token.lifetime_secs) {
            return Err(ConfigError::Invalid(format!(
                "token.lifetime_secs must be between 1 and {MAX_TOKEN_LIFETIME_SECS}"
            )));
        }
        if self.issuer.is_empty() {
            return Err(ConfigError::Invalid("issuer must not be empty".to_owned()));
        }
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
             [token]\nlifetime_secs = 60\n[app_attest]\nextra_roots = [\"a.pem\"]",
        )
        .unwrap();
        assert_eq!(config.listen, "127.0.0.1:9000");
        assert_eq!(config.issuer, "x");
        assert_eq!(config.nonce.ttl_secs, 30);
        assert_eq!(config.token.lifetime_secs, 60);
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
            (name == "AVOW_TOKEN_LIFETIME_SECS").then(|| "five".to_owned())
        })
        .unwrap_err();
        assert!(
            error.to_string().contains("AVOW_TOKEN_LIFETIME_SECS"),
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
    fn sample_config_in_docs_parses() {
        let text = include_str!("../../../docs/avow.example.toml");
        Config::from_toml(text).unwrap();
    }
}
