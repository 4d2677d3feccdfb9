//! Android key attestation: a test PKI shaped like Google's attestation chains, a simulated
//! Keystore key, and the `KeyDescription` extension encoded byte by byte.
//!
//! A generated chain has the shape of a remotely provisioned (RKP) device chain:
//!
//! - leaf "Android Keystore Key": the device's P-256 key, serial 1, valid 1970-01-01 to
//!   2048-01-01 by default, key usage `digitalSignature`, and the attestation extension
//!   (OID 1.3.6.1.4.1.11129.2.1.17);
//! - attestation certificate `O=TEE, CN=<random hex>`: a P-256 CA key that signs the leaf with
//!   ECDSA-with-SHA256, generated for every chain;
//! - intermediate "Test Droid CA2": a P-384 CA key that signs the attestation certificate
//!   with ECDSA-with-SHA384;
//! - root "Test Key Attestation CA1" (ECDSA P-384, like Google's 2025 root) or
//!   `serialNumber=<hex>` (RSA 2048 with SHA-256, shaped like Google's RSA root).
//!
//! RKP devices omit the root from the list they return; [`ChainEnd`] selects either form.

use std::fmt;

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair};
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, CustomExtension, DistinguishedName, DnType,
    IsCa, Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, PKCS_ECDSA_P384_SHA384,
    PKCS_RSA_SHA256, SerialNumber, date_time_ymd,
};
use time::OffsetDateTime;

/// Arcs of the key attestation extension OID 1.3.6.1.4.1.11129.2.1.17.
const KEY_ATTESTATION_ARCS: &[u64] = &[1, 3, 6, 1, 4, 1, 11129, 2, 1, 17];

/// The key attestation extension OID as dotted decimal.
pub const KEY_ATTESTATION_EXTENSION_OID: &str = "1.3.6.1.4.1.11129.2.1.17";

/// The key type of the test root.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RootKeyType {
    /// ECDSA P-384, signing with SHA-384, like Google's "Key Attestation CA1".
    EcP384,
    /// RSA 2048, signing with PKCS#1 v1.5 SHA-256, like Google's RSA root (which is 4096-bit).
    Rsa2048,
}

/// Whether a generated chain ends with the root certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChainEnd {
    /// The chain ends at the intermediate, as on devices that use Remote Key Provisioning.
    Intermediate,
    /// The chain ends with the self-signed root, as on factory-provisioned devices.
    Root,
}

/// `SecurityLevel` in the `KeyDescription`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SecurityLevel {
    /// 0: the Android system stores the key.
    Software,
    /// 1: a trusted execution environment stores the key.
    TrustedEnvironment,
    /// 2: a StrongBox secure element stores the key.
    StrongBox,
}

impl SecurityLevel {
    fn value(self) -> u64 {
        match self {
            Self::Software => 0,
            Self::TrustedEnvironment => 1,
            Self::StrongBox => 2,
        }
    }
}

/// `VerifiedBootState` in the root of trust.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VerifiedBootState {
    /// 0: verified with the OEM key.
    Verified,
    /// 1: verified with a user-installed key.
    SelfSigned,
    /// 2: not verified (unlocked bootloader).
    Unverified,
    /// 3: verification failed.
    Failed,
}

impl VerifiedBootState {
    fn value(self) -> u64 {
        match self {
            Self::Verified => 0,
            Self::SelfSigned => 1,
            Self::Unverified => 2,
            Self::Failed => 3,
        }
    }
}

/// The description of a chain to generate.
///
/// [`AndroidKeySpec::new`] gives a valid chain from a TEE key on a locked, verified device;
/// set [`AndroidKeySpec::mutation`] to break one verification step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AndroidKeySpec {
    /// The bytes passed to `setAttestationChallenge`.
    pub challenge: Vec<u8>,
    /// The app's package name in `attestationApplicationId`.
    pub package_name: String,
    /// The app's version code. Defaults to 42.
    pub package_version: u64,
    /// SHA-256 digests of the app's signing certificates.
    pub signature_digests: Vec<[u8; 32]>,
    /// `attestationSecurityLevel` and `keyMintSecurityLevel`. Defaults to TrustedEnvironment.
    pub security_level: SecurityLevel,
    /// `deviceLocked` in the root of trust. Defaults to true.
    pub device_locked: bool,
    /// `verifiedBootState` in the root of trust. Defaults to Verified.
    pub verified_boot_state: VerifiedBootState,
    /// `creationDateTime`, Unix milliseconds. Defaults to 2025-05-31T00:00:00Z.
    pub creation_time_ms: u64,
    /// Start of the leaf's validity. Defaults to 1970-01-01T00:00:00Z, as Keystore writes it.
    pub leaf_not_before: OffsetDateTime,
    /// End of the leaf's validity. Defaults to 2048-01-01T00:00:00Z, as Keystore writes it.
    pub leaf_not_after: OffsetDateTime,
    /// Whether the chain includes the root. Defaults to [`ChainEnd::Root`].
    pub chain_end: ChainEnd,
    /// The single defect to build into the chain. Defaults to [`AndroidKeyMutation::None`].
    pub mutation: AndroidKeyMutation,
}

impl AndroidKeySpec {
    /// Creates the specification of a valid chain.
    pub fn new(
        challenge: impl Into<Vec<u8>>,
        package_name: impl Into<String>,
        signature_digest: [u8; 32],
    ) -> Self {
        Self {
            challenge: challenge.into(),
            package_name: package_name.into(),
            package_version: 42,
            signature_digests: vec![signature_digest],
            security_level: SecurityLevel::TrustedEnvironment,
            device_locked: true,
            verified_boot_state: VerifiedBootState::Verified,
            creation_time_ms: 1_748_649_600_000,
            leaf_not_before: date_time_ymd(1970, 1, 1),
            leaf_not_after: date_time_ymd(2048, 1, 1),
            chain_end: ChainEnd::Root,
            mutation: AndroidKeyMutation::None,
        }
    }

    /// Returns this specification with `mutation` in place of the current one.
    #[must_use]
    pub fn with_mutation(mut self, mutation: AndroidKeyMutation) -> Self {
        self.mutation = mutation;
        self
    }
}

/// One deliberate change to a chain. Each variant breaks one check and leaves the rest
/// consistent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum AndroidKeyMutation {
    /// No change: a valid chain.
    #[default]
    None,
    /// The extension carries this challenge instead of the specification's.
    Challenge(Vec<u8>),
    /// `deviceLocked` is encoded as the BER value 0x01 instead of DER's 0xFF, so the
    /// extension is not strict DER.
    DeviceLockedNotDer,
    /// The leaf carries two identical attestation extensions.
    DuplicatedExtension,
    /// The attestation certificate (position 1) also carries an attestation extension, as a
    /// chain extended with a key outside the secure hardware would.
    ExtensionInIntermediate,
    /// The leaf, attestation certificate and intermediate come from a second, unrelated PKI
    /// with the same names, so the chain leads to a root the verifier does not trust.
    LeafSignedByOtherPki,
    /// The leaf has no attestation extension.
    MissingExtension,
    /// `attestationApplicationId` names this package instead of the specification's.
    PackageName(String),
    /// `attestationApplicationId` lists this signing certificate digest instead of the
    /// specification's.
    SignatureDigest([u8; 32]),
    /// One byte (0x00) follows the `KeyDescription` inside the extension value.
    TrailingExtensionBytes,
}

/// A generated chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AndroidKeyChain {
    /// The DER certificates, leaf first, as `KeyStore.getCertificateChain` returns them.
    pub certificates: Vec<Vec<u8>>,
    /// The attestation certificate's serial number as Google's status list writes it:
    /// lowercase hex without leading zeros.
    pub attestation_serial_hex: String,
}

/// A simulated Keystore key: a P-256 key pair whose public key the leaf certifies.
pub struct AndroidDeviceKey {
    key: KeyPair,
}

impl AndroidDeviceKey {
    /// Generates a fresh P-256 key.
    ///
    /// # Panics
    ///
    /// Panics if the system random number generator fails.
    pub fn new() -> Self {
        // Generation with a fixed, supported algorithm fails only when the system random number
        // generator fails, which a test generator cannot recover from.
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("P-256 key generation");
        Self { key }
    }

    /// Returns the public key as a DER SubjectPublicKeyInfo.
    pub fn public_key_spki(&self) -> Vec<u8> {
        rcgen::PublicKeyData::subject_public_key_info(&self.key)
    }

    /// Returns the public key as an uncompressed SEC1 point (0x04 ‖ x ‖ y).
    pub fn public_key_point(&self) -> Vec<u8> {
        self.key.public_key_raw().to_vec()
    }

    /// Signs `message` with ECDSA P-256 SHA-256 and returns the DER signature, as
    /// `Signature.getInstance("SHA256withECDSA")` does on Android.
    ///
    /// # Panics
    ///
    /// Panics if aws-lc-rs rejects the key's own PKCS#8 encoding or signing fails.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        // The PKCS#8 document comes from the same library family that parses it, and signing
        // fails only when the random number generator does.
        let key_pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, self.key.serialized_der())
                .expect("generated P-256 key loads");
        key_pair
            .sign(&SystemRandom::new(), message)
            .expect("ECDSA signing")
            .as_ref()
            .to_vec()
    }
}

impl Default for AndroidDeviceKey {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for AndroidDeviceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AndroidDeviceKey").finish_non_exhaustive()
    }
}

/// A root and an intermediate CA shaped like Google's attestation PKI, with fresh keys.
///
/// Both are valid from 2020-01-01 to 2049-12-31, as is every attestation certificate issued
/// by [`AndroidKeyPki::chain`].
pub struct AndroidKeyPki {
    root_key_type: RootKeyType,
    root: Certificate,
    intermediate: Certificate,
    intermediate_issuer: Issuer<'static, KeyPair>,
}

impl AndroidKeyPki {
    /// Generates a root of the given key type and a P-384 intermediate.
    ///
    /// # Panics
    ///
    /// Panics if key generation or signing fails, which only happens when the system random
    /// number generator fails.
    pub fn new(root_key_type: RootKeyType) -> Self {
        let (root_algorithm, root_name) = match root_key_type {
            RootKeyType::EcP384 => (&PKCS_ECDSA_P384_SHA384, ec_root_name()),
            RootKeyType::Rsa2048 => (&PKCS_RSA_SHA256, rsa_root_name()),
        };
        let root_key = KeyPair::generate_for(root_algorithm).expect("root key generation");
        let root_params = ca_params(root_name, BasicConstraints::Unconstrained);
        let root = root_params
            .self_signed(&root_key)
            .expect("signing the test root");
        let root_issuer = Issuer::new(root_params, root_key);

        let intermediate_key =
            KeyPair::generate_for(&PKCS_ECDSA_P384_SHA384).expect("P-384 key generation");
        let mut name = DistinguishedName::new();
        name.push(DnType::OrganizationName, "Google LLC");
        name.push(DnType::CommonName, "Test Droid CA2");
        let mut intermediate_params = ca_params(name, BasicConstraints::Constrained(2));
        intermediate_params.use_authority_key_identifier_extension = true;
        let intermediate = intermediate_params
            .signed_by(&intermediate_key, &root_issuer)
            .expect("signing the test intermediate");
        let intermediate_issuer = Issuer::new(intermediate_params, intermediate_key);

        Self {
            root_key_type,
            root,
            intermediate,
            intermediate_issuer,
        }
    }

    /// Returns the root's key type.
    pub fn root_key_type(&self) -> RootKeyType {
        self.root_key_type
    }

    /// Returns the DER root certificate, the trust anchor of this PKI.
    pub fn root_der(&self) -> &[u8] {
        self.root.der()
    }

    /// Returns the root certificate as PEM.
    pub fn root_pem(&self) -> String {
        self.root.pem()
    }

    /// Returns the DER intermediate certificate.
    pub fn intermediate_der(&self) -> &[u8] {
        self.intermediate.der()
    }

    /// Builds the chain that Keystore would return for `device` as `spec` describes it.
    ///
    /// # Panics
    ///
    /// Panics if key generation or signing fails, which only happens when the system random
    /// number generator fails.
    pub fn chain(&self, device: &AndroidDeviceKey, spec: &AndroidKeySpec) -> AndroidKeyChain {
        if spec.mutation == AndroidKeyMutation::LeafSignedByOtherPki {
            let other = Self::new(self.root_key_type);
            let unmutated = spec.clone().with_mutation(AndroidKeyMutation::None);
            return other.chain(device, &unmutated);
        }

        let extension = key_description(spec);
        let attestation_key =
            KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("P-256 key generation");
        let serial = random_serial();
        let mut name = DistinguishedName::new();
        name.push(DnType::OrganizationName, "TEE");
        name.push(DnType::CommonName, hex::encode(serial));
        let mut attestation_params = ca_params(name, BasicConstraints::Unconstrained);
        attestation_params.serial_number = Some(SerialNumber::from_slice(&serial));
        attestation_params.use_authority_key_identifier_extension = true;
        if spec.mutation == AndroidKeyMutation::ExtensionInIntermediate {
            attestation_params
                .custom_extensions
                .push(CustomExtension::from_oid_content(
                    KEY_ATTESTATION_ARCS,
                    extension.clone(),
                ));
        }
        let attestation = attestation_params
            .signed_by(&attestation_key, &self.intermediate_issuer)
            .expect("signing the attestation certificate");
        let attestation_issuer = Issuer::new(attestation_params, attestation_key);

        let mut leaf_params = CertificateParams::default();
        leaf_params.not_before = spec.leaf_not_before;
        leaf_params.not_after = spec.leaf_not_after;
        leaf_params.serial_number = Some(SerialNumber::from_slice(&[1]));
        let mut leaf_name = DistinguishedName::new();
        leaf_name.push(DnType::CommonName, "Android Keystore Key");
        leaf_params.distinguished_name = leaf_name;
        leaf_params.is_ca = IsCa::NoCa;
        leaf_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let copies = match spec.mutation {
            AndroidKeyMutation::MissingExtension => 0,
            AndroidKeyMutation::DuplicatedExtension => 2,
            _ => 1,
        };
        for _ in 0..copies {
            leaf_params
                .custom_extensions
                .push(CustomExtension::from_oid_content(
                    KEY_ATTESTATION_ARCS,
                    extension.clone(),
                ));
        }
        let leaf = leaf_params
            .signed_by(&device.key, &attestation_issuer)
            .expect("signing the leaf");

        let mut certificates = vec![
            leaf.der().to_vec(),
            attestation.der().to_vec(),
            self.intermediate.der().to_vec(),
        ];
        if spec.chain_end == ChainEnd::Root {
            certificates.push(self.root.der().to_vec());
        }
        AndroidKeyChain {
            certificates,
            attestation_serial_hex: serial_hex(&serial),
        }
    }
}

impl fmt::Debug for AndroidKeyPki {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AndroidKeyPki")
            .field("root_key_type", &self.root_key_type)
            .finish_non_exhaustive()
    }
}

/// One entry of a generated status list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusListEntry {
    /// The serial number, lowercase hex without leading zeros.
    pub serial_hex: String,
    /// `REVOKED` or `SUSPENDED`.
    pub status: String,
    /// The reason, such as `KEY_COMPROMISE`.
    pub reason: String,
}

/// Builds a status list file in the format of <https://android.googleapis.com/attestation/status>.
pub fn status_list_json(entries: &[StatusListEntry]) -> Vec<u8> {
    let entries: serde_json::Map<String, serde_json::Value> = entries
        .iter()
        .map(|entry| {
            let value = serde_json::json!({
                "status": entry.status,
                "reason": entry.reason,
                "comment": "generated by avow-testgen",
            });
            (entry.serial_hex.clone(), value)
        })
        .collect();
    serde_json::json!({ "entries": entries })
        .to_string()
        .into_bytes()
}

fn ec_root_name() -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, "Test Key Attestation CA1");
    name.push(DnType::OrganizationalUnitName, "Android");
    name.push(DnType::OrganizationName, "Avow Test");
    name.push(DnType::CountryName, "US");
    name
}

fn rsa_root_name() -> DistinguishedName {
    let mut name = DistinguishedName::new();
    // Google's RSA root has only a serialNumber attribute (OID 2.5.4.5).
    name.push(DnType::CustomDnType(vec![2, 5, 4, 5]), "a0b1c2d3e4f50617");
    name
}

fn ca_params(name: DistinguishedName, constraints: BasicConstraints) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.not_before = date_time_ymd(2020, 1, 1);
    params.not_after = date_time_ymd(2049, 12, 31);
    params.serial_number = Some(SerialNumber::from_slice(&random_serial()));
    params.distinguished_name = name;
    params.is_ca = IsCa::Ca(constraints);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params
}

/// Returns a random positive 16-byte serial number whose first byte is not zero.
fn random_serial() -> [u8; 16] {
    let mut bytes = [0u8; 16];
    // The system random number generator only fails when the operating system cannot supply
    // randomness, which a test generator cannot recover from.
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("system random number generator failed");
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    bytes
}

fn serial_hex(serial: &[u8]) -> String {
    let hex = hex::encode(serial);
    let trimmed = hex.trim_start_matches('0');
    if trimmed.is_empty() {
        "0".to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// Encodes the `KeyDescription` for `spec`, with the extension-level mutations applied.
fn key_description(spec: &AndroidKeySpec) -> Vec<u8> {
    let challenge = match &spec.mutation {
        AndroidKeyMutation::Challenge(challenge) => challenge.as_slice(),
        _ => spec.challenge.as_slice(),
    };
    let package_name = match &spec.mutation {
        AndroidKeyMutation::PackageName(name) => name.as_str(),
        _ => spec.package_name.as_str(),
    };
    let digests = match &spec.mutation {
        AndroidKeyMutation::SignatureDigest(digest) => vec![*digest],
        _ => spec.signature_digests.clone(),
    };

    let package_info = der::sequence(&[
        der::octet_string(package_name.as_bytes()),
        der::integer(spec.package_version),
    ]);
    let digest_strings: Vec<Vec<u8>> = digests.iter().map(|d| der::octet_string(d)).collect();
    let application_id = der::sequence(&[der::set(&[package_info]), der::set(&digest_strings)]);

    let software_enforced = der::sequence(&[
        der::explicit(701, &der::integer(spec.creation_time_ms)),
        der::explicit(709, &der::octet_string(&application_id)),
    ]);

    let device_locked = match spec.mutation {
        // BER allows any non-zero octet for TRUE; DER allows only 0xFF.
        AndroidKeyMutation::DeviceLockedNotDer => der::tlv(&[0x01], &[0x01]),
        _ => der::boolean(spec.device_locked),
    };
    let root_of_trust = der::sequence(&[
        der::octet_string(&[0x5a; 32]),
        device_locked,
        der::enumerated(spec.verified_boot_state.value()),
        der::octet_string(&[0xa5; 32]),
    ]);
    let hardware_enforced = der::sequence(&[
        der::explicit(1, &der::set(&[der::integer(2)])),
        der::explicit(2, &der::integer(3)),
        der::explicit(3, &der::integer(256)),
        der::explicit(5, &der::set(&[der::integer(4)])),
        der::explicit(10, &der::integer(1)),
        der::explicit(503, &der::null()),
        der::explicit(702, &der::integer(0)),
        der::explicit(704, &root_of_trust),
        der::explicit(705, &der::integer(150_000)),
        der::explicit(706, &der::integer(202_505)),
        der::explicit(718, &der::integer(20_250_505)),
        der::explicit(719, &der::integer(20_250_505)),
    ]);

    let level = spec.security_level.value();
    let mut value = der::sequence(&[
        der::integer(300),
        der::enumerated(level),
        der::integer(300),
        der::enumerated(level),
        der::octet_string(challenge),
        der::octet_string(&[]),
        software_enforced,
        hardware_enforced,
    ]);
    if spec.mutation == AndroidKeyMutation::TrailingExtensionBytes {
        value.push(0x00);
    }
    value
}

/// A minimal DER writer for the `KeyDescription` schema.
mod der {
    /// Encodes one element with the given identifier octets.
    pub(super) fn tlv(identifier: &[u8], content: &[u8]) -> Vec<u8> {
        let mut out = identifier.to_vec();
        let len = content.len();
        if len < 0x80 {
            out.push(len as u8);
        } else {
            let bytes = len.to_be_bytes();
            let skip = bytes.iter().take_while(|&&byte| byte == 0).count();
            let digits = &bytes[skip..];
            out.push(0x80 | digits.len() as u8);
            out.extend_from_slice(digits);
        }
        out.extend_from_slice(content);
        out
    }

    pub(super) fn integer(value: u64) -> Vec<u8> {
        let bytes = value.to_be_bytes();
        let skip = bytes.iter().take_while(|&&byte| byte == 0).count().min(7);
        let mut content = bytes[skip..].to_vec();
        if content[0] & 0x80 != 0 {
            content.insert(0, 0x00);
        }
        tlv(&[0x02], &content)
    }

    pub(super) fn enumerated(value: u64) -> Vec<u8> {
        let mut encoded = integer(value);
        encoded[0] = 0x0a;
        encoded
    }

    pub(super) fn boolean(value: bool) -> Vec<u8> {
        tlv(&[0x01], &[if value { 0xff } else { 0x00 }])
    }

    pub(super) fn null() -> Vec<u8> {
        tlv(&[0x05], &[])
    }

    pub(super) fn octet_string(bytes: &[u8]) -> Vec<u8> {
        tlv(&[0x04], bytes)
    }

    pub(super) fn sequence(elements: &[Vec<u8>]) -> Vec<u8> {
        tlv(&[0x30], &elements.concat())
    }

    /// Encodes a SET OF, sorting the members as DER requires.
    pub(super) fn set(elements: &[Vec<u8>]) -> Vec<u8> {
        let mut sorted = elements.to_vec();
        sorted.sort();
        tlv(&[0x31], &sorted.concat())
    }

    /// Wraps `inner` in a context-specific, constructed (EXPLICIT) tag.
    pub(super) fn explicit(tag: u32, inner: &[u8]) -> Vec<u8> {
        let identifier = if tag < 31 {
            vec![0xa0 | tag as u8]
        } else {
            let mut digits = vec![(tag & 0x7f) as u8];
            let mut rest = tag >> 7;
            while rest > 0 {
                digits.push(0x80 | (rest & 0x7f) as u8);
                rest >>= 7;
            }
            digits.push(0xbf);
            digits.reverse();
            digits
        };
        tlv(&identifier, inner)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn high_tags_use_base_128() {
            assert_eq!(explicit(704, &null()), [0xbf, 0x85, 0x40, 0x02, 0x05, 0x00]);
            assert_eq!(explicit(1, &null()), [0xa1, 0x02, 0x05, 0x00]);
        }

        #[test]
        fn integers_are_minimal() {
            assert_eq!(integer(0), [0x02, 0x01, 0x00]);
            assert_eq!(integer(128), [0x02, 0x02, 0x00, 0x80]);
            assert_eq!(integer(300), [0x02, 0x02, 0x01, 0x2c]);
        }

        #[test]
        fn long_lengths_are_minimal() {
            let encoded = octet_string(&[0u8; 200]);
            assert_eq!(&encoded[..3], [0x04, 0x81, 200]);
        }
    }
}
