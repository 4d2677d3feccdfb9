//! The mapping of Google's labels onto the common verdict: one test per mapping. None of these
//! labels makes verification fail.

use avow_attest::play_integrity::{
    AppLicensingVerdict, AppRecognitionVerdict, AppsDetectedLabel, DeviceActivityLevel,
    DeviceRecognitionLabel, PlayProtectVerdict,
};
use avow_attest::verdict::{AppIntegrity, DeviceIntegrity, RiskFlag, Verdict};
use avow_testgen::play_integrity::{PlayIntegrityMutation, PlayIntegritySpec};

use super::Fixture;

/// Verifies a generated token whose spec `change` edits, and returns its verdict. The decoded
/// path must produce the same verdict.
fn verdict_of(change: impl FnOnce(&mut PlayIntegritySpec)) -> Verdict {
    let fixture = Fixture::with_spec(change);
    let verified = fixture.verify().unwrap();
    assert_eq!(fixture.verify_decoded().unwrap(), verified);
    verified.verdict().clone()
}

fn labels(labels: &[&str]) -> Vec<String> {
    labels.iter().map(|label| (*label).to_owned()).collect()
}

#[test]
fn play_recognized_maps_to_recognized() {
    let verdict = verdict_of(|_| {});
    assert_eq!(verdict.app_integrity, AppIntegrity::Recognized);
}

#[test]
fn unrecognized_version_maps_to_unrecognized() {
    let verdict = verdict_of(|spec| {
        spec.app_recognition_verdict = Some("UNRECOGNIZED_VERSION".to_owned());
    });
    assert_eq!(verdict.app_integrity, AppIntegrity::Unrecognized);
}

#[test]
fn unevaluated_app_maps_to_unevaluated() {
    let verdict = verdict_of(|spec| {
        spec.app_recognition_verdict = Some("UNEVALUATED".to_owned());
    });
    assert_eq!(verdict.app_integrity, AppIntegrity::Unevaluated);
}

#[test]
fn unknown_app_label_maps_to_unevaluated() {
    let fixture = Fixture::with_spec(|spec| {
        spec.app_recognition_verdict = Some("UNKNOWN".to_owned());
    });
    let verified = fixture.verify().unwrap();
    assert_eq!(verified.verdict().app_integrity, AppIntegrity::Unevaluated);
    assert_eq!(
        verified.app_recognition_verdict(),
        Some(&AppRecognitionVerdict::Other("UNKNOWN".to_owned()))
    );
}

#[test]
fn strong_integrity_maps_to_strong() {
    let verdict = verdict_of(|spec| {
        spec.device_labels = labels(&[
            "MEETS_BASIC_INTEGRITY",
            "MEETS_DEVICE_INTEGRITY",
            "MEETS_STRONG_INTEGRITY",
        ]);
    });
    assert_eq!(verdict.device_integrity, DeviceIntegrity::Strong);
}

#[test]
fn device_integrity_maps_to_device() {
    let verdict = verdict_of(|spec| {
        spec.device_labels = labels(&["MEETS_BASIC_INTEGRITY", "MEETS_DEVICE_INTEGRITY"]);
    });
    assert_eq!(verdict.device_integrity, DeviceIntegrity::Device);
}

#[test]
fn basic_integrity_maps_to_basic() {
    let verdict = verdict_of(|spec| spec.device_labels = labels(&["MEETS_BASIC_INTEGRITY"]));
    assert_eq!(verdict.device_integrity, DeviceIntegrity::Basic);
}

#[test]
fn empty_device_labels_map_to_none() {
    let fixture = Fixture::with(PlayIntegrityMutation::EmptyDeviceLabels);
    let verified = fixture.verify().unwrap();
    assert_eq!(verified.verdict().device_integrity, DeviceIntegrity::None);
    assert!(verified.device_recognition_labels().is_empty());
}

#[test]
fn absent_device_integrity_maps_to_none() {
    let fixture = Fixture::with(PlayIntegrityMutation::RemoveField("deviceIntegrity"));
    let verified = fixture.verify().unwrap();
    assert_eq!(verified.verdict().device_integrity, DeviceIntegrity::None);
}

#[test]
fn unknown_device_label_adds_no_level() {
    let fixture = Fixture::with_spec(|spec| spec.device_labels = labels(&["MEETS_NEW_LEVEL"]));
    let verified = fixture.verify().unwrap();
    assert_eq!(verified.verdict().device_integrity, DeviceIntegrity::None);
    assert_eq!(
        verified.device_recognition_labels(),
        [DeviceRecognitionLabel::Other("MEETS_NEW_LEVEL".to_owned())]
    );
}

#[test]
fn virtual_integrity_alone_flags_virtual_without_level() {
    let verdict = verdict_of(|spec| spec.device_labels = labels(&["MEETS_VIRTUAL_INTEGRITY"]));
    assert_eq!(verdict.device_integrity, DeviceIntegrity::None);
    assert_eq!(verdict.risk_flags, [RiskFlag::Virtual]);
}

#[test]
fn virtual_with_device_integrity_keeps_device_level() {
    let verdict = verdict_of(|spec| {
        spec.device_labels = labels(&["MEETS_DEVICE_INTEGRITY", "MEETS_VIRTUAL_INTEGRITY"]);
    });
    assert_eq!(verdict.device_integrity, DeviceIntegrity::Device);
    assert_eq!(verdict.risk_flags, [RiskFlag::Virtual]);
}

#[test]
fn unlicensed_flags_unlicensed() {
    let fixture = Fixture::with_spec(|spec| {
        spec.app_licensing_verdict = Some("UNLICENSED".to_owned());
    });
    let verified = fixture.verify().unwrap();
    assert_eq!(verified.verdict().risk_flags, [RiskFlag::Unlicensed]);
    assert_eq!(
        verified.app_licensing_verdict(),
        Some(&AppLicensingVerdict::Unlicensed)
    );
}

#[test]
fn licensed_and_unevaluated_licensing_add_no_flag() {
    for licensing in ["LICENSED", "UNEVALUATED"] {
        let verdict = verdict_of(|spec| spec.app_licensing_verdict = Some(licensing.to_owned()));
        assert!(verdict.risk_flags.is_empty(), "{licensing}");
    }
}

#[test]
fn play_protect_risks_flag_play_protect_risk() {
    for label in ["POSSIBLE_RISK", "MEDIUM_RISK", "HIGH_RISK"] {
        let verdict = verdict_of(|spec| spec.play_protect_verdict = Some(label.to_owned()));
        assert_eq!(verdict.risk_flags, [RiskFlag::PlayProtectRisk], "{label}");
    }
}

#[test]
fn play_protect_without_risk_adds_no_flag() {
    for label in ["NO_ISSUES", "NO_DATA", "UNEVALUATED"] {
        let fixture = Fixture::with_spec(|spec| spec.play_protect_verdict = Some(label.to_owned()));
        let verified = fixture.verify().unwrap();
        assert!(verified.verdict().risk_flags.is_empty(), "{label}");
        assert_eq!(
            verified
                .play_protect_verdict()
                .map(PlayProtectVerdict::as_str),
            Some(label)
        );
    }
}

#[test]
fn risky_apps_flag_app_access_risk() {
    for label in [
        "KNOWN_CAPTURING",
        "KNOWN_CONTROLLING",
        "KNOWN_OVERLAYS",
        "UNKNOWN_CAPTURING",
        "UNKNOWN_CONTROLLING",
        "UNKNOWN_OVERLAYS",
    ] {
        let verdict = verdict_of(|spec| {
            spec.apps_detected = Some(labels(&["KNOWN_INSTALLED", label]));
        });
        assert_eq!(verdict.risk_flags, [RiskFlag::AppAccessRisk], "{label}");
    }
}

#[test]
fn installed_apps_alone_add_no_flag() {
    let fixture = Fixture::with_spec(|spec| {
        spec.apps_detected = Some(labels(&["KNOWN_INSTALLED", "UNKNOWN_INSTALLED"]));
    });
    let verified = fixture.verify().unwrap();
    assert!(verified.verdict().risk_flags.is_empty());
    assert_eq!(
        verified.apps_detected(),
        [
            AppsDetectedLabel::KnownInstalled,
            AppsDetectedLabel::UnknownInstalled
        ]
    );
}

#[test]
fn level_4_activity_flags_high_device_activity() {
    let verdict = verdict_of(|spec| spec.device_activity_level = Some("LEVEL_4".to_owned()));
    assert_eq!(verdict.risk_flags, [RiskFlag::HighDeviceActivity]);
}

#[test]
fn lower_activity_levels_add_no_flag() {
    for level in ["LEVEL_1", "LEVEL_2", "LEVEL_3", "UNEVALUATED"] {
        let fixture =
            Fixture::with_spec(|spec| spec.device_activity_level = Some(level.to_owned()));
        let verified = fixture.verify().unwrap();
        assert!(verified.verdict().risk_flags.is_empty(), "{level}");
        assert_eq!(
            verified
                .device_activity_level()
                .map(DeviceActivityLevel::as_str),
            Some(level)
        );
    }
}

#[test]
fn testing_response_never_counts_as_pass() {
    // A tester override that claims the strongest labels still yields no integrity.
    let fixture = Fixture::with_spec(|spec| {
        spec.device_labels = labels(&["MEETS_DEVICE_INTEGRITY", "MEETS_STRONG_INTEGRITY"]);
        spec.mutation = PlayIntegrityMutation::TestingResponse;
    });
    let verified = fixture.verify().unwrap();
    assert!(verified.is_testing_response());
    let verdict = verified.verdict();
    assert_eq!(verdict.app_integrity, AppIntegrity::Unevaluated);
    assert_eq!(verdict.device_integrity, DeviceIntegrity::None);
    assert_eq!(verdict.risk_flags, [RiskFlag::TestingResponse]);
    // Google's labels stay available for diagnosis.
    assert_eq!(
        verified.app_recognition_verdict(),
        Some(&AppRecognitionVerdict::PlayRecognized)
    );
    assert_eq!(fixture.verify_decoded().unwrap(), verified);
}

#[test]
fn several_risks_combine_into_sorted_flags() {
    let verdict = verdict_of(|spec| {
        spec.device_labels = labels(&["MEETS_VIRTUAL_INTEGRITY"]);
        spec.app_licensing_verdict = Some("UNLICENSED".to_owned());
        spec.play_protect_verdict = Some("HIGH_RISK".to_owned());
        spec.apps_detected = Some(labels(&["UNKNOWN_CONTROLLING", "UNKNOWN_OVERLAYS"]));
        spec.device_activity_level = Some("LEVEL_4".to_owned());
    });
    assert_eq!(
        verdict.risk_flags,
        [
            RiskFlag::AppAccessRisk,
            RiskFlag::HighDeviceActivity,
            RiskFlag::PlayProtectRisk,
            RiskFlag::Unlicensed,
            RiskFlag::Virtual,
        ]
    );
}
