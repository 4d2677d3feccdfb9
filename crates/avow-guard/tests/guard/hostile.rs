//! Generated hostile tokens: every one must be rejected, each for its expected reason.

use std::collections::BTreeMap;

use avow_guard::{GuardConfig, check};
use avow_token::MAX_TOKEN_LEN;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use crate::support::{
    AUDIENCE, EsKey, HMAC_SECRET, ISSUER, KID, LEEWAY_SECS, NOW, claims_json, es_config, es_header,
    hmac_sign_raw, hs_config, hs_header, hs_sign, token_headers,
};

/// Runs hostile tokens through [`check`] and counts rejections per reason.
struct Tally {
    by_reason: BTreeMap<&'static str, usize>,
    total: usize,
}

impl Tally {
    fn new() -> Self {
        Self {
            by_reason: BTreeMap::new(),
            total: 0,
        }
    }

    /// Asserts that `token` is rejected with one of the `expected` reasons.
    fn reject(&mut self, config: &GuardConfig, token: &str, expected: &[&str], case: &str) {
        let result = check(config, &token_headers(token), NOW);
        let error = match result {
            Ok(claims) => panic!("{case}: hostile token accepted with claims {claims:?}"),
            Err(error) => error,
        };
        assert!(
            expected.contains(&error.reason()),
            "{case}: rejected as {} ({error}), expected one of {expected:?}",
            error.reason()
        );
        *self.by_reason.entry(error.reason()).or_default() += 1;
        self.total += 1;
    }
}

/// Both configurations, with the algorithm each accepts and a signer for that algorithm.
struct Setup {
    key: EsKey,
    attacker: EsKey,
    es: GuardConfig,
    hs: GuardConfig,
}

impl Setup {
    fn new() -> Self {
        let key = EsKey::generate(KID);
        // Same kid as the real key, so only the signature can tell them apart.
        let attacker = EsKey::generate(KID);
        let es = es_config(&key);
        Self {
            key,
            attacker,
            es,
            hs: hs_config(),
        }
    }

    /// Signs `payload` validly for `config`: the real ES256 key or the real HS256 secret.
    fn sign_valid(&self, hs: bool, header: &Value, payload: &Value) -> String {
        if hs {
            hmac_sign_raw(HMAC_SECRET, &header.to_string(), &payload.to_string())
        } else {
            self.key.sign_raw(&header.to_string(), &payload.to_string())
        }
    }

    fn configs(&self) -> [(&'static str, bool, &GuardConfig); 2] {
        [("es256", false, &self.es), ("hs256", true, &self.hs)]
    }

    fn header(hs: bool) -> Value {
        if hs { hs_header() } else { es_header(KID) }
    }
}

const ALGORITHMS: [&str; 22] = [
    "none", "None", "NONE", "nOnE", "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256",
    "PS512", "ES256", "ES384", "ES512", "ES256K", "EdDSA", "es256", "hs256", "", "dir", "A128KW",
];

fn alg_reason(configured: &str, alg: &str) -> &'static str {
    if alg.eq_ignore_ascii_case("none") {
        "algorithm_none"
    } else if (alg == "ES256" || alg == "HS256") && alg != configured {
        "algorithm_confusion"
    } else {
        "algorithm_not_allowed"
    }
}

fn algorithm_cases(setup: &Setup, tally: &mut Tally) {
    let payload = claims_json().to_string();
    let jwk_text = serde_json::to_string(&setup.key.jwk()).unwrap();
    let x_coordinate = setup.key.jwk().x;
    for (name, hs, config) in setup.configs() {
        let configured = if hs { "HS256" } else { "ES256" };
        for alg in ALGORITHMS {
            if alg == configured {
                continue;
            }
            let header = json!({"alg": alg, "kid": KID, "typ": "avow+jwt"}).to_string();
            let unsigned = format!("{}.", crate::support::signing_input(&header, &payload));
            let tokens = [
                unsigned,
                setup.key.sign_raw(&header, &payload),
                // The public key used as an HMAC secret, in each form a verifier might hold.
                hmac_sign_raw(setup.key.public_point(), &header, &payload),
                hmac_sign_raw(jwk_text.as_bytes(), &header, &payload),
                hmac_sign_raw(x_coordinate.as_bytes(), &header, &payload),
                hmac_sign_raw(HMAC_SECRET, &header, &payload),
            ];
            for (index, token) in tokens.iter().enumerate() {
                let case = format!("{name}: alg {alg:?}, signature variant {index}");
                tally.reject(config, token, &[alg_reason(configured, alg)], &case);
            }
        }
    }
}

const HOSTILE_KIDS: [&str; 20] = [
    "../../../../etc/passwd",
    "..\\..\\..\\windows\\win.ini",
    "/dev/null",
    "signing-key-1/../signing-key-1",
    "' OR '1'='1",
    "1; DROP TABLE keys;--",
    "\" OR 1=1 --",
    "signing-key-1' --",
    "%00",
    "\u{0}",
    "",
    "*",
    "SIGNING-KEY-1",
    "signing-key-1 ",
    " signing-key-1",
    "http://127.0.0.1/keys/1",
    "file:///etc/passwd",
    "${jndi:ldap://127.0.0.1/a}",
    "|cat /etc/passwd",
    "signing-key-1\u{0}",
];

fn kid_cases(setup: &Setup, tally: &mut Tally) {
    let payload = claims_json();
    for kid in HOSTILE_KIDS {
        let header = json!({"alg": "ES256", "kid": kid, "typ": "avow+jwt"});
        for signer in [&setup.key, &setup.attacker] {
            let token = signer.sign_raw(&header.to_string(), &payload.to_string());
            tally.reject(&setup.es, &token, &["unknown_kid"], &format!("kid {kid:?}"));
        }
        // HS256 ignores kid, so a hostile kid with a forged signature fails on the signature.
        let header = json!({"alg": "HS256", "kid": kid, "typ": "avow+jwt"});
        let token = hmac_sign_raw(&[7; 32], &header.to_string(), &payload.to_string());
        tally.reject(
            &setup.hs,
            &token,
            &["signature_invalid"],
            &format!("hs kid {kid:?}"),
        );
    }
    let long_kid = "k".repeat(4000);
    let header = json!({"alg": "ES256", "kid": long_kid, "typ": "avow+jwt"});
    let token = setup
        .key
        .sign_raw(&header.to_string(), &payload.to_string());
    tally.reject(&setup.es, &token, &["unknown_kid"], "kid of 4000 bytes");
    for kid in [json!(1), json!(null), json!([KID]), json!({"kid": KID})] {
        let header = json!({"alg": "ES256", "kid": kid, "typ": "avow+jwt"});
        let token = setup
            .key
            .sign_raw(&header.to_string(), &payload.to_string());
        let expected = if kid.is_null() {
            "missing_kid"
        } else {
            "token_malformed"
        };
        tally.reject(&setup.es, &token, &[expected], &format!("kid {kid}"));
    }
    let header = json!({"alg": "ES256", "typ": "avow+jwt"});
    let token = setup
        .key
        .sign_raw(&header.to_string(), &payload.to_string());
    tally.reject(&setup.es, &token, &["missing_kid"], "no kid");
}

/// Key URLs a token might name. Only loopback addresses, and the guard fetches none of them.
const KEY_URLS: [&str; 8] = [
    "http://127.0.0.1/jwks.json",
    "https://127.0.0.1:8443/.well-known/jwks.json",
    "http://[::1]/keys",
    "http://127.0.0.1/cert.pem",
    "file:///tmp/jwks.json",
    "data:application/json,{\"keys\":[]}",
    "//127.0.0.1/jwks",
    "",
];

fn key_header_cases(setup: &Setup, tally: &mut Tally) {
    let payload = claims_json();
    let attacker_jwk = serde_json::to_value(setup.attacker.jwk()).unwrap();
    for (name, hs, config) in setup.configs() {
        for url in KEY_URLS {
            for member in ["jku", "x5u"] {
                let mut header = Setup::header(hs);
                header[member] = json!(url);
                // Signed by the key the URL would serve: the attacker's.
                let token = if hs {
                    hmac_sign_raw(&[9; 32], &header.to_string(), &payload.to_string())
                } else {
                    setup
                        .attacker
                        .sign_raw(&header.to_string(), &payload.to_string())
                };
                let case = format!("{name}: {member} {url:?}");
                tally.reject(config, &token, &["signature_invalid"], &case);
            }
        }
        let mut header = Setup::header(hs);
        header["jwk"] = attacker_jwk.clone();
        let token = if hs {
            hmac_sign_raw(&[9; 32], &header.to_string(), &payload.to_string())
        } else {
            setup
                .attacker
                .sign_raw(&header.to_string(), &payload.to_string())
        };
        tally.reject(
            config,
            &token,
            &["signature_invalid"],
            &format!("{name}: jwk"),
        );
        header["x5c"] = json!(["MIIB"]);
        header["jku"] = json!(KEY_URLS[0]);
        let token = if hs {
            hmac_sign_raw(&[9; 32], &header.to_string(), &payload.to_string())
        } else {
            setup
                .attacker
                .sign_raw(&header.to_string(), &payload.to_string())
        };
        let case = format!("{name}: jwk, x5c and jku");
        tally.reject(config, &token, &["signature_invalid"], &case);
    }
}

fn type_cases(setup: &Setup, tally: &mut Tally) {
    let payload = claims_json();
    let wrong_types = [
        json!("JWT"),
        json!("jwt"),
        json!("at+jwt"),
        json!("AVOW+JWT"),
        json!("avow+JWT"),
        json!("avow+jwt "),
        json!(""),
        json!("application/avow+jwt"),
        json!(null),
    ];
    for (name, hs, config) in setup.configs() {
        for typ in &wrong_types {
            let mut header = Setup::header(hs);
            header["typ"] = typ.clone();
            let token = setup.sign_valid(hs, &header, &payload);
            tally.reject(
                config,
                &token,
                &["wrong_token_type"],
                &format!("{name}: typ {typ}"),
            );
        }
        let mut header = Setup::header(hs);
        header.as_object_mut().unwrap().remove("typ");
        let token = setup.sign_valid(hs, &header, &payload);
        tally.reject(
            config,
            &token,
            &["wrong_token_type"],
            &format!("{name}: no typ"),
        );
        header["typ"] = json!(42);
        let token = setup.sign_valid(hs, &header, &payload);
        tally.reject(
            config,
            &token,
            &["token_malformed"],
            &format!("{name}: typ 42"),
        );
    }
}

fn issuer_audience_cases(setup: &Setup, tally: &mut Tally) {
    let issuers = [
        "",
        "https://avow.test/",
        "https://AVOW.test",
        "http://avow.test",
        "https://avow.test.example",
        "avow",
    ];
    let audiences = [
        "",
        "TEAMID1234.com.example",
        "teamid1234.com.example.api",
        "TEAMID1234.com.example.api ",
        "*",
        "TEAMID1234.com.example.api.other",
    ];
    for (name, hs, config) in setup.configs() {
        let header = Setup::header(hs);
        for issuer in issuers {
            let mut payload = claims_json();
            payload["iss"] = json!(issuer);
            let token = setup.sign_valid(hs, &header, &payload);
            tally.reject(
                config,
                &token,
                &["issuer_mismatch"],
                &format!("{name}: iss {issuer:?}"),
            );
        }
        for audience in audiences {
            let mut payload = claims_json();
            payload["aud"] = json!(audience);
            let token = setup.sign_valid(hs, &header, &payload);
            let case = format!("{name}: aud {audience:?}");
            tally.reject(config, &token, &["audience_mismatch"], &case);
        }
        let mut payload = claims_json();
        payload["aud"] = json!([AUDIENCE, "other"]);
        let token = setup.sign_valid(hs, &header, &payload);
        tally.reject(
            config,
            &token,
            &["invalid_claim"],
            &format!("{name}: aud array"),
        );
        for claim in ["iss", "aud", "exp", "iat", "sub", "jti", "att"] {
            let mut payload = claims_json();
            payload.as_object_mut().unwrap().remove(claim);
            let token = setup.sign_valid(hs, &header, &payload);
            let case = format!("{name}: no {claim}");
            tally.reject(config, &token, &["invalid_claim"], &case);
        }
    }
}

fn time_cases(setup: &Setup, tally: &mut Tally) {
    for (name, hs, config) in setup.configs() {
        let header = Setup::header(hs);
        for step in 0..60 {
            let mut payload = claims_json();
            payload["iat"] = json!(NOW - 300 - LEEWAY_SECS - step * 11);
            payload["exp"] = json!(NOW - LEEWAY_SECS - step * 11);
            let token = setup.sign_valid(hs, &header, &payload);
            let case = format!("{name}: expired, step {step}");
            tally.reject(config, &token, &["token_expired"], &case);

            let mut payload = claims_json();
            let iat = NOW + LEEWAY_SECS + 1 + step * 7;
            payload["iat"] = json!(iat);
            payload["exp"] = json!(iat + 300);
            let token = setup.sign_valid(hs, &header, &payload);
            let case = format!("{name}: issued in the future, step {step}");
            tally.reject(config, &token, &["token_issued_in_future"], &case);

            let mut payload = claims_json();
            payload["nbf"] = json!(NOW + LEEWAY_SECS + 1 + step * 13);
            let token = setup.sign_valid(hs, &header, &payload);
            let case = format!("{name}: not valid before a future time, step {step}");
            tally.reject(config, &token, &["token_not_yet_valid"], &case);
        }
        for nbf in [json!(-1), json!("later"), json!(1.5e30)] {
            let mut payload = claims_json();
            payload["nbf"] = nbf.clone();
            let token = setup.sign_valid(hs, &header, &payload);
            tally.reject(
                config,
                &token,
                &["invalid_claim"],
                &format!("{name}: nbf {nbf}"),
            );
        }
        for exp in [json!(-1), json!("soon"), json!(1.5e30), json!(null)] {
            let mut payload = claims_json();
            payload["exp"] = exp.clone();
            let token = setup.sign_valid(hs, &header, &payload);
            tally.reject(
                config,
                &token,
                &["invalid_claim"],
                &format!("{name}: exp {exp}"),
            );
        }
    }
}

/// Replaces the first occurrence of `member` in JSON text with `member` then `duplicate`.
fn duplicate_member(json_text: &str, member: &str, duplicate: &str) -> String {
    let needle = format!("\"{member}\":");
    let position = json_text.find(&needle).unwrap();
    let mut text = json_text.to_owned();
    text.insert_str(position, &format!("\"{member}\":{duplicate},"));
    text
}

fn duplicate_key_cases(setup: &Setup, tally: &mut Tally) {
    let payload = claims_json().to_string();
    for (name, hs, config) in setup.configs() {
        let header = Setup::header(hs).to_string();
        let sign = |header: &str, payload: &str| {
            if hs {
                hmac_sign_raw(HMAC_SECRET, header, payload)
            } else {
                setup.key.sign_raw(header, payload)
            }
        };
        let header_duplicates = [
            ("alg", "\"none\""),
            ("typ", "\"JWT\""),
            ("alg", "\"ES256\""),
        ];
        for (member, value) in header_duplicates {
            let token = sign(&duplicate_member(&header, member, value), &payload);
            let case = format!("{name}: header {member} twice");
            tally.reject(config, &token, &["token_malformed"], &case);
        }
        let payload_duplicates = [
            ("aud", "\"other\""),
            ("iss", "\"https://other.test\""),
            ("exp", "1"),
            ("sub", "\"x\""),
            ("pay", "\"x\""),
        ];
        for (member, value) in payload_duplicates {
            let edited = if member == "pay" {
                let mut with_pay = claims_json();
                with_pay["pay"] = json!("y");
                duplicate_member(&with_pay.to_string(), member, value)
            } else {
                duplicate_member(&payload, member, value)
            };
            let token = sign(&header, &edited);
            let case = format!("{name}: payload {member} twice");
            tally.reject(config, &token, &["invalid_claim"], &case);
        }
    }
    // Only the ES256 path reads kid, so only there a repeated kid is malformed.
    let header = duplicate_member(&es_header(KID).to_string(), "kid", "\"other\"");
    let token = setup.key.sign_raw(&header, &payload);
    tally.reject(
        &setup.es,
        &token,
        &["token_malformed"],
        "es256: header kid twice",
    );
}

fn oversized_cases(setup: &Setup, tally: &mut Tally) {
    for (name, hs, config) in setup.configs() {
        let header = Setup::header(hs);
        for extra in [1, 2, 100, 1000, MAX_TOKEN_LEN, 4 * MAX_TOKEN_LEN] {
            let mut payload = claims_json();
            let token = setup.sign_valid(hs, &header, &payload);
            // Pads with a claim until the token is `extra` bytes over the maximum.
            let pad_len = (MAX_TOKEN_LEN - token.len() + extra) * 3 / 4 + 4;
            payload["pad"] = json!("p".repeat(pad_len));
            let token = setup.sign_valid(hs, &header, &payload);
            assert!(
                token.len() > MAX_TOKEN_LEN,
                "{name}: padded token too short"
            );
            let case = format!("{name}: {} bytes", token.len());
            tally.reject(config, &token, &["token_too_large"], &case);
        }
        let token = "a".repeat(MAX_TOKEN_LEN + 1);
        tally.reject(
            config,
            &token,
            &["token_too_large"],
            &format!("{name}: bare text"),
        );
    }
}

fn truncation_cases(setup: &Setup, tally: &mut Tally) {
    for (name, hs, config) in setup.configs() {
        let token = setup.sign_valid(hs, &Setup::header(hs), &claims_json());
        for len in 0..token.len() {
            let truncated = &token[..len];
            let case = format!("{name}: truncated to {len} bytes");
            let expected = [
                "missing_token",
                "token_malformed",
                "signature_invalid",
                "invalid_claim",
            ];
            tally.reject(config, truncated, &expected, &case);
        }
    }
}

fn garble_cases(setup: &Setup, tally: &mut Tally) {
    let expected = [
        "token_malformed",
        "signature_invalid",
        "invalid_claim",
        "algorithm_not_allowed",
        "wrong_token_type",
        "unknown_kid",
        "missing_kid",
    ];
    for (name, hs, config) in setup.configs() {
        let token = setup.sign_valid(hs, &Setup::header(hs), &claims_json());
        for position in (0..token.len()).step_by(5) {
            for inserted in ['.', '=', '+', '/', '!', '~', '*'] {
                let mut garbled = token.clone();
                garbled.insert(position, inserted);
                let case = format!("{name}: {inserted:?} inserted at {position}");
                tally.reject(config, &garbled, &expected, &case);
            }
        }
        let segments: Vec<&str> = token.split('.').collect();
        let padded: Vec<String> = segments
            .iter()
            .map(|segment| STANDARD.encode(URL_SAFE_NO_PAD.decode(segment).unwrap()))
            .collect();
        let variants = [
            padded.join("."),
            format!("{token}."),
            format!(".{token}"),
            format!("{token}.{}", segments[2]),
            format!("{}..{}", segments[0], segments[2]),
            format!("Bearer {token}"),
            token.replace('.', ".."),
            segments[..2].join("."),
        ];
        for (index, variant) in variants.iter().enumerate() {
            let case = format!("{name}: encoding variant {index}");
            tally.reject(config, variant, &expected, &case);
        }
    }
}

/// Returns `token` with its signature replaced by `signature`.
fn with_signature(token: &str, signature: &[u8]) -> String {
    let (signing_input, _) = token.rsplit_once('.').unwrap();
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

fn signature_bit_flip_cases(setup: &Setup, tally: &mut Tally) {
    for (name, hs, config) in setup.configs() {
        let token = setup.sign_valid(hs, &Setup::header(hs), &claims_json());
        let signature = URL_SAFE_NO_PAD
            .decode(token.rsplit_once('.').unwrap().1)
            .unwrap();
        for byte in 0..signature.len() {
            for bit in 0..8 {
                let mut flipped = signature.clone();
                flipped[byte] ^= 1 << bit;
                let case = format!("{name}: signature byte {byte} bit {bit} flipped");
                let token = with_signature(&token, &flipped);
                tally.reject(config, &token, &["signature_invalid"], &case);
            }
        }
        let truncated = with_signature(&token, &signature[..signature.len() - 1]);
        tally.reject(
            config,
            &truncated,
            &["signature_invalid", "token_malformed"],
            "short sig",
        );
    }
}

fn payload_edit_cases(setup: &Setup, tally: &mut Tally) {
    let edits: [(&str, Value); 10] = [
        ("sub", json!("TEAMID1234.com.attacker")),
        ("aud", json!("TEAMID1234.com.example.other")),
        ("exp", json!(NOW + 1_000_000)),
        ("iat", json!(NOW - 1)),
        ("jti", json!("jti-2")),
        ("ins", json!("install-2")),
        ("pay", json!("AAAA")),
        ("iss", json!(ISSUER.to_uppercase())),
        (
            "att",
            json!({"prv": [], "trust": "hardware", "app": "recognized", "dev": "strong",
                        "at": NOW, "via": "attestation"}),
        ),
        ("red", json!(true)),
    ];
    for (name, hs, config) in setup.configs() {
        let token = setup.sign_valid(hs, &Setup::header(hs), &claims_json());
        let mut segments = token.split('.');
        let header = segments.next().unwrap();
        segments.next();
        let signature = segments.next().unwrap();
        let mut payloads: Vec<(String, String)> = edits
            .iter()
            .map(|(claim, value)| {
                let mut payload = claims_json();
                payload[*claim] = value.clone();
                (format!("{claim} edited"), payload.to_string())
            })
            .collect();
        payloads.push((
            "reformatted".to_owned(),
            serde_json::to_string_pretty(&claims_json()).unwrap(),
        ));
        payloads.push(("trailing space".to_owned(), format!("{} ", claims_json())));
        for (edit, payload) in payloads {
            let forged = format!("{header}.{}.{signature}", URL_SAFE_NO_PAD.encode(payload));
            let case = format!("{name}: payload {edit}, original signature");
            tally.reject(config, &forged, &["signature_invalid"], &case);
        }
    }
}

#[test]
fn hostile_tokens_all_rejected() {
    let setup = Setup::new();
    // The generators must produce accepted tokens when nothing is changed, or the rejections
    // below prove nothing.
    let valid = setup.key.sign(&claims_json());
    assert!(check(&setup.es, &token_headers(&valid), NOW).is_ok());
    assert!(check(&setup.hs, &token_headers(&hs_sign(&claims_json())), NOW).is_ok());

    let mut tally = Tally::new();
    algorithm_cases(&setup, &mut tally);
    kid_cases(&setup, &mut tally);
    key_header_cases(&setup, &mut tally);
    type_cases(&setup, &mut tally);
    issuer_audience_cases(&setup, &mut tally);
    time_cases(&setup, &mut tally);
    duplicate_key_cases(&setup, &mut tally);
    oversized_cases(&setup, &mut tally);
    truncation_cases(&setup, &mut tally);
    garble_cases(&setup, &mut tally);
    signature_bit_flip_cases(&setup, &mut tally);
    payload_edit_cases(&setup, &mut tally);

    println!("hostile tokens rejected: {}", tally.total);
    for (reason, count) in &tally.by_reason {
        println!("  {reason}: {count}");
    }
    assert!(tally.total >= 1000, "only {} hostile tokens", tally.total);
}
