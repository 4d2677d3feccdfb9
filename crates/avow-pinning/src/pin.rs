//! SPKI SHA-256 pins: computing, parsing and recognising the look-alike formats.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use rustls_pki_types::TrustAnchor;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::Error;

/// A certificate pin: the SHA-256 digest of a DER-encoded SubjectPublicKeyInfo.
///
/// This is the value OkHttp, Android Network Security Config, TrustKit, Apple's
/// `NSPinnedDomains`, curl and RFC 7469 all use. It depends only on the key, so a certificate
/// renewed or cross-signed with the same key keeps its pin. Its text form is the digest in
/// standard, padded base64 (44 characters), which is what [`Display`](fmt::Display),
/// [`Pin::parse`] and serde use.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pin([u8; 32]);

impl Pin {
    /// Length of the digest in bytes.
    pub const LEN: usize = 32;

    /// Wraps a SHA-256 digest that the caller knows to be the digest of an SPKI.
    pub const fn from_digest(digest: [u8; 32]) -> Self {
        Self(digest)
    }

    /// Returns the digest bytes.
    pub const fn digest(&self) -> &[u8; 32] {
        &self.0
    }

    /// Computes the pin of a DER-encoded SubjectPublicKeyInfo (with its outer SEQUENCE).
    ///
    /// The bytes are hashed as given. Use [`crate::KeyType::from_spki_der`] to check that they
    /// contain a key.
    pub fn from_spki_der(spki_der: &[u8]) -> Self {
        Self(sha256(spki_der))
    }

    /// Computes the pin of the public key in a DER-encoded X.509 certificate.
    pub fn from_certificate_der(cert_der: &[u8]) -> Result<Self, Error> {
        let cert = parse_certificate(cert_der)?;
        Ok(Self::from_spki_der(cert.tbs_certificate.subject_pki.raw))
    }

    /// Computes the pin of a trust anchor's key.
    ///
    /// A [`TrustAnchor`] keeps its SPKI without the outer SEQUENCE tag and length, so it is
    /// wrapped again before hashing. Hashing the field as stored would give a different value.
    pub fn from_trust_anchor(anchor: &TrustAnchor<'_>) -> Self {
        Self::from_spki_der(webpki::spki_for_anchor(anchor).as_ref())
    }

    /// Parses a pin given as standard, padded base64 of 32 bytes (44 characters).
    ///
    /// Everything else is rejected with an error naming what was received: hexadecimal,
    /// colon-separated hexadecimal, base64url, base64 without padding, an OkHttp `sha256/`
    /// prefix, a curl `sha256//` prefix, an HPKP `pin-sha256="…"` directive, a SHA-1 sized
    /// value, a value of another length, or text that is not base64. A value that is well
    /// formed but hashes the whole certificate or the raw key can only be told apart with the
    /// certificate at hand: see [`Pin::identify`].
    pub fn parse(text: &str) -> Result<Self, PinFormatError> {
        classify(text)
    }

    /// Identifies what this value is the SHA-256 of, relative to the given certificate.
    ///
    /// It is either the SPKI (a correct pin), the whole DER certificate, or the bare public key
    /// without the SPKI wrapper. The bare key is the PKCS#1 `RSAPublicKey` or the EC point, which
    /// is what iOS `SecKeyCopyExternalRepresentation` returns.
    ///
    /// A certificate that cannot be parsed matches nothing.
    pub fn identify(&self, cert_der: &[u8]) -> PinMatch {
        let Ok(cert) = parse_certificate(cert_der) else {
            return PinMatch::None;
        };
        let spki = &cert.tbs_certificate.subject_pki;
        if sha256(spki.raw) == self.0 {
            PinMatch::Spki
        } else if sha256(cert_der) == self.0 {
            PinMatch::WholeCertificate
        } else if sha256(&spki.subject_public_key.data) == self.0 {
            PinMatch::RawKey
        } else {
            PinMatch::None
        }
    }

    /// Returns the pin as standard, padded base64 (44 characters).
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }
}

impl fmt::Display for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pin({self})")
    }
}

impl FromStr for Pin {
    type Err = PinFormatError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl serde::Serialize for Pin {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_base64())
    }
}

impl<'de> serde::Deserialize<'de> for Pin {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// The input a 32-byte value is the SHA-256 of, relative to one certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PinMatch {
    /// The DER SubjectPublicKeyInfo: a correct pin for this certificate's key.
    Spki,
    /// The whole DER certificate: a certificate fingerprint, which changes when the certificate
    /// is renewed or cross-signed even if the key stays.
    WholeCertificate,
    /// The public key without its SPKI wrapper (PKCS#1 `RSAPublicKey` or the raw EC point).
    RawKey,
    /// None of these.
    None,
}

/// The reason a pin string was rejected, naming the format that was received.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PinFormatError {
    /// The text is empty.
    #[error("pin is empty; expected the SHA-256 of the SPKI in standard base64 (44 characters)")]
    Empty,
    /// The text has leading or trailing white space.
    #[error("pin has leading or trailing white space")]
    Whitespace,
    /// The value carries OkHttp's `sha256/` prefix.
    #[error("pin has the OkHttp prefix `sha256/`; give the base64 value without the prefix")]
    OkHttpPrefix,
    /// The value carries curl's `sha256//` prefix.
    #[error("pin has the curl prefix `sha256//`; give the base64 value without the prefix")]
    CurlPrefix,
    /// The value is an HPKP `pin-sha256="…"` directive.
    #[error("pin is an HPKP `pin-sha256=` directive; give only the base64 value inside the quotes")]
    HpkpDirective,
    /// The value is a SHA-1 digest (20 bytes) or carries a `sha1/` prefix.
    #[error("pin is a SHA-1 digest ({encoding}); pins are SHA-256")]
    Sha1 {
        /// The encoding of the digest: `hex`, `base64`, `colon-separated hex` or `prefix`.
        encoding: &'static str,
    },
    /// The value is hexadecimal.
    #[error(
        "pin is hexadecimal ({digits} digits); expected the same digest in standard base64 \
         (44 characters ending in '=')"
    )]
    Hex {
        /// The number of hex digits given.
        digits: usize,
    },
    /// The value is colon-separated hexadecimal, the form fingerprint tools print.
    #[error(
        "pin is colon-separated hexadecimal, the form `openssl x509 -fingerprint` prints for a \
         certificate hash; expected the SHA-256 of the SPKI in standard base64"
    )]
    ColonHex,
    /// The value uses the base64url alphabet (`-` or `_`).
    #[error(
        "pin is base64url ('-' or '_'); expected standard base64 with '+', '/' and '=' padding"
    )]
    Base64Url,
    /// The value is standard base64 of 32 bytes without the trailing `=`.
    #[error("pin is base64 without padding (43 characters); add the trailing '='")]
    MissingPadding,
    /// The value is base64 but does not decode to 32 bytes.
    #[error("pin decodes to {bytes} bytes; a SHA-256 pin is 32 bytes")]
    WrongLength {
        /// The number of bytes it decodes to.
        bytes: usize,
    },
    /// The value is not base64.
    #[error("pin is not base64")]
    NotBase64,
}

impl PinFormatError {
    /// Returns a stable snake_case code naming the format received.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Empty => "pin_empty",
            Self::Whitespace => "pin_whitespace",
            Self::OkHttpPrefix => "pin_okhttp_prefix",
            Self::CurlPrefix => "pin_curl_prefix",
            Self::HpkpDirective => "pin_hpkp_directive",
            Self::Sha1 { .. } => "pin_sha1",
            Self::Hex { .. } => "pin_hex",
            Self::ColonHex => "pin_colon_hex",
            Self::Base64Url => "pin_base64url",
            Self::MissingPadding => "pin_missing_padding",
            Self::WrongLength { .. } => "pin_wrong_length",
            Self::NotBase64 => "pin_not_base64",
        }
    }

    /// Returns the 32-byte value the text encodes when it is a SHA-256 digest in a wrong but
    /// recognised encoding (hex, colon hex, base64url, missing padding or a prefix).
    ///
    /// With the certificate at hand, [`Pin::identify`] on the result shows whether the value
    /// is the right digest in the wrong encoding, or a digest of the wrong thing.
    pub fn recover(text: &str) -> Option<Pin> {
        let text = text.trim();
        let inner = strip_known_prefix(text).unwrap_or(text);
        let bytes = if inner.contains(':') {
            decode_hex(&inner.replace(':', ""))
        } else if inner.len() == 64 && inner.bytes().all(|b| b.is_ascii_hexdigit()) {
            decode_hex(inner)
        } else {
            STANDARD
                .decode(inner)
                .or_else(|_| URL_SAFE.decode(inner))
                .or_else(|_| URL_SAFE_NO_PAD.decode(inner))
                .or_else(|_| URL_SAFE_NO_PAD.decode(inner.replace('+', "-").replace('/', "_")))
                .ok()
        }?;
        let digest: [u8; 32] = bytes.try_into().ok()?;
        Some(Pin(digest))
    }
}

fn classify(text: &str) -> Result<Pin, PinFormatError> {
    if text.is_empty() {
        return Err(PinFormatError::Empty);
    }
    if text.trim() != text {
        return Err(PinFormatError::Whitespace);
    }
    let lower = text.to_ascii_lowercase();
    if lower.starts_with("pin-sha256") {
        return Err(PinFormatError::HpkpDirective);
    }
    if lower.starts_with("sha256//") {
        return Err(PinFormatError::CurlPrefix);
    }
    if lower.starts_with("sha256/") {
        return Err(PinFormatError::OkHttpPrefix);
    }
    if lower.starts_with("sha1/") || lower.starts_with("pin-sha1") {
        return Err(PinFormatError::Sha1 { encoding: "prefix" });
    }
    if text.contains(':') {
        let groups: Vec<&str> = text.split(':').collect();
        let pairs = groups
            .iter()
            .all(|g| g.len() == 2 && g.bytes().all(|b| b.is_ascii_hexdigit()));
        if pairs {
            return Err(match groups.len() {
                20 => PinFormatError::Sha1 {
                    encoding: "colon-separated hex",
                },
                32 => PinFormatError::ColonHex,
                bytes => PinFormatError::WrongLength { bytes },
            });
        }
        return Err(PinFormatError::NotBase64);
    }
    // A 44-character string of hex digits has no '=' and so is not padded base64 of 32 bytes:
    // hex is checked first without ambiguity.
    if text.bytes().all(|b| b.is_ascii_hexdigit())
        && text.len().is_multiple_of(2)
        && text.len() >= 16
    {
        return Err(match text.len() {
            40 => PinFormatError::Sha1 { encoding: "hex" },
            digits => PinFormatError::Hex { digits },
        });
    }
    if text.contains(['-', '_']) {
        return Err(PinFormatError::Base64Url);
    }
    if !text.contains('=') && text.len() == 43 && is_standard_alphabet(text) {
        return Err(PinFormatError::MissingPadding);
    }
    match STANDARD.decode(text) {
        Ok(bytes) => match <[u8; 32]>::try_from(bytes.as_slice()) {
            Ok(digest) if text.len() == 44 => Ok(Pin(digest)),
            _ if bytes.len() == 20 => Err(PinFormatError::Sha1 { encoding: "base64" }),
            _ => Err(PinFormatError::WrongLength { bytes: bytes.len() }),
        },
        Err(_) => Err(PinFormatError::NotBase64),
    }
}

fn is_standard_alphabet(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

fn strip_known_prefix(text: &str) -> Option<&str> {
    let lower = text.to_ascii_lowercase();
    if lower.starts_with("pin-sha256=") {
        return Some(text["pin-sha256=".len()..].trim_matches('"'));
    }
    for prefix in ["sha256//", "sha256/"] {
        if lower.starts_with(prefix) {
            return Some(&text[prefix.len()..]);
        }
    }
    None
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Returns the SHA-256 digest of `data`.
pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// Parses a DER certificate, rejecting trailing bytes.
pub(crate) fn parse_certificate(cert_der: &[u8]) -> Result<X509Certificate<'_>, Error> {
    match X509Certificate::from_der(cert_der) {
        Ok(([], cert)) => Ok(cert),
        Ok((rest, _)) => Err(Error::MalformedCertificate {
            detail: format!("{} trailing bytes after the certificate", rest.len()),
        }),
        Err(err) => Err(Error::MalformedCertificate {
            detail: err.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The ISRG Root X1 pin in the formats tools print it in.
    const X1: &str = "C5+lpZ7tcVwmwQIMcRtPbsQtWLABXhQzejna0wHFr8M=";

    #[test]
    fn canonical_base64_round_trips() {
        let pin = Pin::parse(X1).unwrap();
        assert_eq!(pin.to_string(), X1);
        let json = serde_json::to_string(&pin).unwrap();
        assert_eq!(json, format!("\"{X1}\""));
        assert_eq!(serde_json::from_str::<Pin>(&json).unwrap(), pin);
    }

    #[test]
    fn look_alikes_are_named() {
        let hex = "0b9fa5a59eed715c26c1020c711b4f6ec42d58b0015e14337a39dad301c5afc3";
        let cases: [(&str, &str); 11] = [
            ("", "pin_empty"),
            (
                " C5+lpZ7tcVwmwQIMcRtPbsQtWLABXhQzejna0wHFr8M=",
                "pin_whitespace",
            ),
            (hex, "pin_hex"),
            (
                "C5-lpZ7tcVwmwQIMcRtPbsQtWLABXhQzejna0wHFr8M",
                "pin_base64url",
            ),
            (
                "C5+lpZ7tcVwmwQIMcRtPbsQtWLABXhQzejna0wHFr8M",
                "pin_missing_padding",
            ),
            (
                "sha256/C5+lpZ7tcVwmwQIMcRtPbsQtWLABXhQzejna0wHFr8M=",
                "pin_okhttp_prefix",
            ),
            (
                "sha256//C5+lpZ7tcVwmwQIMcRtPbsQtWLABXhQzejna0wHFr8M=",
                "pin_curl_prefix",
            ),
            (
                "pin-sha256=\"C5+lpZ7tcVwmwQIMcRtPbsQtWLABXhQzejna0wHFr8M=\"",
                "pin_hpkp_directive",
            ),
            ("2jmj7l5rSw0yVb/vlWAYkK/YBwk=", "pin_sha1"),
            ("AAAA", "pin_wrong_length"),
            ("not a pin!", "pin_not_base64"),
        ];
        for (text, reason) in cases {
            let err = Pin::parse(text).unwrap_err();
            assert_eq!(err.reason(), reason, "{text:?}: {err}");
        }
    }

    #[test]
    fn recover_decodes_the_wrong_encodings() {
        let pin = Pin::parse(X1).unwrap();
        for text in [
            "0b9fa5a59eed715c26c1020c711b4f6ec42d58b0015e14337a39dad301c5afc3",
            "C5-lpZ7tcVwmwQIMcRtPbsQtWLABXhQzejna0wHFr8M",
            "C5+lpZ7tcVwmwQIMcRtPbsQtWLABXhQzejna0wHFr8M",
            "sha256/C5+lpZ7tcVwmwQIMcRtPbsQtWLABXhQzejna0wHFr8M=",
            "pin-sha256=\"C5+lpZ7tcVwmwQIMcRtPbsQtWLABXhQzejna0wHFr8M=\"",
        ] {
            assert_eq!(PinFormatError::recover(text), Some(pin), "{text}");
        }
    }

    #[test]
    fn non_canonical_trailing_bits_rejected() {
        // Same first 43 characters as the ISRG Root X1 pin, but the last character sets bits
        // that padding must leave at zero.
        assert!(Pin::parse("C5+lpZ7tcVwmwQIMcRtPbsQtWLABXhQzejna0wHFr8N=").is_err());
    }
}
