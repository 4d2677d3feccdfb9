//! The verification procedure, its step-by-step report and the proof type it returns.

use rustls_pki_types::UnixTime;
use x509_parser::certificate::X509Certificate;
use x509_parser::oid_registry::{OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY};

use super::key_description::{self, KeyDescription};
use super::status_list::serial_hex;
use super::{AndroidKeyInput, CheckOutcome, MAX_CERTIFICATE_LEN, Revocation, Roots};
use crate::verdict::{AppIntegrity, DeviceIntegrity, Provider, RiskFlag, TrustLevel, Verdict};
use crate::x509::{ECDSA_AND_RSA_ALGORITHMS, MAX_CHAIN_LEN};
use crate::{CertificateDigests, CheckReport, Error};

/// The content octets of OID 1.3.6.1.4.1.11129.2.1.17 (11129 is 0xD6 0x79 in base 128).
const KEY_ATTESTATION_OID_CONTENT: [u8; 10] =
    [0x2b, 0x06, 0x01, 0x04, 0x01, 0xd6, 0x79, 0x02, 0x01, 0x11];

/// The checks of a key attestation chain, in the order they run.
///
/// [`Revocation`](Self::Revocation) and [`SigningCertificate`](Self::SigningCertificate) report
/// [`CheckOutcome::Skipped`] when the caller chose not to check them
/// ([`Revocation::NotChecked`], [`CertificateDigests::NotCompared`]). The checks that read the
/// extension report `Skipped` when it cannot be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AndroidKeyCheck {
    /// The chain contains 1 to 8 DER certificates, each within the size limit and parseable.
    Structure,
    /// The chain verifies up to a trusted root at the verification time.
    CertificateChain,
    /// No certificate of the chain is listed in the status list.
    Revocation,
    /// Only the leaf carries the attestation extension.
    ExtensionPlacement,
    /// The leaf carries exactly one attestation extension, a strict DER `KeyDescription`.
    AttestationExtension,
    /// `attestationChallenge` equals the server's nonce.
    Challenge,
    /// `attestationApplicationId` lists the expected package.
    PackageName,
    /// A signing certificate digest of `attestationApplicationId` is registered for the app.
    SigningCertificate,
}

impl AndroidKeyCheck {
    /// Every check, in the order they run.
    pub const ALL: [Self; 8] = [
        Self::Structure,
        Self::CertificateChain,
        Self::Revocation,
        Self::ExtensionPlacement,
        Self::AttestationExtension,
        Self::Challenge,
        Self::PackageName,
        Self::SigningCertificate,
    ];

    /// Returns the snake_case name of the check.
    pub fn name(self) -> &'static str {
        match self {
            Self::Structure => "structure",
            Self::CertificateChain => "certificate_chain",
            Self::Revocation => "revocation",
            Self::ExtensionPlacement => "extension_placement",
            Self::AttestationExtension => "attestation_extension",
            Self::Challenge => "challenge",
            Self::PackageName => "package_name",
            Self::SigningCertificate => "signing_certificate",
        }
    }

    /// Returns a one-line description of what the check requires.
    pub fn description(self) -> &'static str {
        match self {
            Self::Structure => "1 to 8 DER certificates, leaf first",
            Self::CertificateChain => "chain verifies to a trusted root at the verification time",
            Self::Revocation => "no certificate serial number is in the status list",
            Self::ExtensionPlacement => "only the leaf carries the attestation extension",
            Self::AttestationExtension => "leaf has exactly one strict DER KeyDescription",
            Self::Challenge => "attestationChallenge = server nonce",
            Self::PackageName => "attestationApplicationId lists the package",
            Self::SigningCertificate => "a signing certificate digest is registered",
        }
    }
}

/// The outcome of every check of one chain.
pub type AndroidKeyReport = CheckReport<AndroidKeyCheck, VerifiedAndroidKey>;

/// An attested key whose chain passed every check. Only this crate constructs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedAndroidKey {
    key_description: KeyDescription,
    public_key_spki: Vec<u8>,
    public_key_p256: Option<[u8; 65]>,
    app_integrity: AppIntegrity,
    certificate_not_after: u64,
}

impl VerifiedAndroidKey {
    /// The decoded attestation extension of the leaf.
    pub fn key_description(&self) -> &KeyDescription {
        &self.key_description
    }

    /// The attested public key as a DER SubjectPublicKeyInfo, the input of
    /// [`verify_key_signature`](super::verify_key_signature).
    pub fn public_key_spki(&self) -> &[u8] {
        &self.public_key_spki
    }

    /// The attested public key as an uncompressed SEC1 point, when it is an EC P-256 key.
    pub fn public_key_p256(&self) -> Option<&[u8; 65]> {
        self.public_key_p256.as_ref()
    }

    /// The leaf certificate's notAfter, Unix seconds.
    pub fn certificate_not_after(&self) -> u64 {
        self.certificate_not_after
    }

    /// Builds the common verdict.
    ///
    /// - Trust is [`TrustLevel::Hardware`] when `attestationSecurityLevel` is
    ///   TrustedEnvironment or StrongBox, else [`TrustLevel::Software`].
    /// - Device integrity is [`DeviceIntegrity::Strong`] for a hardware key on a device whose
    ///   root of trust reports "locked" and "Verified"; [`DeviceIntegrity::Basic`] for a hardware
    ///   key otherwise, flagged [`RiskFlag::BootloaderUnlocked`] when the root of trust reports
    ///   unlocked or not Verified (a hardware list without a root of trust gets `Basic` and no
    ///   flag); [`DeviceIntegrity::None`] for a software key.
    /// - App integrity is [`AppIntegrity::Recognized`] when the signing certificate was checked
    ///   and [`AppIntegrity::Unevaluated`] when it was not.
    /// - The evidence time is the key's `creationDateTime`, when present.
    pub fn verdict(&self) -> Verdict {
        let description = &self.key_description;
        let hardware = description.attestation_security_level.is_hardware();
        let mut flags = Vec::new();
        let (trust, device_integrity) = if hardware {
            let integrity = match &description.hardware_enforced.root_of_trust {
                Some(root) => {
                    let green = root.device_locked
                        && root.verified_boot_state == super::VerifiedBootState::Verified;
                    if green {
                        DeviceIntegrity::Strong
                    } else {
                        flags.push(RiskFlag::BootloaderUnlocked);
                        DeviceIntegrity::Basic
                    }
                }
                None => DeviceIntegrity::Basic,
            };
            (TrustLevel::Hardware, integrity)
        } else {
            (TrustLevel::Software, DeviceIntegrity::None)
        };
        let creation_time = description
            .software_enforced
            .creation_date_time
            .or(description.hardware_enforced.creation_date_time);
        Verdict::new(
            Provider::AndroidKeyAttestation,
            trust,
            self.app_integrity,
            device_integrity,
            flags,
            creation_time,
        )
    }
}

/// Verifies an attestation certificate chain and returns the attested key.
///
/// # Errors
///
/// The [`Error`] of the first failed [`AndroidKeyCheck`].
pub fn verify_android_key(
    input: &AndroidKeyInput<'_>,
    roots: &Roots,
    now: UnixTime,
) -> Result<VerifiedAndroidKey, Error> {
    verify_android_key_report(input, roots, now).into_result()
}

/// Runs every check of an attestation certificate chain and reports each outcome.
///
/// When the chain cannot be decoded, [`AndroidKeyCheck::Structure`] fails and every other check
/// is [`CheckOutcome::Skipped`].
pub fn verify_android_key_report(
    input: &AndroidKeyInput<'_>,
    roots: &Roots,
    now: UnixTime,
) -> AndroidKeyReport {
    let chain = match decode_chain(input.certificate_chain) {
        Ok(chain) => chain,
        Err(error) => {
            return AndroidKeyReport::undecodable(
                &AndroidKeyCheck::ALL,
                error,
                "certificate chain",
            );
        }
    };

    let mut outcomes = Vec::with_capacity(AndroidKeyCheck::ALL.len());
    let mut record = |check, outcome: CheckOutcome| outcomes.push((check, outcome));

    record(AndroidKeyCheck::Structure, CheckOutcome::Passed);
    record(
        AndroidKeyCheck::CertificateChain,
        CheckOutcome::from(check_chain(input.certificate_chain, roots, now)),
    );
    record(
        AndroidKeyCheck::Revocation,
        match input.revocation {
            Revocation::NotChecked => CheckOutcome::Skipped,
            Revocation::StatusList(list) => CheckOutcome::from(check_revocation(&chain, list)),
        },
    );
    record(
        AndroidKeyCheck::ExtensionPlacement,
        CheckOutcome::from(check_extension_placement(&chain)),
    );

    let description = chain.leaf_extension.clone();
    record(
        AndroidKeyCheck::AttestationExtension,
        CheckOutcome::from(description.as_ref().map(|_| ()).map_err(Clone::clone)),
    );
    let app_integrity = match &description {
        Ok(description) => {
            record(
                AndroidKeyCheck::Challenge,
                CheckOutcome::from(check_challenge(description, input.expected_nonce)),
            );
            record(
                AndroidKeyCheck::PackageName,
                CheckOutcome::from(check_package_name(description, input.package_name)),
            );
            match input.signing_certificates {
                CertificateDigests::Registered(digests) => {
                    record(
                        AndroidKeyCheck::SigningCertificate,
                        CheckOutcome::from(check_signing_certificate(description, digests)),
                    );
                    AppIntegrity::Recognized
                }
                CertificateDigests::NotCompared => {
                    record(AndroidKeyCheck::SigningCertificate, CheckOutcome::Skipped);
                    AppIntegrity::Unevaluated
                }
            }
        }
        Err(_) => {
            for check in [
                AndroidKeyCheck::Challenge,
                AndroidKeyCheck::PackageName,
                AndroidKeyCheck::SigningCertificate,
            ] {
                record(check, CheckOutcome::Skipped);
            }
            AppIntegrity::Unevaluated
        }
    };

    let no_failure = outcomes
        .iter()
        .all(|(_, outcome)| !matches!(outcome, CheckOutcome::Failed(_)));
    let verified = match description {
        Ok(key_description) if no_failure => Some(VerifiedAndroidKey {
            key_description,
            public_key_spki: chain.leaf_spki,
            public_key_p256: chain.leaf_p256,
            app_integrity,
            certificate_not_after: chain.leaf_not_after,
        }),
        _ => None,
    };
    AndroidKeyReport::new(outcomes, verified, "certificate chain")
}

/// The facts the checks need from the decoded certificates.
struct DecodedChain {
    /// Each certificate's serial number as the status list writes it, leaf first.
    serials: Vec<String>,
    /// Positions (0 is the leaf) of certificates after the leaf that carry the extension.
    extension_positions: Vec<usize>,
    /// The leaf's decoded extension, or why it cannot be used.
    leaf_extension: Result<KeyDescription, Error>,
    leaf_spki: Vec<u8>,
    leaf_p256: Option<[u8; 65]>,
    leaf_not_after: u64,
}

fn decode_chain(certificates: &[Vec<u8>]) -> Result<DecodedChain, Error> {
    if certificates.is_empty() {
        return Err(Error::MissingField {
            what: "certificate chain",
        });
    }
    if certificates.len() > MAX_CHAIN_LEN {
        return Err(Error::CertificateChainLength {
            len: certificates.len(),
            expected: MAX_CHAIN_LEN,
        });
    }

    let mut serials = Vec::with_capacity(certificates.len());
    let mut extension_positions = Vec::new();
    let mut leaf = None;
    for (position, der) in certificates.iter().enumerate() {
        let which = if position == 0 {
            "leaf"
        } else {
            "intermediate"
        };
        if der.len() > MAX_CERTIFICATE_LEN {
            return Err(Error::InputTooLarge {
                what: "certificate",
                len: der.len(),
                max: MAX_CERTIFICATE_LEN,
            });
        }
        let (rest, certificate) = x509_parser::parse_x509_certificate(der)
            .map_err(|_| Error::MalformedCertificate { which })?;
        if !rest.is_empty() {
            return Err(Error::TrailingBytes {
                what: "certificate",
                len: rest.len(),
            });
        }
        serials.push(serial_hex(certificate.raw_serial()));
        if position == 0 {
            leaf = Some(decode_leaf(&certificate));
        } else if attestation_extensions(&certificate).next().is_some() {
            extension_positions.push(position);
        }
    }

    let (leaf_extension, leaf_spki, leaf_p256, leaf_not_after) =
        leaf.ok_or(Error::MissingField {
            what: "certificate chain",
        })?;
    Ok(DecodedChain {
        serials,
        extension_positions,
        leaf_extension,
        leaf_spki,
        leaf_p256,
        leaf_not_after,
    })
}

type DecodedLeaf = (
    Result<KeyDescription, Error>,
    Vec<u8>,
    Option<[u8; 65]>,
    u64,
);

fn decode_leaf(certificate: &X509Certificate<'_>) -> DecodedLeaf {
    let mut extensions = attestation_extensions(certificate);
    let key_description = match (extensions.next(), extensions.next()) {
        (None, _) => Err(Error::AttestationExtensionMissing),
        (Some(_), Some(_)) => Err(Error::AttestationExtensionDuplicated),
        (Some(value), None) => key_description::parse(value),
    };

    let spki = certificate.public_key();
    let is_p256 = spki.algorithm.algorithm == OID_KEY_TYPE_EC_PUBLIC_KEY
        && spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|parameters| parameters.as_oid().ok())
            == Some(OID_EC_P256);
    let point = spki.subject_public_key.data.as_ref();
    let p256 = match point {
        [0x04, ..] if is_p256 => <[u8; 65]>::try_from(point).ok(),
        _ => None,
    };
    let not_after = u64::try_from(certificate.validity().not_after.timestamp()).unwrap_or(0);
    (key_description, spki.raw.to_vec(), p256, not_after)
}

/// Returns the values of every attestation extension of a certificate.
fn attestation_extensions<'a>(
    certificate: &'a X509Certificate<'_>,
) -> impl Iterator<Item = &'a [u8]> {
    certificate
        .iter_extensions()
        .filter(|extension| extension.oid.as_bytes() == KEY_ATTESTATION_OID_CONTENT)
        .map(|extension| extension.value)
}

/// Builds the path with rustls-webpki. Real chains from a Pixel with RKP (2023 and 2025) and a
/// factory-provisioned Samsung chain ending at the 2016 RSA root pass it unchanged, so no
/// attestation-specific path check is needed.
///
/// NOTE: webpki matches signature algorithm identifiers byte for byte. A certificate signed
/// with ecdsa-with-SHA256 whose AlgorithmIdentifier carries explicit NULL parameters fails with
/// `certificate_chain_invalid`. Google's key attestation sample repository has such a StrongBox
/// leaf (`server/examples/pem/key_RSA_StrongBox_on/cert0.pem`); no full chain of that kind was
/// available to test.
fn check_chain(certificates: &[Vec<u8>], roots: &Roots, now: UnixTime) -> Result<(), Error> {
    let Some((leaf, rest)) = certificates.split_first() else {
        return Err(Error::MissingField {
            what: "certificate chain",
        });
    };
    crate::x509::verify_chain(leaf, rest, roots, now, ECDSA_AND_RSA_ALGORITHMS, None)
}

fn check_revocation(chain: &DecodedChain, list: &super::StatusList) -> Result<(), Error> {
    for serial in &chain.serials {
        if let Some(entry) = list.entry(serial) {
            return Err(Error::CertificateRevoked {
                serial: serial.clone(),
                status: entry.status.clone(),
                reason: entry.reason.clone(),
            });
        }
    }
    Ok(())
}

fn check_extension_placement(chain: &DecodedChain) -> Result<(), Error> {
    match chain.extension_positions.first() {
        Some(&position) => Err(Error::AttestationExtensionInIntermediate { position }),
        None => Ok(()),
    }
}

fn check_challenge(description: &KeyDescription, expected_nonce: &[u8]) -> Result<(), Error> {
    if description.attestation_challenge == expected_nonce {
        Ok(())
    } else {
        Err(Error::NonceMismatch {
            field: "attestationChallenge",
        })
    }
}

fn check_package_name(description: &KeyDescription, package_name: &str) -> Result<(), Error> {
    let application = description
        .attestation_application_id()
        .ok_or(Error::MissingField {
            what: "attestationApplicationId",
        })?;
    let listed = application
        .package_infos
        .iter()
        .any(|info| info.package_name == package_name.as_bytes());
    if listed {
        return Ok(());
    }
    let received = application
        .package_infos
        .iter()
        .map(|info| String::from_utf8_lossy(&info.package_name).into_owned())
        .collect::<Vec<_>>()
        .join(", ");
    Err(Error::PackageNameMismatch {
        field: "attestationApplicationId.package_infos",
        expected: package_name.to_owned(),
        received,
    })
}

fn check_signing_certificate(
    description: &KeyDescription,
    registered: &[[u8; 32]],
) -> Result<(), Error> {
    let application = description
        .attestation_application_id()
        .ok_or(Error::MissingField {
            what: "attestationApplicationId",
        })?;
    let matched = application
        .signature_digests
        .iter()
        .any(|digest| registered.iter().any(|known| known.as_slice() == digest));
    if matched {
        Ok(())
    } else {
        Err(Error::CertificateDigestMismatch)
    }
}
