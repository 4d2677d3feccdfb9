//! `avow verify`: offline verification of captured evidence, check by check.
//!
//! Exit status: 0 when the evidence is valid, 1 when it is invalid (the reason code is
//! printed), 2 when the input cannot be used (unreadable file, bad encoding, bad option).

mod android_key;
mod device_key;
mod huawei_safety_detect;
mod play_integrity;
mod safetynet;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use avow_attest::app_attest::{
    self, AppId, AssertionCheck, AssertionInput, AttestationCheck, AttestationInput, Environment,
};
use avow_attest::encoding::decode_base64_any;
use avow_attest::verdict::Verdict;
use avow_attest::{
    CheckOutcome, CheckReport, DEFAULT_MAX_AGE_SECS, DEFAULT_MAX_FUTURE_SKEW_SECS, Error,
    Freshness, Roots, UnixTime, sha256,
};
use clap::{Args, Subcommand};
use serde_json::json;

/// DER prefix of a P-256 SubjectPublicKeyInfo; the 65-byte point follows it.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

#[derive(Debug, Subcommand)]
pub(crate) enum VerifyCommand {
    /// Verify an Android key attestation certificate chain.
    AndroidKey(android_key::AndroidKeyArgs),
    /// Verify an App Attest attestation object.
    AppAttest(AppAttestArgs),
    /// Verify an App Attest assertion with the attested public key.
    AppAttestAssertion(AssertionArgs),
    /// Verify an Avow device-key registration.
    DeviceKey(device_key::DeviceKeyArgs),
    /// Verify a Play Integrity token with the app's Play Console keys.
    PlayIntegrity(play_integrity::PlayIntegrityArgs),
    /// Verify a Play Integrity verdict that Google's decodeIntegrityToken returned.
    PlayIntegrityDecoded(play_integrity::DecodedArgs),
    /// Verify a stored SafetyNet attestation result (JWS).
    Safetynet(safetynet::ResultArgs),
    /// Verify an HMS Safety Detect SysIntegrity result (JWS).
    HuaweiSafetyDetect(safetynet::ResultArgs),
}

/// The two ways to give the client data hash.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub(crate) struct ClientDataHashArgs {
    /// The server challenge in base64; the client data hash is SHA-256 of its bytes, as the
    /// Avow SDK computes it.
    #[arg(long)]
    challenge: Option<String>,
    /// The exact client data hash bytes the app passed to App Attest, in hex.
    #[arg(long)]
    client_data_hash: Option<String>,
}

/// The freshness window of a vendor timestamp, shared by the commands whose evidence has one.
#[derive(Debug, Args)]
pub(crate) struct FreshnessArgs {
    /// Maximum age of the evidence at the verification time, seconds.
    #[arg(long, default_value_t = DEFAULT_MAX_AGE_SECS)]
    max_age_secs: u64,
    /// Allowed clock skew for evidence from the future, seconds.
    #[arg(long, default_value_t = DEFAULT_MAX_FUTURE_SKEW_SECS)]
    max_future_skew_secs: u64,
}

impl FreshnessArgs {
    fn freshness(&self) -> Freshness {
        Freshness {
            max_age_secs: self.max_age_secs,
            max_future_skew_secs: self.max_future_skew_secs,
        }
    }
}

#[derive(Debug, Args)]
pub(crate) struct AppAttestArgs {
    /// File with the attestation object: raw CBOR or base64 text.
    #[arg(long)]
    attestation: PathBuf,
    /// The key id from `generateKey`, in any base64 variant.
    #[arg(long)]
    key_id: String,
    #[command(flatten)]
    client_data: ClientDataHashArgs,
    /// The App ID, TEAMID.bundle.id.
    #[arg(long)]
    app_id: String,
    /// The environment the key must come from.
    #[arg(long, value_parser = ["production", "development"])]
    environment: String,
    /// Verification time (RFC 3339), such as the capture time of the evidence.
    #[arg(long)]
    at: String,
    /// PEM file with the root to trust instead of Apple's App Attestation Root CA.
    #[arg(long)]
    root: Option<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct AssertionArgs {
    /// File with the assertion: raw CBOR or base64 text.
    #[arg(long)]
    assertion: PathBuf,
    /// The attested public key: a PEM file, or the 65-byte uncompressed point in hex.
    #[arg(long)]
    public_key: String,
    #[command(flatten)]
    client_data: ClientDataHashArgs,
    /// The App ID, TEAMID.bundle.id.
    #[arg(long)]
    app_id: String,
    /// The last counter accepted for this key (0 right after attestation).
    #[arg(long, default_value_t = 0)]
    stored_counter: u32,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(command: VerifyCommand) -> ExitCode {
    let result = match command {
        VerifyCommand::AndroidKey(args) => android_key::verify(&args),
        VerifyCommand::AppAttest(args) => verify_attestation(&args),
        VerifyCommand::AppAttestAssertion(args) => verify_assertion(&args),
        VerifyCommand::DeviceKey(args) => device_key::verify(&args),
        VerifyCommand::PlayIntegrity(args) => play_integrity::verify_token(&args),
        VerifyCommand::PlayIntegrityDecoded(args) => play_integrity::verify_decoded(&args),
        VerifyCommand::Safetynet(args) => safetynet::verify(&args),
        VerifyCommand::HuaweiSafetyDetect(args) => huawei_safety_detect::verify(&args),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

fn verify_attestation(args: &AppAttestArgs) -> Result<ExitCode, String> {
    let object = read_evidence(&args.attestation)?;
    let key_id = decode_base64_option(&args.key_id, "--key-id")?;
    let client_data_hash = client_data_hash(&args.client_data)?;
    let app_id = parse_app_id(&args.app_id)?;
    let environment = Environment::parse(&args.environment)
        .ok_or_else(|| "--environment must be production or development".to_owned())?;
    let time = parse_time(&args.at)?;
    let roots = roots_or(args.root.as_deref(), Roots::apple)?;

    let input = AttestationInput {
        attestation_object: &object,
        key_id: &key_id,
        client_data_hash: &client_data_hash,
        app_id: &app_id,
        environment,
    };
    let report = app_attest::verify_attestation_report(&input, &roots, unix(time));
    let summary = |verified: &app_attest::VerifiedAttestation| {
        json!({
            "key_id": base64_standard(verified.key_id()),
            "environment": verified.environment().as_str(),
            "public_key_hex": hex::encode(verified.public_key()),
            "receipt_bytes": verified.receipt().len(),
            "bundle_version": verified.extensions().and_then(|e| e.bundle_version.clone()),
            "certificate_not_after": verified.certificate_not_after(),
        })
    };
    Ok(print_check_report(
        &report,
        AttestationCheck::name,
        AttestationCheck::description,
        summary,
        args.json,
    ))
}

fn verify_assertion(args: &AssertionArgs) -> Result<ExitCode, String> {
    let assertion = read_evidence(&args.assertion)?;
    let public_key = parse_public_key(&args.public_key)?;
    let client_data_hash = client_data_hash(&args.client_data)?;
    let app_id = parse_app_id(&args.app_id)?;
    let input = AssertionInput {
        assertion: &assertion,
        client_data_hash: &client_data_hash,
        app_id: &app_id,
        public_key: &public_key,
        stored_counter: args.stored_counter,
    };
    let report = app_attest::verify_assertion_report(&input);
    Ok(print_check_report(
        &report,
        AssertionCheck::name,
        AssertionCheck::description,
        |verified| json!({ "counter": verified.counter() }),
        args.json,
    ))
}

/// Prints a verifier's report check by check, with `summary` of the verified result when
/// every check passed, and returns the exit status.
fn print_check_report<C: Copy, V: Clone>(
    report: &CheckReport<C, V>,
    name: fn(C) -> &'static str,
    description: fn(C) -> &'static str,
    summary: impl FnOnce(&V) -> serde_json::Value,
    as_json: bool,
) -> ExitCode {
    let checks: Vec<_> = report
        .outcomes()
        .iter()
        .map(|(check, outcome)| (name(*check), description(*check), outcome))
        .collect();
    let failure = report.first_failure().map(|(_, error)| error.clone());
    let summary = report
        .clone()
        .into_result()
        .ok()
        .map(|verified| summary(&verified));
    print_report(&checks, failure.as_ref(), summary, as_json)
}

fn print_report(
    checks: &[(&str, &str, &CheckOutcome)],
    failure: Option<&Error>,
    summary: Option<serde_json::Value>,
    as_json: bool,
) -> ExitCode {
    if as_json {
        let checks: Vec<_> = checks
            .iter()
            .map(|(name, description, outcome)| {
                let (result, reason, message) = match outcome {
                    CheckOutcome::Passed => ("pass", None, None),
                    CheckOutcome::Skipped => ("skipped", None, None),
                    CheckOutcome::Failed(error) => {
                        ("fail", Some(error.reason()), Some(error.to_string()))
                    }
                };
                json!({
                    "check": name,
                    "requires": description,
                    "result": result,
                    "reason": reason,
                    "message": message,
                })
            })
            .collect();
        let output = json!({
            "valid": failure.is_none(),
            "reason": failure.map(Error::reason),
            "message": failure.map(ToString::to_string),
            "checks": checks,
            "verified": summary,
        });
        println!("{output:#}");
    } else {
        for (name, description, outcome) in checks {
            let result = match outcome {
                CheckOutcome::Passed => "pass",
                CheckOutcome::Skipped => "skip",
                CheckOutcome::Failed(_) => "FAIL",
            };
            println!("{name:<18} {result:<4}  {description}");
            if let CheckOutcome::Failed(error) = outcome {
                println!("{:<24}{}: {error}", "", error.reason());
            }
        }
        match failure {
            None => {
                println!("result: valid");
                if let Some(serde_json::Value::Object(fields)) = summary {
                    for (key, value) in fields {
                        println!("  {key}: {value}");
                    }
                }
            }
            Some(error) => println!("result: invalid ({})", error.reason()),
        }
    }
    if failure.is_none() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Reads evidence from a file holding raw CBOR or base64 text.
fn read_evidence(path: &Path) -> Result<Vec<u8>, String> {
    let bytes = read_file(path)?;
    if let Some(decoded) = std::str::from_utf8(&bytes)
        .ok()
        .and_then(|text| decode_base64_any(text).ok())
    {
        return Ok(decoded);
    }
    Ok(bytes)
}

fn read_file(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|error| format!("cannot read {}: {error}", path.display()))
}

/// Reads the PEM roots at `path`, or returns `default_roots()` when no path is given.
fn roots_or(path: Option<&Path>, default_roots: fn() -> Roots) -> Result<Roots, String> {
    let Some(path) = path else {
        return Ok(default_roots());
    };
    let pem = read_file(path)?;
    let mut roots = Roots::empty();
    roots
        .add_pem(&pem)
        .map_err(|error| format!("{}: {error}", path.display()))?;
    Ok(roots)
}

/// Decodes the value of `option`, base64 in any variant.
fn decode_base64_option(value: &str, option: &str) -> Result<Vec<u8>, String> {
    decode_base64_any(value).map_err(|_| format!("{option} is not base64"))
}

/// Decodes the repeated values of `option`, each a base64 SHA-256 digest in any variant.
fn parse_digests(values: &[String], option: &str) -> Result<Vec<[u8; 32]>, String> {
    values
        .iter()
        .map(|digest| {
            decode_base64_any(digest)
                .ok()
                .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
                .ok_or_else(|| format!("{option} {digest:?} is not a base64 SHA-256 digest"))
        })
        .collect()
}

/// Returns the common verdict as JSON: app integrity, device integrity and risk flags.
fn verdict_summary(verdict: &Verdict) -> serde_json::Value {
    let flags: Vec<&str> = verdict
        .risk_flags
        .iter()
        .map(|flag| flag.as_str())
        .collect();
    json!({
        "trust": verdict.trust.as_str(),
        "app_integrity": verdict.app_integrity.as_str(),
        "device_integrity": verdict.device_integrity.as_str(),
        "risk_flags": flags,
    })
}

fn client_data_hash(args: &ClientDataHashArgs) -> Result<Vec<u8>, String> {
    match (&args.challenge, &args.client_data_hash) {
        (Some(challenge), None) => {
            decode_base64_option(challenge, "--challenge").map(|bytes| sha256(&bytes).to_vec())
        }
        (None, Some(hash)) => {
            hex::decode(hash.trim()).map_err(|_| "--client-data-hash is not hex".to_owned())
        }
        _ => Err("give exactly one of --challenge and --client-data-hash".to_owned()),
    }
}

fn parse_app_id(app_id: &str) -> Result<AppId, String> {
    AppId::parse(app_id).ok_or_else(|| format!("--app-id {app_id:?} is not TEAMID.bundle.id"))
}

fn parse_public_key(value: &str) -> Result<[u8; 65], String> {
    let path = Path::new(value);
    let bytes = if path.is_file() {
        let text = std::fs::read_to_string(path)
            .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
        let body: String = text
            .lines()
            .filter(|line| !line.starts_with("-----"))
            .collect();
        let der = decode_base64_any(&body)
            .map_err(|_| format!("{} is not a PEM public key", path.display()))?;
        match der.strip_prefix(P256_SPKI_PREFIX.as_slice()) {
            Some(point) => point.to_vec(),
            None => return Err(format!("{} is not a P-256 public key", path.display())),
        }
    } else {
        hex::decode(value)
            .map_err(|_| "--public-key is neither a readable PEM file nor a hex point".to_owned())?
    };
    <[u8; 65]>::try_from(bytes.as_slice())
        .ok()
        .filter(|point| point[0] == 0x04)
        .ok_or_else(|| "--public-key must be an uncompressed P-256 point (65 bytes)".to_owned())
}

/// Parses an RFC 3339 time into Unix seconds.
pub(crate) fn parse_time(text: &str) -> Result<u64, String> {
    let time = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|_| format!("time {text:?} is not RFC 3339, such as 2024-04-18T12:00:00Z"))?;
    u64::try_from(time.unix_timestamp()).map_err(|_| format!("time {text:?} is before 1970"))
}

fn unix(seconds: u64) -> UnixTime {
    UnixTime::since_unix_epoch(std::time::Duration::from_secs(seconds))
}

fn base64_standard(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
