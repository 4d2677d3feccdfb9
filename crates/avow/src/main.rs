//! The `avow` command: the server, its admin client and offline verification tools.

#![warn(missing_docs)]

mod admin;
mod api_domains;
mod device;
mod guard;
mod pins;
mod policy;
mod serve;
mod token;
mod verify;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Default address of a local server, used by the client commands.
const DEFAULT_SERVER: &str = "http://127.0.0.1:8080";

#[derive(Debug, Parser)]
#[command(
    name = "avow",
    version,
    about = "Self-hosted mobile app attestation and token service"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server. With no configuration it keeps its state in ./avow-data and listens on
    /// 127.0.0.1:8080.
    Serve(serve::ServeArgs),
    /// Run a reverse proxy that forwards only requests with a valid Avow token to an upstream
    /// service, adding the verified claims as Avow-* headers.
    Guard(guard::GuardArgs),
    /// Manage admin API keys directly in the server's database (no running server needed).
    #[command(subcommand)]
    AdminKey(admin::AdminKeyCommand),
    /// Register and list apps through the admin API.
    #[command(subcommand)]
    App(admin::AppCommand),
    /// Register an app's API domains and check their live certificate chains.
    #[command(subcommand)]
    Api(api_domains::ApiCommand),
    /// Set, check, publish and export the certificate pins delivered to an app.
    #[command(subcommand)]
    Pins(pins::PinsCommand),
    /// Show, validate, compare, dry-run and set app policies.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// Explain the decisions about an install, ban it, and manage debug devices.
    #[command(subcommand)]
    Device(device::DeviceCommand),
    /// Show provider calls counted against an app's daily quota.
    #[command(subcommand)]
    Quota(policy::QuotaCommand),
    /// Show the audit log of administrative actions, newest first.
    Audit(policy::AuditArgs),
    /// Inspect tokens.
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// Verify captured evidence offline and print every check.
    #[command(subcommand)]
    Verify(verify::VerifyCommand),
}

/// Connection to a running server, shared by the client commands.
#[derive(Debug, clap::Args)]
struct ServerArgs {
    /// Base URL of the Avow server.
    #[arg(long, env = "AVOW_SERVER", default_value = DEFAULT_SERVER)]
    server: String,
    /// Admin API key, as printed by the server's first start or `avow admin-key create`.
    #[arg(long, env = "AVOW_ADMIN_KEY", hide_env_values = true)]
    admin_key: Option<String>,
}

fn main() -> ExitCode {
    exit_quietly_on_closed_pipe();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve::run(args).await,
            Command::Guard(args) => guard::run(args).await,
            Command::AdminKey(command) => admin::run_admin_key(command).await,
            Command::App(command) => admin::run_app(command).await,
            Command::Api(command) => api_domains::run(command).await,
            Command::Pins(command) => pins::run(command).await,
            Command::Policy(command) => policy::run_policy(command).await,
            Command::Device(command) => device::run(command).await,
            Command::Quota(command) => policy::run_quota(command).await,
            Command::Audit(args) => policy::run_audit(args).await,
            Command::Token(command) => token::run(command).await,
            Command::Verify(command) => verify::run(command),
        }
    })
}

/// Exits with status 141 (as shells report SIGPIPE) when standard output is closed early, as in
/// `avow verify … | head`. Rust ignores SIGPIPE, so `println!` panics on a closed pipe instead.
fn exit_quietly_on_closed_pipe() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.contains("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(141);
        }
        default_hook(info);
    }));
}
