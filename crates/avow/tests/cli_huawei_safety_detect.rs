//! `avow verify huawei-safety-detect` on a generated SysIntegrity result, with its exit
//! statuses: 0 valid, 1 invalid, 2 unusable input.

use std::process::{Command, Output};

use avow_testgen::{LeafName, SysIntegrityGenerator, SysIntegritySpec};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

const PACKAGE: &str = "com.example.bank";
const NONCE: [u8; 16] = [0x33; 16];

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

/// Writes a result from a failing device (no certificate digests, `RESTORE_TO_FACTORY_ROM`)
/// and the test root, and returns their folder.
fn captured() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let generator = SysIntegrityGenerator::new(LeafName::CommonNameOnly);
    let mut spec = SysIntegritySpec::new(NONCE, VERIFICATION_SECS * 1000 - 5_000, PACKAGE, vec![]);
    spec.payload.basic_integrity = false;
    spec.payload.advice = Some("RESTORE_TO_FACTORY_ROM".to_owned());
    std::fs::write(dir.path().join("result.jws"), generator.result(&spec)).unwrap();
    std::fs::write(dir.path().join("root.pem"), generator.signer().root_pem()).unwrap();
    dir
}

fn verify(dir: &tempfile::TempDir, package: &str, extra: &[&str]) -> Output {
    let jws = dir.path().join("result.jws").display().to_string();
    let nonce = STANDARD.encode(NONCE);
    let mut args = vec![
        "verify",
        "huawei-safety-detect",
        "--jws",
        &jws,
        "--nonce",
        &nonce,
        "--package",
        package,
        "--at",
        VERIFICATION_TIME,
    ];
    args.extend(extra);
    avow(&args)
}

#[test]
fn failing_device_is_valid_evidence() {
    let dir = captured();
    let root = dir.path().join("root.pem").display().to_string();
    let output = verify(&dir, PACKAGE, &["--root", &root]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let text = stdout(&output);
    assert!(text.contains("device_integrity: \"none\""), "{text}");
    assert!(text.contains("app_integrity: \"unevaluated\""), "{text}");
    assert!(text.contains("risk_flags: [\"rooted\"]"), "{text}");
}

#[test]
fn wrong_package_exits_one() {
    let dir = captured();
    let root = dir.path().join("root.pem").display().to_string();
    let output = verify(&dir, "com.example.other", &["--root", &root]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).contains("result: invalid (package_name_mismatch)"));
}

#[test]
fn huawei_roots_reject_test_chain_exits_one() {
    let dir = captured();
    let output = verify(&dir, PACKAGE, &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).contains("result: invalid (unknown_issuer)"));
}

#[test]
fn unusable_root_exits_two() {
    let dir = captured();
    let not_pem = dir.path().join("result.jws").display().to_string();
    let output = verify(&dir, PACKAGE, &["--root", &not_pem]);
    assert_eq!(output.status.code(), Some(2));
    let missing = dir.path().join("missing.pem").display().to_string();
    let output = verify(&dir, PACKAGE, &["--root", &missing]);
    assert_eq!(output.status.code(), Some(2));
}
