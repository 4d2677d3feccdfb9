//! Benchmarks of ES256 token signing and verification.
//!
//! - `token_sign`: header and claims to JSON, base64url, one P-256 ECDSA signature.
//! - `token_verify`: header parse, key lookup by `kid`, one P-256 ECDSA verification through
//!   jsonwebtoken, claims parse, and the `iss`, `aud`, `exp` and `iat` checks.
//!
//! The verify benchmark first checks that its token verifies, so the loop measures the success
//! path.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};

use avow_token::{
    AttestationClaim, Claims, DEFAULT_LIFETIME_SECS, Jwks, TokenSigner, TokenVerifier, new_token_id,
};

const ISSUER: &str = "https://avow.example";
const APP_ID: &str = "TEAMID1234.com.example.bench";
/// Issue time of the benchmark token, Unix seconds (2025-06-01T00:00:00Z).
const ISSUED_AT: u64 = 1_748_736_000;

fn claims() -> Claims {
    Claims {
        iss: ISSUER.to_owned(),
        sub: APP_ID.to_owned(),
        aud: APP_ID.to_owned(),
        iat: ISSUED_AT,
        exp: ISSUED_AT + DEFAULT_LIFETIME_SECS,
        nbf: None,
        jti: new_token_id().expect("the system random generator works"),
        ins: Some("bSrEhF8TIzIvWSPwvZ0i2-UOBre4ASH84rK15m6emNY".to_owned()),
        pay: None,
        att: AttestationClaim {
            prv: vec!["app_attest".to_owned()],
            trust: "hardware".to_owned(),
            app: "recognized".to_owned(),
            dev: "strong".to_owned(),
            flg: Vec::new(),
            env: Some("production".to_owned()),
            at: ISSUED_AT,
            via: "attestation".to_owned(),
            red: false,
        },
    }
}

fn bench_tokens(c: &mut Criterion) {
    let (signer, _pkcs8) = TokenSigner::generate().expect("P-256 key generation succeeds");
    let claims = claims();

    c.bench_function("token_sign", |b| {
        b.iter(|| black_box(&signer).sign(black_box(&claims)));
    });

    let jwks = Jwks {
        keys: vec![signer.jwk().expect("generated key has a JWK")],
    };
    let verifier = TokenVerifier::from_jwks(&jwks)
        .expect("JWKS of a generated key loads")
        .with_issuer(ISSUER)
        .with_audiences(vec![APP_ID.to_owned()]);
    let token = signer.sign(&claims).expect("signing succeeds");
    let now = ISSUED_AT + 10;
    let verified = verifier.verify(&token, now).expect("fresh token verifies");
    assert_eq!(verified, claims);

    c.bench_function("token_verify", |b| {
        b.iter(|| black_box(&verifier).verify(black_box(&token), black_box(now)));
    });
}

/// Five seconds and 50 samples per benchmark keep a run of this file to about 20 seconds.
fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(5))
        .sample_size(50)
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_tokens
}
criterion_main!(benches);
