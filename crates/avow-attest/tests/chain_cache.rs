//! A chain verified once for a host is remembered by its `Roots`, and a remembered chain is
//! still bound to its validity window and its anchors.

use avow_attest::safetynet::{SafetyNetInput, verify_safetynet};
use avow_attest::{CertificateDigests, Error, Freshness, Roots, UnixTime};
use avow_testgen::safetynet::{SafetyNetGenerator, SafetyNetSpec};

/// Unix seconds of 2025-01-01T00:00:00Z.
const JAN_2025: u64 = 1_735_689_600;

fn unix(seconds: u64) -> UnixTime {
    UnixTime::since_unix_epoch(std::time::Duration::from_secs(seconds))
}

fn verify(jws: &str, roots: &Roots, now: u64, max_age_secs: u64) -> Result<(), Error> {
    let input = SafetyNetInput {
        jws,
        expected_nonce: &[1u8; 32],
        package_name: "com.example.shop",
        certificate_digests: CertificateDigests::NotCompared,
        freshness: Freshness {
            max_age_secs,
            max_future_skew_secs: 60,
        },
    };
    verify_safetynet(&input, roots, unix(now)).map(drop)
}

fn result(generator: &SafetyNetGenerator) -> String {
    let spec = SafetyNetSpec::new(
        vec![1u8; 32],
        JAN_2025 * 1000,
        "com.example.shop",
        Vec::new(),
    );
    generator.result(&spec)
}

#[test]
fn cached_chain_still_expires() {
    let generator = SafetyNetGenerator::new();
    let mut roots = Roots::empty();
    roots.add_der(generator.signer().root_der()).unwrap();
    let jws = result(&generator);

    assert_eq!(verify(&jws, &roots, JAN_2025, 600), Ok(()));
    // The second verification is served from the cache.
    assert_eq!(verify(&jws, &roots, JAN_2025 + 1, 600), Ok(()));

    // Long after the leaf expired (2049-12-31) the cached chain does not count.
    let late = JAN_2025 + 60 * 365 * 24 * 3600;
    let error = verify(&jws, &roots, late, late).unwrap_err();
    assert!(
        matches!(error, Error::CertificateExpired { .. }),
        "{error:?}"
    );
}

#[test]
fn cached_chain_not_shared_with_other_anchors() {
    let generator = SafetyNetGenerator::new();
    let mut roots = Roots::empty();
    roots.add_der(generator.signer().root_der()).unwrap();
    let jws = result(&generator);
    assert_eq!(verify(&jws, &roots, JAN_2025, 600), Ok(()));

    // Another anchor set never uses the chain cached for this one.
    let error = verify(&jws, &Roots::globalsign(), JAN_2025, 600).unwrap_err();
    assert_ne!(error, Error::JwsSignatureInvalid, "{error:?}");
    assert!(
        matches!(
            error,
            Error::UnknownIssuer | Error::CertificateSignatureInvalid
        ),
        "{error:?}"
    );

    // A clone shares the cache, but adding an anchor starts a fresh one; the chain then
    // verifies again from scratch.
    let mut extended = roots.clone();
    extended.extend(&Roots::globalsign());
    assert_eq!(verify(&jws, &extended, JAN_2025, 600), Ok(()));
}
