//! Verification of App Attest assertions.

use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1, UnparsedPublicKey};

use super::auth_data::{self, AssertionAuthData};
use super::{AppId, CheckOutcome, MAX_ASSERTION_LEN};
use crate::{CheckReport, Error, cbor, sha256};

/// The inputs for verifying one assertion: the evidence, the stored key and counter.
#[derive(Clone, Copy, Debug)]
pub struct AssertionInput<'a> {
    /// The assertion bytes (CBOR), as returned by `generateAssertion`.
    pub assertion: &'a [u8],
    /// The bytes the app passed to `generateAssertion` as `clientDataHash`.
    pub client_data_hash: &'a [u8],
    /// The App ID the key belongs to.
    pub app_id: &'a AppId,
    /// The attested public key, an uncompressed SEC1 P-256 point.
    pub public_key: &'a [u8; 65],
    /// The last counter accepted for this key (0 right after attestation).
    pub stored_counter: u32,
}

/// The checks of an assertion, in the order they run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AssertionCheck {
    /// The assertion decodes strictly into `signature` and `authenticatorData`.
    Structure,
    /// The signature verifies with the stored key over
    /// SHA-256(authenticatorData ‖ clientDataHash).
    Signature,
    /// `rpIdHash` equals SHA-256 of the App ID.
    AppId,
    /// The counter is strictly greater than the stored counter.
    Counter,
}

impl AssertionCheck {
    /// Every check, in the order they run.
    pub const ALL: [Self; 4] = [Self::Structure, Self::Signature, Self::AppId, Self::Counter];

    /// Returns the snake_case name of the check.
    pub fn name(self) -> &'static str {
        match self {
            Self::Structure => "structure",
            Self::Signature => "signature",
            Self::AppId => "app_id",
            Self::Counter => "counter",
        }
    }

    /// Returns a one-line description of what the check requires.
    pub fn description(self) -> &'static str {
        match self {
            Self::Structure => "strict CBOR with signature and authenticatorData",
            Self::Signature => {
                "ECDSA P-256 signature over SHA-256(authenticator data || client data hash)"
            }
            Self::AppId => "rpIdHash = SHA-256(app id)",
            Self::Counter => "counter > stored counter",
        }
    }
}

/// The outcome of every check of one assertion.
pub type AssertionReport = CheckReport<AssertionCheck, VerifiedAssertion>;

/// An assertion that passed every check. Only this crate constructs it.
///
/// The caller must still store [`VerifiedAssertion::counter`] atomically, accepting the
/// assertion only if the stored counter is still lower.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedAssertion {
    counter: u32,
}

impl VerifiedAssertion {
    /// Returns the new signature counter.
    pub fn counter(&self) -> u32 {
        self.counter
    }
}

/// Verifies an assertion and returns its counter.
///
/// # Errors
///
/// The [`Error`] of the first failed [`AssertionCheck`].
pub fn verify_assertion(input: &AssertionInput<'_>) -> Result<VerifiedAssertion, Error> {
    verify_assertion_report(input).into_result()
}

/// Runs every check of an assertion and reports each outcome.
pub fn verify_assertion_report(input: &AssertionInput<'_>) -> AssertionReport {
    let (signature, auth_data_bytes, auth_data) = match decode(input.assertion) {
        Ok(decoded) => decoded,
        Err(error) => {
            return AssertionReport::undecodable(&AssertionCheck::ALL, error, "assertion");
        }
    };

    let mut message = Vec::with_capacity(auth_data_bytes.len() + input.client_data_hash.len());
    message.extend_from_slice(&auth_data_bytes);
    message.extend_from_slice(input.client_data_hash);
    // App Attest signs the 32-byte hash as the message, and ECDSA hashes it again.
    let signed_hash = sha256(&message);
    let signature_result = UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, input.public_key)
        .verify(&signed_hash, &signature)
        .map_err(|_| Error::SignatureInvalid);

    let app_id_result = if auth_data.header.rp_id_hash == input.app_id.rp_id_hash() {
        Ok(())
    } else {
        Err(Error::AppIdMismatch {
            expected: input.app_id.as_str().to_owned(),
        })
    };
    let counter = auth_data.header.counter;
    let counter_result = if counter > input.stored_counter {
        Ok(())
    } else {
        Err(Error::CounterNotIncreased {
            stored: input.stored_counter,
            received: counter,
        })
    };

    let outcomes: Vec<(AssertionCheck, CheckOutcome)> = [
        (AssertionCheck::Structure, Ok(())),
        (AssertionCheck::Signature, signature_result),
        (AssertionCheck::AppId, app_id_result),
        (AssertionCheck::Counter, counter_result),
    ]
    .into_iter()
    .map(|(check, result)| (check, CheckOutcome::from(result)))
    .collect();
    let all_passed = outcomes
        .iter()
        .all(|(_, outcome)| *outcome == CheckOutcome::Passed);
    let verified = all_passed.then_some(VerifiedAssertion { counter });
    AssertionReport::new(outcomes, verified, "assertion")
}

fn decode(assertion: &[u8]) -> Result<(Vec<u8>, Vec<u8>, AssertionAuthData), Error> {
    if assertion.len() > MAX_ASSERTION_LEN {
        return Err(Error::InputTooLarge {
            what: "assertion",
            len: assertion.len(),
            max: MAX_ASSERTION_LEN,
        });
    }
    let object = cbor::decode_exact(assertion, "assertion")?;
    let entries = cbor::as_map(&object, "assertion")?;
    let signature = cbor::required_bytes(entries, "signature", "signature")?.to_vec();
    let auth_data_bytes =
        cbor::required_bytes(entries, "authenticatorData", "authenticatorData")?.to_vec();
    let auth_data = auth_data::parse_assertion(&auth_data_bytes)?;
    Ok((signature, auth_data_bytes, auth_data))
}
