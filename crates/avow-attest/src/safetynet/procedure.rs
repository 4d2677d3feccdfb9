//! The verification steps that SafetyNet and Huawei SysIntegrity results share: a compact JWS
//! whose `x5c` leaf is issued for the vendor's host and whose payload binds the nonce, the
//! time and the app. The types here are generic over the vendor; each vendor's module names
//! them with aliases.

use rustls_pki_types::UnixTime;

use super::payload::{Response, ResultPayload};
use crate::encoding::decode_base64_any;
use crate::jws::{Jws, JwsAlgorithm};
use crate::verdict::AppIntegrity;
use crate::{CertificateDigests, CheckOutcome, CheckReport, Error, Freshness, Roots, x509};

/// The caller's inputs for one result in the SafetyNet format.
///
/// [`SafetyNetInput`](super::SafetyNetInput) and
/// [`SysIntegrityInput`](crate::huawei_safety_detect::SysIntegrityInput) name it.
#[derive(Clone, Copy, Debug)]
pub struct ResultInput<'a> {
    /// The compact JWS returned by `SafetyNetClient.attest` or
    /// `SafetyDetectClient.sysIntegrity`.
    pub jws: &'a str,
    /// The nonce bytes the server issued, which the app passed to the vendor's API. For a
    /// WebAuthn `android-safetynet` attestation, the SHA-256 of authenticator data ‖ client
    /// data hash.
    pub expected_nonce: &'a [u8],
    /// The app's package name.
    pub package_name: &'a str,
    /// The app's registered signing certificate digests. Every digest in
    /// `apkCertificateDigestSha256` must be registered. A payload without digests (a failing
    /// device's payload carries none) still verifies, with the app reported as
    /// [`AppIntegrity::Unevaluated`].
    pub certificate_digests: CertificateDigests<'a>,
    /// The window in which `timestampMs` must lie.
    pub freshness: Freshness,
}

/// A result in the SafetyNet format that passed every check, with the labels of vendor `V`.
/// Only this crate constructs it.
///
/// [`VerifiedSafetyNet`](super::VerifiedSafetyNet) and
/// [`VerifiedSysIntegrity`](crate::huawei_safety_detect::VerifiedSysIntegrity) name it, and
/// add `verdict`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedResult<V> {
    payload: ResultPayload<V>,
    nonce: Vec<u8>,
    timestamp_ms: u64,
    package_name: String,
    pub(crate) app_integrity: AppIntegrity,
}

impl<V> VerifiedResult<V> {
    /// The nonce bytes, equal to the expected nonce.
    pub fn nonce(&self) -> &[u8] {
        &self.nonce
    }

    /// When the vendor produced the result, Unix milliseconds.
    pub fn timestamp_ms(&self) -> u64 {
        self.timestamp_ms
    }

    /// The app's package name.
    pub fn package_name(&self) -> &str {
        &self.package_name
    }

    /// The payload with the vendor's labels.
    pub fn payload(&self) -> &ResultPayload<V> {
        &self.payload
    }
}

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

/// Defines a vendor's public check enum: the steps of the shared procedure under the vendor's
/// name, with `ALL`, `name`, `description` and the conversions to and from [`Step`].
///
/// The two vendors run the same steps and differ only in the accepted algorithms and the host
/// name, so the invocation gives the documentation and the description of those two checks.
/// Each vendor keeps its own type, with descriptions that name its algorithms and host.
macro_rules! check_enum {
    (
        $(#[$enum_attr:meta])*
        pub enum $name:ident {
            $(#[$structure_attr:meta])*
            Structure => $structure:literal,
            $(#[$chain_attr:meta])*
            CertificateChain => $chain:literal $(,)?
        }
    ) => {
        $(#[$enum_attr])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $(#[$structure_attr])*
            Structure,
            $(#[$chain_attr])*
            CertificateChain,
            /// The JWS signature verifies with the leaf certificate's key.
            Signature,
            /// `nonce` decodes to the expected nonce bytes.
            Nonce,
            /// `timestampMs` lies in the freshness window.
            Timestamp,
            /// `apkPackageName` equals the app's package name.
            PackageName,
            /// Every `apkCertificateDigestSha256` entry is a registered digest.
            CertificateDigest,
        }

        impl $name {
            /// Every check, in the order they run.
            pub const ALL: [Self; 7] = [
                Self::Structure,
                Self::CertificateChain,
                Self::Signature,
                Self::Nonce,
                Self::Timestamp,
                Self::PackageName,
                Self::CertificateDigest,
            ];

            /// Returns the snake_case name of the check.
            pub fn name(self) -> &'static str {
                $crate::safetynet::procedure::Step::from(self).name()
            }

            /// Returns a one-line description of what the check requires.
            pub fn description(self) -> &'static str {
                match self {
                    Self::Structure => $structure,
                    Self::CertificateChain => $chain,
                    Self::Signature => "JWS signature verifies with the leaf certificate's key",
                    Self::Nonce => "nonce = the nonce the server issued",
                    Self::Timestamp => "timestampMs within the freshness window",
                    Self::PackageName => "apkPackageName = the app's package name",
                    Self::CertificateDigest => {
                        "apkCertificateDigestSha256 entries are registered digests, when any are \
                         registered"
                    }
                }
            }
        }

        impl From<$name> for $crate::safetynet::procedure::Step {
            fn from(check: $name) -> Self {
                match check {
                    $name::Structure => Self::Structure,
                    $name::CertificateChain => Self::CertificateChain,
                    $name::Signature => Self::Signature,
                    $name::Nonce => Self::Nonce,
                    $name::Timestamp => Self::Timestamp,
                    $name::PackageName => Self::PackageName,
                    $name::CertificateDigest => Self::CertificateDigest,
                }
            }
        }

        impl From<$crate::safetynet::procedure::Step> for $name {
            fn from(step: $crate::safetynet::procedure::Step) -> Self {
                use $crate::safetynet::procedure::Step;
                match step {
                    Step::Structure => Self::Structure,
                    Step::CertificateChain => Self::CertificateChain,
                    Step::Signature => Self::Signature,
                    Step::Nonce => Self::Nonce,
                    Step::Timestamp => Self::Timestamp,
                    Step::PackageName => Self::PackageName,
                    Step::CertificateDigest => Self::CertificateDigest,
                }
            }
        }
    };
}

pub(crate) use check_enum;

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
    /// The payload as named in errors.
    pub(crate) what: &'static str,
    /// The result as named in the error of a report without failure and without result.
    pub(crate) result: &'static str,
    pub(crate) max_len: usize,
    pub(crate) algorithms: &'static [JwsAlgorithm],
    pub(crate) padding: Padding,
    pub(crate) host: &'static str,
    pub(crate) host_name: HostName,
}

/// Runs every step and reports each outcome as the vendor's check `C`. When the JWS cannot be
/// decoded, [`Step::Structure`] fails and every other step is skipped.
pub(crate) fn run<C, V>(
    procedure: &Procedure,
    input: &ResultInput<'_>,
    roots: &Roots,
    now: UnixTime,
) -> CheckReport<C, VerifiedResult<V>>
where
    C: Copy + From<Step>,
{
    let decoded = match decode(procedure, input.jws) {
        Ok(decoded) => decoded,
        Err(error) => {
            let checks = STEPS.map(C::from);
            return CheckReport::undecodable(&checks, error, procedure.result);
        }
    };

    let mut outcomes = Vec::with_capacity(STEPS.len());
    let mut record = |step: Step, result: Result<(), Error>| {
        outcomes.push((C::from(step), CheckOutcome::from(result)));
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
    let nonce = check_nonce(procedure, &response, input.expected_nonce);
    record(Step::Nonce, status(&nonce));
    let timestamp_ms = check_timestamp(&response, input.freshness, now);
    record(Step::Timestamp, status(&timestamp_ms));
    let package_name = check_package_name(&response, input.package_name);
    record(Step::PackageName, status(&package_name));
    let app_integrity = check_certificate_digests(&response, input.certificate_digests);
    record(Step::CertificateDigest, status(&app_integrity));

    let all_passed = outcomes
        .iter()
        .all(|(_, outcome)| *outcome == CheckOutcome::Passed);
    let verified = match (all_passed, nonce, timestamp_ms, package_name, app_integrity) {
        (true, Ok(nonce), Ok(timestamp_ms), Ok(package_name), Ok(app_integrity)) => {
            Some(VerifiedResult {
                payload: ResultPayload::new(response),
                nonce,
                timestamp_ms,
                package_name,
                app_integrity,
            })
        }
        _ => None,
    };
    CheckReport::new(outcomes, verified, procedure.result)
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
    freshness.check(timestamp_ms, now)?;
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
