//! A minimal HTTP/1.1 server on 127.0.0.1 that stands in for Apple's and Google's APIs.
//!
//! Each connection carries one request and is closed after the response. The handler sees the
//! method, path and body and returns the status, content type and body.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};

/// One request as the mock received it.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
    pub body: Vec<u8>,
}

type Handler = dyn Fn(&Request) -> (u16, &'static str, Vec<u8>) + Send + Sync;

/// A running mock server. It stops accepting when the test process ends.
pub struct MockServer {
    pub address: SocketAddr,
    requests: Arc<Mutex<Vec<Request>>>,
    handler: Arc<Mutex<Arc<Handler>>>,
}

impl MockServer {
    pub fn start(
        handler: impl Fn(&Request) -> (u16, &'static str, Vec<u8>) + Send + Sync + 'static,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Mutex<Arc<Handler>>> = Arc::new(Mutex::new(Arc::new(handler)));
        let recorded = Arc::clone(&requests);
        let current = Arc::clone(&handler);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let recorded = Arc::clone(&recorded);
                let handler = Arc::clone(&current.lock().unwrap());
                std::thread::spawn(move || serve_one(stream, &recorded, handler.as_ref()));
            }
        });
        Self {
            address,
            requests,
            handler,
        }
    }

    /// Replaces the handler for the following requests.
    pub fn set_handler(
        &self,
        handler: impl Fn(&Request) -> (u16, &'static str, Vec<u8>) + Send + Sync + 'static,
    ) {
        *self.handler.lock().unwrap() = Arc::new(handler);
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

fn serve_one(stream: std::net::TcpStream, recorded: &Mutex<Vec<Request>>, handler: &Handler) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    let mut content_length = 0usize;
    let mut authorization = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).is_err() || line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            let value = value.trim().to_owned();
            match name.to_ascii_lowercase().as_str() {
                "content-length" => content_length = value.parse().unwrap_or(0),
                "authorization" => authorization = Some(value),
                _ => {}
            }
        }
    }
    let mut body = vec![0u8; content_length.min(1 << 20)];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let request = Request {
        method,
        path,
        authorization,
        body,
    };
    let (status, content_type, response_body) = handler(&request);
    recorded.lock().unwrap().push(request);
    let mut stream = stream;
    let head = format!(
        "HTTP/1.1 {status} Mock\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        response_body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&response_body);
    let _ = stream.flush();
}
