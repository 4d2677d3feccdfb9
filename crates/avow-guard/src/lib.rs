//! Avow token checking for backends.
//!
//! A backend accepts a request only when it carries a valid Avow token. This crate provides:
//!
//! - [`check`], which reads the token from request headers and verifies it, for any caller
//!   that has a [`HeaderMap`](axum::http::HeaderMap) and the current time, and
//!   [`check_with_refresh`], which also loads new keys when a token names an unknown `kid`;
//! - [`AvowGuardLayer`], a tower layer that checks every request, inserts the verified
//!   [`Claims`] into the request extensions and responds with 401 otherwise, or only logs and
//!   counts in monitor mode, with [`RouteOptions`] per route;
//! - [`VerifiedClaims`], an axum extractor that reads those claims in a handler;
//! - [`claim_headers`], the `Avow-*` headers that carry verified claims to a backend, as the
//!   Avow check endpoint and the `avow guard` reverse proxy send them;
//! - [`HttpTokenConsumer`], the client of the Avow server's `POST /v1/tokens/consume`, for
//!   limited-use routes.
//!
//! A [`GuardConfig`] accepts exactly one algorithm: ES256 against a JWKS (the tokens an Avow
//! server issues) or HS256 with a shared secret of at least 32 bytes. The token header must
//! have `typ` `avow+jwt`. `kid` is only a lookup key in the configured key set, and `jku`,
//! `x5u`, `jwk` and every other header naming a key are ignored.
//!
//! ```
//! use avow_guard::{AvowGuardLayer, GuardConfig, Keys, VerifiedClaims};
//! use avow_token::{Jwks, TokenSigner};
//! use axum::{Router, routing::get};
//!
//! async fn orders(VerifiedClaims(claims): VerifiedClaims) -> String {
//!     format!("orders of {}", claims.sub)
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A real backend loads the JWKS that its Avow server publishes.
//! let (signer, _pkcs8) = TokenSigner::generate()?;
//! let jwks = Jwks { keys: vec![signer.jwk()?] };
//! let config = GuardConfig::builder(
//!     Keys::Es256(jwks),
//!     "https://avow.example",
//!     vec!["TEAMID1234.com.example.api".to_owned()],
//! )
//! .build()?;
//! let app: Router = Router::new()
//!     .route("/orders", get(orders))
//!     .layer(AvowGuardLayer::new(config));
//! # let _ = app;
//! # Ok(())
//! # }
//! ```
//!
//! # Keys
//!
//! [`Keys::Es256`] takes a fixed JWKS. [`Keys::Es256Source`] takes a [`JwksSource`]:
//!
//! - [`JwksSource::from_url`] fetches the JWKS of the Avow server
//!   (`http://127.0.0.1:8080/.well-known/jwks.json` for a server on the same host) when it is
//!   created;
//! - [`JwksSource::from_file`] reads a JWKS file, for networks without egress to the server.
//!
//! When a token names a `kid` that the source does not contain, the layer and
//! [`check_with_refresh`] load the keys again and check once more. Loads happen at most once
//! per cooldown ([`JwksOptions::cooldown`], 5 minutes by default), concurrent requests share
//! one load, and a load that fails keeps the previous keys. A fetch is bounded in size
//! ([`JwksOptions::max_bytes`], 64 KiB) and time ([`JwksOptions::timeout`], 10 s), and
//! [`JwksSource::spawn_refresh`] adds a periodic reload.
//!
//! # Limited-use tokens
//!
//! A route built with [`RouteOptions::limited_use`] accepts each token once: after the token
//! passes the check, a [`TokenConsumer`] consumes it, and a token consumed before is rejected
//! with 403 and `Avow-Reason: token_already_used`. [`HttpTokenConsumer`] consumes at the Avow
//! server, which records the token id in its database, so every instance of the backend sees
//! every use. When the consume call fails, [`FailurePolicy::FailClosed`] (the default)
//! responds with 503 and [`FailurePolicy::FailOpen`] lets the request through, logs a warning
//! once per outage and counts it in [`GuardStats::consume_failed_open`].
//!
//! Non-features of this version: an HS256 configuration holds one secret, so rotating it needs
//! a restart, and a URL key source must answer when it is created, because a guard never
//! starts without keys.

#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![warn(clippy::unwrap_used, clippy::expect_used)]

mod config;
mod consume;
mod error;
mod extract;
pub mod headers;
mod jwks;
mod layer;
mod verify;

pub use avow_token::Claims;

pub use config::{
    ConfigError, DEFAULT_LEEWAY, DEFAULT_TOKEN_HEADER, GuardConfig, GuardConfigBuilder, Keys,
    MIN_HMAC_SECRET_LEN, TokenHeader,
};
pub use consume::{
    CONSUME_PATH, ConsumeError, ConsumeOutcome, DEFAULT_CONSUME_TIMEOUT, FailurePolicy,
    HttpTokenConsumer, TokenConsumer,
};
pub use error::GuardError;
pub use extract::{ClaimsMissing, VerifiedClaims};
pub use headers::claim_headers;
pub use jwks::{
    DEFAULT_JWKS_COOLDOWN, DEFAULT_JWKS_MAX_BYTES, DEFAULT_JWKS_TIMEOUT, JwksError, JwksOptions,
    JwksSource,
};
pub use layer::{
    AvowGuard, AvowGuardLayer, Clock, GuardStats, Mode, REASON_HEADER, RouteOptions, SystemClock,
};
pub use verify::{binding_hash, check, check_with_refresh, read_token, verify_token};
