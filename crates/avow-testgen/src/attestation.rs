//! App Attest attestation objects: the specification, its mutations and the encoder.

use ciborium::Value;
use time::OffsetDateTime;

use crate::cbor::{bytes, encode, encode_indefinite_map, int, text};
use crate::device::SimulatedDevice;
use crate::pki::{CredentialRequest, NonceExtension, TestPki};
use crate::{APP_ATTEST_FORMAT, app_id_hash, expected_cert_nonce};

/// The authenticator data flag "attested credential data included" (AT, bit 6).
pub(crate) const FLAG_ATTESTED_CREDENTIAL_DATA: u8 = 0x40;

/// The authenticator data flag "extension data included" (ED, bit 7).
pub(crate) const FLAG_EXTENSION_DATA: u8 = 0x80;

/// The `apple_bundle_version_01` value in the iOS extension map that this crate appends.
pub const IOS_EXTENSION_BUNDLE_VERSION: &str = "1.0";

/// The `apple_validation_category_01` value in the iOS extension map that this crate appends.
pub const IOS_EXTENSION_VALIDATION_CATEGORY: [u8; 4] = [0, 0, 0, 1];

/// The `attStmt.receipt` bytes. Apple sends a CMS SignedData receipt there, but this
/// placeholder is not one, so only verifiers that store the receipt without parsing it accept
/// it.
pub const PLACEHOLDER_RECEIPT: &[u8] = b"avow-testgen placeholder receipt";

/// The App Attest environment, which selects the AAGUID in the authenticator data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Environment {
    /// The sandbox environment, AAGUID `appattestdevelop`.
    Development,
    /// The production environment, AAGUID `appattest` followed by seven zero bytes.
    Production,
}

impl Environment {
    /// Returns the 16-byte AAGUID that a device in this environment writes into the
    /// authenticator data.
    pub fn aaguid(self) -> [u8; 16] {
        match self {
            Self::Development => *b"appattestdevelop",
            Self::Production => *b"appattest\0\0\0\0\0\0\0",
        }
    }

    /// Returns the lowercase name used on the command line: `development` or `production`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Development => "development",
            Self::Production => "production",
        }
    }
}

/// The description of an attestation object to generate.
///
/// [`AttestationSpec::new`] gives a valid object; set [`AttestationSpec::mutation`] to break
/// one verification step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttestationSpec {
    /// The App ID, `TEAMID.bundle.identifier`, whose SHA-256 is the `rpIdHash`.
    pub app_id: String,
    /// The bytes the app passes to `attestKey(_:clientDataHash:)`. Any length is allowed.
    pub client_data_hash: Vec<u8>,
    /// The environment, which selects the AAGUID.
    pub environment: Environment,
    /// Start of the credential certificate's validity. Defaults to 2024-01-01T00:00:00Z.
    pub leaf_not_before: OffsetDateTime,
    /// End of the credential certificate's validity. Defaults to 2049-12-31T00:00:00Z.
    pub leaf_not_after: OffsetDateTime,
    /// The single defect to build into the object. Defaults to [`AttestationMutation::None`].
    pub mutation: AttestationMutation,
}

impl AttestationSpec {
    /// Creates the specification of a valid attestation object.
    pub fn new(
        app_id: impl Into<String>,
        client_data_hash: impl Into<Vec<u8>>,
        environment: Environment,
    ) -> Self {
        Self {
            app_id: app_id.into(),
            client_data_hash: client_data_hash.into(),
            environment,
            leaf_not_before: rcgen::date_time_ymd(2024, 1, 1),
            leaf_not_after: rcgen::date_time_ymd(2049, 12, 31),
            mutation: AttestationMutation::None,
        }
    }

    /// Returns this specification with `mutation` in place of the current one.
    #[must_use]
    pub fn with_mutation(mut self, mutation: AttestationMutation) -> Self {
        self.mutation = mutation;
        self
    }
}

/// One deliberate change to an attestation object.
///
/// Each variant breaks exactly one check of Apple's verification procedure, or one structural
/// rule, and leaves everything else consistent. In particular the certificate nonce always
/// covers the final authenticator data (including any appended map or junk), except for
/// [`CertNonce`](Self::CertNonce), [`MalformedNonceExtension`](Self::MalformedNonceExtension)
/// and [`NoNonceExtension`](Self::NoNonceExtension). Variants documented as valid produce
/// evidence that a correct verifier accepts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum AttestationMutation {
    /// No change: a valid attestation object.
    #[default]
    None,
    /// The authenticator data carries this AAGUID instead of the environment's.
    Aaguid([u8; 16]),
    /// The nonce extension carries this value instead of SHA-256(authData ‖ clientDataHash).
    CertNonce([u8; 32]),
    /// Valid: the COSE key map lists its entries in reverse order (`-3, -2, -1, 3, 1`) instead
    /// of the usual `1, 3, -1, -2, -3`, with the same key.
    CoseMapReordered,
    /// The COSE key in the authenticator data is another, freshly generated P-256 key, while
    /// the certificate, key id and credential id still belong to the device key.
    CosePublicKeyOfAnotherKey,
    /// The authenticator data's sign count is this value instead of 0.
    Counter(u32),
    /// The credential id is these bytes (with a matching length field) instead of the key id.
    ///
    /// [`SimulatedDevice::attestation`] panics if the value is longer than 65 535 bytes.
    CredentialId(Vec<u8>),
    /// The top-level map contains `"fmt"` twice, both with the value `"apple-appattest"`.
    DuplicateTopLevelKey,
    /// Valid: the authenticator data ends with the iOS extension map
    /// `{"apple_bundle_version_01": text, "apple_validation_category_01": 4 bytes}`, with the
    /// values [`IOS_EXTENSION_BUNDLE_VERSION`] and [`IOS_EXTENSION_VALIDATION_CATEGORY`]. The
    /// flags are 0xC0 when `ed_flag` is true and 0x40 otherwise; iOS sends both.
    ExtensionMap {
        /// Whether the extension data (ED) flag is set.
        ed_flag: bool,
    },
    /// The top-level map uses an indefinite-length header (0xBF … 0xFF). Everything inside it
    /// has definite lengths.
    IndefiniteLength,
    /// The credential certificate and intermediate come from a second, unrelated [`TestPki`],
    /// so the chain ends at a root that the verifier does not trust. The names match, so
    /// path building fails on a signature (see [`TestPki`]).
    LeafSignedByOtherPki,
    /// The nonce extension's octet string has 31 bytes (the first 31 bytes of the correct
    /// nonce) instead of 32, with correct DER lengths around it.
    MalformedNonceExtension,
    /// `attStmt` has no `"receipt"` entry.
    MissingReceipt,
    /// The credential certificate has no nonce extension.
    NoNonceExtension,
    /// `x5c` contains only the credential certificate.
    OnlyLeafInX5c,
    /// The `rpIdHash` is the SHA-256 of this App ID instead of the specification's.
    RpIdOf(String),
    /// The authenticator data ends with these bytes after the COSE key.
    TrailingAuthDataBytes(Vec<u8>),
    /// One extra byte (0x00, the CBOR integer 0) follows the top-level map.
    TrailingCborBytes,
    /// `fmt` is `"packed"` instead of `"apple-appattest"`.
    WrongFormat,
    /// `x5c` contains the intermediate first and the credential certificate second.
    X5cReversed,
}

/// Builds the attestation object for `device` as `spec` describes it.
pub(crate) fn build(device: &SimulatedDevice, pki: &TestPki, spec: &AttestationSpec) -> Vec<u8> {
    let mutation = &spec.mutation;
    let public_key = device.public_key();
    let key_id = device.key_id();

    let auth_data = build_auth_data(&public_key, &key_id, spec);
    let nonce = expected_cert_nonce(&auth_data, &spec.client_data_hash);
    let nonce_extension = match mutation {
        AttestationMutation::CertNonce(value) => NonceExtension::Value(*value),
        AttestationMutation::MalformedNonceExtension => NonceExtension::Truncated(nonce),
        AttestationMutation::NoNonceExtension => NonceExtension::Omitted,
        _ => NonceExtension::Value(nonce),
    };
    let request = CredentialRequest {
        public_key: &public_key,
        common_name: hex::encode(key_id),
        not_before: spec.leaf_not_before,
        not_after: spec.leaf_not_after,
        nonce_extension,
    };

    let other_pki;
    let issuing_pki = if *mutation == AttestationMutation::LeafSignedByOtherPki {
        other_pki = TestPki::new();
        &other_pki
    } else {
        pki
    };
    let credential_certificate = bytes(&issuing_pki.issue_credential_certificate(&request));
    let intermediate = bytes(issuing_pki.intermediate_der());
    let x5c = match mutation {
        AttestationMutation::OnlyLeafInX5c => vec![credential_certificate],
        AttestationMutation::X5cReversed => vec![intermediate, credential_certificate],
        _ => vec![credential_certificate, intermediate],
    };

    let mut statement = vec![(text("x5c"), Value::Array(x5c))];
    if *mutation != AttestationMutation::MissingReceipt {
        statement.push((text("receipt"), bytes(PLACEHOLDER_RECEIPT)));
    }

    let format = if *mutation == AttestationMutation::WrongFormat {
        "packed"
    } else {
        APP_ATTEST_FORMAT
    };
    let mut entries = vec![
        (text("fmt"), text(format)),
        (text("attStmt"), Value::Map(statement)),
        (text("authData"), bytes(&auth_data)),
    ];
    if *mutation == AttestationMutation::DuplicateTopLevelKey {
        entries.push((text("fmt"), text(format)));
    }

    let mut object = if *mutation == AttestationMutation::IndefiniteLength {
        encode_indefinite_map(&entries)
    } else {
        encode(&Value::Map(entries))
    };
    if *mutation == AttestationMutation::TrailingCborBytes {
        object.push(0x00);
    }
    object
}

/// Builds the authenticator data: rpIdHash ‖ flags ‖ signCount ‖ aaguid ‖ credentialIdLength ‖
/// credentialId ‖ COSE key, then the extension map or trailing junk that the mutation selects.
fn build_auth_data(public_key: &[u8; 65], key_id: &[u8; 32], spec: &AttestationSpec) -> Vec<u8> {
    let mutation = &spec.mutation;

    let rp_id_hash = match mutation {
        AttestationMutation::RpIdOf(other_app_id) => app_id_hash(other_app_id),
        _ => app_id_hash(&spec.app_id),
    };
    let flags = match mutation {
        AttestationMutation::ExtensionMap { ed_flag: true } => {
            FLAG_ATTESTED_CREDENTIAL_DATA | FLAG_EXTENSION_DATA
        }
        _ => FLAG_ATTESTED_CREDENTIAL_DATA,
    };
    let sign_count = match mutation {
        AttestationMutation::Counter(value) => *value,
        _ => 0,
    };
    let aaguid = match mutation {
        AttestationMutation::Aaguid(value) => *value,
        _ => spec.environment.aaguid(),
    };
    let credential_id: &[u8] = match mutation {
        AttestationMutation::CredentialId(value) => value,
        _ => key_id,
    };
    // Only `AttestationMutation::CredentialId` can exceed the 16-bit length field, and its
    // documentation states the panic.
    let credential_id_length = u16::try_from(credential_id.len())
        .expect("credential id longer than 65535 bytes cannot be encoded");
    let cose_key = match mutation {
        AttestationMutation::CoseMapReordered => cose_key(public_key, CoseKeyOrder::Reversed),
        AttestationMutation::CosePublicKeyOfAnotherKey => {
            let other_key = SimulatedDevice::new().public_key();
            cose_key(&other_key, CoseKeyOrder::Usual)
        }
        _ => cose_key(public_key, CoseKeyOrder::Usual),
    };

    let mut auth_data = Vec::with_capacity(37 + 16 + 2 + credential_id.len() + cose_key.len());
    auth_data.extend_from_slice(&rp_id_hash);
    auth_data.push(flags);
    auth_data.extend_from_slice(&sign_count.to_be_bytes());
    auth_data.extend_from_slice(&aaguid);
    auth_data.extend_from_slice(&credential_id_length.to_be_bytes());
    auth_data.extend_from_slice(credential_id);
    auth_data.extend_from_slice(&cose_key);
    match mutation {
        AttestationMutation::ExtensionMap { .. } => {
            auth_data.extend_from_slice(&ios_extension_map());
        }
        AttestationMutation::TrailingAuthDataBytes(junk) => auth_data.extend_from_slice(junk),
        _ => {}
    }
    auth_data
}

/// The order of the entries in a COSE key map.
#[derive(Clone, Copy, Debug)]
enum CoseKeyOrder {
    /// `-3, -2, -1, 3, 1`.
    Reversed,
    /// `1, 3, -1, -2, -3`, as iOS writes it.
    Usual,
}

/// Encodes an EC2 COSE key for an uncompressed P-256 point: kty 2 (EC2), alg -7 (ES256),
/// crv 1 (P-256), x and y.
fn cose_key(public_key: &[u8; 65], order: CoseKeyOrder) -> Vec<u8> {
    let mut entries = vec![
        (int(1), int(2)),
        (int(3), int(-7)),
        (int(-1), int(1)),
        (int(-2), bytes(&public_key[1..33])),
        (int(-3), bytes(&public_key[33..65])),
    ];
    if let CoseKeyOrder::Reversed = order {
        entries.reverse();
    }
    encode(&Value::Map(entries))
}

/// Encodes the extension map that recent iOS versions append to authenticator data.
pub(crate) fn ios_extension_map() -> Vec<u8> {
    encode(&Value::Map(vec![
        (
            text("apple_bundle_version_01"),
            text(IOS_EXTENSION_BUNDLE_VERSION),
        ),
        (
            text("apple_validation_category_01"),
            bytes(&IOS_EXTENSION_VALIDATION_CATEGORY),
        ),
    ]))
}
