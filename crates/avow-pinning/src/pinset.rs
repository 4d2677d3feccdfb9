//! Per-domain pin sets and the operator inputs that name a backup key.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rustls_pki_types::pem::{PemObject, SectionKind};
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::prelude::FromDer;

use crate::chain::{KeyType, der_tlv, parse_spki_der};
use crate::pin::{Pin, parse_certificate};
use crate::{Error, HostPattern};

/// Why a pin is in a set, which decides how the publish gate and the client treat it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum PinRole {
    /// A key on the chain the host serves now.
    Current,
    /// A key that is not served yet and that the operator keeps ready for the next rotation.
    Backup,
    /// A root key, pinned so that any chain from that root is accepted.
    Root,
    /// A key that was current before a rotation, kept until `until` (Unix seconds) so that
    /// clients holding the older document keep working.
    Previous {
        /// End of the grace period, Unix seconds.
        until: u64,
    },
}

impl PinRole {
    /// Returns the role's name: `current`, `backup`, `root` or `previous`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Current => "current",
            Self::Backup => "backup",
            Self::Root => "root",
            Self::Previous { .. } => "previous",
        }
    }
}

impl fmt::Display for PinRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Previous { until } => write!(f, "previous (until {until})"),
            other => f.write_str(other.name()),
        }
    }
}

/// Whether a pinned key belongs to a server (leaf) or to a certificate authority.
///
/// Apple's `NSPinnedDomains` keeps leaf and CA keys in separate lists, so the iOS export
/// needs to know.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyLevel {
    /// A server's own key.
    Leaf,
    /// The key of an intermediate or root CA.
    Ca,
}

/// One pin of a set, with its role and what is known about its key.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PinEntry {
    /// The pin.
    pub pin: Pin,
    /// The reason it is in the set.
    #[serde(flatten)]
    pub role: PinRole,
    /// Leaf or CA key, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<KeyLevel>,
    /// The key type, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_type: Option<KeyType>,
    /// notAfter of the certificate the pin was taken from, Unix seconds, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_after: Option<u64>,
    /// A free-form note for operators, such as the certificate subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl PinEntry {
    /// Returns an entry with only a pin and a role.
    pub fn new(pin: Pin, role: PinRole) -> Self {
        Self {
            pin,
            role,
            level: match role {
                PinRole::Root => Some(KeyLevel::Ca),
                _ => None,
            },
            key_type: None,
            not_after: None,
            note: None,
        }
    }

    /// Returns true while the entry is in force at `now` (Unix seconds): always, except for a
    /// previous pin whose grace period has ended.
    pub fn is_active(&self, now: u64) -> bool {
        match self.role {
            PinRole::Previous { until } => now < until,
            _ => true,
        }
    }
}

/// The pins in force for one host pattern, with an expiry.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PinSet {
    /// The hosts the set applies to.
    pub host: HostPattern,
    /// The pins, in the order they were added.
    pub pins: Vec<PinEntry>,
    /// When the set stops being in force, Unix seconds.
    pub expires_at: u64,
}

impl PinSet {
    /// Returns an empty set for `host` that expires at `expires_at` (Unix seconds).
    pub fn new(host: HostPattern, expires_at: u64) -> Self {
        Self {
            host,
            pins: Vec::new(),
            expires_at,
        }
    }

    /// Adds an entry, rejecting a pin that is already in the set.
    pub fn add(&mut self, entry: PinEntry) -> Result<&mut Self, Error> {
        if self.contains(&entry.pin) {
            return Err(Error::DuplicatePin {
                pin: entry.pin.to_string(),
            });
        }
        self.pins.push(entry);
        Ok(self)
    }

    /// Adds a pin with a role, rejecting a pin that is already in the set.
    pub fn add_pin(&mut self, pin: Pin, role: PinRole) -> Result<&mut Self, Error> {
        self.add(PinEntry::new(pin, role))
    }

    /// Returns true when the set contains this pin, whatever its role.
    pub fn contains(&self, pin: &Pin) -> bool {
        self.pins.iter().any(|entry| entry.pin == *pin)
    }

    /// Returns the entry for a pin.
    pub fn entry(&self, pin: &Pin) -> Option<&PinEntry> {
        self.pins.iter().find(|entry| entry.pin == *pin)
    }

    /// Returns the entries in force at `now`.
    pub fn active(&self, now: u64) -> impl Iterator<Item = &PinEntry> + '_ {
        self.pins.iter().filter(move |entry| entry.is_active(now))
    }

    /// Returns the pins in force at `now`, in the order they were added.
    pub fn active_pins(&self, now: u64) -> Vec<Pin> {
        self.active(now).map(|entry| entry.pin).collect()
    }

    /// Checks what can be checked without live chains: no repeated pin.
    ///
    /// The publish gate ([`crate::gate`]) checks the rest.
    pub fn check(&self) -> Result<(), Error> {
        for (index, entry) in self.pins.iter().enumerate() {
            if self.pins[..index]
                .iter()
                .any(|other| other.pin == entry.pin)
            {
                return Err(Error::DuplicatePin {
                    pin: entry.pin.to_string(),
                });
            }
        }
        Ok(())
    }
}

/// The kind of input an operator gave to name a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeySource {
    /// An X.509 certificate.
    Certificate,
    /// A certificate signing request, whose self-signature was checked.
    Csr,
    /// A public key (SubjectPublicKeyInfo, or a PKCS#1 RSA public key).
    PublicKey,
    /// A pin string.
    Pin,
}

/// A key named by the operator, typically the next key to deploy, reduced to its pin.
///
/// Private keys are rejected: the service never needs them and should never receive them.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct BackupKey {
    /// The key's pin.
    pub pin: Pin,
    /// The kind of input given.
    pub source: KeySource,
    /// The key type, unless only a pin was given.
    pub key_type: Option<KeyType>,
    /// The subject of the certificate or CSR.
    pub subject: Option<String>,
    /// notAfter of the certificate, Unix seconds.
    pub not_after: Option<u64>,
    /// Leaf or CA. A CSR is taken as a leaf, and a certificate states it in its basic
    /// constraints.
    pub level: Option<KeyLevel>,
}

impl BackupKey {
    /// Reads a certificate, CSR or public key in PEM, or a pin string.
    pub fn from_text(text: &str) -> Result<Self, Error> {
        let trimmed = text.trim();
        if !trimmed.starts_with("-----BEGIN ") {
            let pin = Pin::parse(trimmed)?;
            return Ok(Self::from_pin(pin));
        }
        let label = trimmed["-----BEGIN ".len()..]
            .split("-----")
            .next()
            .unwrap_or_default();
        match label {
            "RSA PUBLIC KEY" => {
                let der = pem_body(trimmed)?;
                Self::from_public_key_der(&rsa_spki_from_pkcs1(&der))
            }
            "NEW CERTIFICATE REQUEST" => {
                let der = pem_body(trimmed)?;
                Self::from_csr_der(&der)
            }
            _ if label.contains("PRIVATE KEY") => Err(Error::Pem {
                detail: format!(
                    "this is a private key ({label}); give the certificate, CSR or public key \
                     instead, and keep the private key where it is"
                ),
            }),
            _ => {
                let mut sections = <(SectionKind, Vec<u8>)>::pem_slice_iter(trimmed.as_bytes());
                let (kind, der) = sections
                    .next()
                    .ok_or_else(|| Error::Pem {
                        detail: format!("unsupported PEM section {label:?}"),
                    })?
                    .map_err(|err| Error::Pem {
                        detail: err.to_string(),
                    })?;
                if sections.next().is_some() {
                    return Err(Error::Pem {
                        detail: "more than one PEM section; give one key per backup".into(),
                    });
                }
                match kind {
                    SectionKind::Certificate => Self::from_certificate_der(&der),
                    SectionKind::Csr => Self::from_csr_der(&der),
                    SectionKind::PublicKey => Self::from_public_key_der(&der),
                    SectionKind::RsaPrivateKey
                    | SectionKind::PrivateKey
                    | SectionKind::EcPrivateKey => Err(Error::Pem {
                        detail: "this is a private key; give the certificate, CSR or public key"
                            .into(),
                    }),
                    other => Err(Error::Pem {
                        detail: format!("unsupported PEM section {other:?}"),
                    }),
                }
            }
        }
    }

    /// Reads a DER certificate, CSR or SubjectPublicKeyInfo, trying them in that order.
    pub fn from_der(der: &[u8]) -> Result<Self, Error> {
        Self::from_certificate_der(der)
            .or_else(|_| Self::from_csr_der(der))
            .or_else(|_| Self::from_public_key_der(der))
            .map_err(|_| Error::MalformedPublicKey {
                detail: "not a DER certificate, CSR or SubjectPublicKeyInfo".into(),
            })
    }

    /// Wraps a pin given as text.
    pub fn from_pin(pin: Pin) -> Self {
        Self {
            pin,
            source: KeySource::Pin,
            key_type: None,
            subject: None,
            not_after: None,
            level: None,
        }
    }

    /// Reads a DER certificate.
    pub fn from_certificate_der(der: &[u8]) -> Result<Self, Error> {
        let cert = parse_certificate(der)?;
        let spki = &cert.tbs_certificate.subject_pki;
        Ok(Self {
            pin: Pin::from_spki_der(spki.raw),
            source: KeySource::Certificate,
            key_type: Some(KeyType::from_spki(spki)),
            subject: Some(cert.subject().to_string()),
            not_after: Some(u64::try_from(cert.validity().not_after.timestamp()).unwrap_or(0)),
            level: Some(if cert.is_ca() {
                KeyLevel::Ca
            } else {
                KeyLevel::Leaf
            }),
        })
    }

    /// Reads a DER certificate signing request and checks that it is signed by its own key.
    pub fn from_csr_der(der: &[u8]) -> Result<Self, Error> {
        let csr = match X509CertificationRequest::from_der(der) {
            Ok(([], csr)) => csr,
            Ok(_) => {
                return Err(Error::MalformedCsr {
                    detail: "trailing bytes after the request".into(),
                });
            }
            Err(err) => {
                return Err(Error::MalformedCsr {
                    detail: err.to_string(),
                });
            }
        };
        csr.verify_signature()
            .map_err(|_| Error::CsrSignatureInvalid)?;
        let info = &csr.certification_request_info;
        Ok(Self {
            pin: Pin::from_spki_der(info.subject_pki.raw),
            source: KeySource::Csr,
            key_type: Some(KeyType::from_spki(&info.subject_pki)),
            subject: Some(info.subject.to_string()),
            not_after: None,
            level: Some(KeyLevel::Leaf),
        })
    }

    /// Reads a DER SubjectPublicKeyInfo.
    pub fn from_public_key_der(der: &[u8]) -> Result<Self, Error> {
        let spki = parse_spki_der(der)?;
        Ok(Self {
            pin: Pin::from_spki_der(der),
            source: KeySource::PublicKey,
            key_type: Some(KeyType::from_spki(&spki)),
            subject: None,
            not_after: None,
            level: None,
        })
    }

    /// Returns a [`PinRole::Backup`] entry carrying what is known about the key.
    pub fn to_entry(&self) -> PinEntry {
        PinEntry {
            pin: self.pin,
            role: PinRole::Backup,
            level: self.level,
            key_type: self.key_type.clone(),
            not_after: self.not_after,
            note: self.subject.clone(),
        }
    }
}

/// Decodes the base64 body of a single-section PEM text.
fn pem_body(text: &str) -> Result<Vec<u8>, Error> {
    let body: String = text
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .flat_map(|line| line.chars().filter(|c| !c.is_whitespace()))
        .collect();
    STANDARD.decode(body).map_err(|err| Error::Pem {
        detail: err.to_string(),
    })
}

/// Wraps a PKCS#1 `RSAPublicKey` in a SubjectPublicKeyInfo with the rsaEncryption algorithm.
fn rsa_spki_from_pkcs1(pkcs1: &[u8]) -> Vec<u8> {
    // AlgorithmIdentifier { rsaEncryption, NULL }
    const RSA_ALGORITHM: [u8; 15] = [
        0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
    ];
    let mut bit_string = vec![0x00];
    bit_string.extend_from_slice(pkcs1);
    let mut content = RSA_ALGORITHM.to_vec();
    content.extend(der_tlv(0x03, &bit_string));
    der_tlv(0x30, &content)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn some_pin(byte: u8) -> Pin {
        Pin::from_digest([byte; 32])
    }

    #[test]
    fn duplicates_are_rejected() {
        let mut set = PinSet::new(HostPattern::parse("api.example.com").unwrap(), 100);
        set.add_pin(some_pin(1), PinRole::Current).unwrap();
        let err = set.add_pin(some_pin(1), PinRole::Backup).unwrap_err();
        assert_eq!(err.reason(), "duplicate_pin");
    }

    #[test]
    fn previous_pins_lapse_after_their_grace_period() {
        let mut set = PinSet::new(HostPattern::parse("api.example.com").unwrap(), 1_000);
        set.add_pin(some_pin(1), PinRole::Current)
            .unwrap()
            .add_pin(some_pin(2), PinRole::Previous { until: 50 })
            .unwrap();
        assert_eq!(set.active_pins(49), vec![some_pin(1), some_pin(2)]);
        assert_eq!(set.active_pins(50), vec![some_pin(1)]);
    }

    #[test]
    fn serde_flattens_the_role() {
        let mut set = PinSet::new(HostPattern::parse("*.example.com").unwrap(), 7);
        set.add_pin(some_pin(1), PinRole::Previous { until: 5 })
            .unwrap()
            .add_pin(some_pin(2), PinRole::Root)
            .unwrap();
        let json = serde_json::to_value(&set).unwrap();
        assert_eq!(json["host"], "*.example.com");
        assert_eq!(json["pins"][0]["role"], "previous");
        assert_eq!(json["pins"][0]["until"], 5);
        assert_eq!(json["pins"][1]["role"], "root");
        assert_eq!(json["pins"][1]["level"], "ca");
        let back: PinSet = serde_json::from_value(json).unwrap();
        assert_eq!(back, set);
    }

    #[test]
    fn private_keys_are_rejected() {
        let key = rcgen::KeyPair::generate().unwrap();
        let err = BackupKey::from_text(&key.serialize_pem()).unwrap_err();
        assert_eq!(err.reason(), "invalid_pem");
        assert!(err.to_string().contains("private key"), "{err}");
    }

    #[test]
    fn backup_inputs_give_same_pin() {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["next.example.com".into()]).unwrap();
        let csr = params.serialize_request(&key).unwrap();
        let cert = params.self_signed(&key).unwrap();
        let expected = Pin::from_certificate_der(cert.der()).unwrap();

        let from_cert = BackupKey::from_text(&cert.pem()).unwrap();
        let from_csr = BackupKey::from_text(&csr.pem().unwrap()).unwrap();
        let from_key = BackupKey::from_text(&key.public_key_pem()).unwrap();
        let from_pin = BackupKey::from_text(&format!("  {expected}\n")).unwrap();
        for (backup, source) in [
            (&from_cert, KeySource::Certificate),
            (&from_csr, KeySource::Csr),
            (&from_key, KeySource::PublicKey),
            (&from_pin, KeySource::Pin),
        ] {
            assert_eq!(backup.pin, expected, "{source:?}");
            assert_eq!(backup.source, source);
        }
        assert_eq!(from_csr.key_type, Some(KeyType::EcP256));
        assert_eq!(from_csr.level, Some(KeyLevel::Leaf));
        assert_eq!(from_cert.level, Some(KeyLevel::Leaf));
        assert_eq!(BackupKey::from_der(csr.der()).unwrap().pin, expected);
        let entry = from_csr.to_entry();
        assert_eq!(entry.role, PinRole::Backup);
    }

    #[test]
    fn csr_with_bad_signature_rejected() {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["next.example.com".into()]).unwrap();
        let csr = params.serialize_request(&key).unwrap();
        let mut der = csr.der().to_vec();
        let last = der.len() - 1;
        der[last] ^= 0x01;
        let err = BackupKey::from_csr_der(&der).unwrap_err();
        assert_eq!(err, Error::CsrSignatureInvalid);
    }

    #[test]
    fn backup_pin_format_named() {
        let err = BackupKey::from_text(
            "0b9fa5a59eed715c26c1020c711b4f6ec42d58b0015e14337a39dad301c5afc3",
        )
        .unwrap_err();
        assert_eq!(err.reason(), "pin_hex");
    }

    #[test]
    fn pkcs1_rsa_public_keys_are_wrapped() {
        // The 24-byte SPKI header of an RSA-2048 key, as in many iOS pinning helpers.
        let header: [u8; 24] = [
            0x30, 0x82, 0x01, 0x22, 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d,
            0x01, 0x01, 0x01, 0x05, 0x00, 0x03, 0x82, 0x01, 0x0f, 0x00,
        ];
        let pkcs1 = vec![0u8; 270];
        let spki = rsa_spki_from_pkcs1(&pkcs1);
        assert_eq!(&spki[..24], &header);
        assert_eq!(&spki[24..], pkcs1.as_slice());
    }
}
