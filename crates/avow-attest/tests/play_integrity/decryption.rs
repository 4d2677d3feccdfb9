//! The token layers: JWE decryption and the JWS signature. A failure in the JWE skips every
//! later check, because there is no plaintext to check.

use avow_attest::Error;
use avow_attest::play_integrity::{MAX_TOKEN_LEN, PlayIntegrityCheck, PlayIntegrityKeys};
use avow_attest::verdict::{AppIntegrity, DeviceIntegrity, Provider, TrustLevel};
use avow_testgen::play_integrity::{PlayIntegrityIssuer, PlayIntegrityMutation};

use super::{Fixture, NOW_SECS, PACKAGE, TOKEN_AGE_MS, assert_fails_and_skips_rest};

fn assert_decryption_failure(fixture: &Fixture, error: Error) {
    assert_fails_and_skips_rest(
        &fixture.report(),
        &PlayIntegrityCheck::TOKEN,
        PlayIntegrityCheck::Decryption,
        &error,
    );
    assert_eq!(fixture.verify().unwrap_err(), error);
}

fn assert_signature_failure(fixture: &Fixture, error: Error) {
    assert_fails_and_skips_rest(
        &fixture.report(),
        &PlayIntegrityCheck::TOKEN,
        PlayIntegrityCheck::Signature,
        &error,
    );
    assert_eq!(fixture.verify().unwrap_err(), error);
}

#[test]
fn valid_classic_token_verifies() {
    let fixture = Fixture::classic();
    let report = fixture.report();
    assert!(
        report
            .outcomes()
            .iter()
            .all(|(_, outcome)| *outcome == avow_attest::CheckOutcome::Passed)
    );
    let verified = report.into_result().unwrap();
    let verdict = verified.verdict();
    assert_eq!(verdict.provider, Provider::PlayIntegrity);
    assert_eq!(verdict.trust, TrustLevel::Platform);
    assert_eq!(verdict.app_integrity, AppIntegrity::Recognized);
    assert_eq!(verdict.device_integrity, DeviceIntegrity::Device);
    assert!(verdict.risk_flags.is_empty());
    assert_eq!(
        verdict.evidence_time_ms,
        Some(NOW_SECS * 1000 - TOKEN_AGE_MS)
    );
    assert_eq!(verified.request_package_name(), PACKAGE);
    assert_eq!(verified.version_code(), Some(42));
    assert!(!verified.is_testing_response());
}

#[test]
fn jwe_algorithm_a128kw_rejected() {
    let fixture = Fixture::with(PlayIntegrityMutation::JweAlgorithm("A128KW".to_owned()));
    assert_decryption_failure(
        &fixture,
        Error::JweAlgorithmNotAllowed {
            member: "alg",
            received: "A128KW".to_owned(),
        },
    );
}

#[test]
fn jwe_encryption_a128gcm_rejected() {
    let fixture = Fixture::with(PlayIntegrityMutation::JweEncryption("A128GCM".to_owned()));
    assert_decryption_failure(
        &fixture,
        Error::JweAlgorithmNotAllowed {
            member: "enc",
            received: "A128GCM".to_owned(),
        },
    );
}

#[test]
fn jwe_compression_rejected() {
    let fixture = Fixture::with(PlayIntegrityMutation::JweCompression);
    assert_decryption_failure(&fixture, Error::JweHeaderNotAllowed { member: "zip" });
}

#[test]
fn token_for_other_decryption_key_rejected() {
    let fixture = Fixture::with(PlayIntegrityMutation::OtherDecryptionKey);
    assert_decryption_failure(&fixture, Error::JweKeyUnwrapFailed);
}

#[test]
fn verifier_with_other_decryption_key_rejects() {
    let mut fixture = Fixture::classic();
    let other = PlayIntegrityIssuer::new();
    fixture.keys = PlayIntegrityKeys::new(
        &other.decryption_key(),
        &fixture.issuer.verification_key_spki(),
    )
    .unwrap();
    assert_decryption_failure(&fixture, Error::JweKeyUnwrapFailed);
}

#[test]
fn tampered_encrypted_key_rejected() {
    let fixture = Fixture::with(PlayIntegrityMutation::TamperedEncryptedKey);
    assert_decryption_failure(&fixture, Error::JweKeyUnwrapFailed);
}

#[test]
fn tampered_iv_rejected() {
    let fixture = Fixture::with(PlayIntegrityMutation::TamperedIv);
    assert_decryption_failure(&fixture, Error::JweDecryptionFailed);
}

#[test]
fn tampered_ciphertext_rejected() {
    let fixture = Fixture::with(PlayIntegrityMutation::TamperedCiphertext);
    assert_decryption_failure(&fixture, Error::JweDecryptionFailed);
}

#[test]
fn tampered_tag_rejected() {
    let fixture = Fixture::with(PlayIntegrityMutation::TamperedTag);
    assert_decryption_failure(&fixture, Error::JweDecryptionFailed);
}

#[test]
fn oversized_token_rejected() {
    let fixture = Fixture::with(PlayIntegrityMutation::PayloadText(
        "x".repeat(MAX_TOKEN_LEN),
    ));
    let token = fixture.token();
    let error = Error::InputTooLarge {
        what: "integrity token",
        len: token.len(),
        max: MAX_TOKEN_LEN,
    };
    assert_decryption_failure(&fixture, error);
}

#[test]
fn token_signed_with_other_key_rejected() {
    let fixture = Fixture::with(PlayIntegrityMutation::OtherSigningKey);
    let report = fixture.report();
    super::assert_only_failure(
        &report,
        &PlayIntegrityCheck::TOKEN,
        PlayIntegrityCheck::Signature,
        &Error::JwsSignatureInvalid,
    );
    assert_eq!(fixture.verify().unwrap_err(), Error::JwsSignatureInvalid);
}

#[test]
fn verifier_with_other_verification_key_rejects() {
    let mut fixture = Fixture::classic();
    let other = PlayIntegrityIssuer::new();
    fixture.keys = PlayIntegrityKeys::new(
        &fixture.issuer.decryption_key(),
        &other.verification_key_spki(),
    )
    .unwrap();
    assert_eq!(fixture.verify().unwrap_err(), Error::JwsSignatureInvalid);
}

#[test]
fn jws_algorithm_other_than_es256_rejected() {
    for alg in ["RS256", "ES384", "none", "HS256"] {
        let fixture = Fixture::with(PlayIntegrityMutation::JwsAlgorithm(alg.to_owned()));
        assert_signature_failure(
            &fixture,
            Error::JwsAlgorithmNotAllowed {
                received: alg.to_owned(),
            },
        );
    }
}

#[test]
fn plaintext_that_is_not_a_jws_rejected() {
    // A JWE whose plaintext is the bare JSON verdict instead of a signed JWS: an unsigned
    // verdict must not pass, even when it decrypts.
    let fixture = Fixture::classic();
    let unsigned = fixture.spec.payload().to_string();
    let error = Error::MalformedJws {
        detail: "not three dot-separated parts",
    };
    let token = jwe_around(&fixture, &unsigned);
    let report = avow_attest::play_integrity::verify_token_report(
        &token,
        &fixture.keys,
        &fixture.expected(),
        super::unix(fixture.now_secs),
        fixture.freshness,
    );
    assert_fails_and_skips_rest(
        &report,
        &PlayIntegrityCheck::TOKEN,
        PlayIntegrityCheck::Signature,
        &error,
    );
}

/// Encrypts `plaintext` as a JWE for the fixture's decryption key, with a fixed content key
/// and IV. The generator always signs its plaintext, so this test builds the JWE itself.
fn jwe_around(fixture: &Fixture, plaintext: &str) -> String {
    use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
    use aws_lc_rs::key_wrap::{AES_256, AesKek, KeyWrap as _};
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    let content_key = [0x11u8; 32];
    let iv = [0x22u8; 12];
    let mut encrypted_key = vec![0u8; 40];
    AesKek::new(&AES_256, &fixture.issuer.decryption_key())
        .unwrap()
        .wrap(&content_key, &mut encrypted_key)
        .unwrap();
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"A256KW","enc":"A256GCM"}"#);
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &content_key).unwrap());
    let mut ciphertext = plaintext.as_bytes().to_vec();
    let tag = key
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(iv),
            Aad::from(header.as_bytes()),
            &mut ciphertext,
        )
        .unwrap();
    [
        header,
        URL_SAFE_NO_PAD.encode(&encrypted_key),
        URL_SAFE_NO_PAD.encode(iv),
        URL_SAFE_NO_PAD.encode(&ciphertext),
        URL_SAFE_NO_PAD.encode(tag.as_ref()),
    ]
    .join(".")
}
