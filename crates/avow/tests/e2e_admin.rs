//! End to end for the admin commands: policies, installs, debug devices, quota and the audit
//! log, driven through the `avow` CLI and the admin API of a real `avow serve` process.

mod support;

use std::path::Path;
use std::process::Command;

use avow_testgen::device_key::{DeviceKeyInstall, measurement_json};
use avow_testgen::play_integrity::default_certificate_digest;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use support::{Client, Run, ServerProcess, avow_cli, register_app};

const PACKAGE: &str = "com.example.bank";
const IOS_APP: &str = "ABCDE12345.com.example.bank";

const SERVER_CONFIG: &str =
    "listen = \"127.0.0.1:0\"\ndata_dir = \"data\"\nissuer = \"avow-e2e\"\n";

/// The first policy: the retail rules, recorded but not enforced.
const POLICY_V1: &str = "preset = \"retail\"\nmode = \"monitor\"\n";
/// The second policy: the same with hardware-backed evidence required.
const POLICY_V2: &str =
    "preset = \"retail\"\nmode = \"monitor\"\n\n[rules]\nmin_trust = \"hardware\"\n";
/// Two invalid values, each of which the server must name by its key.
const POLICY_INVALID: &str = "mode = \"strict\"\n\n[rules]\ntoken_lifetime_secs = 0\n";

fn cli(server: &ServerProcess, args: &[&str]) -> Run {
    Run::from_output(avow_cli(server, args))
}

/// Runs a command that must succeed and returns its output.
fn cli_ok(server: &ServerProcess, args: &[&str]) -> Run {
    let run = cli(server, args);
    run.assert_code(args, 0);
    run
}

/// Runs the CLI with no server and no admin key in its environment.
fn offline(args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_avow"))
        .args(args)
        .env_remove("AVOW_SERVER")
        .env_remove("AVOW_ADMIN_KEY")
        .output()
        .unwrap();
    Run::from_output(output)
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn register_android_app(server: &ServerProcess) {
    let digest = hex::encode(default_certificate_digest());
    cli_ok(
        server,
        &[
            "app",
            "add",
            "--platform",
            "android",
            "--package-name",
            PACKAGE,
            "--certificate-digest",
            &digest,
        ],
    );
}

/// Attests a simulated device with Avow's device key and returns its install id and key id.
fn attest_device(
    server: &ServerProcess,
    client: &Client,
    install: &DeviceKeyInstall,
) -> (String, String) {
    let nonce = client.challenge(server, PACKAGE);
    let measurement = measurement_json(
        PACKAGE,
        Some(&default_certificate_digest()),
        "com.android.vending",
        false,
    );
    let evidence = json!({"device_key": {
        "public_key": STANDARD.encode(install.public_key_spki()),
        "measurement": STANDARD.encode(&measurement),
        "signature": STANDARD.encode(install.sign_registration(&nonce, &measurement)),
    }});
    let (status, body) = client.post(
        &server.url("/v1/attest"),
        &json!({"app_id": PACKAGE, "nonce": URL_SAFE_NO_PAD.encode(&nonce), "evidence": evidence}),
    );
    assert_eq!(status, 200, "{body}");
    (
        body["install_id"].as_str().unwrap().to_owned(),
        body["key_id"].as_str().unwrap().to_owned(),
    )
}

/// Asks for a refresh with the device key and returns the HTTP status.
fn refresh_device(
    server: &ServerProcess,
    client: &Client,
    install: &DeviceKeyInstall,
    key_id: &str,
) -> u16 {
    let nonce = client.challenge(server, PACKAGE);
    let (status, _) = client.post(
        &server.url("/v1/refresh"),
        &json!({
            "app_id": PACKAGE,
            "nonce": URL_SAFE_NO_PAD.encode(&nonce),
            "proof": {"key_signature": {
                "key_id": key_id,
                "signature": STANDARD.encode(install.sign_refresh(&nonce)),
            }},
        }),
    );
    status
}

fn admin_request(
    server: &ServerProcess,
    method: reqwest::Method,
    path: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let client = Client::new();
    let mut request = client
        .http
        .request(method, server.url(path))
        .bearer_auth(&server.admin_key);
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().unwrap();
    let status = response.status().as_u16();
    let text = response.text().unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn audit_actions(server: &ServerProcess) -> Vec<String> {
    let entries = cli_ok(server, &["audit", "--app", PACKAGE, "--json"]).json();
    entries["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["action"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn admin_commands_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path(), SERVER_CONFIG);
    let client = Client::new();
    register_android_app(&server);
    register_app(&server, IOS_APP);

    // --- An install, explained, banned and unbanned ---
    let install = DeviceKeyInstall::new();
    let (install_id, key_id) = attest_device(&server, &client, &install);

    let explained = cli_ok(&server, &["device", "explain", &install_id, "--json"]).json();
    assert_eq!(explained["install"]["id"], install_id.as_str());
    assert_eq!(explained["install"]["app_id"], PACKAGE);
    assert_eq!(explained["install"]["provider"], "avow_device_key");
    assert_eq!(explained["install"]["ban"], Value::Null);
    assert!(
        explained["install"].get("public_key").is_none(),
        "{explained}"
    );
    let decisions = explained["decisions"].as_array().unwrap();
    assert_eq!(decisions.len(), 1, "{explained}");
    assert_eq!(decisions[0]["kind"], "attest");
    assert_eq!(decisions[0]["policy_version"], 0);
    let text = cli_ok(&server, &["device", "explain", &install_id]).stdout;
    assert!(text.contains(PACKAGE), "{text}");
    assert!(text.contains("attest"), "{text}");

    cli_ok(
        &server,
        &["device", "ban", &install_id, "--reason", "resold device"],
    );
    let explained = cli_ok(&server, &["device", "explain", &install_id, "--json"]).json();
    assert_eq!(explained["install"]["ban"]["reason"], "resold device");
    // A banned install is denied even in monitor mode, and the decision lists the reason.
    refresh_device(&server, &client, &install, &key_id);
    let explained = cli_ok(&server, &["device", "explain", &install_id, "--json"]).json();
    let newest = &explained["decisions"][0];
    assert_eq!(newest["kind"], "refresh", "{explained}");
    assert_eq!(newest["enforced_outcome"], "deny", "{explained}");
    assert!(
        newest["reasons"]
            .as_array()
            .unwrap()
            .contains(&json!("install_banned")),
        "{explained}"
    );
    let text = cli_ok(&server, &["device", "explain", &install_id, "--limit", "1"]).stdout;
    assert!(text.contains("install_banned"), "{text}");
    assert!(text.contains("resold device"), "{text}");

    cli_ok(&server, &["device", "unban", &install_id]);
    let explained = cli_ok(&server, &["device", "explain", &install_id, "--json"]).json();
    assert_eq!(explained["install"]["ban"], Value::Null);
    assert_eq!(refresh_device(&server, &client, &install, &key_id), 200);

    let unknown = cli(
        &server,
        &["device", "ban", "no-such-install", "--reason", "x"],
    );
    assert_eq!(unknown.code, 1, "{}", unknown.stderr);
    assert!(
        unknown.stderr.contains("install_not_found"),
        "{}",
        unknown.stderr
    );

    // --- Debug devices ---
    // These bytes give `+` and `/` in standard base64, which the path must not see raw.
    let debug_key = [0xfb_u8, 0xff, 0xbf, 0x01, 0x02, 0x03];
    let debug_key_standard = STANDARD.encode(debug_key);
    let debug_key_url = URL_SAFE_NO_PAD.encode(debug_key);
    assert!(debug_key_standard.contains('+'));
    assert!(debug_key_standard.contains('/'));
    cli_ok(
        &server,
        &[
            "device",
            "debug",
            "add",
            PACKAGE,
            "--key-id",
            &debug_key_standard,
            "--note",
            "CI emulator",
            "--ttl-hours",
            "24",
        ],
    );
    let list = cli_ok(&server, &["device", "debug", "list", PACKAGE, "--json"]).json();
    let devices = list["devices"].as_array().unwrap();
    assert_eq!(devices.len(), 1, "{list}");
    assert_eq!(devices[0]["key_id"], debug_key_url.as_str());
    assert_eq!(devices[0]["note"], "CI emulator");
    assert_eq!(devices[0]["expired"], false);
    let lifetime =
        devices[0]["expires_at"].as_i64().unwrap() - devices[0]["created_at"].as_i64().unwrap();
    assert_eq!(lifetime, 24 * 3600);
    let text = cli_ok(&server, &["device", "debug", "list", PACKAGE]).stdout;
    assert!(text.contains(&debug_key_url), "{text}");

    let too_long = cli(
        &server,
        &[
            "device",
            "debug",
            "add",
            PACKAGE,
            "--key-id",
            "AQID",
            "--note",
            "x",
            "--ttl-hours",
            "721",
        ],
    );
    assert_eq!(too_long.code, 2, "{}", too_long.stderr);
    let bad_key = cli(
        &server,
        &[
            "device",
            "debug",
            "add",
            PACKAGE,
            "--key-id",
            "!!",
            "--note",
            "x",
            "--ttl-hours",
            "1",
        ],
    );
    assert_eq!(bad_key.code, 1, "{}", bad_key.stderr);
    assert!(
        bad_key.stderr.contains("invalid_key_id"),
        "{}",
        bad_key.stderr
    );

    cli_ok(
        &server,
        &[
            "device",
            "debug",
            "remove",
            PACKAGE,
            "--key-id",
            &debug_key_standard,
        ],
    );
    let list = cli_ok(&server, &["device", "debug", "list", PACKAGE, "--json"]).json();
    assert_eq!(list["devices"], json!([]));
    let again = cli(
        &server,
        &[
            "device",
            "debug",
            "remove",
            PACKAGE,
            "--key-id",
            &debug_key_url,
        ],
    );
    assert_eq!(again.code, 1, "{}", again.stderr);
    assert!(
        again.stderr.contains("debug_device_not_found"),
        "{}",
        again.stderr
    );

    // --- Policies ---
    let shown = cli_ok(&server, &["policy", "show", PACKAGE, "--json"]).json();
    assert_eq!(shown["version"], 0);
    assert_eq!(shown["default"], true);
    assert_eq!(shown["mode"], "monitor");
    let text = cli_ok(&server, &["policy", "show", PACKAGE]).stdout;
    assert!(text.contains("default preset"), "{text}");

    let invalid = write(dir.path(), "invalid.toml", POLICY_INVALID);
    let rejected = cli(&server, &["policy", "set", PACKAGE, &invalid]);
    assert_eq!(rejected.code, 1, "{}", rejected.stderr);
    assert!(
        rejected.stderr.contains("invalid_policy"),
        "{}",
        rejected.stderr
    );
    assert!(rejected.stderr.contains("`mode`"), "{}", rejected.stderr);
    assert!(
        rejected.stderr.contains("`rules.token_lifetime_secs`"),
        "{}",
        rejected.stderr
    );
    let (status, body) = admin_request(
        &server,
        reqwest::Method::PUT,
        &format!("/admin/v1/apps/{PACKAGE}/policy"),
        Some(&json!({"document": POLICY_INVALID})),
    );
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["reason"], "invalid_policy");
    let paths: Vec<&str> = body["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|problem| problem["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, vec!["mode", "rules.token_lifetime_secs"], "{body}");
    let missing = cli(&server, &["policy", "set", PACKAGE, "no-such-file.toml"]);
    assert_eq!(missing.code, 2, "{}", missing.stderr);

    let v1 = write(dir.path(), "v1.toml", POLICY_V1);
    let set = cli_ok(&server, &["policy", "set", PACKAGE, &v1]);
    assert!(
        set.stdout.contains("stored policy version 1"),
        "{}",
        set.stdout
    );

    let v2 = write(dir.path(), "v2.toml", POLICY_V2);
    let diff = cli_ok(&server, &["policy", "diff", PACKAGE, &v2, "--json"]).json();
    assert_eq!(diff["current_version"], 1);
    assert_eq!(
        diff["changes"],
        json!([{"path": "rules.min_trust", "old": "\"software\"", "new": "\"hardware\""}])
    );
    let text = cli_ok(&server, &["policy", "diff", PACKAGE, &v2]).stdout;
    assert!(text.contains("rules.min_trust"), "{text}");

    // The replayed decisions are the attestation and the two refreshes above. A software-trust
    // device key passes no policy that requires hardware evidence.
    let report = cli_ok(&server, &["policy", "dry-run", PACKAGE, &v2, "--json"]).json();
    assert_eq!(report["total"], 3, "{report}");
    assert_eq!(report["skipped"], 0, "{report}");
    let total = report["total"].as_u64().unwrap();
    let counted = report["unchanged"].as_u64().unwrap()
        + report["allow_to_deny"].as_u64().unwrap()
        + report["deny_to_allow"].as_u64().unwrap();
    assert_eq!(counted, total, "{report}");
    assert_eq!(report["by_reason"]["trust_too_low"], 3, "{report}");
    let text = cli_ok(
        &server,
        &["policy", "dry-run", PACKAGE, &v2, "--since-days", "1"],
    )
    .stdout;
    assert!(text.contains("replayed 3 decisions"), "{text}");

    let set = cli_ok(&server, &["policy", "set", PACKAGE, &v2, "--json"]).json();
    assert_eq!(set["version"], 2);
    assert_eq!(set["previous_version"], 1);
    assert_eq!(set["changes"][0]["path"], "rules.min_trust");

    let shown = cli_ok(&server, &["policy", "show", PACKAGE, "--json"]).json();
    assert_eq!(shown["version"], 2);
    assert_eq!(shown["default"], false);
    assert_eq!(shown["document"], POLICY_V2);
    let text = cli_ok(&server, &["policy", "show", PACKAGE]).stdout;
    assert!(text.contains("policy version 2"), "{text}");
    assert!(text.contains(POLICY_V2), "{text}");
    let expanded = cli_ok(&server, &["policy", "show", PACKAGE, "--expanded"]).stdout;
    assert!(expanded.contains("min_trust = \"hardware\""), "{expanded}");
    assert!(expanded.contains("token_lifetime_secs"), "{expanded}");

    // --- Quota ---
    let quota = cli_ok(&server, &["quota", "show", PACKAGE, "--json"]).json();
    assert_eq!(quota["quotas"].as_array().unwrap().len(), 1, "{quota}");
    assert_eq!(quota["quotas"][0]["provider"], "play_integrity");
    assert_eq!(quota["quotas"][0]["used"], 0);
    assert_eq!(quota["quotas"][0]["limit"], 10_000);
    let text = cli_ok(&server, &["quota", "show", PACKAGE]).stdout;
    assert!(text.contains("play_integrity"), "{text}");
    let quota = cli_ok(&server, &["quota", "show", IOS_APP, "--json"]).json();
    assert_eq!(quota["quotas"], json!([]));

    // --- Audit log ---
    let actions = audit_actions(&server);
    assert_eq!(
        actions,
        vec![
            "policy_set",
            "policy_set",
            "debug_device_removed",
            "debug_device_added",
            "install_unbanned",
            "install_banned",
            "app_registered",
        ]
    );
    let all = cli_ok(&server, &["audit", "--limit", "2", "--json"]).json();
    assert_eq!(all["entries"].as_array().unwrap().len(), 2);
    let text = cli_ok(&server, &["audit", "--app", PACKAGE]).stdout;
    assert!(text.contains("rules.min_trust"), "{text}");
    assert!(text.contains("resold device"), "{text}");
}

#[test]
fn admin_routes_need_admin_key_and_app() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path(), SERVER_CONFIG);

    let response = Client::new()
        .http
        .get(server.url("/admin/v1/audit"))
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);

    let unknown_app = cli(&server, &["policy", "show", "com.example.missing"]);
    assert_eq!(unknown_app.code, 1, "{}", unknown_app.stderr);
    assert!(
        unknown_app.stderr.contains("app_not_found"),
        "{}",
        unknown_app.stderr
    );

    let (status, body) = admin_request(
        &server,
        reqwest::Method::GET,
        "/admin/v1/policy/presets",
        None,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["presets"],
        json!(["finance", "monitor", "retail", "strict"])
    );
    let (status, body) = admin_request(
        &server,
        reqwest::Method::GET,
        "/admin/v1/policy/presets/strict",
        None,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["document"],
        avow_policy::preset_source("strict").unwrap()
    );
    let (status, body) = admin_request(
        &server,
        reqwest::Method::GET,
        "/admin/v1/policy/presets/bank",
        None,
    );
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["reason"], "preset_not_found");

    let (status, body) = admin_request(
        &server,
        reqwest::Method::POST,
        "/admin/v1/policy/validate",
        Some(
            &json!({"document": "preset = \"finance\"\n[markets.cn]\nmin_trust = \"software\"\n"}),
        ),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["valid"], true);
    assert_eq!(body["mode"], "enforce");
    assert_eq!(body["markets"], json!(["cn"]));

    let no_key = Run::from_output(
        Command::new(env!("CARGO_BIN_EXE_avow"))
            .args(["audit"])
            .env("AVOW_SERVER", &server.base_url)
            .env_remove("AVOW_ADMIN_KEY")
            .output()
            .unwrap(),
    );
    assert_eq!(no_key.code, 2, "{}", no_key.stderr);
    assert!(
        no_key.stderr.contains("AVOW_ADMIN_KEY"),
        "{}",
        no_key.stderr
    );
}

#[test]
fn policy_offline_commands() {
    let dir = tempfile::tempdir().unwrap();

    let valid = write(
        dir.path(),
        "valid.toml",
        "preset = \"finance\"\n\n[markets.cn]\nmin_trust = \"software\"\n",
    );
    let run = offline(&["policy", "validate", &valid]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("valid"), "{}", run.stdout);
    assert!(run.stdout.contains("markets: cn"), "{}", run.stdout);

    let invalid = write(dir.path(), "invalid.toml", POLICY_INVALID);
    let run = offline(&["policy", "validate", &invalid]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("`mode`"), "{}", run.stderr);
    assert!(
        run.stderr.contains("`rules.token_lifetime_secs`"),
        "{}",
        run.stderr
    );

    let misspelled = write(
        dir.path(),
        "misspelled.toml",
        "[rules]\nmin_trusts = \"hardware\"\n",
    );
    let run = offline(&["policy", "validate", &misspelled]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("min_trusts"), "{}", run.stderr);
    assert!(run.stderr.contains("line 2"), "{}", run.stderr);

    let run = offline(&["policy", "validate", "no-such-file.toml"]);
    assert_eq!(run.code, 2, "{}", run.stderr);

    for name in avow_policy::PRESET_NAMES {
        let run = offline(&["policy", "preset", name]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(run.stdout, avow_policy::preset_source(name).unwrap());
    }
    let run = offline(&["policy", "preset", "bank"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("finance"), "{}", run.stderr);
}
