//! The verification steps that SafetyNet and Huawei SysIntegrity results share: a compact JWS
//! whose `x5c` leaf is issued for the vendor's host and whose payload binds the nonce, the
//! time and the app.

use rustls_pki_types::UnixTime;

use super::payload::{CertificateDigests, Freshness, Response};
use crate::encoding::decode_base64_any;
use crate::jws::{Jws, JwsAlgorithm};
use crate::verdict::AppIntegrity;
use crate::{CheckOutcome, Error, Roots, x509};

/// One step of the shared procedure, in the order the steps run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    Structure,
    CertificateChain,
    Signature,
    Nonce,
    Timestamp,
    PackageName,
    CertificateDigest,
}

impl Step {
    /// Returns the snake_case name that both vendors' check enums use.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Structure => "structure",
            Self::CertificateChain => "certificate_chain",
            Self::Signature => "signature",
            Self::Nonce => "nonce",
            Self::Timestamp => "timestamp",
            Self::PackageName => "package_name",
            Self::CertificateDigest => "certificate_digest",
        }
    }
}

/// Every step, in the order they run.
pub(crate) const STEPS: [Step; 7] = [
    Step::Structure,
    Step::CertificateChain,
    Step::Signature,
    Step::Nonce,
    Step::Timestamp,
    Step::PackageName,
    Step::CertificateDigest,
];

/// Whether base64url parts of the JWS may end in `=` padding.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Padding {
    /// RFC 7515: no padding.
    Forbidden,
    /// Padding is accepted and the signature covers the text as received.
    Accepted,
}

/// The form in which the leaf certificate names the vendor's host.
#[derive(Clone, Copy, Debug)]
pub(crate) enum HostName {
    /// A DNS name in the subject alternative names, as webpki checks it.
    SubjectAltName,
    /// A DNS subject alternative name, or, when the leaf has no DNS subject alternative name
    /// at all, the subject common name.
    SubjectAltNameOrCommonName,
}

/// The vendor-specific parts of the procedure.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Procedure {
    /// The evidence as named in errors.
    pub(crate) what: &'static str,
    pub(crate) max_len: usize,
    pub(crate) algorithms: &'static [JwsAlgorithm],
    pub(crate) padding: Padding,
    pub(crate) host: &'static str,
    pub(crate) host_name: HostName,
}

/// The server's expectations of a result.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Expected<'a> {
    pub(crate) nonce: &'a [u8],
    pub(crate) package_name: &'a str,
    pub(crate) certificate_digests: CertificateDigests<'a>,
    pub(crate) freshness: Freshness,
}

/// The values of a result that passed every step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Passed {
    pub(crate) response: Response,
    pub(crate) nonce: Vec<u8>,
    pub(crate) timestamp_ms: u64,
    pub(crate) package_name: String,
    pub(crate) app_integrity: AppIntegrity,
}

/// The outcome of every step, and the result when all passed.
pub(crate) struct Outcome {
    pub(crate) steps: Vec<(Step, CheckOutcome)>,
    pub(crate) passed: Option<Passed>,
}

/// Runs every step. When the JWS cannot be decoded, [`Step::Structure`] fails and every other
/// step is skipped.
pub(crate) fn run(
    procedure: &Procedure,
    token: &str,
    expected: &Expected<'_>,
    roots: &Roots,
    now: UnixTime,
) -> Outcome {
    let decoded = match decode(procedure, token) {
        Ok(decoded) => decoded,
        Err(error) => {
            let mut steps = vec![(Step::Structure, CheckOutcome::Failed(error))];
            steps.extend(STEPS[1..].iter().map(|step| (*step, CheckOutcome::Skipped)));
            return Outcome {
                steps,
                passed: None,
            };
        }
    };

    let mut steps = Vec::with_capacity(STEPS.len());
    let mut record = |step, result: Result<(), Error>| {
        let outcome = match result {
            Ok(()) => CheckOutcome::Passed,
            Err(error) => CheckOutcome::Failed(error),
        };
        steps.push((step, outcome));
    };

    let Decoded {
        jws,
        leaf,
        intermediates,
        response,
    } = decoded;
    record(Step::Structure, Ok(()));
    record(
        Step::CertificateChain,
        check_chain(procedure, &leaf, &intermediates, roots, now),
    );
    record(Step::Signature, jws.verify_with_certificate(&leaf));
    let nonce = check_nonce(procedure, &response, expected.nonce);
    record(Step::Nonce, status(&nonce));
    let timestamp_ms = check_timestamp(&response, expected.freshness, now);
    record(Step::Timestamp, status(&timestamp_ms));
    let package_name = check_package_name(&response, expected.package_name);
    record(Step::PackageName, status(&package_name));
    let app_integrity = check_certificate_digests(&response, expected.certificate_digests);
    record(Step::CertificateDigest, status(&app_integrity));

    let all_passed = steps
        .iter()
        .all(|(_, outcome)| *outcome == CheckOutcome::Passed);
    let passed = match (all_passed, nonce, timestamp_ms, package_name, app_integrity) {
        (true, Ok(nonce), Ok(timestamp_ms), Ok(package_name), Ok(app_integrity)) => Some(Passed {
            response,
            nonce,
            timestamp_ms,
            package_name,
            app_integrity,
        }),
        _ => None,
    };
    Outcome { steps, passed }
}

/// Returns the pass or fail part of a check that also produced a value.
fn status<T>(result: &Result<T, Error>) -> Result<(), Error> {
    result.as_ref().map(|_| ()).map_err(Clone::clone)
}

/// A result split into its parts, not verified yet.
struct Decoded {
    jws: Jws,
    leaf: Vec<u8>,
    intermediates: Vec<Vec<u8>>,
    response: Response,
}

fn decode(procedure: &Procedure, token: &str) -> Result<Decoded, Error> {
    let jws = match procedure.padding {
        Padding::Forbidden => Jws::parse(token, procedure.max_len, procedure.algorithms)?,
        Padding::Accepted => {
            Jws::parse_allowing_padding(token, procedure.max_len, procedure.algorithms)?
        }
    };
    let mut chain = jws.x5c_der()?.into_iter();
    // x5c_der rejects an empty list, so this error is only a guard.
    let leaf = chain.next().ok_or(Error::MalformedJws {
        detail: "header has no x5c certificate chain",
    })?;
    let response = Response::from_json(&jws.payload, procedure.what)?;
    Ok(Decoded {
        jws,
        leaf,
        intermediates: chain.collect(),
        response,
    })
}

fn check_chain(
    procedure: &Procedure,
    leaf: &[u8],
    intermediates: &[Vec<u8>],
    roots: &Roots,
    now: UnixTime,
) -> Result<(), Error> {
    let result = x509::verify_chain(
        leaf,
        intermediates,
        roots,
        now,
        x509::ECDSA_AND_RSA_ALGORITHMS,
        Some(procedure.host),
    );
    match (result, procedure.host_name) {
        // verify_chain checks the name only after the chain passed, so this error means the
        // chain is valid and only the subject alternative name is missing.
        (Err(Error::CertificateNameMismatch { .. }), HostName::SubjectAltNameOrCommonName)
            if common_name_is(leaf, procedure.host) =>
        {
            Ok(())
        }
        (result, _) => result,
    }
}

/// Returns whether the certificate has no DNS subject alternative name and a subject common
/// name equal to `host` (ignoring ASCII case), the pre-RFC 6125 way of naming a host.
fn common_name_is(certificate: &[u8], host: &str) -> bool {
    let Ok((_, certificate)) = x509_parser::parse_x509_certificate(certificate) else {
        return false;
    };
    let has_dns_alt_name = match certificate.subject_alternative_name() {
        Ok(Some(extension)) => extension
            .value
            .general_names
            .iter()
            .any(|name| matches!(name, x509_parser::extensions::GeneralName::DNSName(_))),
        Ok(None) => false,
        // A malformed or duplicated extension never allows the fallback.
        Err(_) => true,
    };
    if has_dns_alt_name {
        return false;
    }
    let mut common_names = certificate.subject().iter_common_name();
    // Exactly one common name, so a second one cannot smuggle in the host.
    match (common_names.next(), common_names.next()) {
        (Some(name), None) => name
            .as_str()
            .is_ok_and(|name| name.eq_ignore_ascii_case(host)),
        _ => false,
    }
}

fn check_nonce(
    procedure: &Procedure,
    response: &Response,
    expected: &[u8],
) -> Result<Vec<u8>, Error> {
    let nonce = response
        .nonce
        .as_deref()
        .ok_or(Error::MissingField { what: "nonce" })?;
    let bytes = decode_base64_any(nonce).map_err(|_| Error::MalformedPayload {
        what: procedure.what,
        detail: "nonce is not base64".to_owned(),
    })?;
    if bytes == expected {
        Ok(bytes)
    } else {
        Err(Error::NonceMismatch { field: "nonce" })
    }
}

fn check_timestamp(response: &Response, freshness: Freshness, now: UnixTime) -> Result<u64, Error> {
    let timestamp_ms = response.timestamp_ms.ok_or(Error::MissingField {
        what: "timestampMs",
    })?;
    let now_ms = now.as_secs().saturating_mul(1000);
    let max_age_ms = freshness.max_age_secs.saturating_mul(1000);
    let max_skew_ms = freshness.max_future_skew_secs.saturating_mul(1000);
    if timestamp_ms.saturating_add(max_age_ms) < now_ms {
        return Err(Error::EvidenceTooOld {
            timestamp_ms,
            now_ms,
            max_age_ms,
        });
    }
    if timestamp_ms > now_ms.saturating_add(max_skew_ms) {
        return Err(Error::EvidenceFromFuture {
            timestamp_ms,
            now_ms,
            max_skew_ms,
        });
    }
    Ok(timestamp_ms)
}

fn check_package_name(response: &Response, expected: &str) -> Result<String, Error> {
    let received = response
        .package_name
        .as_deref()
        .ok_or(Error::MissingField {
            what: "apkPackageName",
        })?;
    if received == expected {
        Ok(received.to_owned())
    } else {
        Err(Error::PackageNameMismatch {
            field: "apkPackageName",
            expected: expected.to_owned(),
            received: received.to_owned(),
        })
    }
}

/// Compares the payload's signing certificate digests with the registered ones and returns
/// the app integrity that follows.
fn check_certificate_digests(
    response: &Response,
    registered: CertificateDigests<'_>,
) -> Result<AppIntegrity, Error> {
    let received = &response.certificate_digests;
    match registered {
        _ if received.is_empty() => Ok(AppIntegrity::Unevaluated),
        CertificateDigests::NotCompared => Ok(AppIntegrity::Unevaluated),
        CertificateDigests::Registered(registered) => {
            if received.iter().all(|digest| registered.contains(digest)) {
                Ok(AppIntegrity::Recognized)
            } else {
                Err(Error::CertificateDigestMismatch)
            }
        }
    }
}
