//! `avow pins`: the pin sets of an app's API domains, the publish gate, the signed pin document,
//! exports for apps that pin statically, the pin-signing key and the pin-failure reports.
//!
//! Exit status: 0 on success; 1 when the server rejects the request or cannot be reached, or when
//! `plan` finds a blocking problem; 2 for a usage error or an unreadable file.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use clap::Subcommand;
use serde_json::{Value, json};

use crate::ServerArgs;
use crate::policy::{
    Failure, Outcome, exit_status, format_time, segment, send_admin_request, text,
};

/// Export formats the server offers, as `GET …/pins/export?format=` names them.
/// `android-nsc` is another name of `nsc`.
const EXPORT_FORMATS: [&str; 6] = [
    "okhttp",
    "nsc",
    "android-nsc",
    "ios-plist",
    "trustkit",
    "curl",
];

/// Largest file read for a backup certificate, CSR, public key or CA bundle, in bytes.
const MAX_INPUT_FILE_BYTES: u64 = 1024 * 1024;

#[derive(Debug, Subcommand)]
pub(crate) enum PinsCommand {
    /// Store the pin set of one API domain: the pins in force, backup pins for keys not yet
    /// served, and root pins. Nothing reaches apps before `avow pins publish`.
    Set(Box<SetArgs>),
    /// Show what publishing would change against the published document and the problems that
    /// would stop it. Exit status 1 when `publish` would stop on a blocking problem.
    Plan {
        #[command(flatten)]
        server: ServerArgs,
        /// The app id.
        #[arg(long = "app")]
        app_id: String,
        /// Print the server's JSON response.
        #[arg(long)]
        json: bool,
    },
    /// Check every domain's live chain against its pin set, then sign and publish the app's
    /// next pin document.
    Publish {
        #[command(flatten)]
        server: ServerArgs,
        /// The app id.
        #[arg(long = "app")]
        app_id: String,
        /// Publish although the gate found problems; the problems and --reason go to the
        /// audit log.
        #[arg(long, requires = "reason")]
        force: bool,
        /// The reason for overriding the gate, written to the audit log (required with --force).
        #[arg(long, requires = "force")]
        reason: Option<String>,
        /// Print the server's JSON response.
        #[arg(long)]
        json: bool,
    },
    /// Show the published pin document of an app.
    Show {
        #[command(flatten)]
        server: ServerArgs,
        /// The app id.
        #[arg(long = "app")]
        app_id: String,
        /// Print the server's JSON response, with the compact signed form.
        #[arg(long)]
        json: bool,
    },
    /// Print the published pins in the configuration format of a static pinning library.
    Export {
        #[command(flatten)]
        server: ServerArgs,
        /// The app id.
        #[arg(long = "app")]
        app_id: String,
        /// The output format.
        #[arg(long, value_parser = EXPORT_FORMATS)]
        format: String,
    },
    /// Print the pin-signing public key as PEM and as a JWK, to build into apps.
    Key {
        #[command(flatten)]
        server: ServerArgs,
        /// Print the server's JSON response.
        #[arg(long)]
        json: bool,
    },
    /// Show the pin-failure reports that apps sent, aggregated by host, reason and version.
    Reports {
        #[command(flatten)]
        server: ServerArgs,
        /// The app id.
        #[arg(long = "app")]
        app_id: String,
        /// How many groups to show, the most recently reported first (1 to 1000).
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1000))]
        limit: u32,
        /// Print the server's JSON response, with the latest report of each group.
        #[arg(long)]
        json: bool,
    },
}

/// Arguments of `avow pins set`.
#[derive(Debug, clap::Args)]
pub(crate) struct SetArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// The registered host or host pattern, as given to `avow api add`.
    host: String,
    /// The app id.
    #[arg(long = "app")]
    app_id: String,
    /// A pin in force: SHA-256 of a certificate's SubjectPublicKeyInfo, standard base64 (44
    /// characters). Repeat for several.
    #[arg(long = "pin", allow_hyphen_values = true)]
    pins: Vec<String>,
    /// A backup pin for a key that the server does not serve yet. Repeat for several.
    #[arg(long = "backup-pin", allow_hyphen_values = true)]
    backup_pins: Vec<String>,
    /// A backup key given as a certificate file (PEM or DER). Repeat for several.
    #[arg(long = "backup-cert")]
    backup_certs: Vec<PathBuf>,
    /// A backup key given as a certificate signing request file (PEM or DER).
    #[arg(long = "backup-csr")]
    backup_csrs: Vec<PathBuf>,
    /// A backup key given as a public key file (PEM or DER SubjectPublicKeyInfo). Private
    /// keys are rejected and never sent.
    #[arg(long = "backup-key")]
    backup_keys: Vec<PathBuf>,
    /// A pin of a trust root (or intermediate) to pin instead of the leaf. Repeat for
    /// several.
    #[arg(long = "root-pin", allow_hyphen_values = true)]
    root_pins: Vec<String>,
    /// Add the intermediates and the root of the live validated path as pins in force.
    #[arg(long)]
    from_live: bool,
    /// Days the pins stay valid in published documents (1 to 365) [default: 60].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=365))]
    expires_in_days: Option<u32>,
    /// Mark the host as served by a managed certificate service that generates new keys on
    /// renewal (such as AWS Certificate Manager), so the gate rejects leaf pins for it.
    /// Without this flag or --not-managed the domain's mark stays as it is.
    #[arg(long)]
    managed: bool,
    /// Remove the managed mark from the host.
    #[arg(long, conflicts_with = "managed")]
    not_managed: bool,
    /// App behaviour when no pin matches: `enforce` rejects the connection, `report_only`
    /// lets it through and reports it, to try a set out first [default: enforce].
    #[arg(long, value_parser = ["enforce", "report_only"])]
    mode: Option<String>,
    /// App behaviour once the set has expired: `fail_closed` rejects connections until a new
    /// document arrives, `system_trust` falls back to the system's certificate validation and
    /// reports it [default: fail_closed].
    #[arg(long, value_parser = ["fail_closed", "system_trust"])]
    after_expiry: Option<String>,
    /// App behaviour when the validated path ends at a user-installed root, such as a
    /// TLS-inspecting proxy's: `reject` rejects the connection, `allow` lets it through and
    /// reports it [default: reject].
    #[arg(long, value_parser = ["reject", "allow"])]
    user_anchors: Option<String>,
    /// Print the server's JSON response.
    #[arg(long)]
    json: bool,
}

pub(crate) async fn run(command: PinsCommand) -> ExitCode {
    exit_status(match command {
        PinsCommand::Set(args) => {
            let SetArgs {
                server,
                host,
                app_id,
                pins,
                backup_pins,
                backup_certs,
                backup_csrs,
                backup_keys,
                root_pins,
                from_live,
                expires_in_days,
                managed,
                not_managed,
                mode,
                after_expiry,
                user_anchors,
                json,
            } = *args;
            let backups = BackupInputs {
                pins: backup_pins,
                certificates: backup_certs,
                csrs: backup_csrs,
                public_keys: backup_keys,
            };
            let request = PinSetRequest {
                pins,
                backups,
                root_pins,
                from_live,
                expires_in_days,
                managed: (managed || not_managed).then_some(managed),
                policies: [
                    ("mode", mode),
                    ("after_expiry", after_expiry),
                    ("user_anchors", user_anchors),
                ],
            };
            set(&server, &app_id, &host, request, json).await
        }
        PinsCommand::Plan {
            server,
            app_id,
            json,
        } => plan(&server, &app_id, json).await,
        PinsCommand::Publish {
            server,
            app_id,
            force,
            reason,
            json,
        } => publish(&server, &app_id, force, reason, json).await,
        PinsCommand::Show {
            server,
            app_id,
            json,
        } => show(&server, &app_id, json).await,
        PinsCommand::Export {
            server,
            app_id,
            format,
        } => export(&server, &app_id, &format).await,
        PinsCommand::Key { server, json } => key(&server, json).await,
        PinsCommand::Reports {
            server,
            app_id,
            limit,
            json,
        } => reports(&server, &app_id, limit, json).await,
    })
}

// === pins set ===

/// The operator's inputs for backup keys, before the files are read.
struct BackupInputs {
    pins: Vec<String>,
    certificates: Vec<PathBuf>,
    csrs: Vec<PathBuf>,
    public_keys: Vec<PathBuf>,
}

/// The options of `avow pins set`.
struct PinSetRequest {
    pins: Vec<String>,
    backups: BackupInputs,
    root_pins: Vec<String>,
    from_live: bool,
    expires_in_days: Option<u32>,
    managed: Option<bool>,
    /// The per-domain policies given, by their request member names.
    policies: [(&'static str, Option<String>); 3],
}

impl PinSetRequest {
    /// Reads the backup files and builds the body of `PUT …/pin-sets/{host}`.
    fn to_body(&self) -> Result<Value, Failure> {
        let mut backup = Vec::new();
        for pin in &self.backups.pins {
            backup.push(json!({ "pin": pin }));
        }
        for file in &self.backups.certificates {
            let pem = read_pem(file, "CERTIFICATE")?;
            backup.push(json!({ "certificate_pem": pem }));
        }
        for file in &self.backups.csrs {
            let pem = read_pem(file, "CERTIFICATE REQUEST")?;
            backup.push(json!({ "csr_pem": pem }));
        }
        for file in &self.backups.public_keys {
            let pem = read_pem(file, "PUBLIC KEY")?;
            backup.push(json!({ "public_key_pem": pem }));
        }

        let mut body = json!({
            "pins": self.pins,
            "backup": backup,
            "roots": self.root_pins,
        });
        if self.from_live {
            body["from_live"] = true.into();
        }
        if let Some(days) = self.expires_in_days {
            body["expires_in_days"] = days.into();
        }
        if let Some(managed) = self.managed {
            body["managed"] = managed.into();
        }
        for (name, value) in &self.policies {
            if let Some(value) = value {
                body[*name] = value.as_str().into();
            }
        }
        Ok(body)
    }
}

async fn set(
    server: &ServerArgs,
    app_id: &str,
    host: &str,
    request: PinSetRequest,
    json: bool,
) -> Outcome {
    if !request.from_live && request.pins.is_empty() && request.root_pins.is_empty() {
        return Err(Failure::Usage(
            "no pins in force: pass --pin or --root-pin, or --from-live to take them from the \
             live chain"
                .to_owned(),
        ));
    }
    let body = request.to_body()?;
    let path = format!(
        "/admin/v1/apps/{}/pin-sets/{}",
        segment(app_id),
        segment(host)
    );
    let Some(set) =
        admin_unless_json(server, reqwest::Method::PUT, &path, Some(body), json).await?
    else {
        return Ok(());
    };
    println!("stored the pin set of {host} for {app_id}; publish it with `avow pins publish`");
    print_pin_set(&set);
    Ok(())
}

/// Prints a stored pin set: each pin with its role and what is known of its key, then the
/// set's expiry and policies.
fn print_pin_set(set: &Value) {
    for entry in items(&set["pins"]) {
        println!(
            "  {:<8} {}{}",
            role_name(entry),
            text(&entry["pin"]),
            describe_key(entry)
        );
    }
    println!(
        "  expires {}; mode {}, after expiry {}, user anchors {}",
        time_text(&set["expires_at"]),
        text(&set["mode"]),
        text(&set["after_expiry"]),
        text(&set["user_anchors"])
    );
}

/// Returns the role of a pin entry: `current`, `backup`, `root` or `previous`. The server
/// sends it as a string, or as an object with `role` (and `until`).
fn role_name(entry: &Value) -> String {
    match &entry["role"] {
        Value::Object(inner) => inner.get("role").map(text).unwrap_or_default(),
        other => text(other),
    }
}

/// Returns the end of a previous pin's grace period, when the entry has one.
fn grace_end(entry: &Value) -> Option<&Value> {
    entry
        .get("until")
        .or_else(|| entry["role"].get("until"))
        .filter(|until| !until.is_null())
}

/// Returns the role of a pin entry with the end of its grace period, if any.
fn role_text(entry: &Value) -> String {
    let role = role_name(entry);
    match grace_end(entry) {
        Some(until) => format!("{role} until {}", time_text(until)),
        None => role,
    }
}

/// Describes a pin from the server's details (end of grace, subject or source note, level,
/// key type, end of validity), in brackets, or returns an empty string.
fn describe_key(entry: &Value) -> String {
    let mut parts = Vec::new();
    if let Some(until) = grace_end(entry) {
        parts.push(format!("kept until {}", time_text(until)));
    }
    if let Some(note) = entry["note"].as_str().filter(|note| !note.is_empty()) {
        parts.push(note.to_owned());
    }
    if let Some(level) = entry["level"].as_str() {
        parts.push(format!("{level} key"));
    }
    if let Some(key_type) = entry["key_type"].as_str() {
        parts.push(key_type.to_owned());
    }
    if !entry["not_after"].is_null() {
        parts.push(format!("not after {}", time_text(&entry["not_after"])));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("  ({})", parts.join(", "))
    }
}

/// Reads a certificate, CSR or public key file as PEM. A DER file is wrapped in a PEM block
/// with `label`. A file that contains a private key is rejected, so that it is never sent.
fn read_pem(file: &Path, label: &str) -> Result<String, Failure> {
    let bytes = read_file(file)?;
    if let Ok(text) = std::str::from_utf8(&bytes)
        && text.contains("-----BEGIN ")
    {
        if text.contains("PRIVATE KEY-----") {
            return Err(Failure::Usage(format!(
                "{} contains a private key; pass the public key instead (for example \
                 `openssl pkey -in KEY -pubout`), or a CSR or certificate for it",
                file.display()
            )));
        }
        return Ok(text.to_owned());
    }
    Ok(der_to_pem(&bytes, label))
}

/// Wraps DER bytes in a PEM block with lines of 64 characters.
fn der_to_pem(der: &[u8], label: &str) -> String {
    let encoded = STANDARD.encode(der);
    let mut pem = format!("-----BEGIN {label}-----\n");
    // Base64 output is ASCII, so every 64-byte chunk is valid UTF-8.
    for line in encoded.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str(&format!("-----END {label}-----\n"));
    pem
}

/// Reads a file of at most [`MAX_INPUT_FILE_BYTES`].
pub(crate) fn read_file(file: &Path) -> Result<Vec<u8>, Failure> {
    let unreadable =
        |error: std::io::Error| Failure::Usage(format!("cannot read {}: {error}", file.display()));
    let size = std::fs::metadata(file).map_err(unreadable)?.len();
    if size > MAX_INPUT_FILE_BYTES {
        return Err(Failure::Usage(format!(
            "{} is {size} bytes, more than the {MAX_INPUT_FILE_BYTES} bytes accepted",
            file.display()
        )));
    }
    std::fs::read(file).map_err(unreadable)
}

// === pins plan and publish ===

async fn plan(server: &ServerArgs, app_id: &str, json: bool) -> Outcome {
    let path = format!("/admin/v1/apps/{}/pins/plan", segment(app_id));
    let plan = admin(server, reqwest::Method::POST, &path, Some(json!({}))).await?;
    let publish_blocked = match plan["publishable"].as_bool() {
        Some(publishable) => !publishable,
        None => blocking_problems(&plan["problems"]) > 0,
    };
    if json {
        println!("{plan:#}");
    } else {
        print_plan(app_id, &plan);
    }
    if publish_blocked {
        return Err(Failure::Rejected {
            message: format!(
                "`avow pins publish --app {app_id}` would stop: fix the blocking problems, or \
                 publish with --force --reason"
            ),
            details: Vec::new(),
        });
    }
    Ok(())
}

fn print_plan(app_id: &str, plan: &Value) {
    let next = text(&plan["next_version"]);
    match plan["current_version"].as_u64() {
        Some(version) => println!("plan for {app_id}: version {version} -> {next}"),
        None => println!("plan for {app_id}: first version {next}"),
    }
    let diff = &plan["diff"];
    let hosts = items(&diff["hosts"]["hosts"]);
    if diff["unchanged"] == true || hosts.is_empty() {
        println!("  no change to the pins");
    } else {
        for host in hosts {
            print_host_change(host);
        }
    }

    let problems = items(&plan["problems"]);
    if problems.is_empty() {
        println!("gate: no problems");
    } else {
        println!("gate:");
        for problem in problems {
            println!("  {}", describe_gate_problem(problem));
        }
    }
}

/// Prints one host's change: `+` added pins, `-` removed pins, `=` kept pins, `~` role
/// changes, and a changed expiry.
fn print_host_change(host: &Value) {
    let kind = text(&host["kind"]);
    println!("  {} ({kind})", text(&host["host"]));
    if kind == "unchanged" {
        return;
    }
    for entry in items(&host["pins_added"]) {
        println!("    + {} {}", text(&entry["pin"]), role_text(entry));
    }
    for entry in items(&host["pins_removed"]) {
        println!("    - {} {}", text(&entry["pin"]), role_text(entry));
    }
    let changes = items(&host["roles_changed"]);
    for pin in items(&host["pins_kept"]) {
        if !changes.iter().any(|change| &change["pin"] == pin) {
            println!("    = {}", text(pin));
        }
    }
    for change in changes {
        let from = json!({ "role": change["from"] });
        let to = json!({ "role": change["to"] });
        println!(
            "    ~ {} {} -> {}",
            text(&change["pin"]),
            role_text(&from),
            role_text(&to)
        );
    }
    if let [from, to] = items(&host["expiry_changed"]) {
        println!("    expiry {} -> {}", time_text(from), time_text(to));
    }
}

async fn publish(
    server: &ServerArgs,
    app_id: &str,
    force: bool,
    reason: Option<String>,
    json: bool,
) -> Outcome {
    let path = format!("/admin/v1/apps/{}/pins/publish", segment(app_id));
    let mut body = json!({ "force": force });
    if let Some(reason) = reason {
        body["reason"] = reason.into();
    }
    let Some(published) =
        admin_unless_json(server, reqwest::Method::POST, &path, Some(body), json).await?
    else {
        return Ok(());
    };
    let document = document_payload(&published);
    println!(
        "published pin document version {} for {app_id}, valid until {}",
        text(&document["ver"]),
        time_text(&document["exp"])
    );
    let problems = items(&published["problems"]);
    if !problems.is_empty() {
        if published["forced"] == true {
            println!("published over these problems (recorded in the audit log):");
        } else {
            println!("the gate found:");
        }
        for problem in problems {
            println!("  {}", describe_gate_problem(problem));
        }
    }
    Ok(())
}

/// Counts the problems that stop a publish: all but warnings.
fn blocking_problems(problems: &Value) -> usize {
    items(problems)
        .iter()
        .filter(|problem| problem["severity"].as_str() != Some("warning"))
        .count()
}

/// Formats a gate problem as `host: severity: reason: message`.
fn describe_gate_problem(problem: &Value) -> String {
    let mut line = String::new();
    if let Some(host) = problem["host"].as_str() {
        line.push_str(host);
        line.push_str(": ");
    }
    if let Some(severity) = problem["severity"].as_str() {
        line.push_str(severity);
        line.push_str(": ");
    }
    line.push_str(&text(&problem["reason"]));
    if let Some(message) = problem["message"].as_str() {
        line.push_str(": ");
        line.push_str(message);
    }
    line
}

// === pins show, export, key, reports ===

async fn show(server: &ServerArgs, app_id: &str, json: bool) -> Outcome {
    let path = format!("/admin/v1/apps/{}/pins", segment(app_id));
    let Some(view) = admin_unless_json(server, reqwest::Method::GET, &path, None, json).await?
    else {
        return Ok(());
    };
    let document = document_payload(&view);
    println!(
        "pin document of {app_id}: version {}, signed {}, expires {}",
        text(&document["ver"]),
        time_text(&document["iat"]),
        time_text(&document["exp"])
    );
    if view["forced"] == true {
        println!("published with --force (see `avow audit --app {app_id}`)");
    }
    for domain in items(&document["domains"]) {
        let host = &domain["host"];
        println!(
            "{}  expires {}; mode {}, after expiry {}, user anchors {}",
            text(host),
            time_text(&domain["exp"]),
            text(&domain["mode"]),
            text(&domain["after_expiry"]),
            text(&domain["user_anchors"])
        );
        // The pin sets the document was built from give each pin's role.
        let set = items(&view["pin_sets"])
            .iter()
            .find(|set| &set["host"] == host);
        for pin in items(&domain["pins"]) {
            let entry = set.and_then(|set| {
                items(&set["pins"])
                    .iter()
                    .find(|entry| &entry["pin"] == pin)
            });
            match entry {
                Some(entry) => println!(
                    "  {:<8} {}{}",
                    role_name(entry),
                    text(pin),
                    describe_key(entry)
                ),
                None => println!("  {}", text(pin)),
            }
        }
    }
    Ok(())
}

async fn export(server: &ServerArgs, app_id: &str, format: &str) -> Outcome {
    let path = format!(
        "/admin/v1/apps/{}/pins/export?format={}",
        segment(app_id),
        segment(format)
    );
    let exported = admin_text(server, &path).await?;
    print!("{exported}");
    if !exported.ends_with('\n') {
        println!();
    }
    Ok(())
}

async fn key(server: &ServerArgs, json: bool) -> Outcome {
    let Some(key) = admin_unless_json(
        server,
        reqwest::Method::GET,
        "/admin/v1/pins/key",
        None,
        json,
    )
    .await?
    else {
        return Ok(());
    };
    let pem = key["pem"].as_str().unwrap_or_default();
    print!("{pem}");
    if !pem.ends_with('\n') {
        println!();
    }
    println!("{}", key["jwk"]);
    let others = items(&key["keys"]).len().saturating_sub(1);
    if others > 0 {
        eprintln!(
            "note: the server also verifies with {others} older key(s); `--json` lists them all"
        );
    }
    Ok(())
}

async fn reports(server: &ServerArgs, app_id: &str, limit: u32, json: bool) -> Outcome {
    let path = format!(
        "/admin/v1/apps/{}/pin-reports?limit={limit}",
        segment(app_id)
    );
    let Some(list) = admin_unless_json(server, reqwest::Method::GET, &path, None, json).await?
    else {
        return Ok(());
    };
    let reports = items(&list["reports"]);
    if reports.is_empty() {
        println!("no pin-failure reports for {app_id}");
        return Ok(());
    }
    println!(
        "{:<32} {:<24} {:>8} {:<12} {:>6} {:<20} {:<20}",
        "HOST", "REASON", "DOCUMENT", "APP VERSION", "COUNT", "FIRST SEEN", "LAST SEEN"
    );
    for report in reports {
        println!(
            "{:<32} {:<24} {:>8} {:<12} {:>6} {:<20} {:<20}",
            text(&report["host"]),
            text(&report["reason"]),
            text(&report["document_version"]),
            text(&report["app_version"]),
            text(&report["count"]),
            time_text(&report["first_seen"]),
            time_text(&report["last_seen"])
        );
    }
    Ok(())
}

/// Returns the decoded payload of a pin document view, which the server sends either as
/// `document` beside the compact form or as the view itself.
fn document_payload(view: &Value) -> &Value {
    match view.get("document") {
        Some(document) if document.is_object() => document,
        _ => view,
    }
}

// === Admin API client ===

/// Sends an admin request and returns its JSON body (`null` for 204 No Content). A rejection
/// carries the server's message and reason code, with each gate problem as a detail line.
pub(crate) async fn admin(
    server: &ServerArgs,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Result<Value, Failure> {
    let (status, text) = call(server, method, path, body).await?;
    if status == reqwest::StatusCode::NO_CONTENT {
        return Ok(Value::Null);
    }
    let parsed: Result<Value, _> = serde_json::from_str(&text);
    match parsed {
        Ok(body) if status.is_success() => Ok(body),
        Ok(body) => Err(rejection(status, &body)),
        Err(error) => Err(Failure::Rejected {
            message: format!("the server returned {status} without a JSON body: {error}"),
            details: Vec::new(),
        }),
    }
}

/// Sends an admin request like [`admin`]. With `json` set, it prints the response body as
/// pretty JSON and returns `None`, so the caller prints nothing else.
pub(crate) async fn admin_unless_json(
    server: &ServerArgs,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
    json: bool,
) -> Result<Option<Value>, Failure> {
    let response = admin(server, method, path, body).await?;
    if json {
        println!("{response:#}");
        return Ok(None);
    }
    Ok(Some(response))
}

/// Sends an admin GET request whose successful response is text, such as an export.
async fn admin_text(server: &ServerArgs, path: &str) -> Result<String, Failure> {
    let (status, text) = call(server, reqwest::Method::GET, path, None).await?;
    if status.is_success() {
        return Ok(text);
    }
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Err(rejection(status, &body))
}

/// Sends one admin request and returns the status and the body as text.
async fn call(
    server: &ServerArgs,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Result<(reqwest::StatusCode, String), Failure> {
    // `api check` and `pins publish` probe every domain first, each probe bounded by the
    // server's `pinning.probe_timeout_ms`, so these requests take longer than most.
    let timeout = std::time::Duration::from_secs(300);
    send_admin_request(server, method, path, body, timeout).await
}

/// Turns a 4xx or 5xx response into a failure that names the server's message and reason,
/// with one detail line per gate problem.
fn rejection(status: reqwest::StatusCode, body: &Value) -> Failure {
    let reason = body["reason"].as_str().unwrap_or("no reason");
    let message = body["message"].as_str().unwrap_or("no message");
    let mut details: Vec<String> = items(&body["problems"])
        .iter()
        .map(describe_gate_problem)
        .collect();
    let message = if reason == "publish_gate_failed" {
        details.push(
            "to publish anyway, run again with --force --reason TEXT; the problems and the \
             reason go to the audit log"
                .to_owned(),
        );
        format!("publishing was rejected: {message} ({reason})")
    } else {
        format!("the server rejected the request with {status}: {message} ({reason})")
    };
    Failure::Rejected { message, details }
}

/// Returns the elements of a JSON array, or none for any other value.
pub(crate) fn items(value: &Value) -> &[Value] {
    value.as_array().map(Vec::as_slice).unwrap_or_default()
}

/// Formats a time given as Unix seconds or as text.
pub(crate) fn time_text(value: &Value) -> String {
    match value {
        Value::Number(_) => format_time(value.as_i64()),
        other => text(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_wrapped_in_pem_lines() {
        let pem = der_to_pem(&[0u8; 60], "PUBLIC KEY");
        let lines: Vec<&str> = pem.lines().collect();
        assert_eq!(lines[0], "-----BEGIN PUBLIC KEY-----");
        assert_eq!(lines[1].len(), 64);
        assert_eq!(lines[2], "AAAAAAAAAAAAAAAA");
        assert_eq!(lines[3], "-----END PUBLIC KEY-----");
    }

    #[test]
    fn private_key_file_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("key.pem");
        std::fs::write(
            &file,
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        let Err(Failure::Usage(message)) = read_pem(&file, "PUBLIC KEY") else {
            panic!("a private key file was accepted");
        };
        assert!(message.contains("private key"), "{message}");
    }

    #[test]
    fn gate_problem_names_host_and_reason() {
        let problem = json!({
            "host": "api.example.com",
            "reason": "no_backup_pin",
            "message": "the set has no backup pin",
        });
        assert_eq!(
            describe_gate_problem(&problem),
            "api.example.com: no_backup_pin: the set has no backup pin"
        );
        let blocking = json!({
            "host": "api.example.com",
            "reason": "no_pin_on_path",
            "severity": "blocking",
            "message": "no pin is on the live path",
        });
        assert_eq!(
            describe_gate_problem(&blocking),
            "api.example.com: blocking: no_pin_on_path: no pin is on the live path"
        );
        let warning =
            json!({"reason": "single_intermediate_of_randomizing_ca", "severity": "warning"});
        assert_eq!(
            describe_gate_problem(&warning),
            "warning: single_intermediate_of_randomizing_ca"
        );
    }

    #[test]
    fn role_text_reads_both_shapes() {
        assert_eq!(role_text(&json!({"pin": "x", "role": "backup"})), "backup");
        assert_eq!(
            role_text(&json!({"pin": "x", "role": "previous", "until": 0})),
            "previous until 1970-01-01T00:00:00Z"
        );
        assert_eq!(
            role_text(&json!({"role": {"role": "previous", "until": 0}})),
            "previous until 1970-01-01T00:00:00Z"
        );
    }

    #[test]
    fn warnings_do_not_block_publish() {
        let problems = json!([
            {"reason": "single_intermediate_of_randomizing_ca", "severity": "warning"},
            {"reason": "no_backup_pin", "severity": "error"},
        ]);
        assert_eq!(blocking_problems(&problems), 1);
        assert_eq!(blocking_problems(&Value::Null), 0);
    }
}
