//! Path validation: from the certificates a server sends to the path a client actually trusts.
//!
//! A server sends a list of certificates. A client builds a path from the leaf through some of
//! them to one of its trust anchors. Certificates it does not need drop out, and the anchor
//! may not have been sent at all. Pins must be matched on that path, never on the served list,
//! or an interceptor could add a genuine pinned certificate to its own chain.

use std::fmt;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, TrustAnchor, UnixTime};
use webpki::{EndEntityCert, KeyUsage};
use x509_parser::oid_registry::{
    OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_NIST_EC_P384, OID_PKCS1_RSAENCRYPTION,
    OID_SIG_ED448, OID_SIG_ED25519,
};
use x509_parser::prelude::{FromDer, X509Name};
use x509_parser::x509::SubjectPublicKeyInfo;

use crate::Error;
use crate::pin::{Pin, parse_certificate};

/// The type and size of a certificate's public key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// RSA with a modulus of `bits` bits.
    Rsa {
        /// Modulus size in bits.
        bits: u32,
    },
    /// ECDSA on NIST P-256 (secp256r1).
    EcP256,
    /// ECDSA on NIST P-384 (secp384r1).
    EcP384,
    /// Any other key: another curve, Ed25519, DSA, or an unknown algorithm.
    Other(String),
}

impl KeyType {
    /// Reads the key type from a DER SubjectPublicKeyInfo.
    pub fn from_spki_der(spki_der: &[u8]) -> Result<Self, Error> {
        Ok(Self::from_spki(&parse_spki_der(spki_der)?))
    }

    pub(crate) fn from_spki(spki: &SubjectPublicKeyInfo<'_>) -> Self {
        let algorithm = &spki.algorithm.algorithm;
        if *algorithm == OID_PKCS1_RSAENCRYPTION {
            return match spki.parsed() {
                Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => Self::Rsa {
                    bits: u32::try_from(rsa.key_size()).unwrap_or(u32::MAX),
                },
                _ => Self::Other("RSA (unreadable modulus)".into()),
            };
        }
        if *algorithm == OID_KEY_TYPE_EC_PUBLIC_KEY {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|params| params.as_oid().ok());
            return match curve {
                Some(oid) if oid == OID_EC_P256 => Self::EcP256,
                Some(oid) if oid == OID_NIST_EC_P384 => Self::EcP384,
                Some(oid) if oid.to_id_string() == "1.3.132.0.35" => Self::Other("EC P-521".into()),
                Some(oid) => Self::Other(format!("EC curve {oid}")),
                None => Self::Other("EC without a named curve".into()),
            };
        }
        if *algorithm == OID_SIG_ED25519 {
            return Self::Other("Ed25519".into());
        }
        if *algorithm == OID_SIG_ED448 {
            return Self::Other("Ed448".into());
        }
        Self::Other(format!("key algorithm {algorithm}"))
    }

    /// Returns true for the key types that mobile pinning libraries rebuild or accept:
    /// RSA 2048, 3072 and 4096, EC P-256 and EC P-384.
    ///
    /// iOS pinners that rebuild the SPKI from a table of DER prefixes (TrustKit and others)
    /// cannot pin any other key.
    pub fn is_mobile_supported(&self) -> bool {
        match self {
            Self::Rsa { bits } => matches!(bits, 2048 | 3072 | 4096),
            Self::EcP256 | Self::EcP384 => true,
            Self::Other(_) => false,
        }
    }
}

/// Parses a DER SubjectPublicKeyInfo that must span all of `der`.
pub(crate) fn parse_spki_der(der: &[u8]) -> Result<SubjectPublicKeyInfo<'_>, Error> {
    match SubjectPublicKeyInfo::from_der(der) {
        Ok(([], spki)) => Ok(spki),
        Ok(_) => Err(Error::MalformedPublicKey {
            detail: "trailing bytes after the SubjectPublicKeyInfo".into(),
        }),
        Err(err) => Err(Error::MalformedPublicKey {
            detail: err.to_string(),
        }),
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rsa { bits } => write!(f, "RSA-{bits}"),
            Self::EcP256 => f.write_str("EC P-256"),
            Self::EcP384 => f.write_str("EC P-384"),
            Self::Other(name) => f.write_str(name),
        }
    }
}

impl serde::Serialize for KeyType {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for KeyType {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Ok(Self::from_name(&text))
    }
}

impl KeyType {
    /// Reads the name [`Display`](fmt::Display) writes: `RSA-2048`, `EC P-256`, `EC P-384`;
    /// any other text becomes [`KeyType::Other`].
    pub fn from_name(name: &str) -> Self {
        match name {
            "EC P-256" => Self::EcP256,
            "EC P-384" => Self::EcP384,
            _ => match name.strip_prefix("RSA-").map(str::parse::<u32>) {
                Some(Ok(bits)) => Self::Rsa { bits },
                _ => Self::Other(name.to_owned()),
            },
        }
    }
}

/// The position of a certificate relative to the validated path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CertificateRole {
    /// The server's own certificate, first on the path.
    Leaf,
    /// A CA certificate between the leaf and the anchor.
    Intermediate,
    /// Returns the trust anchor the path ends at.
    Anchor,
    /// Served by the server but not used by the path.
    ServedOnly,
}

/// One certificate seen during validation, with what pinning needs to know about it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ChainCertificate {
    /// Its place relative to the path.
    pub role: CertificateRole,
    /// The SPKI SHA-256 pin of its key.
    pub pin: Pin,
    /// The subject distinguished name, for display.
    pub subject: String,
    /// notBefore, Unix seconds; `None` for an anchor known only by its key.
    pub not_before: Option<u64>,
    /// notAfter, Unix seconds; `None` for an anchor known only by its key.
    pub not_after: Option<u64>,
    /// The key type and size.
    pub key_type: KeyType,
    /// The DER certificate; `None` for an anchor known only by its key.
    #[serde(skip)]
    pub der: Option<CertificateDer<'static>>,
}

impl ChainCertificate {
    /// Describes a DER certificate in the given role.
    pub fn from_certificate_der(der: &[u8], role: CertificateRole) -> Result<Self, Error> {
        let cert = parse_certificate(der)?;
        let spki = &cert.tbs_certificate.subject_pki;
        let validity = cert.validity();
        Ok(Self {
            role,
            pin: Pin::from_spki_der(spki.raw),
            subject: cert.subject().to_string(),
            not_before: Some(unix_seconds(validity.not_before.timestamp())),
            not_after: Some(unix_seconds(validity.not_after.timestamp())),
            key_type: KeyType::from_spki(spki),
            der: Some(CertificateDer::from(der.to_vec())),
        })
    }

    /// Describes a trust anchor known only by its subject and key.
    pub fn from_trust_anchor(anchor: &TrustAnchor<'_>) -> Self {
        let spki = webpki::spki_for_anchor(anchor);
        let key_type = KeyType::from_spki_der(spki.as_ref())
            .unwrap_or_else(|_| KeyType::Other("unreadable key".into()));
        Self {
            role: CertificateRole::Anchor,
            pin: Pin::from_spki_der(spki.as_ref()),
            subject: anchor_subject(anchor),
            not_before: None,
            not_after: None,
            key_type,
            der: None,
        }
    }
}

/// The path a client builds from a served chain to one of its trust anchors.
///
/// Only [`validate_path`] and [`TrustStore::validate`] create one, after the chain validated.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ValidatedPath {
    path: Vec<ChainCertificate>,
    served_only: Vec<ChainCertificate>,
}

impl ValidatedPath {
    /// Returns the certificates on the path, leaf first and trust anchor last.
    pub fn certificates(&self) -> &[ChainCertificate] {
        &self.path
    }

    /// Returns the leaf certificate.
    pub fn leaf(&self) -> &ChainCertificate {
        // A path always contains at least the leaf and the anchor.
        &self.path[0]
    }

    /// Returns the trust anchor the path ends at.
    pub fn anchor(&self) -> &ChainCertificate {
        &self.path[self.path.len() - 1]
    }

    /// Returns the intermediates, from the leaf's issuer towards the anchor.
    pub fn intermediates(&self) -> &[ChainCertificate] {
        &self.path[1..self.path.len() - 1]
    }

    /// Returns the pins of every certificate on the path, leaf first.
    pub fn pins(&self) -> impl Iterator<Item = Pin> + '_ {
        self.path.iter().map(|cert| cert.pin)
    }

    /// Returns true when some certificate on the path has this pin.
    pub fn contains_pin(&self, pin: &Pin) -> bool {
        self.path.iter().any(|cert| cert.pin == *pin)
    }

    /// Returns the first certificate on the path, from the leaf, whose pin is in `pins`.
    pub fn first_pinned<'a>(
        &self,
        pins: impl IntoIterator<Item = &'a Pin>,
    ) -> Option<&ChainCertificate> {
        let pins: Vec<&Pin> = pins.into_iter().collect();
        self.path.iter().find(|cert| pins.contains(&&cert.pin))
    }

    /// Returns the certificates the server sent that are not on the path.
    pub fn served_only(&self) -> &[ChainCertificate] {
        &self.served_only
    }

    /// Pins of served certificates whose key is not on the path: a pin set holding one of
    /// these matches the served list but not what the client trusts.
    pub fn served_only_pins(&self) -> Vec<Pin> {
        let mut pins: Vec<Pin> = self
            .served_only
            .iter()
            .map(|cert| cert.pin)
            .filter(|pin| !self.contains_pin(pin))
            .collect();
        pins.dedup();
        pins
    }
}

/// Validates `served` (leaf first, then the certificates the server sent with it) for `host`
/// at time `now` against `anchors`, with the server-authentication EKU, and describes the
/// path that validated.
///
/// The anchor at the end of the path is described from its key and subject only (no expiry),
/// because a [`TrustAnchor`] keeps nothing else. [`TrustStore::validate`] fills in the anchor
/// certificate when the store contains it.
pub fn validate_path(
    served: &[CertificateDer<'_>],
    anchors: &[TrustAnchor<'_>],
    host: &ServerName<'_>,
    now: UnixTime,
) -> Result<ValidatedPath, Error> {
    validate_with(served, anchors, host, now, |anchor| {
        ChainCertificate::from_trust_anchor(anchor)
    })
}

fn validate_with(
    served: &[CertificateDer<'_>],
    anchors: &[TrustAnchor<'_>],
    host: &ServerName<'_>,
    now: UnixTime,
    describe_anchor: impl Fn(&TrustAnchor<'_>) -> ChainCertificate,
) -> Result<ValidatedPath, Error> {
    let (leaf_der, intermediates) = served.split_first().ok_or(Error::EmptyChain)?;
    let leaf = EndEntityCert::try_from(leaf_der).map_err(|err| Error::MalformedCertificate {
        detail: err.to_string(),
    })?;
    let verified = leaf
        .verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            anchors,
            intermediates,
            now,
            KeyUsage::server_auth(),
            None,
            None,
        )
        .map_err(|err| map_webpki_error(err, host))?;
    leaf.verify_is_valid_for_subject_name(host)
        .map_err(|err| map_webpki_error(err, host))?;

    let mut path = vec![ChainCertificate::from_certificate_der(
        leaf_der.as_ref(),
        CertificateRole::Leaf,
    )?];
    for intermediate in verified.intermediate_certificates() {
        path.push(ChainCertificate::from_certificate_der(
            intermediate.der().as_ref(),
            CertificateRole::Intermediate,
        )?);
    }
    path.push(describe_anchor(verified.anchor()));

    let mut served_only = Vec::new();
    for der in intermediates {
        let on_path = path.iter().any(|cert| {
            cert.der
                .as_ref()
                .is_some_and(|own| own.as_ref() == der.as_ref())
        });
        if !on_path {
            served_only.push(ChainCertificate::from_certificate_der(
                der.as_ref(),
                CertificateRole::ServedOnly,
            )?);
        }
    }
    Ok(ValidatedPath { path, served_only })
}

fn map_webpki_error(err: webpki::Error, host: &ServerName<'_>) -> Error {
    match err {
        webpki::Error::UnknownIssuer => Error::UnknownIssuer,
        webpki::Error::CertExpired { time, not_after } => Error::CertificateExpired {
            time: time.as_secs(),
            not_after: not_after.as_secs(),
        },
        webpki::Error::CertNotValidYet { time, not_before } => Error::CertificateNotYetValid {
            time: time.as_secs(),
            not_before: not_before.as_secs(),
        },
        webpki::Error::InvalidSignatureForPublicKey => Error::CertificateSignatureInvalid,
        webpki::Error::CertNotValidForName(_) => Error::CertificateNameMismatch {
            host: host.to_str().into_owned(),
        },
        other => Error::PathInvalid {
            detail: format!("{other:?}"),
        },
    }
}

/// Trust anchors, with the anchor certificates kept when they are known.
///
/// Keeping the certificate lets a validated path report the anchor's expiry, which the publish
/// gate needs to reject a pin on a root that expires before the pin document does.
#[derive(Clone, Debug, Default)]
pub struct TrustStore {
    anchors: Vec<TrustAnchor<'static>>,
    certificates: Vec<Option<CertificateDer<'static>>>,
}

impl TrustStore {
    /// Returns a store with no anchors.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Returns the Mozilla root store as shipped in the `webpki-roots` crate (keys and subjects
    /// only, so anchors from it report no expiry).
    pub fn mozilla() -> Self {
        let anchors = mozilla_roots().to_vec();
        let certificates = vec![None; anchors.len()];
        Self {
            anchors,
            certificates,
        }
    }

    /// Builds a store from every certificate in a PEM bundle.
    pub fn from_pem(pem: &[u8]) -> Result<Self, Error> {
        let mut store = Self::empty();
        for cert in certificates_from_pem(pem)? {
            store.add_certificate_der(cert)?;
        }
        Ok(store)
    }

    /// Adds a DER certificate as a trust anchor.
    pub fn add_certificate_der(&mut self, der: CertificateDer<'_>) -> Result<(), Error> {
        let der = der.into_owned();
        let anchor = webpki::anchor_from_trusted_cert(&der)
            .map_err(|err| Error::InvalidTrustAnchor {
                detail: format!("{err:?}"),
            })?
            .to_owned();
        parse_certificate(der.as_ref())?;
        self.anchors.push(anchor);
        self.certificates.push(Some(der));
        Ok(())
    }

    /// Adds a trust anchor known only by its subject and key.
    pub fn add_anchor(&mut self, anchor: TrustAnchor<'_>) {
        self.anchors.push(anchor.to_owned());
        self.certificates.push(None);
    }

    /// Returns the anchors, for [`validate_path`] or a rustls verifier.
    pub fn anchors(&self) -> &[TrustAnchor<'static>] {
        &self.anchors
    }

    /// Returns the pins of every anchor, in insertion order.
    pub fn pins(&self) -> Vec<Pin> {
        self.anchors.iter().map(Pin::from_trust_anchor).collect()
    }

    /// Number of anchors.
    pub fn len(&self) -> usize {
        self.anchors.len()
    }

    /// Returns true when the store has no anchors.
    pub fn is_empty(&self) -> bool {
        self.anchors.is_empty()
    }

    /// Validates like [`validate_path`], describing the anchor from its certificate when the
    /// store contains it.
    pub fn validate(
        &self,
        served: &[CertificateDer<'_>],
        host: &ServerName<'_>,
        now: UnixTime,
    ) -> Result<ValidatedPath, Error> {
        validate_with(served, &self.anchors, host, now, |anchor| {
            self.anchors
                .iter()
                .position(|own| own == anchor)
                .and_then(|index| self.certificates[index].as_ref())
                .and_then(|der| {
                    ChainCertificate::from_certificate_der(der.as_ref(), CertificateRole::Anchor)
                        .ok()
                })
                .unwrap_or_else(|| ChainCertificate::from_trust_anchor(anchor))
        })
    }
}

/// Returns the Mozilla root store from the `webpki-roots` crate.
pub fn mozilla_roots() -> &'static [TrustAnchor<'static>] {
    webpki_roots::TLS_SERVER_ROOTS
}

/// Reads every `CERTIFICATE` section of a PEM text, in order. Other sections are skipped.
///
/// Fails when the text contains no certificate or a section is malformed.
pub fn certificates_from_pem(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, Error> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| Error::Pem {
            detail: err.to_string(),
        })?;
    if certs.is_empty() {
        return Err(Error::Pem {
            detail: "no CERTIFICATE section found".into(),
        });
    }
    Ok(certs)
}

/// Formats a trust anchor's subject, which pki-types stores without its outer SEQUENCE.
fn anchor_subject(anchor: &TrustAnchor<'_>) -> String {
    // The trust anchor keeps the subject without its SEQUENCE header.
    let wrapped = der_tlv(0x30, anchor.subject.as_ref());
    match X509Name::from_der(&wrapped) {
        Ok(([], name)) => name.to_string(),
        _ => "(unreadable subject)".into(),
    }
}

/// Encodes one DER TLV: `tag`, the definite length of `content` (short or long form), then
/// `content`.
pub(crate) fn der_tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

fn unix_seconds(timestamp: i64) -> u64 {
    u64::try_from(timestamp).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_tlv_uses_long_form_lengths() {
        assert_eq!(der_tlv(0x30, &[1, 2]), vec![0x30, 2, 1, 2]);
        let long = vec![0u8; 300];
        let wrapped = der_tlv(0x30, &long);
        assert_eq!(&wrapped[..4], &[0x30, 0x82, 0x01, 0x2c]);
        assert_eq!(wrapped.len(), 304);
    }

    #[test]
    fn mozilla_roots_have_readable_subjects_and_keys() {
        let roots = mozilla_roots();
        assert!(roots.len() > 100, "{}", roots.len());
        for anchor in roots {
            let cert = ChainCertificate::from_trust_anchor(anchor);
            assert!(!cert.subject.starts_with('('), "{}", cert.subject);
            // Mozilla's store contains RSA, P-256, P-384 and a few P-521 roots.
            assert!(
                cert.key_type.is_mobile_supported()
                    || cert.key_type == KeyType::Other("EC P-521".into()),
                "{}: {}",
                cert.subject,
                cert.key_type
            );
        }
    }

    #[test]
    fn empty_chain_is_rejected() {
        let host = ServerName::try_from("example.com").unwrap();
        let err = validate_path(
            &[],
            mozilla_roots(),
            &host,
            UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_700_000_000)),
        )
        .unwrap_err();
        assert_eq!(err, Error::EmptyChain);
    }
}
