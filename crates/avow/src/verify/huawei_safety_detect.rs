//! `avow verify huawei-safety-detect`: offline checks of an HMS Safety Detect SysIntegrity
//! result, with the options of `avow verify safetynet`.

use std::process::ExitCode;

use avow_attest::Roots;
use avow_attest::huawei_safety_detect::{
    self, SysIntegrityInput, SysIntegrityReport, VerifiedSysIntegrity,
};

use super::print_report;
use super::safetynet::{Inputs, ResultArgs, verdict_summary};
use super::unix;

/// Runs `avow verify huawei-safety-detect`.
pub(crate) fn verify(args: &ResultArgs) -> Result<ExitCode, String> {
    let inputs = Inputs::parse(args, Roots::huawei_cbg)?;
    let input = SysIntegrityInput {
        jws: &inputs.jws,
        expected_nonce: &inputs.nonce,
        package_name: &inputs.package,
        certificate_digests: inputs.certificate_digests(),
        freshness: inputs.freshness,
    };
    let report =
        huawei_safety_detect::verify_sys_integrity_report(&input, &inputs.roots, unix(inputs.now));
    Ok(print(&report, inputs.as_json))
}

fn print(report: &SysIntegrityReport, as_json: bool) -> ExitCode {
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

fn summary(verified: &VerifiedSysIntegrity) -> serde_json::Value {
    let payload = verified.payload();
    let mut summary = verdict_summary(&verified.verdict());
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
