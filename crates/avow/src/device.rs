//! `avow device`: explain the decisions about an install, ban and unban it, and manage the
//! debug devices of an app.

use std::process::ExitCode;

use clap::Subcommand;
use serde_json::{Value, json};

use crate::ServerArgs;
use crate::policy::{Failure, Outcome, exit_status, format_time, segment, send, text};

/// Maximum lifetime of a debug device mark, in hours: the server accepts at most 30 days.
const MAX_DEBUG_TTL_HOURS: u64 = 30 * 24;

#[derive(Debug, Subcommand)]
pub(crate) enum DeviceCommand {
    /// Show an install and the newest decisions about it, with their reasons.
    Explain {
        #[command(flatten)]
        server: ServerArgs,
        /// The install id, as in the token's `ins` claim. It may start with `-`.
        #[arg(allow_hyphen_values = true)]
        install_id: String,
        /// How many decisions to show (1 to 1000).
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=1000))]
        limit: u32,
        /// Print the install and its decisions as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Ban an install: every later attestation and refresh of it is denied, in monitor mode too.
    Ban {
        #[command(flatten)]
        server: ServerArgs,
        /// The install id. It may start with `-`.
        #[arg(allow_hyphen_values = true)]
        install_id: String,
        /// The reason for the ban, stored with the install and in the audit log.
        #[arg(long)]
        reason: String,
    },
    /// Lift the ban of an install.
    Unban {
        #[command(flatten)]
        server: ServerArgs,
        /// The install id. It may start with `-`.
        #[arg(allow_hyphen_values = true)]
        install_id: String,
    },
    /// Mark device keys as debug devices, whose evidence rules are waived.
    #[command(subcommand)]
    Debug(DebugCommand),
}

#[derive(Debug, Subcommand)]
pub(crate) enum DebugCommand {
    /// Mark a device key as a debug device of an app, or renew its mark.
    Add {
        #[command(flatten)]
        server: ServerArgs,
        /// The app id.
        app_id: String,
        /// The device key id, base64 or base64url. It may start with `-`.
        #[arg(long, allow_hyphen_values = true)]
        key_id: String,
        /// Whose device it is or why it is marked.
        #[arg(long)]
        note: String,
        /// How long the mark lasts, in hours (1 to 720).
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..=MAX_DEBUG_TTL_HOURS))]
        ttl_hours: u64,
    },
    /// List the debug devices of an app, expired ones included.
    List {
        #[command(flatten)]
        server: ServerArgs,
        /// The app id.
        app_id: String,
        /// Print the server's JSON response.
        #[arg(long)]
        json: bool,
    },
    /// Remove a debug device mark.
    Remove {
        #[command(flatten)]
        server: ServerArgs,
        /// The app id.
        app_id: String,
        /// The device key id, base64 or base64url. It may start with `-`.
        #[arg(long, allow_hyphen_values = true)]
        key_id: String,
    },
}

pub(crate) async fn run(command: DeviceCommand) -> ExitCode {
    exit_status(match command {
        DeviceCommand::Explain {
            server,
            install_id,
            limit,
            json,
        } => explain(&server, &install_id, limit, json).await,
        DeviceCommand::Ban {
            server,
            install_id,
            reason,
        } => {
            let path = format!("/admin/v1/installs/{}/ban", segment(&install_id));
            let body = json!({ "reason": reason });
            send(&server, reqwest::Method::POST, &path, Some(body))
                .await
                .map(|_| println!("install {install_id} banned"))
        }
        DeviceCommand::Unban { server, install_id } => {
            let path = format!("/admin/v1/installs/{}/ban", segment(&install_id));
            send(&server, reqwest::Method::DELETE, &path, None)
                .await
                .map(|_| println!("install {install_id} is not banned"))
        }
        DeviceCommand::Debug(command) => debug(command).await,
    })
}

async fn explain(server: &ServerArgs, install_id: &str, limit: u32, json: bool) -> Outcome {
    let install_path = format!("/admin/v1/installs/{}", segment(install_id));
    let install = send(server, reqwest::Method::GET, &install_path, None).await?;
    let decisions_path = format!("{install_path}/decisions?limit={limit}");
    let list = send(server, reqwest::Method::GET, &decisions_path, None).await?;
    if json {
        let both = json!({ "install": install, "decisions": list["decisions"] });
        println!("{both:#}");
        return Ok(());
    }

    println!("install      {}", text(&install["id"]));
    println!("app          {}", text(&install["app_id"]));
    println!("provider     {}", text(&install["provider"]));
    println!(
        "attested     {}",
        format_time(install["attested_at"].as_i64())
    );
    println!(
        "last seen    {}",
        format_time(install["last_seen_at"].as_i64())
    );
    match install["ban"].as_object() {
        Some(ban) => println!(
            "banned       {}: {}",
            format_time(ban.get("banned_at").and_then(Value::as_i64)),
            ban.get("reason").map(text).unwrap_or_default()
        ),
        None => println!("banned       no"),
    }

    let decisions = list["decisions"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    println!();
    if decisions.is_empty() {
        println!("no decisions recorded for this install");
        return Ok(());
    }
    println!(
        "{:<20} {:<8} {:<8} {:<8} {:>6} {:<10} REASONS",
        "TIME", "KIND", "OUTCOME", "ENFORCED", "POLICY", "MARKET"
    );
    for decision in decisions {
        let reasons: Vec<String> = decision["reasons"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(text)
            .collect();
        println!(
            "{:<20} {:<8} {:<8} {:<8} {:>6} {:<10} {}",
            format_time(decision["at"].as_i64()),
            text(&decision["kind"]),
            text(&decision["outcome"]),
            text(&decision["enforced_outcome"]),
            decision["policy_version"],
            text(&decision["market"]),
            if reasons.is_empty() {
                "-".to_owned()
            } else {
                reasons.join(", ")
            }
        );
    }
    Ok(())
}

async fn debug(command: DebugCommand) -> Outcome {
    match command {
        DebugCommand::Add {
            server,
            app_id,
            key_id,
            note,
            ttl_hours,
        } => {
            let path = format!("/admin/v1/apps/{}/debug-devices", segment(&app_id));
            let body = json!({ "key_id": key_id, "note": note, "ttl_secs": ttl_hours * 3600 });
            let device = send(&server, reqwest::Method::PUT, &path, Some(body)).await?;
            println!(
                "debug device {} of {app_id} until {}",
                text(&device["key_id"]),
                format_time(device["expires_at"].as_i64())
            );
            Ok(())
        }
        DebugCommand::List {
            server,
            app_id,
            json,
        } => {
            let path = format!("/admin/v1/apps/{}/debug-devices", segment(&app_id));
            let list = send(&server, reqwest::Method::GET, &path, None).await?;
            if json {
                println!("{list:#}");
                return Ok(());
            }
            let devices = list["devices"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default();
            if devices.is_empty() {
                println!("{app_id} has no debug devices");
                return Ok(());
            }
            println!("{:<44} {:<20} {:<7} NOTE", "KEY ID", "EXPIRES", "EXPIRED");
            for device in devices {
                println!(
                    "{:<44} {:<20} {:<7} {}",
                    text(&device["key_id"]),
                    format_time(device["expires_at"].as_i64()),
                    if device["expired"] == true {
                        "yes"
                    } else {
                        "no"
                    },
                    text(&device["note"])
                );
            }
            Ok(())
        }
        DebugCommand::Remove {
            server,
            app_id,
            key_id,
        } => {
            // Standard base64 may contain `/`, so the key id travels as base64url.
            let bytes = avow_attest::encoding::decode_base64_any(&key_id).map_err(|_| {
                Failure::Usage(format!("--key-id {key_id:?} is not base64 or base64url"))
            })?;
            let encoded = avow_attest::encoding::encode_base64url(&bytes);
            let path = format!(
                "/admin/v1/apps/{}/debug-devices/{encoded}",
                segment(&app_id)
            );
            send(&server, reqwest::Method::DELETE, &path, None).await?;
            println!("debug device {encoded} of {app_id} removed");
            Ok(())
        }
    }
}
