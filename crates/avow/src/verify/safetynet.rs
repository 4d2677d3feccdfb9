//! `avow verify safetynet`: offline checks of a stored SafetyNet attestation result.
//!
//! The options are shared with `avow verify huawei-safety-detect`, whose results have the same
//! format.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use avow_attest::Roots;
use avow_attest::encoding::decode_base64_any;
use avow_attest::safetynet::{
    self, CertificateDigests, DEFAULT_MAX_AGE_SECS, DEFAULT_MAX_FUTURE_SKEW_SECS, Freshness,
    SafetyNetInput, SafetyNetReport, VerifiedSafetyNet,
};
use avow_attest::verdict::{AppIntegrity, DeviceIntegrity, Verdict};
use clap::Args;
use serde_json::json;

use super::{parse_time, print_report, read_evidence, unix};

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
    /// Maximum age of the result at the verification time, seconds.
    #[arg(long, default_value_t = DEFAULT_MAX_AGE_SECS)]
    max_age_secs: u64,
    /// Allowed clock skew for results from the future, seconds.
    #[arg(long, default_value_t = DEFAULT_MAX_FUTURE_SKEW_SECS)]
    max_future_skew_secs: u64,
    /// PEM file with the roots to trust instead of the vendor's compiled-in roots.
    #[arg(long)]
    root: Option<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// The arguments decoded, owning their bytes.
pub(super) struct Inputs {
    pub(super) jws: String,
    pub(super) nonce: Vec<u8>,
    pub(super) package: String,
    pub(super) digests: Vec<[u8; 32]>,
    pub(super) now: u64,
    pub(super) freshness: Freshness,
    pub(super) roots: Roots,
    pub(super) as_json: bool,
}

impl Inputs {
    /// Decodes the arguments, with `default_roots` when no `--root` is given.
    pub(super) fn parse(args: &ResultArgs, default_roots: fn() -> Roots) -> Result<Self, String> {
        let jws = String::from_utf8(read_evidence(&args.jws)?)
            .map_err(|_| format!("{} is not a text JWS", args.jws.display()))?;
        let nonce =
            decode_base64_any(&args.nonce).map_err(|_| "--nonce is not base64".to_owned())?;
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
        let roots = match &args.root {
            Some(path) => read_roots(path)?,
            None => default_roots(),
        };
        Ok(Self {
            jws,
            nonce,
            package: args.package.clone(),
            digests,
            now: parse_time(&args.at)?,
            freshness: Freshness {
                max_age_secs: args.max_age_secs,
                max_future_skew_secs: args.max_future_skew_secs,
            },
            roots,
            as_json: args.json,
        })
    }

    pub(super) fn certificate_digests(&self) -> CertificateDigests<'_> {
        if self.digests.is_empty() {
            CertificateDigests::NotCompared
        } else {
            CertificateDigests::Registered(&self.digests)
        }
    }
}

/// Runs `avow verify safetynet`.
pub(crate) fn verify(args: &ResultArgs) -> Result<ExitCode, String> {
    let inputs = Inputs::parse(args, Roots::globalsign)?;
    let input = SafetyNetInput {
        jws: &inputs.jws,
        expected_nonce: &inputs.nonce,
        package_name: &inputs.package,
        certificate_digests: inputs.certificate_digests(),
        freshness: inputs.freshness,
    };
    let report = safetynet::verify_safetynet_report(&input, &inputs.roots, unix(inputs.now));
    Ok(print(&report, inputs.as_json))
}

fn print(report: &SafetyNetReport, as_json: bool) -> ExitCode {
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
        .map(|verified| summary(&verified));
    print_report(&checks, failure.as_ref(), summary, as_json)
}

fn summary(verified: &VerifiedSafetyNet) -> serde_json::Value {
    let payload = verified.payload();
    let mut summary = verdict_summary(&verified.verdict());
    summary["package_name"] = verified.package_name().into();
    summary["timestamp_ms"] = verified.timestamp_ms().into();
    summary["cts_profile_match"] = payload.cts_profile_match().into();
    summary["basic_integrity"] = payload.basic_integrity().into();
    summary["evaluation_type"] = payload
        .evaluation_types()
        .iter()
        .map(|label| label.as_str())
        .collect::<Vec<_>>()
        .into();
    summary["advice"] = payload
        .advice()
        .iter()
        .map(|advice| advice.as_str())
        .collect::<Vec<_>>()
        .into();
    summary["error"] = payload.error().into();
    summary
}

/// Returns the common verdict as JSON: app integrity, device integrity and risk flags.
pub(super) fn verdict_summary(verdict: &Verdict) -> serde_json::Value {
    let flags: Vec<&str> = verdict
        .risk_flags
        .iter()
        .map(|flag| flag.as_str())
        .collect();
    json!({
        "app_integrity": app_integrity_name(verdict.app_integrity),
        "device_integrity": device_integrity_name(verdict.device_integrity),
        "risk_flags": flags,
    })
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

fn read_roots(path: &Path) -> Result<Roots, String> {
    let pem =
        std::fs::read(path).map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    let mut roots = Roots::empty();
    roots
        .add_pem(&pem)
        .map_err(|error| format!("{}: {error}", path.display()))?;
    Ok(roots)
}
