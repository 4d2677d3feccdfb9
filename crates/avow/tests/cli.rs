//! The offline commands as a support engineer runs them: `avow verify …` and `avow token verify`
//! with their exit statuses (0 valid, 1 invalid, 2 unusable input).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use avow_testgen::{AssertionSpec, AttestationSpec, Environment, SimulatedDevice, TestPki, sha256};
use avow_token::{AttestationClaim, Claims, Jwks, TokenSigner};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::Value;

const APP_ID: &str = "TEAMID1234.com.example.bank";

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

/// Generated evidence written to files, as a support engineer would receive it.
struct Captured {
    dir: tempfile::TempDir,
    key_id: String,
    challenge: String,
    public_key_hex: String,
}

impl Captured {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let pki = TestPki::new();
        let device = SimulatedDevice::new();
        let challenge = [9u8; 32];
        let client_data_hash = sha256(&challenge);
        let object = device.attestation(
            &pki,
            &AttestationSpec::new(APP_ID, client_data_hash, Environment::Production),
        );
        let assertion = device.assertion(&AssertionSpec::new(APP_ID, client_data_hash, 1));
        std::fs::write(dir.path().join("root.pem"), pki.root_pem()).unwrap();
        std::fs::write(dir.path().join("attestation.cbor"), &object).unwrap();
        std::fs::write(dir.path().join("attestation.b64"), STANDARD.encode(&object)).unwrap();
        std::fs::write(
            dir.path().join("assertion.b64"),
            STANDARD.encode(&assertion),
        )
        .unwrap();
        Self {
            dir,
            key_id: STANDARD.encode(device.key_id()),
            challenge: URL_SAFE_NO_PAD.encode(challenge),
            public_key_hex: hex::encode(device.public_key()),
        }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    fn verify_attestation(&self, file: &str, app_id: &str, extra: &[&str]) -> Output {
        let attestation = self.path(file);
        let root = self.path("root.pem");
        let mut args = vec![
            "verify",
            "app-attest",
            "--attestation",
            &attestation,
            "--key-id",
            &self.key_id,
            "--challenge",
            &self.challenge,
            "--app-id",
            app_id,
            "--environment",
            "production",
            "--at",
            "2030-01-01T00:00:00Z",
            "--root",
            &root,
        ];
        args.extend_from_slice(extra);
        avow(&args)
    }
}

#[test]
fn verify_attestation_valid_exits_zero() {
    let captured = Captured::new();
    for file in ["attestation.b64", "attestation.cbor"] {
        let output = captured.verify_attestation(file, APP_ID, &[]);
        assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
        assert!(stdout(&output).contains("result: valid"));
        assert!(stdout(&output).contains("certificate_chain  pass"));
    }
}

#[test]
fn verify_attestation_wrong_app_exits_one() {
    let captured = Captured::new();
    let output =
        captured.verify_attestation("attestation.b64", "TEAMID1234.com.example.other", &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).contains("app_id_mismatch"),
        "{}",
        stdout(&output)
    );
    assert!(stdout(&output).contains("result: invalid (app_id_mismatch)"));
}

#[test]
fn verify_attestation_json_lists_every_check() {
    let captured = Captured::new();
    let output = captured.verify_attestation("attestation.b64", APP_ID, &["--json"]);
    assert_eq!(output.status.code(), Some(0));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["valid"], true);
    let checks = report["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 9);
    assert!(checks.iter().all(|check| check["result"] == "pass"));
    assert_eq!(report["verified"]["key_id"], captured.key_id.as_str());
}

#[test]
fn verify_attestation_unusable_input_exits_two() {
    let captured = Captured::new();
    let output = captured.verify_attestation("missing.b64", APP_ID, &[]);
    assert_eq!(output.status.code(), Some(2));
    let output = captured.verify_attestation("attestation.b64", "no-dot", &[]);
    assert_eq!(output.status.code(), Some(2));
    let output = avow(&[
        "verify",
        "app-attest",
        "--attestation",
        &captured.path("attestation.b64"),
        "--key-id",
        &captured.key_id,
        "--challenge",
        &captured.challenge,
        "--app-id",
        APP_ID,
        "--environment",
        "production",
        "--at",
        "yesterday",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("RFC 3339"));
}

#[test]
fn verify_attestation_apple_root_rejects_test_chain() {
    let captured = Captured::new();
    let output = avow(&[
        "verify",
        "app-attest",
        "--attestation",
        &captured.path("attestation.b64"),
        "--key-id",
        &captured.key_id,
        "--challenge",
        &captured.challenge,
        "--app-id",
        APP_ID,
        "--environment",
        "production",
        "--at",
        "2030-01-01T00:00:00Z",
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).contains("certificate_chain  FAIL"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn verify_assertion_valid_and_stale_counter() {
    let captured = Captured::new();
    let assertion = captured.path("assertion.b64");
    let run = |stored_counter: &str| {
        avow(&[
            "verify",
            "app-attest-assertion",
            "--assertion",
            &assertion,
            "--public-key",
            &captured.public_key_hex,
            "--challenge",
            &captured.challenge,
            "--app-id",
            APP_ID,
            "--stored-counter",
            stored_counter,
        ])
    };
    let output = run("0");
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert!(stdout(&output).contains("counter: 1"));
    let output = run("1");
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).contains("counter_not_increased"));
}

#[test]
fn verify_assertion_bad_public_key_exits_two() {
    let captured = Captured::new();
    let output = avow(&[
        "verify",
        "app-attest-assertion",
        "--assertion",
        &captured.path("assertion.b64"),
        "--public-key",
        "04abcd",
        "--challenge",
        &captured.challenge,
        "--app-id",
        APP_ID,
    ]);
    assert_eq!(output.status.code(), Some(2));
}

fn vectors_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("AVOW_VECTORS_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors"),
        PathBuf::from,
    );
    if dir.join("app-attest").is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "skipped: vectors not found at {} (set AVOW_VECTORS_DIR)",
            dir.display()
        );
        None
    }
}

fn apple_sample(dir: &Path, out: &Path) -> PathBuf {
    let text =
        std::fs::read_to_string(dir.join("app-attest/apple-doc-sample-attestation.json")).unwrap();
    let vector: Value = serde_json::from_str(&text).unwrap();
    let path = out.join("apple-sample.b64");
    std::fs::write(&path, vector["attestation_base64"].as_str().unwrap()).unwrap();
    path
}

#[test]
fn verify_apple_sample_as_documented() {
    let Some(dir) = vectors_dir() else { return };
    let out = tempfile::tempdir().unwrap();
    let sample = apple_sample(&dir, out.path());
    let sample = sample.display().to_string();
    let client_data_hash = hex::encode(b"test_server_challenge");
    let run = |at: &str, environment: &str| {
        avow(&[
            "verify",
            "app-attest",
            "--attestation",
            &sample,
            "--key-id",
            "bSrEhF8TIzIvWSPwvZ0i2+UOBre4ASH84rK15m6emNY=",
            "--client-data-hash",
            &client_data_hash,
            "--app-id",
            "0352187391.com.apple.example_app_attest",
            "--environment",
            environment,
            "--at",
            at,
        ])
    };
    let output = run("2024-04-18T12:00:00Z", "production");
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let output = run("2024-04-21T12:00:00Z", "production");
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).contains("result: invalid (certificate_expired)"));
    let output = run("2024-04-18T12:00:00Z", "development");
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).contains("result: invalid (environment_mismatch)"));
}

fn signed_token(signer: &TokenSigner, iat: u64) -> String {
    signer
        .sign(&Claims {
            iss: "avow".to_owned(),
            sub: APP_ID.to_owned(),
            aud: APP_ID.to_owned(),
            iat,
            exp: iat + 300,
            nbf: None,
            jti: "jti".to_owned(),
            ins: Some("install".to_owned()),
            pay: None,
            att: AttestationClaim {
                prv: vec!["app_attest".to_owned()],
                trust: "hardware".to_owned(),
                app: "recognized".to_owned(),
                dev: "strong".to_owned(),
                flg: Vec::new(),
                env: Some("production".to_owned()),
                at: iat,
                via: "attestation".to_owned(),
                red: false,
            },
        })
        .unwrap()
}

#[test]
fn token_verify_with_jwks_file() {
    let dir = tempfile::tempdir().unwrap();
    let (signer, _) = TokenSigner::generate().unwrap();
    let jwks = Jwks {
        keys: vec![signer.jwk().unwrap()],
    };
    let jwks_path = dir.path().join("jwks.json");
    std::fs::write(&jwks_path, serde_json::to_string(&jwks).unwrap()).unwrap();
    let jwks_path = jwks_path.display().to_string();
    let token = signed_token(&signer, 1_900_000_000);

    let output = avow(&[
        "token",
        "verify",
        &token,
        "--jwks",
        &jwks_path,
        "--at",
        "2030-03-17T17:48:00Z",
        "--issuer",
        "avow",
        "--audience",
        APP_ID,
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert!(stdout(&output).contains(APP_ID));

    let output = avow(&[
        "token",
        "verify",
        &token,
        "--jwks",
        &jwks_path,
        "--at",
        "2031-01-01T00:00:00Z",
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).contains("token_expired"));

    let output = avow(&[
        "token",
        "verify",
        &token,
        "--jwks",
        &jwks_path,
        "--at",
        "2030-03-17T17:48:00Z",
        "--audience",
        "TEAMID1234.com.example.other",
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).contains("audience_mismatch"));

    let (other, _) = TokenSigner::generate().unwrap();
    let output = avow(&[
        "token",
        "verify",
        &signed_token(&other, 1_900_000_000),
        "--jwks",
        &jwks_path,
        "--at",
        "2030-03-17T17:48:00Z",
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).contains("unknown_kid"));

    let output = avow(&[
        "token",
        "verify",
        &token,
        "--jwks",
        "/nonexistent/jwks.json",
    ]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn serve_rejects_unknown_config_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("avow.toml");
    std::fs::write(&config, "listen = \"127.0.0.1:0\"\ntoken_lifetime = 5\n").unwrap();
    let output = avow(&["serve", "--config", &config.display().to_string()]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("token_lifetime"), "{stderr}");
}

#[test]
fn admin_key_create_names_missing_database() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_avow"))
        .args(["admin-key", "create"])
        .current_dir(dir.path())
        .env_remove("AVOW_CONFIG")
        .env_remove("AVOW_DATA_DIR")
        .env_remove("AVOW_DATABASE")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);

    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("avow-data/avow.db"), "{stderr}");
    assert!(stderr.contains("No such file or directory"), "{stderr}");
    assert!(stderr.contains("AVOW_DATA_DIR"), "{stderr}");
    assert!(!dir.path().join("avow-data").exists());
}
