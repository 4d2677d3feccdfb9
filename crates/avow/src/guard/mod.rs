//! `avow guard`: a reverse proxy that forwards only requests with a valid Avow token.
//!
//! Clients connect over plain HTTP/1.1 (with keep-alive) or HTTP/2 with prior knowledge (h2c).
//! TLS is terminated in front of the proxy, by a load balancer or a TLS-terminating proxy on the
//! same host. Every request runs the `avow-guard` check. A request that passes goes to the
//! upstream over a pooled HTTP/1.1 connection, with the verified claims as `Avow-*` headers,
//! and both bodies stream through without buffering. Other requests get an empty `401`, `403`
//! or `503`, unless their path is in monitor mode.
//!
//! Non-features: TLS towards clients or the upstream, protocol upgrades (WebSocket), and HTTP/2
//! towards the upstream.

mod check;
mod forward;
mod proxy;
mod server;
mod upstream;

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use avow_guard::{
    DEFAULT_CONSUME_TIMEOUT, DEFAULT_LEEWAY, FailurePolicy, GuardConfig, HttpTokenConsumer,
    JwksOptions, JwksSource, Keys, TokenHeader,
};
use avow_server::config::LogFormat;
use avow_token::{Jwks, TokenVerifier};
use hyper::header::HeaderName;
use zeroize::Zeroizing;

use crate::DEFAULT_SERVER;
use check::TokenCheck;
use forward::Upstream;
use proxy::{Proxy, Routes};

/// Default listen address of `avow guard`.
const DEFAULT_LISTEN: &str = "127.0.0.1:8081";
/// Default number of verified tokens kept so that a reused token skips signature verification.
const DEFAULT_TOKEN_CACHE_SIZE: usize = 10_000;
/// Default time limit for the upstream's response headers, in seconds.
const DEFAULT_UPSTREAM_TIMEOUT_SECS: u64 = 60;
/// Default minimum time between two JWKS loads caused by unknown `kid`s, in seconds.
const DEFAULT_JWKS_COOLDOWN_SECS: u64 = 300;
/// Time the proxy waits for requests in flight after SIGTERM or Ctrl-C.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
/// Environment variable that selects JSON log lines (`json`) or text (`text`, the default).
const LOG_FORMAT_ENV: &str = "AVOW_LOG_FORMAT";
/// Options of `avow guard`.
#[derive(Debug, clap::Args)]
#[command(group(
    clap::ArgGroup::new("keys")
        .required(true)
        .args(["jwks_url", "jwks_file", "hs256_secret_file"])
))]
pub(crate) struct GuardArgs {
    /// Address and port to listen on. Port 0 picks a free port, shown in the `listening` log
    /// event.
    #[arg(long, value_name = "ADDR", default_value = DEFAULT_LISTEN)]
    listen: SocketAddr,
    /// Base URL of the upstream service, `http://HOST:PORT` with an optional path prefix.
    /// Plain HTTP only: keep the upstream on the same host or a private network.
    #[arg(long, value_name = "URL")]
    upstream: String,
    /// Expected token issuer (`iss`): the `issuer` setting of the Avow server.
    #[arg(long)]
    issuer: String,
    /// Accepted token audience (`aud`): the app id. Repeat the option to accept several apps.
    #[arg(long = "audience", value_name = "APP", required = true)]
    audiences: Vec<String>,
    /// URL of the Avow server's JWKS, such as http://127.0.0.1:8080/.well-known/jwks.json.
    /// Fetched at start and again when a token names an unknown key id. Tokens are ES256.
    #[arg(long, value_name = "URL")]
    jwks_url: Option<String>,
    /// JWKS file, for hosts that cannot reach the Avow server. Read at start and again when a
    /// token names an unknown key id. Tokens are ES256.
    #[arg(long, value_name = "PATH")]
    jwks_file: Option<PathBuf>,
    /// File that contains the HS256 shared secret itself, at least 32 bytes. One trailing
    /// newline is ignored. Tokens are HS256.
    #[arg(long, value_name = "PATH")]
    hs256_secret_file: Option<PathBuf>,
    /// Minimum time between two JWKS loads caused by unknown key ids, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = DEFAULT_JWKS_COOLDOWN_SECS)]
    jwks_cooldown: u64,
    /// Also load the JWKS every SECS seconds, so that keys the server retired stop verifying.
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    jwks_refresh: Option<u64>,
    /// Request header that carries the token [default: Avow-Token].
    #[arg(long, value_name = "NAME", conflicts_with = "bearer")]
    token_header: Option<String>,
    /// Read the token from `Authorization: Bearer …` instead of a header of its own.
    #[arg(long)]
    bearer: bool,
    /// Forward the token header to the upstream. By default it is removed.
    #[arg(long)]
    forward_token: bool,
    /// Request header whose SHA-256 a bound token's `pay` claim must equal, such as
    /// Authorization. Without it, bound tokens are rejected.
    #[arg(long, value_name = "NAME")]
    binding_header: Option<String>,
    /// Reject tokens that are not bound to the binding header.
    #[arg(long, requires = "binding_header")]
    require_binding: bool,
    /// Clock-skew allowance for the `exp` and `iat` checks, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = DEFAULT_LEEWAY.as_secs())]
    leeway: u64,
    /// Monitor mode for every path: requests with a missing, invalid or reused token are logged,
    /// counted and forwarded without claim headers instead of being rejected.
    #[arg(long)]
    monitor: bool,
    /// Monitor mode for paths under PREFIX (`/public` covers `/public` and `/public/…`, not
    /// `/publication`). Repeatable.
    #[arg(long = "monitor-path", value_name = "PREFIX")]
    monitor_paths: Vec<String>,
    /// Require a single-use token for paths under PREFIX: each token is consumed on the Avow
    /// server, and a reused one gets 403. Repeatable.
    #[arg(long = "limited-use-path", value_name = "PREFIX")]
    limited_use_paths: Vec<String>,
    /// Base URL of the Avow server that consumes limited-use tokens.
    #[arg(long, value_name = "URL", env = "AVOW_SERVER", default_value = DEFAULT_SERVER)]
    server: String,
    /// Forward limited-use requests, with a warning, when the Avow server cannot be reached.
    /// By default they get 503.
    #[arg(long)]
    consume_fail_open: bool,
    /// Time limit for one consume call to the Avow server, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = default_consume_timeout_ms())]
    consume_timeout_ms: u64,
    /// Size of the cache of verified tokens, which lets a reused token skip signature
    /// verification: it keeps at least the N most recently used tokens and at most 2 × N.
    /// 0 turns the cache off. Tokens bound to a request header are not cached.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_TOKEN_CACHE_SIZE)]
    token_cache_size: usize,
    /// Time limit for the upstream's response headers, in seconds. A slower upstream gets 502.
    #[arg(long, value_name = "SECS", default_value_t = DEFAULT_UPSTREAM_TIMEOUT_SECS)]
    upstream_timeout: u64,
    /// Number of serving threads, each with its own listening socket (SO_REUSEPORT) and pool
    /// of upstream connections [default: one per core].
    #[arg(long, value_name = "N")]
    threads: Option<NonZeroUsize>,
}

/// Runs `avow guard` until SIGTERM or Ctrl-C.
pub(crate) async fn run(args: GuardArgs) -> ExitCode {
    let log_format = match std::env::var(LOG_FORMAT_ENV).as_deref() {
        Ok("json") => LogFormat::Json,
        _ => LogFormat::Text,
    };
    crate::serve::init_logging(log_format);

    // Exit status 1 when the keys cannot be loaded, as for any failure at run time, and 2 for
    // invalid options.
    let keys = match load_keys(&args).await {
        Ok(keys) => keys,
        Err(message) => {
            tracing::error!(error = %message, "cannot load the token keys");
            eprintln!("error: {message}");
            return ExitCode::FAILURE;
        }
    };
    let listen = args.listen;
    let threads = args.threads.map_or_else(default_threads, NonZeroUsize::get);
    let proxy = match build_proxy(args, keys) {
        Ok(proxy) => proxy,
        Err(message) => {
            tracing::error!(error = %message, "invalid guard options");
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    let listeners = match server::bind(listen, threads) {
        Ok(listeners) => listeners,
        Err(error) => {
            tracing::error!(%error, address = %listen, "cannot listen");
            eprintln!("error: cannot listen on {listen}: {error}");
            return ExitCode::FAILURE;
        }
    };
    let served = server::serve(
        listeners,
        Arc::new(proxy),
        crate::serve::shutdown_signal(),
        SHUTDOWN_GRACE,
    )
    .await;
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: cannot serve: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Returns the number of cores the process may use: the default number of serving threads.
fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, NonZeroUsize::get)
}

/// Checks the options and builds the proxy. Errors are messages for the user.
fn build_proxy(args: GuardArgs, keys: Keys) -> Result<Proxy, String> {
    let upstream = Upstream::parse(&args.upstream)?;
    let routes = Routes::new(args.monitor, &args.monitor_paths, &args.limited_use_paths)?;

    let token_header = match (&args.token_header, args.bearer) {
        (_, true) => TokenHeader::AuthorizationBearer,
        (Some(name), false) => TokenHeader::Named(parse_header_name("--token-header", name)?),
        (None, false) => TokenHeader::default(),
    };
    let mut builder = GuardConfig::builder(keys, args.issuer.clone(), args.audiences.clone())
        .token_header(token_header)
        .leeway(Duration::from_secs(args.leeway))
        .require_binding(args.require_binding);
    if let Some(name) = &args.binding_header {
        builder = builder.binding_header(parse_header_name("--binding-header", name)?);
    }
    let config = builder
        .build()
        .map_err(|error| format!("invalid guard settings: {error}"))?;
    // The cache re-checks the time claims of a remembered token with the same rules as the
    // guard, from a verifier that holds no keys.
    let claim_rules = TokenVerifier::from_jwks(&Jwks::default())
        .map_err(|error| format!("cannot build the claim checks: {error}"))?
        .with_issuer(args.issuer)
        .with_audiences(args.audiences)
        .with_leeway(args.leeway);
    let check = TokenCheck::new(config, claim_rules, args.token_cache_size);

    let consumer = if routes.has_limited_use() {
        let timeout = Duration::from_millis(args.consume_timeout_ms);
        let consumer = HttpTokenConsumer::with_timeout(&args.server, timeout)
            .map_err(|error| format!("--server {:?}: {error}", args.server))?;
        Some(consumer)
    } else {
        None
    };
    let failure_policy = if args.consume_fail_open {
        FailurePolicy::FailOpen
    } else {
        FailurePolicy::FailClosed
    };
    Ok(Proxy::new(
        check,
        routes,
        consumer,
        failure_policy,
        upstream,
        args.forward_token,
        Duration::from_secs(args.upstream_timeout),
    ))
}

fn parse_header_name(option: &str, name: &str) -> Result<HeaderName, String> {
    HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| format!("{option} {name:?} is not a valid header name"))
}

fn default_consume_timeout_ms() -> u64 {
    u64::try_from(DEFAULT_CONSUME_TIMEOUT.as_millis()).unwrap_or(u64::MAX)
}

/// Loads the keys named by exactly one of `--jwks-url`, `--jwks-file` and
/// `--hs256-secret-file`, which clap enforces.
async fn load_keys(args: &GuardArgs) -> Result<Keys, String> {
    let options = JwksOptions::default().cooldown(Duration::from_secs(args.jwks_cooldown));
    let source = if let Some(url) = &args.jwks_url {
        JwksSource::from_url(url, options)
            .await
            .map_err(|error| format!("cannot load the JWKS from {url}: {error}"))?
    } else if let Some(path) = &args.jwks_file {
        JwksSource::from_file(path, options)
            .map_err(|error| format!("cannot load the JWKS file {}: {error}", path.display()))?
    } else if let Some(path) = &args.hs256_secret_file {
        return read_secret(path).map(Keys::Hs256);
    } else {
        return Err("set one of --jwks-url, --jwks-file and --hs256-secret-file".to_owned());
    };
    if let Some(secs) = args.jwks_refresh {
        // The task runs until the process exits.
        drop(source.spawn_refresh(Duration::from_secs(secs)));
    }
    Ok(Keys::Es256Source(source))
}

fn read_secret(path: &Path) -> Result<Zeroizing<Vec<u8>>, String> {
    let mut secret = Zeroizing::new(std::fs::read(path).map_err(|error| {
        format!(
            "cannot read the HS256 secret file {}: {error}",
            path.display()
        )
    })?);
    let newline = if secret.ends_with(b"\r\n") {
        2
    } else {
        usize::from(secret.ends_with(b"\n"))
    };
    let len = secret.len() - newline;
    secret.truncate(len);
    Ok(secret)
}
