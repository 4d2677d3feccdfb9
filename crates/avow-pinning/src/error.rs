use crate::pin::PinFormatError;

/// Reasons an input, a certificate chain or a pin set was rejected.
///
/// [`Error::reason`] gives a stable snake_case code for logs, metrics and API responses.
/// Messages name the input that failed and never carry key material.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A pin string is not the SHA-256 of an SPKI in standard base64.
    #[error(transparent)]
    PinFormat(#[from] PinFormatError),
    /// A host pattern is not an exact host, `*.` plus a domain or `**.` plus a domain.
    #[error("invalid host pattern {pattern:?}: {detail}")]
    InvalidHostPattern {
        /// The pattern received.
        pattern: String,
        /// The defect found.
        detail: &'static str,
    },
    /// A certificate could not be parsed.
    #[error("malformed certificate: {detail}")]
    MalformedCertificate {
        /// The parser's description.
        detail: String,
    },
    /// A public key (SubjectPublicKeyInfo) could not be parsed.
    #[error("malformed public key: {detail}")]
    MalformedPublicKey {
        /// The parser's description.
        detail: String,
    },
    /// A certificate signing request could not be parsed.
    #[error("malformed certificate signing request: {detail}")]
    MalformedCsr {
        /// The parser's description.
        detail: String,
    },
    /// The signature of a certificate signing request does not verify with its own key, so the
    /// sender has not shown that it has the private key.
    #[error("the certificate signing request is not signed by its own key")]
    CsrSignatureInvalid,
    /// PEM text could not be decoded or contains no section of the expected kind.
    #[error("invalid PEM: {detail}")]
    Pem {
        /// The defect found.
        detail: String,
    },
    /// A trust anchor could not be built from a certificate.
    #[error("certificate cannot be used as a trust anchor: {detail}")]
    InvalidTrustAnchor {
        /// The path builder's description.
        detail: String,
    },
    /// The served chain is empty.
    #[error("the served certificate chain is empty")]
    EmptyChain,
    /// No path from the served leaf leads to a trust anchor.
    #[error("the served chain does not lead to a trusted root")]
    UnknownIssuer,
    /// A certificate on the best path had expired at the validation time.
    #[error("a certificate on the path expired at {not_after} (validation time {time})")]
    CertificateExpired {
        /// The validation time, Unix seconds.
        time: u64,
        /// The certificate's notAfter, Unix seconds.
        not_after: u64,
    },
    /// A certificate on the best path was not valid yet at the validation time.
    #[error("a certificate on the path is not valid before {not_before} (validation time {time})")]
    CertificateNotYetValid {
        /// The validation time, Unix seconds.
        time: u64,
        /// The certificate's notBefore, Unix seconds.
        not_before: u64,
    },
    /// A signature on the chain does not verify.
    #[error("a certificate signature on the chain is invalid")]
    CertificateSignatureInvalid,
    /// The leaf certificate is not valid for the host name.
    #[error("the leaf certificate is not valid for {host}")]
    CertificateNameMismatch {
        /// The host name that was checked.
        host: String,
    },
    /// The chain is invalid for another reason reported by the path builder.
    #[error("certificate chain is invalid: {detail}")]
    PathInvalid {
        /// The path builder's description.
        detail: String,
    },
    /// A pin set has the same pin twice.
    #[error("pin {pin} appears more than once in the pin set")]
    DuplicatePin {
        /// The repeated pin.
        pin: String,
    },
    /// A pin set or document field is out of range or inconsistent.
    #[error("invalid pin set: {detail}")]
    InvalidPinSet {
        /// The defect found.
        detail: String,
    },
    /// An export format cannot express the pin set faithfully.
    #[error("cannot export to {format}: {detail}")]
    ExportUnsupported {
        /// The export format.
        format: &'static str,
        /// The part of the set the format cannot express.
        detail: String,
    },
}

impl Error {
    /// Returns a stable snake_case code naming the reason, for logs, metrics and API responses.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::PinFormat(inner) => inner.reason(),
            Self::InvalidHostPattern { .. } => "invalid_host_pattern",
            Self::MalformedCertificate { .. } => "malformed_certificate",
            Self::MalformedPublicKey { .. } => "malformed_public_key",
            Self::MalformedCsr { .. } => "malformed_csr",
            Self::CsrSignatureInvalid => "csr_signature_invalid",
            Self::Pem { .. } => "invalid_pem",
            Self::InvalidTrustAnchor { .. } => "invalid_trust_anchor",
            Self::EmptyChain => "empty_chain",
            Self::UnknownIssuer => "unknown_issuer",
            Self::CertificateExpired { .. } => "certificate_expired",
            Self::CertificateNotYetValid { .. } => "certificate_not_yet_valid",
            Self::CertificateSignatureInvalid => "certificate_signature_invalid",
            Self::CertificateNameMismatch { .. } => "certificate_name_mismatch",
            Self::PathInvalid { .. } => "path_invalid",
            Self::DuplicatePin { .. } => "duplicate_pin",
            Self::InvalidPinSet { .. } => "invalid_pin_set",
            Self::ExportUnsupported { .. } => "export_unsupported",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_snake_case() {
        let errors = [
            Error::EmptyChain,
            Error::UnknownIssuer,
            Error::CsrSignatureInvalid,
            Error::PinFormat(PinFormatError::Hex { digits: 64 }),
            Error::InvalidHostPattern {
                pattern: "*".into(),
                detail: "x",
            },
        ];
        for error in errors {
            let reason = error.reason();
            assert!(
                reason.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{reason}"
            );
        }
    }
}
