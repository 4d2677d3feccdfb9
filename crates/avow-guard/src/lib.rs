//! Avow token checking for backends.
//!
//! A backend accepts a request only when it carries a valid Avow token. This crate provides:
//!
//! - [`check`], which reads the token from request headers and verifies it, for any caller
//!   that has a [`HeaderMap`](axum::http::HeaderMap) and the current time;
//! - [`AvowGuardLayer`], a tower layer that runs [`check`] on every request, inserts the
//!   verified [`Claims`] into the request extensions and responds with 401 otherwise, or only logs
//!   and counts in monitor mode;
//! - [`VerifiedClaims`], an axum extractor that reads those claims in a handler.
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
//! Non-features of this version: the JWKS is passed in as a value and is never fetched or
//! refreshed, and limited-use (single-use) tokens are not tracked.

#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![warn(clippy::unwrap_used, clippy::expect_used)]

mod config;
mod error;
mod extract;
mod layer;
mod verify;

pub use avow_token::Claims;

pub use config::{
    ConfigError, DEFAULT_LEEWAY, DEFAULT_TOKEN_HEADER, GuardConfig, GuardConfigBuilder, Keys,
    MIN_HMAC_SECRET_LEN, TokenHeader,
};
pub use error::GuardError;
pub use extract::{ClaimsMissing, VerifiedClaims};
pub use layer::{AvowGuard, AvowGuardLayer, Clock, GuardStats, Mode, SystemClock};
pub use verify::{binding_hash, check};
