//! Avow's own device key: the fallback for devices with no usable platform attestation.
//!
//! The SDK creates a P-256 key pair for the install (in the Android Keystore or the iOS
//! Keychain when it can) and registers it by signing the server's nonce together with a
//! measurement of the app that the SDK takes on the device. Nothing but the app vouches for the
//! measurement, so the verdict's trust level is [`TrustLevel::Software`]: a device owner who
//! controls the app process can report anything. Policy decides what such a verdict is worth.
//!
//! Messages are domain-separated so that a registration signature can never pass as a refresh
//! signature or the reverse:
//!
//! ```text
//! registration: "avow-device-key-registration-v1" 0x00 ‖ nonce ‖ SHA-256(measurement bytes)
//! refresh:      "avow-key-refresh-v1" 0x00 ‖ nonce
//! ```
//!
//! Signatures are ECDSA P-256 with SHA-256, DER-encoded, as Android Keystore and iOS Security
//! framework produce them. The refresh message is also what an Android key-attested install
//! signs, with its attested key.

use aws_lc_rs::signature::{self, UnparsedPublicKey};
use serde::Deserialize;

use crate::verdict::{AppIntegrity, DeviceIntegrity, Provider, RiskFlag, TrustLevel, Verdict};
use crate::{CheckOutcome, Error, sha256};

const REGISTRATION_CONTEXT: &[u8] = b"avow-device-key-registration-v1\0";
const REFRESH_CONTEXT: &[u8] = b"avow-key-refresh-v1\0";

/// Largest measurement accepted, in bytes.
pub const MAX_MEASUREMENT_LEN: usize = 4 * 1024;
/// Largest public key or signature accepted, in bytes.
const MAX_KEY_LEN: usize = 1024;

/// Returns the bytes a device signs to register its key.
pub fn registration_message(nonce: &[u8], measurement: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(REGISTRATION_CONTEXT.len() + nonce.len() + 32);
    message.extend_from_slice(REGISTRATION_CONTEXT);
    message.extend_from_slice(nonce);
    message.extend_from_slice(&sha256(measurement));
    message
}

/// Returns the bytes an install signs with its registered or attested key to refresh a token.
pub fn refresh_message(nonce: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(REFRESH_CONTEXT.len() + nonce.len());
    message.extend_from_slice(REFRESH_CONTEXT);
    message.extend_from_slice(nonce);
    message
}

/// The app measurement the SDK reports, as JSON.
///
/// Every field but `app_id` is optional: an SDK that cannot measure something leaves it out,
/// and the verdict then treats it as not established.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct Measurement {
    /// The Android package name or the iOS bundle id.
    pub app_id: String,
    /// SHA-256 of the app's signing certificate, in any base64 variant.
    #[serde(default)]
    pub signing_certificate_sha256: Option<String>,
    /// The installer package (Android) or distribution channel (iOS).
    #[serde(default)]
    pub installer: Option<String>,
    /// The app's version string.
    #[serde(default)]
    pub app_version: Option<String>,
    /// Whether the build is debuggable.
    #[serde(default)]
    pub debuggable: Option<bool>,
    /// Whether a hooking framework was found in the process.
    #[serde(default)]
    pub hooking_detected: Option<bool>,
    /// Whether root or jailbreak indicators were found.
    #[serde(default)]
    pub root_detected: Option<bool>,
    /// Whether emulator indicators were found.
    #[serde(default)]
    pub emulator_detected: Option<bool>,
}

/// The inputs for verifying one device-key registration.
#[derive(Clone, Copy, Debug)]
pub struct RegistrationInput<'a> {
    /// The device's public key, a DER SubjectPublicKeyInfo of a P-256 key.
    pub public_key: &'a [u8],
    /// The exact measurement bytes the device signed (JSON).
    pub measurement: &'a [u8],
    /// The DER ECDSA signature over [`registration_message`].
    pub signature: &'a [u8],
    /// The nonce the server issued for this registration.
    pub nonce: &'a [u8],
    /// The package name or bundle id the app is registered with.
    pub expected_app_id: &'a str,
    /// The app's allowed signing-certificate digests; empty when none are registered.
    pub certificate_digests: &'a [Vec<u8>],
    /// Installers counted as official stores (for example `com.android.vending`).
    pub official_installers: &'a [&'a str],
}

/// The checks of a device-key registration, in the order they run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RegistrationCheck {
    /// The key is a P-256 SubjectPublicKeyInfo and the measurement is JSON of the expected shape.
    Structure,
    /// The signature over the nonce and the measurement verifies with the key.
    Signature,
    /// The measured app id is the registered one.
    AppId,
    /// The measured signing certificate is one of the registered digests, when any are.
    SigningCertificate,
}

impl RegistrationCheck {
    /// Every check, in the order they run.
    pub const ALL: [Self; 4] = [
        Self::Structure,
        Self::Signature,
        Self::AppId,
        Self::SigningCertificate,
    ];

    /// Returns the snake_case name of the check.
    pub fn name(self) -> &'static str {
        match self {
            Self::Structure => "structure",
            Self::Signature => "signature",
            Self::AppId => "app_id",
            Self::SigningCertificate => "signing_certificate",
        }
    }

    /// Returns a one-line description of what the check requires.
    pub fn description(self) -> &'static str {
        match self {
            Self::Structure => "P-256 public key and a JSON measurement",
            Self::Signature => "ECDSA signature over the nonce and SHA-256(measurement)",
            Self::AppId => "measured app id = registered app id",
            Self::SigningCertificate => "measured signing certificate in the registered set",
        }
    }
}

/// A registration that passed every check. Only this crate constructs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedDeviceKey {
    public_key: Vec<u8>,
    measurement: Measurement,
    verdict: Verdict,
}

impl VerifiedDeviceKey {
    /// Returns the registered public key (DER SubjectPublicKeyInfo).
    pub fn public_key(&self) -> &[u8] {
        &self.public_key
    }

    /// Returns the key id Avow stores the install under: SHA-256 of the public key DER.
    pub fn key_id(&self) -> [u8; 32] {
        sha256(&self.public_key)
    }

    /// Returns the measurement the device reported.
    pub fn measurement(&self) -> &Measurement {
        &self.measurement
    }

    /// Returns the common verdict.
    pub fn verdict(&self) -> &Verdict {
        &self.verdict
    }
}

/// The outcome of every check of one registration.
pub type RegistrationReport = crate::CheckReport<RegistrationCheck, VerifiedDeviceKey>;

/// Verifies a device-key registration and returns the key with its verdict.
///
/// # Errors
///
/// The [`Error`] of the first failed [`RegistrationCheck`].
pub fn verify_registration(input: &RegistrationInput<'_>) -> Result<VerifiedDeviceKey, Error> {
    verify_registration_report(input).into_result()
}

/// Runs every check of a registration and reports each outcome.
pub fn verify_registration_report(input: &RegistrationInput<'_>) -> RegistrationReport {
    let decoded = p256_point_from_spki(input.public_key).and_then(|point| {
        if input.measurement.len() > MAX_MEASUREMENT_LEN {
            return Err(Error::InputTooLarge {
                what: "measurement",
                len: input.measurement.len(),
                max: MAX_MEASUREMENT_LEN,
            });
        }
        let measurement: Measurement =
            serde_json::from_slice(input.measurement).map_err(|_| Error::MalformedMeasurement)?;
        Ok((point, measurement))
    });
    let (point, measurement) = match decoded {
        Ok(decoded) => decoded,
        Err(error) => {
            return RegistrationReport::undecodable(
                &RegistrationCheck::ALL,
                error,
                "device key registration",
            );
        }
    };

    let message = registration_message(input.nonce, input.measurement);
    let signature = UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_ASN1, &point)
        .verify(&message, input.signature)
        .map_err(|_| Error::SignatureInvalid);
    let app_id = if measurement.app_id == input.expected_app_id {
        Ok(())
    } else {
        Err(Error::PackageNameMismatch {
            field: "app_id",
            expected: input.expected_app_id.to_owned(),
            received: measurement.app_id.clone(),
        })
    };
    let measured_digest = measurement
        .signing_certificate_sha256
        .as_deref()
        .and_then(|digest| crate::encoding::decode_base64_any(digest).ok());
    let certificate = match (&measured_digest, input.certificate_digests.is_empty()) {
        (_, true) => Ok(()),
        (Some(digest), false) if input.certificate_digests.contains(digest) => Ok(()),
        _ => Err(Error::CertificateDigestMismatch),
    };

    let outcomes: Vec<(RegistrationCheck, CheckOutcome)> = [
        (RegistrationCheck::Structure, Ok(())),
        (RegistrationCheck::Signature, signature),
        (RegistrationCheck::AppId, app_id),
        (RegistrationCheck::SigningCertificate, certificate),
    ]
    .into_iter()
    .map(|(check, result)| {
        let outcome = match result {
            Ok(()) => CheckOutcome::Passed,
            Err(error) => CheckOutcome::Failed(error),
        };
        (check, outcome)
    })
    .collect();
    let all_passed = outcomes
        .iter()
        .all(|(_, outcome)| *outcome == CheckOutcome::Passed);
    let verified = all_passed.then(|| {
        let app_integrity = if input.certificate_digests.is_empty() {
            AppIntegrity::Unevaluated
        } else {
            AppIntegrity::Recognized
        };
        let verdict = measurement_verdict(&measurement, app_integrity, input.official_installers);
        VerifiedDeviceKey {
            public_key: input.public_key.to_vec(),
            measurement,
            verdict,
        }
    });
    RegistrationReport::new(outcomes, verified, "device key registration")
}

/// Maps a measurement to the common verdict.
fn measurement_verdict(
    measurement: &Measurement,
    app_integrity: AppIntegrity,
    official_installers: &[&str],
) -> Verdict {
    let mut flags = Vec::new();
    if measurement.debuggable == Some(true) {
        flags.push(RiskFlag::Debuggable);
    }
    if measurement.hooking_detected == Some(true) {
        flags.push(RiskFlag::HookingDetected);
    }
    if measurement.root_detected == Some(true) {
        flags.push(RiskFlag::Rooted);
    }
    if measurement.emulator_detected == Some(true) {
        flags.push(RiskFlag::Virtual);
    }
    let official = measurement
        .installer
        .as_deref()
        .is_some_and(|installer| official_installers.contains(&installer));
    if !official {
        flags.push(RiskFlag::UnknownInstaller);
    }
    let compromised = [
        measurement.hooking_detected,
        measurement.root_detected,
        measurement.emulator_detected,
    ]
    .contains(&Some(true));
    // A self-measured clean device is at most Basic: the measurement cannot prove more.
    let device_integrity = if compromised {
        DeviceIntegrity::None
    } else {
        DeviceIntegrity::Basic
    };
    Verdict::new(
        Provider::AvowDeviceKey,
        TrustLevel::Software,
        app_integrity,
        device_integrity,
        flags,
        None,
    )
}

/// Verifies a refresh signature: ECDSA P-256 SHA-256 (DER) or RSA PKCS#1 v1.5 SHA-256 over
/// [`refresh_message`], with the install's key given as a DER SubjectPublicKeyInfo.
///
/// # Errors
///
/// [`Error::UnsupportedCredentialKey`] for a key that is neither, [`Error::SignatureInvalid`]
/// when the signature does not verify.
pub fn verify_refresh_signature(
    public_key: &[u8],
    nonce: &[u8],
    signature: &[u8],
) -> Result<(), Error> {
    if signature.len() > MAX_KEY_LEN {
        return Err(Error::InputTooLarge {
            what: "signature",
            len: signature.len(),
            max: MAX_KEY_LEN,
        });
    }
    // One implementation checks signatures by install keys, whichever provider registered
    // them; its errors are renamed to the refresh vocabulary the server reports.
    crate::android_key::verify_key_signature(public_key, &refresh_message(nonce), signature)
        .map_err(|error| match error {
            Error::UnsupportedPublicKey { detail } => Error::UnsupportedCredentialKey { detail },
            Error::KeySignatureInvalid => Error::SignatureInvalid,
            other => other,
        })
}

/// Extracts the uncompressed point of a P-256 SubjectPublicKeyInfo.
pub(crate) fn p256_point_from_spki(spki: &[u8]) -> Result<[u8; 65], Error> {
    use x509_parser::prelude::FromDer as _;
    let unsupported = Error::UnsupportedCredentialKey {
        detail: "not a DER SubjectPublicKeyInfo of an EC P-256 key",
    };
    if spki.len() > MAX_KEY_LEN {
        return Err(unsupported);
    }
    let (rest, parsed) =
        x509_parser::x509::SubjectPublicKeyInfo::from_der(spki).map_err(|_| unsupported.clone())?;
    let is_p256 = parsed.algorithm.algorithm
        == x509_parser::oid_registry::OID_KEY_TYPE_EC_PUBLIC_KEY
        && parsed
            .algorithm
            .parameters
            .as_ref()
            .and_then(|parameters| parameters.as_oid().ok())
            == Some(x509_parser::oid_registry::OID_EC_P256);
    if !rest.is_empty() || !is_p256 {
        return Err(unsupported);
    }
    let point = parsed.subject_public_key.data.as_ref();
    match point {
        [0x04, ..] => <[u8; 65]>::try_from(point).map_err(|_| unsupported),
        _ => Err(unsupported),
    }
}

#[cfg(test)]
mod tests;
