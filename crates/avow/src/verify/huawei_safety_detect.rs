//! `avow verify huawei-safety-detect`: offline checks of an HMS Safety Detect SysIntegrity
//! result, with the options of `avow verify safetynet`.

use std::process::ExitCode;

use avow_attest::Roots;
use avow_attest::huawei_safety_detect::{self, SysIntegrityCheck, VerifiedSysIntegrity};

use super::print_check_report;
use super::safetynet::{Inputs, ResultArgs, result_summary};

/// Runs `avow verify huawei-safety-detect`.
pub(crate) fn verify(args: &ResultArgs) -> Result<ExitCode, String> {
    let inputs = Inputs::parse(args, Roots::huawei_cbg)?;
    let report = huawei_safety_detect::verify_sys_integrity_report(
        &inputs.input(),
        &inputs.roots,
        inputs.now,
    );
    Ok(print_check_report(
        &report,
        SysIntegrityCheck::name,
        SysIntegrityCheck::description,
        |verified: &VerifiedSysIntegrity| result_summary(verified, &verified.verdict()),
        inputs.as_json,
    ))
}
