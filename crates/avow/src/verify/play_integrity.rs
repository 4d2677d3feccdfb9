//! `avow verify play-integrity` and `avow verify play-integrity-decoded`: offline checks of a
//! Play Integrity token or of a verdict that Google's `decodeIntegrityToken` returned.

use std::path::PathBuf;
use std::process::ExitCode;

use avow_attest::encoding::decode_base64_any;
use avow_attest::play_integrity::{
    self, ExpectedRequest, PlayIntegrityCheck, PlayIntegrityKeys, PlayIntegrityReport,
    RequestBinding, VerifiedPlayIntegrity,
};
use avow_attest::{CertificateDigests, Freshness};
use clap::Args;

use super::{
    FreshnessArgs, decode_base64_option, parse_digests, parse_time, print_check_report,
    read_evidence, unix, verdict_summary,
};

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
    #[command(flatten)]
    freshness: FreshnessArgs,
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
            (Some(nonce), None) => Binding::Nonce(decode_base64_option(nonce, "--nonce")?),
            (None, Some(hash)) => Binding::RequestHash(decode_request_hash(hash)?),
            _ => return Err("give exactly one of --nonce and --request-hash".to_owned()),
        };
        Ok(Self {
            package: args.package.clone(),
            binding,
            digests: parse_digests(&args.certificate_digests, "--certificate-digest")?,
            min_version_code: args.min_version_code,
            now: parse_time(&args.at)?,
            freshness: args.freshness.freshness(),
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
            certificate_digests: CertificateDigests::registered_or_not_compared(&self.digests),
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
    let digests_compared = !expectation.digests.is_empty();
    print_check_report(
        report,
        PlayIntegrityCheck::name,
        PlayIntegrityCheck::description,
        |verified| summary(verified, digests_compared),
        expectation.as_json,
    )
}

fn summary(verified: &VerifiedPlayIntegrity, digests_compared: bool) -> serde_json::Value {
    let mut summary = verdict_summary(verified.verdict());
    summary["timestamp_ms"] = verified.timestamp_ms().into();
    summary["request_package_name"] = verified.request_package_name().into();
    summary["app_recognition_verdict"] = verified
        .app_recognition_verdict()
        .map(|label| label.as_str())
        .into();
    summary["certificate_digests_compared"] = digests_compared.into();
    summary["version_code"] = verified.version_code().into();
    summary["device_recognition_verdict"] = verified
        .device_recognition_labels()
        .iter()
        .map(|label| label.as_str())
        .collect::<Vec<_>>()
        .into();
    summary["device_activity_level"] = verified
        .device_activity_level()
        .map(|level| level.as_str())
        .into();
    summary["app_licensing_verdict"] = verified
        .app_licensing_verdict()
        .map(|label| label.as_str())
        .into();
    summary["play_protect_verdict"] = verified
        .play_protect_verdict()
        .map(|label| label.as_str())
        .into();
    summary["apps_detected"] = verified
        .apps_detected()
        .iter()
        .map(|label| label.as_str())
        .collect::<Vec<_>>()
        .into();
    summary["testing_response"] = verified.is_testing_response().into();
    summary
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
