//! Tests that decode the generated evidence independently and check every field.

use std::time::Duration;

use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};
use ciborium::Value;
use rustls_pki_types::{CertificateDer, UnixTime};
use webpki::{EndEntityCert, KeyUsage, anchor_from_trusted_cert};

use crate::*;

const APP_ID: &str = "TEAMID1234.com.example.app";
const OTHER_APP_ID: &str = "OTHERTEAM1.com.example.app";

/// 2030-01-01T00:00:00Z, inside every default validity period.
const VALID_AT: u64 = 1_893_456_000;

/// The DER encoding of the nonce extension OID 1.2.840.113635.100.8.2.
const NONCE_OID_DER: [u8; 11] = [
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x63, 0x64, 0x08, 0x02,
];

/// The length of authData without extensions: 37 + aaguid 16 + length 2 + id 32 + COSE key 77.
const PLAIN_AUTH_DATA_LENGTH: usize = 164;

// === decoding helpers ===

fn decode(bytes: &[u8]) -> Value {
    ciborium::from_reader(bytes).expect("generated CBOR decodes")
}

/// Decodes one CBOR item from the front of `bytes` and returns it with the remaining bytes.
fn decode_prefix(bytes: &[u8]) -> (Value, &[u8]) {
    let mut reader = bytes;
    let value = ciborium::from_reader(&mut reader).expect("generated CBOR decodes");
    (value, reader)
}

fn map_entries(value: &Value) -> &[(Value, Value)] {
    match value {
        Value::Map(entries) => entries,
        other => panic!("expected a map, got {other:?}"),
    }
}

fn text_keys(entries: &[(Value, Value)]) -> Vec<String> {
    entries
        .iter()
        .map(|(key, _)| key.as_text().expect("text key").to_owned())
        .collect()
}

fn integer_keys(entries: &[(Value, Value)]) -> Vec<i128> {
    entries
        .iter()
        .map(|(key, _)| i128::from(key.as_integer().expect("integer key")))
        .collect()
}

fn get<'a>(entries: &'a [(Value, Value)], key: &str) -> &'a Value {
    entries
        .iter()
        .find(|(k, _)| k.as_text() == Some(key))
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("missing key {key}"))
}

fn get_integer_key(entries: &[(Value, Value)], key: i64) -> &Value {
    entries
        .iter()
        .find(|(k, _)| k.as_integer().map(i128::from) == Some(i128::from(key)))
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("missing COSE key {key}"))
}

fn as_bytes(value: &Value) -> &[u8] {
    value.as_bytes().expect("byte string")
}

/// The top-level fields of an attestation object.
struct Attestation {
    format: String,
    x5c: Vec<Vec<u8>>,
    receipt: Option<Vec<u8>>,
    auth_data: Vec<u8>,
}

fn parse_attestation(object: &[u8]) -> Attestation {
    let top = decode(object);
    let entries = map_entries(&top);
    let statement = map_entries(get(entries, "attStmt"));
    let x5c = match get(statement, "x5c") {
        Value::Array(items) => items.iter().map(|item| as_bytes(item).to_vec()).collect(),
        other => panic!("x5c is not an array: {other:?}"),
    };
    let receipt = statement
        .iter()
        .find(|(k, _)| k.as_text() == Some("receipt"))
        .map(|(_, v)| as_bytes(v).to_vec());
    Attestation {
        format: get(entries, "fmt").as_text().expect("text fmt").to_owned(),
        x5c,
        receipt,
        auth_data: as_bytes(get(entries, "authData")).to_vec(),
    }
}

/// The fields of attestation authenticator data.
struct AuthData {
    rp_id_hash: [u8; 32],
    flags: u8,
    sign_count: u32,
    aaguid: [u8; 16],
    credential_id: Vec<u8>,
    cose_key: Vec<(Value, Value)>,
    rest: Vec<u8>,
}

fn parse_auth_data(auth_data: &[u8]) -> AuthData {
    let credential_id_length = usize::from(u16::from_be_bytes([auth_data[53], auth_data[54]]));
    let credential_id_end = 55 + credential_id_length;
    let (cose_key, rest) = decode_prefix(&auth_data[credential_id_end..]);
    AuthData {
        rp_id_hash: auth_data[..32].try_into().unwrap(),
        flags: auth_data[32],
        sign_count: u32::from_be_bytes(auth_data[33..37].try_into().unwrap()),
        aaguid: auth_data[37..53].try_into().unwrap(),
        credential_id: auth_data[55..credential_id_end].to_vec(),
        cose_key: map_entries(&cose_key).to_vec(),
        rest: rest.to_vec(),
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// Returns the 32 bytes that follow the well-formed nonce extension prefix in a certificate.
fn nonce_in_certificate(der: &[u8]) -> Option<[u8; 32]> {
    let start = der
        .windows(NONCE_EXTENSION_PREFIX.len())
        .position(|window| window == NONCE_EXTENSION_PREFIX)?
        + NONCE_EXTENSION_PREFIX.len();
    der.get(start..start + 32)?.try_into().ok()
}

fn verify_chain(
    root_der: &[u8],
    x5c: &[Vec<u8>],
    at_unix_seconds: u64,
) -> Result<(), webpki::Error> {
    let root = CertificateDer::from(root_der);
    let anchors = [anchor_from_trusted_cert(&root)?];
    let leaf = CertificateDer::from(x5c[0].as_slice());
    let intermediates: Vec<CertificateDer<'_>> = x5c[1..]
        .iter()
        .map(|der| CertificateDer::from(der.as_slice()))
        .collect();
    let end_entity = EndEntityCert::try_from(&leaf)?;
    end_entity.verify_for_usage(
        &[
            webpki::aws_lc_rs::ECDSA_P384_SHA256,
            webpki::aws_lc_rs::ECDSA_P384_SHA384,
        ],
        &anchors,
        &intermediates,
        UnixTime::since_unix_epoch(Duration::from_secs(at_unix_seconds)),
        KeyUsage::client_auth(),
        None,
        None,
    )?;
    Ok(())
}

fn client_data_hash() -> [u8; 32] {
    sha256(b"challenge from the server")
}

fn attestation_with(
    device: &SimulatedDevice,
    pki: &TestPki,
    mutation: AttestationMutation,
) -> (Attestation, AuthData) {
    let spec = AttestationSpec::new(APP_ID, client_data_hash(), Environment::Development)
        .with_mutation(mutation);
    let attestation = parse_attestation(&device.attestation(pki, &spec));
    let auth_data = parse_auth_data(&attestation.auth_data);
    (attestation, auth_data)
}

fn assert_nonce_covers_auth_data(attestation: &Attestation) {
    assert_eq!(
        nonce_in_certificate(&attestation.x5c[0]),
        Some(expected_cert_nonce(
            &attestation.auth_data,
            &client_data_hash()
        )),
    );
}

fn assertion_parts(assertion: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let top = decode(assertion);
    let entries = map_entries(&top);
    assert_eq!(text_keys(entries), ["signature", "authenticatorData"]);
    (
        as_bytes(get(entries, "signature")).to_vec(),
        as_bytes(get(entries, "authenticatorData")).to_vec(),
    )
}

fn signed_message(authenticator_data: &[u8], client_data_hash: &[u8]) -> [u8; 32] {
    let mut signed = authenticator_data.to_vec();
    signed.extend_from_slice(client_data_hash);
    sha256(&signed)
}

fn verifies_der(device: &SimulatedDevice, message: &[u8], signature: &[u8]) -> bool {
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, device.public_key())
        .verify(message, signature)
        .is_ok()
}

// === helpers and keys ===

#[test]
fn sha256_matches_known_digest() {
    assert_eq!(
        hex::encode(sha256(b"abc")),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
}

#[test]
fn app_id_hash_is_sha256_of_app_id() {
    assert_eq!(app_id_hash(APP_ID), sha256(APP_ID.as_bytes()));
}

#[test]
fn expected_cert_nonce_hashes_concatenation() {
    assert_eq!(expected_cert_nonce(b"auth", b"data"), sha256(b"authdata"));
}

#[test]
fn environment_aaguids() {
    assert_eq!(&Environment::Development.aaguid(), b"appattestdevelop");
    assert_eq!(
        &Environment::Production.aaguid(),
        b"appattest\0\0\0\0\0\0\0"
    );
}

#[test]
fn device_key_id_is_sha256_of_point() {
    let device = SimulatedDevice::new();
    let point = device.public_key();
    assert_eq!(point[0], 0x04);
    assert_eq!(device.key_id(), sha256(&point));
}

#[test]
fn device_pkcs8_round_trip_keeps_key() {
    let device = SimulatedDevice::new();
    let reloaded = SimulatedDevice::from_pkcs8(device.pkcs8_der()).unwrap();
    assert_eq!(reloaded.key_id(), device.key_id());
}

#[test]
fn device_from_pkcs8_rejects_garbage() {
    assert!(SimulatedDevice::from_pkcs8(b"not a key").is_err());
}

#[test]
fn device_debug_hides_private_key() {
    let device = SimulatedDevice::new();
    let debug = format!("{device:?}");
    assert!(debug.contains(&hex::encode(device.key_id())));
    assert!(!debug.contains(&hex::encode(device.pkcs8_der())));
}

#[test]
fn two_devices_have_different_keys() {
    assert_ne!(
        SimulatedDevice::new().key_id(),
        SimulatedDevice::new().key_id()
    );
}

// === test PKI ===

#[test]
fn pki_certificates_carry_names() {
    let pki = TestPki::new();
    assert!(contains(pki.root_der(), b"Test App Attestation Root CA"));
    assert!(contains(
        pki.intermediate_der(),
        b"Test App Attestation CA 1"
    ));
    assert!(pki.root_pem().starts_with("-----BEGIN CERTIFICATE-----"));
    assert!(
        pki.intermediate_pem()
            .starts_with("-----BEGIN CERTIFICATE-----")
    );
}

#[test]
fn two_pkis_are_unrelated() {
    let first = TestPki::new();
    let second = TestPki::new();
    assert_ne!(first.root_der(), second.root_der());
    assert_ne!(first.intermediate_der(), second.intermediate_der());
}

// === valid attestation ===

#[test]
fn attestation_top_level_structure() {
    let pki = TestPki::new();
    let device = SimulatedDevice::new();
    let spec = AttestationSpec::new(APP_ID, client_data_hash(), Environment::Development);
    let object = device.attestation(&pki, &spec);

    let top = decode(&object);
    let entries = map_entries(&top);
    assert_eq!(text_keys(entries), ["fmt", "attStmt", "authData"]);
    let statement = map_entries(get(entries, "attStmt"));
    assert_eq!(text_keys(statement), ["x5c", "receipt"]);

    let attestation = parse_attestation(&object);
    assert_eq!(attestation.format, "apple-appattest");
    assert_eq!(attestation.x5c.len(), 2);
    assert_eq!(attestation.x5c[1], pki.intermediate_der());
    assert_eq!(attestation.receipt.as_deref(), Some(PLACEHOLDER_RECEIPT));
}

#[test]
fn attestation_object_has_no_trailing_bytes() {
    let pki = TestPki::new();
    let device = SimulatedDevice::new();
    let spec = AttestationSpec::new(APP_ID, client_data_hash(), Environment::Development);
    let object = device.attestation(&pki, &spec);
    let (_, rest) = decode_prefix(&object);
    assert!(rest.is_empty());
}

#[test]
fn attestation_auth_data_fields() {
    let pki = TestPki::new();
    let device = SimulatedDevice::new();
    let (attestation, auth_data) = attestation_with(&device, &pki, AttestationMutation::None);

    assert_eq!(attestation.auth_data.len(), PLAIN_AUTH_DATA_LENGTH);
    assert_eq!(auth_data.rp_id_hash, app_id_hash(APP_ID));
    assert_eq!(auth_data.flags, 0x40);
    assert_eq!(auth_data.sign_count, 0);
    assert_eq!(&auth_data.aaguid, b"appattestdevelop");
    assert_eq!(auth_data.credential_id, device.key_id());
    assert!(auth_data.rest.is_empty());
}

#[test]
fn attestation_cose_key_matches_device_key() {
    let pki = TestPki::new();
    let device = SimulatedDevice::new();
    let (_, auth_data) = attestation_with(&device, &pki, AttestationMutation::None);
    let point = device.public_key();
    let cose = &auth_data.cose_key;

    assert_eq!(integer_keys(cose), [1, 3, -1, -2, -3]);
    assert_eq!(get_integer_key(cose, 1), &Value::Integer(2.into()));
    assert_eq!(get_integer_key(cose, 3), &Value::Integer((-7).into()));
    assert_eq!(get_integer_key(cose, -1), &Value::Integer(1.into()));
    assert_eq!(as_bytes(get_integer_key(cose, -2)), &point[1..33]);
    assert_eq!(as_bytes(get_integer_key(cose, -3)), &point[33..65]);
}

#[test]
fn attestation_production_uses_production_aaguid() {
    let pki = TestPki::new();
    let device = SimulatedDevice::new();
    let spec = AttestationSpec::new(APP_ID, client_data_hash(), Environment::Production);
    let attestation = parse_attestation(&device.attestation(&pki, &spec));
    let auth_data = parse_auth_data(&attestation.auth_data);
    assert_eq!(&auth_data.aaguid, b"appattest\0\0\0\0\0\0\0");
}

#[test]
fn credential_certificate_names_key_and_nonce() {
    let pki = TestPki::new();
    let device = SimulatedDevice::new();
    let (attestation, _) = attestation_with(&device, &pki, AttestationMutation::None);
    let leaf = &attestation.x5c[0];

    assert!(contains(leaf, hex::encode(device.key_id()).as_bytes()));
    assert!(contains(leaf, &device.public_key()));
    assert!(contains(leaf, &NONCE_OID_DER));
    assert_nonce_covers_auth_data(&attestation);
}

#[test]
fn credential_certificate_honours_validity() {
    let pki = TestPki::new();
    let device = SimulatedDevice::new();
    let mut spec = AttestationSpec::new(APP_ID, client_data_hash(), Environment::Development);
    spec.leaf_not_before = rcgen::date_time_ymd(2025, 6, 1);
    spec.leaf_not_after = rcgen::date_time_ymd(2025, 6, 4);
    let attestation = parse_attestation(&device.attestation(&pki, &spec));

    // 2025-06-02T00:00:00Z, 2025-05-31T00:00:00Z and 2025-06-05T00:00:00Z.
    assert_eq!(
        verify_chain(pki.root_der(), &attestation.x5c, 1_748_822_400),
        Ok(())
    );
    assert!(matches!(
        verify_chain(pki.root_der(), &attestation.x5c, 1_748_649_600),
        Err(webpki::Error::CertNotValidYet { .. })
    ));
    assert!(matches!(
        verify_chain(pki.root_der(), &attestation.x5c, 1_749_081_600),
        Err(webpki::Error::CertExpired { .. })
    ));
}

#[test]
fn chain_passes_webpki() {
    let pki = TestPki::new();
    let device = SimulatedDevice::new();
    let (attestation, _) = attestation_with(&device, &pki, AttestationMutation::None);
    assert_eq!(
        verify_chain(pki.root_der(), &attestation.x5c, VALID_AT),
        Ok(())
    );
}

#[test]
fn chain_rejected_under_other_root() {
    let pki = TestPki::new();
    let other = TestPki::new();
    let device = SimulatedDevice::new();
    let (attestation, _) = attestation_with(&device, &pki, AttestationMutation::None);
    // Both PKIs use the same subject names, so webpki pairs the intermediate with the other
    // root by name and then fails on the signature.
    assert_eq!(
        verify_chain(other.root_der(), &attestation.x5c, VALID_AT),
        Err(webpki::Error::InvalidSignatureForPublicKey)
    );
}

#[test]
fn chain_rejected_after_ca_expiry() {
    let pki = TestPki::new();
    let device = SimulatedDevice::new();
    let (attestation, _) = attestation_with(&device, &pki, AttestationMutation::None);
    // 2050-01-01T00:00:00Z, after the CAs and the default leaf expire.
    assert!(matches!(
        verify_chain(pki.root_der(), &attestation.x5c, 2_524_608_000),
        Err(webpki::Error::CertExpired { .. })
    ));
}

// === attestation mutations ===

#[test]
fn mutation_wrong_format() {
    let pki = TestPki::new();
    let device = SimulatedDevice::new();
    let (attestation, _) = attestation_with(&device, &pki, AttestationMutation::WrongFormat);
    assert_eq!(attestation.format, "packed");
    assert_nonce_covers_auth_data(&attestation);
}

#[test]
fn mutation_rp_id_of_other_app() {
    let pki = TestPki::new();
    let device = SimulatedDevice::new();
    let mutation = AttestationMutation::RpIdOf(OTHER_APP_ID.to_owned());
    let (attestation, auth_data) = attestation_with(&device, &pki, mutation);
    assert_eq!(auth_data.rp_id_hash, app_id_hash(OTHER_APP_ID));
    assert_nonce_covers_auth_data(&attestation);
}

#[test]
fn mutation_counter() {
    let pki = TestPki::new();
    let device = SimulatedDevice::new();
    let (attestation, auth_data) =
        attestation_with(&device, &pki, AttestationMutation::Counter(0x0102_0304));
    assert_eq!(auth_data.sign_count, 0x0102_0304);
    assert_eq!(&attestation.auth_data[33..37], &[1, 2, 3, 4]);
    assert_nonce_covers_auth_data(&attestation);
}

#[test]
fn mutation_aaguid() {
    let pki = TestPki::new();
    let device = SimulatedDevice::new();
    let aaguid = Environment::Production.aaguid();
    let (attestation, auth_data) =
        attestation_with(&device, &pki, AttestationMutation::Aaguid(aaguid));
    assert_eq!(auth_data.aaguid, aaguid);
    assert_nonce_covers_auth_data(&attestation);
}

#[test]
fn mutation_credential_id() {
    let pki = TestPki::new();
    let device = SimulatedDevice::new();
    let credential_id = vec![0xab; 20];
    let mutation = AttestationMutation::CredentialId(credential_id.clone());
    let (attestation, auth_data) = attestation_with(&device, &pki, mutation);
    assert_eq!(auth_data.credential_id, credential_id);
    assert_eq!(&attestation.auth_data[53..55], &[0, 20]);
    assert!(auth_data.rest.is_empty());
    assert_nonce_covers_auth_data(&attestation);
}

#[test]
fn mutation_cose_public_key_of_another_key() {
    let pki = TestPki::new();
    let device = SimulatedDevice::new();
    let (attestation, auth_data) = attestation_with(
        &device,
        &pki,
        AttestationMutation::CosePublicKeyOfAnotherKey,
    );
    let point = device.public_key();
    assert_ne!(
        as_bytes(get_integer_key(&auth_data.cose_key, -2)),
        &point[1..33]
    );
    assert_ne!(
        as_bytes(get_integer_key(&auth_data.cose_key, -3)),
        &point[33..65]
    );
    assert_eq!(auth_data.credential_id, device.key_id());
    assert!(contains(&attestation.x5c[0], &point));
    assert_nonce_covers_auth_data(&attestation);
}

#[test]
fn mutation_cose_map_reordered_keeps_key() {
    let pki = TestPki::new();
    let device = SimulatedDevice::new();
    let (attestation, auth_data) =
        attestation_with(&device, &pki, AttestationMutation::CoseMapReordered);
    let point = device.public_key();
    let cose = &auth_data.cose_key;
    assert_eq!(integer_keys(cose), [-3, -2, -1, 3, 1]);
    assert_eq!(as_bytes(get_integer_key(cose, -2)), &point[1..33]);
    assert_eq!(as_bytes(get_integer_key(cose, -3)), &point[33..65]);
    assert_eq!(get_integer_key(cose, 1), &Value::Integer(2.into()));
    assert_eq!(attestation.auth_data.len(), PLAIN_AUTH_DATA_LENGTH);
    assert_nonce_covers_auth_data(&attestation);
    assert_eq!(
        verify_chain(pki.root_der(), &attestation.x5c, VALID_AT),
        Ok(())
    );
}

#[test]
fn mutation_cert_nonce() {
    let pki = TestPki::new();
    let device = SimulatedDevice::new();
    let wrong = [0x5a; 32];
    let (attestation, _) = attestation_with(&device, &pki, AttestationMutation::CertNonce(wrong));
    assert_eq!(nonce_in_certificate(&attestation.x5c[0]), Some(wrong));
    assert_eq!(
        verify_chain(pki.root_der(), &attestation.x5c, VALID_AT),
        Ok(())
    );
}

#[test]
fn mutation_no_nonce_extension() {
    let pki = TestPki::new();
    let device = SimulatedDevice::new();
    let (attestation, _) = attestation_with(&device, &pki, AttestationMutation::NoNonceExtension);
    assert!(!contains(&attestation.x5c[0], &NONCE_OID_DER));
    assert_eq!(nonce_in_certificate(&attestation.x5c[0]), None);
    assert_eq!(
        verify_chain(pki.root_der(), &attestation.x5c, VALID_AT),
        Ok(())
    );
}

#[test]
fn mutation_malformed_nonce_extension() {
    let pki = TestPki::new();
    let device = SimulatedDevice::new();
    let (attestation, _) =
        attestation_with(&device, &pki, AttestationMutation::MalformedNonceExtension);
    let nonce = expected_cert_nonce(&attestation.auth_data, &client_data_hash());
    let mut truncated = vec![0x30, 0x23, 0xa1, 0x21, 0x04, 0x1f];
    truncated.extend_from_slice(&nonce[..31]);

    assert!(contains(&attestation.x5c[0], &NONCE_OID_DER));
    assert!(contains(&attestation.x5c[0], &truncated));
    assert_eq!(nonce_in_certificate(&attestation.x5c[0]), None);
    assert_eq!(
        verify_chain(pki.root_der(), &attestation.x5c, VALID_AT),
        Ok(())
    );
}

#[test]
fn mutation_leaf_signed_by_other_pki() {
    let pki = TestPki::new();
    let device = SimulatedDevice::new();
    let (attestation, _) =
        attestation_with(&device, &pki, AttestationMutation::LeafSignedByOtherPki);
    assert_eq!(attestation.x5c.len(), 2);
    assert_ne!(attestation.x5c[1], pki.intermediate_der());
    assert!(contains(&attestation.x5c[0], &device.public_key()));
    assert_nonce_covers_auth_data(&attestation);
    assert_eq!(
        verify_chain(pki.root_der(), &attestation.x5c, VALID_AT),
        Err(webpki::Error::InvalidSignatureForPublicKey)
    );
}

#[test]
fn mutation_only_leaf_in_x5c() {
    let pki = TestPki::new();
    let device = SimulatedDevice::new();
    let (attestation, _) = attestation_with(&device, &pki, AttestationMutation::OnlyLeafInX5c);
    assert_eq!(attestation.x5c.len(), 1);
    assert_nonce_covers_auth_data(&attestation);
    assert_eq!(
        verify_chain(pki.root_der(), &attestation.x5c, VALID_AT),
        Err(webpki::Error::UnknownIssuer)
    );
}

#[test]
fn mutation_x5c_reversed() {
    let pki = TestPki::new();
    let device = SimulatedDevice::new();
    let (attestation, _) = attestation_with(&device, &pki, AttestationMutation::X5cReversed);
    assert_eq!(attestation.x5c.len(), 2);
    assert_eq!(attestation.x5c[0], pki.intermediate_der());
    assert!(contains(&attestation.x5c[1], &device.public_key()));
}

#[test]
fn mutation_extension_map_without_ed_flag() {
    let pki = TestPki::new();
    let device = SimulatedDevice::new();
    let mutation = AttestationMutation::ExtensionMap { ed_flag: false };
    let (attestation, auth_data) = attestation_with(&device, &pki, mutation);
    assert_eq!(auth_data.flags, 0x40);
    check_extension_map(&auth_data.rest);
    assert_nonce_covers_auth_data(&attestation);
    assert_eq!(
        verify_chain(pki.root_der(), &attestation.x5c, VALID_AT),
        Ok(())
    );
}

#[test]
fn mutation_extension_map_with_ed_flag() {
    let pki = TestPki::new();
    let device = SimulatedDevice::new();
    let mutation = AttestationMutation::ExtensionMap { ed_flag: true };
    let (attestation, auth_data) = attestation_with(&device, &pki, mutation);
    assert_eq!(auth_data.flags, 0xc0);
    check_extension_map(&auth_data.rest);
    assert_nonce_covers_auth_data(&attestation);
}

fn check_extension_map(bytes: &[u8]) {
    let (map, rest) = decode_prefix(bytes);
    assert!(rest.is_empty());
    let entries = map_entries(&map);
    assert_eq!(
        text_keys(entries),
        ["apple_bundle_version_01", "apple_validation_category_01"]
    );
    assert_eq!(
        get(entries, "apple_bundle_version_01").as_text(),
        Some(IOS_EXTENSION_BUNDLE_VERSION)
    );
    assert_eq!(
        as_bytes(get(entries, "apple_validation_category_01")),
        &IOS_EXTENSION_VALIDATION_CATEGORY
    );
}

#[test]
fn mutation_trailing_auth_data_bytes() {
    let pki = TestPki::new();
    let device = SimulatedDevice::new();
    let junk = vec![0xde, 0xad, 0xbe, 0xef];
    let mutation = AttestationMutation::TrailingAuthDataBytes(junk.clone());
    let (attestation, auth_data) = attestation_with(&device, &pki, mutation);
    assert_eq!(auth_data.rest, junk);
    assert_eq!(
        attestation.auth_data.len(),
        PLAIN_AUTH_DATA_LENGTH + junk.len()
    );
    assert_nonce_covers_auth_data(&attestation);
}

#[test]
fn mutation_duplicate_top_level_key() {
    let pki = TestPki::new();
    let device = SimulatedDevice::new();
    let spec = AttestationSpec::new(APP_ID, client_data_hash(), Environment::Development)
        .with_mutation(AttestationMutation::DuplicateTopLevelKey);
    let object = device.attestation(&pki, &spec);
    assert_eq!(object[0], 0xa4);
    let top = decode(&object);
    let entries = map_entries(&top);
    assert_eq!(text_keys(entries), ["fmt", "attStmt", "authData", "fmt"]);
    assert_eq!(entries[3].1.as_text(), Some(APP_ATTEST_FORMAT));
}

#[test]
fn mutation_trailing_cbor_bytes() {
    let pki = TestPki::new();
    let device = SimulatedDevice::new();
    let spec = AttestationSpec::new(APP_ID, client_data_hash(), Environment::Development)
        .with_mutation(AttestationMutation::TrailingCborBytes);
    let object = device.attestation(&pki, &spec);
    let (top, rest) = decode_prefix(&object);
    assert_eq!(rest, [0x00]);
    assert_eq!(text_keys(map_entries(&top)), ["fmt", "attStmt", "authData"]);
}

#[test]
fn mutation_missing_receipt() {
    let pki = TestPki::new();
    let device = SimulatedDevice::new();
    let (attestation, _) = attestation_with(&device, &pki, AttestationMutation::MissingReceipt);
    assert_eq!(attestation.receipt, None);
    assert_eq!(attestation.x5c.len(), 2);
}

#[test]
fn mutation_indefinite_length() {
    let pki = TestPki::new();
    let device = SimulatedDevice::new();
    let spec = AttestationSpec::new(APP_ID, client_data_hash(), Environment::Development)
        .with_mutation(AttestationMutation::IndefiniteLength);
    let object = device.attestation(&pki, &spec);
    assert_eq!(object.first(), Some(&0xbf));
    assert_eq!(object.last(), Some(&0xff));
    let (top, rest) = decode_prefix(&object);
    assert!(rest.is_empty());
    assert_eq!(text_keys(map_entries(&top)), ["fmt", "attStmt", "authData"]);
    let attestation = parse_attestation(&object);
    assert_nonce_covers_auth_data(&attestation);
}

// === assertions ===

#[test]
fn assertion_valid_structure_and_signature() {
    let device = SimulatedDevice::new();
    let spec = AssertionSpec::new(APP_ID, client_data_hash(), 0x0000_0102);
    let (signature, authenticator_data) = assertion_parts(&device.assertion(&spec));

    assert_eq!(authenticator_data.len(), 37);
    assert_eq!(&authenticator_data[..32], &app_id_hash(APP_ID));
    assert_eq!(authenticator_data[32], 0x40);
    assert_eq!(&authenticator_data[33..37], &[0, 0, 1, 2]);
    let message = signed_message(&authenticator_data, &client_data_hash());
    assert!(verifies_der(&device, &message, &signature));
}

#[test]
fn assertion_object_has_no_trailing_bytes() {
    let device = SimulatedDevice::new();
    let spec = AssertionSpec::new(APP_ID, client_data_hash(), 1);
    let assertion = device.assertion(&spec);
    let (_, rest) = decode_prefix(&assertion);
    assert!(rest.is_empty());
}

#[test]
fn assertion_with_extension_map() {
    let device = SimulatedDevice::new();
    let mut spec = AssertionSpec::new(APP_ID, client_data_hash(), 5);
    spec.extension_map = true;
    let (signature, authenticator_data) = assertion_parts(&device.assertion(&spec));

    assert_eq!(authenticator_data[32], 0x40);
    assert_eq!(&authenticator_data[33..37], &[0, 0, 0, 5]);
    check_extension_map(&authenticator_data[37..]);
    let message = signed_message(&authenticator_data, &client_data_hash());
    assert!(verifies_der(&device, &message, &signature));
}

#[test]
fn assertion_mutation_rp_id_of_other_app() {
    let device = SimulatedDevice::new();
    let spec = AssertionSpec::new(APP_ID, client_data_hash(), 1)
        .with_mutation(AssertionMutation::RpIdOf(OTHER_APP_ID.to_owned()));
    let (signature, authenticator_data) = assertion_parts(&device.assertion(&spec));
    assert_eq!(&authenticator_data[..32], &app_id_hash(OTHER_APP_ID));
    let message = signed_message(&authenticator_data, &client_data_hash());
    assert!(verifies_der(&device, &message, &signature));
}

#[test]
fn assertion_mutation_signature_over_wrong_message() {
    let device = SimulatedDevice::new();
    let spec = AssertionSpec::new(APP_ID, client_data_hash(), 1)
        .with_mutation(AssertionMutation::SignatureOverWrongMessage);
    let (signature, authenticator_data) = assertion_parts(&device.assertion(&spec));
    let message = signed_message(&authenticator_data, &client_data_hash());
    assert!(!verifies_der(&device, &message, &signature));

    let mut extended = client_data_hash().to_vec();
    extended.push(0x00);
    let wrong_message = signed_message(&authenticator_data, &extended);
    assert!(verifies_der(&device, &wrong_message, &signature));
}

#[test]
fn assertion_mutation_signature_by_other_key() {
    let device = SimulatedDevice::new();
    let spec = AssertionSpec::new(APP_ID, client_data_hash(), 1)
        .with_mutation(AssertionMutation::SignatureByOtherKey);
    let (signature, authenticator_data) = assertion_parts(&device.assertion(&spec));
    assert_eq!(signature[0], 0x30);
    let message = signed_message(&authenticator_data, &client_data_hash());
    assert!(!verifies_der(&device, &message, &signature));
}

#[test]
fn assertion_mutation_raw_signature() {
    let device = SimulatedDevice::new();
    let spec = AssertionSpec::new(APP_ID, client_data_hash(), 1)
        .with_mutation(AssertionMutation::RawSignature);
    let (signature, authenticator_data) = assertion_parts(&device.assertion(&spec));
    assert_eq!(signature.len(), 64);
    let message = signed_message(&authenticator_data, &client_data_hash());
    assert!(!verifies_der(&device, &message, &signature));
    let fixed = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, device.public_key());
    assert!(fixed.verify(&message, &signature).is_ok());
}

#[test]
fn assertion_mutation_truncated_auth_data() {
    let device = SimulatedDevice::new();
    let spec = AssertionSpec::new(APP_ID, client_data_hash(), 1)
        .with_mutation(AssertionMutation::TruncatedAuthData);
    let (signature, authenticator_data) = assertion_parts(&device.assertion(&spec));
    assert_eq!(authenticator_data.len(), 36);
    let message = signed_message(&authenticator_data, &client_data_hash());
    assert!(verifies_der(&device, &message, &signature));
}

#[test]
fn assertion_from_reloaded_key_verifies_with_original() {
    let device = SimulatedDevice::new();
    let reloaded = SimulatedDevice::from_pkcs8(device.pkcs8_der()).unwrap();
    let spec = AssertionSpec::new(APP_ID, client_data_hash(), 9);
    let (signature, authenticator_data) = assertion_parts(&reloaded.assertion(&spec));
    let message = signed_message(&authenticator_data, &client_data_hash());
    assert!(verifies_der(&device, &message, &signature));
}
