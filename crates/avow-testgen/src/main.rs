//! `avow-testgen`: writes App Attest evidence from a fresh test PKI and a simulated device to
//! files, for manual runs against a local Avow server and for the README walk-through.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use avow_testgen::{AssertionSpec, AttestationSpec, Environment, SimulatedDevice, TestPki};

const USAGE: &str = "\
usage:
  avow-testgen app-attest --out DIR --app-id TEAMID.BUNDLE.ID
      --environment development|production --client-data-hash-hex HEX
  avow-testgen app-attest-assertion --device-key FILE --out DIR --app-id TEAMID.BUNDLE.ID
      --counter N --client-data-hash-hex HEX
  avow-testgen --help

app-attest            creates a test PKI and a device key, and writes root.pem,
                      attestation.cbor, attestation.b64, attestation.json, key_id.b64,
                      device_key.pk8 and README.txt into DIR (created if missing)
app-attest-assertion  signs an assertion with the device key from FILE (a device_key.pk8
                      written by app-attest) and writes assertion.cbor and assertion.b64
                      into DIR

--app-id                the App ID: team id, a dot, then the bundle id
--environment           the App Attest environment, which selects the AAGUID
--client-data-hash-hex  the clientDataHash bytes in hex (any non-zero length)
--counter               the assertion counter, 0 to 4294967295";

const APP_ATTEST_OPTIONS: &[&str] = &[
    "--out",
    "--app-id",
    "--environment",
    "--client-data-hash-hex",
];
const ASSERTION_OPTIONS: &[&str] = &[
    "--device-key",
    "--out",
    "--app-id",
    "--counter",
    "--client-data-hash-hex",
];

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError::Usage(message)) => {
            eprintln!("avow-testgen: {message}\n\n{USAGE}");
            ExitCode::from(2)
        }
        Err(error) => {
            eprintln!("avow-testgen: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Vec<OsString>) -> Result<(), CliError> {
    let args = args
        .into_iter()
        .map(|arg| {
            arg.into_string()
                .map_err(|arg| CliError::Usage(format!("argument {arg:?} is not valid UTF-8")))
        })
        .collect::<Result<Vec<String>, CliError>>()?;

    let Some((command, rest)) = args.split_first() else {
        return Err(CliError::Usage("missing command".to_owned()));
    };
    match command.as_str() {
        "app-attest" => write_attestation(&parse_options(rest, APP_ATTEST_OPTIONS)?),
        "app-attest-assertion" => write_assertion(&parse_options(rest, ASSERTION_OPTIONS)?),
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            Ok(())
        }
        other => Err(CliError::Usage(format!("unknown command {other:?}"))),
    }
}

/// The `--name value` or `--name=value` options of one command, all of them required.
struct Options(HashMap<&'static str, String>);

impl Options {
    fn get(&self, name: &str) -> &str {
        // `parse_options` returns only after every allowed option was given.
        self.0.get(name).map_or("", String::as_str)
    }
}

fn parse_options(args: &[String], allowed: &[&'static str]) -> Result<Options, CliError> {
    let mut values = HashMap::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let (name, inline_value) = match arg.split_once('=') {
            Some((name, value)) => (name, Some(value.to_owned())),
            None => (arg.as_str(), None),
        };
        let Some(&name) = allowed.iter().find(|allowed_name| **allowed_name == name) else {
            return Err(CliError::Usage(format!("unexpected argument {arg:?}")));
        };
        let value = match inline_value {
            Some(value) => value,
            None => iter
                .next()
                .cloned()
                .ok_or_else(|| CliError::Usage(format!("missing value for {name}")))?,
        };
        if values.insert(name, value).is_some() {
            return Err(CliError::Usage(format!("{name} given more than once")));
        }
    }
    if let Some(missing) = allowed.iter().find(|name| !values.contains_key(*name)) {
        return Err(CliError::Usage(format!(
            "missing required option {missing}"
        )));
    }
    Ok(Options(values))
}

fn write_attestation(options: &Options) -> Result<(), CliError> {
    let out = PathBuf::from(options.get("--out"));
    let app_id = parse_app_id(options.get("--app-id"))?;
    let environment = parse_environment(options.get("--environment"))?;
    let client_data_hash = parse_client_data_hash(options.get("--client-data-hash-hex"))?;

    let pki = TestPki::new();
    let device = SimulatedDevice::new();
    let spec = AttestationSpec::new(app_id, client_data_hash.clone(), environment);
    let attestation = device.attestation(&pki, &spec);
    let attestation_base64 = BASE64.encode(&attestation);
    let key_id_base64 = BASE64.encode(device.key_id());
    let summary = serde_json::json!({
        "app_id": app_id,
        "environment": environment.as_str(),
        "client_data_hash_hex": hex::encode(&client_data_hash),
        "key_id_base64": key_id_base64,
        "attestation_base64": attestation_base64,
    });
    let readme = attestation_readme(app_id, environment, &client_data_hash);

    create_dir(&out)?;
    write_file(&out.join("root.pem"), pki.root_pem().as_bytes())?;
    write_file(&out.join("attestation.cbor"), &attestation)?;
    write_file(&out.join("attestation.b64"), attestation_base64.as_bytes())?;
    write_file(
        &out.join("attestation.json"),
        format!("{summary:#}\n").as_bytes(),
    )?;
    write_file(&out.join("key_id.b64"), key_id_base64.as_bytes())?;
    write_file(&out.join("device_key.pk8"), device.pkcs8_der())?;
    write_file(&out.join("README.txt"), readme.as_bytes())?;
    println!("wrote App Attest attestation files to {}", out.display());
    Ok(())
}

fn write_assertion(options: &Options) -> Result<(), CliError> {
    let device_key_path = PathBuf::from(options.get("--device-key"));
    let out = PathBuf::from(options.get("--out"));
    let app_id = parse_app_id(options.get("--app-id"))?;
    let counter = parse_counter(options.get("--counter"))?;
    let client_data_hash = parse_client_data_hash(options.get("--client-data-hash-hex"))?;

    let pkcs8 = fs::read(&device_key_path).map_err(|source| CliError::Io {
        path: device_key_path.clone(),
        source,
    })?;
    let device = SimulatedDevice::from_pkcs8(&pkcs8).map_err(|_| CliError::InvalidDeviceKey {
        path: device_key_path.clone(),
    })?;
    let assertion = device.assertion(&AssertionSpec::new(app_id, client_data_hash, counter));

    create_dir(&out)?;
    write_file(&out.join("assertion.cbor"), &assertion)?;
    write_file(
        &out.join("assertion.b64"),
        BASE64.encode(&assertion).as_bytes(),
    )?;
    println!("wrote App Attest assertion files to {}", out.display());
    Ok(())
}

fn parse_app_id(value: &str) -> Result<&str, CliError> {
    match value.split_once('.') {
        Some((team_id, bundle_id))
            if !team_id.is_empty()
                && !bundle_id.is_empty()
                && !value.contains(char::is_whitespace) =>
        {
            Ok(value)
        }
        _ => Err(CliError::Usage(format!(
            "invalid --app-id {value:?}: expected TEAMID.bundle.id"
        ))),
    }
}

fn parse_environment(value: &str) -> Result<Environment, CliError> {
    match value {
        "development" => Ok(Environment::Development),
        "production" => Ok(Environment::Production),
        _ => Err(CliError::Usage(format!(
            "invalid --environment {value:?}: expected development or production"
        ))),
    }
}

fn parse_client_data_hash(value: &str) -> Result<Vec<u8>, CliError> {
    match hex::decode(value) {
        Ok(bytes) if !bytes.is_empty() => Ok(bytes),
        Ok(_) => Err(CliError::Usage(
            "invalid --client-data-hash-hex: it is empty".to_owned(),
        )),
        Err(error) => Err(CliError::Usage(format!(
            "invalid --client-data-hash-hex: {error}"
        ))),
    }
}

fn parse_counter(value: &str) -> Result<u32, CliError> {
    value.parse().map_err(|_| {
        CliError::Usage(format!(
            "invalid --counter {value:?}: expected an integer from 0 to 4294967295"
        ))
    })
}

fn create_dir(path: &Path) -> Result<(), CliError> {
    fs::create_dir_all(path).map_err(|source| CliError::Io {
        path: path.to_owned(),
        source,
    })
}

fn write_file(path: &Path, contents: &[u8]) -> Result<(), CliError> {
    fs::write(path, contents).map_err(|source| CliError::Io {
        path: path.to_owned(),
        source,
    })
}

fn attestation_readme(app_id: &str, environment: Environment, client_data_hash: &[u8]) -> String {
    format!(
        "\
Test App Attest evidence written by `avow-testgen app-attest`. It comes from a test PKI
and a simulated device, not from Apple or a real iPhone.

Inputs
  App ID:                  {app_id}
  environment:             {environment}
  clientDataHash (hex):    {client_data_hash}

Files
  root.pem          Root certificate of the test PKI (\"Test App Attestation Root CA\"),
                    PEM. Configure it as the App Attest trust anchor of the server under
                    test in place of Apple's root. Each run creates a new PKI.
  attestation.cbor  The attestation object as raw CBOR, as attestKey returns it.
  attestation.b64   The attestation object in standard base64.
  attestation.json  The inputs, the key id and the attestation object (base64) as JSON.
  key_id.b64        The key id in standard base64, as generateKey returns it: the SHA-256
                    of the device's uncompressed P-256 public key.
  device_key.pk8    The simulated device's P-256 private key, unencrypted PKCS#8 DER.
                    Pass it to `avow-testgen app-attest-assertion --device-key` to sign
                    assertions for this key.
  README.txt        This file.

The credential certificate is valid from 2024-01-01 to 2049-12-31 UTC, the test CAs from
2020-01-01 to 2049-12-31 UTC. The receipt in the attestation object is a placeholder, not
a signed Apple receipt.
",
        environment = environment.as_str(),
        client_data_hash = hex::encode(client_data_hash),
    )
}

/// The reason a command failed.
#[derive(Debug)]
enum CliError {
    /// The command line is invalid; the usage text is printed and the exit status is 2.
    Usage(String),
    /// Reading or writing a file failed.
    Io { path: PathBuf, source: io::Error },
    /// The device key file is not an unencrypted PKCS#8 P-256 private key.
    InvalidDeviceKey { path: PathBuf },
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Usage(message) => f.write_str(message),
            Self::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Self::InvalidDeviceKey { path } => write!(
                f,
                "{}: not an unencrypted PKCS#8 P-256 private key; use the device_key.pk8 \
                 that `avow-testgen app-attest` wrote",
                path.display()
            ),
        }
    }
}
