use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair as _};
use base64::Engine as _;

use super::*;

/// DER prefix of a P-256 SubjectPublicKeyInfo; the 65-byte point follows it.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];
const NONCE: [u8; 32] = [5u8; 32];
const DIGEST: [u8; 32] = [8u8; 32];

struct Device {
    key: EcdsaKeyPair,
    spki: Vec<u8>,
}

impl Device {
    fn new() -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let key =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref()).unwrap();
        let mut spki = P256_SPKI_PREFIX.to_vec();
        spki.extend_from_slice(key.public_key().as_ref());
        Self { key, spki }
    }

    fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.key
            .sign(&SystemRandom::new(), message)
            .unwrap()
            .as_ref()
            .to_vec()
    }
}

fn measurement(extra: &str) -> Vec<u8> {
    let digest = base64::engine::general_purpose::STANDARD.encode(DIGEST);
    format!(
        r#"{{"app_id":"com.example.shop","signing_certificate_sha256":"{digest}","installer":"com.android.vending"{extra}}}"#
    )
    .into_bytes()
}

fn verify(
    device: &Device,
    measurement: &[u8],
    signature: &[u8],
) -> Result<VerifiedDeviceKey, Error> {
    let digests = [DIGEST.to_vec()];
    verify_registration(&RegistrationInput {
        public_key: &device.spki,
        measurement,
        signature,
        nonce: &NONCE,
        expected_app_id: "com.example.shop",
        certificate_digests: &digests,
        official_installers: &["com.android.vending"],
    })
}

#[test]
fn registration_verifies_with_software_trust() {
    let device = Device::new();
    let measurement = measurement("");
    let signature = device.sign(&registration_message(&NONCE, &measurement));
    let verified = verify(&device, &measurement, &signature).unwrap();
    let verdict = verified.verdict();
    assert_eq!(verdict.provider, Provider::AvowDeviceKey);
    assert_eq!(verdict.trust, TrustLevel::Software);
    assert_eq!(verdict.app_integrity, AppIntegrity::Recognized);
    assert_eq!(verdict.device_integrity, DeviceIntegrity::Basic);
    assert!(verdict.risk_flags.is_empty());
    assert_eq!(verified.key_id(), sha256(&device.spki));
}

#[test]
fn registration_indicators_become_flags() {
    let device = Device::new();
    let measurement = measurement(
        r#","root_detected":true,"hooking_detected":true,"debuggable":true,"emulator_detected":true"#,
    );
    let signature = device.sign(&registration_message(&NONCE, &measurement));
    let verdict = verify(&device, &measurement, &signature)
        .unwrap()
        .verdict()
        .clone();
    assert_eq!(verdict.device_integrity, DeviceIntegrity::None);
    assert_eq!(
        verdict.risk_flags,
        vec![
            RiskFlag::Debuggable,
            RiskFlag::HookingDetected,
            RiskFlag::Rooted,
            RiskFlag::Virtual
        ]
    );
}

#[test]
fn registration_unknown_installer_flagged() {
    let device = Device::new();
    let measurement = br#"{"app_id":"com.example.shop","signing_certificate_sha256":"CAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAg=","installer":"com.sideload"}"#;
    let signature = device.sign(&registration_message(&NONCE, measurement));
    let verdict = verify(&device, measurement, &signature)
        .unwrap()
        .verdict()
        .clone();
    assert_eq!(verdict.risk_flags, vec![RiskFlag::UnknownInstaller]);
}

#[test]
fn registration_signature_over_other_nonce_rejected() {
    let device = Device::new();
    let measurement = measurement("");
    let signature = device.sign(&registration_message(&[6u8; 32], &measurement));
    assert_eq!(
        verify(&device, &measurement, &signature).unwrap_err(),
        Error::SignatureInvalid
    );
}

#[test]
fn registration_changed_measurement_rejected() {
    let device = Device::new();
    let signature = device.sign(&registration_message(&NONCE, &measurement("")));
    let changed = measurement(r#","root_detected":false"#);
    assert_eq!(
        verify(&device, &changed, &signature).unwrap_err(),
        Error::SignatureInvalid
    );
}

#[test]
fn refresh_signature_not_accepted_as_registration() {
    let device = Device::new();
    let measurement = measurement("");
    let signature = device.sign(&refresh_message(&NONCE));
    assert_eq!(
        verify(&device, &measurement, &signature).unwrap_err(),
        Error::SignatureInvalid
    );
}

#[test]
fn registration_other_app_rejected() {
    let device = Device::new();
    let measurement = br#"{"app_id":"com.example.other"}"#;
    let signature = device.sign(&registration_message(&NONCE, measurement));
    let error = verify(&device, measurement, &signature).unwrap_err();
    assert_eq!(error.reason(), "package_name_mismatch");
}

#[test]
fn registration_unknown_certificate_rejected() {
    let device = Device::new();
    let measurement = br#"{"app_id":"com.example.shop","signing_certificate_sha256":"AAAA"}"#;
    let signature = device.sign(&registration_message(&NONCE, measurement));
    assert_eq!(
        verify(&device, measurement, &signature).unwrap_err(),
        Error::CertificateDigestMismatch
    );
}

#[test]
fn registration_missing_certificate_rejected_when_digests_registered() {
    let device = Device::new();
    let measurement = br#"{"app_id":"com.example.shop"}"#;
    let signature = device.sign(&registration_message(&NONCE, measurement));
    assert_eq!(
        verify(&device, measurement, &signature).unwrap_err(),
        Error::CertificateDigestMismatch
    );
}

#[test]
fn registration_malformed_inputs_rejected() {
    let device = Device::new();
    let signature = device.sign(b"anything");
    let error = verify(&device, b"not json", &signature).unwrap_err();
    assert_eq!(error, Error::MalformedMeasurement);

    let mut bad_key = device.spki.clone();
    bad_key.truncate(40);
    let report = verify_registration_report(&RegistrationInput {
        public_key: &bad_key,
        measurement: &measurement(""),
        signature: &signature,
        nonce: &NONCE,
        expected_app_id: "com.example.shop",
        certificate_digests: &[],
        official_installers: &[],
    });
    let (check, error) = report.first_failure().unwrap();
    assert_eq!(check, RegistrationCheck::Structure);
    assert_eq!(error.reason(), "unsupported_credential_key");
    assert!(
        report.outcomes()[1..]
            .iter()
            .all(|(_, outcome)| *outcome == CheckOutcome::Skipped)
    );

    let oversized = vec![b' '; MAX_MEASUREMENT_LEN + 1];
    let error = verify(&device, &oversized, &signature).unwrap_err();
    assert_eq!(error.reason(), "input_too_large");
}

#[test]
fn refresh_signature_verifies_and_binds_nonce() {
    let device = Device::new();
    let signature = device.sign(&refresh_message(&NONCE));
    assert_eq!(
        verify_refresh_signature(&device.spki, &NONCE, &signature),
        Ok(())
    );
    assert_eq!(
        verify_refresh_signature(&device.spki, &[1u8; 32], &signature),
        Err(Error::SignatureInvalid)
    );
    let other = Device::new();
    assert_eq!(
        verify_refresh_signature(&other.spki, &NONCE, &signature),
        Err(Error::SignatureInvalid)
    );
}

#[test]
fn refresh_with_rsa_key_verifies() {
    use aws_lc_rs::encoding::AsDer as _;
    use aws_lc_rs::rsa::KeySize;
    use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};

    let key = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
    let spki = key.public_key().as_der().unwrap();
    let message = refresh_message(&NONCE);
    let mut signature = vec![0u8; key.public_modulus_len()];
    key.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        &message,
        &mut signature,
    )
    .unwrap();
    assert_eq!(
        verify_refresh_signature(spki.as_ref(), &NONCE, &signature),
        Ok(())
    );
    signature[10] ^= 1;
    assert_eq!(
        verify_refresh_signature(spki.as_ref(), &NONCE, &signature),
        Err(Error::SignatureInvalid)
    );
}

#[test]
fn refresh_with_garbage_key_rejected() {
    let error = verify_refresh_signature(b"garbage", &NONCE, &[0u8; 70]).unwrap_err();
    assert_eq!(error.reason(), "unsupported_credential_key");
}
