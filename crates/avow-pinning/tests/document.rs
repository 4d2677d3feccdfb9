//! The signed pin document: signing, strict verification and the rules every document meets.

mod client_support;

use avow_pinning::document::{Jwk, MAX_DOCUMENT_LEN, PIN_DOCUMENT_TYPE};
use avow_pinning::{DocumentError, PinDocumentSigner, PinDocumentVerifier, PinPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use client_support::*;

/// Returns a valid payload as JSON text, for tests that change one member by hand.
fn payload_json(pins: &[&str]) -> String {
    let pins = pins
        .iter()
        .map(|pin| format!("\"{pin}\""))
        .collect::<Vec<_>>()
        .join(",");
    format!(
        r#"{{"iss":"{ISSUER}","app":"{APP_ID}","ver":3,"iat":{T0},"exp":{exp},"domains":[{{"host":"{HOST}","pins":[{pins}],"exp":{dexp},"mode":"enforce","after_expiry":"fail_closed","user_anchors":"reject"}}]}}"#,
        exp = T0 + 30 * DAY,
        dexp = T0 + 90 * DAY,
    )
}

fn two_pins() -> [String; 2] {
    [
        placeholder_pin("current").to_string(),
        placeholder_pin("backup").to_string(),
    ]
}

fn reject(signer: &TestSigner, compact: &str) -> DocumentError {
    signer.verifier().verify(compact.as_bytes()).unwrap_err()
}

#[test]
fn sign_then_verify_round_trips() {
    let signer = TestSigner::generate();
    let document = simple_document(3, T0);
    let compact = signer.sign(&document);

    let verified = signer.verifier().verify(compact.as_bytes()).unwrap();
    assert_eq!(verified.document(), &document);
    assert_eq!(verified.kid(), signer.signer.kid());
    assert_eq!(verified.compact(), compact);

    let header = compact.split('.').next().unwrap();
    let header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["typ"], PIN_DOCUMENT_TYPE);
    assert_eq!(header["kid"], signer.signer.kid());
}

#[test]
fn hand_made_document_with_real_header_verifies() {
    // Guards the tests below: the raw signing helper and payload produce a valid document, so
    // each rejection is caused by the one change the test makes.
    let signer = TestSigner::generate();
    let [a, b] = two_pins();
    let compact = signer.sign_raw(&signer.header(), &payload_json(&[&a, &b]));
    let verified = signer.verifier().verify(compact.as_bytes()).unwrap();
    assert_eq!(verified.document().ver, 3);
}

#[test]
fn tampered_payload_rejected() {
    let signer = TestSigner::generate();
    let compact = signer.sign(&simple_document(3, T0));
    let mut parts: Vec<String> = compact.split('.').map(str::to_owned).collect();
    let payload = URL_SAFE_NO_PAD.decode(&parts[1]).unwrap();
    let payload = String::from_utf8(payload)
        .unwrap()
        .replace("\"ver\":3", "\"ver\":9");
    parts[1] = URL_SAFE_NO_PAD.encode(payload);
    let error = reject(&signer, &parts.join("."));
    assert_eq!(error, DocumentError::SignatureInvalid);
}

#[test]
fn tampered_signature_rejected() {
    let signer = TestSigner::generate();
    let compact = signer.sign(&simple_document(3, T0));
    let (signing_input, signature) = compact.rsplit_once('.').unwrap();
    let mut signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
    signature[10] ^= 0x01;
    let tampered = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature));
    assert_eq!(reject(&signer, &tampered), DocumentError::SignatureInvalid);
}

#[test]
fn document_from_unknown_key_rejected() {
    let signer = TestSigner::generate();
    let other = TestSigner::generate();
    let compact = other.sign(&simple_document(3, T0));
    let error = reject(&signer, &compact);
    assert_eq!(error.reason(), "unknown_kid");
}

#[test]
fn unknown_key_claiming_trusted_kid_rejected() {
    let signer = TestSigner::generate();
    let other = TestSigner::generate();
    let [a, b] = two_pins();
    let compact = other.sign_raw(&signer.header(), &payload_json(&[&a, &b]));
    assert_eq!(reject(&signer, &compact), DocumentError::SignatureInvalid);
}

#[test]
fn alg_none_rejected() {
    let signer = TestSigner::generate();
    let [a, b] = two_pins();
    let header = format!(
        r#"{{"alg":"none","typ":"avow-pins+jwt","kid":"{}"}}"#,
        signer.signer.kid()
    );
    let compact = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload_json(&[&a, &b]))
    );
    let error = reject(&signer, &compact);
    assert_eq!(
        error,
        DocumentError::AlgorithmNotAllowed {
            received: "none".into()
        }
    );
}

#[test]
fn hs256_with_public_key_as_secret_rejected() {
    // The classic confusion: an HMAC keyed with the verifier's public key.
    let signer = TestSigner::generate();
    let [a, b] = two_pins();
    let header = format!(
        r#"{{"alg":"HS256","typ":"avow-pins+jwt","kid":"{}"}}"#,
        signer.signer.kid()
    );
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload_json(&[&a, &b]))
    );
    let key = aws_lc_rs::hmac::Key::new(
        aws_lc_rs::hmac::HMAC_SHA256,
        signer.signer.public_key().sec1_point(),
    );
    let tag = aws_lc_rs::hmac::sign(&key, signing_input.as_bytes());
    let compact = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()));
    let error = reject(&signer, &compact);
    assert_eq!(
        error,
        DocumentError::AlgorithmNotAllowed {
            received: "HS256".into()
        }
    );
}

#[test]
fn wrong_or_missing_typ_rejected() {
    let signer = TestSigner::generate();
    let [a, b] = two_pins();
    let kid = signer.signer.kid();
    let cases = [
        (
            format!(r#"{{"alg":"ES256","typ":"JWT","kid":"{kid}"}}"#),
            "JWT",
        ),
        (
            format!(r#"{{"alg":"ES256","typ":"avow+jwt","kid":"{kid}"}}"#),
            "avow+jwt",
        ),
        (format!(r#"{{"alg":"ES256","kid":"{kid}"}}"#), ""),
    ];
    for (header, received) in cases {
        let compact = signer.sign_raw(&header, &payload_json(&[&a, &b]));
        assert_eq!(
            reject(&signer, &compact),
            DocumentError::WrongType {
                received: received.into()
            },
            "{header}"
        );
    }
}

#[test]
fn crit_header_rejected() {
    let signer = TestSigner::generate();
    let [a, b] = two_pins();
    let header = format!(
        r#"{{"alg":"ES256","typ":"avow-pins+jwt","kid":"{}","crit":["exp"]}}"#,
        signer.signer.kid()
    );
    let compact = signer.sign_raw(&header, &payload_json(&[&a, &b]));
    assert_eq!(reject(&signer, &compact), DocumentError::CriticalHeader);
}

#[test]
fn missing_kid_rejected() {
    let signer = TestSigner::generate();
    let [a, b] = two_pins();
    let compact = signer.sign_raw(
        r#"{"alg":"ES256","typ":"avow-pins+jwt"}"#,
        &payload_json(&[&a, &b]),
    );
    assert_eq!(reject(&signer, &compact), DocumentError::MissingKid);
}

#[test]
fn duplicate_key_in_payload_rejected() {
    let signer = TestSigner::generate();
    let [a, b] = two_pins();
    // A second "ver" after the first: parsers that keep the last value would read 99.
    let payload = payload_json(&[&a, &b]).replacen("\"ver\":3,", "\"ver\":3,\"ver\":99,", 1);
    let compact = signer.sign_raw(&signer.header(), &payload);
    assert_eq!(
        reject(&signer, &compact),
        DocumentError::DuplicateKey {
            part: "payload",
            key: "ver".into()
        }
    );
}

#[test]
fn duplicate_key_inside_domain_rejected() {
    let signer = TestSigner::generate();
    let [a, b] = two_pins();
    let payload = payload_json(&[&a, &b]).replacen(
        "\"mode\":\"enforce\"",
        "\"mode\":\"enforce\",\"mode\":\"report_only\"",
        1,
    );
    let compact = signer.sign_raw(&signer.header(), &payload);
    assert_eq!(
        reject(&signer, &compact),
        DocumentError::DuplicateKey {
            part: "payload",
            key: "mode".into()
        }
    );
}

#[test]
fn duplicate_key_in_header_rejected() {
    let signer = TestSigner::generate();
    let [a, b] = two_pins();
    let header = format!(
        r#"{{"alg":"ES256","alg":"none","typ":"avow-pins+jwt","kid":"{}"}}"#,
        signer.signer.kid()
    );
    let compact = signer.sign_raw(&header, &payload_json(&[&a, &b]));
    assert_eq!(
        reject(&signer, &compact),
        DocumentError::DuplicateKey {
            part: "header",
            key: "alg".into()
        }
    );
}

#[test]
fn oversized_document_rejected_before_parsing() {
    let signer = TestSigner::generate();
    let oversized = "a".repeat(MAX_DOCUMENT_LEN + 1);
    assert_eq!(
        reject(&signer, &oversized),
        DocumentError::TooLarge {
            len: MAX_DOCUMENT_LEN + 1,
            max: MAX_DOCUMENT_LEN
        }
    );
}

#[test]
fn validly_signed_oversized_document_rejected() {
    let signer = TestSigner::generate();
    let [a, b] = two_pins();
    let padding = "x".repeat(MAX_DOCUMENT_LEN);
    let payload = payload_json(&[&a, &b]).replacen('{', &format!(r#"{{"note":"{padding}","#), 1);
    let compact = signer.sign_raw(&signer.header(), &payload);
    assert_eq!(reject(&signer, &compact).reason(), "document_too_large");
}

#[test]
fn single_pin_domain_rejected() {
    let signer = TestSigner::generate();
    let [a, _] = two_pins();
    let compact = signer.sign_raw(&signer.header(), &payload_json(&[&a]));
    assert_eq!(
        reject(&signer, &compact),
        DocumentError::TooFewPins {
            host: HOST.into(),
            count: 1
        }
    );
}

#[test]
fn same_pin_twice_is_not_a_backup() {
    let signer = TestSigner::generate();
    let [a, _] = two_pins();
    let compact = signer.sign_raw(&signer.header(), &payload_json(&[&a, &a]));
    assert_eq!(reject(&signer, &compact).reason(), "duplicate_pin");
}

#[test]
fn signer_refuses_single_pin_domain() {
    let signer = TestSigner::generate();
    let mut document = simple_document(3, T0);
    document.domains[0].pins.truncate(1);
    let error = signer.signer.sign(&document).unwrap_err();
    assert_eq!(error.reason(), "too_few_pins");
}

#[test]
fn bad_pin_strings_rejected_by_format() {
    let signer = TestSigner::generate();
    let [_, b] = two_pins();
    let isrg_root_x1 = "C5+lpZ7tcVwmwQIMcRtPbsQtWLABXhQzejna0wHFr8M=";
    let cases = [
        (
            "0b9fa5a59eed715c26c1020c711b4f6ec42d58b0015e14337a39dad301c5afc3".to_owned(),
            "pin_hex",
        ),
        (
            "C5-lpZ7tcVwmwQIMcRtPbsQtWLABXhQzejna0wHFr8M".to_owned(),
            "pin_base64url",
        ),
        (format!("sha256/{isrg_root_x1}"), "pin_okhttp_prefix"),
        ("AAAA".to_owned(), "pin_wrong_length"),
    ];
    for (pin, reason) in cases {
        let compact = signer.sign_raw(&signer.header(), &payload_json(&[&pin, &b]));
        let error = reject(&signer, &compact);
        assert!(
            matches!(error, DocumentError::InvalidPin { .. }),
            "{pin}: {error:?}"
        );
        assert_eq!(error.reason(), reason, "{pin}");
    }
}

#[test]
fn document_rules_rejected_by_name() {
    let signer = TestSigner::generate();
    let verifier = signer.verifier();
    let [a, b] = two_pins();
    let base = payload_json(&[&a, &b]);
    let exp = T0 + 30 * DAY;
    let dexp = T0 + 90 * DAY;
    let duplicate_host = format!(
        r#"{},{{"host":"API.test","pins":["{a}","{b}"],"exp":{dexp},"mode":"enforce","after_expiry":"fail_closed","user_anchors":"reject"}}]}}"#,
        base.strip_suffix("]}").unwrap()
    );
    let cases = [
        (base.replacen("\"ver\":3", "\"ver\":0", 1), "version_zero"),
        (
            base.replacen(&format!("\"exp\":{exp}"), &format!("\"exp\":{T0}"), 1),
            "expiry_not_after_issue",
        ),
        (
            base.replacen(&format!("\"exp\":{dexp}"), &format!("\"exp\":{T0}"), 1),
            "domain_expiry_not_after_issue",
        ),
        (duplicate_host, "duplicate_host"),
        (base.replacen(HOST, "api.*.test", 1), "invalid_host_pattern"),
        (
            base.replacen("\"enforce\"", "\"monitor\"", 1),
            "invalid_payload",
        ),
        (
            base.replacen("\"ver\":3", "\"ver\":-3", 1),
            "invalid_payload",
        ),
        (
            base.replacen(APP_ID, "com.example.other", 1),
            "app_mismatch",
        ),
    ];
    for (payload, reason) in cases {
        let compact = signer.sign_raw(&signer.header(), &payload);
        let error = verifier.verify(compact.as_bytes()).unwrap_err();
        assert_eq!(error.reason(), reason, "{payload}");
    }
}

#[test]
fn unknown_payload_members_are_ignored() {
    // A newer server may add members; older apps must still take the document.
    let signer = TestSigner::generate();
    let [a, b] = two_pins();
    let payload = payload_json(&[&a, &b]).replacen('{', r#"{"rollout":{"stage":2},"#, 1);
    let compact = signer.sign_raw(&signer.header(), &payload);
    assert!(signer.verifier().verify(compact.as_bytes()).is_ok());
}

#[test]
fn issuer_checked_when_configured() {
    let signer = TestSigner::generate();
    let compact = signer.sign(&simple_document(3, T0));
    let verifier = signer.verifier().with_issuer("https://other.test");
    assert_eq!(
        verifier.verify(compact.as_bytes()).unwrap_err(),
        DocumentError::IssuerMismatch
    );
    let verifier = signer.verifier().with_issuer(ISSUER);
    assert!(verifier.verify(compact.as_bytes()).is_ok());
}

#[test]
fn structural_garbage_rejected_as_malformed() {
    let signer = TestSigner::generate();
    let cases = ["", "a.b", "a.b.c.d", "!!!.b.c", "e30.e30.AA", "\u{ff}.x.y"];
    for input in cases {
        let error = reject(&signer, input);
        assert!(
            matches!(
                error,
                DocumentError::Malformed(_) | DocumentError::AlgorithmNotAllowed { .. }
            ),
            "{input:?}: {error:?}"
        );
    }
}

#[test]
fn public_key_forms_agree() {
    let signer = TestSigner::generate();
    let key = signer.signer.public_key();

    let from_spki = PinPublicKey::from_spki_der(&key.to_spki_der()).unwrap();
    assert_eq!(&from_spki, key);
    assert_eq!(from_spki.kid(), key.kid());

    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(key.to_spki_der())
    );
    assert_eq!(&PinPublicKey::from_spki_pem(&pem).unwrap(), key);

    let jwk_json = serde_json::to_string(&key.to_jwk()).unwrap();
    let jwk: Jwk = serde_json::from_str(&jwk_json).unwrap();
    assert_eq!(&PinPublicKey::from_jwk(&jwk).unwrap(), key);

    // A verifier built from the JWK accepts what the signer produced.
    let compact = signer.sign(&simple_document(3, T0));
    let verifier =
        PinDocumentVerifier::new([PinPublicKey::from_jwk(&jwk).unwrap()]).with_app(APP_ID);
    assert!(verifier.verify(compact.as_bytes()).is_ok());
}

#[test]
fn kid_is_rfc7638_thumbprint() {
    // RFC 7638 section 3.1 fixes the member order; recompute it independently here.
    let signer = TestSigner::generate();
    let jwk = signer.signer.public_key().to_jwk();
    let canonical = format!(
        r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
        jwk.x, jwk.y
    );
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes());
    assert_eq!(signer.signer.kid(), URL_SAFE_NO_PAD.encode(digest.as_ref()));
    assert_eq!(jwk.kid.as_deref(), Some(signer.signer.kid()));
}

#[test]
fn unsupported_public_keys_rejected() {
    let signer = TestSigner::generate();
    let mut jwk = signer.signer.public_key().to_jwk();
    jwk.kid = Some("not-the-thumbprint".into());
    assert_eq!(
        PinPublicKey::from_jwk(&jwk).unwrap_err().reason(),
        "unsupported_key"
    );

    let mut jwk = signer.signer.public_key().to_jwk();
    jwk.crv = "P-384".into();
    assert!(PinPublicKey::from_jwk(&jwk).is_err());

    let mut point = signer.signer.public_key().sec1_point().to_vec();
    point[64] ^= 0x01;
    assert!(
        PinPublicKey::from_sec1_point(&point).is_err(),
        "point off the curve"
    );
    assert!(PinPublicKey::from_spki_der(&[0x30, 0x00]).is_err());
    assert!(PinPublicKey::from_spki_pem("no pem here").is_err());
}

#[test]
fn signer_reloads_from_pkcs8_with_same_kid() {
    let signer = TestSigner::generate();
    let reloaded = PinDocumentSigner::from_pkcs8(&signer.pkcs8).unwrap();
    assert_eq!(reloaded.kid(), signer.signer.kid());
    assert_eq!(
        PinDocumentSigner::from_pkcs8(b"not a key").unwrap_err(),
        DocumentError::KeyRejected
    );
}

/// Mutates a valid document many times (flipped bits, cut lengths, spliced parts, edited
/// JSON) and checks that verification never panics and never accepts a changed document.
#[test]
fn mutated_documents_never_panic_or_verify() {
    let signer = TestSigner::generate();
    let verifier = signer.verifier();
    let compact = signer.sign(&simple_document(3, T0));
    let original = compact.as_bytes().to_vec();
    let payload_text = String::from_utf8(
        URL_SAFE_NO_PAD
            .decode(compact.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();

    // A small deterministic generator keeps the run reproducible without a dependency.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };

    let mut accepted = 0;
    for round in 0..3000 {
        let mut input = original.clone();
        let mut resigned = false;
        match round % 5 {
            0 => {
                let index = (next() as usize) % input.len();
                input[index] ^= 1 << (next() % 8);
            }
            1 => {
                let cut = (next() as usize) % input.len();
                input.truncate(cut);
            }
            2 => {
                let index = (next() as usize) % input.len();
                input.insert(index, (next() % 256) as u8);
            }
            3 => {
                // Re-sign an edited payload: a valid signature over arbitrary JSON-ish text.
                let mut bytes = payload_text.clone().into_bytes();
                let index = (next() as usize) % bytes.len();
                bytes[index] = b"{}[]\",:0123456789aez-"[(next() as usize) % 21];
                let edited = String::from_utf8_lossy(&bytes).into_owned();
                input = signer.sign_raw(&signer.header(), &edited).into_bytes();
                resigned = true;
            }
            _ => {
                let parts: Vec<&[u8]> = original.split(|byte| *byte == b'.').collect();
                let first = (next() as usize) % parts.len();
                input = [parts[first], b".", parts[first], b".", parts[2]].concat();
            }
        }
        match verifier.verify(&input) {
            // A re-signed edit carries a valid signature, so it may pass if it still meets
            // every rule. Any other change must break the signature or the encoding, unless
            // it left the signed text unchanged.
            Ok(verified) if resigned => {
                assert!(verified.document().validate().is_ok(), "round {round}");
                accepted += 1;
            }
            Ok(verified) => {
                assert_eq!(
                    verified.document(),
                    &simple_document(3, T0),
                    "round {round}"
                );
                accepted += 1;
            }
            Err(error) => assert!(!error.reason().is_empty()),
        }
    }
    assert!(accepted < 3000 / 5, "{accepted} of 3000 mutations verified");
}
