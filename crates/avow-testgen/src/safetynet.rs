//! SafetyNet attestation results: a test PKI shaped like Google's, a payload builder and its
//! mutations.
//!
//! Huawei's SysIntegrity results have the same format, so [`crate::huawei`] builds on the
//! pieces here.

use std::fmt;

use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RSA_PSS_SHA256, RsaEncoding, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, PKCS_RSA_SHA256, SerialNumber,
    date_time_ymd,
};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

/// The host Google's SafetyNet signing certificate is issued for.
pub const SAFETYNET_HOST: &str = "attest.android.com";

/// The `apkDigestSha256` value of every generated payload: a fixed placeholder, which
/// verifiers do not check.
pub const PLACEHOLDER_APK_DIGEST: [u8; 32] = [0xa5; 32];

/// The form in which the leaf certificate names the vendor's host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeafName {
    /// The subject common name only, without a subject alternative name extension.
    CommonNameOnly,
    /// The subject common name and a DNS subject alternative name, as Google's leaf has.
    SubjectAltName,
}

/// A root CA, an intermediate CA and a leaf certificate for one host, all with RSA 2048 keys
/// and SHA-256 RSA signatures, like the chain behind SafetyNet results.
///
/// - Root "Avow Test Attestation Root": self-signed, `CA:TRUE`, `keyCertSign` and `cRLSign`.
/// - Intermediate "Avow Test Attestation CA 1": `CA:TRUE` with path length 0.
/// - Leaf: subject CN is the host, `CA:FALSE`, key usage `digitalSignature` and
///   `keyEncipherment`, extended key usage server authentication.
///
/// The CAs are valid from 2020-01-01 to 2049-12-31, the leaf by default from 2024-01-01 to
/// 2049-12-31. Every instance has fresh keys.
pub struct ResultSigner {
    root: Certificate,
    intermediate: Certificate,
    intermediate_issuer: Issuer<'static, KeyPair>,
    leaf: Certificate,
    leaf_key: RsaKeyPair,
    leaf_validity: (OffsetDateTime, OffsetDateTime),
}

impl ResultSigner {
    /// Generates the PKI with a leaf for `host`, valid from `not_before` to `not_after`.
    ///
    /// # Panics
    ///
    /// Panics if key generation or signing fails, which only happens when the system random
    /// number generator fails.
    pub fn new(
        host: &str,
        leaf_name: LeafName,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> Self {
        let root_key = rsa_key();
        let root_params = ca_params(
            "Avow Test Attestation Root",
            BasicConstraints::Unconstrained,
        );
        // Signing with fixed, valid parameters fails only if aws-lc-rs fails.
        let root = root_params
            .self_signed(&root_key)
            .expect("signing the test root failed");
        let root_issuer = Issuer::new(root_params, root_key);

        let intermediate_key = rsa_key();
        let mut intermediate_params = ca_params(
            "Avow Test Attestation CA 1",
            BasicConstraints::Constrained(0),
        );
        intermediate_params.use_authority_key_identifier_extension = true;
        let intermediate = intermediate_params
            .signed_by(&intermediate_key, &root_issuer)
            .expect("signing the test intermediate failed");
        let intermediate_issuer = Issuer::new(intermediate_params, intermediate_key);

        let alt_name = match leaf_name {
            LeafName::SubjectAltName => Some(host),
            LeafName::CommonNameOnly => None,
        };
        let (leaf, leaf_key) =
            issue_leaf(&intermediate_issuer, host, alt_name, not_before, not_after);
        Self {
            root,
            intermediate,
            intermediate_issuer,
            leaf,
            leaf_key,
            leaf_validity: (not_before, not_after),
        }
    }

    /// Returns the DER encoding of the root certificate, the trust anchor.
    pub fn root_der(&self) -> &[u8] {
        self.root.der()
    }

    /// Returns the root certificate as a PEM `CERTIFICATE` block.
    pub fn root_pem(&self) -> String {
        self.root.pem()
    }

    /// Returns the DER encoding of the leaf certificate.
    pub fn leaf_der(&self) -> &[u8] {
        self.leaf.der()
    }

    /// Builds a compact JWS over `payload` with the header `{"alg", "x5c"}`.
    ///
    /// The header names `alg`. The signature uses RSASSA-PSS with SHA-256 when `alg` is
    /// `PS256` and RSASSA-PKCS1-v1_5 with SHA-256 otherwise, so an `alg` the verifier does not
    /// accept still comes with a valid RS256 signature. `x5c` is the leaf then the
    /// intermediate. With `leaf_names`, the leaf is a fresh certificate from the same
    /// intermediate with that common name and subject alternative name. With
    /// [`Padding::Padded`], each base64url part keeps its `=` padding and the signature covers
    /// the padded text.
    pub(crate) fn sign(&self, alg: &str, payload: &Value, options: &SignOptions<'_>) -> String {
        let other_leaf = options.leaf_names.map(|(common_name, alt_name)| {
            issue_leaf(
                &self.intermediate_issuer,
                common_name,
                alt_name,
                self.leaf_validity.0,
                self.leaf_validity.1,
            )
        });
        let (leaf, key) = match &other_leaf {
            Some((leaf, key)) => (leaf, key),
            None => (&self.leaf, &self.leaf_key),
        };

        let header = json!({
            "alg": alg,
            "x5c": [STANDARD.encode(leaf.der()), STANDARD.encode(self.intermediate.der())],
        });
        let encode = |bytes: &[u8]| match options.padding {
            Padding::Unpadded => URL_SAFE_NO_PAD.encode(bytes),
            Padding::Padded => base64::engine::general_purpose::URL_SAFE.encode(bytes),
        };
        let signing_input = format!(
            "{}.{}",
            encode(header.to_string().as_bytes()),
            encode(payload.to_string().as_bytes())
        );

        let encoding: &'static dyn RsaEncoding = if alg == "PS256" {
            &RSA_PSS_SHA256
        } else {
            &RSA_PKCS1_SHA256
        };
        let mut signature = vec![0u8; key.public_modulus_len()];
        // The buffer has the modulus length, so signing fails only if aws-lc-rs fails.
        key.sign(
            encoding,
            &SystemRandom::new(),
            signing_input.as_bytes(),
            &mut signature,
        )
        .expect("RSA signing failed");

        if options.corrupt_signature
            && let Some(last) = signature.last_mut()
        {
            *last ^= 0x01;
        }
        format!("{signing_input}.{}", encode(&signature))
    }
}

impl fmt::Debug for ResultSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResultSigner").finish_non_exhaustive()
    }
}

/// Whether base64url parts keep their `=` padding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding {
    /// Padding kept, as Huawei's results have it.
    Padded,
    /// No padding, as RFC 7515 requires.
    Unpadded,
}

/// The options of one [`ResultSigner::sign`] call.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SignOptions<'a> {
    pub(crate) padding: Padding,
    /// The common name and the optional DNS subject alternative name of a replacement leaf.
    pub(crate) leaf_names: Option<(&'a str, Option<&'a str>)>,
    pub(crate) corrupt_signature: bool,
}

/// The payload fields of a SafetyNet or SysIntegrity result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResultPayload {
    /// The nonce bytes, sent as standard base64 with padding.
    pub nonce: Vec<u8>,
    /// `timestampMs`, Unix milliseconds.
    pub timestamp_ms: u64,
    /// `apkPackageName`.
    pub package_name: String,
    /// `apkCertificateDigestSha256`, sent as standard base64. Empty means the member is
    /// omitted, as in a failing device's payload.
    pub certificate_digests: Vec<[u8; 32]>,
    /// `basicIntegrity`.
    pub basic_integrity: bool,
    /// `advice`, when present, such as `LOCK_BOOTLOADER` or `RESTORE_TO_FACTORY_ROM`.
    pub advice: Option<String>,
}

/// One deliberate change to a result. Each variant breaks exactly one verification check.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ResultMutation {
    /// No change: a valid result.
    #[default]
    None,
    /// The header names this `alg`. The signature is RSASSA-PSS for `PS256` and RS256
    /// otherwise.
    Algorithm(String),
    /// `apkCertificateDigestSha256` is this single digest instead of the specified ones.
    CertificateDigest([u8; 32]),
    /// The leaf's subject alternative name is this host, while its common name stays the
    /// vendor's host. A verifier that falls back to the common name must not do so here.
    LeafAltName(String),
    /// The leaf certificate is issued for this host instead of the vendor's, in its common
    /// name and, for [`LeafName::SubjectAltName`] leaves, its subject alternative name.
    LeafHost(String),
    /// The payload lacks this member, such as `nonce`, `timestampMs` or `apkPackageName`.
    MissingField(&'static str),
    /// `nonce` carries these bytes instead of the specified ones.
    Nonce(Vec<u8>),
    /// `apkPackageName` is this value instead of the specified one.
    PackageName(String),
    /// The last byte of the signature is flipped.
    Signature,
    /// `timestampMs` is this value instead of the specified one.
    TimestampMs(u64),
}

/// The description of a SafetyNet result to generate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SafetyNetSpec {
    /// The payload fields shared with SysIntegrity.
    pub payload: ResultPayload,
    /// `ctsProfileMatch`.
    pub cts_profile_match: bool,
    /// `evaluationType`, such as `BASIC` or `BASIC,HARDWARE_BACKED`; omitted when `None`.
    pub evaluation_type: Option<String>,
    /// The single defect to build in. Defaults to [`ResultMutation::None`].
    pub mutation: ResultMutation,
}

impl SafetyNetSpec {
    /// Creates the specification of a valid result from a device that passes both checks
    /// (`ctsProfileMatch` and `basicIntegrity` true, `evaluationType` `BASIC`).
    pub fn new(
        nonce: impl Into<Vec<u8>>,
        timestamp_ms: u64,
        package_name: impl Into<String>,
        certificate_digests: Vec<[u8; 32]>,
    ) -> Self {
        Self {
            payload: ResultPayload {
                nonce: nonce.into(),
                timestamp_ms,
                package_name: package_name.into(),
                certificate_digests,
                basic_integrity: true,
                advice: None,
            },
            cts_profile_match: true,
            evaluation_type: Some("BASIC".to_owned()),
            mutation: ResultMutation::None,
        }
    }

    /// Returns this specification with `mutation` in place of the current one.
    #[must_use]
    pub fn with_mutation(mut self, mutation: ResultMutation) -> Self {
        self.mutation = mutation;
        self
    }
}

/// Generates SafetyNet results from a [`ResultSigner`] whose leaf is for
/// [`SAFETYNET_HOST`].
#[derive(Debug)]
pub struct SafetyNetGenerator {
    signer: ResultSigner,
}

impl SafetyNetGenerator {
    /// Creates a fresh test PKI with a leaf for `attest.android.com`, named in the subject
    /// alternative names as Google's is, valid from 2024-01-01 to 2049-12-31.
    pub fn new() -> Self {
        Self::with_leaf_validity(date_time_ymd(2024, 1, 1), date_time_ymd(2049, 12, 31))
    }

    /// Creates a fresh test PKI whose leaf is valid from `not_before` to `not_after`.
    pub fn with_leaf_validity(not_before: OffsetDateTime, not_after: OffsetDateTime) -> Self {
        Self {
            signer: ResultSigner::new(
                SAFETYNET_HOST,
                LeafName::SubjectAltName,
                not_before,
                not_after,
            ),
        }
    }

    /// Returns the PKI behind the results, for its root certificate.
    pub fn signer(&self) -> &ResultSigner {
        &self.signer
    }

    /// Builds the compact JWS described by `spec`.
    pub fn result(&self, spec: &SafetyNetSpec) -> String {
        let mut payload = payload_object(&spec.payload, &spec.mutation);
        payload.insert("ctsProfileMatch".to_owned(), spec.cts_profile_match.into());
        if let Some(evaluation_type) = &spec.evaluation_type {
            payload.insert("evaluationType".to_owned(), evaluation_type.as_str().into());
        }
        apply_missing_field(&mut payload, &spec.mutation);
        let alg = algorithm(&spec.mutation, "RS256");
        self.signer.sign(
            alg,
            &Value::Object(payload),
            &sign_options(
                &spec.mutation,
                Padding::Unpadded,
                SAFETYNET_HOST,
                LeafName::SubjectAltName,
            ),
        )
    }
}

impl Default for SafetyNetGenerator {
    fn default() -> Self {
        Self::new()
    }
}

/// Builds the payload members shared by SafetyNet and SysIntegrity, with the payload
/// mutations applied.
pub(crate) fn payload_object(
    payload: &ResultPayload,
    mutation: &ResultMutation,
) -> Map<String, Value> {
    let nonce = match mutation {
        ResultMutation::Nonce(nonce) => nonce,
        _ => &payload.nonce,
    };
    let timestamp_ms = match mutation {
        ResultMutation::TimestampMs(timestamp_ms) => *timestamp_ms,
        _ => payload.timestamp_ms,
    };
    let package_name = match mutation {
        ResultMutation::PackageName(package_name) => package_name,
        _ => &payload.package_name,
    };
    let digests = match mutation {
        ResultMutation::CertificateDigest(digest) => vec![*digest],
        _ => payload.certificate_digests.clone(),
    };

    let mut object = Map::new();
    object.insert("nonce".to_owned(), STANDARD.encode(nonce).into());
    object.insert("timestampMs".to_owned(), timestamp_ms.into());
    object.insert("apkPackageName".to_owned(), package_name.as_str().into());
    object.insert(
        "apkDigestSha256".to_owned(),
        STANDARD.encode(PLACEHOLDER_APK_DIGEST).into(),
    );
    if !digests.is_empty() {
        let digests: Vec<Value> = digests
            .iter()
            .map(|digest| STANDARD.encode(digest).into())
            .collect();
        object.insert("apkCertificateDigestSha256".to_owned(), digests.into());
    }
    object.insert("basicIntegrity".to_owned(), payload.basic_integrity.into());
    if let Some(advice) = &payload.advice {
        object.insert("advice".to_owned(), advice.as_str().into());
    }
    object
}

/// Removes the member that [`ResultMutation::MissingField`] names.
pub(crate) fn apply_missing_field(object: &mut Map<String, Value>, mutation: &ResultMutation) {
    if let ResultMutation::MissingField(member) = mutation {
        object.remove(*member);
    }
}

/// Returns the `alg` to write: the mutation's, or `default`.
pub(crate) fn algorithm<'a>(mutation: &'a ResultMutation, default: &'a str) -> &'a str {
    match mutation {
        ResultMutation::Algorithm(alg) => alg,
        _ => default,
    }
}

/// Returns the signing options that the chain and signature mutations select, for a signer
/// whose leaf is for `host` in the form `leaf_name`.
pub(crate) fn sign_options<'a>(
    mutation: &'a ResultMutation,
    padding: Padding,
    host: &'a str,
    leaf_name: LeafName,
) -> SignOptions<'a> {
    let leaf_names = match (mutation, leaf_name) {
        (ResultMutation::LeafHost(other), LeafName::SubjectAltName) => {
            Some((other.as_str(), Some(other.as_str())))
        }
        (ResultMutation::LeafHost(other), LeafName::CommonNameOnly) => Some((other.as_str(), None)),
        (ResultMutation::LeafAltName(other), _) => Some((host, Some(other.as_str()))),
        _ => None,
    };
    SignOptions {
        padding,
        leaf_names,
        corrupt_signature: *mutation == ResultMutation::Signature,
    }
}

fn rsa_key() -> KeyPair {
    // aws-lc-rs generates the RSA key, which fails only when the system random number
    // generator fails.
    KeyPair::generate_for(&PKCS_RSA_SHA256).expect("RSA 2048 key generation failed")
}

/// Returns a random positive 16-byte serial number.
fn random_serial_number() -> SerialNumber {
    let mut bytes = [0u8; 16];
    // The system random number generator fails only when the operating system cannot supply
    // randomness, which a test generator cannot recover from.
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("system random number generator failed");
    // A clear sign bit keeps the INTEGER positive, and the next bit keeps all 16 bytes.
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    SerialNumber::from_slice(&bytes)
}

fn ca_params(common_name: &str, constraints: BasicConstraints) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.not_before = date_time_ymd(2020, 1, 1);
    params.not_after = date_time_ymd(2049, 12, 31);
    params.serial_number = Some(random_serial_number());
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, common_name);
    name.push(DnType::OrganizationName, "Avow Test");
    params.distinguished_name = name;
    params.is_ca = IsCa::Ca(constraints);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params
}

/// Issues a leaf with subject CN `common_name` and, when given, the DNS subject alternative
/// name `alt_name`.
fn issue_leaf(
    issuer: &Issuer<'static, KeyPair>,
    common_name: &str,
    alt_name: Option<&str>,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> (Certificate, RsaKeyPair) {
    let key = rsa_key();
    let alt_names: Vec<String> = alt_name.into_iter().map(str::to_owned).collect();
    // rcgen rejects only names that are not valid DNS names; callers pass literal ones.
    let mut params = CertificateParams::new(alt_names).expect("invalid leaf host name");
    params.not_before = not_before;
    params.not_after = not_after;
    params.serial_number = Some(random_serial_number());
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, common_name);
    name.push(DnType::OrganizationName, "Avow Test");
    params.distinguished_name = name;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    let certificate = params
        .signed_by(&key, issuer)
        .expect("signing the test leaf failed");
    // rcgen serializes its own RSA key as PKCS#8, which aws-lc-rs reads back.
    let signing_key =
        RsaKeyPair::from_pkcs8(&key.serialize_der()).expect("the RSA key does not re-parse");
    (certificate, signing_key)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use base64::engine::general_purpose::URL_SAFE;
    use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
    use webpki::{EndEntityCert, KeyUsage, anchor_from_trusted_cert};

    use super::*;
    use crate::huawei::{SYS_INTEGRITY_HOST, SysIntegrityGenerator, SysIntegritySpec};

    /// 2030-01-01T00:00:00Z, inside every default validity period.
    const VALID_AT: u64 = 1_893_456_000;

    fn decode_part(part: &str) -> Vec<u8> {
        URL_SAFE_NO_PAD
            .decode(part.trim_end_matches('='))
            .expect("part is base64url")
    }

    fn json_part(part: &str) -> Value {
        serde_json::from_slice(&decode_part(part)).expect("part is JSON")
    }

    /// Splits a JWS and returns its header, payload, leaf and intermediate DER certificates.
    fn open(jws: &str) -> (Value, Value, Vec<u8>, Vec<u8>) {
        let parts: Vec<&str> = jws.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header = json_part(parts[0]);
        let payload = json_part(parts[1]);
        let x5c = header["x5c"].as_array().expect("x5c is an array");
        assert_eq!(x5c.len(), 2);
        let leaf = STANDARD.decode(x5c[0].as_str().unwrap()).unwrap();
        let intermediate = STANDARD.decode(x5c[1].as_str().unwrap()).unwrap();
        (header, payload, leaf, intermediate)
    }

    /// Verifies the chain to `root` for server authentication and the JWS signature with the
    /// leaf key, independently of the Avow verifier.
    fn verify_with_webpki(
        jws: &str,
        root: &[u8],
        alg: &dyn rustls_pki_types::SignatureVerificationAlgorithm,
    ) {
        let (_, _, leaf, intermediate) = open(jws);
        let root = CertificateDer::from_slice(root);
        let anchors = [anchor_from_trusted_cert(&root).unwrap()];
        let leaf = CertificateDer::from_slice(&leaf);
        let end_entity = EndEntityCert::try_from(&leaf).unwrap();
        end_entity
            .verify_for_usage(
                webpki::ALL_VERIFICATION_ALGS,
                &anchors,
                &[CertificateDer::from_slice(&intermediate)],
                UnixTime::since_unix_epoch(Duration::from_secs(VALID_AT)),
                KeyUsage::server_auth(),
                None,
                None,
            )
            .unwrap();
        let (signing_input, signature) = jws.rsplit_once('.').unwrap();
        end_entity
            .verify_signature(alg, signing_input.as_bytes(), &decode_part(signature))
            .unwrap();
    }

    #[test]
    fn safetynet_result_matches_spec() {
        let generator = SafetyNetGenerator::new();
        let spec = SafetyNetSpec::new(
            [7u8; 32],
            1_700_000_000_000,
            "com.example.app",
            vec![[9u8; 32]],
        );
        let jws = generator.result(&spec);
        assert!(!jws.contains('='));
        let (header, payload, leaf, _) = open(&jws);
        assert_eq!(header["alg"], "RS256");
        assert_eq!(payload["nonce"], STANDARD.encode([7u8; 32]));
        assert_eq!(payload["timestampMs"], 1_700_000_000_000_u64);
        assert_eq!(payload["apkPackageName"], "com.example.app");
        assert_eq!(
            payload["apkCertificateDigestSha256"],
            json!([STANDARD.encode([9u8; 32])])
        );
        assert_eq!(payload["ctsProfileMatch"], true);
        assert_eq!(payload["basicIntegrity"], true);
        assert_eq!(payload["evaluationType"], "BASIC");
        assert_eq!(leaf, generator.signer().leaf_der());

        verify_with_webpki(
            &jws,
            generator.signer().root_der(),
            webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA256,
        );
        let leaf = CertificateDer::from_slice(&leaf);
        EndEntityCert::try_from(&leaf)
            .unwrap()
            .verify_is_valid_for_subject_name(&ServerName::try_from(SAFETYNET_HOST).unwrap())
            .unwrap();
    }

    #[test]
    fn mutations_change_one_thing() {
        let generator = SafetyNetGenerator::new();
        let spec = SafetyNetSpec::new([7u8; 32], 5, "com.example.app", vec![[9u8; 32]]);

        let (_, payload, _, _) = open(
            &generator.result(
                &spec
                    .clone()
                    .with_mutation(ResultMutation::MissingField("nonce")),
            ),
        );
        assert!(payload.get("nonce").is_none());
        assert_eq!(payload["apkPackageName"], "com.example.app");

        let (header, _, _, _) = open(
            &generator.result(
                &spec
                    .clone()
                    .with_mutation(ResultMutation::Algorithm("none".to_owned())),
            ),
        );
        assert_eq!(header["alg"], "none");

        let (_, _, leaf, _) = open(
            &generator.result(
                &spec
                    .clone()
                    .with_mutation(ResultMutation::LeafHost("other.example.com".to_owned())),
            ),
        );
        assert_ne!(leaf, generator.signer().leaf_der());

        let valid = generator.result(&spec);
        let corrupted = generator.result(&spec.with_mutation(ResultMutation::Signature));
        let (valid_input, _) = valid.rsplit_once('.').unwrap();
        let (corrupted_input, _) = corrupted.rsplit_once('.').unwrap();
        assert_eq!(valid_input, corrupted_input);
        assert_ne!(valid, corrupted);
    }

    #[test]
    fn sys_integrity_result_padded_and_common_name_only() {
        let generator = SysIntegrityGenerator::new(LeafName::CommonNameOnly);
        let mut spec = SysIntegritySpec::new([1u8; 16], 5, "com.example.app", vec![]);
        spec.algorithm = crate::huawei::SysIntegrityAlgorithm::Ps256;
        let jws = generator.result(&spec);
        let parts: Vec<&str> = jws.split('.').collect();
        for part in &parts {
            assert_eq!(part.len() % 4, 0, "padded parts are whole base64 quads");
            URL_SAFE.decode(part).expect("part is padded base64url");
        }
        let (header, payload, leaf, _) = open(&jws);
        assert_eq!(header["alg"], "PS256");
        assert!(payload.get("ctsProfileMatch").is_none());
        assert!(payload.get("apkCertificateDigestSha256").is_none());

        verify_with_webpki(
            &jws,
            generator.signer().root_der(),
            webpki::aws_lc_rs::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
        );
        // No subject alternative name, so only the common name carries the host.
        let leaf = CertificateDer::from_slice(&leaf);
        let name = ServerName::try_from(SYS_INTEGRITY_HOST).unwrap();
        assert!(
            EndEntityCert::try_from(&leaf)
                .unwrap()
                .verify_is_valid_for_subject_name(&name)
                .is_err()
        );
    }
}
