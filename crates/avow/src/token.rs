//! `avow token verify`.

use std::process::ExitCode;

use avow_token::{Jwks, TokenVerifier};
use clap::Subcommand;

use crate::DEFAULT_SERVER;
use crate::verify::parse_time;

#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Verify a token against a JWKS and print its claims or the reason it is rejected.
    /// Exit status: 0 valid, 1 invalid, 2 unusable input.
    Verify {
        /// The token.
        token: String,
        /// JWKS URL or file.
        #[arg(long, default_value_t = format!("{DEFAULT_SERVER}/.well-known/jwks.json"))]
        jwks: String,
        /// Required issuer (`iss`); any issuer when omitted.
        #[arg(long)]
        issuer: Option<String>,
        /// Required audience (`aud`); any audience when omitted.
        #[arg(long)]
        audience: Option<String>,
        /// Verification time (RFC 3339); now when omitted.
        #[arg(long)]
        at: Option<String>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub(crate) async fn run(command: TokenCommand) -> ExitCode {
    let TokenCommand::Verify {
        token,
        jwks,
        issuer,
        audience,
        at,
        json,
    } = command;
    let now = match at.as_deref().map(parse_time).transpose() {
        Ok(Some(time)) => time,
        Ok(None) => u64::try_from(avow_server::unix_now()).unwrap_or(0),
        Err(message) => return unusable(&message),
    };
    let jwks = match load_jwks(&jwks).await {
        Ok(jwks) => jwks,
        Err(message) => return unusable(&message),
    };
    let mut verifier = match TokenVerifier::from_jwks(&jwks) {
        Ok(verifier) => verifier,
        Err(error) => return unusable(&format!("unusable JWKS: {error}")),
    };
    if let Some(issuer) = issuer {
        verifier = verifier.with_issuer(issuer);
    }
    if let Some(audience) = audience {
        verifier = verifier.with_audiences(vec![audience]);
    }
    match verifier.verify(token.trim(), now) {
        Ok(claims) => {
            if json {
                let output = serde_json::json!({"valid": true, "claims": claims});
                println!("{output:#}");
            } else {
                println!("valid token");
                match serde_json::to_string_pretty(&claims) {
                    Ok(text) => println!("{text}"),
                    Err(error) => eprintln!("error: cannot print claims: {error}"),
                }
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            if json {
                let output = serde_json::json!({
                    "valid": false,
                    "reason": error.reason(),
                    "message": error.to_string(),
                });
                println!("{output:#}");
            } else {
                println!("invalid token: {} ({error})", error.reason());
            }
            ExitCode::from(1)
        }
    }
}

fn unusable(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

async fn load_jwks(location: &str) -> Result<Jwks, String> {
    let text = if location.starts_with("http://") || location.starts_with("https://") {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|error| format!("cannot build the HTTP client: {error}"))?;
        let response = client
            .get(location)
            .send()
            .await
            .map_err(|error| format!("cannot fetch JWKS from {location}: {error}"))?;
        if !response.status().is_success() {
            return Err(format!("JWKS at {location} returned {}", response.status()));
        }
        response
            .text()
            .await
            .map_err(|error| format!("cannot read JWKS from {location}: {error}"))?
    } else {
        std::fs::read_to_string(location)
            .map_err(|error| format!("cannot read JWKS file {location}: {error}"))?
    };
    serde_json::from_str(&text).map_err(|error| format!("invalid JWKS in {location}: {error}"))
}
