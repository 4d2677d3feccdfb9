//! `avow serve`.

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;

use avow_server::config::LogFormat;
use avow_server::{Config, Server};
use tracing_subscriber::EnvFilter;

/// Environment variable with the log filter, in `tracing` directive syntax.
const LOG_FILTER_ENV: &str = "AVOW_LOG";

/// Options of `avow serve`. Each flag wins over the configuration file and the environment.
#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// TOML configuration file; AVOW_* environment variables override its values.
    #[arg(long, env = "AVOW_CONFIG")]
    config: Option<PathBuf>,
    /// Address and port to listen on [default: 127.0.0.1:8080].
    #[arg(long)]
    listen: Option<String>,
    /// Directory for the SQLite database and the master key file [default: ./avow-data].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Database URL, `sqlite://PATH` or `postgres://USER@HOST:PORT/DB` [default: SQLite file
    /// avow.db in the data directory].
    #[arg(long)]
    database: Option<String>,
}

pub(crate) async fn run(args: ServeArgs) -> ExitCode {
    let flag = |name: &str| match name {
        "AVOW_LISTEN" => args.listen.clone(),
        "AVOW_DATA_DIR" => args.data_dir.as_ref().map(|dir| dir.display().to_string()),
        "AVOW_DATABASE" => args.database.clone(),
        _ => None,
    };
    let config = match Config::load(args.config.as_deref(), |name| {
        flag(name).or_else(|| std::env::var(name).ok())
    }) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    init_logging(config.log_format);

    let master_key = std::env::var(avow_server::keys::MASTER_KEY_ENV).ok();
    let mut server = match Server::start(config, master_key).await {
        Ok(server) => server,
        Err(error) => {
            tracing::error!(%error, "cannot start");
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(key) = server.take_first_admin_key() {
        // Printed on standard output, never logged: this is the only copy.
        println!("Created the first admin API key. It is shown only this once; store it now:");
        println!();
        println!("    {}", key.as_str());
        println!();
        println!("Client commands read it from AVOW_ADMIN_KEY, for example:");
        println!("    export AVOW_ADMIN_KEY={}", key.as_str());
    }

    match server.run(shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "server stopped with an error");
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

pub(crate) fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_env(LOG_FILTER_ENV)
        .unwrap_or_else(|_| EnvFilter::new("info,tower_http=info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Completes on SIGTERM or Ctrl-C.
pub(crate) async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}
