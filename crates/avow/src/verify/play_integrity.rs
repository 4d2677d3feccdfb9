//! `avow verify play-integrity` and `avow verify play-integrity-decoded`: offline checks of a
//! Play Integrity token or of a verdict that Google's `decodeIntegrityToken` returned.

use std::path::PathBuf;
use std::process::ExitCode;

use avow_attest::encoding::decode_base64_any;
use avow_attest::play_integrity::{
    self, CertificateDigests, DEFAULT_MAX_AGE_SECS, DEFAULT_MAX_FUTURE_SKEW_SECS, ExpectedRequest,
    Freshness, PlayIntegrityKeys, PlayIntegrityReport, RequestBinding, VerifiedPlayIntegrity,
};
use avow_attest::verdict::{AppIntegrity, DeviceIntegrity};
use clap::Args;
use serde_json::json;

use super::{parse_time, print_report, read_evidence, unix};

/// Arguments of `avow verify play-integrity`.
#[derive(Debug, Args)]
pub(crate) struct PlayIntegrityArgs {
    /// File with the integrity token (compact JWE text).
    #[arg(long)]
    token: PathBuf,
    /// The app's response decryption key from the Play Console, base64 (32 bytes).
    #[arg(long)]
    decryption_key: String,
    /// The app's response verification key from the Play Console, base64 DER
    /// SubjectPublicKeyInfo of a P-256 key.
    #[arg(long)]
    verification_key: String,
    #[command(flatten)]
    expectation: ExpectationArgs,
}

/// Arguments of `avow verify play-integrity-decoded`.
#[derive(Debug, Args)]
pub(crate) struct DecodedArgs {
    /// File with the JSON that `decodeIntegrityToken` returned, with or without its
    /// `tokenPayloadExternal` wrapper.
    #[arg(long)]
    payload: PathBuf,
    #[command(flatten)]
    expectation: ExpectationArgs,
}

/// The expected app and request, shared by both commands.
#[derive(Debug, Args)]
pub(crate) struct ExpectationArgs {
    #[command(flatten)]
    binding: BindingArgs,
    /// The app's package name.
    #[arg(long)]
    package: String,
    /// A registered SHA-256 digest of the app's signing certificate, base64url (repeat for
    /// several). Without it, the digests in the verdict are not compared.
    #[arg(long = "certificate-digest")]
    certificate_digests: Vec<String>,
    /// The lowest accepted `versionCode`.
    #[arg(long)]
    min_version_code: Option<i64>,
    /// Verification time (RFC 3339), such as the capture time of the verdict.
    #[arg(long)]
    at: String,
    /// Maximum age of the verdict at the verification time, seconds.
    #[arg(long, default_value_t = DEFAULT_MAX_AGE_SECS)]
    max_age_secs: u64,
    /// Allowed clock skew for verdicts from the future, seconds.
    #[arg(long, default_value_t = DEFAULT_MAX_FUTURE_SKEW_SECS)]
    max_future_skew_secs: u64,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// The binding of the request to the server: exactly one of the two options.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub(crate) struct BindingArgs {
    /// Classic requests: the nonce the server issued, base64 in any variant.
    #[arg(long)]
    nonce: Option<String>,
    /// Standard requests: the request hash the app passed, in hex or base64 in any variant.
    #[arg(long)]
    request_hash: Option<String>,
}

/// The expectation decoded from the arguments, owning its bytes.
struct Expectation {
    package: String,
    binding: Binding,
    digests: Vec<[u8; 32]>,
    min_version_code: Option<i64>,
    now: u64,
    freshness: Freshness,
    as_json: bool,
}

enum Binding {
    Nonce(Vec<u8>),
    RequestHash(Vec<u8>),
}

impl Expectation {
    fn parse(args: &ExpectationArgs) -> Result<Self, String> {
        let binding = match (&args.binding.nonce, &args.binding.request_hash) {
            (Some(nonce), None) => Binding::Nonce(
                decode_base64_any(nonce).map_err(|_| "--nonce is not base64".to_owned())?,
            ),
            (None, Some(hash)) => Binding::RequestHash(decode_request_hash(hash)?),
            _ => return Err("give exactly one of --nonce and --request-hash".to_owned()),
        };
        let digests = args
            .certificate_digests
            .iter()
            .map(|digest| {
                decode_base64_any(digest)
                    .ok()
                    .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
                    .ok_or_else(|| {
                        format!("--certificate-digest {digest:?} is not a base64 SHA-256 digest")
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            package: args.package.clone(),
            binding,
            digests,
            min_version_code: args.min_version_code,
            now: parse_time(&args.at)?,
            freshness: Freshness {
                max_age_secs: args.max_age_secs,
                max_future_skew_secs: args.max_future_skew_secs,
            },
            as_json: args.json,
        })
    }

    fn expected(&self) -> ExpectedRequest<'_> {
        ExpectedRequest {
            package_name: &self.package,
            binding: match &self.binding {
                Binding::Nonce(bytes) => RequestBinding::Nonce(bytes),
                Binding::RequestHash(bytes) => RequestBinding::RequestHash(bytes),
            },
            certificate_digests: if self.digests.is_empty() {
                CertificateDigests::NotCompared
            } else {
                CertificateDigests::Registered(&self.digests)
            },
            min_version_code: self.min_version_code,
        }
    }
}

/// Runs `avow verify play-integrity`.
pub(crate) fn verify_token(args: &PlayIntegrityArgs) -> Result<ExitCode, String> {
    let token = read_evidence(&args.token)?;
    let token = String::from_utf8(token)
        .map_err(|_| format!("{} is not a text token", args.token.display()))?;
    let keys = PlayIntegrityKeys::from_base64(&args.decryption_key, &args.verification_key)
        .map_err(|error| format!("Play Console keys: {error}"))?;
    let expectation = Expectation::parse(&args.expectation)?;
    let report = play_integrity::verify_token_report(
        &token,
        &keys,
        &expectation.expected(),
        unix(expectation.now),
        expectation.freshness,
    );
    Ok(print(&report, &expectation))
}

/// Runs `avow verify play-integrity-decoded`.
pub(crate) fn verify_decoded(args: &DecodedArgs) -> Result<ExitCode, String> {
    let payload = read_evidence(&args.payload)?;
    let expectation = Expectation::parse(&args.expectation)?;
    let report = play_integrity::verify_decoded_payload_report(
        &payload,
        &expectation.expected(),
        unix(expectation.now),
        expectation.freshness,
    );
    Ok(print(&report, &expectation))
}

fn print(report: &PlayIntegrityReport, expectation: &Expectation) -> ExitCode {
    let checks: Vec<_> = report
        .outcomes()
        .iter()
        .map(|(check, outcome)| (check.name(), check.description(), outcome))
        .collect();
    let failure = report.first_failure().map(|(_, error)| error.clone());
    let summary = report
        .clone()
        .into_result()
        .ok()
        .map(|verified| summary(&verified, !expectation.digests.is_empty()));
    print_report(&checks, failure.as_ref(), summary, expectation.as_json)
}

fn summary(verified: &VerifiedPlayIntegrity, digests_compared: bool) -> serde_json::Value {
    let verdict = verified.verdict();
    let flags: Vec<&str> = verdict
        .risk_flags
        .iter()
        .map(|flag| flag.as_str())
        .collect();
    json!({
        "app_integrity": app_integrity_name(verdict.app_integrity),
        "device_integrity": device_integrity_name(verdict.device_integrity),
        "risk_flags": flags,
        "timestamp_ms": verified.timestamp_ms(),
        "request_package_name": verified.request_package_name(),
        "app_recognition_verdict": verified.app_recognition_verdict().map(|label| label.as_str()),
        "certificate_digests_compared": digests_compared,
        "version_code": verified.version_code(),
        "device_recognition_verdict": verified
            .device_recognition_labels()
            .iter()
            .map(|label| label.as_str())
            .collect::<Vec<_>>(),
        "device_activity_level": verified.device_activity_level().map(|level| level.as_str()),
        "app_licensing_verdict": verified.app_licensing_verdict().map(|label| label.as_str()),
        "play_protect_verdict": verified.play_protect_verdict().map(|label| label.as_str()),
        "apps_detected": verified
            .apps_detected()
            .iter()
            .map(|label| label.as_str())
            .collect::<Vec<_>>(),
        "testing_response": verified.is_testing_response(),
    })
}

/// Decodes a request hash given on the command line: hex when it is an even number of hex
/// digits, otherwise base64 in any variant.
fn decode_request_hash(text: &str) -> Result<Vec<u8>, String> {
    let text = text.trim();
    let is_hex = !text.is_empty()
        && text.len().is_multiple_of(2)
        && text.bytes().all(|byte| byte.is_ascii_hexdigit());
    if is_hex {
        return hex::decode(text).map_err(|_| "--request-hash is not hex".to_owned());
    }
    decode_base64_any(text).map_err(|_| "--request-hash is neither hex nor base64".to_owned())
}

fn app_integrity_name(app_integrity: AppIntegrity) -> &'static str {
    match app_integrity {
        AppIntegrity::Unevaluated => "unevaluated",
        AppIntegrity::Unrecognized => "unrecognized",
        AppIntegrity::Recognized => "recognized",
    }
}

fn device_integrity_name(device_integrity: DeviceIntegrity) -> &'static str {
    match device_integrity {
        DeviceIntegrity::None => "none",
        DeviceIntegrity::Basic => "basic",
        DeviceIntegrity::Device => "device",
        DeviceIntegrity::Strong => "strong",
    }
}
