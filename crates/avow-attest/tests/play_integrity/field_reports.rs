//! Failures reported by people running Play Integrity in production, each as a named test.
//!
//! The reports about exhausted daily quota and about a provider that gives no reason for a
//! rejection concern the server and its policy (a cached verdict, a monitor-only mode, per
//! reason metrics), so their tests belong there. What the verifier owes them is tested here:
//! a weaker device is a lower verdict, never a verification error.

use avow_attest::Error;
use avow_attest::play_integrity::PlayIntegrityCheck;
use avow_attest::verdict::{AppIntegrity, DeviceIntegrity};
use avow_testgen::play_integrity::PlayIntegrityMutation;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

use super::{Fixture, nonce};

/// Legitimate users on certified devices and on GrapheneOS were blocked because the verdict
/// lacked `MEETS_DEVICE_INTEGRITY`. Such a verdict must verify, with a lower device level, so
/// that policy (and a monitor mode) decides what to do with it.
#[test]
fn certified_device_without_device_label_verifies() {
    for (device_labels, level) in [
        (vec!["MEETS_BASIC_INTEGRITY"], DeviceIntegrity::Basic),
        (vec![], DeviceIntegrity::None),
    ] {
        let fixture = Fixture::with_spec(|spec| {
            spec.device_labels = device_labels
                .iter()
                .map(|label| (*label).to_owned())
                .collect();
        });
        let verified = fixture.verify().unwrap();
        assert_eq!(verified.verdict().device_integrity, level);
        assert_eq!(verified.verdict().app_integrity, AppIntegrity::Recognized);
        assert_eq!(fixture.verify_decoded().unwrap(), verified);
    }
}

/// Servers compared ids as strings in one base64 variant while the client sent another, and
/// rejected every request. The nonce is compared as bytes, whatever variant the app used.
#[test]
fn nonce_compared_as_bytes_not_text() {
    let bytes = nonce();
    let encodings = [
        STANDARD.encode(&bytes),
        STANDARD_NO_PAD.encode(&bytes),
        URL_SAFE.encode(&bytes),
        URL_SAFE_NO_PAD.encode(&bytes),
    ];
    for encoded in encodings {
        let fixture = Fixture::with(PlayIntegrityMutation::Nonce(encoded.clone()));
        assert!(fixture.verify().is_ok(), "{encoded}");
    }
    let mut other = bytes;
    other[0] ^= 0x01;
    let fixture = Fixture::with(PlayIntegrityMutation::Nonce(URL_SAFE_NO_PAD.encode(other)));
    assert_eq!(
        fixture.verify().unwrap_err(),
        Error::NonceMismatch {
            field: "requestDetails.nonce"
        }
    );
}

/// A token copied from logcat was cut at the log line limit and failed with a parser
/// exception. A cut token is a malformed token, reported as such, never partly accepted.
#[test]
fn token_cut_by_logcat_rejected_as_malformed() {
    let fixture = Fixture::with(PlayIntegrityMutation::Truncated);
    assert_eq!(
        fixture.verify().unwrap_err(),
        Error::MalformedJwe {
            detail: "not five dot-separated parts"
        }
    );

    // Wherever the cut falls, the rest is not a complete JWE: too few parts, or a tag that is
    // shorter than 16 bytes or not valid base64url.
    let fixture = Fixture::classic();
    let token = fixture.token();
    for cut in [token.len() - 1, token.len() - 10, token.len() / 2, 10] {
        let report = avow_attest::play_integrity::verify_token_report(
            &token[..cut],
            &fixture.keys,
            &fixture.expected(),
            super::unix(fixture.now_secs),
            fixture.freshness,
        );
        let (check, error) = report.first_failure().unwrap();
        assert_eq!(check, PlayIntegrityCheck::Decryption, "cut at {cut}");
        assert_eq!(error.reason(), "malformed_jwe", "cut at {cut}: {error:?}");
    }
}
