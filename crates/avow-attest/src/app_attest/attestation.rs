//! Verification of App Attest attestation objects.

use ciborium::value::Value;
use rustls_pki_types::UnixTime;
use x509_parser::certificate::X509Certificate;
use x509_parser::oid_registry::Oid;

use super::auth_data::{self, AttestationAuthData, Extensions};
use super::{AppId, CheckOutcome, Environment, MAX_ATTESTATION_LEN, Roots};
use crate::{CheckReport, Error, cbor, sha256};

/// The `fmt` value of App Attest attestation objects.
const FORMAT: &str = "apple-appattest";

/// OID 1.2.840.113635.100.8.2, Apple's nonce extension in the credential certificate.
const NONCE_EXTENSION_OID: &[u64] = &[1, 2, 840, 113_635, 100, 8, 2];

/// The inputs for verifying one attestation: the evidence and what it must match.
#[derive(Clone, Copy, Debug)]
pub struct AttestationInput<'a> {
    /// The attestation object bytes (CBOR), as returned by `attestKey`.
    pub attestation_object: &'a [u8],
    /// The key id decoded to bytes: SHA-256 of the key's public point, 32 bytes.
    pub key_id: &'a [u8],
    /// The bytes the app passed to `attestKey` as `clientDataHash`.
    pub client_data_hash: &'a [u8],
    /// The App ID the key must belong to.
    pub app_id: &'a AppId,
    /// The environment the app's keys must come from.
    pub environment: Environment,
}

/// The checks of an attestation, in the order they run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AttestationCheck {
    /// The object decodes strictly: `fmt` is `apple-appattest`, the statement has `x5c` and
    /// `receipt`, and the authenticator data is well formed.
    Structure,
    /// Step 1: `x5c` is the credential certificate then the intermediate, and they chain to a
    /// trusted root at the verification time.
    CertificateChain,
    /// Steps 2 to 4: the credential certificate's nonce extension equals
    /// SHA-256(authData ‖ clientDataHash).
    CertificateNonce,
    /// Step 5: the key id equals SHA-256 of the certificate's public key point.
    KeyId,
    /// Step 6: `rpIdHash` equals SHA-256 of the App ID.
    AppId,
    /// Step 7: the signature counter is 0.
    Counter,
    /// Step 8: the AAGUID names the expected environment.
    Environment,
    /// Step 9: the credential id equals the key id.
    CredentialId,
    /// The credential public key in the authenticator data equals the certificate's key.
    PublicKey,
}

impl AttestationCheck {
    /// Every check, in the order they run.
    pub const ALL: [Self; 9] = [
        Self::Structure,
        Self::CertificateChain,
        Self::CertificateNonce,
        Self::KeyId,
        Self::AppId,
        Self::Counter,
        Self::Environment,
        Self::CredentialId,
        Self::PublicKey,
    ];

    /// Returns the snake_case name of the check.
    pub fn name(self) -> &'static str {
        match self {
            Self::Structure => "structure",
            Self::CertificateChain => "certificate_chain",
            Self::CertificateNonce => "certificate_nonce",
            Self::KeyId => "key_id",
            Self::AppId => "app_id",
            Self::Counter => "counter",
            Self::Environment => "environment",
            Self::CredentialId => "credential_id",
            Self::PublicKey => "public_key",
        }
    }

    /// Returns a one-line description of what the check requires.
    pub fn description(self) -> &'static str {
        match self {
            Self::Structure => "strict CBOR, fmt apple-appattest, x5c, receipt, authenticator data",
            Self::CertificateChain => "x5c chains to a trusted root at the verification time",
            Self::CertificateNonce => {
                "certificate nonce = SHA-256(authenticator data || client data hash)"
            }
            Self::KeyId => "key id = SHA-256(credential certificate public key)",
            Self::AppId => "rpIdHash = SHA-256(app id)",
            Self::Counter => "counter = 0",
            Self::Environment => "AAGUID matches the expected environment",
            Self::CredentialId => "credential id = key id",
            Self::PublicKey => "credential public key = certificate public key",
        }
    }
}

/// The outcome of every check of one attestation.
pub type AttestationReport = CheckReport<AttestationCheck, VerifiedAttestation>;

/// An attestation that passed every check. Only this crate constructs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedAttestation {
    key_id: [u8; 32],
    public_key: [u8; 65],
    environment: Environment,
    receipt: Vec<u8>,
    extensions: Option<Extensions>,
    certificate_not_after: u64,
}

impl VerifiedAttestation {
    /// Returns the key id, SHA-256 of the public key point.
    pub fn key_id(&self) -> &[u8; 32] {
        &self.key_id
    }

    /// Returns the attested public key as an uncompressed SEC1 P-256 point.
    pub fn public_key(&self) -> &[u8; 65] {
        &self.public_key
    }

    /// Returns the environment named by the AAGUID.
    pub fn environment(&self) -> Environment {
        self.environment
    }

    /// Apple's receipt (PKCS#7), for later fraud-metric refreshes.
    pub fn receipt(&self) -> &[u8] {
        &self.receipt
    }

    /// Returns the extension map of recent iOS versions, when present.
    pub fn extensions(&self) -> Option<&Extensions> {
        self.extensions.as_ref()
    }

    /// Returns the credential certificate's notAfter, Unix seconds.
    pub fn certificate_not_after(&self) -> u64 {
        self.certificate_not_after
    }
}

/// Verifies an attestation object and returns the attested key.
///
/// # Errors
///
/// The [`Error`] of the first failed [`AttestationCheck`].
pub fn verify_attestation(
    input: &AttestationInput<'_>,
    roots: &Roots,
    now: UnixTime,
) -> Result<VerifiedAttestation, Error> {
    verify_attestation_report(input, roots, now).into_result()
}

/// Runs every check of an attestation and reports each outcome.
///
/// When the object cannot be decoded, [`AttestationCheck::Structure`] fails and every other
/// check is [`CheckOutcome::Skipped`].
pub fn verify_attestation_report(
    input: &AttestationInput<'_>,
    roots: &Roots,
    now: UnixTime,
) -> AttestationReport {
    let decoded = match decode(input.attestation_object) {
        Ok(decoded) => decoded,
        Err(error) => {
            return AttestationReport::undecodable(
                &AttestationCheck::ALL,
                error,
                "attestation object",
            );
        }
    };

    let leaf = parse_leaf(&decoded.leaf);
    let leaf_point = leaf
        .as_ref()
        .map_err(Clone::clone)
        .and_then(|leaf| leaf.public_key.clone());

    let mut outcomes = Vec::with_capacity(AttestationCheck::ALL.len());
    let mut record = |check, result: Result<(), Error>| {
        outcomes.push((check, CheckOutcome::from(result)));
    };

    record(AttestationCheck::Structure, Ok(()));
    record(
        AttestationCheck::CertificateChain,
        check_chain(&decoded, roots, now),
    );
    record(
        AttestationCheck::CertificateNonce,
        check_certificate_nonce(&decoded, leaf.as_ref(), input.client_data_hash),
    );
    record(
        AttestationCheck::KeyId,
        match &leaf_point {
            Ok(point) if sha256(point).as_slice() == input.key_id => Ok(()),
            Ok(_) => Err(Error::KeyIdMismatch),
            Err(error) => Err(error.clone()),
        },
    );
    let auth_data = &decoded.auth_data;
    record(
        AttestationCheck::AppId,
        if auth_data.header.rp_id_hash == input.app_id.rp_id_hash() {
            Ok(())
        } else {
            Err(Error::AppIdMismatch {
                expected: input.app_id.as_str().to_owned(),
            })
        },
    );
    record(
        AttestationCheck::Counter,
        match auth_data.header.counter {
            0 => Ok(()),
            received => Err(Error::CounterNotZero { received }),
        },
    );
    let environment = Environment::from_aaguid(&auth_data.aaguid);
    record(
        AttestationCheck::Environment,
        if environment == Some(input.environment) {
            Ok(())
        } else {
            Err(Error::EnvironmentMismatch {
                expected: input.environment.as_str(),
                received: environment.map_or("unknown", Environment::as_str),
            })
        },
    );
    record(
        AttestationCheck::CredentialId,
        if auth_data.credential_id.as_slice() == input.key_id {
            Ok(())
        } else {
            Err(Error::CredentialIdMismatch)
        },
    );
    record(
        AttestationCheck::PublicKey,
        match &leaf_point {
            Ok(point) if *point == auth_data.credential_public_key => Ok(()),
            Ok(_) => Err(Error::PublicKeyMismatch),
            Err(error) => Err(error.clone()),
        },
    );

    let all_passed = outcomes
        .iter()
        .all(|(_, outcome)| *outcome == CheckOutcome::Passed);
    let verified = match (all_passed, &leaf, environment) {
        (true, Ok(leaf), Some(environment)) => Some(VerifiedAttestation {
            key_id: sha256(&auth_data.credential_public_key),
            public_key: auth_data.credential_public_key,
            environment,
            receipt: decoded.receipt.clone(),
            extensions: auth_data.extensions.clone(),
            certificate_not_after: leaf.not_after,
        }),
        _ => None,
    };
    AttestationReport::new(outcomes, verified, "attestation object")
}

/// The parts of an attestation object, decoded but not yet verified.
struct Decoded {
    leaf: Vec<u8>,
    intermediates: Vec<Vec<u8>>,
    receipt: Vec<u8>,
    auth_data_bytes: Vec<u8>,
    auth_data: AttestationAuthData,
}

fn decode(attestation_object: &[u8]) -> Result<Decoded, Error> {
    if attestation_object.len() > MAX_ATTESTATION_LEN {
        return Err(Error::InputTooLarge {
            what: "attestation object",
            len: attestation_object.len(),
            max: MAX_ATTESTATION_LEN,
        });
    }
    let object = cbor::decode_exact(attestation_object, "attestation object")?;
    let entries = cbor::as_map(&object, "attestation object")?;

    let format = cbor::required_text(entries, "fmt", "fmt")?;
    if format != FORMAT {
        return Err(Error::UnsupportedFormat {
            expected: FORMAT,
            received: format.to_owned(),
        });
    }
    let statement =
        cbor::text_key(entries, "attStmt").ok_or(Error::MissingField { what: "attStmt" })?;
    let statement = cbor::as_map(statement, "attStmt")?;
    let Some(Value::Array(x5c)) = cbor::text_key(statement, "x5c") else {
        return Err(Error::MissingField {
            what: "attStmt.x5c",
        });
    };
    let mut certificates = Vec::with_capacity(x5c.len());
    for certificate in x5c {
        let Value::Bytes(der) = certificate else {
            return Err(Error::MissingField {
                what: "attStmt.x5c",
            });
        };
        certificates.push(der.clone());
    }
    let receipt = cbor::required_bytes(statement, "receipt", "attStmt.receipt")?.to_vec();
    let auth_data_bytes = cbor::required_bytes(entries, "authData", "authData")?.to_vec();
    let auth_data = auth_data::parse_attestation(&auth_data_bytes)?;

    let mut certificates = certificates.into_iter();
    let leaf = certificates.next().ok_or(Error::MissingField {
        what: "attStmt.x5c",
    })?;
    Ok(Decoded {
        leaf,
        intermediates: certificates.collect(),
        receipt,
        auth_data_bytes,
        auth_data,
    })
}

/// The fields of the credential certificate that later checks use.
#[derive(Clone, Debug)]
struct Leaf {
    /// The public key as an uncompressed P-256 point, or why it is not one.
    public_key: Result<[u8; 65], Error>,
    /// The nonce extension's octet string, or why it cannot be read.
    nonce: Result<[u8; 32], Error>,
    not_after: u64,
}

fn parse_leaf(der: &[u8]) -> Result<Leaf, Error> {
    let (_, certificate) = x509_parser::parse_x509_certificate(der)
        .map_err(|_| Error::MalformedCertificate { which: "leaf" })?;
    Ok(Leaf {
        public_key: leaf_public_key(&certificate),
        nonce: leaf_nonce(&certificate),
        not_after: unix_seconds(certificate.validity().not_after.timestamp()),
    })
}

fn unix_seconds(timestamp: i64) -> u64 {
    u64::try_from(timestamp).unwrap_or(0)
}

fn leaf_public_key(certificate: &X509Certificate<'_>) -> Result<[u8; 65], Error> {
    let spki = certificate.public_key();
    let is_p256 = spki.algorithm.algorithm == x509_parser::oid_registry::OID_KEY_TYPE_EC_PUBLIC_KEY
        && spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|parameters| parameters.as_oid().ok())
            == Some(x509_parser::oid_registry::OID_EC_P256);
    if !is_p256 {
        return Err(Error::UnsupportedCertificateKey);
    }
    let point = spki.subject_public_key.data.as_ref();
    match point {
        [0x04, ..] => <[u8; 65]>::try_from(point).map_err(|_| Error::UnsupportedCertificateKey),
        _ => Err(Error::UnsupportedCertificateKey),
    }
}

/// Reads the nonce extension, DER `SEQUENCE { [1] EXPLICIT OCTET STRING (SIZE (32)) }`.
fn leaf_nonce(certificate: &X509Certificate<'_>) -> Result<[u8; 32], Error> {
    let oid = Oid::from(NONCE_EXTENSION_OID).map_err(|_| Error::CertificateNonceMalformed)?;
    let extension = certificate
        .get_extension_unique(&oid)
        .map_err(|_| Error::CertificateNonceMalformed)?
        .ok_or(Error::CertificateNonceMissing)?;
    // The encoding has one valid form with a 32-byte value, so the whole value is compared
    // with its expected header instead of running a general DER parser over it.
    let value = extension.value;
    let Some((header, nonce)) = value.split_first_chunk::<6>() else {
        return Err(Error::CertificateNonceMalformed);
    };
    if *header != [0x30, 0x24, 0xa1, 0x22, 0x04, 0x20] {
        return Err(Error::CertificateNonceMalformed);
    }
    <[u8; 32]>::try_from(nonce).map_err(|_| Error::CertificateNonceMalformed)
}

fn check_chain(decoded: &Decoded, roots: &Roots, now: UnixTime) -> Result<(), Error> {
    let count = 1 + decoded.intermediates.len();
    if count != 2 {
        return Err(Error::CertificateChainLength {
            len: count,
            expected: 2,
        });
    }
    crate::x509::verify_chain(
        &decoded.leaf,
        &decoded.intermediates,
        roots,
        now,
        crate::x509::ECDSA_ALGORITHMS,
        None,
    )
}

fn check_certificate_nonce(
    decoded: &Decoded,
    leaf: Result<&Leaf, &Error>,
    client_data_hash: &[u8],
) -> Result<(), Error> {
    let leaf = leaf.map_err(Clone::clone)?;
    let certificate_nonce = leaf.nonce.as_ref().map_err(Clone::clone)?;
    // Apple calls this value the nonce. It is not the server's nonce: it binds the
    // authenticator data to the client data hash.
    let mut message = Vec::with_capacity(decoded.auth_data_bytes.len() + client_data_hash.len());
    message.extend_from_slice(&decoded.auth_data_bytes);
    message.extend_from_slice(client_data_hash);
    let expected_certificate_nonce = sha256(&message);
    if *certificate_nonce == expected_certificate_nonce {
        Ok(())
    } else {
        Err(Error::CertificateNonceMismatch)
    }
}
