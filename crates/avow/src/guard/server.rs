//! The listener of `avow guard`: accepts connections, serves HTTP/1.1 and HTTP/2 on them and
//! shuts down gracefully.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

use super::forward::Peer;
use super::proxy::Proxy;

/// Pause after a failed `accept`, such as when the process is out of file descriptors, so
/// that the loop does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// Serves `listener` until `shutdown` completes, then waits up to `grace` for the requests in
/// flight.
pub(crate) async fn serve(
    listener: TcpListener,
    proxy: Arc<Proxy>,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) {
    match listener.local_addr() {
        Ok(address) => tracing::info!(%address, "listening"),
        Err(error) => tracing::warn!(%error, "listening on an unknown address"),
    }
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // The timer enables hyper's default limit on the time a client takes to send the request
    // headers, and HTTP/2 keep-alive pings if configured.
    builder.http1().timer(TokioTimer::new());
    builder.http2().timer(TokioTimer::new());
    let graceful = GracefulShutdown::new();

    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, address) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, client.address = %address, "cannot set TCP_NODELAY");
        }
        let peer = Arc::new(Peer::new(address));
        let proxy = Arc::clone(&proxy);
        let service = service_fn(move |request| {
            let proxy = Arc::clone(&proxy);
            let peer = Arc::clone(&peer);
            async move { Ok::<_, Infallible>(proxy.handle(request, &peer).await) }
        });
        let connection = builder
            .serve_connection(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                // A client that closes its connection or sends bad HTTP ends up here.
                tracing::debug!(error = %error, client.address = %address, "connection ended with an error");
            }
        });
    }

    drop(listener);
    tracing::info!(
        connections = graceful.count(),
        "shutting down, waiting for requests in flight"
    );
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(grace) => {
            tracing::warn!(grace_secs = grace.as_secs(), "requests still in flight after the grace period, stopping");
        }
    }
    let stats = &proxy.stats;
    tracing::info!(
        forwarded = stats.forwarded.load(Ordering::Relaxed),
        monitor_passed = stats.monitor_passed.load(Ordering::Relaxed),
        unauthorized = stats.unauthorized.load(Ordering::Relaxed),
        reused = stats.reused.load(Ordering::Relaxed),
        consume_failures = stats.consume_failures.load(Ordering::Relaxed),
        upstream_errors = stats.upstream_errors.load(Ordering::Relaxed),
        "stopped"
    );
}
