//! `avow admin-key` and `avow app`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use serde_json::Value;

use crate::ServerArgs;

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
    /// Register an app.
    Add {
        #[command(flatten)]
        server: ServerArgs,
        /// Platform of the app.
        #[arg(long, value_parser = ["ios"])]
        platform: String,
        /// Apple developer team id (10 characters).
        #[arg(long)]
        team_id: String,
        /// Bundle identifier.
        #[arg(long)]
        bundle_id: String,
        /// App Attest environment the app's keys come from.
        #[arg(long, value_parser = ["production", "development"], default_value = "production")]
        environment: String,
        /// Print the server's JSON response.
        #[arg(long)]
        json: bool,
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
    let store = match avow_server::open_store(&config.database_url()).await {
        Ok(store) => store,
        Err(error) => {
            eprintln!("error: cannot open the database: {error}");
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
            json,
        } => {
            let body = serde_json::json!({
                "platform": platform,
                "team_id": team_id,
                "bundle_id": bundle_id,
                "environment": environment,
            });
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
    let Some(admin_key) = &server.admin_key else {
        return Err(
            "no admin key: set AVOW_ADMIN_KEY or pass --admin-key (the server prints one at its \
             first start; `avow admin-key create` makes another)"
                .to_owned(),
        );
    };
    let url = format!("{}{path}", server.server.trim_end_matches('/'));
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .map_err(|error| format!("cannot build the HTTP client: {error}"))?;
    let mut builder = client.request(method, &url).bearer_auth(admin_key);
    if let Some(body) = body {
        builder = builder.json(&body);
    }
    let response = builder
        .send()
        .await
        .map_err(|error| format!("cannot reach {url}: {error}"))?;
    let status = response.status();
    let body: Value = response
        .json()
        .await
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
