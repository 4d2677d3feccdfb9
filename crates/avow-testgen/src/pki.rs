//! The test certificate authorities and the credential certificates they issue.

use std::fmt;

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, CustomExtension, DistinguishedName, DnType,
    IsCa, Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, PKCS_ECDSA_P384_SHA384,
    PublicKeyData, SerialNumber, SignatureAlgorithm, date_time_ymd,
};
use time::OffsetDateTime;

use crate::NONCE_EXTENSION_PREFIX;

const ROOT_COMMON_NAME: &str = "Test App Attestation Root CA";
const INTERMEDIATE_COMMON_NAME: &str = "Test App Attestation CA 1";
const ORGANIZATION: &str = "Avow Test";
const CREDENTIAL_ORGANIZATIONAL_UNIT: &str = "AAA Certification";

/// Arcs of the nonce extension OID 1.2.840.113635.100.8.2.
const NONCE_EXTENSION_ARCS: &[u64] = &[1, 2, 840, 113635, 100, 8, 2];

/// A root and an intermediate CA shaped like Apple's App Attestation chain, with fresh keys.
///
/// - Root "Test App Attestation Root CA": P-384 key, self-signed with ECDSA-with-SHA384,
///   `CA:TRUE`, key usage `keyCertSign` and `cRLSign`.
/// - Intermediate "Test App Attestation CA 1": P-384 key, signed by the root with
///   ECDSA-with-SHA384, `CA:TRUE` with path length 0, key usage `keyCertSign` and `cRLSign`.
///
/// Both are valid from 2020-01-01T00:00:00Z to 2049-12-31T00:00:00Z.
///
/// The intermediate signs credential certificates with ECDSA-with-SHA384. Apple's intermediate
/// uses ECDSA-with-SHA256 with its P-384 key, but aws-lc-rs 1.19 offers no P-384/SHA-256
/// signing algorithm (only verification), so a verifier under test must accept both hashes for
/// a P-384 issuer, as rustls-webpki's `ECDSA_P384_SHA256` and `ECDSA_P384_SHA384` do.
///
/// Every call to [`TestPki::new`] creates new keys, so two instances are unrelated and one can
/// serve as the "untrusted root" of the other. All instances share the same subject names, as
/// a forged chain copying Apple's names would, so rustls-webpki 0.103 rejects a chain checked
/// against another instance's root with `InvalidSignatureForPublicKey`, not `UnknownIssuer`.
pub struct TestPki {
    root: Certificate,
    intermediate: Certificate,
    intermediate_issuer: Issuer<'static, KeyPair>,
}

impl TestPki {
    /// Generates a root and an intermediate CA with fresh random P-384 keys.
    ///
    /// # Panics
    ///
    /// Panics if the system random number generator or key generation fails.
    pub fn new() -> Self {
        // Key generation and signing with fixed, valid parameters only fail when the system
        // random number generator fails, which a test generator cannot recover from.
        let root_key =
            KeyPair::generate_for(&PKCS_ECDSA_P384_SHA384).expect("P-384 key generation failed");
        let root_params = ca_params(ROOT_COMMON_NAME, BasicConstraints::Unconstrained);
        let root = root_params
            .self_signed(&root_key)
            .expect("signing the test root certificate failed");
        let root_issuer = Issuer::new(root_params, root_key);

        let intermediate_key =
            KeyPair::generate_for(&PKCS_ECDSA_P384_SHA384).expect("P-384 key generation failed");
        let mut intermediate_params =
            ca_params(INTERMEDIATE_COMMON_NAME, BasicConstraints::Constrained(0));
        intermediate_params.use_authority_key_identifier_extension = true;
        let intermediate = intermediate_params
            .signed_by(&intermediate_key, &root_issuer)
            .expect("signing the test intermediate certificate failed");
        let intermediate_issuer = Issuer::new(intermediate_params, intermediate_key);

        Self {
            root,
            intermediate,
            intermediate_issuer,
        }
    }

    /// Returns the DER encoding of the root certificate, the trust anchor for this PKI.
    pub fn root_der(&self) -> &[u8] {
        self.root.der()
    }

    /// Returns the root certificate as a PEM `CERTIFICATE` block.
    pub fn root_pem(&self) -> String {
        self.root.pem()
    }

    /// Returns the DER encoding of the intermediate certificate, the second `x5c` entry.
    pub fn intermediate_der(&self) -> &[u8] {
        self.intermediate.der()
    }

    /// Returns the intermediate certificate as a PEM `CERTIFICATE` block.
    pub fn intermediate_pem(&self) -> String {
        self.intermediate.pem()
    }

    /// Issues a credential certificate for a device key and returns its DER encoding.
    pub(crate) fn issue_credential_certificate(&self, request: &CredentialRequest<'_>) -> Vec<u8> {
        let mut params = CertificateParams::default();
        params.not_before = request.not_before;
        params.not_after = request.not_after;
        params.serial_number = Some(random_serial_number());

        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, request.common_name.as_str());
        name.push(
            DnType::OrganizationalUnitName,
            CREDENTIAL_ORGANIZATIONAL_UNIT,
        );
        name.push(DnType::OrganizationName, ORGANIZATION);
        params.distinguished_name = name;

        // `ExplicitNoCa` writes a critical basicConstraints with CA:FALSE, and rcgen marks the
        // key usage extension critical.
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.use_authority_key_identifier_extension = true;
        if let Some(content) = request.nonce_extension.der_value() {
            params
                .custom_extensions
                .push(CustomExtension::from_oid_content(
                    NONCE_EXTENSION_ARCS,
                    content,
                ));
        }

        let subject_key = DevicePublicKey(request.public_key);
        // rcgen rejects only parameters this function never sets (empty CRL distribution
        // points, invalid SAN strings), so signing fails only if aws-lc-rs fails.
        let certificate = params
            .signed_by(&subject_key, &self.intermediate_issuer)
            .expect("signing the credential certificate failed");
        certificate.der().to_vec()
    }
}

impl Default for TestPki {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for TestPki {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestPki")
            .field("root_common_name", &ROOT_COMMON_NAME)
            .field("intermediate_common_name", &INTERMEDIATE_COMMON_NAME)
            .finish_non_exhaustive()
    }
}

/// The requested contents of a credential certificate.
pub(crate) struct CredentialRequest<'a> {
    /// The device's uncompressed P-256 point (0x04 ‖ x ‖ y).
    pub(crate) public_key: &'a [u8; 65],
    pub(crate) common_name: String,
    pub(crate) not_before: OffsetDateTime,
    pub(crate) not_after: OffsetDateTime,
    pub(crate) nonce_extension: NonceExtension,
}

/// The content of the nonce extension 1.2.840.113635.100.8.2 in a credential certificate.
#[derive(Clone, Copy, Debug)]
pub(crate) enum NonceExtension {
    /// The extension is absent.
    Omitted,
    /// A well-formed extension whose octet string is only 31 bytes: the first 31 bytes of the
    /// given nonce.
    Truncated([u8; 32]),
    /// A well-formed extension carrying this 32-byte nonce.
    Value([u8; 32]),
}

impl NonceExtension {
    /// Returns the DER value of the extension (the bytes inside `extnValue`), or `None` when
    /// the extension is omitted.
    fn der_value(&self) -> Option<Vec<u8>> {
        match self {
            Self::Omitted => None,
            Self::Truncated(nonce) => {
                // SEQUENCE (35 bytes) { [1] (33 bytes) { OCTET STRING (31 bytes) } }.
                let mut content = vec![0x30, 0x23, 0xa1, 0x21, 0x04, 0x1f];
                content.extend_from_slice(&nonce[..31]);
                Some(content)
            }
            Self::Value(nonce) => {
                let mut content = NONCE_EXTENSION_PREFIX.to_vec();
                content.extend_from_slice(nonce);
                Some(content)
            }
        }
    }
}

/// A P-256 public key given as its uncompressed point, so that rcgen can write it as the
/// subject public key of a certificate it does not sign.
struct DevicePublicKey<'a>(&'a [u8; 65]);

impl PublicKeyData for DevicePublicKey<'_> {
    fn der_bytes(&self) -> &[u8] {
        self.0
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        // rcgen takes the SubjectPublicKeyInfo algorithm (id-ecPublicKey, prime256v1) from
        // this value.
        &PKCS_ECDSA_P256_SHA256
    }
}

fn ca_params(common_name: &str, constraints: BasicConstraints) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.not_before = date_time_ymd(2020, 1, 1);
    params.not_after = date_time_ymd(2049, 12, 31);
    params.serial_number = Some(random_serial_number());

    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, common_name);
    name.push(DnType::OrganizationName, ORGANIZATION);
    params.distinguished_name = name;

    params.is_ca = IsCa::Ca(constraints);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params
}

/// Returns a random positive 16-byte serial number.
fn random_serial_number() -> SerialNumber {
    let mut bytes = [0u8; 16];
    // The system random number generator only fails when the operating system cannot supply
    // randomness, which a test generator cannot recover from.
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("system random number generator failed");
    // Clear the sign bit so the INTEGER is positive, and set the next bit so the encoding
    // keeps all 16 bytes.
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    SerialNumber::from_slice(&bytes)
}
