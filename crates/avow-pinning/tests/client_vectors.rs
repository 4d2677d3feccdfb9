//! The pinning verifier on real public chains, checked at a time they were valid: pins count
//! only on the validated path, never merely in the served list.

mod client_support;
mod common;

use std::time::Duration;

use avow_pinning::client::{PinCheckError, PinningVerifier};
use avow_pinning::{
    CertificateRole, ChainCertificate, Pin, ReportReason, ServerName, TrustStore, UnixTime,
};
use client_support::*;
use common::{chains_dir, load};

const LE_HOST: &str = "letsencrypt.org";
const LE_CHAIN: &str = "sites/letsencrypt.org_2025-01-31_via-E6.chain.pem";

/// ISRG Root X1, E6 and ISRG Root X2 pins as listed in the vectors README.
const X1: &str = "C5+lpZ7tcVwmwQIMcRtPbsQtWLABXhQzejna0wHFr8M=";
const E6: &str = "0Bbh/jEZSKymTy3kTOhsmlHKBB32EDu1KojrP3YfV9c=";
const X2: &str = "diGVwiVYbubAI3RW4hB9xU8e/CH2GnkuvVFZE8zmgzI=";
const AMAZON_ROOT_1: &str = "++MBgDH5WGvL9Bcn5Be30cRcL0f5O+NyoXuWtQdX1aI=";

fn pin(text: &str) -> Pin {
    Pin::parse(text).unwrap()
}

/// Returns a time one day after the leaf's notBefore, when the whole chain was valid.
fn valid_time(chain: &[avow_pinning::CertificateDer<'static>]) -> u64 {
    let leaf =
        ChainCertificate::from_certificate_der(chain[0].as_ref(), CertificateRole::Leaf).unwrap();
    leaf.not_before.unwrap() + DAY
}

/// Builds a verifier holding a document for `host` with `pins`, issued at `time`.
fn verifier_at(chains: &std::path::Path, host: &str, pins: Vec<Pin>, time: u64) -> PinningVerifier {
    let signer = TestSigner::generate();
    let document = document(1, time, vec![domain(host, pins, time + 90 * DAY)]);
    let mut anchors = TrustStore::empty();
    for root in [
        "roots/isrg-root-x1.pem",
        "roots/isrg-root-x2.pem",
        "roots/amazon-root-ca-1.pem",
    ] {
        for cert in load(chains, root) {
            anchors.add_certificate_der(cert).unwrap();
        }
    }
    PinningVerifier::builder(
        signer.verifier(),
        signer.sign(&document),
        ManualClock::new(time, Some(Duration::ZERO)),
    )
    .anchors(anchors)
    .build()
    .unwrap()
}

fn check(
    verifier: &PinningVerifier,
    served: &[avow_pinning::CertificateDer<'static>],
    host: &str,
    time: u64,
) -> Result<(), PinCheckError> {
    verifier.check(
        served,
        &ServerName::try_from(host.to_owned()).unwrap(),
        UnixTime::since_unix_epoch(Duration::from_secs(time)),
    )
}

fn assert_pin_mismatch(result: Result<(), PinCheckError>) {
    match result {
        Err(PinCheckError::Rejected { reason, .. }) => {
            assert_eq!(reason, ReportReason::PinMismatch)
        }
        other => panic!("expected a pin mismatch, got {other:?}"),
    }
}

#[test]
fn served_only_x2_pin_fails_real_chain() {
    // The chain serves ISRG Root X2 (cross-signed by X1), but the validated path is
    // leaf -> E6 -> ISRG Root X1, so a set pinning X2 must not match.
    let Some(chains) = chains_dir() else { return };
    let served = load(&chains, LE_CHAIN);
    let time = valid_time(&served);

    let x2_only = verifier_at(
        &chains,
        LE_HOST,
        vec![pin(X2), placeholder_pin("backup")],
        time,
    );
    assert_pin_mismatch(check(&x2_only, &served, LE_HOST, time));

    let x1 = verifier_at(
        &chains,
        LE_HOST,
        vec![pin(X1), placeholder_pin("backup")],
        time,
    );
    check(&x1, &served, LE_HOST, time).unwrap();

    let e6 = verifier_at(&chains, LE_HOST, vec![pin(E6), pin(X2)], time);
    check(&e6, &served, LE_HOST, time).unwrap();
}

#[test]
fn appended_amazon_root_pin_fails() {
    // Amazon Root CA 1 is appended to a Let's Encrypt chain: it is served and is even a
    // trust anchor of the client, but the path does not use it.
    let Some(chains) = chains_dir() else { return };
    let mut served = load(&chains, LE_CHAIN);
    let time = valid_time(&served);
    served.extend(load(&chains, "roots/amazon-root-ca-1.pem"));

    let amazon = verifier_at(
        &chains,
        LE_HOST,
        vec![pin(AMAZON_ROOT_1), placeholder_pin("backup")],
        time,
    );
    assert_pin_mismatch(check(&amazon, &served, LE_HOST, time));
}

#[test]
fn real_chain_outside_validity_fails_before_pins() {
    let Some(chains) = chains_dir() else { return };
    let served = load(&chains, LE_CHAIN);
    let time = valid_time(&served);
    let verifier = verifier_at(&chains, LE_HOST, vec![pin(X1), pin(E6)], time);
    let error = check(&verifier, &served, LE_HOST, time + 365 * DAY).unwrap_err();
    assert_eq!(error.reason(), "certificate_expired");
}
