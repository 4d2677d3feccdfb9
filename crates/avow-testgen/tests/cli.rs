//! Runs the `avow-testgen` binary and checks the files it writes.

use std::path::Path;
use std::process::{Command, Output};

use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ciborium::Value;

use avow_testgen::{SimulatedDevice, app_id_hash, sha256};

const APP_ID: &str = "TEAMID1234.com.example.app";

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_avow-testgen"))
        .args(args)
        .output()
        .expect("avow-testgen starts")
}

fn generate_attestation(out: &Path, environment: &str) -> Output {
    run(&[
        "app-attest",
        "--out",
        out.to_str().unwrap(),
        "--app-id",
        APP_ID,
        "--environment",
        environment,
        "--client-data-hash-hex",
        "00112233",
    ])
}

fn map_get<'a>(value: &'a Value, key: &str) -> &'a Value {
    value
        .as_map()
        .expect("map")
        .iter()
        .find(|(k, _)| k.as_text() == Some(key))
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("missing key {key}"))
}

#[test]
fn app_attest_writes_consistent_files() {
    let dir = tempfile::tempdir().unwrap();
    let output = generate_attestation(dir.path(), "production");
    assert!(output.status.success(), "{output:?}");

    let attestation = std::fs::read(dir.path().join("attestation.cbor")).unwrap();
    let attestation_b64 = std::fs::read_to_string(dir.path().join("attestation.b64")).unwrap();
    assert_eq!(BASE64.decode(attestation_b64.trim()).unwrap(), attestation);

    let device_key = std::fs::read(dir.path().join("device_key.pk8")).unwrap();
    let device = SimulatedDevice::from_pkcs8(&device_key).unwrap();
    let key_id_b64 = std::fs::read_to_string(dir.path().join("key_id.b64")).unwrap();
    assert_eq!(BASE64.decode(key_id_b64.trim()).unwrap(), device.key_id());

    let root = std::fs::read_to_string(dir.path().join("root.pem")).unwrap();
    assert!(root.starts_with("-----BEGIN CERTIFICATE-----"));

    let top: Value = ciborium::from_reader(attestation.as_slice()).unwrap();
    assert_eq!(map_get(&top, "fmt").as_text(), Some("apple-appattest"));
    let auth_data = map_get(&top, "authData").as_bytes().unwrap();
    assert_eq!(&auth_data[..32], &app_id_hash(APP_ID));
    assert_eq!(&auth_data[37..53], b"appattest\0\0\0\0\0\0\0");

    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("attestation.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(summary["app_id"], APP_ID);
    assert_eq!(summary["environment"], "production");
    assert_eq!(summary["client_data_hash_hex"], "00112233");
    assert_eq!(summary["key_id_base64"], key_id_b64.trim());

    let readme = std::fs::read_to_string(dir.path().join("README.txt")).unwrap();
    assert!(readme.contains("device_key.pk8"));
}

#[test]
fn assertion_signed_by_written_device_key() {
    let dir = tempfile::tempdir().unwrap();
    assert!(
        generate_attestation(dir.path(), "development")
            .status
            .success()
    );
    let key_path = dir.path().join("device_key.pk8");

    let output = run(&[
        "app-attest-assertion",
        "--device-key",
        key_path.to_str().unwrap(),
        "--out",
        dir.path().to_str().unwrap(),
        "--app-id",
        APP_ID,
        "--counter",
        "7",
        "--client-data-hash-hex",
        "abcd",
    ]);
    assert!(output.status.success(), "{output:?}");

    let assertion = std::fs::read(dir.path().join("assertion.cbor")).unwrap();
    let assertion_b64 = std::fs::read_to_string(dir.path().join("assertion.b64")).unwrap();
    assert_eq!(BASE64.decode(assertion_b64.trim()).unwrap(), assertion);

    let top: Value = ciborium::from_reader(assertion.as_slice()).unwrap();
    let signature = map_get(&top, "signature").as_bytes().unwrap();
    let authenticator_data = map_get(&top, "authenticatorData").as_bytes().unwrap();
    assert_eq!(&authenticator_data[33..37], &[0, 0, 0, 7]);

    let device = SimulatedDevice::from_pkcs8(&std::fs::read(&key_path).unwrap()).unwrap();
    let mut signed = authenticator_data.clone();
    signed.extend_from_slice(&[0xab, 0xcd]);
    let public_key = UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, device.public_key());
    assert!(public_key.verify(&sha256(&signed), signature).is_ok());
}

#[test]
fn missing_option_exits_with_usage() {
    let output = run(&["app-attest", "--out", "unused"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("missing required option --app-id"),
        "{stderr}"
    );
    assert!(stderr.contains("usage:"), "{stderr}");
}

#[test]
fn invalid_environment_exits_with_usage() {
    let dir = tempfile::tempdir().unwrap();
    let output = generate_attestation(dir.path(), "staging");
    assert_eq!(output.status.code(), Some(2));
    assert!(!dir.path().join("attestation.cbor").exists());
}

#[test]
fn unknown_command_exits_with_usage() {
    assert_eq!(run(&["app-attestation"]).status.code(), Some(2));
    assert_eq!(run(&[]).status.code(), Some(2));
}

#[test]
fn invalid_device_key_fails() {
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("not-a-key.pk8");
    std::fs::write(&key_path, b"not a key").unwrap();
    let output = run(&[
        "app-attest-assertion",
        "--device-key",
        key_path.to_str().unwrap(),
        "--out",
        dir.path().to_str().unwrap(),
        "--app-id",
        APP_ID,
        "--counter",
        "1",
        "--client-data-hash-hex",
        "00",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("not an unencrypted PKCS#8 P-256 private key"),
        "{stderr}"
    );
}
