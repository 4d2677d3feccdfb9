//! Policy scenarios against a real `avow serve`: the same devices judged by a bank's and a
//! retailer's policy, markets, monitor mode with a dry run, quota-deferred re-attestation and a
//! provider outage that keeps tokens flowing without a single 5xx.

mod support;

use std::path::Path;

use avow_testgen::device_key::{DeviceKeyInstall, measurement_json};
use avow_testgen::huawei::{SysIntegrityGenerator, SysIntegritySpec};
use avow_testgen::play_integrity::{
    PlayIntegrityIssuer, PlayIntegritySpec, default_certificate_digest,
};
use avow_testgen::safetynet::LeafName;
use avow_token::TokenVerifier;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use support::mock::MockServer;
use support::{Client, ServerProcess, avow_cli, now};

const BANK: &str = "com.example.bank";
const SHOP: &str = "com.example.shop";

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

struct Setup {
    _dir: tempfile::TempDir,
    server: ServerProcess,
    client: Client,
    play: PlayIntegrityIssuer,
    huawei: SysIntegrityGenerator,
    mock: MockServer,
}

impl Setup {
    /// Starts a server with `extra` appended to its configuration and registers the bank and
    /// the shop as Android apps sharing one set of Play Integrity keys.
    fn start(extra: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let huawei = SysIntegrityGenerator::new(LeafName::SubjectAltName);
        let huawei_root = write(dir.path(), "huawei-root.pem", &huawei.signer().root_pem());
        let mock = MockServer::start(|_| (503, "text/plain", b"unavailable".to_vec()));
        let rsa = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let rsa_der: aws_lc_rs::encoding::Pkcs8V1Der<'static> =
            aws_lc_rs::encoding::AsDer::as_der(&rsa).unwrap();
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            STANDARD.encode(rsa_der.as_ref())
        );
        let service_account = json!({
            "type": "service_account",
            "client_email": "avow-test@example.iam.gserviceaccount.com",
            "private_key_id": "test-key-1",
            "private_key": pem,
            "token_uri": format!("{}/token", mock.url()),
        });
        let service_account = write(dir.path(), "sa.json", &service_account.to_string());
        let config = format!(
            "listen = \"127.0.0.1:0\"\ndata_dir = \"data\"\nissuer = \"avow-e2e\"\n\
             {extra}\n\
             [huawei_safety_detect]\nextra_roots = [\"{huawei_root}\"]\n\
             [markets]\ntrusted_header = \"CF-IPCountry\"\n\
             [play_integrity]\nbase_url = \"{base}\"\nservice_account_file = \"{service_account}\"\n\
             timeout_ms = 1000\nmax_attempts = 2\n",
            base = mock.url()
        );
        let server = ServerProcess::start(dir.path(), &config);
        let play = PlayIntegrityIssuer::new();
        let digest = hex::encode(default_certificate_digest());
        for app in [BANK, SHOP] {
            let output = avow_cli(
                &server,
                &[
                    "app",
                    "add",
                    "--platform",
                    "android",
                    "--package-name",
                    app,
                    "--certificate-digest",
                    &digest,
                ],
            );
            assert!(
                output.status.success(),
                "{}",
                String::from_utf8_lossy(&output.stderr)
            );
            let output = avow_cli(
                &server,
                &[
                    "app",
                    "set-play-integrity-keys",
                    app,
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
        }
        Self {
            _dir: dir,
            server,
            client: Client::new(),
            play,
            huawei,
            mock,
        }
    }

    fn set_policy(&self, app: &str, document: &str) {
        let response = self
            .client
            .http
            .put(self.server.url(&format!("/admin/v1/apps/{app}/policy")))
            .bearer_auth(&self.server.admin_key)
            .json(&json!({"document": document}))
            .send()
            .unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().unwrap();
        assert_eq!(status, 200, "{body}");
    }

    fn attest(
        &self,
        app: &str,
        nonce: &[u8],
        evidence: Value,
        market: Option<&str>,
    ) -> (u16, Value) {
        let mut request = self.client.http.post(self.server.url("/v1/attest")).json(
            &json!({"app_id": app, "nonce": URL_SAFE_NO_PAD.encode(nonce), "evidence": evidence}),
        );
        if let Some(market) = market {
            request = request.header("CF-IPCountry", market);
        }
        let response = request.send().unwrap();
        let status = response.status().as_u16();
        (status, response.json().unwrap())
    }

    fn refresh(&self, app: &str, install: &DeviceKeyInstall, extra: Value) -> (u16, Value) {
        let nonce = self.client.challenge(&self.server, app);
        let mut body = json!({
            "app_id": app,
            "nonce": URL_SAFE_NO_PAD.encode(&nonce),
            "proof": {"key_signature": {
                "key_id": URL_SAFE_NO_PAD.encode(install.key_id()),
                "signature": STANDARD.encode(install.sign_refresh(&nonce)),
            }},
        });
        if let (Value::Object(body), Value::Object(extra)) = (&mut body, extra) {
            body.extend(extra);
        }
        self.client.post(&self.server.url("/v1/refresh"), &body)
    }

    /// Play Integrity (basic integrity only) next to a device key that detects root.
    fn rooted_evidence(&self, app: &str, nonce: &[u8], install: &DeviceKeyInstall) -> Value {
        let mut spec = PlayIntegritySpec::classic(app, nonce, now() * 1000);
        spec.device_labels = vec!["MEETS_BASIC_INTEGRITY".to_owned()];
        json!({
            "play_integrity": {"token": self.play.token(&spec)},
            "device_key": device_key(app, nonce, install, true),
        })
    }

    fn verifier(&self) -> TokenVerifier {
        TokenVerifier::from_jwks(&self.client.jwks(&self.server)).unwrap()
    }

    fn metrics(&self) -> String {
        self.client.metrics_text(&self.server)
    }
}

fn device_key(app: &str, nonce: &[u8], install: &DeviceKeyInstall, rooted: bool) -> Value {
    let measurement = measurement_json(
        app,
        Some(&default_certificate_digest()),
        "com.android.vending",
        rooted,
    );
    json!({
        "public_key": STANDARD.encode(install.public_key_spki()),
        "measurement": STANDARD.encode(&measurement),
        "signature": STANDARD.encode(install.sign_registration(nonce, &measurement)),
    })
}

#[test]
fn rooted_device_bank_rejects_retailer_flags() {
    let setup = Setup::start("");
    setup.set_policy(BANK, "preset = \"finance\"\n");
    setup.set_policy(SHOP, "preset = \"retail\"\n");

    // The retailer admits the rooted device and the token says so.
    let install = DeviceKeyInstall::new();
    let nonce = setup.client.challenge(&setup.server, SHOP);
    let (status, body) = setup.attest(
        SHOP,
        &nonce,
        setup.rooted_evidence(SHOP, &nonce, &install),
        None,
    );
    assert_eq!(status, 200, "{body}");
    let claims = setup
        .verifier()
        .verify(body["token"].as_str().unwrap(), now())
        .unwrap();
    assert!(
        claims.att.flg.contains(&"rooted".to_owned()),
        "{:?}",
        claims.att
    );

    // The bank answers with a decoy: a token the app accepts but no backend does.
    let install = DeviceKeyInstall::new();
    let nonce = setup.client.challenge(&setup.server, BANK);
    let (status, body) = setup.attest(
        BANK,
        &nonce,
        setup.rooted_evidence(BANK, &nonce, &install),
        None,
    );
    assert_eq!(status, 200, "{body}");
    let error = setup
        .verifier()
        .verify(body["token"].as_str().unwrap(), now())
        .unwrap_err();
    assert_eq!(error.reason(), "unknown_kid");
    assert!(
        body.get("install_id").is_none(),
        "a denied device gets no install: {body}"
    );

    // The decision is explainable: the bank recorded a denial with its reasons.
    let metrics = setup.metrics();
    assert!(
        metrics.contains(&format!("app=\"{BANK}\"")) && metrics.contains("outcome=\"deny\""),
        "{metrics}"
    );
}

#[test]
fn huawei_device_admitted_in_market_without_google() {
    let setup = Setup::start("");
    let policy = "preset = \"finance\"\n\
                  [rules]\nrejection_response = \"error\"\n\
                  [markets.cn]\n\
                  accepted_providers = [\"huawei_safety_detect\", \"avow_device_key\", \"android_key_attestation\"]\n\
                  min_trust = \"platform\"\n\
                  min_device_integrity = { android = \"basic\", ios = \"strong\" }\n";
    setup.set_policy(BANK, policy);

    let nonce = setup.client.challenge(&setup.server, BANK);
    let jws = setup.huawei.result(&SysIntegritySpec::new(
        nonce.clone(),
        now() * 1000,
        BANK,
        vec![default_certificate_digest()],
    ));
    let (status, body) = setup.attest(
        BANK,
        &nonce,
        json!({"huawei_safety_detect": {"jws": jws}}),
        Some("CN"),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["verdict"]["prv"], json!(["huawei_safety_detect"]));

    // The same device outside that market: the base rules reject it.
    let nonce = setup.client.challenge(&setup.server, BANK);
    let jws = setup.huawei.result(&SysIntegritySpec::new(
        nonce.clone(),
        now() * 1000,
        BANK,
        vec![default_certificate_digest()],
    ));
    let (status, body) = setup.attest(
        BANK,
        &nonce,
        json!({"huawei_safety_detect": {"jws": jws}}),
        None,
    );
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["reason"], "rejected_by_policy");
    // Production clients learn nothing about the rules they failed (here: the base rules ask
    // for device integrity, which Huawei's basic integrity does not meet).
    assert_eq!(body["message"], "attestation rejected");

    // A client-declared region never chooses the market.
    let nonce = setup.client.challenge(&setup.server, BANK);
    let jws = setup.huawei.result(&SysIntegritySpec::new(
        nonce.clone(),
        now() * 1000,
        BANK,
        vec![default_certificate_digest()],
    ));
    let (status, body) = setup.client.post(
        &setup.server.url("/v1/attest"),
        &json!({
            "app_id": BANK,
            "nonce": URL_SAFE_NO_PAD.encode(&nonce),
            "evidence": {"huawei_safety_detect": {"jws": jws}},
            "region": "cn",
        }),
    );
    assert_eq!(status, 403, "{body}");
}

#[test]
fn monitor_mode_counts_would_be_rejections_and_dry_run_reports() {
    let setup = Setup::start("");
    // No policy: the monitor preset applies, which never denies.
    let install = DeviceKeyInstall::new();
    let nonce = setup.client.challenge(&setup.server, SHOP);
    let (status, body) = setup.attest(
        SHOP,
        &nonce,
        setup.rooted_evidence(SHOP, &nonce, &install),
        None,
    );
    assert_eq!(status, 200, "{body}");
    let nonce = setup.client.challenge(&setup.server, SHOP);
    let token = setup
        .play
        .token(&PlayIntegritySpec::classic(SHOP, &nonce, now() * 1000));
    let evidence = json!({"play_integrity": {"token": token}});
    let (status, body) = setup.attest(SHOP, &nonce, evidence, None);
    assert_eq!(status, 200, "{body}");

    let metrics = setup.metrics();
    let would_deny: Vec<&str> = metrics
        .lines()
        .filter(|line| line.starts_with("avow_monitor_would_deny_total{") && line.contains(SHOP))
        .collect();
    assert!(!would_deny.is_empty(), "{metrics}");
    assert!(
        would_deny
            .iter()
            .any(|line| line.contains("risk_flag_denied")),
        "{would_deny:?}"
    );

    // Replaying the stored verdicts against the finance rules: the rooted device would change.
    let dir = tempfile::tempdir().unwrap();
    let candidate = write(dir.path(), "finance.toml", "preset = \"finance\"\n");
    let output = avow_cli(
        &setup.server,
        &["policy", "dry-run", SHOP, &candidate, "--json"],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["total"], 2, "{report}");
    assert_eq!(report["allow_to_deny"], 1, "{report}");
    assert_eq!(report["unchanged"], 1, "{report}");
}

#[test]
fn exhausted_quota_defers_reattestation() {
    let setup = Setup::start("[quota]\nplay_integrity_per_app_per_day = 2\n");
    setup.set_policy(
        SHOP,
        "preset = \"retail\"\n[rules]\nmax_verdict_age_secs = 2\n",
    );

    let first = DeviceKeyInstall::new();
    let nonce = setup.client.challenge(&setup.server, SHOP);
    let token = setup
        .play
        .token(&PlayIntegritySpec::classic(SHOP, &nonce, now() * 1000));
    let evidence = json!({"play_integrity": {"token": token}, "device_key": device_key(SHOP, &nonce, &first, false)});
    let (status, body) = setup.attest(SHOP, &nonce, evidence, None);
    assert_eq!(status, 200, "{body}");

    // One of two calls used: quota is not low, so an old verdict needs a new attestation.
    std::thread::sleep(std::time::Duration::from_millis(3_200));
    let (status, body) = setup.refresh(SHOP, &first, json!({}));
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["reason"], "reattestation_required");

    // A second install spends the budget; now the first install's re-attestation waits.
    let second = DeviceKeyInstall::new();
    let nonce = setup.client.challenge(&setup.server, SHOP);
    let token = setup
        .play
        .token(&PlayIntegritySpec::classic(SHOP, &nonce, now() * 1000));
    let evidence = json!({"play_integrity": {"token": token}, "device_key": device_key(SHOP, &nonce, &second, false)});
    let (status, body) = setup.attest(SHOP, &nonce, evidence, None);
    assert_eq!(status, 200, "{body}");
    let (status, body) = setup.refresh(SHOP, &first, json!({}));
    assert_eq!(status, 200, "{body}");

    let metrics = setup.metrics();
    assert!(
        metrics.contains(&format!(
            "avow_provider_quota_used{{provider=\"play_integrity\",app=\"{SHOP}\"}} 2"
        )),
        "{metrics}"
    );
}

#[test]
fn provider_outage_keeps_tokens_flowing_without_5xx() {
    let setup = Setup::start("");
    setup.set_policy(SHOP, "preset = \"retail\"\n");
    let mut statuses = Vec::new();

    // Installs attested before the outage.
    let installs: Vec<DeviceKeyInstall> = (0..3).map(|_| DeviceKeyInstall::new()).collect();
    for install in &installs {
        let nonce = setup.client.challenge(&setup.server, SHOP);
        let token = setup
            .play
            .token(&PlayIntegritySpec::classic(SHOP, &nonce, now() * 1000));
        let evidence = json!({"play_integrity": {"token": token}, "device_key": device_key(SHOP, &nonce, install, false)});
        let (status, body) = setup.attest(SHOP, &nonce, evidence, None);
        assert_eq!(status, 200, "{body}");
    }

    // Google's decode API is down for the whole test (the mock answers 503). A run of app
    // starts during the outage:
    for round in 0..4 {
        for install in &installs {
            // Known installs with fresh verdicts refresh without calling Google.
            let (status, body) = setup.refresh(SHOP, install, json!({}));
            statuses.push(status);
            assert_eq!(status, 200, "round {round}: {body}");
        }
        // A new install's standard token cannot be decoded: a 424 with a retry hint.
        let nonce = setup.client.challenge(&setup.server, SHOP);
        let fresh = DeviceKeyInstall::new();
        let evidence = json!({
            "play_integrity": {"standard_token": "opaque"},
            "device_key": device_key(SHOP, &nonce, &fresh, false),
        });
        let (status, body) = setup.attest(SHOP, &nonce, evidence, None);
        statuses.push(status);
        assert_eq!(status, 424, "round {round}: {body}");
    }

    // An app update asks for a new attestation; the app reports that Play Integrity failed,
    // and the retail policy issues a short reduced-trust token, three times a day at most.
    let mut reduced = 0;
    for attempt in 0..4 {
        let (status, body) = setup.refresh(
            SHOP,
            &installs[0],
            json!({"app_version": format!("{}", 100 + attempt),
                   "provider_error": {"provider": "play_integrity", "code": "-8"}}),
        );
        statuses.push(status);
        if status == 200 {
            assert_eq!(body["verdict"]["red"], true, "{body}");
            assert_eq!(body["verdict"]["via"], "reduced", "{body}");
            assert!(body["expires_at"].as_u64().unwrap() <= now() + 60, "{body}");
            reduced += 1;
        } else {
            assert_eq!(status, 424, "{body}");
        }
    }
    assert_eq!(reduced, 3);
    assert!(statuses.iter().all(|status| *status < 500), "{statuses:?}");
    // The server did try Google during the outage.
    assert!(!setup.mock.requests().is_empty());
}
