//! `avow serve`.

use std::path::PathBuf;
use std::process::ExitCode;

use avow_server::config::LogFormat;
use avow_server::{Config, Server};
use tracing_subscriber::EnvFilter;

/// Environment variable with the log filter, in `tracing` directive syntax.
const LOG_FILTER_ENV: &str = "AVOW_LOG";

pub(crate) async fn run(config_path: Option<PathBuf>) -> ExitCode {
    let config = match Config::load(config_path.as_deref(), |name| std::env::var(name).ok()) {
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
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Completes on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
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
