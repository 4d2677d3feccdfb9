//! Pins, encodings, cross-signs, validated paths and key types on real public certificates.

mod common;

use std::collections::BTreeMap;

use avow_pinning::{
    CertificateRole, ChainCertificate, Error, KeyType, Pin, PinFormatError, PinMatch, validate_path,
};
use common::{chains_dir, current_roots, inside_validity, load, load_one, server_name, store};

const ISRG_ROOT_X1_PIN: &str = "C5+lpZ7tcVwmwQIMcRtPbsQtWLABXhQzejna0wHFr8M=";
const ISRG_ROOT_X2_PIN: &str = "diGVwiVYbubAI3RW4hB9xU8e/CH2GnkuvVFZE8zmgzI=";
const E6_PIN: &str = "0Bbh/jEZSKymTy3kTOhsmlHKBB32EDu1KojrP3YfV9c=";

fn pin(text: &str) -> Pin {
    Pin::parse(text).unwrap()
}

/// One row of the pin table in the vectors README.
struct Row {
    file: String,
    index: usize,
    spki_pin: String,
    cert_hash: String,
}

/// Reads the pin table: `| file | # | subject | issuer | key | notAfter | pin | cert hash |`.
fn pin_table(readme: &str) -> Vec<Row> {
    let start = readme
        .find("## Pin table")
        .expect("the README has a pin table section");
    readme[start..]
        .lines()
        .filter(|line| line.starts_with("| ") && line.contains(".pem"))
        .map(|line| {
            let cells: Vec<&str> = line
                .trim_matches('|')
                .split('|')
                .map(|cell| cell.trim().trim_matches('`'))
                .collect();
            assert_eq!(cells.len(), 8, "{line}");
            Row {
                file: cells[0].to_owned(),
                index: cells[1].parse().unwrap(),
                spki_pin: cells[6].to_owned(),
                cert_hash: cells[7].to_owned(),
            }
        })
        .collect()
}

#[test]
fn every_listed_pin_equals_the_computed_pin() {
    let Some(chains) = chains_dir() else { return };
    let readme = std::fs::read_to_string(chains.join("README.md")).unwrap();
    let rows = pin_table(&readme);
    assert!(
        rows.len() >= 70,
        "only {} rows in the pin table",
        rows.len()
    );
    let mut files: BTreeMap<String, Vec<_>> = BTreeMap::new();
    for row in &rows {
        let certs = files
            .entry(row.file.clone())
            .or_insert_with(|| load(&chains, &row.file));
        let der = &certs[row.index];
        let computed = Pin::from_certificate_der(der.as_ref()).unwrap();
        assert_eq!(
            computed.to_string(),
            row.spki_pin,
            "{} #{}",
            row.file,
            row.index
        );
        assert_eq!(computed, pin(&row.spki_pin));
        assert_eq!(computed.identify(der.as_ref()), PinMatch::Spki);

        // The whole-certificate column is a certificate fingerprint, not a pin: it is well
        // formed base64, so only `identify` can tell.
        let fingerprint = pin(&row.cert_hash);
        assert_eq!(
            fingerprint.identify(der.as_ref()),
            PinMatch::WholeCertificate,
            "{} #{}",
            row.file,
            row.index
        );
    }
}

#[test]
fn trust_anchor_pin_rewraps_the_spki() {
    let Some(chains) = chains_dir() else { return };
    let x1 = store(&chains, &["letsencrypt/isrg-root-x1.pem"]);
    assert_eq!(x1.pins(), vec![pin(ISRG_ROOT_X1_PIN)]);
    // The Mozilla store from webpki-roots contains ISRG Root X1 with the same pin.
    assert!(
        avow_pinning::mozilla_roots()
            .iter()
            .any(|anchor| Pin::from_trust_anchor(anchor) == pin(ISRG_ROOT_X1_PIN))
    );
}

#[test]
fn interop_formats_only_base64_parses() {
    let Some(chains) = chains_dir() else { return };
    let x1 = load_one(&chains, "letsencrypt/isrg-root-x1.pem");
    let expected = Pin::from_certificate_der(x1.as_ref()).unwrap();

    assert_eq!(pin(ISRG_ROOT_X1_PIN), expected);
    let rejected = [
        (
            "sha256/C5+lpZ7tcVwmwQIMcRtPbsQtWLABXhQzejna0wHFr8M=",
            "pin_okhttp_prefix",
        ),
        (
            "pin-sha256=\"C5+lpZ7tcVwmwQIMcRtPbsQtWLABXhQzejna0wHFr8M=\"",
            "pin_hpkp_directive",
        ),
        (
            "sha256//C5+lpZ7tcVwmwQIMcRtPbsQtWLABXhQzejna0wHFr8M=",
            "pin_curl_prefix",
        ),
        (
            "0b9fa5a59eed715c26c1020c711b4f6ec42d58b0015e14337a39dad301c5afc3",
            "pin_hex",
        ),
        (
            "C5-lpZ7tcVwmwQIMcRtPbsQtWLABXhQzejna0wHFr8M",
            "pin_base64url",
        ),
        (
            "96:BC:EC:06:26:49:76:F3:74:60:77:9A:CF:28:C5:A7:CF:E8:A3:C0:AA:E1:1A:8F:FC:EE:05:C0:BD:DF:08:C6",
            "pin_colon_hex",
        ),
    ];
    for (text, reason) in rejected {
        let err = Pin::parse(text).unwrap_err();
        assert_eq!(err.reason(), reason, "{text}");
        // The same digest is inside every rejected form but the fingerprint.
        let recovered = PinFormatError::recover(text).unwrap();
        let kind = recovered.identify(x1.as_ref());
        if reason == "pin_colon_hex" {
            assert_eq!(kind, PinMatch::WholeCertificate, "{text}");
        } else {
            assert_eq!(kind, PinMatch::Spki, "{text}");
        }
    }
}

#[test]
fn raw_key_hashes_are_identified() {
    let Some(chains) = chains_dir() else { return };
    // LE R11: SHA-256 of the PKCS#1 RSAPublicKey instead of the SPKI.
    let r11 = load_one(&chains, "letsencrypt/r11.pem");
    let raw = pin("xc9GpOr0w8B6bJXELbBeki8m47kJwYOItxBghukBkLM=");
    assert_eq!(raw.identify(r11.as_ref()), PinMatch::RawKey);
    assert_ne!(raw, Pin::from_certificate_der(r11.as_ref()).unwrap());
    assert_eq!(
        Pin::from_certificate_der(r11.as_ref()).unwrap(),
        pin("bdrBhpj38ffhxpubzkINl0rG+UyossdhcBYj+Zx2fcc=")
    );

    // The SPKI of a P-256 key is a fixed 26-byte header followed by the raw point, which is
    // what iOS returns for the key. Hashing the point alone gives a raw-key hash.
    let leaf = load(&chains, "sites/letsencrypt.org_2025-01-31_via-E6.chain.pem").remove(0);
    let header = [
        0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08,
        0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
    ];
    let der = leaf.as_ref();
    let at = der
        .windows(header.len())
        .position(|window| window == header)
        .expect("the P-256 SPKI header is in the certificate");
    let point = &der[at + header.len()..at + header.len() + 65];
    assert_eq!(point[0], 0x04, "uncompressed point");
    let point_hash = Pin::from_spki_der(point);
    assert_eq!(point_hash.identify(der), PinMatch::RawKey);
    assert_eq!(
        Pin::from_spki_der(&der[at..at + header.len() + 65]),
        Pin::from_certificate_der(der).unwrap()
    );
    assert_eq!(pin(E6_PIN).identify(der), PinMatch::None);
}

#[test]
fn cross_signs_keep_spki_pin() {
    let Some(chains) = chains_dir() else { return };
    let pairs = [
        ("letsencrypt/e6.pem", "letsencrypt/e6-by-x1.pem"),
        ("letsencrypt/e5.pem", "letsencrypt/e5-by-x1.pem"),
        (
            "letsencrypt/isrg-root-x1.pem",
            "letsencrypt/isrg-root-x1-by-dst-root-ca-x3.pem",
        ),
        ("letsencrypt/r3.pem", "letsencrypt/r3-by-dst-root-ca-x3.pem"),
        (
            "letsencrypt/isrg-root-x2.pem",
            "letsencrypt/isrg-root-x2-by-x1-2020.pem",
        ),
        (
            "letsencrypt/isrg-root-x2.pem",
            "letsencrypt/isrg-root-x2-by-x1-2026.pem",
        ),
        ("letsencrypt/root-ye.pem", "letsencrypt/root-ye-by-x2.pem"),
        ("letsencrypt/root-yr.pem", "letsencrypt/root-yr-by-x1.pem"),
    ];
    for (own, cross) in pairs {
        let own = load_one(&chains, own);
        let cross = load_one(&chains, cross);
        let pin = Pin::from_certificate_der(own.as_ref()).unwrap();
        assert_eq!(pin, Pin::from_certificate_der(cross.as_ref()).unwrap());
        assert_eq!(pin.identify(cross.as_ref()), PinMatch::Spki);
        let own_hash = Pin::from_spki_der(own.as_ref());
        assert_eq!(own_hash.identify(own.as_ref()), PinMatch::WholeCertificate);
        assert_eq!(own_hash.identify(cross.as_ref()), PinMatch::None);
    }
}

#[test]
fn path_ends_at_x1_with_x2_served_only() {
    let Some(chains) = chains_dir() else { return };
    let served = load(&chains, "sites/letsencrypt.org_2025-01-31_via-E6.chain.pem");
    let anchors = store(&chains, &["letsencrypt/isrg-root-x1.pem"]);
    let now = inside_validity(&served[0]);
    let path = validate_path(
        &served,
        anchors.anchors(),
        &server_name("letsencrypt.org"),
        now,
    )
    .unwrap();

    let roles: Vec<CertificateRole> = path.certificates().iter().map(|c| c.role).collect();
    assert_eq!(
        roles,
        [
            CertificateRole::Leaf,
            CertificateRole::Intermediate,
            CertificateRole::Anchor
        ]
    );
    assert_eq!(path.intermediates()[0].pin, pin(E6_PIN));
    assert_eq!(path.anchor().pin, pin(ISRG_ROOT_X1_PIN));
    assert!(path.anchor().subject.contains("ISRG Root X1"));
    // An anchor known only as a TrustAnchor has no certificate and so no expiry.
    assert_eq!(path.anchor().not_after, None);

    assert!(!path.contains_pin(&pin(ISRG_ROOT_X2_PIN)));
    assert_eq!(path.served_only_pins(), vec![pin(ISRG_ROOT_X2_PIN)]);
    assert_eq!(path.served_only().len(), 1);
    assert_eq!(path.served_only()[0].role, CertificateRole::ServedOnly);
}

#[test]
fn path_drops_dst_cross_sign() {
    let Some(chains) = chains_dir() else { return };
    let served = load(&chains, "sites/lencr.org_2023-09-03_via-R3.chain.pem");
    let self_signed = load_one(&chains, "letsencrypt/isrg-root-x1.pem");
    let anchors = store(&chains, &["letsencrypt/isrg-root-x1.pem"]);
    let now = inside_validity(&served[0]);
    let path = anchors
        .validate(&served, &server_name("lencr.org"), now)
        .unwrap();

    assert_eq!(path.certificates().len(), 3);
    assert!(path.intermediates()[0].subject.contains("CN=R3"));
    let anchor = path.anchor();
    assert_eq!(anchor.pin, pin(ISRG_ROOT_X1_PIN));
    // The anchor is the self-signed certificate from the store, not the served cross-sign.
    assert_eq!(anchor.der.as_ref(), Some(&self_signed));
    assert_ne!(anchor.der.as_ref(), Some(&served[2]));
    let self_signed_info =
        ChainCertificate::from_certificate_der(self_signed.as_ref(), CertificateRole::Anchor)
            .unwrap();
    assert_eq!(anchor.not_after, self_signed_info.not_after);

    // The cross-sign was served and not used; its key is the anchor's, so no pin is
    // served-only.
    assert_eq!(path.served_only().len(), 1);
    assert_eq!(path.served_only()[0].der.as_ref(), Some(&served[2]));
    assert!(path.served_only_pins().is_empty());
}

#[test]
fn mismatched_intermediates_fail_and_the_fixed_chain_validates() {
    let Some(chains) = chains_dir() else { return };
    let anchors = store(
        &chains,
        &[
            "letsencrypt/isrg-root-x1.pem",
            "letsencrypt/isrg-root-x2.pem",
        ],
    );
    let host = server_name("lencr.org");

    let broken = load(
        &chains,
        "sites/lencr.org_2024-07-13_via-E6_MISMATCHED-intermediates.chain.pem",
    );
    let now = inside_validity(&broken[0]);
    let err = anchors.validate(&broken, &host, now).unwrap_err();
    assert_eq!(err, Error::UnknownIssuer);
    assert_eq!(err.reason(), "unknown_issuer");

    // With X2 as an anchor the fixed chain stops at X2.
    let fixed = load(&chains, "sites/lencr.org_2024-07-13_via-E6_fixed.chain.pem");
    let path = anchors.validate(&fixed, &host, now).unwrap();
    let pins: Vec<Pin> = path.pins().collect();
    assert_eq!(
        pins,
        [
            Pin::from_certificate_der(fixed[0].as_ref()).unwrap(),
            pin(E6_PIN),
            pin(ISRG_ROOT_X2_PIN)
        ]
    );

    // With only X1 it goes on through the served X2-by-X1 cross-sign.
    let x1_only = store(&chains, &["letsencrypt/isrg-root-x1.pem"]);
    let path = x1_only.validate(&fixed, &host, now).unwrap();
    let pins: Vec<Pin> = path.pins().skip(1).collect();
    assert_eq!(
        pins,
        [pin(E6_PIN), pin(ISRG_ROOT_X2_PIN), pin(ISRG_ROOT_X1_PIN)]
    );
    assert!(path.served_only().is_empty());
}

#[test]
fn site_chains_validate_except_broken_ones() {
    let Some(chains) = chains_dir() else { return };
    let roots = current_roots(&chains);
    let mut checked = 0;
    for entry in std::fs::read_dir(chains.join("sites")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if !name.ends_with(".chain.pem") {
            continue;
        }
        let served = load(&chains, &format!("sites/{name}"));
        let host = name.split('_').next().unwrap();
        let result = roots.validate(&served, &server_name(host), inside_validity(&served[0]));
        if name.contains("MISMATCHED") || name.starts_with("revoked.badssl.com") {
            assert_eq!(result.unwrap_err(), Error::UnknownIssuer, "{name}");
        } else {
            let path = result.unwrap_or_else(|err| panic!("{name}: {err}"));
            assert!(path.anchor().not_after.is_some(), "{name}");
        }
        checked += 1;
    }
    assert!(checked >= 10, "{checked}");
}

#[test]
fn wrong_host_and_expired_leaf_rejected() {
    let Some(chains) = chains_dir() else { return };
    let served = load(&chains, "sites/letsencrypt.org_2025-01-31_via-E6.chain.pem");
    let anchors = store(&chains, &["letsencrypt/isrg-root-x1.pem"]);
    let now = inside_validity(&served[0]);

    let err = anchors
        .validate(&served, &server_name("example.com"), now)
        .unwrap_err();
    assert_eq!(err.reason(), "certificate_name_mismatch");

    let leaf =
        ChainCertificate::from_certificate_der(served[0].as_ref(), CertificateRole::Leaf).unwrap();
    let later = common::seconds(leaf.not_after.unwrap() + 86_400);
    let err = anchors
        .validate(&served, &server_name("letsencrypt.org"), later)
        .unwrap_err();
    assert_eq!(err.reason(), "certificate_expired");
}

#[test]
fn key_types_of_real_certificates() {
    let Some(chains) = chains_dir() else { return };
    let cases = [
        ("letsencrypt/r11.pem", KeyType::Rsa { bits: 2048 }),
        ("letsencrypt/isrg-root-x1.pem", KeyType::Rsa { bits: 4096 }),
        (
            "trustkit-fixtures/www.cloudflare.com_2016_ecdsa-p256.leaf.pem",
            KeyType::EcP256,
        ),
        ("letsencrypt/e6.pem", KeyType::EcP384),
        ("letsencrypt/isrg-root-x2.pem", KeyType::EcP384),
    ];
    for (file, expected) in cases {
        let cert = load_one(&chains, file);
        let info =
            ChainCertificate::from_certificate_der(cert.as_ref(), CertificateRole::Leaf).unwrap();
        assert_eq!(info.key_type, expected, "{file}");
        assert!(info.key_type.is_mobile_supported(), "{file}");
    }
}

#[test]
fn ed25519_and_rsa_1024_unsupported() {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["ed25519.test".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let info =
        ChainCertificate::from_certificate_der(cert.der().as_ref(), CertificateRole::Leaf).unwrap();
    assert_eq!(info.key_type, KeyType::Other("Ed25519".into()));
    assert!(!info.key_type.is_mobile_supported());

    assert!(!KeyType::Rsa { bits: 1024 }.is_mobile_supported());
    assert!(KeyType::Rsa { bits: 3072 }.is_mobile_supported());
    assert!(!KeyType::Rsa { bits: 8192 }.is_mobile_supported());
}
