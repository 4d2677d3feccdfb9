//! The connections of `avow guard` to its upstream: a pool of HTTP/1.1 connections per serving
//! thread.
//!
//! The pool contains the idle connections of one thread. A request takes the most recently used
//! one that is ready, or opens a new one when none is idle, and the connection goes back to
//! the pool when the response body has been read to its end. Taking the most recent one lets
//! the connections beyond the current need stay idle until the upstream closes them, and a
//! connection that the upstream closed is dropped when it is next taken. Nothing is spawned
//! per request: the only task of a connection is the one that drives it.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Time limit for opening a TCP connection to the upstream.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Maximum number of idle connections that one thread keeps. More are closed when their
/// response ends.
const MAX_IDLE: usize = 1024;

/// The pool of one serving thread. Cloning it shares the pool.
#[derive(Clone)]
pub(crate) struct UpstreamClient {
    pool: Arc<Pool>,
}

struct Pool {
    /// Host name or IP address (without brackets) and port of the upstream.
    host: String,
    port: u16,
    idle: Mutex<Vec<SendRequest<Incoming>>>,
}

/// A failure to get a response from the upstream.
#[derive(Debug)]
pub(crate) enum UpstreamError {
    Connect(io::Error),
    ConnectTimeout,
    Http(hyper::Error),
}

impl fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Connect(error) => write!(f, "cannot connect to the upstream: {error}"),
            Self::ConnectTimeout => write!(
                f,
                "cannot connect to the upstream within {} s",
                CONNECT_TIMEOUT.as_secs()
            ),
            Self::Http(error) => match std::error::Error::source(error) {
                Some(source) => write!(f, "{error}: {source}"),
                None => write!(f, "{error}"),
            },
        }
    }
}

impl UpstreamClient {
    /// Builds an empty pool for the upstream at `host` and `port`.
    pub(crate) fn new(host: &str, port: u16) -> Self {
        let host = host
            .strip_prefix('[')
            .and_then(|host| host.strip_suffix(']'))
            .unwrap_or(host);
        Self {
            pool: Arc::new(Pool {
                host: host.to_owned(),
                port,
                idle: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Sends `request`, whose URI must be in origin form and which must have a `Host` header,
    /// and returns the response. An idle connection that turns out to be closed before the
    /// request is written is dropped and the request goes on another one.
    pub(crate) async fn send(
        &self,
        mut request: Request<Incoming>,
    ) -> Result<Response<UpstreamBody>, UpstreamError> {
        loop {
            let Some(mut sender) = self.pool.take() else {
                break;
            };
            // A connection goes back to the pool when its response has ended, and its task marks
            // it ready a moment later. A closed connection fails here.
            if sender.ready().await.is_err() {
                continue;
            }
            match sender.try_send_request(request).await {
                Ok(response) => return Ok(self.wrap(response, sender)),
                Err(mut error) => match error.take_message() {
                    Some(unsent) => request = unsent,
                    None => return Err(UpstreamError::Http(error.into_error())),
                },
            }
        }
        let mut sender = self.connect().await?;
        let response = sender
            .send_request(request)
            .await
            .map_err(UpstreamError::Http)?;
        Ok(self.wrap(response, sender))
    }

    async fn connect(&self) -> Result<SendRequest<Incoming>, UpstreamError> {
        let address = (self.pool.host.as_str(), self.pool.port);
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(address))
            .await
            .map_err(|_| UpstreamError::ConnectTimeout)?
            .map_err(UpstreamError::Connect)?;
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY on an upstream connection");
        }
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(UpstreamError::Http)?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "upstream connection ended with an error");
            }
        });
        Ok(sender)
    }

    fn wrap(
        &self,
        response: Response<Incoming>,
        sender: SendRequest<Incoming>,
    ) -> Response<UpstreamBody> {
        response.map(|body| UpstreamBody {
            body,
            release: Some(Release {
                sender,
                pool: Arc::clone(&self.pool),
            }),
        })
    }
}

impl Pool {
    /// Takes the most recently used connection that is ready for a request. A connection
    /// returns to the pool as soon as its response ends, and its task marks it ready a moment
    /// later, so the one returned last may not be ready yet. Without a ready one, the most
    /// recent one is taken anyway: it may be about to become ready, or closed.
    fn take(&self) -> Option<SendRequest<Incoming>> {
        // A poisoned lock only means that a thread panicked while holding it; the list
        // itself is still consistent.
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        match idle.iter().rposition(SendRequest::is_ready) {
            Some(index) => Some(idle.remove(index)),
            None => idle.pop(),
        }
    }

    fn put(&self, sender: SendRequest<Incoming>) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_IDLE {
            idle.push(sender);
        }
    }
}

/// A connection to return to its pool once the response body has ended.
struct Release {
    sender: SendRequest<Incoming>,
    pool: Arc<Pool>,
}

/// The body of an upstream response. When it has been read to its end, its connection goes
/// back to the pool; dropped earlier, the connection is closed.
pub(crate) struct UpstreamBody {
    body: Incoming,
    release: Option<Release>,
}

impl UpstreamBody {
    fn release(&mut self) {
        if let Some(release) = self.release.take() {
            release.pool.put(release.sender);
        }
    }
}

impl Body for UpstreamBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        let frame = Pin::new(&mut this.body).poll_frame(cx);
        match frame {
            Poll::Ready(None) => this.release(),
            Poll::Ready(Some(Ok(_))) if this.body.is_end_stream() => this.release(),
            _ => {}
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl Drop for UpstreamBody {
    fn drop(&mut self) {
        if self.body.is_end_stream() {
            self.release();
        }
    }
}
