/// Reasons for rejecting evidence.
///
/// Each variant names the check that failed. [`Error::reason`] gives a stable snake_case code
/// for logs, metrics and API responses. Context fields never carry secret material.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input is larger than the verifier accepts.
    #[error("{what} is {len} bytes, more than the maximum of {max}")]
    InputTooLarge {
        /// The input that was too large.
        what: &'static str,
        /// The size received.
        len: usize,
        /// The maximum accepted size.
        max: usize,
    },
    /// The CBOR encoding is invalid or truncated.
    #[error("malformed CBOR in {what}: {detail}")]
    MalformedCbor {
        /// The structure that failed to decode.
        what: &'static str,
        /// The decoder's message.
        detail: String,
    },
    /// A CBOR map has the same key twice.
    #[error("duplicate CBOR map key {key} in {what}")]
    CborDuplicateKey {
        /// The structure that contains the duplicate.
        what: &'static str,
        /// The duplicated key, printed in CBOR diagnostic style.
        key: String,
    },
    /// CBOR nesting is deeper than the verifier accepts.
    #[error("CBOR nesting in {what} is deeper than {max_depth} levels")]
    CborTooDeep {
        /// The structure that is nested too deeply.
        what: &'static str,
        /// The maximum accepted depth.
        max_depth: usize,
    },
    /// A CBOR map has more entries than the verifier accepts.
    #[error("a CBOR map in {what} has more than {max} entries")]
    CborMapTooLarge {
        /// The structure that contains the map.
        what: &'static str,
        /// The maximum accepted number of entries.
        max: usize,
    },
    /// Bytes follow the end of a structure that must end there.
    #[error("{len} unexpected trailing bytes after {what}")]
    TrailingBytes {
        /// The structure that is followed by trailing bytes.
        what: &'static str,
        /// How many bytes follow it.
        len: usize,
    },
    /// A required field is missing or has the wrong type.
    #[error("{what} is missing or has the wrong type")]
    MissingField {
        /// The field, in the provider's own spelling.
        what: &'static str,
    },
    /// The attestation statement format is not the expected one.
    #[error("unsupported attestation format {received:?}, expected {expected:?}")]
    UnsupportedFormat {
        /// The format expected.
        expected: &'static str,
        /// The format received.
        received: String,
    },
    /// The authenticator data is structurally invalid.
    #[error("invalid authenticator data: {detail}")]
    InvalidAuthenticatorData {
        /// The defect found.
        detail: &'static str,
    },
    /// The credential public key in the authenticator data is not an ES256 P-256 COSE key.
    #[error("unsupported credential public key: {detail}")]
    UnsupportedCredentialKey {
        /// The defect found.
        detail: &'static str,
    },
    /// The certificate list does not have the expected length.
    #[error("certificate chain has {len} certificates, expected {expected}")]
    CertificateChainLength {
        /// How many certificates were sent.
        len: usize,
        /// How many are expected.
        expected: usize,
    },
    /// A certificate could not be parsed.
    #[error("malformed {which} certificate")]
    MalformedCertificate {
        /// The certificate's position: `leaf` or `intermediate`.
        which: &'static str,
    },
    /// A certificate on the chain has expired at the verification time.
    #[error("{which} certificate expired at {not_after} (verification time {time})")]
    CertificateExpired {
        /// The certificate's position: `leaf`, `intermediate` or `root`.
        which: &'static str,
        /// The verification time, Unix seconds.
        time: u64,
        /// The certificate's notAfter, Unix seconds.
        not_after: u64,
    },
    /// A certificate on the chain is not valid yet at the verification time.
    #[error("{which} certificate is not valid before {not_before} (verification time {time})")]
    CertificateNotYetValid {
        /// The certificate's position: `leaf`, `intermediate` or `root`.
        which: &'static str,
        /// The verification time, Unix seconds.
        time: u64,
        /// The certificate's notBefore, Unix seconds.
        not_before: u64,
    },
    /// The chain does not lead to a configured trust anchor.
    #[error("certificate chain does not lead to a trusted root")]
    UnknownIssuer,
    /// A certificate signature on the chain is invalid.
    #[error("a certificate signature on the chain is invalid")]
    CertificateSignatureInvalid,
    /// The chain is invalid for another reason reported by the path builder.
    #[error("certificate chain is invalid: {detail}")]
    CertificateChainInvalid {
        /// The path builder's description.
        detail: String,
    },
    /// The leaf certificate is not issued for the host name the provider signs with.
    #[error("leaf certificate is not valid for {expected}")]
    CertificateNameMismatch {
        /// The expected host name.
        expected: String,
    },
    /// A JWS is not three base64url parts with a JSON header, or its header is unusable.
    #[error("malformed JWS: {detail}")]
    MalformedJws {
        /// The defect found.
        detail: &'static str,
    },
    /// A JWS names a signature algorithm the provider does not use.
    #[error("JWS algorithm {received:?} is not accepted for this provider")]
    JwsAlgorithmNotAllowed {
        /// The `alg` header value.
        received: String,
    },
    /// A JWS signature does not verify with the signer's key.
    #[error("JWS signature is invalid")]
    JwsSignatureInvalid,
    /// The credential certificate lacks the App Attest nonce extension.
    #[error("credential certificate has no nonce extension (OID 1.2.840.113635.100.8.2)")]
    CertificateNonceMissing,
    /// The App Attest nonce extension is not `SEQUENCE { [1] EXPLICIT OCTET STRING (32 bytes) }`.
    #[error("credential certificate nonce extension is malformed")]
    CertificateNonceMalformed,
    /// The nonce in the credential certificate differs from SHA-256(authData ‖ clientDataHash).
    ///
    /// The usual cause is a client that computed clientDataHash differently from the server.
    #[error("certificate nonce does not match SHA-256(authenticator data || client data hash)")]
    CertificateNonceMismatch,
    /// The key id differs from the SHA-256 of the credential public key.
    #[error("key id does not match the credential certificate's public key")]
    KeyIdMismatch,
    /// The relying party id hash differs from the SHA-256 of the expected app id.
    #[error("app id does not match: rpIdHash is not SHA-256 of {expected:?}")]
    AppIdMismatch {
        /// The app id expected.
        expected: String,
    },
    /// An attestation's signature counter is not zero.
    #[error("attestation counter is {received}, expected 0")]
    CounterNotZero {
        /// The counter received.
        received: u32,
    },
    /// The AAGUID does not belong to the expected App Attest environment.
    #[error("App Attest environment is {received}, expected {expected}")]
    EnvironmentMismatch {
        /// The environment expected.
        expected: &'static str,
        /// The environment the AAGUID names, or `unknown`.
        received: &'static str,
    },
    /// The credential id in the authenticator data differs from the key id.
    #[error("credential id does not match the key id")]
    CredentialIdMismatch,
    /// The credential public key in the authenticator data differs from the certificate's key.
    #[error("credential public key does not match the credential certificate's public key")]
    PublicKeyMismatch,
    /// The credential certificate's key is not an uncompressed P-256 point.
    #[error("credential certificate key is not an EC P-256 public key")]
    UnsupportedCertificateKey,
    /// The app's signing certificate is not one of the registered digests, or is missing where
    /// digests are registered.
    #[error("app signing certificate digest is not in the registered set")]
    CertificateDigestMismatch,
    /// A device-key measurement is not a JSON object of the expected shape.
    #[error("device key measurement is not valid JSON with a string app_id")]
    MalformedMeasurement,
    /// A signature over the assertion is invalid.
    #[error("assertion signature is invalid")]
    SignatureInvalid,
    /// An assertion counter is not greater than the last accepted counter.
    #[error("assertion counter {received} is not greater than the stored counter {stored}")]
    CounterNotIncreased {
        /// The last accepted counter.
        stored: u32,
        /// The counter received.
        received: u32,
    },
    /// A JWE is not five base64url parts with a JSON header, or a part has the wrong length.
    #[error("malformed JWE: {detail}")]
    MalformedJwe {
        /// The defect, in a few words.
        detail: &'static str,
    },
    /// A JWE names a key management (`alg`) or content encryption (`enc`) algorithm that the
    /// provider does not use.
    #[error("JWE {member} {received:?} is not accepted for this provider")]
    JweAlgorithmNotAllowed {
        /// The header member: `alg` or `enc`.
        member: &'static str,
        /// The value received.
        received: String,
    },
    /// A JWE header contains a member the verifier does not support, such as `zip` or `crit`.
    #[error("JWE header member {member} is not supported")]
    JweHeaderNotAllowed {
        /// The header member.
        member: &'static str,
    },
    /// The JWE encrypted key does not unwrap with the decryption key: the key is not the
    /// app's, or the encrypted key was changed.
    #[error("JWE encrypted key does not unwrap with the decryption key")]
    JweKeyUnwrapFailed,
    /// The JWE ciphertext, IV, header or tag fails AES-GCM authentication.
    #[error("JWE ciphertext fails authentication")]
    JweDecryptionFailed,
    /// A key given by the operator is not of the expected kind or size.
    #[error("malformed {which}: {detail}")]
    MalformedKey {
        /// The key: `decryption key` or `verification key`.
        which: &'static str,
        /// The defect, in a few words.
        detail: &'static str,
    },
    /// A provider payload is not JSON of the expected shape.
    #[error("malformed {what}: {detail}")]
    MalformedPayload {
        /// Which payload.
        what: &'static str,
        /// The decoder's error category and position; never payload content.
        detail: String,
    },
    /// The nonce in the provider's payload differs from the nonce the server issued.
    #[error("{field} does not match the expected nonce")]
    NonceMismatch {
        /// The payload field, in the provider's spelling.
        field: &'static str,
    },
    /// A package name in the provider's payload differs from the app's package name.
    #[error("{field} is {received:?}, expected {expected:?}")]
    PackageNameMismatch {
        /// The payload field, in the provider's spelling.
        field: &'static str,
        /// The app's package name.
        expected: String,
        /// The package name in the payload.
        received: String,
    },
    /// The evidence timestamp is older than the accepted maximum age at the verification time.
    #[error("evidence from {timestamp_ms} ms is older than {max_age_ms} ms at {now_ms} ms")]
    EvidenceTooOld {
        /// The evidence timestamp, Unix milliseconds.
        timestamp_ms: u64,
        /// The verification time, Unix milliseconds.
        now_ms: u64,
        /// The maximum accepted age, milliseconds.
        max_age_ms: u64,
    },
    /// The evidence timestamp is later than the verification time plus the allowed skew.
    #[error("evidence from {timestamp_ms} ms is more than {max_skew_ms} ms after {now_ms} ms")]
    EvidenceFromFuture {
        /// The evidence timestamp, Unix milliseconds.
        timestamp_ms: u64,
        /// The verification time, Unix milliseconds.
        now_ms: u64,
        /// The allowed clock skew, milliseconds.
        max_skew_ms: u64,
    },
    /// The app's version code is lower than the minimum the operator accepts.
    #[error("app version code {received} is lower than the minimum {minimum}")]
    VersionCodeTooLow {
        /// The minimum accepted version code.
        minimum: i64,
        /// The version code in the payload.
        received: i64,
    },
    /// The leaf certificate of an Android key attestation chain has no attestation extension
    /// (OID 1.3.6.1.4.1.11129.2.1.17): the key was not generated with an attestation challenge.
    #[error("leaf certificate has no key attestation extension (OID 1.3.6.1.4.1.11129.2.1.17)")]
    AttestationExtensionMissing,
    /// The leaf certificate carries the key attestation extension more than once.
    #[error("leaf certificate carries the key attestation extension more than once")]
    AttestationExtensionDuplicated,
    /// The key attestation extension is not a strict DER `KeyDescription`.
    #[error("key attestation extension is malformed: {detail}")]
    AttestationExtensionMalformed {
        /// What is wrong with the encoding.
        detail: &'static str,
    },
    /// A certificate after the leaf carries the key attestation extension. Secure hardware
    /// writes the extension only into the certificate of the key it attests, so a later copy
    /// means the chain was extended with a key outside its control.
    #[error("chain certificate {position} (0 is the leaf) carries the key attestation extension")]
    AttestationExtensionInIntermediate {
        /// The certificate's position in the chain, 0 being the leaf.
        position: usize,
    },
    /// A certificate of the chain is listed in the attestation status list.
    #[error("certificate with serial number {serial} is {status} in the attestation status list")]
    CertificateRevoked {
        /// The serial number, lowercase hex without leading zeros.
        serial: String,
        /// The listed status, such as `REVOKED` or `SUSPENDED`.
        status: String,
        /// The listed reason, such as `KEY_COMPROMISE`, when given.
        reason: Option<String>,
    },
    /// A public key given for signature verification is malformed or of an unsupported type.
    #[error("unsupported public key: {detail}")]
    UnsupportedPublicKey {
        /// What is wrong with it.
        detail: &'static str,
    },
    /// A signature does not verify with the attested key.
    #[error("signature does not verify with the attested key")]
    KeySignatureInvalid,
}

impl Error {
    /// Returns the stable snake_case reason code of this error.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::InputTooLarge { .. } => "input_too_large",
            Self::MalformedCbor { .. } => "malformed_cbor",
            Self::CborDuplicateKey { .. } => "cbor_duplicate_key",
            Self::CborTooDeep { .. } => "cbor_too_deep",
            Self::CborMapTooLarge { .. } => "cbor_map_too_large",
            Self::TrailingBytes { .. } => "trailing_bytes",
            Self::MissingField { .. } => "missing_field",
            Self::UnsupportedFormat { .. } => "unsupported_format",
            Self::InvalidAuthenticatorData { .. } => "invalid_authenticator_data",
            Self::UnsupportedCredentialKey { .. } => "unsupported_credential_key",
            Self::CertificateChainLength { .. } => "certificate_chain_length",
            Self::MalformedCertificate { .. } => "malformed_certificate",
            Self::CertificateExpired { .. } => "certificate_expired",
            Self::CertificateNotYetValid { .. } => "certificate_not_yet_valid",
            Self::UnknownIssuer => "unknown_issuer",
            Self::CertificateSignatureInvalid => "certificate_signature_invalid",
            Self::CertificateChainInvalid { .. } => "certificate_chain_invalid",
            Self::CertificateNameMismatch { .. } => "certificate_name_mismatch",
            Self::MalformedJws { .. } => "malformed_jws",
            Self::JwsAlgorithmNotAllowed { .. } => "jws_algorithm_not_allowed",
            Self::JwsSignatureInvalid => "jws_signature_invalid",
            Self::CertificateNonceMissing => "certificate_nonce_missing",
            Self::CertificateNonceMalformed => "certificate_nonce_malformed",
            Self::CertificateNonceMismatch => "certificate_nonce_mismatch",
            Self::KeyIdMismatch => "key_id_mismatch",
            Self::AppIdMismatch { .. } => "app_id_mismatch",
            Self::CounterNotZero { .. } => "counter_not_zero",
            Self::EnvironmentMismatch { .. } => "environment_mismatch",
            Self::CredentialIdMismatch => "credential_id_mismatch",
            Self::PublicKeyMismatch => "public_key_mismatch",
            Self::UnsupportedCertificateKey => "unsupported_certificate_key",
            Self::CertificateDigestMismatch => "certificate_digest_mismatch",
            Self::MalformedMeasurement => "malformed_measurement",
            Self::SignatureInvalid => "signature_invalid",
            Self::CounterNotIncreased { .. } => "counter_not_increased",
            Self::MalformedJwe { .. } => "malformed_jwe",
            Self::JweAlgorithmNotAllowed { .. } => "jwe_algorithm_not_allowed",
            Self::JweHeaderNotAllowed { .. } => "jwe_header_not_allowed",
            Self::JweKeyUnwrapFailed => "jwe_key_unwrap_failed",
            Self::JweDecryptionFailed => "jwe_decryption_failed",
            Self::MalformedKey { .. } => "malformed_key",
            Self::MalformedPayload { .. } => "malformed_payload",
            Self::NonceMismatch { .. } => "nonce_mismatch",
            Self::PackageNameMismatch { .. } => "package_name_mismatch",
            Self::EvidenceTooOld { .. } => "evidence_too_old",
            Self::EvidenceFromFuture { .. } => "evidence_from_future",
            Self::VersionCodeTooLow { .. } => "version_code_too_low",
            Self::AttestationExtensionMissing => "attestation_extension_missing",
            Self::AttestationExtensionDuplicated => "attestation_extension_duplicated",
            Self::AttestationExtensionMalformed { .. } => "attestation_extension_malformed",
            Self::AttestationExtensionInIntermediate { .. } => {
                "attestation_extension_in_intermediate"
            }
            Self::CertificateRevoked { .. } => "certificate_revoked",
            Self::UnsupportedPublicKey { .. } => "unsupported_public_key",
            Self::KeySignatureInvalid => "key_signature_invalid",
        }
    }

    pub(crate) fn from_webpki(
        error: webpki::Error,
        which_by_time: impl Fn(u64) -> &'static str,
    ) -> Self {
        match error {
            webpki::Error::CertExpired { time, not_after } => Self::CertificateExpired {
                which: which_by_time(not_after.as_secs()),
                time: time.as_secs(),
                not_after: not_after.as_secs(),
            },
            webpki::Error::CertNotValidYet { time, not_before } => Self::CertificateNotYetValid {
                which: which_by_time(not_before.as_secs()),
                time: time.as_secs(),
                not_before: not_before.as_secs(),
            },
            webpki::Error::UnknownIssuer => Self::UnknownIssuer,
            webpki::Error::InvalidSignatureForPublicKey => Self::CertificateSignatureInvalid,
            other => Self::CertificateChainInvalid {
                detail: format!("{other:?}"),
            },
        }
    }

    /// Returns the [`Error::MalformedPayload`] for JSON that serde could not decode. The detail
    /// names the error category and position only, because serde's message can quote payload
    /// content (such as the nonce) and the error reaches logs.
    pub(crate) fn malformed_json(what: &'static str, error: &serde_json::Error) -> Self {
        Self::MalformedPayload {
            what,
            detail: format!(
                "{:?} error at line {} column {}",
                error.classify(),
                error.line(),
                error.column()
            ),
        }
    }
}
