//! `avow verify android-key` as a support engineer runs it on a captured certificate chain,
//! with its exit statuses: 0 valid, 1 invalid, 2 unusable input.

use std::process::{Command, Output};

use avow_testgen::android_key::{
    AndroidDeviceKey, AndroidKeyChain, AndroidKeyPki, AndroidKeySpec, RootKeyType, StatusListEntry,
    status_list_json,
};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::Value;

const PACKAGE: &str = "com.example.bank";
const NONCE: [u8; 32] = [0x5c; 32];
const SIGNING_DIGEST: [u8; 32] = [0x3d; 32];

/// Inside the validity of every generated certificate (CAs 2020 to 2049, leaf 1970 to 2048).
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

fn pem(der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|line| std::str::from_utf8(line).unwrap())
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    )
}

/// A generated chain written to files in both accepted forms, with its test root.
struct Captured {
    dir: tempfile::TempDir,
    chain: AndroidKeyChain,
}

impl Captured {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let pki = AndroidKeyPki::new(RootKeyType::EcP384);
        let device = AndroidDeviceKey::new();
        let chain = pki.chain(
            &device,
            &AndroidKeySpec::new(NONCE.to_vec(), PACKAGE, SIGNING_DIGEST),
        );
        let pem_chain: String = chain.certificates.iter().map(|der| pem(der)).collect();
        std::fs::write(dir.path().join("chain.pem"), pem_chain).unwrap();
        let base64_chain: Vec<String> = chain
            .certificates
            .iter()
            .map(|der| STANDARD.encode(der))
            .collect();
        std::fs::write(
            dir.path().join("chain.json"),
            serde_json::to_string(&base64_chain).unwrap(),
        )
        .unwrap();
        std::fs::write(dir.path().join("root.pem"), pki.root_pem()).unwrap();
        Self { dir, chain }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// Runs `avow verify android-key` on `chain_file` with the test root and `extra` appended.
    fn verify(&self, chain_file: &str, nonce: &[u8], extra: &[&str]) -> Output {
        let chain = self.path(chain_file);
        let root = self.path("root.pem");
        let nonce = URL_SAFE_NO_PAD.encode(nonce);
        let mut args = vec![
            "verify",
            "android-key",
            "--chain",
            &chain,
            "--nonce",
            &nonce,
            "--package",
            PACKAGE,
            "--at",
            VERIFICATION_TIME,
            "--root",
            &root,
        ];
        args.extend(extra);
        avow(&args)
    }
}

#[test]
fn valid_pem_chain_exits_zero_with_verdict() {
    let captured = Captured::new();
    let digest = STANDARD.encode(SIGNING_DIGEST);
    let output = captured.verify("chain.pem", &NONCE, &["--signature-digest", &digest]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(text.contains("result: valid"), "{text}");
    assert!(text.contains("device_integrity: \"strong\""), "{text}");
    assert!(text.contains("app_integrity: \"recognized\""), "{text}");
    assert!(text.contains("trust: \"hardware\""), "{text}");
}

#[test]
fn json_array_chain_reports_every_check() {
    let captured = Captured::new();
    let output = captured.verify("chain.json", &NONCE, &["--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["valid"], true);
    let checks: Vec<(&str, &str)> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|check| {
            (
                check["check"].as_str().unwrap(),
                check["result"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        checks,
        [
            ("structure", "pass"),
            ("certificate_chain", "pass"),
            ("revocation", "skipped"),
            ("extension_placement", "pass"),
            ("attestation_extension", "pass"),
            ("challenge", "pass"),
            ("package_name", "pass"),
            ("signing_certificate", "skipped"),
        ]
    );
    assert_eq!(report["verified"]["app_integrity"], "unevaluated");
    assert_eq!(
        report["verified"]["attestation_security_level"],
        "TrustedEnvironment"
    );
    assert_eq!(report["verified"]["packages"], serde_json::json!([PACKAGE]));
}

#[test]
fn wrong_nonce_exits_one() {
    let captured = Captured::new();
    let output = captured.verify("chain.pem", &[0x01; 32], &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).contains("result: invalid (nonce_mismatch)"));
}

#[test]
fn revoked_serial_exits_one() {
    let captured = Captured::new();
    let status = status_list_json(&[StatusListEntry {
        serial_hex: captured.chain.attestation_serial_hex.clone(),
        status: "REVOKED".to_owned(),
        reason: "KEY_COMPROMISE".to_owned(),
    }]);
    std::fs::write(captured.dir.path().join("status.json"), status).unwrap();
    let status_path = captured.path("status.json");
    let output = captured.verify("chain.pem", &NONCE, &["--status-list", &status_path]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).contains("result: invalid (certificate_revoked)"));
}

#[test]
fn google_roots_reject_test_chain_exits_one() {
    let captured = Captured::new();
    let chain = captured.path("chain.pem");
    let nonce = STANDARD.encode(NONCE);
    let output = avow(&[
        "verify",
        "android-key",
        "--chain",
        &chain,
        "--nonce",
        &nonce,
        "--package",
        PACKAGE,
        "--at",
        VERIFICATION_TIME,
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).contains("result: invalid (unknown_issuer)"));
}

#[test]
fn unusable_input_exits_two() {
    let captured = Captured::new();
    let output = captured.verify("missing.pem", &NONCE, &[]);
    assert_eq!(output.status.code(), Some(2), "missing chain file");

    std::fs::write(
        captured.dir.path().join("garbage.txt"),
        "neither PEM nor JSON",
    )
    .unwrap();
    let output = captured.verify("garbage.txt", &NONCE, &[]);
    assert_eq!(output.status.code(), Some(2), "garbage chain file");

    let output = captured.verify("chain.pem", &NONCE, &["--signature-digest", "AAAA"]);
    assert_eq!(output.status.code(), Some(2), "short digest");

    std::fs::write(captured.dir.path().join("status.json"), "{}").unwrap();
    let status_path = captured.path("status.json");
    let output = captured.verify("chain.pem", &NONCE, &["--status-list", &status_path]);
    assert_eq!(output.status.code(), Some(2), "malformed status list");

    let chain = captured.path("chain.pem");
    let output = avow(&[
        "verify",
        "android-key",
        "--chain",
        &chain,
        "--nonce",
        "not base64!",
        "--package",
        PACKAGE,
        "--at",
        VERIFICATION_TIME,
    ]);
    assert_eq!(output.status.code(), Some(2), "bad nonce");
}
