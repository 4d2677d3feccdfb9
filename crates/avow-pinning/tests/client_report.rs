//! Pin-failure reports: the body apps post to `/v1/pin-reports`, its limits and its builder.

mod client_support;

use avow_pinning::report::{
    MAX_CHAIN_CERTIFICATES, MAX_CHAIN_DER_LEN, MAX_PINS_KNOWN, MAX_REPORT_LEN,
};
use avow_pinning::{PinFailureReport, PinningMode, ReportError, ReportReason};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use client_support::*;
use serde_json::{Value, json};

fn chain() -> Vec<rustls::pki_types::CertificateDer<'static>> {
    let root = TestCa::root("Report Test Root");
    let issuing = root.intermediate("Report Test Issuing CA");
    vec![issuing.leaf(HOST).cert, issuing.cert.clone()]
}

fn valid_body() -> Value {
    let chain = chain();
    json!({
        "host": HOST,
        "port": 443,
        "served_chain": chain.iter().map(|cert| STANDARD.encode(cert)).collect::<Vec<_>>(),
        "validated_chain": [STANDARD.encode(&chain[0])],
        "pins_known": [placeholder_pin("a").to_string(), placeholder_pin("b").to_string()],
        "document_version": 7,
        "app_id": APP_ID,
        "app_version": "4.2.0 (1234)",
        "reason": "pin_mismatch",
        "mode": "enforce",
    })
}

fn parse(body: &Value) -> Result<PinFailureReport, ReportError> {
    PinFailureReport::from_json(&serde_json::to_vec(body).unwrap())
}

#[test]
fn valid_report_parses_and_serialises_back() {
    let body = valid_body();
    let report = parse(&body).unwrap();
    assert_eq!(report.host, HOST);
    assert_eq!(report.served_chain.len(), 2);
    assert_eq!(report.reason, ReportReason::PinMismatch);
    assert_eq!(report.mode, Some(PinningMode::Enforce));
    let again: Value = serde_json::from_slice(&report.to_json()).unwrap();
    assert_eq!(again, body);
}

#[test]
fn document_report_without_chains_or_mode_parses() {
    let mut body = valid_body();
    body["host"] = json!("avow.test");
    body["served_chain"] = json!([]);
    body["validated_chain"] = json!([]);
    body["pins_known"] = json!([]);
    body["reason"] = json!("document_downgrade");
    body.as_object_mut().unwrap().remove("mode");
    let report = parse(&body).unwrap();
    assert_eq!(report.reason, ReportReason::DocumentDowngrade);
    assert_eq!(report.mode, None);
}

#[test]
fn invalid_reports_rejected_by_reason() {
    let many_certificates: Vec<String> =
        std::iter::repeat_n(STANDARD.encode(&chain()[0]), MAX_CHAIN_CERTIFICATES + 1).collect();
    let many_pins: Vec<String> = (0..=MAX_PINS_KNOWN)
        .map(|index| placeholder_pin(&index.to_string()).to_string())
        .collect();
    type Edit = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Edit)> = vec![
        (
            "invalid_host",
            Box::new(|body| body["host"] = json!("not a host")),
        ),
        ("invalid_host", Box::new(|body| body["host"] = json!(""))),
        ("invalid_port", Box::new(|body| body["port"] = json!(0))),
        (
            "report_malformed",
            Box::new(|body| body["port"] = json!(70000)),
        ),
        ("invalid_text", Box::new(|body| body["app_id"] = json!(""))),
        (
            "invalid_text",
            Box::new(|body| body["app_version"] = json!("1.0\n")),
        ),
        (
            "invalid_text",
            Box::new(|body| body["app_version"] = json!("x".repeat(65))),
        ),
        (
            "invalid_certificate",
            Box::new(|body| body["served_chain"][1] = json!("not base64!")),
        ),
        (
            "invalid_certificate",
            Box::new(|body| body["validated_chain"][0] = json!(STANDARD.encode(b"not DER"))),
        ),
        (
            "too_many_certificates",
            Box::new(move |body| body["served_chain"] = json!(many_certificates)),
        ),
        (
            "too_many_pins",
            Box::new(move |body| body["pins_known"] = json!(many_pins)),
        ),
        (
            "pin_hex",
            Box::new(|body| {
                body["pins_known"][0] =
                    json!("0b9fa5a59eed715c26c1020c711b4f6ec42d58b0015e14337a39dad301c5afc3")
            }),
        ),
        (
            "report_malformed",
            Box::new(|body| body["reason"] = json!("bad_luck")),
        ),
        (
            "report_malformed",
            Box::new(|body| body["extra"] = json!(1)),
        ),
        (
            "missing_mode",
            Box::new(|body| {
                body.as_object_mut().unwrap().remove("mode");
            }),
        ),
        (
            "unexpected_mode",
            Box::new(|body| body["reason"] = json!("clock_anomaly")),
        ),
        (
            "missing_served_chain",
            Box::new(|body| body["served_chain"] = json!([])),
        ),
    ];
    for (reason, edit) in cases {
        let mut body = valid_body();
        edit(&mut body);
        let error = parse(&body).unwrap_err();
        assert_eq!(error.reason(), reason, "{error}");
    }
}

#[test]
fn duplicate_keys_and_oversized_bodies_rejected() {
    let body = serde_json::to_string(&valid_body()).unwrap();
    let duplicated = body.replacen("\"port\":443", "\"port\":443,\"port\":444", 1);
    assert_eq!(
        PinFailureReport::from_json(duplicated.as_bytes()).unwrap_err(),
        ReportError::DuplicateKey { key: "port".into() }
    );

    let oversized = vec![b' '; MAX_REPORT_LEN + 1];
    assert_eq!(
        PinFailureReport::from_json(&oversized).unwrap_err(),
        ReportError::TooLarge {
            len: MAX_REPORT_LEN + 1,
            max: MAX_REPORT_LEN
        }
    );
}

#[test]
fn builder_cuts_chains_and_pins_to_the_limits() {
    let chain = chain();
    let long_chain: Vec<_> = chain.iter().cycle().take(20).cloned().collect();
    let pins: Vec<_> = (0..100)
        .map(|index| placeholder_pin(&index.to_string()))
        .collect();
    let report = PinFailureReport::builder(APP_ID, "4.2.0", ReportReason::PinMismatch)
        .host(HOST, 443)
        .served_chain(&long_chain)
        .validated_chain(&long_chain)
        .pins_known(pins)
        .document_version(3)
        .mode(PinningMode::Enforce)
        .build()
        .unwrap();
    assert_eq!(report.served_chain.len(), MAX_CHAIN_CERTIFICATES);
    assert_eq!(report.pins_known.len(), MAX_PINS_KNOWN);
    assert!(report.to_json().len() <= MAX_REPORT_LEN);
    assert_eq!(
        PinFailureReport::from_json(&report.to_json()).unwrap(),
        report
    );
}

#[test]
fn builder_drops_certificates_beyond_the_size_budget() {
    // Certificates with many names grow large; the builder keeps the leaf-first prefix that
    // fits within the chain size limit.
    let root = TestCa::root("Big Root");
    let names: Vec<String> = (0..600)
        .map(|index| format!("host{index}.example.test"))
        .collect();
    let mut params = rcgen::CertificateParams::new(names).unwrap();
    params.is_ca = rcgen::IsCa::NoCa;
    let key = rcgen::KeyPair::generate().unwrap();
    let self_signed = params.self_signed(&key).unwrap();
    let big = self_signed.der().clone();
    assert!(big.len() > MAX_CHAIN_DER_LEN / 4, "{}", big.len());
    let served: Vec<_> = std::iter::repeat_n(big.clone(), 6)
        .chain([root.cert.clone()])
        .collect();

    let report = PinFailureReport::builder(APP_ID, "4.2.0", ReportReason::PinMismatch)
        .host(HOST, 443)
        .served_chain(&served)
        .mode(PinningMode::Enforce)
        .build()
        .unwrap();
    let total: usize = report.served_chain.iter().map(|cert| cert.len()).sum();
    assert!(total <= MAX_CHAIN_DER_LEN);
    assert!(report.served_chain.len() < served.len());
    assert_eq!(report.served_chain[0], big);
}

#[test]
fn builder_rejects_bad_context() {
    let error = PinFailureReport::builder("", "4.2.0", ReportReason::ClockAnomaly)
        .host("avow.test", 443)
        .build()
        .unwrap_err();
    assert_eq!(error.reason(), "invalid_text");
    let error = PinFailureReport::builder(APP_ID, "4.2.0", ReportReason::ClockAnomaly)
        .host("avow.test", 0)
        .build()
        .unwrap_err();
    assert_eq!(error, ReportError::InvalidPort);
}

#[test]
fn every_reason_round_trips_as_snake_case() {
    let reasons = [
        ReportReason::ClockAnomaly,
        ReportReason::DocumentDowngrade,
        ReportReason::DocumentExpired,
        ReportReason::DocumentMalformed,
        ReportReason::DocumentNotYetValid,
        ReportReason::DocumentOtherApp,
        ReportReason::DocumentTampered,
        ReportReason::ExpiredSetInUse,
        ReportReason::NonPublicAnchor,
        ReportReason::PinMismatch,
        ReportReason::PinSetExpired,
    ];
    for reason in reasons {
        let text = serde_json::to_value(reason).unwrap();
        assert_eq!(text, json!(reason.as_str()));
        let back: ReportReason = serde_json::from_value(text).unwrap();
        assert_eq!(back, reason);
    }
}
