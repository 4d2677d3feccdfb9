//! `avow policy`, `avow quota` and `avow audit`, and the admin API client that they and
//! `avow device` share.
//!
//! Client commands exit with status 0 on success, 1 when the server rejects the request or
//! cannot be reached, and 2 for a usage error or an unreadable file. `avow policy validate` and
//! `avow policy preset` work offline.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use avow_policy::Policy;
use clap::Subcommand;
use serde_json::{Value, json};

use crate::ServerArgs;

/// Exit status of a command that the server rejected, or that could not reach the server.
const EXIT_REJECTED: u8 = 1;
/// Exit status of a usage error or an unreadable file.
const EXIT_USAGE: u8 = 2;

#[derive(Debug, Subcommand)]
pub(crate) enum PolicyCommand {
    /// Show the policy in force for an app: the document as stored, or with --expanded the
    /// canonical form with every key explicit.
    Show {
        #[command(flatten)]
        server: ServerArgs,
        /// The app id.
        app_id: String,
        /// Print the expanded policy instead of the stored document.
        #[arg(long)]
        expanded: bool,
        /// Print the server's JSON response.
        #[arg(long)]
        json: bool,
    },
    /// Validate a policy file and store it as the app's next policy version.
    Set {
        #[command(flatten)]
        server: ServerArgs,
        /// The app id.
        app_id: String,
        /// The policy document (TOML).
        file: PathBuf,
        /// Print the server's JSON response.
        #[arg(long)]
        json: bool,
    },
    /// Check a policy file locally, without a server.
    Validate {
        /// The policy document (TOML).
        file: PathBuf,
    },
    /// List the keys a policy file would change in the app's current policy.
    Diff {
        #[command(flatten)]
        server: ServerArgs,
        /// The app id.
        app_id: String,
        /// The candidate policy document (TOML).
        file: PathBuf,
        /// Print the server's JSON response.
        #[arg(long)]
        json: bool,
    },
    /// Replay the app's recent decisions against a policy file and count what would change.
    DryRun {
        #[command(flatten)]
        server: ServerArgs,
        /// The app id.
        app_id: String,
        /// The candidate policy document (TOML).
        file: PathBuf,
        /// How many days of decisions to replay (1 to 365).
        #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u64).range(1..=365))]
        since_days: u64,
        /// How many of the newest decisions to replay, at most 100000 [default: 10000].
        #[arg(long)]
        limit: Option<u32>,
        /// Print the server's JSON response.
        #[arg(long)]
        json: bool,
    },
    /// Print the TOML source of a built-in preset, without a server.
    Preset {
        /// The preset.
        #[arg(value_parser = avow_policy::PRESET_NAMES)]
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum QuotaCommand {
    /// Show today's provider calls of an app against its daily limit.
    Show {
        #[command(flatten)]
        server: ServerArgs,
        /// The app id.
        app_id: String,
        /// Print the server's JSON response.
        #[arg(long)]
        json: bool,
    },
}

/// Arguments of `avow audit`.
#[derive(Debug, clap::Args)]
pub(crate) struct AuditArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// Show only the entries of this app.
    #[arg(long = "app")]
    app_id: Option<String>,
    /// How many of the newest entries to show (1 to 1000).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=1000))]
    limit: u32,
    /// Print the server's JSON response.
    #[arg(long)]
    json: bool,
}

pub(crate) async fn run_policy(command: PolicyCommand) -> ExitCode {
    exit_status(match command {
        PolicyCommand::Show {
            server,
            app_id,
            expanded,
            json,
        } => show(&server, &app_id, expanded, json).await,
        PolicyCommand::Set {
            server,
            app_id,
            file,
            json,
        } => set(&server, &app_id, &file, json).await,
        PolicyCommand::Validate { file } => validate(&file),
        PolicyCommand::Diff {
            server,
            app_id,
            file,
            json,
        } => diff(&server, &app_id, &file, json).await,
        PolicyCommand::DryRun {
            server,
            app_id,
            file,
            since_days,
            limit,
            json,
        } => dry_run(&server, &app_id, &file, since_days, limit, json).await,
        PolicyCommand::Preset { name } => preset(&name),
    })
}

pub(crate) async fn run_quota(command: QuotaCommand) -> ExitCode {
    let QuotaCommand::Show {
        server,
        app_id,
        json,
    } = command;
    exit_status(quota(&server, &app_id, json).await)
}

pub(crate) async fn run_audit(args: AuditArgs) -> ExitCode {
    exit_status(audit(&args).await)
}

// === Policy commands ===

async fn show(server: &ServerArgs, app_id: &str, expanded: bool, json: bool) -> Outcome {
    let path = format!("/admin/v1/apps/{}/policy", segment(app_id));
    let view = send(server, reqwest::Method::GET, &path, None).await?;
    if json {
        println!("{view:#}");
        return Ok(());
    }
    let version = view["version"].as_i64().unwrap_or(0);
    if view["default"] == true {
        println!(
            "# {app_id}: no stored policy; the default preset applies (version 0, mode {})",
            text(&view["mode"])
        );
    } else {
        println!(
            "# {app_id}: policy version {version}, mode {}, stored {} by {}",
            text(&view["mode"]),
            format_time(view["created_at"].as_i64()),
            text(&view["created_by"])
        );
    }
    if let Some(invalid) = view["invalid"].as_str() {
        eprintln!("warning: the stored document no longer parses: {invalid}");
    }
    let body = if expanded {
        view["expanded"].as_str().unwrap_or_default()
    } else {
        view["document"].as_str().unwrap_or_default()
    };
    print!("{body}");
    if !body.ends_with('\n') {
        println!();
    }
    Ok(())
}

async fn set(server: &ServerArgs, app_id: &str, file: &Path, json: bool) -> Outcome {
    let document = read_document(file)?;
    let path = format!("/admin/v1/apps/{}/policy", segment(app_id));
    let body = json!({ "document": document });
    let response = send(server, reqwest::Method::PUT, &path, Some(body)).await?;
    if json {
        println!("{response:#}");
        return Ok(());
    }
    println!(
        "stored policy version {} for {app_id} (mode {}), replacing version {}",
        response["version"],
        text(&response["mode"]),
        response["previous_version"]
    );
    print_changes(&response["changes"]);
    Ok(())
}

fn validate(file: &Path) -> Outcome {
    let document = read_document(file)?;
    match Policy::from_toml(&document) {
        Ok(policy) => {
            let markets: Vec<&str> = policy.markets().keys().map(String::as_str).collect();
            println!(
                "{}: valid (mode {}, default market {}, markets: {})",
                file.display(),
                policy.mode().as_str(),
                policy.default_market(),
                if markets.is_empty() {
                    "none".to_owned()
                } else {
                    markets.join(", ")
                }
            );
            Ok(())
        }
        Err(error) => {
            let details = avow_server::admin_policy::problems_of(&error)
                .iter()
                .map(|problem| describe_problem(&problem.path, &problem.message, problem.line))
                .collect();
            Err(Failure::Rejected {
                message: format!("{} is not a valid policy", file.display()),
                details,
            })
        }
    }
}

async fn diff(server: &ServerArgs, app_id: &str, file: &Path, json: bool) -> Outcome {
    let document = read_document(file)?;
    let path = format!("/admin/v1/apps/{}/policy/diff", segment(app_id));
    let body = json!({ "document": document });
    let response = send(server, reqwest::Method::POST, &path, Some(body)).await?;
    if json {
        println!("{response:#}");
        return Ok(());
    }
    println!(
        "changes to {app_id} against policy version {}:",
        response["current_version"]
    );
    print_changes(&response["changes"]);
    Ok(())
}

async fn dry_run(
    server: &ServerArgs,
    app_id: &str,
    file: &Path,
    since_days: u64,
    limit: Option<u32>,
    json: bool,
) -> Outcome {
    let document = read_document(file)?;
    let path = format!("/admin/v1/apps/{}/policy/dry-run", segment(app_id));
    let mut body = json!({ "document": document, "since_secs": since_days * 24 * 3600 });
    if let Some(limit) = limit {
        body["limit"] = limit.into();
    }
    let report = send(server, reqwest::Method::POST, &path, Some(body)).await?;
    if json {
        println!("{report:#}");
        return Ok(());
    }

    println!(
        "replayed {} decisions of {app_id} since {}",
        report["total"],
        format_time(report["since"].as_i64())
    );
    println!("  unchanged:      {}", report["unchanged"]);
    println!("  allow -> deny:  {}", report["allow_to_deny"]);
    println!("  deny -> allow:  {}", report["deny_to_allow"]);
    if report["skipped"].as_u64().unwrap_or(0) > 0 {
        println!(
            "  skipped:        {} (outage decisions and unreadable rows)",
            report["skipped"]
        );
    }
    if report["truncated"] == true {
        println!("  only the newest decisions were replayed; raise --limit to replay more");
    }

    if let Some(by_reason) = report["by_reason"].as_object()
        && !by_reason.is_empty()
    {
        println!("denials by reason under the candidate:");
        for (code, count) in by_reason {
            println!("  {code}: {count}");
        }
    }
    Ok(())
}

fn preset(name: &str) -> Outcome {
    // clap accepts only the names in PRESET_NAMES, and each of them has a source.
    let source = avow_policy::preset_source(name)
        .ok_or_else(|| Failure::Usage(format!("no preset named {name:?}")))?;
    print!("{source}");
    Ok(())
}

fn print_changes(changes: &Value) {
    let changes = changes.as_array().map(Vec::as_slice).unwrap_or_default();
    if changes.is_empty() {
        println!("  no effective change");
    }
    for change in changes {
        println!(
            "  {}: {} -> {}",
            text(&change["path"]),
            text(&change["old"]),
            text(&change["new"])
        );
    }
}

fn read_document(file: &Path) -> Result<String, Failure> {
    std::fs::read_to_string(file)
        .map_err(|error| Failure::Usage(format!("cannot read {}: {error}", file.display())))
}

fn describe_problem(path: &str, message: &str, line: Option<usize>) -> String {
    let location = match (path.is_empty(), line) {
        (true, None) => String::new(),
        (true, Some(line)) => format!("line {line}: "),
        (false, None) => format!("`{path}`: "),
        (false, Some(line)) => format!("`{path}` (line {line}): "),
    };
    format!("{location}{message}")
}

// === Quota and audit ===

async fn quota(server: &ServerArgs, app_id: &str, json: bool) -> Outcome {
    let path = format!("/admin/v1/apps/{}/quota", segment(app_id));
    let list = send(server, reqwest::Method::GET, &path, None).await?;
    if json {
        println!("{list:#}");
        return Ok(());
    }
    let quotas = list["quotas"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    if quotas.is_empty() {
        println!("{app_id} uses no provider with a daily quota");
        return Ok(());
    }
    println!(
        "{:<20} {:<10} {:>10} {:>10}",
        "PROVIDER", "DAY", "USED", "LIMIT"
    );
    for quota in quotas {
        println!(
            "{:<20} {:<10} {:>10} {:>10}",
            text(&quota["provider"]),
            text(&quota["day"]),
            quota["used"],
            quota["limit"]
        );
    }
    Ok(())
}

async fn audit(args: &AuditArgs) -> Outcome {
    let mut path = format!("/admin/v1/audit?limit={}", args.limit);
    if let Some(app_id) = &args.app_id {
        path.push_str("&app_id=");
        path.push_str(&segment(app_id));
    }
    let list = send(&args.server, reqwest::Method::GET, &path, None).await?;
    if args.json {
        println!("{list:#}");
        return Ok(());
    }
    let entries = list["entries"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    if entries.is_empty() {
        println!("the audit log has no entries");
        return Ok(());
    }
    for entry in entries {
        println!(
            "{}  {:<22} {:<16} app={} subject={}",
            format_time(entry["at"].as_i64()),
            text(&entry["action"]),
            text(&entry["actor"]),
            text(&entry["app_id"]),
            text(&entry["subject"])
        );
        if let Some(detail) = entry["detail"].as_str()
            && !detail.is_empty()
        {
            for line in detail.lines() {
                println!("    {line}");
            }
        }
    }
    Ok(())
}

// === Admin API client ===

/// The result of a client command.
pub(crate) type Outcome = Result<(), Failure>;

/// Failures of a client command. The variant decides the exit status.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The server rejected the request, could not be reached, or a document is invalid: exit
    /// status 1. `details` lists problems, such as each invalid key of a policy.
    Rejected {
        /// What failed.
        message: String,
        /// Further lines, printed indented below the message.
        details: Vec<String>,
    },
    /// A usage error or an unreadable file: exit status 2.
    Usage(String),
}

/// Prints a failure and returns the command's exit status.
pub(crate) fn exit_status(outcome: Outcome) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Rejected { message, details }) => {
            eprintln!("error: {message}");
            for line in details {
                eprintln!("  {line}");
            }
            ExitCode::from(EXIT_REJECTED)
        }
        Err(Failure::Usage(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// Sends an admin request and returns the JSON body (`null` for 204 No Content).
pub(crate) async fn send(
    server: &ServerArgs,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Result<Value, Failure> {
    let timeout = std::time::Duration::from_secs(30);
    let (status, text) = send_admin_request(server, method, path, body, timeout).await?;
    if status == reqwest::StatusCode::NO_CONTENT {
        return Ok(Value::Null);
    }
    let body: Value = serde_json::from_str(&text).map_err(|error| Failure::Rejected {
        message: format!(
            "{}{path} returned {status} without a JSON body: {error}",
            server.server.trim_end_matches('/')
        ),
        details: Vec::new(),
    })?;
    if status.is_success() {
        return Ok(body);
    }

    let details = body["problems"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|problem| {
            let line = problem["line"]
                .as_u64()
                .and_then(|line| usize::try_from(line).ok());
            describe_problem(
                problem["path"].as_str().unwrap_or_default(),
                problem["message"].as_str().unwrap_or_default(),
                line,
            )
        })
        .collect();
    Err(Failure::Rejected {
        message: format!(
            "the server rejected the request with {status}: {} ({})",
            body["message"].as_str().unwrap_or("no message"),
            body["reason"].as_str().unwrap_or("no reason")
        ),
        details,
    })
}

/// Sends one admin request with the admin key as bearer token and returns the status and the
/// body as text. `timeout` bounds the whole exchange.
pub(crate) async fn send_admin_request(
    server: &ServerArgs,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
    timeout: std::time::Duration,
) -> Result<(reqwest::StatusCode, String), Failure> {
    let Some(admin_key) = &server.admin_key else {
        return Err(Failure::Usage(
            "no admin key: set AVOW_ADMIN_KEY or pass --admin-key (the server prints one at its \
             first start; `avow admin-key create` makes another)"
                .to_owned(),
        ));
    };
    let failed = |message: String| Failure::Rejected {
        message,
        details: Vec::new(),
    };

    let url = format!("{}{path}", server.server.trim_end_matches('/'));
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(|error| failed(format!("cannot build the HTTP client: {error}")))?;
    let mut builder = client.request(method, &url).bearer_auth(admin_key);
    if let Some(body) = body {
        builder = builder.json(&body);
    }
    let response = builder
        .send()
        .await
        .map_err(|error| failed(format!("cannot reach {url}: {error}")))?;
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|error| failed(format!("cannot read the response of {url}: {error}")))?;
    Ok((status, text))
}

/// Percent-encodes one path segment or query value, keeping only RFC 3986 unreserved
/// characters as they are.
pub(crate) fn segment(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// Returns a JSON string value as text, `-` for `null` and other values as JSON.
pub(crate) fn text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    }
}

/// Formats Unix seconds as an RFC 3339 UTC time, or `-` when absent.
pub(crate) fn format_time(seconds: Option<i64>) -> String {
    seconds
        .and_then(|seconds| time::OffsetDateTime::from_unix_timestamp(seconds).ok())
        .and_then(|time| {
            time.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "-".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_keeps_unreserved_characters() {
        assert_eq!(
            segment("ABCDE12345.com.example-app_1~"),
            "ABCDE12345.com.example-app_1~"
        );
        assert_eq!(segment("a/b+c="), "a%2Fb%2Bc%3D");
        assert_eq!(segment("é"), "%C3%A9");
    }

    #[test]
    fn problem_location_named() {
        assert_eq!(describe_problem("mode", "bad", None), "`mode`: bad");
        assert_eq!(
            describe_problem("rules.x", "unknown", Some(3)),
            "`rules.x` (line 3): unknown"
        );
        assert_eq!(describe_problem("", "broken", Some(1)), "line 1: broken");
        assert_eq!(describe_problem("", "broken", None), "broken");
    }

    #[test]
    fn time_formatted_as_rfc3339() {
        assert_eq!(format_time(Some(0)), "1970-01-01T00:00:00Z");
        assert_eq!(format_time(None), "-");
    }
}
