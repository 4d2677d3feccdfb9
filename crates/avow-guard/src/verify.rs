//! The request check shared by the tower layer and header-only callers.

use avow_token::{ALGORITHM, Claims, MAX_TOKEN_LEN, TOKEN_TYPE, TokenError};
use aws_lc_rs::{digest, hmac};
use axum::http::{HeaderMap, HeaderName};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use subtle::ConstantTimeEq as _;

use crate::config::{GuardConfig, TokenHeader, Verifier};
use crate::error::GuardError;

const HS256: &str = "HS256";

/// Reads the token from `headers`, verifies it at time `now` (Unix seconds) and checks its
/// request binding. Returns the verified claims.
///
/// `check` uses the keys currently in the configuration's [`JwksSource`](crate::JwksSource)
/// and never loads new ones. [`check_with_refresh`] does.
///
/// # Errors
///
/// The first failed check, in this order: token header, size, compact JWS format, `alg`,
/// then the checks of the configured algorithm (`typ`, `kid`, signature, `iss`, `aud`, `exp`,
/// `iat`, `nbf`), then binding.
pub fn check(config: &GuardConfig, headers: &HeaderMap, now: u64) -> Result<Claims, GuardError> {
    let token = read_token(&config.token_header, headers)?;
    let claims = verify_compact(config, token, now)?;
    check_binding(config, headers, &claims)?;
    Ok(claims)
}

/// Runs [`check`], and when the token names a `kid` that the configuration's key source does
/// not hold, lets a file or URL source load its keys again and checks once more.
///
/// The load happens at most once per cooldown of the source, counted with `now`, and
/// concurrent calls wait for one shared load. See [`JwksSource`](crate::JwksSource).
///
/// # Errors
///
/// As [`check`].
pub async fn check_with_refresh(
    config: &GuardConfig,
    headers: &HeaderMap,
    now: u64,
) -> Result<Claims, GuardError> {
    let Some(keys) = config.jwks_source().filter(|keys| keys.is_reloadable()) else {
        return check(config, headers, now);
    };
    let seen = keys.mark();
    match check(config, headers, now) {
        Err(GuardError::Token(TokenError::UnknownKid)) => {
            keys.reload_for_unknown_kid(seen, now).await;
            if keys.generation() == seen.generation {
                return Err(TokenError::UnknownKid.into());
            }
            check(config, headers, now)
        }
        checked => checked,
    }
}

/// Verifies a compact token at time `now` (Unix seconds) and returns its claims: the
/// algorithm, header, signature and claim checks of [`check`], without reading headers and
/// without the request-binding check.
///
/// For callers that receive the token in another place than a request header, such as the
/// body of a consume request. A token bound to a request header (with a `pay` claim) passes
/// here, so the caller checks the binding itself when it has the request.
///
/// # Errors
///
/// As [`check`], apart from the header and binding errors.
pub fn verify_token(config: &GuardConfig, token: &str, now: u64) -> Result<Claims, GuardError> {
    if token.is_empty() {
        return Err(GuardError::MissingToken);
    }
    verify_compact(config, token, now)
}

/// Returns the `pay` claim value that binds a token to a header value: the unpadded base64url
/// SHA-256 of the value's bytes.
pub fn binding_hash(header_value: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, header_value))
}

fn single_header<'a>(
    headers: &'a HeaderMap,
    name: &HeaderName,
) -> Result<Option<&'a axum::http::HeaderValue>, ()> {
    let mut values = headers.get_all(name).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(());
    }
    Ok(first)
}

/// Returns the token text of the request's token header, read exactly as [`check`] reads it:
/// one header, visible ASCII, and for `Authorization` the `Bearer` scheme.
///
/// # Errors
///
/// A missing, repeated or non-ASCII token header, or another `Authorization` scheme.
pub fn read_token<'a>(
    token_header: &TokenHeader,
    headers: &'a HeaderMap,
) -> Result<&'a str, GuardError> {
    let value = single_header(headers, token_header.name())
        .map_err(|()| GuardError::RepeatedTokenHeader)?
        .ok_or(GuardError::MissingToken)?;
    let value = value.to_str().map_err(|_| GuardError::InvalidTokenHeader)?;
    let token = match token_header {
        TokenHeader::Named(_) => value,
        TokenHeader::AuthorizationBearer => {
            let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
            if !scheme.eq_ignore_ascii_case("bearer") {
                return Err(GuardError::WrongScheme);
            }
            token.trim_start_matches(' ')
        }
    };
    if token.is_empty() {
        return Err(GuardError::MissingToken);
    }
    Ok(token)
}

/// The header members the guard reads. Serde rejects duplicate members, and ignores all
/// others, including `jku`, `x5u` and `jwk`.
#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    typ: Option<String>,
}

/// Splits a compact JWS into its signing input (`header.payload`), header, payload and
/// signature segments.
fn split_token(token: &str) -> Result<(&str, &str, &str, &str), TokenError> {
    let (signing_input, signature) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
    let (header, payload) = signing_input.split_once('.').ok_or(TokenError::Malformed)?;
    if payload.contains('.') {
        return Err(TokenError::Malformed);
    }
    Ok((signing_input, header, payload, signature))
}

fn decode_json<T: for<'de> Deserialize<'de>>(
    segment: &str,
    error: TokenError,
) -> Result<T, TokenError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| TokenError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| error)
}

fn verify_compact(config: &GuardConfig, token: &str, now: u64) -> Result<Claims, GuardError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::TooLarge {
            len: token.len(),
            max: MAX_TOKEN_LEN,
        }
        .into());
    }
    let (signing_input, header, payload, signature) = split_token(token)?;
    let header: Header = decode_json(header, TokenError::Malformed)?;
    check_algorithm(config.algorithm(), &header.alg)?;

    match &config.verifier {
        Verifier::Es256 { keys, claim_rules } => {
            let claims = keys.verify_signature(token)?;
            claim_rules.check_claims(&claims, now)?;
            Ok(claims)
        }
        Verifier::Hs256 { key, claim_rules } => {
            if header.typ.as_deref() != Some(TOKEN_TYPE) {
                return Err(TokenError::WrongType {
                    received: header.typ.unwrap_or_default(),
                }
                .into());
            }
            let signature = URL_SAFE_NO_PAD
                .decode(signature)
                .map_err(|_| TokenError::Malformed)?;
            // `hmac::verify` compares in constant time.
            hmac::verify(key, signing_input.as_bytes(), &signature)
                .map_err(|_| TokenError::SignatureInvalid)?;
            let claims: Claims = decode_json(payload, TokenError::InvalidClaim("payload"))?;
            claim_rules.check_claims(&claims, now)?;
            Ok(claims)
        }
    }
}

fn check_algorithm(configured: &'static str, received: &str) -> Result<(), GuardError> {
    if received == configured {
        return Ok(());
    }
    if received.eq_ignore_ascii_case("none") {
        return Err(GuardError::AlgorithmNone);
    }
    let pair = [ALGORITHM, HS256];
    if pair.contains(&configured) && pair.contains(&received) {
        return Err(GuardError::AlgorithmConfusion {
            configured,
            received: received.to_owned(),
        });
    }
    Err(GuardError::AlgorithmNotAllowed {
        configured,
        received: received.to_owned(),
    })
}

fn check_binding(
    config: &GuardConfig,
    headers: &HeaderMap,
    claims: &Claims,
) -> Result<(), GuardError> {
    let Some(pay) = &claims.pay else {
        if config.require_binding {
            return Err(GuardError::BindingRequired);
        }
        return Ok(());
    };
    let name = config
        .binding_header
        .as_ref()
        .ok_or(GuardError::BindingNotConfigured)?;
    let value = single_header(headers, name)
        .map_err(|()| GuardError::RepeatedBoundHeader)?
        .ok_or(GuardError::BoundHeaderMissing)?;
    let expected = binding_hash(value.as_bytes());
    if bool::from(expected.as_bytes().ct_eq(pay.as_bytes())) {
        Ok(())
    } else {
        Err(GuardError::BindingMismatch)
    }
}
