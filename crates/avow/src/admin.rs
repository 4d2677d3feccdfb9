//! `avow admin-key` and `avow app`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use serde_json::Value;

use crate::ServerArgs;
use crate::policy::{Failure, send_admin_request};

#[derive(Debug, Subcommand)]
pub(crate) enum AdminKeyCommand {
    /// Create an admin API key in the server's database and print it once.
    Create {
        /// The server's TOML configuration file, to find its database.
        #[arg(long, env = "AVOW_CONFIG")]
        config: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum AppCommand {
    /// Register an app: an iOS app by team and bundle id, an Android app by package name.
    Add {
        #[command(flatten)]
        server: ServerArgs,
        /// Platform of the app.
        #[arg(long, value_parser = ["ios", "android"])]
        platform: String,
        /// iOS: Apple developer team id (10 characters).
        #[arg(long, required_if_eq("platform", "ios"))]
        team_id: Option<String>,
        /// iOS: bundle identifier.
        #[arg(long, required_if_eq("platform", "ios"))]
        bundle_id: Option<String>,
        /// iOS: App Attest environment the app's keys come from [default: production].
        #[arg(long, value_parser = ["production", "development"])]
        environment: Option<String>,
        /// Android: package name, which becomes the app id.
        #[arg(long, required_if_eq("platform", "android"))]
        package_name: Option<String>,
        /// SHA-256 digest of an app signing certificate, hex (colons allowed) or base64; repeat
        /// for several.
        #[arg(long = "certificate-digest")]
        certificate_digests: Vec<String>,
        /// Android: lowest version code accepted.
        #[arg(long)]
        min_version_code: Option<i64>,
        /// Print the server's JSON response.
        #[arg(long)]
        json: bool,
    },
    /// Register or replace an Android app's Play Integrity response encryption keys, from the
    /// Play Console (App integrity, Response encryption).
    SetPlayIntegrityKeys {
        #[command(flatten)]
        server: ServerArgs,
        /// The app id (package name).
        app_id: String,
        /// The base64 decryption key.
        #[arg(long)]
        decryption_key: String,
        /// The base64 verification key.
        #[arg(long)]
        verification_key: String,
    },
    /// Read a device's two Apple DeviceCheck bits, or set them with --bit0 and --bit1.
    DeviceCheckBits {
        #[command(flatten)]
        server: ServerArgs,
        /// The app id (TEAMID.bundle.id).
        app_id: String,
        /// The device token the app sent, base64.
        #[arg(long)]
        device_token: String,
        /// New value of the first bit (requires --bit1).
        #[arg(long, requires = "bit1")]
        bit0: Option<bool>,
        /// New value of the second bit (requires --bit0).
        #[arg(long, requires = "bit0")]
        bit1: Option<bool>,
    },
    /// List registered apps.
    List {
        #[command(flatten)]
        server: ServerArgs,
        /// Print the server's JSON response.
        #[arg(long)]
        json: bool,
    },
}

pub(crate) async fn run_admin_key(command: AdminKeyCommand) -> ExitCode {
    let AdminKeyCommand::Create { config } = command;
    let config = match avow_server::Config::load(config.as_deref(), |name| std::env::var(name).ok())
    {
        Ok(config) => config,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    let database = config.database_url();
    let store = match avow_server::open_store(&database).await {
        Ok(store) => store,
        Err(error) => {
            // A PostgreSQL URL can hold a password, so only SQLite locations are printed.
            let location = match &database {
                avow_server::config::DatabaseUrl::SqliteFile(path) => path.display().to_string(),
                avow_server::config::DatabaseUrl::Sqlite(url) => url.clone(),
                avow_server::config::DatabaseUrl::Postgres(_) => "PostgreSQL".to_owned(),
            };
            let mut message = error.to_string();
            let mut source = std::error::Error::source(&error);
            while let Some(cause) = source {
                // Some errors repeat their source's text in their own; print it once.
                let text = cause.to_string();
                if !message.contains(&text) {
                    message.push_str(&format!(": {text}"));
                }
                source = cause.source();
            }
            eprintln!(
                "error: cannot open the database {location}: {message}\n\
                 hint: run this in the folder where `avow serve` runs, or pass the server's \
                 --config file, or set AVOW_DATA_DIR or AVOW_DATABASE"
            );
            return ExitCode::FAILURE;
        }
    };
    match avow_server::admin::create_admin_key(store.as_ref(), avow_server::unix_now()).await {
        Ok(key) => {
            println!("{}", key.as_str());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: cannot store the admin key: {error}");
            ExitCode::FAILURE
        }
    }
}

pub(crate) async fn run_app(command: AppCommand) -> ExitCode {
    let result = match command {
        AppCommand::Add {
            server,
            platform,
            team_id,
            bundle_id,
            environment,
            package_name,
            certificate_digests,
            min_version_code,
            json,
        } => {
            let mut body = serde_json::json!({
                "platform": platform,
                "certificate_digests": certificate_digests,
            });
            let optional = [
                ("team_id", team_id.map(Value::from)),
                ("bundle_id", bundle_id.map(Value::from)),
                ("environment", environment.map(Value::from)),
                ("package_name", package_name.map(Value::from)),
                ("min_version_code", min_version_code.map(Value::from)),
            ];
            for (name, value) in optional {
                if let Some(value) = value {
                    body[name] = value;
                }
            }
            request(&server, reqwest::Method::POST, "/admin/v1/apps", Some(body))
                .await
                .map(|app| {
                    if json {
                        println!("{app:#}");
                    } else {
                        println!("registered app {}", app["id"].as_str().unwrap_or("?"));
                        print_app_header();
                        print_app(&app);
                    }
                })
        }
        AppCommand::SetPlayIntegrityKeys {
            server,
            app_id,
            decryption_key,
            verification_key,
        } => {
            let body = serde_json::json!({
                "decryption_key": decryption_key,
                "verification_key": verification_key,
            });
            let path = format!("/admin/v1/apps/{app_id}/play-integrity-keys");
            request(&server, reqwest::Method::PUT, &path, Some(body))
                .await
                .map(|_| println!("Play Integrity keys registered for {app_id}"))
        }
        AppCommand::DeviceCheckBits {
            server,
            app_id,
            device_token,
            bit0,
            bit1,
        } => {
            let mut body = serde_json::json!({ "device_token": device_token });
            if let (Some(bit0), Some(bit1)) = (bit0, bit1) {
                body["bit0"] = bit0.into();
                body["bit1"] = bit1.into();
            }
            let path = format!("/admin/v1/apps/{app_id}/device-check/two-bits");
            request(&server, reqwest::Method::POST, &path, Some(body))
                .await
                .map(|bits| println!("{bits:#}"))
        }
        AppCommand::List { server, json } => {
            request(&server, reqwest::Method::GET, "/admin/v1/apps", None)
                .await
                .map(|list| {
                    if json {
                        println!("{list:#}");
                        return;
                    }
                    let apps = list["apps"].as_array().cloned().unwrap_or_default();
                    if apps.is_empty() {
                        println!("no apps registered; add one with `avow app add`");
                        return;
                    }
                    print_app_header();
                    apps.iter().for_each(print_app);
                })
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn print_app_header() {
    println!("{:<48} {:<8} {:<12}", "APP ID", "PLATFORM", "ENVIRONMENT");
}

fn print_app(app: &Value) {
    println!(
        "{:<48} {:<8} {:<12}",
        app["id"].as_str().unwrap_or("?"),
        app["platform"].as_str().unwrap_or("?"),
        app["environment"].as_str().unwrap_or("?")
    );
}

/// Sends an admin request and returns the JSON body, or a message naming the failure.
async fn request(
    server: &ServerArgs,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Result<Value, String> {
    let timeout = std::time::Duration::from_secs(30);
    let (status, text) = send_admin_request(server, method, path, body, timeout)
        .await
        .map_err(|failure| match failure {
            Failure::Rejected { message, .. } | Failure::Usage(message) => message,
        })?;
    let url = format!("{}{path}", server.server.trim_end_matches('/'));
    if status == reqwest::StatusCode::NO_CONTENT {
        return Ok(Value::Null);
    }
    let body: Value = serde_json::from_str(&text)
        .map_err(|error| format!("{url} returned {status} without a JSON body: {error}"))?;
    if status.is_success() {
        Ok(body)
    } else {
        Err(format!(
            "{url} returned {status}: {} ({})",
            body["message"].as_str().unwrap_or("no message"),
            body["reason"].as_str().unwrap_or("no reason")
        ))
    }
}
