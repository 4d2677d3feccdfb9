//! `avow verify android-key`: offline checks of an Android key attestation certificate chain.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use avow_attest::android_key::{
    self, AndroidKeyCheck, AndroidKeyInput, Revocation, StatusList, VerifiedAndroidKey,
};
use avow_attest::encoding::{decode_base64_any, encode_base64url};
use avow_attest::verdict::TrustLevel;
use avow_attest::{CertificateDigests, Roots};
use clap::Args;

use super::{
    decode_base64_option, parse_digests, parse_time, print_check_report, read_file, roots_or, unix,
    verdict_summary,
};

/// Arguments of `avow verify android-key`.
#[derive(Debug, Args)]
pub(crate) struct AndroidKeyArgs {
    /// File with the chain from `KeyStore.getCertificateChain`, leaf first: PEM with one block
    /// per certificate, or a JSON array of base64 DER certificates.
    #[arg(long)]
    chain: PathBuf,
    /// The nonce the server issued (the attestation challenge), base64 in any variant.
    #[arg(long)]
    nonce: String,
    /// The app's package name.
    #[arg(long)]
    package: String,
    /// A registered SHA-256 digest of the app's signing certificate, base64 in any variant
    /// (repeat for several). Without it, the digests in the chain are not compared.
    #[arg(long = "signature-digest")]
    signature_digests: Vec<String>,
    /// Verification time (RFC 3339), such as the capture time of the chain.
    #[arg(long)]
    at: String,
    /// PEM file with the roots to trust instead of Google's hardware attestation roots.
    #[arg(long)]
    root: Option<PathBuf>,
    /// Google's attestation status list (JSON) to check the chain's serial numbers against.
    /// Without it, revocation is not checked.
    #[arg(long)]
    status_list: Option<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `avow verify android-key`.
pub(crate) fn verify(args: &AndroidKeyArgs) -> Result<ExitCode, String> {
    let certificates = read_chain(&args.chain)?;
    let nonce = decode_base64_option(&args.nonce, "--nonce")?;
    let digests = parse_digests(&args.signature_digests, "--signature-digest")?;
    let now = parse_time(&args.at)?;
    let roots = roots_or(args.root.as_deref(), Roots::google_hardware_attestation)?;
    let status_list = match &args.status_list {
        Some(path) => {
            let bytes = read_file(path)?;
            Some(
                StatusList::parse(&bytes)
                    .map_err(|error| format!("{}: {error}", path.display()))?,
            )
        }
        None => None,
    };

    let input = AndroidKeyInput {
        certificate_chain: &certificates,
        expected_nonce: &nonce,
        package_name: &args.package,
        signing_certificates: CertificateDigests::registered_or_not_compared(&digests),
        revocation: match &status_list {
            Some(list) => Revocation::StatusList(list),
            None => Revocation::NotChecked,
        },
    };
    let report = android_key::verify_android_key_report(&input, &roots, unix(now));
    Ok(print_check_report(
        &report,
        AndroidKeyCheck::name,
        AndroidKeyCheck::description,
        summary,
        args.json,
    ))
}

fn summary(verified: &VerifiedAndroidKey) -> serde_json::Value {
    let verdict = verified.verdict();
    let description = verified.key_description();
    let hardware = &description.hardware_enforced;

    let mut summary = verdict_summary(&verdict);
    summary["trust"] = match verdict.trust {
        TrustLevel::Software => "software",
        TrustLevel::Platform => "platform",
        TrustLevel::Hardware => "hardware",
    }
    .into();

    summary["attestation_security_level"] = description.attestation_security_level.as_str().into();
    summary["attestation_version"] = description.attestation_version.into();
    summary["keymint_version"] = description.keymint_version.into();

    if let Some(root) = &hardware.root_of_trust {
        summary["verified_boot_state"] = root.verified_boot_state.as_str().into();
        summary["device_locked"] = root.device_locked.into();
    }
    summary["os_version"] = hardware.os_version.into();
    summary["os_patch_level"] = hardware.os_patch_level.into();

    if let Some(application) = description.attestation_application_id() {
        let packages: Vec<String> = application
            .package_infos
            .iter()
            .map(|info| String::from_utf8_lossy(&info.package_name).into_owned())
            .collect();
        summary["packages"] = packages.into();
    }

    summary["public_key_spki"] = encode_base64url(verified.public_key_spki()).into();
    summary["certificate_not_after"] = verified.certificate_not_after().into();
    summary["key_created_ms"] = verdict.evidence_time_ms.into();
    summary
}

/// Reads a chain given as PEM blocks or as a JSON array of base64 DER certificates.
fn read_chain(path: &Path) -> Result<Vec<Vec<u8>>, String> {
    let bytes = read_file(path)?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| format!("{} is not text (PEM or JSON)", path.display()))?;
    let certificates = if text.contains("-----BEGIN CERTIFICATE-----") {
        pem_certificates(text)
            .ok_or_else(|| format!("{} has a malformed PEM block", path.display()))?
    } else {
        let entries: Vec<String> = serde_json::from_str(text).map_err(|_| {
            format!(
                "{} is neither PEM nor a JSON array of base64 strings",
                path.display()
            )
        })?;
        entries
            .iter()
            .map(|entry| decode_base64_any(entry).ok())
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| format!("{} has an entry that is not base64", path.display()))?
    };
    if certificates.is_empty() {
        return Err(format!("{} contains no certificate", path.display()));
    }
    Ok(certificates)
}

/// Decodes every `CERTIFICATE` block of a PEM text, or returns `None` for a block that is not
/// closed or not base64.
fn pem_certificates(text: &str) -> Option<Vec<Vec<u8>>> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let mut certificates = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let body_and_rest = &rest[start + BEGIN.len()..];
        let end = body_and_rest.find(END)?;
        certificates.push(decode_base64_any(&body_and_rest[..end]).ok()?);
        rest = &body_and_rest[end + END.len()..];
    }
    Some(certificates)
}
