//! `avow api`: the API domains of an app, whose live certificate chains give the pins.
//!
//! Exit status: 0 on success, 1 when the server rejects the request or cannot be reached, or
//! (`check`) when any domain is not `ok`, and 2 for a usage error or an unreadable file.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use serde_json::{Value, json};

use crate::ServerArgs;
use crate::pins::{admin, admin_unless_json, items, read_file, time_text};
use crate::policy::{Failure, Outcome, exit_status, segment, text};

/// Port of an API domain given without one.
const DEFAULT_PORT: u16 = 443;

#[derive(Debug, Subcommand)]
pub(crate) enum ApiCommand {
    /// Register an API domain of an app: the server connects to it with TLS, validates the
    /// served chain and prints the validated path with each certificate's pin.
    Add {
        #[command(flatten)]
        server: ServerArgs,
        /// The host and optional port (443 when omitted): `api.example.com`, `*.example.com`
        /// (exactly one extra label), `**.example.com` (any number of extra labels),
        /// `127.0.0.1:8443` or `[::1]:8443`.
        #[arg(value_name = "HOST[:PORT]")]
        target: String,
        /// The app id.
        #[arg(long = "app")]
        app_id: String,
        /// Connect to this address (`IP:PORT` or `HOST:PORT`) instead of resolving the host,
        /// still sending the host as the TLS server name.
        #[arg(long)]
        connect_to: Option<String>,
        /// Validate the chain against the CA certificates in this PEM file instead of the
        /// Mozilla roots.
        #[arg(long)]
        ca_bundle: Option<PathBuf>,
        /// The concrete host name to probe for a pattern such as `*.example.com` (required for
        /// patterns).
        #[arg(long)]
        probe_host: Option<String>,
        /// The certificate comes from a managed service that generates a new key on every
        /// renewal (such as AWS Certificate Manager), so the gate rejects leaf pins for it.
        #[arg(long)]
        managed: bool,
        /// Print the server's JSON response.
        #[arg(long)]
        json: bool,
    },
    /// List the API domains of an app with their latest live-check status.
    List {
        #[command(flatten)]
        server: ServerArgs,
        /// The app id.
        #[arg(long = "app")]
        app_id: String,
        /// Print the server's JSON response.
        #[arg(long)]
        json: bool,
    },
    /// Remove an API domain and its pin set. Apps keep the pins until the next publish.
    Remove {
        #[command(flatten)]
        server: ServerArgs,
        /// The host or host pattern, as registered.
        host: String,
        /// The app id.
        #[arg(long = "app")]
        app_id: String,
    },
    /// Probe every API domain of an app now and print each one's status. Exit status 1 when
    /// any domain is not `ok`.
    Check {
        #[command(flatten)]
        server: ServerArgs,
        /// The app id.
        #[arg(long = "app")]
        app_id: String,
        /// Print the server's JSON response.
        #[arg(long)]
        json: bool,
    },
}

pub(crate) async fn run(command: ApiCommand) -> ExitCode {
    exit_status(match command {
        ApiCommand::Add {
            server,
            target,
            app_id,
            connect_to,
            ca_bundle,
            probe_host,
            managed,
            json,
        } => {
            let options = AddOptions {
                connect_to,
                ca_bundle,
                probe_host,
                managed,
            };
            add(&server, &app_id, &target, options, json).await
        }
        ApiCommand::List {
            server,
            app_id,
            json,
        } => list(&server, &app_id, json).await,
        ApiCommand::Remove {
            server,
            host,
            app_id,
        } => {
            let path = format!(
                "/admin/v1/apps/{}/api-domains/{}",
                segment(&app_id),
                segment(&host)
            );
            admin(&server, reqwest::Method::DELETE, &path, None)
                .await
                .map(|_| println!("removed {host} from {app_id}; publish to drop its pins"))
        }
        ApiCommand::Check {
            server,
            app_id,
            json,
        } => check(&server, &app_id, json).await,
    })
}

/// The options of `avow api add` besides the target.
struct AddOptions {
    connect_to: Option<String>,
    ca_bundle: Option<PathBuf>,
    probe_host: Option<String>,
    managed: bool,
}

async fn add(
    server: &ServerArgs,
    app_id: &str,
    target: &str,
    options: AddOptions,
    json: bool,
) -> Outcome {
    let (host, port) = split_host_port(target).map_err(Failure::Usage)?;
    let mut body = json!({
        "host": host,
        "port": port.unwrap_or(DEFAULT_PORT),
        "managed": options.managed,
    });
    if let Some(connect_to) = options.connect_to {
        body["connect_to"] = connect_to.into();
    }
    if let Some(probe_host) = options.probe_host {
        body["probe_host"] = probe_host.into();
    }
    if let Some(file) = options.ca_bundle {
        let bytes = read_file(&file)?;
        let pem = String::from_utf8(bytes).map_err(|_| {
            Failure::Usage(format!(
                "{} is not a PEM file (it is not UTF-8 text)",
                file.display()
            ))
        })?;
        body["ca_bundle_pem"] = pem.into();
    }

    let path = format!("/admin/v1/apps/{}/api-domains", segment(app_id));
    let Some(domain) =
        admin_unless_json(server, reqwest::Method::POST, &path, Some(body), json).await?
    else {
        return Ok(());
    };
    println!("added {} to {app_id}", describe_domain(&domain));
    print_live_chain(&domain);
    print_check(&domain["check"]);
    println!(
        "next: choose the pins with `avow pins set {} --app {app_id}` (--pin or --from-live, \
         and a backup with --backup-csr, --backup-key, --backup-cert or --backup-pin)",
        text(&domain["host"])
    );
    Ok(())
}

/// Prints the status of a domain's latest live check, when there is one.
fn print_check(check: &Value) {
    let Some(status) = check["status"].as_str() else {
        return;
    };
    match check["detail"].as_str() {
        Some(detail) if !detail.is_empty() => println!("live check: {status}: {detail}"),
        _ => println!("live check: {status}"),
    }
}

/// Splits `HOST[:PORT]` into the host and the port, if any. IPv6 addresses with a port are
/// written in brackets (`[::1]:8443`); a bare IPv6 address has no port.
fn split_host_port(target: &str) -> Result<(String, Option<u16>), String> {
    let invalid_port = |port: &str| {
        format!("invalid port {port:?} in {target:?}: expected a number from 1 to 65535")
    };
    let parse_port = |port: &str| match port.parse::<u16>() {
        Ok(0) | Err(_) => Err(invalid_port(port)),
        Ok(port) => Ok(port),
    };

    if let Some(rest) = target.strip_prefix('[') {
        let Some((host, after)) = rest.split_once(']') else {
            return Err(format!("missing `]` after the IPv6 address in {target:?}"));
        };
        return match after {
            "" => Ok((host.to_owned(), None)),
            _ => match after.strip_prefix(':') {
                Some(port) => Ok((host.to_owned(), Some(parse_port(port)?))),
                None => Err(format!("unexpected {after:?} after `]` in {target:?}")),
            },
        };
    }
    if target.is_empty() {
        return Err("the host is empty".to_owned());
    }
    match target.split_once(':') {
        // More than one colon: an IPv6 address without a port.
        Some((_, rest)) if rest.contains(':') => Ok((target.to_owned(), None)),
        Some((host, port)) if !host.is_empty() => Ok((host.to_owned(), Some(parse_port(port)?))),
        Some(_) => Err(format!("the host is empty in {target:?}")),
        None => Ok((target.to_owned(), None)),
    }
}

/// Describes a domain as `host:port`, with the address it is probed at when that differs.
fn describe_domain(domain: &Value) -> String {
    let mut description = format!("{}:{}", text(&domain["host"]), text(&domain["port"]));
    if let Some(probe_host) = domain["probe_host"].as_str() {
        description.push_str(&format!(" (probed as {probe_host})"));
    }
    if let Some(connect_to) = domain["connect_to"].as_str() {
        description.push_str(&format!(" via {connect_to}"));
    }
    description
}

/// Prints the validated path of a domain's live chain, leaf first, and the served certificates
/// that are not on it.
fn print_live_chain(domain: &Value) {
    let live = match domain.get("live") {
        Some(live) if live.is_object() => live,
        _ => domain,
    };
    if let Some(error) = live["error"].as_str() {
        println!("the served chain does not validate: {error}");
    }
    let path = items(&live["path"]);
    if !path.is_empty() {
        println!("validated path, leaf first:");
        for (index, certificate) in path.iter().enumerate() {
            print_certificate(index, certificate);
        }
    }
    let served_only = items(&live["served_only"]);
    if !served_only.is_empty() {
        println!("served but not on the validated path (pinning these has no effect):");
        for (index, certificate) in served_only.iter().enumerate() {
            print_certificate(index, certificate);
        }
    }
}

fn print_certificate(index: usize, certificate: &Value) {
    println!(
        "  [{index}] {} {}",
        text(&certificate["role"]),
        text(&certificate["subject"])
    );
    let mut notes = Vec::new();
    if certificate["key_type_supported"] == false {
        notes.push("key type not supported by mobile pinning libraries");
    }
    if certificate["served"] == false {
        notes.push("not served: the trust store supplied it");
    }
    println!(
        "      key {}, not after {}{}",
        text(&certificate["key_type"]),
        time_text(&certificate["not_after"]),
        if notes.is_empty() {
            String::new()
        } else {
            format!(" ({})", notes.join("; "))
        }
    );
    println!("      pin {}", text(&certificate["pin"]));
}

async fn list(server: &ServerArgs, app_id: &str, json: bool) -> Outcome {
    let path = format!("/admin/v1/apps/{}/api-domains", segment(app_id));
    let Some(list) = admin_unless_json(server, reqwest::Method::GET, &path, None, json).await?
    else {
        return Ok(());
    };
    let domains = items(&list["domains"]);
    if domains.is_empty() {
        println!("{app_id} has no API domains; add one with `avow api add HOST --app {app_id}`");
        return Ok(());
    }
    println!(
        "{:<40} {:>5} {:<16} {:<8} {:<14} CHECKED",
        "HOST", "PORT", "TRUST STORE", "MANAGED", "STATUS"
    );
    for domain in domains {
        let check = &domain["check"];
        println!(
            "{:<40} {:>5} {:<16} {:<8} {:<14} {}",
            text(&domain["host"]),
            text(&domain["port"]),
            text(&domain["trust_store"]),
            if domain["managed"] == true {
                "yes"
            } else {
                "no"
            },
            text(&check["status"]),
            time_text(&check["checked_at"])
        );
    }
    Ok(())
}

async fn check(server: &ServerArgs, app_id: &str, json: bool) -> Outcome {
    let path = format!("/admin/v1/apps/{}/api-domains/check", segment(app_id));
    let result = admin(server, reqwest::Method::POST, &path, Some(json!({}))).await?;
    let domains = items(&result["domains"]);
    let not_ok: Vec<String> = domains
        .iter()
        .filter(|domain| domain["status"].as_str() != Some("ok"))
        .map(|domain| format!("{}: {}", text(&domain["host"]), text(&domain["status"])))
        .collect();
    if json {
        println!("{result:#}");
    } else if domains.is_empty() {
        println!("{app_id} has no API domains to check");
    } else {
        println!("{:<40} {:<14} DETAIL", "HOST", "STATUS");
        for domain in domains {
            let detail = match domain["detail"].as_str() {
                Some("") | None => "-".to_owned(),
                Some(detail) => detail.to_owned(),
            };
            println!(
                "{:<40} {:<14} {detail}",
                text(&domain["host"]),
                text(&domain["status"]),
            );
        }
    }
    if not_ok.is_empty() {
        Ok(())
    } else {
        Err(Failure::Rejected {
            message: format!("{} of {} domains are not ok", not_ok.len(), domains.len()),
            details: not_ok,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_split() {
        let ok = |target: &str| split_host_port(target).unwrap();
        assert_eq!(ok("api.example.com"), ("api.example.com".to_owned(), None));
        assert_eq!(
            ok("api.example.com:8443"),
            ("api.example.com".to_owned(), Some(8443))
        );
        assert_eq!(
            ok("*.example.com:443"),
            ("*.example.com".to_owned(), Some(443))
        );
        assert_eq!(ok("**.example.com"), ("**.example.com".to_owned(), None));
        assert_eq!(ok("127.0.0.1:8443"), ("127.0.0.1".to_owned(), Some(8443)));
        assert_eq!(ok("[::1]:8443"), ("::1".to_owned(), Some(8443)));
        assert_eq!(ok("[::1]"), ("::1".to_owned(), None));
        assert_eq!(ok("::1"), ("::1".to_owned(), None));
    }

    #[test]
    fn host_port_split_rejects_bad_ports() {
        for target in [
            "api.example.com:",
            "api.example.com:0",
            "api.example.com:70000",
        ] {
            let error = split_host_port(target).unwrap_err();
            assert!(error.contains("invalid port"), "{target}: {error}");
        }
        assert!(split_host_port("[::1]x").is_err());
        assert!(split_host_port("[::1").is_err());
        assert!(split_host_port(":443").is_err());
        assert!(split_host_port("").is_err());
    }
}
