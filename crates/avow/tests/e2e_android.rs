//! End to end for Android and for Avow's device key: a real `avow serve` process, an Android app
//! registered through the CLI, and simulated devices whose test CAs and keys the server trusts.

mod support;

use std::path::Path;

use avow_testgen::android_key::{
    AndroidDeviceKey, AndroidKeyPki, AndroidKeySpec, ChainEnd, RootKeyType, StatusListEntry,
    status_list_json,
};
use avow_testgen::device_key::{DeviceKeyInstall, measurement_json};
use avow_testgen::huawei::{SysIntegrityGenerator, SysIntegritySpec};
use avow_testgen::play_integrity::{
    PlayIntegrityIssuer, PlayIntegritySpec, default_certificate_digest,
};
use avow_testgen::safetynet::{LeafName, SafetyNetGenerator, SafetyNetSpec};
use avow_token::TokenVerifier;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use support::{Client, ServerProcess, avow_cli, now};

const PACKAGE: &str = "com.example.shop";

/// A server with an Android app registered, trusting the test CAs of the simulated providers.
struct AndroidSetup {
    _dir: tempfile::TempDir,
    server: ServerProcess,
    client: Client,
    play: PlayIntegrityIssuer,
    safetynet: SafetyNetGenerator,
    huawei: SysIntegrityGenerator,
    android_pki: AndroidKeyPki,
}

/// A serial number in the status list the server loads. Generated chains use random serials,
/// so the list only shows that a configured list is loaded without affecting them.
const LISTED_SERIAL: &str = "7e57";

impl AndroidSetup {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let safetynet = SafetyNetGenerator::new();
        let huawei = SysIntegrityGenerator::new(LeafName::SubjectAltName);
        let android_pki = AndroidKeyPki::new(RootKeyType::EcP384);
        let safetynet_root = write(
            dir.path(),
            "safetynet-root.pem",
            &safetynet.signer().root_pem(),
        );
        let huawei_root = write(dir.path(), "huawei-root.pem", &huawei.signer().root_pem());
        let android_root = write(dir.path(), "android-root.pem", &android_pki.root_pem());
        let status_list = status_list_json(&[StatusListEntry {
            serial_hex: LISTED_SERIAL.to_owned(),
            status: "REVOKED".to_owned(),
            reason: "KEY_COMPROMISE".to_owned(),
        }]);
        let status_list = write(
            dir.path(),
            "status.json",
            std::str::from_utf8(&status_list).unwrap(),
        );
        let config = format!(
            "listen = \"127.0.0.1:0\"\ndata_dir = \"data\"\nissuer = \"avow-e2e\"\n\
             [safetynet]\nextra_roots = [\"{safetynet_root}\"]\n\
             [huawei_safety_detect]\nextra_roots = [\"{huawei_root}\"]\n\
             [android_key]\nextra_roots = [\"{android_root}\"]\n\
             status_list_file = \"{status_list}\"\n"
        );
        let server = ServerProcess::start(dir.path(), &config);
        let digest = hex::encode(default_certificate_digest());
        let output = avow_cli(
            &server,
            &[
                "app",
                "add",
                "--platform",
                "android",
                "--package-name",
                PACKAGE,
                "--certificate-digest",
                &digest,
                "--min-version-code",
                "10",
            ],
        );
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );

        let play = PlayIntegrityIssuer::new();
        let output = avow_cli(
            &server,
            &[
                "app",
                "set-play-integrity-keys",
                PACKAGE,
                "--decryption-key",
                &STANDARD.encode(play.decryption_key()),
                "--verification-key",
                &STANDARD.encode(play.verification_key_spki()),
            ],
        );
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        Self {
            _dir: dir,
            server,
            client: Client::new(),
            play,
            safetynet,
            huawei,
            android_pki,
        }
    }

    fn attest(&self, nonce: &[u8], evidence: Value) -> (u16, Value) {
        self.client.post(
            &self.server.url("/v1/attest"),
            &json!({"app_id": PACKAGE, "nonce": URL_SAFE_NO_PAD.encode(nonce), "evidence": evidence}),
        )
    }

    fn refresh(&self, nonce: &[u8], key_id: &str, signature: &[u8]) -> (u16, Value) {
        self.client.post(
            &self.server.url("/v1/refresh"),
            &json!({
                "app_id": PACKAGE,
                "nonce": URL_SAFE_NO_PAD.encode(nonce),
                "proof": {"key_signature": {"key_id": key_id, "signature": STANDARD.encode(signature)}},
            }),
        )
    }

    fn verifier(&self) -> TokenVerifier {
        TokenVerifier::from_jwks(&self.client.jwks(&self.server))
            .unwrap()
            .with_issuer("avow-e2e")
            .with_audiences(vec![PACKAGE.to_owned()])
    }
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn now_ms() -> u64 {
    now() * 1000
}

fn device_key_evidence(install: &DeviceKeyInstall, nonce: &[u8], root_detected: bool) -> Value {
    let measurement = measurement_json(
        PACKAGE,
        Some(&default_certificate_digest()),
        "com.android.vending",
        root_detected,
    );
    json!({
        "public_key": STANDARD.encode(install.public_key_spki()),
        "measurement": STANDARD.encode(&measurement),
        "signature": STANDARD.encode(install.sign_registration(nonce, &measurement)),
    })
}

#[test]
fn play_integrity_device_gets_token() {
    let setup = AndroidSetup::start();
    let nonce = setup.client.challenge(&setup.server, PACKAGE);
    let token = setup
        .play
        .token(&PlayIntegritySpec::classic(PACKAGE, &nonce, now_ms()));
    let (status, body) = setup.attest(&nonce, json!({"play_integrity": {"token": token}}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["verdict"]["prv"], json!(["play_integrity"]));
    assert_eq!(body["verdict"]["trust"], "platform");
    assert_eq!(body["verdict"]["app"], "recognized");
    assert_eq!(body["verdict"]["dev"], "device");
    assert!(
        body.get("install_id").is_none(),
        "no key, no install: {body}"
    );

    let claims = setup
        .verifier()
        .verify(body["token"].as_str().unwrap(), now())
        .unwrap();
    assert_eq!(claims.sub, PACKAGE);
    assert_eq!(claims.ins, None);
    assert_eq!(claims.att.dev, "device");
}

#[test]
fn play_integrity_wrong_nonce_rejected() {
    let setup = AndroidSetup::start();
    let nonce = setup.client.challenge(&setup.server, PACKAGE);
    let token = setup
        .play
        .token(&PlayIntegritySpec::classic(PACKAGE, &[9u8; 32], now_ms()));
    let (status, body) = setup.attest(&nonce, json!({"play_integrity": {"token": token}}));
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["reason"], "nonce_mismatch");
}

#[test]
fn tandem_play_integrity_and_device_key_refreshes() {
    let setup = AndroidSetup::start();
    let install = DeviceKeyInstall::new();
    let nonce = setup.client.challenge(&setup.server, PACKAGE);
    let token = setup
        .play
        .token(&PlayIntegritySpec::classic(PACKAGE, &nonce, now_ms()));
    let evidence = json!({
        "play_integrity": {"token": token},
        "device_key": device_key_evidence(&install, &nonce, false),
    });
    let (status, body) = setup.attest(&nonce, evidence);
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["verdict"]["prv"],
        json!(["play_integrity", "avow_device_key"])
    );
    // The combined verdict takes the strongest evidence: Play Integrity's platform trust and
    // device level, and the device key's install.
    assert_eq!(body["verdict"]["trust"], "platform");
    assert_eq!(body["verdict"]["dev"], "device");
    let key_id = body["key_id"].as_str().unwrap().to_owned();
    assert_eq!(key_id, URL_SAFE_NO_PAD.encode(install.key_id()));
    let install_id = body["install_id"].as_str().unwrap().to_owned();

    for _ in 0..3 {
        let nonce = setup.client.challenge(&setup.server, PACKAGE);
        let (status, body) = setup.refresh(&nonce, &key_id, &install.sign_refresh(&nonce));
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["install_id"], install_id.as_str());
        assert_eq!(body["verdict"]["via"], "assertion");
        assert_eq!(body["verdict"]["dev"], "device");
        let claims = setup
            .verifier()
            .verify(body["token"].as_str().unwrap(), now())
            .unwrap();
        assert_eq!(claims.ins.as_deref(), Some(install_id.as_str()));
    }

    // A signature for one nonce does not refresh with another.
    let old_nonce = setup.client.challenge(&setup.server, PACKAGE);
    let signature = install.sign_refresh(&old_nonce);
    let nonce = setup.client.challenge(&setup.server, PACKAGE);
    let (status, body) = setup.refresh(&nonce, &key_id, &signature);
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["reason"], "signature_invalid");
}

#[test]
fn device_key_only_device_gets_software_trust() {
    let setup = AndroidSetup::start();
    let install = DeviceKeyInstall::new();
    let nonce = setup.client.challenge(&setup.server, PACKAGE);
    let (status, body) = setup.attest(
        &nonce,
        json!({"device_key": device_key_evidence(&install, &nonce, false)}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["verdict"]["prv"], json!(["avow_device_key"]));
    assert_eq!(body["verdict"]["trust"], "software");
    assert_eq!(body["verdict"]["dev"], "basic");

    let key_id = body["key_id"].as_str().unwrap().to_owned();
    let nonce = setup.client.challenge(&setup.server, PACKAGE);
    let (status, body) = setup.refresh(&nonce, &key_id, &install.sign_refresh(&nonce));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["verdict"]["trust"], "software");
}

#[test]
fn rooted_device_key_flagged_not_rejected() {
    let setup = AndroidSetup::start();
    let install = DeviceKeyInstall::new();
    let nonce = setup.client.challenge(&setup.server, PACKAGE);
    let (status, body) = setup.attest(
        &nonce,
        json!({"device_key": device_key_evidence(&install, &nonce, true)}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["verdict"]["dev"], "none");
    assert_eq!(body["verdict"]["flg"], json!(["rooted"]));
}

#[test]
fn huawei_device_gets_token() {
    let setup = AndroidSetup::start();
    let nonce = setup.client.challenge(&setup.server, PACKAGE);
    let spec = SysIntegritySpec::new(
        nonce.clone(),
        now_ms(),
        PACKAGE,
        vec![default_certificate_digest()],
    );
    let jws = setup.huawei.result(&spec);
    let (status, body) = setup.attest(&nonce, json!({"huawei_safety_detect": {"jws": jws}}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["verdict"]["prv"], json!(["huawei_safety_detect"]));
    assert_eq!(body["verdict"]["dev"], "basic");
    assert_eq!(body["verdict"]["app"], "recognized");
}

#[test]
fn safetynet_device_gets_token() {
    let setup = AndroidSetup::start();
    let nonce = setup.client.challenge(&setup.server, PACKAGE);
    let spec = SafetyNetSpec::new(
        nonce.clone(),
        now_ms(),
        PACKAGE,
        vec![default_certificate_digest()],
    );
    let jws = setup.safetynet.result(&spec);
    let (status, body) = setup.attest(&nonce, json!({"safetynet": {"jws": jws}}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["verdict"]["prv"], json!(["safetynet"]));
    assert_eq!(body["verdict"]["dev"], "device");
}

#[test]
fn android_evidence_mistakes_get_reasons() {
    let setup = AndroidSetup::start();
    let install = DeviceKeyInstall::new();

    // App Attest evidence for an Android app.
    let nonce = setup.client.challenge(&setup.server, PACKAGE);
    let (status, body) = setup.attest(
        &nonce,
        json!({"app_attest": {"key_id": STANDARD.encode([1u8; 32]), "attestation_object": "AA=="}}),
    );
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["reason"], "provider_not_for_platform");

    // DeviceCheck alone carries no nonce.
    let (status, body) = setup.attest(&nonce, json!({"device_check": {"device_token": "AA=="}}));
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["reason"], "provider_not_for_platform");

    // Two keys in one request.
    let (status, body) = setup.attest(
        &nonce,
        json!({
            "device_key": device_key_evidence(&install, &nonce, false),
            "android_key": {"certificate_chain": ["AA=="]},
        }),
    );
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["reason"], "multiple_install_keys");

    // A stale Play Integrity verdict.
    let token = setup.play.token(&PlayIntegritySpec::classic(
        PACKAGE,
        &nonce,
        now_ms() - 3_600_000,
    ));
    let (status, body) = setup.attest(&nonce, json!({"play_integrity": {"token": token}}));
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["reason"], "evidence_too_old");

    // The nonce was consumed by that request.
    let (status, body) = setup.attest(
        &nonce,
        json!({"device_key": device_key_evidence(&install, &nonce, false)}),
    );
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["reason"], "nonce_replayed");

    // A refresh with an App Attest proof for a device-key install.
    let nonce = setup.client.challenge(&setup.server, PACKAGE);
    let (status, body) = setup.attest(
        &nonce,
        json!({"device_key": device_key_evidence(&install, &nonce, false)}),
    );
    assert_eq!(status, 200, "{body}");
    let key_id = body["key_id"].as_str().unwrap().to_owned();
    let nonce = setup.client.challenge(&setup.server, PACKAGE);
    let (status, body) = setup.client.post(
        &setup.server.url("/v1/refresh"),
        &json!({
            "app_id": PACKAGE,
            "nonce": URL_SAFE_NO_PAD.encode(&nonce),
            "proof": {"app_attest": {"key_id": key_id, "assertion": "AA=="}},
        }),
    );
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["reason"], "wrong_proof_type");
}

#[test]
fn key_attestation_only_device_refreshes_with_attested_key() {
    let setup = AndroidSetup::start();
    let device = AndroidDeviceKey::new();
    let nonce = setup.client.challenge(&setup.server, PACKAGE);
    // A chain from a device with remote key provisioning: it ends at the intermediate.
    let mut spec = AndroidKeySpec::new(nonce.clone(), PACKAGE, default_certificate_digest());
    spec.chain_end = ChainEnd::Intermediate;
    let chain = setup.android_pki.chain(&device, &spec);
    let certificates: Vec<String> = chain
        .certificates
        .iter()
        .map(|der| STANDARD.encode(der))
        .collect();
    let (status, body) = setup.attest(
        &nonce,
        json!({"android_key": {"certificate_chain": certificates}}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["verdict"]["prv"], json!(["android_key_attestation"]));
    assert_eq!(body["verdict"]["trust"], "hardware");
    assert_eq!(body["verdict"]["dev"], "strong");
    assert_eq!(body["verdict"]["app"], "recognized");
    let key_id = body["key_id"].as_str().unwrap().to_owned();
    assert_eq!(
        key_id,
        URL_SAFE_NO_PAD.encode(avow_testgen::sha256(&device.public_key_spki()))
    );

    let mut message = b"avow-key-refresh-v1\0".to_vec();
    let nonce = setup.client.challenge(&setup.server, PACKAGE);
    message.extend_from_slice(&nonce);
    let (status, body) = setup.refresh(&nonce, &key_id, &device.sign(&message));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["verdict"]["trust"], "hardware");
    assert_eq!(body["verdict"]["via"], "assertion");
}

#[test]
fn key_attestation_unlocked_device_flagged() {
    let setup = AndroidSetup::start();
    let device = AndroidDeviceKey::new();
    let nonce = setup.client.challenge(&setup.server, PACKAGE);
    let mut spec = AndroidKeySpec::new(nonce.clone(), PACKAGE, default_certificate_digest());
    spec.device_locked = false;
    let chain = setup.android_pki.chain(&device, &spec);
    let certificates: Vec<String> = chain
        .certificates
        .iter()
        .map(|der| STANDARD.encode(der))
        .collect();
    let (status, body) = setup.attest(
        &nonce,
        json!({"android_key": {"certificate_chain": certificates}}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["verdict"]["dev"], "basic");
    assert_eq!(body["verdict"]["flg"], json!(["bootloader_unlocked"]));
}

#[test]
fn key_attestation_wrong_challenge_rejected() {
    let setup = AndroidSetup::start();
    let device = AndroidDeviceKey::new();
    let nonce = setup.client.challenge(&setup.server, PACKAGE);
    let spec = AndroidKeySpec::new(vec![3u8; 32], PACKAGE, default_certificate_digest());
    let chain = setup.android_pki.chain(&device, &spec);
    let certificates: Vec<String> = chain
        .certificates
        .iter()
        .map(|der| STANDARD.encode(der))
        .collect();
    let (status, body) = setup.attest(
        &nonce,
        json!({"android_key": {"certificate_chain": certificates}}),
    );
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["reason"], "nonce_mismatch");
}

#[test]
fn check_endpoint_answers_gateways() {
    let setup = AndroidSetup::start();
    let install = DeviceKeyInstall::new();
    let nonce = setup.client.challenge(&setup.server, PACKAGE);
    let (status, body) = setup.attest(
        &nonce,
        json!({"device_key": device_key_evidence(&install, &nonce, true)}),
    );
    assert_eq!(status, 200, "{body}");
    let token = body["token"].as_str().unwrap().to_owned();

    let check = |token: Option<&str>, audience: Option<&str>| {
        let mut request = setup.client.http.get(setup.server.url("/v1/check"));
        if let Some(token) = token {
            request = request.header("Avow-Token", token);
        }
        if let Some(audience) = audience {
            request = request.header("X-Avow-Audience", audience);
        }
        request.send().unwrap()
    };

    let response = check(Some(&token), Some(PACKAGE));
    assert_eq!(response.status().as_u16(), 200);
    let headers = response.headers();
    assert_eq!(headers["avow-app"], PACKAGE);
    assert_eq!(
        headers["avow-install"],
        body["install_id"].as_str().unwrap()
    );
    assert_eq!(headers["avow-trust"], "software");
    assert_eq!(headers["avow-flags"], "rooted");

    // Without an audience header, any registered app's token passes.
    assert_eq!(check(Some(&token), None).status().as_u16(), 200);

    // A token for another app, a tampered token and no token: 401 with an empty body.
    let response = check(Some(&token), Some("com.example.other"));
    assert_eq!(response.status().as_u16(), 401);
    assert_eq!(response.headers()["avow-reason"], "audience_mismatch");
    let mut tampered = token;
    tampered.insert(tampered.len() - 5, 'A');
    let response = check(Some(&tampered), None);
    assert_eq!(response.status().as_u16(), 401);
    assert!(response.text().unwrap().is_empty());
    let response = check(None, None);
    assert_eq!(response.status().as_u16(), 401);
    assert_eq!(response.headers()["avow-reason"], "missing_token");
}
