//! `avow verify device-key` as a support engineer runs it, with its exit statuses.

use std::process::Command;

use avow_testgen::device_key::{DeviceKeyInstall, measurement_json};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

const APP: &str = "com.example.shop";
const NONCE: [u8; 32] = [3u8; 32];

fn run(
    install: &DeviceKeyInstall,
    measurement: &std::path::Path,
    signature: &[u8],
    extra: &[&str],
) -> std::process::Output {
    let public_key = STANDARD.encode(install.public_key_spki());
    let signature = STANDARD.encode(signature);
    let nonce = STANDARD.encode(NONCE);
    let measurement = measurement.display().to_string();
    let mut args = vec![
        "verify",
        "device-key",
        "--public-key",
        &public_key,
        "--measurement",
        &measurement,
        "--signature",
        &signature,
        "--nonce",
        &nonce,
        "--app-id",
        APP,
    ];
    args.extend_from_slice(extra);
    Command::new(env!("CARGO_BIN_EXE_avow"))
        .args(&args)
        .output()
        .unwrap()
}

#[test]
fn device_key_exit_statuses() {
    let dir = tempfile::tempdir().unwrap();
    let install = DeviceKeyInstall::new();
    let measurement = measurement_json(APP, None, "com.android.vending", true);
    let path = dir.path().join("measurement.json");
    std::fs::write(&path, &measurement).unwrap();

    let output = run(
        &install,
        &path,
        &install.sign_registration(&NONCE, &measurement),
        &["--json"],
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["valid"], true);
    assert_eq!(report["verified"]["trust"], "software");
    assert_eq!(
        report["verified"]["risk_flags"],
        serde_json::json!(["rooted"])
    );

    let output = run(
        &install,
        &path,
        &install.sign_registration(&[4u8; 32], &measurement),
        &[],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stdout).contains("signature_invalid"));

    let output = run(&install, &dir.path().join("missing.json"), b"x", &[]);
    assert_eq!(output.status.code(), Some(2));
}
