//! The headers that carry a verified token's claims to a backend.
//!
//! The check endpoint of the Avow server returns them to a gateway, which copies them to the
//! upstream request, and `avow guard` adds them to every request it forwards. Both build them
//! with [`claim_headers`], so the two cannot disagree. A backend can trust these headers only
//! when every path to it removes client-sent copies first, as `avow guard` does.

use avow_token::Claims;
use axum::http::{HeaderName, HeaderValue};

/// `Avow-App`: the app id the token was issued to (`sub`).
pub const APP: HeaderName = HeaderName::from_static("avow-app");
/// `Avow-Token-Id`: the token's unique id (`jti`).
pub const TOKEN_ID: HeaderName = HeaderName::from_static("avow-token-id");
/// `Avow-Install`: the install the token was issued to (`ins`). Absent when the token has none.
pub const INSTALL: HeaderName = HeaderName::from_static("avow-install");
/// `Avow-Providers`: the providers behind the token, comma-separated (`att.prv`).
pub const PROVIDERS: HeaderName = HeaderName::from_static("avow-providers");
/// `Avow-Trust`: the trust level of the strongest evidence (`att.trust`).
pub const TRUST: HeaderName = HeaderName::from_static("avow-trust");
/// `Avow-App-Integrity`: the app integrity verdict (`att.app`).
pub const APP_INTEGRITY: HeaderName = HeaderName::from_static("avow-app-integrity");
/// `Avow-Device-Integrity`: the device integrity verdict (`att.dev`).
pub const DEVICE_INTEGRITY: HeaderName = HeaderName::from_static("avow-device-integrity");
/// `Avow-Flags`: the risk flags, comma-separated, empty when there are none (`att.flg`).
pub const FLAGS: HeaderName = HeaderName::from_static("avow-flags");
/// `Avow-Reduced`: `true` for a reduced-trust token (`att.red`). Absent otherwise.
pub const REDUCED: HeaderName = HeaderName::from_static("avow-reduced");

/// Every header that [`claim_headers`] can produce.
pub const CLAIM_HEADERS: [HeaderName; 9] = [
    APP,
    TOKEN_ID,
    INSTALL,
    PROVIDERS,
    TRUST,
    APP_INTEGRITY,
    DEVICE_INTEGRITY,
    FLAGS,
    REDUCED,
];

/// Returns the headers that carry `claims` to a backend, in the order of [`CLAIM_HEADERS`].
///
/// `Avow-Install` and `Avow-Reduced` are left out when the claim is absent or false. A claim
/// whose text is not a valid header value (it contains a control character) is left out too.
/// The Avow server never issues such claims.
pub fn claim_headers(claims: &Claims) -> Vec<(HeaderName, HeaderValue)> {
    let mut headers = Vec::with_capacity(CLAIM_HEADERS.len());
    let mut push = |name: HeaderName, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.push((name, value));
        }
    };
    push(APP, &claims.sub);
    push(TOKEN_ID, &claims.jti);
    if let Some(install) = &claims.ins {
        push(INSTALL, install);
    }
    push(PROVIDERS, &claims.att.prv.join(","));
    push(TRUST, &claims.att.trust);
    push(APP_INTEGRITY, &claims.att.app);
    push(DEVICE_INTEGRITY, &claims.att.dev);
    push(FLAGS, &claims.att.flg.join(","));
    if claims.att.red {
        push(REDUCED, "true");
    }
    headers
}

#[cfg(test)]
mod tests {
    use avow_token::AttestationClaim;

    use super::*;

    fn claims() -> Claims {
        Claims {
            iss: "https://avow.test".to_owned(),
            sub: "TEAMID1234.com.example.app".to_owned(),
            aud: "TEAMID1234.com.example.app".to_owned(),
            iat: 1_800_000_000,
            exp: 1_800_000_300,
            nbf: None,
            jti: "token-1".to_owned(),
            ins: Some("install-1".to_owned()),
            pay: None,
            att: AttestationClaim {
                prv: vec!["play_integrity".to_owned(), "device_key".to_owned()],
                trust: "hardware".to_owned(),
                app: "recognized".to_owned(),
                dev: "strong".to_owned(),
                flg: vec!["rooted".to_owned(), "virtual".to_owned()],
                env: None,
                at: 1_800_000_000,
                via: "attestation".to_owned(),
                red: true,
            },
        }
    }

    fn value<'a>(headers: &'a [(HeaderName, HeaderValue)], name: &HeaderName) -> Option<&'a str> {
        headers
            .iter()
            .find(|(candidate, _)| candidate == name)
            .map(|(_, value)| value.to_str().unwrap())
    }

    #[test]
    fn every_claim_has_its_header() {
        let headers = claim_headers(&claims());
        let names: Vec<&HeaderName> = headers.iter().map(|(name, _)| name).collect();
        assert_eq!(names, CLAIM_HEADERS.iter().collect::<Vec<_>>());
        assert_eq!(value(&headers, &APP), Some("TEAMID1234.com.example.app"));
        assert_eq!(value(&headers, &TOKEN_ID), Some("token-1"));
        assert_eq!(value(&headers, &INSTALL), Some("install-1"));
        assert_eq!(
            value(&headers, &PROVIDERS),
            Some("play_integrity,device_key")
        );
        assert_eq!(value(&headers, &TRUST), Some("hardware"));
        assert_eq!(value(&headers, &APP_INTEGRITY), Some("recognized"));
        assert_eq!(value(&headers, &DEVICE_INTEGRITY), Some("strong"));
        assert_eq!(value(&headers, &FLAGS), Some("rooted,virtual"));
        assert_eq!(value(&headers, &REDUCED), Some("true"));
    }

    #[test]
    fn absent_claims_leave_headers_out() {
        let mut claims = claims();
        claims.ins = None;
        claims.att.red = false;
        claims.att.flg.clear();
        let headers = claim_headers(&claims);
        assert_eq!(value(&headers, &INSTALL), None);
        assert_eq!(value(&headers, &REDUCED), None);
        assert_eq!(value(&headers, &FLAGS), Some(""));
    }

    #[test]
    fn control_character_leaves_header_out() {
        let mut claims = claims();
        claims.jti = "token\n1".to_owned();
        let headers = claim_headers(&claims);
        assert_eq!(value(&headers, &TOKEN_ID), None);
        assert_eq!(value(&headers, &APP), Some("TEAMID1234.com.example.app"));
    }
}
