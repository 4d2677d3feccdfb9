//! Obtains many real tokens from a running `avow serve`, for load benchmarks.
//!
//! A simulated install registers an Avow device key for an Android app, then refreshes its
//! token `--count` times, each time with a fresh nonce and a signature. The tokens are those
//! the server issues to an app, so a benchmark checks exactly what production checks.
//!
//! ```text
//! mint_tokens --print-certificate-digest
//! mint_tokens --server http://127.0.0.1:8080 --app-id com.example.shop --count 10000 --out DIR
//! ```
//!
//! The app must be registered first as an Android app whose signing certificate digest is the
//! one `--print-certificate-digest` prints. The output directory receives `tokens.txt` (one
//! token a line, all distinct) and `jwks.json` (the server's JWKS).
//!
//! Requests go over plain HTTP/1.0, one connection each, and only to a loopback address.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use avow_testgen::device_key::{DeviceKeyInstall, measurement_json};
use avow_testgen::play_integrity::default_certificate_digest;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

const USAGE: &str = "\
usage:
  mint_tokens --print-certificate-digest
  mint_tokens --server http://127.0.0.1:PORT --app-id PACKAGE --count N --out DIR";

/// The installer package that the simulated install reports (Google Play).
const INSTALLER: &str = "com.android.vending";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args == ["--print-certificate-digest"] {
        println!("{}", hex::encode(default_certificate_digest()));
        return ExitCode::SUCCESS;
    }
    let options = match Options::parse(&args) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("mint_tokens: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match mint(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("mint_tokens: {message}");
            ExitCode::FAILURE
        }
    }
}

struct Options {
    server: SocketAddr,
    app_id: String,
    count: usize,
    out: PathBuf,
}

impl Options {
    fn parse(args: &[String]) -> Result<Self, String> {
        let mut server = None;
        let mut app_id = None;
        let mut count = None;
        let mut out = None;
        let mut iter = args.iter();
        while let Some(name) = iter.next() {
            let value = iter
                .next()
                .ok_or_else(|| format!("missing value for {name}"))?;
            match name.as_str() {
                "--server" => server = Some(parse_loopback_url(value)?),
                "--app-id" => app_id = Some(value.clone()),
                "--count" => {
                    let parsed = value
                        .parse::<usize>()
                        .ok()
                        .filter(|count| *count > 0)
                        .ok_or_else(|| format!("--count must be a positive integer: {value}"))?;
                    count = Some(parsed);
                }
                "--out" => out = Some(PathBuf::from(value)),
                other => return Err(format!("unexpected argument {other:?}")),
            }
        }
        Ok(Self {
            server: server.ok_or("missing --server")?,
            app_id: app_id.ok_or("missing --app-id")?,
            count: count.ok_or("missing --count")?,
            out: out.ok_or("missing --out")?,
        })
    }
}

/// Parses `http://IP:PORT` and accepts only a loopback IP address.
fn parse_loopback_url(url: &str) -> Result<SocketAddr, String> {
    let authority = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("--server must start with http://: {url}"))?
        .trim_end_matches('/');
    let address: SocketAddr = authority
        .parse()
        .map_err(|_| format!("--server must be http://IP:PORT: {url}"))?;
    if !address.ip().is_loopback() {
        return Err(format!(
            "--server must be a loopback address (127.0.0.0/8 or ::1): {url}"
        ));
    }
    Ok(address)
}

fn mint(options: &Options) -> Result<(), String> {
    let started = Instant::now();
    let install = DeviceKeyInstall::new();
    let key_id = register(options, &install)?;

    let mut tokens = String::new();
    for index in 0..options.count {
        let nonce = challenge(options)?;
        let signature = install.sign_refresh(&nonce);
        let body = json!({
            "app_id": options.app_id,
            "nonce": URL_SAFE_NO_PAD.encode(&nonce),
            "proof": {"key_signature": {
                "key_id": key_id,
                "signature": STANDARD.encode(signature),
            }},
        });
        let response = post_json(options.server, "/v1/refresh", &body)?;
        tokens.push_str(token_of(&response, "refresh")?);
        tokens.push('\n');
        if (index + 1) % 1000 == 0 {
            eprintln!("mint_tokens: {} tokens", index + 1);
        }
    }

    let (status, jwks) = request(options.server, "GET", "/.well-known/jwks.json", None)?;
    if status != 200 {
        return Err(format!(
            "GET /.well-known/jwks.json returned status {status}"
        ));
    }
    std::fs::create_dir_all(&options.out)
        .map_err(|error| format!("cannot create {}: {error}", options.out.display()))?;
    write(&options.out.join("tokens.txt"), tokens.as_bytes())?;
    write(&options.out.join("jwks.json"), &jwks)?;
    eprintln!(
        "mint_tokens: wrote {} tokens to {} in {:.1} s",
        options.count,
        options.out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Registers the install's device key and returns the key id the server assigned.
fn register(options: &Options, install: &DeviceKeyInstall) -> Result<String, String> {
    let nonce = challenge(options)?;
    let measurement = measurement_json(
        &options.app_id,
        Some(&default_certificate_digest()),
        INSTALLER,
        false,
    );
    let body = json!({
        "app_id": options.app_id,
        "nonce": URL_SAFE_NO_PAD.encode(&nonce),
        "evidence": {"device_key": {
            "public_key": STANDARD.encode(install.public_key_spki()),
            "measurement": STANDARD.encode(&measurement),
            "signature": STANDARD.encode(install.sign_registration(&nonce, &measurement)),
        }},
    });
    let response = post_json(options.server, "/v1/attest", &body)?;
    token_of(&response, "attest")?;
    response["key_id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("attest response has no key_id: {response}"))
}

fn challenge(options: &Options) -> Result<Vec<u8>, String> {
    let response = post_json(
        options.server,
        "/v1/challenge",
        &json!({"app_id": options.app_id}),
    )?;
    let nonce = response["nonce"]
        .as_str()
        .ok_or_else(|| format!("challenge response has no nonce: {response}"))?;
    URL_SAFE_NO_PAD
        .decode(nonce)
        .map_err(|error| format!("challenge nonce is not base64url: {error}"))
}

fn token_of<'a>(response: &'a Value, step: &str) -> Result<&'a str, String> {
    response["token"]
        .as_str()
        .ok_or_else(|| format!("{step} response has no token: {response}"))
}

/// Sends a JSON body and returns the JSON response of a `200`.
fn post_json(server: SocketAddr, path: &str, body: &Value) -> Result<Value, String> {
    let body = serde_json::to_vec(body).map_err(|error| error.to_string())?;
    let (status, response) = request(server, "POST", path, Some(&body))?;
    let response: Value = serde_json::from_slice(&response)
        .map_err(|error| format!("POST {path} returned status {status} and no JSON: {error}"))?;
    if status != 200 {
        return Err(format!("POST {path} returned status {status}: {response}"));
    }
    Ok(response)
}

/// Sends one HTTP/1.0 request and reads the response until the server closes the connection.
/// An HTTP/1.0 response is never chunked, so the body is the rest of the stream.
fn request(
    server: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
) -> Result<(u16, Vec<u8>), String> {
    let failed = |error: std::io::Error| format!("{method} {path} on {server} failed: {error}");
    let mut stream = TcpStream::connect_timeout(&server, Duration::from_secs(5)).map_err(failed)?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(failed)?;
    let body = body.unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.0\r\nhost: {server}\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).map_err(failed)?;
    stream.write_all(body).map_err(failed)?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).map_err(failed)?;

    let malformed = || format!("{method} {path} returned a malformed HTTP response");
    let head_end = response
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .ok_or_else(malformed)?;
    let status_line = std::str::from_utf8(response.get(..head_end).unwrap_or_default())
        .map_err(|_| malformed())?
        .lines()
        .next()
        .unwrap_or_default();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(malformed)?;
    Ok((status, response.split_off(head_end + 4)))
}

fn write(path: &std::path::Path, contents: &[u8]) -> Result<(), String> {
    std::fs::write(path, contents)
        .map_err(|error| format!("cannot write {}: {error}", path.display()))
}
