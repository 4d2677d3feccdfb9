//! Android key attestation: chains from `avow-testgen` with one mutation per check, the verdict
//! mapping, signatures by the attested key, and real public chains when the vectors folder has
//! them.
//!
//! Real chains are read from `android-key/vectors.json` in the vectors folder
//! (`AVOW_VECTORS_DIR`, else `../shared/vectors` next to the repository). Each entry names a
//! PEM chain file beside it and gives `nonce_hex`, `package`, `signature_digest_hex`,
//! `valid_at` (RFC 3339), `expected` (`valid` or a reason code) and, for valid ones,
//! `device_integrity`. The tests print `skipped: …` when the file is absent.

use std::path::PathBuf;
use std::time::Duration;

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256, RsaKeyPair};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject as _;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use avow_attest::android_key::{
    AndroidKeyCheck, AndroidKeyInput, CertificateDigests, CheckOutcome, Revocation, Roots,
    SecurityLevel, StatusList, VerifiedAndroidKey, VerifiedBootState, verify_android_key,
    verify_android_key_report, verify_key_signature,
};
use avow_attest::verdict::{AppIntegrity, DeviceIntegrity, Provider, RiskFlag, TrustLevel};
use avow_attest::{Error, UnixTime};
use avow_testgen::android_key::{
    AndroidDeviceKey, AndroidKeyChain, AndroidKeyMutation, AndroidKeyPki, AndroidKeySpec, ChainEnd,
    RootKeyType, StatusListEntry, status_list_json,
};

const PACKAGE: &str = "com.example.app";

/// The SHA-256 digest of the generated app's signing certificate.
const SIGNING_DIGEST: [u8; 32] = [0x11; 32];

/// A 32-byte server nonce.
const NONCE: [u8; 32] = [0x7e; 32];

fn at(rfc3339: &str) -> UnixTime {
    let time = OffsetDateTime::parse(rfc3339, &Rfc3339).unwrap();
    UnixTime::since_unix_epoch(Duration::from_secs(
        u64::try_from(time.unix_timestamp()).unwrap(),
    ))
}

/// The verification time of generated chains: inside the CA validity (2020 to 2049) and the
/// default leaf validity (1970 to 2048).
fn verification_time() -> UnixTime {
    at("2025-06-01T00:00:00Z")
}

fn spec() -> AndroidKeySpec {
    AndroidKeySpec::new(NONCE.to_vec(), PACKAGE, SIGNING_DIGEST)
}

/// A generated chain with the inputs that verify it. Tests change one field to break one input.
struct Generated {
    pki: AndroidKeyPki,
    device: AndroidDeviceKey,
    chain: AndroidKeyChain,
    nonce: Vec<u8>,
    package: String,
    digests: Vec<[u8; 32]>,
    roots: Roots,
    time: UnixTime,
}

impl Generated {
    fn new(spec: &AndroidKeySpec) -> Self {
        Self::with_root(spec, RootKeyType::EcP384)
    }

    fn with_root(spec: &AndroidKeySpec, root_key_type: RootKeyType) -> Self {
        let pki = AndroidKeyPki::new(root_key_type);
        let device = AndroidDeviceKey::new();
        let chain = pki.chain(&device, spec);
        let mut roots = Roots::empty();
        roots.add_der(pki.root_der()).unwrap();
        Self {
            pki,
            device,
            chain,
            nonce: NONCE.to_vec(),
            package: PACKAGE.to_owned(),
            digests: vec![SIGNING_DIGEST],
            roots,
            time: verification_time(),
        }
    }

    fn mutated(mutation: AndroidKeyMutation) -> Self {
        Self::new(&spec().with_mutation(mutation))
    }

    fn input<'a>(&'a self, revocation: Revocation<'a>) -> AndroidKeyInput<'a> {
        AndroidKeyInput {
            certificate_chain: &self.chain.certificates,
            expected_nonce: &self.nonce,
            package_name: &self.package,
            signing_certificates: CertificateDigests::Registered(&self.digests),
            revocation,
        }
    }

    fn verify(&self) -> Result<VerifiedAndroidKey, Error> {
        verify_android_key(&self.input(Revocation::NotChecked), &self.roots, self.time)
    }

    fn verify_with_status_list(&self, list: &StatusList) -> Result<VerifiedAndroidKey, Error> {
        verify_android_key(
            &self.input(Revocation::StatusList(list)),
            &self.roots,
            self.time,
        )
    }
}

// === valid chains ===

#[test]
fn ec_root_chain_verifies() {
    let generated = Generated::new(&spec());
    assert_eq!(generated.chain.certificates.len(), 4);
    let verified = generated.verify().unwrap();
    assert_eq!(
        verified.key_description().attestation_challenge,
        NONCE.to_vec()
    );
    assert_eq!(
        verified.key_description().attestation_security_level,
        SecurityLevel::TrustedEnvironment
    );
}

#[test]
fn rsa_root_chain_verifies() {
    let generated = Generated::with_root(&spec(), RootKeyType::Rsa2048);
    generated.verify().unwrap();
}

/// Devices using Remote Key Provisioning return chains that end at an intermediate; verifiers
/// that take the last certificate for the root rejected them.
#[test]
fn rkp_chain_without_root_accepted() {
    let mut without_root = spec();
    without_root.chain_end = ChainEnd::Intermediate;
    for root_key_type in [RootKeyType::EcP384, RootKeyType::Rsa2048] {
        let generated = Generated::with_root(&without_root, root_key_type);
        assert_eq!(generated.chain.certificates.len(), 3);
        generated.verify().unwrap();
    }
}

#[test]
fn report_lists_every_check() {
    let generated = Generated::new(&spec());
    let report = verify_android_key_report(
        &generated.input(Revocation::NotChecked),
        &generated.roots,
        generated.time,
    );
    let checks: Vec<AndroidKeyCheck> = report.outcomes().iter().map(|(check, _)| *check).collect();
    assert_eq!(checks, AndroidKeyCheck::ALL);
    for (check, outcome) in report.outcomes() {
        let expected = match check {
            AndroidKeyCheck::Revocation => CheckOutcome::Skipped,
            _ => CheckOutcome::Passed,
        };
        assert_eq!(*outcome, expected, "{}", check.name());
    }
    assert!(report.into_result().is_ok());
}

// === one mutation per check ===

#[test]
fn wrong_challenge_rejected() {
    let generated = Generated::mutated(AndroidKeyMutation::Challenge(vec![0x01; 32]));
    assert_eq!(
        generated.verify().unwrap_err(),
        Error::NonceMismatch {
            field: "attestationChallenge"
        }
    );
}

#[test]
fn expected_nonce_of_other_request_rejected() {
    let mut generated = Generated::new(&spec());
    generated.nonce = vec![0x7e; 31];
    assert_eq!(
        generated.verify().unwrap_err(),
        Error::NonceMismatch {
            field: "attestationChallenge"
        }
    );
}

#[test]
fn wrong_package_rejected() {
    let generated = Generated::mutated(AndroidKeyMutation::PackageName(
        "com.example.other".to_owned(),
    ));
    assert_eq!(
        generated.verify().unwrap_err(),
        Error::PackageNameMismatch {
            field: "attestationApplicationId.package_infos",
            expected: PACKAGE.to_owned(),
            received: "com.example.other".to_owned(),
        }
    );
}

#[test]
fn wrong_signing_digest_rejected() {
    let generated = Generated::mutated(AndroidKeyMutation::SignatureDigest([0x22; 32]));
    assert_eq!(
        generated.verify().unwrap_err(),
        Error::CertificateDigestMismatch
    );
}

#[test]
fn empty_digest_list_accepts_no_app() {
    let mut generated = Generated::new(&spec());
    generated.digests.clear();
    assert_eq!(
        generated.verify().unwrap_err(),
        Error::CertificateDigestMismatch
    );
}

#[test]
fn missing_extension_rejected() {
    let generated = Generated::mutated(AndroidKeyMutation::MissingExtension);
    assert_eq!(
        generated.verify().unwrap_err(),
        Error::AttestationExtensionMissing
    );
}

#[test]
fn missing_extension_skips_value_checks() {
    let generated = Generated::mutated(AndroidKeyMutation::MissingExtension);
    let report = verify_android_key_report(
        &generated.input(Revocation::NotChecked),
        &generated.roots,
        generated.time,
    );
    for (check, outcome) in report.outcomes() {
        let expected = match check {
            AndroidKeyCheck::AttestationExtension => {
                CheckOutcome::Failed(Error::AttestationExtensionMissing)
            }
            AndroidKeyCheck::Revocation
            | AndroidKeyCheck::Challenge
            | AndroidKeyCheck::PackageName
            | AndroidKeyCheck::SigningCertificate => CheckOutcome::Skipped,
            _ => CheckOutcome::Passed,
        };
        assert_eq!(*outcome, expected, "{}", check.name());
    }
}

#[test]
fn duplicated_extension_rejected() {
    let generated = Generated::mutated(AndroidKeyMutation::DuplicatedExtension);
    assert_eq!(
        generated.verify().unwrap_err(),
        Error::AttestationExtensionDuplicated
    );
}

#[test]
fn extension_in_intermediate_rejected() {
    let generated = Generated::mutated(AndroidKeyMutation::ExtensionInIntermediate);
    assert_eq!(
        generated.verify().unwrap_err(),
        Error::AttestationExtensionInIntermediate { position: 1 }
    );
}

#[test]
fn ber_boolean_in_extension_rejected() {
    let generated = Generated::mutated(AndroidKeyMutation::DeviceLockedNotDer);
    assert_eq!(
        generated.verify().unwrap_err(),
        Error::AttestationExtensionMalformed {
            detail: "BOOLEAN is not one byte of 0x00 or 0xFF"
        }
    );
}

#[test]
fn trailing_extension_bytes_rejected() {
    let generated = Generated::mutated(AndroidKeyMutation::TrailingExtensionBytes);
    assert_eq!(
        generated.verify().unwrap_err(),
        Error::TrailingBytes {
            what: "attestation extension",
            len: 1
        }
    );
}

#[test]
fn expired_leaf_rejected() {
    let mut expired = spec();
    expired.leaf_not_after = rcgen_date(2025, 1, 1);
    let generated = Generated::new(&expired);
    let Err(Error::CertificateExpired { which, .. }) = generated.verify() else {
        panic!("expected CertificateExpired");
    };
    assert_eq!(which, "leaf");
}

#[test]
fn time_before_ca_validity_rejected() {
    let mut generated = Generated::new(&spec());
    generated.time = at("2019-06-01T00:00:00Z");
    let Err(Error::CertificateNotYetValid { which, .. }) = generated.verify() else {
        panic!("expected CertificateNotYetValid");
    };
    assert_eq!(which, "intermediate or root");
}

#[test]
fn chain_to_other_root_rejected() {
    let generated = Generated::mutated(AndroidKeyMutation::LeafSignedByOtherPki);
    assert_eq!(
        generated.verify().unwrap_err(),
        Error::CertificateSignatureInvalid
    );
}

#[test]
fn chain_without_configured_root_rejected() {
    let mut generated = Generated::new(&spec());
    generated.roots = Roots::google_hardware_attestation();
    assert_eq!(generated.verify().unwrap_err(), Error::UnknownIssuer);
}

#[test]
fn revoked_attestation_certificate_rejected() {
    let generated = Generated::new(&spec());
    let serial = generated.chain.attestation_serial_hex.clone();
    let json = status_list_json(&[StatusListEntry {
        serial_hex: serial.clone(),
        status: "REVOKED".to_owned(),
        reason: "KEY_COMPROMISE".to_owned(),
    }]);
    let list = StatusList::parse(&json).unwrap();
    assert_eq!(
        generated.verify_with_status_list(&list).unwrap_err(),
        Error::CertificateRevoked {
            serial,
            status: "REVOKED".to_owned(),
            reason: Some("KEY_COMPROMISE".to_owned()),
        }
    );
}

#[test]
fn suspended_serial_with_leading_zeros_rejected() {
    let generated = Generated::new(&spec());
    let serial = generated.chain.attestation_serial_hex.clone();
    let json = format!(
        r#"{{"entries": {{"00{}": {{"status": "SUSPENDED"}}}}}}"#,
        serial.to_uppercase()
    );
    let list = StatusList::parse(json.as_bytes()).unwrap();
    assert_eq!(
        generated.verify_with_status_list(&list).unwrap_err(),
        Error::CertificateRevoked {
            serial,
            status: "SUSPENDED".to_owned(),
            reason: None,
        }
    );
}

#[test]
fn unlisted_chain_passes_revocation() {
    let generated = Generated::new(&spec());
    let json = status_list_json(&[StatusListEntry {
        serial_hex: "c35747a084470c3135aeefe2b8d40cd6".to_owned(),
        status: "REVOKED".to_owned(),
        reason: "KEY_COMPROMISE".to_owned(),
    }]);
    let list = StatusList::parse(&json).unwrap();
    generated.verify_with_status_list(&list).unwrap();
}

// === structure ===

#[test]
fn empty_chain_rejected() {
    let mut generated = Generated::new(&spec());
    generated.chain.certificates.clear();
    assert_eq!(
        generated.verify().unwrap_err(),
        Error::MissingField {
            what: "certificate chain"
        }
    );
}

#[test]
fn overlong_chain_rejected() {
    let mut generated = Generated::new(&spec());
    let intermediate = generated.pki.intermediate_der().to_vec();
    generated.chain.certificates.resize(9, intermediate);
    assert_eq!(
        generated.verify().unwrap_err(),
        Error::CertificateChainLength {
            len: 9,
            expected: 8
        }
    );
}

#[test]
fn garbage_leaf_rejected() {
    let mut generated = Generated::new(&spec());
    generated.chain.certificates[0] = b"not a certificate".to_vec();
    assert_eq!(
        generated.verify().unwrap_err(),
        Error::MalformedCertificate { which: "leaf" }
    );
}

#[test]
fn trailing_certificate_bytes_rejected() {
    let mut generated = Generated::new(&spec());
    generated.chain.certificates[1].push(0x00);
    assert_eq!(
        generated.verify().unwrap_err(),
        Error::TrailingBytes {
            what: "certificate",
            len: 1
        }
    );
}

#[test]
fn oversized_certificate_rejected() {
    let mut generated = Generated::new(&spec());
    generated.chain.certificates[1] = vec![0x30; 16 * 1024 + 1];
    assert_eq!(
        generated.verify().unwrap_err(),
        Error::InputTooLarge {
            what: "certificate",
            len: 16 * 1024 + 1,
            max: 16 * 1024
        }
    );
}

// === verdict ===

fn verdict_of(spec: &AndroidKeySpec) -> avow_attest::verdict::Verdict {
    Generated::new(spec).verify().unwrap().verdict()
}

#[test]
fn locked_verified_tee_is_strong() {
    let verdict = verdict_of(&spec());
    assert_eq!(verdict.provider, Provider::AndroidKeyAttestation);
    assert_eq!(verdict.trust, TrustLevel::Hardware);
    assert_eq!(verdict.app_integrity, AppIntegrity::Recognized);
    assert_eq!(verdict.device_integrity, DeviceIntegrity::Strong);
    assert!(verdict.risk_flags.is_empty());
    assert_eq!(verdict.evidence_time_ms, Some(1_748_649_600_000));
}

#[test]
fn strongbox_is_hardware() {
    let mut strongbox = spec();
    strongbox.security_level = avow_testgen::android_key::SecurityLevel::StrongBox;
    let verified = Generated::new(&strongbox).verify().unwrap();
    assert_eq!(
        verified.key_description().attestation_security_level,
        SecurityLevel::StrongBox
    );
    assert_eq!(verified.verdict().trust, TrustLevel::Hardware);
    assert_eq!(verified.verdict().device_integrity, DeviceIntegrity::Strong);
}

#[test]
fn software_key_has_no_device_integrity() {
    let mut software = spec();
    software.security_level = avow_testgen::android_key::SecurityLevel::Software;
    let verdict = verdict_of(&software);
    assert_eq!(verdict.trust, TrustLevel::Software);
    assert_eq!(verdict.device_integrity, DeviceIntegrity::None);
    assert!(verdict.risk_flags.is_empty());
}

#[test]
fn unlocked_bootloader_is_basic_and_flagged() {
    let mut unlocked = spec();
    unlocked.device_locked = false;
    unlocked.verified_boot_state = avow_testgen::android_key::VerifiedBootState::Unverified;
    let verified = Generated::new(&unlocked).verify().unwrap();
    let root = verified
        .key_description()
        .hardware_enforced
        .root_of_trust
        .clone()
        .unwrap();
    assert!(!root.device_locked);
    assert_eq!(root.verified_boot_state, VerifiedBootState::Unverified);
    let verdict = verified.verdict();
    assert_eq!(verdict.trust, TrustLevel::Hardware);
    assert_eq!(verdict.device_integrity, DeviceIntegrity::Basic);
    assert_eq!(verdict.risk_flags, vec![RiskFlag::BootloaderUnlocked]);
}

#[test]
fn self_signed_boot_is_basic_and_flagged() {
    let mut custom_os = spec();
    custom_os.verified_boot_state = avow_testgen::android_key::VerifiedBootState::SelfSigned;
    let verdict = verdict_of(&custom_os);
    assert_eq!(verdict.device_integrity, DeviceIntegrity::Basic);
    assert_eq!(verdict.risk_flags, vec![RiskFlag::BootloaderUnlocked]);
}

#[test]
fn unchecked_digests_leave_app_unevaluated() {
    let generated = Generated::mutated(AndroidKeyMutation::SignatureDigest([0x22; 32]));
    let input = AndroidKeyInput {
        signing_certificates: CertificateDigests::NotCompared,
        ..generated.input(Revocation::NotChecked)
    };
    let report = verify_android_key_report(&input, &generated.roots, generated.time);
    let skipped = report.outcomes().iter().any(|(check, outcome)| {
        *check == AndroidKeyCheck::SigningCertificate && *outcome == CheckOutcome::Skipped
    });
    assert!(skipped);
    let verdict = report.into_result().unwrap().verdict();
    assert_eq!(verdict.app_integrity, AppIntegrity::Unevaluated);
}

#[test]
fn authorization_lists_decode() {
    let verified = Generated::new(&spec()).verify().unwrap();
    let description = verified.key_description();
    assert_eq!(description.attestation_version, 300);
    assert_eq!(description.keymint_version, 300);
    let hardware = &description.hardware_enforced;
    assert_eq!(hardware.purposes, vec![2]);
    assert_eq!(hardware.algorithm, Some(3));
    assert_eq!(hardware.key_size, Some(256));
    assert_eq!(hardware.ec_curve, Some(1));
    assert_eq!(hardware.os_version, Some(150_000));
    assert_eq!(hardware.os_patch_level, Some(202_505));
    let application = description.attestation_application_id().unwrap();
    assert_eq!(application.package_infos.len(), 1);
    assert_eq!(
        application.package_infos[0].package_name,
        PACKAGE.as_bytes()
    );
    assert_eq!(application.package_infos[0].version, 42);
    assert_eq!(application.signature_digests, vec![SIGNING_DIGEST.to_vec()]);
}

// === attested key and signatures ===

#[test]
fn attested_key_is_device_key() {
    let generated = Generated::new(&spec());
    let verified = generated.verify().unwrap();
    assert_eq!(
        verified.public_key_p256().unwrap().to_vec(),
        generated.device.public_key_point()
    );
    assert_eq!(
        verified.public_key_spki(),
        generated.device.public_key_spki()
    );
}

#[test]
fn refresh_signature_verifies_with_attested_key() {
    let generated = Generated::new(&spec());
    let verified = generated.verify().unwrap();
    let message = b"fresh server nonce";
    let signature = generated.device.sign(message);
    verify_key_signature(verified.public_key_spki(), message, &signature).unwrap();
    assert_eq!(
        verify_key_signature(verified.public_key_spki(), b"other nonce", &signature),
        Err(Error::KeySignatureInvalid)
    );
}

#[test]
fn signature_by_other_key_rejected() {
    let generated = Generated::new(&spec());
    let verified = generated.verify().unwrap();
    let signature = AndroidDeviceKey::new().sign(b"message");
    assert_eq!(
        verify_key_signature(verified.public_key_spki(), b"message", &signature),
        Err(Error::KeySignatureInvalid)
    );
}

#[test]
fn rsa_pkcs1_signature_verifies() {
    let key_pair = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
    let spki = key_pair.public_key().as_der().unwrap();
    let message = b"fresh server nonce";
    let mut signature = vec![0u8; key_pair.public_modulus_len()];
    key_pair
        .sign(
            &RSA_PKCS1_SHA256,
            &aws_lc_rs::rand::SystemRandom::new(),
            message,
            &mut signature,
        )
        .unwrap();
    verify_key_signature(spki.as_ref(), message, &signature).unwrap();
    assert_eq!(
        verify_key_signature(spki.as_ref(), b"other", &signature),
        Err(Error::KeySignatureInvalid)
    );
}

#[test]
fn p384_key_unsupported() {
    let pki = AndroidKeyPki::new(RootKeyType::EcP384);
    let (_, root) = x509_parser::parse_x509_certificate(pki.root_der()).unwrap();
    let Err(Error::UnsupportedPublicKey { .. }) =
        verify_key_signature(root.public_key().raw, b"message", &[0x30, 0x00])
    else {
        panic!("expected UnsupportedPublicKey");
    };
}

#[test]
fn garbage_key_unsupported() {
    let Err(Error::UnsupportedPublicKey { .. }) =
        verify_key_signature(b"not a key", b"message", &[0x30, 0x00])
    else {
        panic!("expected UnsupportedPublicKey");
    };
}

fn rcgen_date(year: i32, month: u8, day: u8) -> OffsetDateTime {
    time::Date::from_calendar_date(year, time::Month::try_from(month).unwrap(), day)
        .unwrap()
        .midnight()
        .assume_utc()
}

// === real chains ===

fn vectors_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("AVOW_VECTORS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors"),
    };
    let manifest = dir.join("android-key").join("vectors.json");
    if manifest.is_file() {
        Some(dir.join("android-key"))
    } else {
        eprintln!(
            "skipped: Android key vectors not found at {} (set AVOW_VECTORS_DIR to a folder with \
             android-key/vectors.json)",
            manifest.display()
        );
        None
    }
}

/// One real chain with everything needed to verify it.
struct RealChain {
    name: String,
    certificates: Vec<Vec<u8>>,
    nonce: Vec<u8>,
    package: String,
    digest: [u8; 32],
    valid_at: UnixTime,
    expected: String,
    device_integrity: Option<String>,
}

impl RealChain {
    fn verify(&self) -> Result<VerifiedAndroidKey, Error> {
        self.verify_with(
            &self.certificates,
            &self.nonce,
            &self.package,
            self.valid_at,
        )
    }

    fn verify_with(
        &self,
        certificates: &[Vec<u8>],
        nonce: &[u8],
        package: &str,
        time: UnixTime,
    ) -> Result<VerifiedAndroidKey, Error> {
        let digests = [self.digest];
        let input = AndroidKeyInput {
            certificate_chain: certificates,
            expected_nonce: nonce,
            package_name: package,
            signing_certificates: CertificateDigests::Registered(&digests),
            revocation: Revocation::NotChecked,
        };
        verify_android_key(&input, &Roots::google_hardware_attestation(), time)
    }
}

fn real_chains() -> Vec<RealChain> {
    let Some(dir) = vectors_dir() else {
        return Vec::new();
    };
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("vectors.json")).unwrap()).unwrap();
    let text = |entry: &Value, key: &str| {
        entry[key]
            .as_str()
            .unwrap_or_else(|| panic!("{key} missing"))
            .to_owned()
    };
    manifest
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            let pem = std::fs::read(dir.join(text(entry, "chain"))).unwrap();
            let certificates = CertificateDer::pem_slice_iter(&pem)
                .map(|certificate| certificate.unwrap().to_vec())
                .collect();
            RealChain {
                name: text(entry, "name"),
                certificates,
                nonce: hex::decode(text(entry, "nonce_hex")).unwrap(),
                package: text(entry, "package"),
                digest: hex::decode(text(entry, "signature_digest_hex"))
                    .unwrap()
                    .try_into()
                    .unwrap(),
                valid_at: at(&text(entry, "valid_at")),
                expected: text(entry, "expected"),
                device_integrity: entry["device_integrity"].as_str().map(str::to_owned),
            }
        })
        .collect()
}

#[test]
fn real_chains_verify_as_expected() {
    for chain in real_chains() {
        match chain.verify() {
            Ok(verified) => {
                assert_eq!(chain.expected, "valid", "{}", chain.name);
                let verdict = verified.verdict();
                assert_eq!(verdict.trust, TrustLevel::Hardware, "{}", chain.name);
                let integrity = match verdict.device_integrity {
                    DeviceIntegrity::Strong => "strong",
                    DeviceIntegrity::Device => "device",
                    DeviceIntegrity::Basic => "basic",
                    DeviceIntegrity::None => "none",
                };
                assert_eq!(
                    Some(integrity),
                    chain.device_integrity.as_deref(),
                    "{}",
                    chain.name
                );
            }
            Err(error) => assert_eq!(error.reason(), chain.expected, "{}", chain.name),
        }
    }
}

#[test]
fn real_chains_rejected_when_one_input_changes() {
    for chain in real_chains()
        .iter()
        .filter(|chain| chain.expected == "valid")
    {
        let name = &chain.name;
        let mut other_nonce = chain.nonce.clone();
        other_nonce[0] ^= 1;
        assert_eq!(
            chain
                .verify_with(
                    &chain.certificates,
                    &other_nonce,
                    &chain.package,
                    chain.valid_at
                )
                .unwrap_err()
                .reason(),
            "nonce_mismatch",
            "{name}"
        );
        assert_eq!(
            chain
                .verify_with(
                    &chain.certificates,
                    &chain.nonce,
                    "com.example.other",
                    chain.valid_at
                )
                .unwrap_err()
                .reason(),
            "package_name_mismatch",
            "{name}"
        );
        let years_later = at("2049-01-01T00:00:00Z");
        assert_eq!(
            chain
                .verify_with(
                    &chain.certificates,
                    &chain.nonce,
                    &chain.package,
                    years_later
                )
                .unwrap_err()
                .reason(),
            "certificate_expired",
            "{name}"
        );

        let pki = AndroidKeyPki::new(RootKeyType::EcP384);
        let mut other_root = Roots::empty();
        other_root.add_der(pki.root_der()).unwrap();
        let digests = [chain.digest];
        let input = AndroidKeyInput {
            certificate_chain: &chain.certificates,
            expected_nonce: &chain.nonce,
            package_name: &chain.package,
            signing_certificates: CertificateDigests::Registered(&digests),
            revocation: Revocation::NotChecked,
        };
        assert_eq!(
            verify_android_key(&input, &other_root, chain.valid_at)
                .unwrap_err()
                .reason(),
            "unknown_issuer",
            "{name}"
        );

        let intermediate_serial = {
            let (_, certificate) =
                x509_parser::parse_x509_certificate(&chain.certificates[1]).unwrap();
            avow_attest::android_key::serial_hex(certificate.raw_serial())
        };
        let json = status_list_json(&[StatusListEntry {
            serial_hex: intermediate_serial,
            status: "REVOKED".to_owned(),
            reason: "KEY_COMPROMISE".to_owned(),
        }]);
        let list = StatusList::parse(&json).unwrap();
        let revocable = AndroidKeyInput {
            revocation: Revocation::StatusList(&list),
            ..input
        };
        assert_eq!(
            verify_android_key(
                &revocable,
                &Roots::google_hardware_attestation(),
                chain.valid_at
            )
            .unwrap_err()
            .reason(),
            "certificate_revoked",
            "{name}"
        );
    }
}

/// A real chain that ends with Google's root still verifies without it, the form RKP devices
/// send.
#[test]
fn real_chains_verify_without_their_root() {
    for chain in real_chains()
        .iter()
        .filter(|chain| chain.expected == "valid")
    {
        let mut without_root = chain.certificates.clone();
        without_root.pop();
        chain
            .verify_with(&without_root, &chain.nonce, &chain.package, chain.valid_at)
            .unwrap_or_else(|error| panic!("{}: {error}", chain.name));
    }
}
