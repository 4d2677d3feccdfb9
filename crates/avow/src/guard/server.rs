//! The listener of `avow guard`: accepts connections, serves HTTP/1.1 and HTTP/2 on them and
//! shuts down gracefully.
//!
//! The proxy serves from a fixed number of threads, by default one per core. Each thread runs
//! its own single-threaded tokio runtime with its own listening socket, all bound to the same
//! address with `SO_REUSEPORT` so that the kernel spreads new connections over them, and its
//! own pool of upstream connections. A request is then handled from start to end on one thread:
//! no task moves between threads and no thread wakes another, which on a loaded machine costs
//! more than the proxying itself.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::forward::Peer;
use super::proxy::Proxy;
use super::upstream::UpstreamClient;

/// Pause after a failed `accept`, such as when the process is out of file descriptors, so
/// that the loop does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);
/// Length of each listening socket's queue of connections not yet accepted.
const LISTEN_BACKLOG: i32 = 1024;

/// Binds `count` listening sockets to `address`. With port 0 the first socket picks the port
/// and the others take the same one.
///
/// # Errors
///
/// The error of the first socket that cannot be created or bound.
pub(crate) fn bind(address: SocketAddr, count: usize) -> io::Result<Vec<std::net::TcpListener>> {
    let first = bind_one(address, count > 1)?;
    let address = first.local_addr()?;
    let mut listeners = vec![first];
    for _ in 1..count {
        listeners.push(bind_one(address, true)?);
    }
    Ok(listeners)
}

fn bind_one(address: SocketAddr, reuse_port: bool) -> io::Result<std::net::TcpListener> {
    let socket = Socket::new(
        Domain::for_address(address),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    // As tokio's `TcpListener::bind` does: a restarted proxy can listen again at once.
    #[cfg(unix)]
    socket.set_reuse_address(true)?;
    // Linux accepts this only from sockets of the same user, and balances connections over them.
    #[cfg(unix)]
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    #[cfg(not(unix))]
    let _ = reuse_port;
    socket.set_nonblocking(true)?;
    socket.bind(&address.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    Ok(socket.into())
}

/// Serves on `listeners`, one thread each, until `shutdown` completes, then waits up to `grace`
/// for the requests in flight.
///
/// # Errors
///
/// A thread or its runtime that cannot be started. The threads already started are stopped.
pub(crate) async fn serve(
    listeners: Vec<std::net::TcpListener>,
    proxy: Arc<Proxy>,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) -> io::Result<()> {
    match listeners.first().map(std::net::TcpListener::local_addr) {
        Some(Ok(address)) => tracing::info!(%address, threads = listeners.len(), "listening"),
        Some(Err(error)) => tracing::warn!(%error, "listening on an unknown address"),
        None => return Ok(()),
    }
    let (stop, stopping) = watch::channel(false);
    let mut threads = Vec::with_capacity(listeners.len());
    let mut started = Ok(());
    for (index, listener) in listeners.into_iter().enumerate() {
        let proxy = Arc::clone(&proxy);
        let stopping = stopping.clone();
        let thread = std::thread::Builder::new()
            .name(format!("avow-guard-{index}"))
            .spawn(move || serve_thread(listener, &proxy, stopping, grace));
        match thread {
            Ok(thread) => threads.push(thread),
            Err(error) => {
                started = Err(error);
                break;
            }
        }
    }

    if started.is_ok() {
        shutdown.await;
        tracing::info!("shutting down, waiting for requests in flight");
    }
    // A watch channel keeps the value, so a thread that has not yet started to wait still stops.
    stop.send_replace(true);
    let joined = tokio::task::spawn_blocking(move || {
        threads
            .into_iter()
            .map(|thread| {
                thread
                    .join()
                    .unwrap_or_else(|_| Err(io::Error::other("a serving thread panicked")))
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    for result in joined {
        if let Err(error) = result {
            tracing::error!(%error, "cannot run a serving thread");
            if started.is_ok() {
                started = Err(error);
            }
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
    started
}

/// The state that every request on one client connection uses.
struct ConnectionState {
    proxy: Arc<Proxy>,
    client: UpstreamClient,
    peer: Peer,
}

/// Runs one serving thread: a single-threaded runtime that accepts on `listener` until
/// `stopping` turns true.
fn serve_thread(
    listener: std::net::TcpListener,
    proxy: &Arc<Proxy>,
    stopping: watch::Receiver<bool>,
    grace: Duration,
) -> io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = TcpListener::from_std(listener)?;
        accept_loop(listener, proxy, stopping, grace).await;
        Ok(())
    })
}

async fn accept_loop(
    listener: TcpListener,
    proxy: &Arc<Proxy>,
    mut stopping: watch::Receiver<bool>,
    grace: Duration,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // The timer enables hyper's default limit on the time a client takes to send the request
    // headers, and HTTP/2 keep-alive pings if configured.
    builder.http1().timer(TokioTimer::new());
    builder.http2().timer(TokioTimer::new());
    let graceful = GracefulShutdown::new();
    // Each thread has its own pool of upstream connections, so that a request and the
    // upstream connection that carries it stay on the same thread.
    let client = proxy.upstream_client();

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
            // An error means that the sender is gone, which also means stop.
            _ = stopping.wait_for(|stop| *stop) => break,
        };
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, client.address = %address, "cannot set TCP_NODELAY");
        }
        let state = Arc::new(ConnectionState {
            proxy: Arc::clone(proxy),
            client: client.clone(),
            peer: Peer::new(address),
        });
        let service = service_fn(move |request| {
            let state = Arc::clone(&state);
            async move {
                let response = state
                    .proxy
                    .handle(request, &state.peer, &state.client)
                    .await;
                Ok::<_, Infallible>(response)
            }
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
    let connections = graceful.count();
    if connections > 0 {
        tracing::debug!(connections, "waiting for connections to finish");
    }
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(grace) => {
            tracing::warn!(grace_secs = grace.as_secs(), "requests still in flight after the grace period, stopping");
        }
    }
}
