//! Real, public App Attest evidence verified at the time it was valid, and rejected when one
//! input changes.
//!
//! The vectors live outside the repository. Tests find them through `AVOW_VECTORS_DIR`, falling
//! back to `../shared/vectors` next to the repository, and print that they were skipped when
//! neither exists.

use std::path::{Path, PathBuf};

use avow_attest::app_attest::{
    AppId, AssertionInput, AttestationInput, Environment, Roots, verify_assertion,
    verify_attestation,
};
use avow_attest::encoding::decode_base64_any;
use avow_attest::{Error, UnixTime, sha256};
use serde_json::Value;

fn vectors_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("AVOW_VECTORS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors"),
    };
    if dir.join("app-attest").is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "skipped: App Attest vectors not found at {} (set AVOW_VECTORS_DIR to the vectors folder)",
            dir.display()
        );
        None
    }
}

fn read_json(dir: &Path, name: &str) -> Value {
    let text = std::fs::read_to_string(dir.join("app-attest").join(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn at(rfc3339: &str) -> UnixTime {
    let time = time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .unwrap();
    UnixTime::since_unix_epoch(std::time::Duration::from_secs(
        u64::try_from(time.unix_timestamp()).unwrap(),
    ))
}

fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} missing"))
}

/// One real attestation with everything needed to verify it.
struct AttestationVector {
    name: String,
    object: Vec<u8>,
    key_id: Vec<u8>,
    client_data_hash: Vec<u8>,
    app_id: AppId,
    environment: Environment,
    valid_at: UnixTime,
}

impl AttestationVector {
    fn verify(&self) -> Result<avow_attest::app_attest::VerifiedAttestation, Error> {
        self.verify_with(|_| {})
    }

    fn verify_with(
        &self,
        change: impl FnOnce(&mut Inputs),
    ) -> Result<avow_attest::app_attest::VerifiedAttestation, Error> {
        let mut inputs = Inputs {
            object: self.object.clone(),
            key_id: self.key_id.clone(),
            client_data_hash: self.client_data_hash.clone(),
            app_id: self.app_id.clone(),
            environment: self.environment,
            time: self.valid_at,
            roots: Roots::apple(),
        };
        change(&mut inputs);
        let input = AttestationInput {
            attestation_object: &inputs.object,
            key_id: &inputs.key_id,
            client_data_hash: &inputs.client_data_hash,
            app_id: &inputs.app_id,
            environment: inputs.environment,
        };
        verify_attestation(&input, &inputs.roots, inputs.time)
    }
}

struct Inputs {
    object: Vec<u8>,
    key_id: Vec<u8>,
    client_data_hash: Vec<u8>,
    app_id: AppId,
    environment: Environment,
    time: UnixTime,
    roots: Roots,
}

/// Reads the simple `key: value` lines of one YAML document; block scalars are skipped.
fn yaml_documents(text: &str) -> Vec<std::collections::HashMap<String, String>> {
    text.split("\n---")
        .map(|document| {
            document
                .lines()
                .filter(|line| !line.starts_with(' '))
                .filter_map(|line| line.split_once(": "))
                .map(|(key, value)| (key.to_owned(), value.trim_matches('\'').to_owned()))
                .collect()
        })
        .collect()
}

fn attestation_vectors(dir: &Path) -> Vec<AttestationVector> {
    let mut vectors = Vec::new();

    let apple = read_json(dir, "apple-doc-sample-attestation.json");
    vectors.push(AttestationVector {
        name: "apple-doc-sample".to_owned(),
        object: decode_base64_any(text(&apple, "attestation_base64")).unwrap(),
        key_id: decode_base64_any(text(&apple, "keyId_base64")).unwrap(),
        // Apple's sample passes the raw challenge bytes as clientDataHash.
        client_data_hash: text(&apple, "clientDataHash_utf8").as_bytes().to_vec(),
        app_id: AppId::new(
            text(&apple, "teamIdentifier"),
            text(&apple, "bundleIdentifier"),
        ),
        environment: Environment::Production,
        valid_at: at(text(&apple, "validAt")),
    });

    for (file, environment, valid_at) in [
        (
            "uebelack-attestation-development.json",
            Environment::Development,
            "2024-02-04T00:00:00Z",
        ),
        (
            "uebelack-attestation-production.json",
            Environment::Production,
            "2024-02-07T00:00:00Z",
        ),
    ] {
        let vector = read_json(dir, file);
        let challenge = decode_base64_any(text(&vector, "challenge")).unwrap();
        vectors.push(AttestationVector {
            name: file.to_owned(),
            object: decode_base64_any(text(&vector, "attestation")).unwrap(),
            key_id: decode_base64_any(text(&vector, "keyId")).unwrap(),
            client_data_hash: sha256(&challenge).to_vec(),
            app_id: AppId::new("V8H6LQ9448", "io.uebelacker.AppAttestExample"),
            environment,
            valid_at: at(valid_at),
        });
    }

    let bas_d = read_json(dir, "bas-d-attestation.json");
    let client_data = decode_base64_any(text(&bas_d, "clientData")).unwrap();
    vectors.push(AttestationVector {
        name: "bas-d".to_owned(),
        object: decode_base64_any(text(&bas_d, "attestationObject")).unwrap(),
        key_id: decode_base64_any(text(&bas_d, "keyID")).unwrap(),
        client_data_hash: sha256(&client_data).to_vec(),
        app_id: AppId::parse(text(&bas_d, "appId")).unwrap(),
        environment: Environment::Development,
        // The certificate's notBefore, a boundary case.
        valid_at: at("2021-04-14T09:55:20Z"),
    });

    for file in [
        "veehaitch-ios-14.2.yaml",
        "veehaitch-ios-14.3-beta-2.yaml",
        "veehaitch-ios-14.3-beta-3.yaml",
        "veehaitch-ios-14.3.yaml",
    ] {
        let text = std::fs::read_to_string(dir.join("app-attest").join(file)).unwrap();
        for document in yaml_documents(&text) {
            if document.get("type").map(String::as_str) != Some("attestation") {
                continue;
            }
            vectors.push(AttestationVector {
                name: format!("{file} {}", document["id"]),
                object: decode_base64_any(&document["attestationBase64"]).unwrap(),
                key_id: decode_base64_any(&document["keyIdBase64"]).unwrap(),
                client_data_hash: decode_base64_any(&document["clientDataHashSha256Base64"])
                    .unwrap(),
                app_id: AppId::new(&document["teamIdentifier"], &document["bundleIdentifier"]),
                environment: Environment::parse(&document["environment"]).unwrap(),
                valid_at: at(&document["timestamp"]),
            });
        }
    }
    vectors
}

#[test]
fn real_attestations_valid_at_their_time() {
    let Some(dir) = vectors_dir() else { return };
    let vectors = attestation_vectors(&dir);
    assert_eq!(vectors.len(), 8);
    for vector in &vectors {
        let verified = vector
            .verify()
            .unwrap_or_else(|error| panic!("{}: {error}", vector.name));
        assert_eq!(
            verified.key_id().as_slice(),
            vector.key_id,
            "{}",
            vector.name
        );
        assert_eq!(
            verified.environment(),
            vector.environment,
            "{}",
            vector.name
        );
        assert!(!verified.receipt().is_empty(), "{}", vector.name);
    }
}

#[test]
fn real_attestations_rejected_when_one_input_changes() {
    let Some(dir) = vectors_dir() else { return };
    for vector in attestation_vectors(&dir) {
        let name = &vector.name;

        let error = vector
            .verify_with(|inputs| inputs.client_data_hash.push(0))
            .unwrap_err();
        assert_eq!(error, Error::CertificateNonceMismatch, "{name}");

        let error = vector
            .verify_with(|inputs| {
                inputs.app_id = AppId::parse("ABCDE12345.com.example.other").unwrap();
            })
            .unwrap_err();
        assert_eq!(error.reason(), "app_id_mismatch", "{name}");

        let error = vector
            .verify_with(|inputs| {
                inputs.time = UnixTime::since_unix_epoch(std::time::Duration::from_secs(
                    inputs.time.as_secs() + 400 * 24 * 3600,
                ));
            })
            .unwrap_err();
        assert_eq!(error.reason(), "certificate_expired", "{name}");

        let error = vector
            .verify_with(|inputs| inputs.roots = Roots::empty())
            .unwrap_err();
        assert_eq!(error, Error::UnknownIssuer, "{name}");

        let error = vector
            .verify_with(|inputs| {
                inputs.environment = match inputs.environment {
                    Environment::Development => Environment::Production,
                    Environment::Production => Environment::Development,
                };
            })
            .unwrap_err();
        assert_eq!(error.reason(), "environment_mismatch", "{name}");

        let error = vector
            .verify_with(|inputs| inputs.key_id[0] ^= 1)
            .unwrap_err();
        assert_eq!(error, Error::KeyIdMismatch, "{name}");
    }
}

#[test]
fn apple_sample_rejected_after_expiry_and_with_hashed_challenge() {
    let Some(dir) = vectors_dir() else { return };
    let apple = read_json(&dir, "apple-doc-sample-attestation.json");
    let vector = attestation_vectors(&dir).remove(0);

    let error = vector
        .verify_with(|inputs| inputs.time = at(text(&apple, "invalidAt")))
        .unwrap_err();
    assert!(
        matches!(error, Error::CertificateExpired { which: "leaf", .. }),
        "{error:?}"
    );

    let error = vector
        .verify_with(|inputs| inputs.client_data_hash = sha256(b"test_server_challenge").to_vec())
        .unwrap_err();
    assert_eq!(error, Error::CertificateNonceMismatch);

    let error = vector
        .verify_with(|inputs| {
            inputs.app_id = AppId::new("0352187391", "com.apple.different_app_attest");
        })
        .unwrap_err();
    assert_eq!(error.reason(), "app_id_mismatch");
}

#[test]
fn real_key_id_accepted_in_every_base64_variant() {
    let Some(dir) = vectors_dir() else { return };
    let vector = read_json(&dir, "uebelack-attestation-production.json");
    let standard = text(&vector, "keyId");
    let url = standard.replace('+', "-").replace('/', "_");
    let url_no_pad = url.trim_end_matches('=').to_owned();
    let expected = decode_base64_any(standard).unwrap();
    for encoded in [standard.to_owned(), url, url_no_pad] {
        assert_eq!(decode_base64_any(&encoded).unwrap(), expected, "{encoded}");
    }
}

/// One real assertion with everything needed to verify it.
struct AssertionVector {
    name: String,
    assertion: Vec<u8>,
    client_data_hash: Vec<u8>,
    app_id: AppId,
    public_key: [u8; 65],
    expected_counter: u32,
}

fn point_from_spki_pem(pem: &str) -> [u8; 65] {
    let body: String = pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    let der = decode_base64_any(&body).unwrap();
    // A P-256 SubjectPublicKeyInfo ends with the 65-byte uncompressed point.
    der[der.len() - 65..].try_into().unwrap()
}

fn assertion_vectors(dir: &Path) -> Vec<AssertionVector> {
    let mut vectors = Vec::new();

    let uebelack = read_json(dir, "uebelack-assertion.json");
    vectors.push(AssertionVector {
        name: "uebelack".to_owned(),
        assertion: decode_base64_any(text(&uebelack, "assertion_base64")).unwrap(),
        client_data_hash: sha256(text(&uebelack, "clientData_utf8").as_bytes()).to_vec(),
        app_id: AppId::new(
            text(&uebelack, "teamIdentifier"),
            text(&uebelack, "bundleIdentifier"),
        ),
        public_key: point_from_spki_pem(text(&uebelack, "publicKeyPem")),
        expected_counter: 1,
    });

    let bas_d = read_json(dir, "bas-d-assertion.json");
    let client_data = decode_base64_any(text(&bas_d, "clientData")).unwrap();
    vectors.push(AssertionVector {
        name: "bas-d".to_owned(),
        assertion: decode_base64_any(text(&bas_d, "assertion")).unwrap(),
        client_data_hash: sha256(&client_data).to_vec(),
        app_id: AppId::parse(text(&bas_d, "appId")).unwrap(),
        public_key: hex::decode(text(&bas_d, "publicKey_uncompressed_hex"))
            .unwrap()
            .try_into()
            .unwrap(),
        expected_counter: 3,
    });

    // The veehaitch assertions are signed by the key their file's attestation attests.
    let attestations = attestation_vectors(dir);
    for file in [
        "veehaitch-ios-14.2.yaml",
        "veehaitch-ios-14.3-beta-2.yaml",
        "veehaitch-ios-14.3-beta-3.yaml",
        "veehaitch-ios-14.3.yaml",
    ] {
        let text = std::fs::read_to_string(dir.join("app-attest").join(file)).unwrap();
        for document in yaml_documents(&text) {
            if document.get("type").map(String::as_str) != Some("assertion") {
                continue;
            }
            let key_id = decode_base64_any(&document["keyIdBase64"]).unwrap();
            let attestation = attestations
                .iter()
                .find(|vector| vector.key_id == key_id)
                .unwrap();
            let verified = attestation.verify().unwrap();
            vectors.push(AssertionVector {
                name: format!("{file} {}", document["id"]),
                assertion: decode_base64_any(&document["assertionBase64"]).unwrap(),
                client_data_hash: decode_base64_any(&document["clientDataHashSha256Base64"])
                    .unwrap(),
                app_id: AppId::new(&document["teamIdentifier"], &document["bundleIdentifier"]),
                public_key: *verified.public_key(),
                expected_counter: document["counter"].parse().unwrap(),
            });
        }
    }
    vectors
}

#[test]
fn real_assertions_valid_and_mutations_rejected() {
    let Some(dir) = vectors_dir() else { return };
    let vectors = assertion_vectors(&dir);
    assert_eq!(vectors.len(), 6);
    for vector in &vectors {
        let name = &vector.name;
        let input = AssertionInput {
            assertion: &vector.assertion,
            client_data_hash: &vector.client_data_hash,
            app_id: &vector.app_id,
            public_key: &vector.public_key,
            stored_counter: 0,
        };
        let verified = verify_assertion(&input).unwrap_or_else(|error| panic!("{name}: {error}"));
        assert_eq!(verified.counter(), vector.expected_counter, "{name}");

        let mut changed_hash = vector.client_data_hash.clone();
        changed_hash[0] ^= 1;
        let error = verify_assertion(&AssertionInput {
            client_data_hash: &changed_hash,
            ..input
        })
        .unwrap_err();
        assert_eq!(error, Error::SignatureInvalid, "{name}");

        let other_app = AppId::parse("ABCDE12345.com.example.other").unwrap();
        let error = verify_assertion(&AssertionInput {
            app_id: &other_app,
            ..input
        })
        .unwrap_err();
        assert_eq!(error.reason(), "app_id_mismatch", "{name}");

        let error = verify_assertion(&AssertionInput {
            stored_counter: vector.expected_counter,
            ..input
        })
        .unwrap_err();
        assert_eq!(
            error,
            Error::CounterNotIncreased {
                stored: vector.expected_counter,
                received: vector.expected_counter,
            },
            "{name}"
        );
    }
}
