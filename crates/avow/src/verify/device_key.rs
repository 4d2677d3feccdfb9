//! `avow verify device-key`: an Avow device-key registration, check by check.

use std::path::PathBuf;
use std::process::ExitCode;

use avow_attest::device_key::{RegistrationCheck, RegistrationInput, verify_registration_report};
use clap::Args;
use serde_json::json;

use super::{parse_digests, print_check_report, read_evidence, verdict_summary};

/// Installers counted as official stores unless `--official-installer` names others.
const DEFAULT_OFFICIAL_INSTALLERS: &[&str] = &["com.android.vending", "app_store", "testflight"];

#[derive(Debug, Args)]
pub(crate) struct DeviceKeyArgs {
    /// The device's public key: a DER SubjectPublicKeyInfo of a P-256 key, in base64.
    #[arg(long)]
    public_key: String,
    /// File with the exact measurement JSON bytes the device signed (raw JSON or base64).
    #[arg(long)]
    measurement: PathBuf,
    /// The DER ECDSA signature over the registration message, in base64.
    #[arg(long)]
    signature: String,
    /// The server nonce the registration answers, in base64.
    #[arg(long)]
    nonce: String,
    /// The package name or bundle id the app is registered with.
    #[arg(long)]
    app_id: String,
    /// An allowed SHA-256 signing-certificate digest (hex or base64); repeat for several.
    #[arg(long = "certificate-digest")]
    certificate_digests: Vec<String>,
    /// An installer counted as an official store; repeat for several [default: Google Play,
    /// App Store and TestFlight].
    #[arg(long = "official-installer")]
    official_installers: Vec<String>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) fn verify(args: &DeviceKeyArgs) -> Result<ExitCode, String> {
    let decode = |value: &str, option: &str| {
        avow_attest::encoding::decode_base64_any(value)
            .map_err(|_| format!("{option} is not base64"))
    };
    let public_key = decode(&args.public_key, "--public-key")?;
    let signature = decode(&args.signature, "--signature")?;
    let nonce = decode(&args.nonce, "--nonce")?;
    let measurement = read_measurement(&args.measurement)?;
    let digests: Vec<Vec<u8>> = parse_digests(&args.certificate_digests, "--certificate-digest")?
        .iter()
        .map(|digest| digest.to_vec())
        .collect();
    let installers: Vec<&str> = if args.official_installers.is_empty() {
        DEFAULT_OFFICIAL_INSTALLERS.to_vec()
    } else {
        args.official_installers
            .iter()
            .map(String::as_str)
            .collect()
    };
    let input = RegistrationInput {
        public_key: &public_key,
        measurement: &measurement,
        signature: &signature,
        nonce: &nonce,
        expected_app_id: &args.app_id,
        certificate_digests: &digests,
        official_installers: &installers,
    };
    let report = verify_registration_report(&input);
    Ok(print_check_report(
        &report,
        RegistrationCheck::name,
        RegistrationCheck::description,
        |verified| {
            let mut summary = verdict_summary(verified.verdict());
            summary["key_id"] = json!(avow_attest::encoding::encode_base64url(&verified.key_id()));
            summary
        },
        args.json,
    ))
}

/// Reads the measurement: JSON bytes as they are, or base64 text of them.
fn read_measurement(path: &std::path::Path) -> Result<Vec<u8>, String> {
    let bytes =
        std::fs::read(path).map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    if bytes.first() == Some(&b'{') {
        return Ok(bytes);
    }
    read_evidence(path)
}
