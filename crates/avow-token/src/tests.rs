use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::*;

const NOW: u64 = 1_800_000_000;

fn claims() -> Claims {
    Claims {
        iss: "avow-test".to_owned(),
        sub: "TEAM.com.example".to_owned(),
        aud: "TEAM.com.example".to_owned(),
        iat: NOW,
        exp: NOW + DEFAULT_LIFETIME_SECS,
        nbf: None,
        jti: new_token_id().unwrap(),
        ins: Some("install-1".to_owned()),
        pay: None,
        att: AttestationClaim {
            prv: vec!["app_attest".to_owned()],
            trust: "hardware".to_owned(),
            app: "recognized".to_owned(),
            dev: "strong".to_owned(),
            flg: Vec::new(),
            env: Some("production".to_owned()),
            at: NOW,
            via: "attestation".to_owned(),
            red: false,
        },
    }
}

fn signer_and_verifier() -> (TokenSigner, TokenVerifier) {
    let (signer, _) = TokenSigner::generate().unwrap();
    let jwks = Jwks {
        keys: vec![signer.jwk().unwrap()],
    };
    let verifier = TokenVerifier::from_jwks(&jwks)
        .unwrap()
        .with_issuer("avow-test")
        .with_audiences(vec!["TEAM.com.example".to_owned()]);
    (signer, verifier)
}

/// Re-signs a token with an edited header or payload, so only one property changes.
fn resign(signer: &TokenSigner, header: &serde_json::Value, payload: &serde_json::Value) -> String {
    let mut token = URL_SAFE_NO_PAD.encode(serde_json::to_vec(header).unwrap());
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(serde_json::to_vec(payload).unwrap()));
    let signature = signer.key_pair.sign(&signer.rng, token.as_bytes()).unwrap();
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(signature.as_ref()));
    token
}

fn header_json(signer: &TokenSigner) -> serde_json::Value {
    serde_json::json!({"alg": "ES256", "kid": signer.kid(), "typ": TOKEN_TYPE})
}

#[test]
fn signed_token_verifies() {
    let (signer, verifier) = signer_and_verifier();
    let token = signer.sign(&claims()).unwrap();
    assert_eq!(
        verifier.verify(&token, NOW + 10).unwrap(),
        claims_with_jti(&token)
    );
}

fn claims_with_jti(token: &str) -> Claims {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

#[test]
fn kid_is_jwk_thumbprint() {
    let (signer, _) = TokenSigner::generate().unwrap();
    assert_eq!(signer.kid(), signer.jwk().unwrap().thumbprint());
    assert_eq!(signer.kid().len(), 43);
}

#[test]
fn thumbprint_matches_rfc7638_example_shape() {
    // RFC 7638 section 3.1 fixes the member order; the digest must cover exactly that text.
    let jwk = Jwk {
        kty: "EC".to_owned(),
        crv: "P-256".to_owned(),
        x: "x".to_owned(),
        y: "y".to_owned(),
        kid: String::new(),
        use_: None,
        alg: None,
    };
    let expected = URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        br#"{"crv":"P-256","kty":"EC","x":"x","y":"y"}"#,
    ));
    assert_eq!(jwk.thumbprint(), expected);
}

#[test]
fn reloaded_key_keeps_kid_and_verifies() {
    let (signer, pkcs8) = TokenSigner::generate().unwrap();
    let reloaded = TokenSigner::from_pkcs8(&pkcs8).unwrap();
    assert_eq!(reloaded.kid(), signer.kid());
    let verifier = TokenVerifier::from_jwks(&Jwks {
        keys: vec![signer.jwk().unwrap()],
    })
    .unwrap();
    let token = reloaded.sign(&claims()).unwrap();
    assert!(verifier.verify(&token, NOW).is_ok());
}

#[test]
fn expiry_respects_leeway() {
    let (signer, verifier) = signer_and_verifier();
    let token = signer.sign(&claims()).unwrap();
    let exp = NOW + DEFAULT_LIFETIME_SECS;
    assert!(
        verifier
            .verify(&token, exp + DEFAULT_LEEWAY_SECS - 1)
            .is_ok()
    );
    let error = verifier
        .verify(&token, exp + DEFAULT_LEEWAY_SECS)
        .unwrap_err();
    assert_eq!(error.reason(), "token_expired");
}

#[test]
fn future_iat_rejected() {
    let (signer, verifier) = signer_and_verifier();
    let token = signer.sign(&claims()).unwrap();
    assert!(verifier.verify(&token, NOW - DEFAULT_LEEWAY_SECS).is_ok());
    let error = verifier
        .verify(&token, NOW - DEFAULT_LEEWAY_SECS - 1)
        .unwrap_err();
    assert_eq!(error.reason(), "token_issued_in_future");
}

#[test]
fn nbf_checked_when_present() {
    let (signer, verifier) = signer_and_verifier();
    let mut claims = claims();
    claims.nbf = Some(NOW + 60);
    let token = signer.sign(&claims).unwrap();
    assert!(
        verifier
            .verify(&token, NOW + 60 - DEFAULT_LEEWAY_SECS)
            .is_ok()
    );
    let error = verifier
        .verify(&token, NOW + 60 - DEFAULT_LEEWAY_SECS - 1)
        .unwrap_err();
    assert_eq!(error.reason(), "token_not_yet_valid");
}

#[test]
fn wrong_issuer_rejected() {
    let (signer, verifier) = signer_and_verifier();
    let mut claims = claims();
    claims.iss = "someone-else".to_owned();
    let token = signer.sign(&claims).unwrap();
    assert_eq!(
        verifier.verify(&token, NOW),
        Err(TokenError::IssuerMismatch)
    );
}

#[test]
fn wrong_audience_rejected() {
    let (signer, verifier) = signer_and_verifier();
    let mut claims = claims();
    claims.aud = "OTHER.com.example".to_owned();
    let token = signer.sign(&claims).unwrap();
    assert_eq!(
        verifier.verify(&token, NOW),
        Err(TokenError::AudienceMismatch)
    );
}

#[test]
fn unknown_kid_rejected() {
    let (_, verifier) = signer_and_verifier();
    let (other, _) = TokenSigner::generate().unwrap();
    let token = other.sign(&claims()).unwrap();
    assert_eq!(verifier.verify(&token, NOW), Err(TokenError::UnknownKid));
}

#[test]
fn signature_by_other_key_with_same_kid_rejected() {
    let (signer, verifier) = signer_and_verifier();
    let (other, _) = TokenSigner::generate().unwrap();
    let payload = serde_json::to_value(claims()).unwrap();
    let token = resign(&other, &header_json(&signer), &payload);
    assert_eq!(
        verifier.verify(&token, NOW),
        Err(TokenError::SignatureInvalid)
    );
}

#[test]
fn other_algorithms_rejected() {
    let (signer, verifier) = signer_and_verifier();
    let payload = serde_json::to_value(claims()).unwrap();
    for alg in ["none", "HS256", "RS256", "ES384", "EdDSA", "es256"] {
        let mut header = header_json(&signer);
        header["alg"] = alg.into();
        let token = resign(&signer, &header, &payload);
        let error = verifier.verify(&token, NOW).unwrap_err();
        assert_eq!(error.reason(), "algorithm_not_allowed", "{alg}");
    }
}

#[test]
fn wrong_or_missing_type_rejected() {
    let (signer, verifier) = signer_and_verifier();
    let payload = serde_json::to_value(claims()).unwrap();
    let mut header = header_json(&signer);
    header["typ"] = "JWT".into();
    let token = resign(&signer, &header, &payload);
    assert_eq!(
        verifier.verify(&token, NOW).unwrap_err().reason(),
        "wrong_token_type"
    );

    let mut header = header_json(&signer);
    header.as_object_mut().unwrap().remove("typ");
    let token = resign(&signer, &header, &payload);
    assert_eq!(
        verifier.verify(&token, NOW).unwrap_err().reason(),
        "wrong_token_type"
    );
}

#[test]
fn missing_kid_rejected() {
    let (signer, verifier) = signer_and_verifier();
    let payload = serde_json::to_value(claims()).unwrap();
    let mut header = header_json(&signer);
    header.as_object_mut().unwrap().remove("kid");
    let token = resign(&signer, &header, &payload);
    assert_eq!(verifier.verify(&token, NOW), Err(TokenError::MissingKid));
}

#[test]
fn missing_claim_rejected() {
    let (signer, verifier) = signer_and_verifier();
    let mut payload = serde_json::to_value(claims()).unwrap();
    payload.as_object_mut().unwrap().remove("exp");
    let token = resign(&signer, &header_json(&signer), &payload);
    assert_eq!(
        verifier.verify(&token, NOW).unwrap_err().reason(),
        "invalid_claim"
    );
}

#[test]
fn duplicate_header_member_rejected() {
    let (signer, verifier) = signer_and_verifier();
    let token = signer.sign(&claims()).unwrap();
    let (_, rest) = token.split_once('.').unwrap();
    let header = format!(
        r#"{{"alg":"ES256","alg":"none","kid":"{}","typ":"avow+jwt"}}"#,
        signer.kid()
    );
    let forged = format!("{}.{rest}", URL_SAFE_NO_PAD.encode(header));
    assert_eq!(verifier.verify(&forged, NOW), Err(TokenError::Malformed));
}

#[test]
fn garbled_and_truncated_tokens_rejected() {
    let (signer, verifier) = signer_and_verifier();
    let token = signer.sign(&claims()).unwrap();
    for bad in [
        String::new(),
        "a.b".to_owned(),
        "a.b.c.d".to_owned(),
        token[..token.len() - 10].to_owned(),
        token.replace('.', ".!"),
        format!("{token}."),
    ] {
        assert!(verifier.verify(&bad, NOW).is_err(), "{bad}");
    }
}

#[test]
fn oversized_token_rejected() {
    let (_, verifier) = signer_and_verifier();
    let token = "a".repeat(MAX_TOKEN_LEN + 1);
    assert_eq!(
        verifier.verify(&token, NOW).unwrap_err().reason(),
        "token_too_large"
    );
}

#[test]
fn jwks_skips_foreign_key_types() {
    let (signer, _) = TokenSigner::generate().unwrap();
    let mut jwks = Jwks {
        keys: vec![signer.jwk().unwrap()],
    };
    jwks.keys.push(Jwk {
        kty: "RSA".to_owned(),
        crv: String::new(),
        x: String::new(),
        y: String::new(),
        kid: "rsa".to_owned(),
        use_: None,
        alg: Some("RS256".to_owned()),
    });
    assert_eq!(TokenVerifier::from_jwks(&jwks).unwrap().key_count(), 1);
}
