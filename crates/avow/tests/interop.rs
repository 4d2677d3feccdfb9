//! Interoperability: tokens issued by a real `avow serve` verify with third-party JWT libraries
//! that fetch the server's JWKS, PyJWT (Python) and jose (Node.js), through the scripts in
//! `interop/python/verify.py` and `interop/node/verify.mjs`.
//!
//! These tests need the libraries installed, so they run only when switched on:
//!
//! - `AVOW_INTEROP_PYTHON=/path/to/python` runs the PyJWT test with that interpreter, which must
//!   have the packages of `interop/python/requirements.txt`.
//! - `AVOW_INTEROP_NODE=/path/to/node` runs the jose test with that Node.js, after `npm ci` in
//!   `interop/node`.
//! - `AVOW_INTEROP=1` runs both, with `python3` and `node` from `PATH` unless the variables above
//!   name others.
//!
//! `.ci/run` installs the libraries and sets these variables. Without them each test passes
//! after printing `skipped: …`.

mod support;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use avow_testgen::{AttestationSpec, Environment, SimulatedDevice, TestPki, sha256};
use avow_token::{Jwks, TokenVerifier};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use support::{Client, ServerProcess, config, now, register_app};

const APP_ID: &str = "TEAMID1234.com.example.bank";
const OTHER_APP_ID: &str = "TEAMID1234.com.example.shop";
/// The issuer that `support::config` gives the server.
const ISSUER: &str = "avow-e2e";

/// The error names each library reports for the rejections the tests provoke.
struct ExpectedErrors {
    bad_signature: &'static str,
    wrong_audience: &'static str,
    wrong_issuer: &'static str,
    /// Whether the library names the failed claim (`"claim"` in the script's output).
    names_claim: bool,
}

const PYJWT_ERRORS: ExpectedErrors = ExpectedErrors {
    bad_signature: "InvalidSignatureError",
    wrong_audience: "InvalidAudienceError",
    wrong_issuer: "InvalidIssuerError",
    // The exception class names the claim instead.
    names_claim: false,
};

const JOSE_ERRORS: ExpectedErrors = ExpectedErrors {
    bad_signature: "ERR_JWS_SIGNATURE_VERIFICATION_FAILED",
    wrong_audience: "ERR_JWT_CLAIM_VALIDATION_FAILED",
    wrong_issuer: "ERR_JWT_CLAIM_VALIDATION_FAILED",
    names_claim: true,
};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Returns the program to run for one library: the variable `specific` when set, else
/// `default` from `PATH` when `AVOW_INTEROP=1`, else `None`.
fn interpreter(specific: &str, default: &str) -> Option<String> {
    if let Some(path) = std::env::var_os(specific).filter(|value| !value.is_empty()) {
        return Some(path.to_string_lossy().into_owned());
    }
    match std::env::var("AVOW_INTEROP") {
        Ok(value) if value == "1" => Some(default.to_owned()),
        _ => None,
    }
}

/// A server with two registered apps and one token issued to `APP_ID` by a real attestation.
struct Issued {
    server: ServerProcess,
    _dir: tempfile::TempDir,
    token: String,
    /// The claims as the server's own verifier reads them from the token.
    claims: Value,
}

fn issue_token() -> Issued {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::new();
    let root_path = dir.path().join("test-root.pem");
    std::fs::write(&root_path, pki.root_pem()).unwrap();
    let server = ServerProcess::start(dir.path(), &config(&root_path, 120));
    register_app(&server, APP_ID);
    register_app(&server, OTHER_APP_ID);

    let client = Client::new();
    let device = SimulatedDevice::new();
    let nonce = client.challenge(&server, APP_ID);
    let spec = AttestationSpec::new(APP_ID, sha256(&nonce), Environment::Development);
    let object = device.attestation(&pki, &spec);
    let body = json!({
        "app_id": APP_ID,
        "nonce": URL_SAFE_NO_PAD.encode(&nonce),
        "evidence": {"app_attest": {
            "key_id": STANDARD.encode(device.key_id()),
            "attestation_object": STANDARD.encode(&object),
        }},
    });
    let (status, body) = client.post(&server.url("/v1/attest"), &body);
    assert_eq!(status, 200, "{body}");
    let token = body["token"].as_str().unwrap().to_owned();

    let jwks: Jwks = client
        .http
        .get(server.url("/.well-known/jwks.json"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let claims = TokenVerifier::from_jwks(&jwks)
        .unwrap()
        .with_issuer(ISSUER)
        .with_audiences(vec![APP_ID.to_owned()])
        .verify(&token, now())
        .unwrap();
    assert_eq!(claims.sub, APP_ID);
    let claims = serde_json::to_value(&claims).unwrap();
    Issued {
        server,
        _dir: dir,
        token,
        claims,
    }
}

/// Returns the token with its payload's `sub` replaced and the original signature kept.
fn tampered(token: &str) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "a compact JWS has three parts");
    let mut payload: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap())
        .expect("the payload is JSON");
    payload["sub"] = json!(OTHER_APP_ID);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&payload).unwrap());
    format!("{}.{payload}.{}", parts[0], parts[2])
}

/// Runs a verify script with the token on standard input.
fn run_script(
    program: &str,
    script: &Path,
    jwks_url: &str,
    issuer: &str,
    audience: &str,
    token: &str,
) -> Output {
    let mut child = Command::new(program)
        .arg(script)
        .args([
            "--jwks-url",
            jwks_url,
            "--issuer",
            issuer,
            "--audience",
            audience,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot run {program}: {error}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(token.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn stdout_json(output: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(stdout.trim()).unwrap_or_else(|error| {
        panic!(
            "script output is not one JSON object ({error}): stdout {stdout:?}, stderr {:?}",
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// Checks one library: the real token verifies with the same claims, and a tampered token,
/// a wrong audience and a wrong issuer are each rejected with the library's specific error.
fn check_library(program: &str, script: &Path, expected: &ExpectedErrors) {
    let issued = issue_token();
    let jwks_url = issued.server.url("/.well-known/jwks.json");
    assert!(
        jwks_url.starts_with("http://127.0.0.1:"),
        "the server listens on loopback: {jwks_url}"
    );

    let output = run_script(program, script, &jwks_url, ISSUER, APP_ID, &issued.token);
    assert_eq!(
        output.status.code(),
        Some(0),
        "valid token rejected: stdout {:?}, stderr {:?}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let printed = stdout_json(&output);
    assert_eq!(printed["sub"], issued.claims["sub"]);
    assert_eq!(printed["jti"], issued.claims["jti"]);
    assert_eq!(printed["iss"], json!(ISSUER));
    assert_eq!(printed["aud"], json!(APP_ID));
    assert_eq!(printed, issued.claims, "every claim reads the same");

    let rejections = [
        (
            "tampered payload",
            APP_ID,
            ISSUER,
            tampered(&issued.token),
            expected.bad_signature,
            None,
        ),
        (
            "wrong audience",
            OTHER_APP_ID,
            ISSUER,
            issued.token.clone(),
            expected.wrong_audience,
            Some("aud"),
        ),
        (
            "wrong issuer",
            APP_ID,
            "another-issuer",
            issued.token.clone(),
            expected.wrong_issuer,
            Some("iss"),
        ),
    ];
    for (case, audience, issuer, token, error, claim) in rejections {
        let output = run_script(program, script, &jwks_url, issuer, audience, &token);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{case}: expected a rejection, stdout {:?}, stderr {:?}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let printed = stdout_json(&output);
        assert_eq!(printed["error"], json!(error), "{case}: {printed}");
        if expected.names_claim
            && let Some(claim) = claim
        {
            assert_eq!(printed["claim"], json!(claim), "{case}: {printed}");
        }
    }
}

#[test]
fn pyjwt_verifies_served_tokens() {
    let Some(python) = interpreter("AVOW_INTEROP_PYTHON", "python3") else {
        println!(
            "skipped: set AVOW_INTEROP=1 or AVOW_INTEROP_PYTHON to a Python with \
             interop/python/requirements.txt installed"
        );
        return;
    };
    let script = workspace_root().join("interop/python/verify.py");
    check_library(&python, &script, &PYJWT_ERRORS);
}

#[test]
fn jose_verifies_served_tokens() {
    let Some(node) = interpreter("AVOW_INTEROP_NODE", "node") else {
        println!(
            "skipped: set AVOW_INTEROP=1 or AVOW_INTEROP_NODE to a Node.js, after `npm ci` in \
             interop/node"
        );
        return;
    };
    let directory = workspace_root().join("interop/node");
    assert!(
        directory.join("node_modules/jose").is_dir(),
        "jose is not installed: run `npm ci` in {}",
        directory.display()
    );
    check_library(&node, &directory.join("verify.mjs"), &JOSE_ERRORS);
}
