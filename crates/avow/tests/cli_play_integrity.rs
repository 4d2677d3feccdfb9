//! `avow verify play-integrity` and `avow verify play-integrity-decoded` as a support engineer
//! runs them, with their exit statuses: 0 valid, 1 invalid, 2 unusable input.

use std::process::{Command, Output};

use avow_testgen::play_integrity::{
    PlayIntegrityIssuer, PlayIntegritySpec, default_certificate_digest,
};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::Value;

const PACKAGE: &str = "com.example.bank";

/// The verification time, 2025-06-01T00:00:00Z.
const AT: &str = "2025-06-01T00:00:00Z";
const AT_SECS: u64 = 1_748_736_000;

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

/// A generated token and decoded verdict written to files, with the keys in the base64 form
/// the Play Console shows.
struct Captured {
    dir: tempfile::TempDir,
    decryption_key: String,
    verification_key: String,
    nonce: String,
    digest: String,
}

impl Captured {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let issuer = PlayIntegrityIssuer::new();
        let nonce = [0x3cu8; 32];
        let spec = PlayIntegritySpec::classic(PACKAGE, &nonce, AT_SECS * 1000 - 2_000);
        std::fs::write(dir.path().join("token.txt"), issuer.token(&spec)).unwrap();
        std::fs::write(dir.path().join("decoded.json"), spec.decoded_response()).unwrap();
        let standard = PlayIntegritySpec::standard(PACKAGE, "00ff".repeat(16), AT_SECS * 1000);
        std::fs::write(
            dir.path().join("standard.json"),
            standard.decoded_response(),
        )
        .unwrap();
        Self {
            dir,
            decryption_key: STANDARD.encode(issuer.decryption_key()),
            verification_key: STANDARD.encode(issuer.verification_key_spki()),
            nonce: STANDARD.encode(nonce),
            digest: URL_SAFE_NO_PAD.encode(default_certificate_digest()),
        }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// Runs `avow verify play-integrity` on `file` with the captured keys, `extra` arguments
    /// appended. Clap rejects a repeated option such as a second `--nonce`, so `change`
    /// replaces the value of a default option instead.
    fn verify_token(&self, file: &str, change: &[(&str, &str)], extra: &[&str]) -> Output {
        let token = self.path(file);
        let mut options: Vec<(&str, &str)> = vec![
            ("--token", &token),
            ("--decryption-key", &self.decryption_key),
            ("--verification-key", &self.verification_key),
            ("--nonce", &self.nonce),
            ("--package", PACKAGE),
            ("--certificate-digest", &self.digest),
            ("--at", AT),
        ];
        for (name, value) in change {
            let slot = options
                .iter_mut()
                .find(|(option, _)| option == name)
                .unwrap();
            slot.1 = value;
        }
        let mut args = vec!["verify", "play-integrity"];
        for (name, value) in &options {
            args.push(name);
            args.push(value);
        }
        args.extend_from_slice(extra);
        avow(&args)
    }

    fn verify_decoded(&self, file: &str, binding: [&str; 2], package: &str) -> Output {
        let payload = self.path(file);
        avow(&[
            "verify",
            "play-integrity-decoded",
            "--payload",
            &payload,
            binding[0],
            binding[1],
            "--package",
            package,
            "--at",
            AT,
        ])
    }
}

#[test]
fn valid_token_exits_0_and_prints_verdict() {
    let captured = Captured::new();
    let output = captured.verify_token("token.txt", &[], &[]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(text.contains("result: valid"), "{text}");
    assert!(text.contains("app_integrity: \"recognized\""), "{text}");
    assert!(text.contains("device_integrity: \"device\""), "{text}");
    assert!(text.contains("risk_flags: []"), "{text}");
}

#[test]
fn valid_token_json_lists_every_check() {
    let captured = Captured::new();
    let output = captured.verify_token("token.txt", &[], &["--json"]);
    assert_eq!(output.status.code(), Some(0));
    let result: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(result["valid"], true);
    assert_eq!(result["checks"].as_array().unwrap().len(), 9);
    assert_eq!(
        result["verified"]["app_recognition_verdict"],
        "PLAY_RECOGNIZED"
    );
    assert_eq!(result["verified"]["certificate_digests_compared"], true);
}

#[test]
fn other_nonce_exits_1_with_reason() {
    let captured = Captured::new();
    let other = STANDARD.encode([0x3du8; 32]);
    let output = captured.verify_token("token.txt", &[("--nonce", &other)], &[]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("result: invalid (nonce_mismatch)"), "{text}");
}

#[test]
fn stale_token_exits_1() {
    let captured = Captured::new();
    let output = captured.verify_token("token.txt", &[], &["--max-age-secs", "1", "--json"]);
    assert_eq!(output.status.code(), Some(1));
    let result: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(result["reason"], "evidence_too_old");
}

#[test]
fn other_decryption_key_exits_1() {
    let captured = Captured::new();
    let other = STANDARD.encode([7u8; 32]);
    let output = captured.verify_token("token.txt", &[("--decryption-key", &other)], &["--json"]);
    assert_eq!(output.status.code(), Some(1));
    let result: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(result["reason"], "jwe_key_unwrap_failed");
    assert_eq!(result["checks"][1]["result"], "skipped");
}

#[test]
fn unusable_inputs_exit_2() {
    let captured = Captured::new();
    let missing = captured.path("missing.txt");
    let short_key = STANDARD.encode([1u8; 16]);
    let cases: [(&str, Vec<(&str, &str)>); 4] = [
        ("unreadable token file", vec![("--token", &missing)]),
        (
            "short decryption key",
            vec![("--decryption-key", &short_key)],
        ),
        ("nonce not base64", vec![("--nonce", "not base64!")]),
        ("time not RFC 3339", vec![("--at", "yesterday")]),
    ];
    for (case, change) in cases {
        let output = captured.verify_token("token.txt", &change, &[]);
        assert_eq!(output.status.code(), Some(2), "{case}");
        assert!(
            String::from_utf8_lossy(&output.stderr).contains("error"),
            "{case}"
        );
    }
}

#[test]
fn decoded_verdict_exits_0_or_1() {
    let captured = Captured::new();
    let output = captured.verify_decoded("decoded.json", ["--nonce", &captured.nonce], PACKAGE);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));

    let output = captured.verify_decoded(
        "decoded.json",
        ["--nonce", &captured.nonce],
        "com.example.other",
    );
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("package_name_mismatch"), "{text}");
}

#[test]
fn decoded_hex_request_hash_exits_0() {
    let captured = Captured::new();
    let hash = "00FF".repeat(16);
    let output = captured.verify_decoded("standard.json", ["--request-hash", &hash], PACKAGE);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
}

#[test]
fn decoded_without_binding_or_file_exits_2() {
    let captured = Captured::new();
    let payload = captured.path("decoded.json");
    let output = avow(&[
        "verify",
        "play-integrity-decoded",
        "--payload",
        &payload,
        "--package",
        PACKAGE,
        "--at",
        AT,
    ]);
    assert_eq!(output.status.code(), Some(2));

    let output = captured.verify_decoded("missing.json", ["--nonce", &captured.nonce], PACKAGE);
    assert_eq!(output.status.code(), Some(2));
}
