//! `avow verify safetynet` as a support engineer runs it on a stored result, with its exit
//! statuses: 0 valid, 1 invalid, 2 unusable input.

use std::path::PathBuf;
use std::process::{Command, Output};

use avow_testgen::{SafetyNetGenerator, SafetyNetSpec};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::Value;

const PACKAGE: &str = "com.example.bank";
const NONCE: [u8; 32] = [0x61; 32];
const SIGNING_DIGEST: [u8; 32] = [0x7e; 32];

/// 2025-06-01T00:00:00Z and the same time in RFC 3339.
const VERIFICATION_SECS: u64 = 1_748_736_000;
const VERIFICATION_TIME: &str = "2025-06-01T00:00:00Z";

fn avow(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_avow"))
        .args(args)
        .env_remove("AVOW_CONFIG")
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A generated result and its test root written to files.
struct Captured {
    dir: tempfile::TempDir,
}

impl Captured {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let generator = SafetyNetGenerator::new();
        let spec = SafetyNetSpec::new(
            NONCE,
            VERIFICATION_SECS * 1000 - 5_000,
            PACKAGE,
            vec![SIGNING_DIGEST],
        );
        std::fs::write(dir.path().join("result.jws"), generator.result(&spec)).unwrap();
        std::fs::write(dir.path().join("root.pem"), generator.signer().root_pem()).unwrap();
        Self { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// Runs `avow verify safetynet` on the result with `package` and `extra` appended.
    fn verify(&self, package: &str, extra: &[&str]) -> Output {
        let jws = self.path("result.jws");
        let nonce = URL_SAFE_NO_PAD.encode(NONCE);
        let digest = STANDARD.encode(SIGNING_DIGEST);
        let mut args = vec![
            "verify",
            "safetynet",
            "--jws",
            &jws,
            "--nonce",
            &nonce,
            "--package",
            package,
            "--certificate-digest",
            &digest,
            "--at",
            VERIFICATION_TIME,
        ];
        args.extend(extra);
        avow(&args)
    }

    /// Runs `avow verify safetynet` trusting the test root, with `extra` appended.
    fn verify_with_test_root(&self, package: &str, extra: &[&str]) -> Output {
        let root = self.path("root.pem");
        let mut args = vec!["--root", &root];
        args.extend(extra);
        self.verify(package, &args)
    }
}

#[test]
fn valid_result_exits_zero_with_verdict() {
    let captured = Captured::new();
    let output = captured.verify_with_test_root(PACKAGE, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let text = stdout(&output);
    assert!(text.contains("result: valid"), "{text}");
    assert!(text.contains("device_integrity: \"device\""), "{text}");
    assert!(text.contains("app_integrity: \"recognized\""), "{text}");
}

#[test]
fn json_output_lists_every_check_and_verdict() {
    let captured = Captured::new();
    let output = captured.verify_with_test_root(PACKAGE, &["--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["valid"], true);
    let checks: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|check| check["check"].as_str().unwrap())
        .collect();
    assert_eq!(
        checks,
        [
            "structure",
            "certificate_chain",
            "signature",
            "nonce",
            "timestamp",
            "package_name",
            "certificate_digest"
        ]
    );
    assert_eq!(report["verified"]["device_integrity"], "device");
    assert_eq!(report["verified"]["risk_flags"], serde_json::json!([]));
    assert_eq!(report["verified"]["package_name"], PACKAGE);
}

#[test]
fn wrong_package_exits_one() {
    let captured = Captured::new();
    let output = captured.verify_with_test_root("com.example.other", &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).contains("result: invalid (package_name_mismatch)"));
}

#[test]
fn google_roots_reject_test_chain_exits_one() {
    let captured = Captured::new();
    let output = captured.verify(PACKAGE, &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).contains("result: invalid (unknown_issuer)"));
}

#[test]
fn stale_result_exits_one() {
    let captured = Captured::new();
    let output = captured.verify_with_test_root(PACKAGE, &["--max-age-secs", "1"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).contains("result: invalid (evidence_too_old)"));
}

#[test]
fn unusable_input_exits_two() {
    let captured = Captured::new();
    let missing = captured.path("missing.jws");
    let output = avow(&[
        "verify",
        "safetynet",
        "--jws",
        &missing,
        "--nonce",
        "AAAA",
        "--package",
        PACKAGE,
        "--at",
        VERIFICATION_TIME,
    ]);
    assert_eq!(output.status.code(), Some(2));

    let jws = captured.path("result.jws");
    for (nonce, at) in [("not base64!", VERIFICATION_TIME), ("AAAA", "yesterday")] {
        let output = avow(&[
            "verify",
            "safetynet",
            "--jws",
            &jws,
            "--nonce",
            nonce,
            "--package",
            PACKAGE,
            "--at",
            at,
        ]);
        assert_eq!(output.status.code(), Some(2), "{nonce} {at}");
    }

    let output = captured.verify_with_test_root(PACKAGE, &["--certificate-digest", "AAAA"]);
    assert_eq!(output.status.code(), Some(2));
}

fn vectors_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("AVOW_VECTORS_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors"),
        PathBuf::from,
    );
    if dir.join("safetynet").is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "skipped: vectors not found at {} (set AVOW_VECTORS_DIR)",
            dir.display()
        );
        None
    }
}

#[test]
fn real_result_with_google_roots() {
    let Some(dir) = vectors_dir() else { return };
    let path = dir.join("safetynet/pywebauthn-real-2021-jws.txt");
    let jws = std::fs::read_to_string(&path).unwrap();

    // The nonce as the server recorded it: the one in the payload.
    let payload: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(jws.trim().split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    let nonce = payload["nonce"].as_str().unwrap();

    let path = path.display().to_string();
    let run = |at: &str| {
        avow(&[
            "verify",
            "safetynet",
            "--jws",
            &path,
            "--nonce",
            nonce,
            "--package",
            "com.google.android.gms",
            "--at",
            at,
        ])
    };
    let output = run("2021-09-03T21:07:25Z");
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let output = run("2021-10-18T00:00:00Z");
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).contains("result: invalid (certificate_expired)"));
}
