//! `avow verify safetynet`: offline checks of a stored SafetyNet attestation result.
//!
//! The options are shared with `avow verify huawei-safety-detect`, whose results have the same
//! format.

use std::path::PathBuf;
use std::process::ExitCode;

use avow_attest::safetynet::{
    self, ResultInput, SafetyNetCheck, VerifiedResult, VerifiedSafetyNet,
};
use avow_attest::verdict::Verdict;
use avow_attest::{CertificateDigests, Freshness, Roots, UnixTime};
use clap::Args;

use super::{
    FreshnessArgs, decode_base64_option, parse_digests, parse_time, print_check_report,
    read_evidence, roots_or, unix, verdict_summary,
};

/// Arguments of `avow verify safetynet` and `avow verify huawei-safety-detect`.
#[derive(Debug, Args)]
pub(crate) struct ResultArgs {
    /// File with the result: the compact JWS text.
    #[arg(long)]
    jws: PathBuf,
    /// The nonce the server issued, base64 in any variant.
    #[arg(long)]
    nonce: String,
    /// The app's package name.
    #[arg(long)]
    package: String,
    /// A registered SHA-256 digest of the app's signing certificate, base64 in any variant
    /// (repeat for several). Without it, the digests in the result are not compared.
    #[arg(long = "certificate-digest")]
    certificate_digests: Vec<String>,
    /// Verification time (RFC 3339), such as the capture time of the result.
    #[arg(long)]
    at: String,
    #[command(flatten)]
    freshness: FreshnessArgs,
    /// PEM file with the roots to trust instead of the vendor's compiled-in roots.
    #[arg(long)]
    root: Option<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// The arguments decoded, owning their bytes.
pub(super) struct Inputs {
    jws: String,
    nonce: Vec<u8>,
    package: String,
    digests: Vec<[u8; 32]>,
    freshness: Freshness,
    pub(super) now: UnixTime,
    pub(super) roots: Roots,
    pub(super) as_json: bool,
}

impl Inputs {
    /// Decodes the arguments, with `default_roots` when no `--root` is given.
    pub(super) fn parse(args: &ResultArgs, default_roots: fn() -> Roots) -> Result<Self, String> {
        let jws = String::from_utf8(read_evidence(&args.jws)?)
            .map_err(|_| format!("{} is not a text JWS", args.jws.display()))?;
        Ok(Self {
            jws,
            nonce: decode_base64_option(&args.nonce, "--nonce")?,
            package: args.package.clone(),
            digests: parse_digests(&args.certificate_digests, "--certificate-digest")?,
            freshness: args.freshness.freshness(),
            roots: roots_or(args.root.as_deref(), default_roots)?,
            now: unix(parse_time(&args.at)?),
            as_json: args.json,
        })
    }

    /// Returns the verifier's input, which borrows the decoded bytes.
    pub(super) fn input(&self) -> ResultInput<'_> {
        ResultInput {
            jws: &self.jws,
            expected_nonce: &self.nonce,
            package_name: &self.package,
            certificate_digests: CertificateDigests::registered_or_not_compared(&self.digests),
            freshness: self.freshness,
        }
    }
}

/// Runs `avow verify safetynet`.
pub(crate) fn verify(args: &ResultArgs) -> Result<ExitCode, String> {
    let inputs = Inputs::parse(args, Roots::globalsign)?;
    let report = safetynet::verify_safetynet_report(&inputs.input(), &inputs.roots, inputs.now);
    Ok(print_check_report(
        &report,
        SafetyNetCheck::name,
        SafetyNetCheck::description,
        summary,
        inputs.as_json,
    ))
}

fn summary(verified: &VerifiedSafetyNet) -> serde_json::Value {
    let payload = verified.payload();
    let mut summary = result_summary(verified, &verified.verdict());
    summary["cts_profile_match"] = payload.cts_profile_match().into();
    summary["evaluation_type"] = payload
        .evaluation_types()
        .iter()
        .map(|label| label.as_str())
        .collect::<Vec<_>>()
        .into();
    summary["error"] = payload.error().into();
    summary
}

/// Returns the summary fields that SafetyNet and SysIntegrity results share, with the
/// vendor's `verdict` of the result.
pub(super) fn result_summary<V>(
    verified: &VerifiedResult<V>,
    verdict: &Verdict,
) -> serde_json::Value {
    let payload = verified.payload();
    let mut summary = verdict_summary(verdict);
    summary["package_name"] = verified.package_name().into();
    summary["timestamp_ms"] = verified.timestamp_ms().into();
    summary["basic_integrity"] = payload.basic_integrity().into();
    summary["advice"] = payload
        .advice()
        .iter()
        .map(|advice| advice.as_str())
        .collect::<Vec<_>>()
        .into();
    summary
}
