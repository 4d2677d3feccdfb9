//! The checks of a Play Integrity verdict and the step-by-step report.

use rustls_pki_types::UnixTime;

use super::jwe;
use super::payload::{AppRecognitionVerdict, Payload, RequestDetails};
use super::verified::{VerifiedPlayIntegrity, build_verified};
use super::{
    CertificateDigests, ExpectedRequest, Freshness, MAX_TOKEN_LEN, PlayIntegrityKeys,
    RequestBinding,
};
use crate::encoding::decode_base64_any;
use crate::jws::{Jws, JwsAlgorithm};
use crate::{CheckOutcome, CheckReport, Error};

/// The checks of a Play Integrity verdict, in the order they run.
///
/// [`Decryption`](Self::Decryption) and [`Signature`](Self::Signature) run only for tokens
/// verified locally; for payloads that Google decoded, Google has done both.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PlayIntegrityCheck {
    /// The token is a compact JWE with `alg` `A256KW` and `enc` `A256GCM` that decrypts with
    /// the app's decryption key.
    Decryption,
    /// The plaintext is a compact JWS with `alg` `ES256` whose signature verifies with the
    /// app's verification key.
    Signature,
    /// The payload is JSON of the verdict's shape, within the size limit.
    Payload,
    /// `requestDetails.requestPackageName` equals the app's package name.
    RequestPackageName,
    /// `requestDetails.nonce` (classic requests) or `requestDetails.requestHash` (standard
    /// requests) decodes to the expected bytes.
    Nonce,
    /// `requestDetails.timestampMillis` lies in the freshness window around the verification
    /// time.
    Timestamp,
    /// `appIntegrity.packageName` equals the app's package name.
    AppPackageName,
    /// Every `appIntegrity.certificateSha256Digest` is a registered digest.
    CertificateDigest,
    /// `appIntegrity.versionCode` is at least the configured minimum.
    VersionCode,
}

impl PlayIntegrityCheck {
    /// Every check of a token verified locally, in the order they run.
    pub const TOKEN: [Self; 9] = [
        Self::Decryption,
        Self::Signature,
        Self::Payload,
        Self::RequestPackageName,
        Self::Nonce,
        Self::Timestamp,
        Self::AppPackageName,
        Self::CertificateDigest,
        Self::VersionCode,
    ];

    /// Every check of a payload that Google decoded, in the order they run.
    pub const DECODED: [Self; 7] = [
        Self::Payload,
        Self::RequestPackageName,
        Self::Nonce,
        Self::Timestamp,
        Self::AppPackageName,
        Self::CertificateDigest,
        Self::VersionCode,
    ];

    /// Returns the snake_case name of the check.
    pub fn name(self) -> &'static str {
        match self {
            Self::Decryption => "decryption",
            Self::Signature => "signature",
            Self::Payload => "payload",
            Self::RequestPackageName => "request_package_name",
            Self::Nonce => "nonce",
            Self::Timestamp => "timestamp",
            Self::AppPackageName => "app_package_name",
            Self::CertificateDigest => "certificate_digest",
            Self::VersionCode => "version_code",
        }
    }

    /// Returns a one-line description of what the check requires.
    pub fn description(self) -> &'static str {
        match self {
            Self::Decryption => "JWE A256KW + A256GCM decrypts with the decryption key",
            Self::Signature => "JWS ES256 signature verifies with the verification key",
            Self::Payload => "payload is JSON of the integrity verdict's shape",
            Self::RequestPackageName => "requestDetails.requestPackageName = package name",
            Self::Nonce => "requestDetails.nonce or requestHash = expected bytes",
            Self::Timestamp => "requestDetails.timestampMillis within the freshness window",
            Self::AppPackageName => "appIntegrity.packageName = package name",
            Self::CertificateDigest => "appIntegrity.certificateSha256Digest all registered",
            Self::VersionCode => "appIntegrity.versionCode >= minimum",
        }
    }
}

/// The outcome of every check of one verdict.
pub type PlayIntegrityReport = CheckReport<PlayIntegrityCheck, VerifiedPlayIntegrity>;

/// Decrypts and verifies an integrity token, then checks its payload.
///
/// # Errors
///
/// The [`Error`] of the first failed [`PlayIntegrityCheck`].
pub fn verify_token(
    token: &str,
    keys: &PlayIntegrityKeys,
    expected: &ExpectedRequest<'_>,
    now: UnixTime,
    freshness: Freshness,
) -> Result<VerifiedPlayIntegrity, Error> {
    verify_token_report(token, keys, expected, now, freshness).into_result()
}

/// Runs every check of an integrity token and reports each outcome.
///
/// When the token does not decrypt, or its plaintext is not a JWS, every later check is
/// [`CheckOutcome::Skipped`]. When the signature is invalid, the payload checks still run so
/// the report shows them, but the verdict is not verified.
pub fn verify_token_report(
    token: &str,
    keys: &PlayIntegrityKeys,
    expected: &ExpectedRequest<'_>,
    now: UnixTime,
    freshness: Freshness,
) -> PlayIntegrityReport {
    let mut report = Recorder::new(&PlayIntegrityCheck::TOKEN);

    let plaintext = match decrypt_token(token, keys) {
        Ok(plaintext) => plaintext,
        Err(error) => return report.fail_and_skip_rest(PlayIntegrityCheck::Decryption, error),
    };
    report.record(PlayIntegrityCheck::Decryption, Ok(()));

    let jws = match parse_jws(&plaintext) {
        Ok(jws) => jws,
        Err(error) => return report.fail_and_skip_rest(PlayIntegrityCheck::Signature, error),
    };
    report.record(
        PlayIntegrityCheck::Signature,
        jws.verify_with_key(keys.verification_key_point()),
    );

    let payload = match Payload::from_token_json(&jws.payload) {
        Ok(payload) => payload,
        Err(error) => return report.fail_and_skip_rest(PlayIntegrityCheck::Payload, error),
    };
    report.record(PlayIntegrityCheck::Payload, Ok(()));
    check_payload(report, &payload, expected, now, freshness)
}

/// Checks a payload that Google's `decodeIntegrityToken` returned, with or without its
/// `tokenPayloadExternal` wrapper.
///
/// # Errors
///
/// The [`Error`] of the first failed [`PlayIntegrityCheck`].
pub fn verify_decoded_payload(
    json: &[u8],
    expected: &ExpectedRequest<'_>,
    now: UnixTime,
    freshness: Freshness,
) -> Result<VerifiedPlayIntegrity, Error> {
    verify_decoded_payload_report(json, expected, now, freshness).into_result()
}

/// Runs every check of a decoded payload and reports each outcome.
///
/// When the JSON cannot be decoded, every later check is [`CheckOutcome::Skipped`].
pub fn verify_decoded_payload_report(
    json: &[u8],
    expected: &ExpectedRequest<'_>,
    now: UnixTime,
    freshness: Freshness,
) -> PlayIntegrityReport {
    let mut report = Recorder::new(&PlayIntegrityCheck::DECODED);
    let payload = match Payload::from_decoded_json(json) {
        Ok(payload) => payload,
        Err(error) => return report.fail_and_skip_rest(PlayIntegrityCheck::Payload, error),
    };
    report.record(PlayIntegrityCheck::Payload, Ok(()));
    check_payload(report, &payload, expected, now, freshness)
}

// === Payload checks ===

/// Runs the checks that follow a successful parse and builds the report.
fn check_payload(
    mut report: Recorder,
    payload: &Payload,
    expected: &ExpectedRequest<'_>,
    now: UnixTime,
    freshness: Freshness,
) -> PlayIntegrityReport {
    let request = payload.request_details.clone().unwrap_or_default();
    let app = payload.app_integrity.clone().unwrap_or_default();
    // Whether Google made a statement about the app binary. Only then must the app's package
    // name, digests and version code be present, because an unevaluated app has none of them.
    let app_evaluated = matches!(
        app.app_recognition_verdict,
        Some(AppRecognitionVerdict::PlayRecognized | AppRecognitionVerdict::UnrecognizedVersion)
    );

    report.record(
        PlayIntegrityCheck::RequestPackageName,
        check_package_name(
            request.request_package_name.as_deref(),
            "requestDetails.requestPackageName",
            expected.package_name,
            true,
        ),
    );
    report.record(
        PlayIntegrityCheck::Nonce,
        check_binding(&request, expected.binding),
    );
    report.record(
        PlayIntegrityCheck::Timestamp,
        check_timestamp(request.timestamp_millis, now, freshness),
    );
    report.record(
        PlayIntegrityCheck::AppPackageName,
        check_package_name(
            app.package_name.as_deref(),
            "appIntegrity.packageName",
            expected.package_name,
            app_evaluated,
        ),
    );
    report.record(
        PlayIntegrityCheck::CertificateDigest,
        check_certificate_digests(
            app.certificate_sha256_digest.as_deref(),
            expected.certificate_digests,
            app_evaluated,
        ),
    );
    report.record(
        PlayIntegrityCheck::VersionCode,
        check_version_code(app.version_code, expected.min_version_code, app_evaluated),
    );

    let verified = if report.all_passed() {
        // Every check passed, so the package name and timestamp are present.
        match (request.request_package_name, request.timestamp_millis) {
            (Some(request_package_name), Some(timestamp_ms)) => Some(build_verified(
                payload,
                request_package_name,
                timestamp_ms,
                app.app_recognition_verdict,
                app.certificate_sha256_digest.unwrap_or_default(),
                app.version_code,
            )),
            _ => None,
        }
    } else {
        None
    };
    report.finish(verified)
}

fn check_package_name(
    received: Option<&str>,
    field: &'static str,
    expected: &str,
    required: bool,
) -> Result<(), Error> {
    match received {
        Some(received) if received == expected => Ok(()),
        Some(received) => Err(Error::PackageNameMismatch {
            field,
            expected: expected.to_owned(),
            received: received.to_owned(),
        }),
        None if required => Err(Error::MissingField { what: field }),
        None => Ok(()),
    }
}

fn check_binding(request: &RequestDetails, binding: RequestBinding<'_>) -> Result<(), Error> {
    let received = match binding {
        RequestBinding::Nonce(_) => request.nonce.as_deref(),
        RequestBinding::RequestHash(_) => request.request_hash.as_deref(),
    };
    let field = binding.field();
    let received = received.ok_or(Error::MissingField { what: field })?;
    if binding_matches(received, binding.expected()) {
        Ok(())
    } else {
        Err(Error::NonceMismatch { field })
    }
}

/// Compares the payload's nonce or request hash with the expected bytes. The text matches when
/// it decodes to those bytes as base64 in any variant, or as hexadecimal in either case (apps
/// often pass a hex SHA-256 as the request hash). An empty expectation never matches, so a
/// caller that forgot to set it fails closed.
fn binding_matches(received: &str, expected: &[u8]) -> bool {
    if expected.is_empty() {
        return false;
    }
    let as_base64 = decode_base64_any(received).is_ok_and(|bytes| bytes == expected);
    let as_hex = decode_hex(received).is_some_and(|bytes| bytes == expected);
    as_base64 || as_hex
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    text.as_bytes()
        .chunks_exact(2)
        .map(|pair| {
            let pair = std::str::from_utf8(pair).ok()?;
            if !pair.bytes().all(|byte| byte.is_ascii_hexdigit()) {
                return None;
            }
            u8::from_str_radix(pair, 16).ok()
        })
        .collect()
}

fn check_timestamp(
    timestamp_ms: Option<u64>,
    now: UnixTime,
    freshness: Freshness,
) -> Result<(), Error> {
    let timestamp_ms = timestamp_ms.ok_or(Error::MissingField {
        what: "requestDetails.timestampMillis",
    })?;
    freshness.check(timestamp_ms, now)
}

fn check_certificate_digests(
    received: Option<&[String]>,
    registered: CertificateDigests<'_>,
    app_evaluated: bool,
) -> Result<(), Error> {
    let CertificateDigests::Registered(registered) = registered else {
        return Ok(());
    };
    let received = received.unwrap_or_default();
    if received.is_empty() {
        // Google sends the digests whenever it evaluated the app; without them nothing shows
        // that the app is signed with a registered certificate.
        return if app_evaluated {
            Err(Error::CertificateDigestMismatch)
        } else {
            Ok(())
        };
    }
    let all_registered = received.iter().all(|digest| {
        decode_base64_any(digest).is_ok_and(|bytes| {
            registered
                .iter()
                .any(|registered| registered.as_slice() == bytes.as_slice())
        })
    });
    if all_registered {
        Ok(())
    } else {
        Err(Error::CertificateDigestMismatch)
    }
}

fn check_version_code(
    received: Option<i64>,
    minimum: Option<i64>,
    app_evaluated: bool,
) -> Result<(), Error> {
    let Some(minimum) = minimum else {
        return Ok(());
    };
    match received {
        Some(received) if received >= minimum => Ok(()),
        Some(received) => Err(Error::VersionCodeTooLow { minimum, received }),
        None if app_evaluated => Err(Error::MissingField {
            what: "appIntegrity.versionCode",
        }),
        None => Ok(()),
    }
}

// === Token decoding ===

fn decrypt_token(token: &str, keys: &PlayIntegrityKeys) -> Result<Vec<u8>, Error> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(Error::InputTooLarge {
            what: "integrity token",
            len: token.len(),
            max: MAX_TOKEN_LEN,
        });
    }
    jwe::decrypt(token, keys.decryption_key())
}

fn parse_jws(plaintext: &[u8]) -> Result<Jws, Error> {
    let text = std::str::from_utf8(plaintext).map_err(|_| Error::MalformedJws {
        detail: "JWE plaintext is not UTF-8 text",
    })?;
    Jws::parse(text, MAX_TOKEN_LEN, &[JwsAlgorithm::Es256])
}

// === Report building ===

/// Collects outcomes in check order.
struct Recorder {
    checks: &'static [PlayIntegrityCheck],
    outcomes: Vec<(PlayIntegrityCheck, CheckOutcome)>,
}

impl Recorder {
    fn new(checks: &'static [PlayIntegrityCheck]) -> Self {
        Self {
            checks,
            outcomes: Vec::with_capacity(checks.len()),
        }
    }

    fn record(&mut self, check: PlayIntegrityCheck, result: Result<(), Error>) {
        self.outcomes.push((check, CheckOutcome::from(result)));
    }

    fn all_passed(&self) -> bool {
        self.outcomes.len() == self.checks.len()
            && self
                .outcomes
                .iter()
                .all(|(_, outcome)| *outcome == CheckOutcome::Passed)
    }

    /// Records `check` as failed and every check after it as skipped.
    fn fail_and_skip_rest(
        mut self,
        check: PlayIntegrityCheck,
        error: Error,
    ) -> PlayIntegrityReport {
        self.record(check, Err(error));
        let done = self.outcomes.len();
        let rest = self.checks.iter().skip(done);
        self.outcomes
            .extend(rest.map(|check| (*check, CheckOutcome::Skipped)));
        self.finish(None)
    }

    fn finish(self, verified: Option<VerifiedPlayIntegrity>) -> PlayIntegrityReport {
        PlayIntegrityReport::new(self.outcomes, verified, "integrity verdict")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_decodes_either_case() {
        assert_eq!(decode_hex("0aFf"), Some(vec![0x0a, 0xff]));
        assert_eq!(decode_hex("0g"), None);
        assert_eq!(decode_hex("abc"), None);
        assert_eq!(decode_hex("+1"), None);
    }

    #[test]
    fn binding_accepts_base64_variants_and_hex() {
        let expected: Vec<u8> = (0u8..32).map(|byte| byte.wrapping_mul(37)).collect();
        let encodings = [
            base64_of(&expected, base64::engine::general_purpose::STANDARD),
            base64_of(&expected, base64::engine::general_purpose::STANDARD_NO_PAD),
            base64_of(&expected, base64::engine::general_purpose::URL_SAFE),
            base64_of(&expected, base64::engine::general_purpose::URL_SAFE_NO_PAD),
            hex::encode(&expected),
            hex::encode_upper(&expected),
        ];
        for encoded in encodings {
            assert!(binding_matches(&encoded, &expected), "{encoded}");
        }
        let mut other = expected.clone();
        other[0] ^= 1;
        assert!(!binding_matches(&hex::encode(&other), &expected));
        assert!(!binding_matches("", &[]));
    }

    fn base64_of(bytes: &[u8], engine: base64::engine::GeneralPurpose) -> String {
        use base64::Engine as _;
        engine.encode(bytes)
    }

    #[test]
    fn every_check_has_a_distinct_name() {
        let mut names: Vec<_> = PlayIntegrityCheck::TOKEN
            .iter()
            .map(|check| check.name())
            .collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), PlayIntegrityCheck::TOKEN.len());
        assert!(PlayIntegrityCheck::TOKEN.ends_with(&PlayIntegrityCheck::DECODED));
    }
}
