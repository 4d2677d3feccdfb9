//! App Attest assertions: the specification, its mutations and the encoder.

use ciborium::Value;

use crate::attestation::{FLAG_ATTESTED_CREDENTIAL_DATA, ios_extension_map};
use crate::cbor::{bytes, encode, text};
use crate::device::SimulatedDevice;
use crate::{app_id_hash, sha256};

/// The description of an assertion to generate.
///
/// [`AssertionSpec::new`] gives a valid assertion; set [`AssertionSpec::mutation`] to break one
/// verification step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssertionSpec {
    /// The App ID, `TEAMID.bundle.identifier`, whose SHA-256 is the `rpIdHash`.
    pub app_id: String,
    /// The bytes the app passes to `generateAssertion(_:clientDataHash:)`, normally the
    /// SHA-256 of the client data. Any length is allowed.
    pub client_data_hash: Vec<u8>,
    /// The counter written into the authenticator data.
    pub counter: u32,
    /// Whether the authenticator data ends with the iOS extension map, as recent iOS versions
    /// may send it. The flags stay 0x40 either way. Defaults to false.
    pub extension_map: bool,
    /// The single defect to build into the assertion. Defaults to [`AssertionMutation::None`].
    pub mutation: AssertionMutation,
}

impl AssertionSpec {
    /// Creates the specification of a valid assertion without the extension map.
    pub fn new(
        app_id: impl Into<String>,
        client_data_hash: impl Into<Vec<u8>>,
        counter: u32,
    ) -> Self {
        Self {
            app_id: app_id.into(),
            client_data_hash: client_data_hash.into(),
            counter,
            extension_map: false,
            mutation: AssertionMutation::None,
        }
    }

    /// Returns this specification with `mutation` in place of the current one.
    #[must_use]
    pub fn with_mutation(mut self, mutation: AssertionMutation) -> Self {
        self.mutation = mutation;
        self
    }
}

/// One deliberate change to an assertion. Each variant breaks exactly one verification step.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum AssertionMutation {
    /// No change: a valid assertion.
    #[default]
    None,
    /// The signature is the 64-byte fixed-width `r ‖ s` form instead of ASN.1 DER, over the
    /// correct message with the device key.
    RawSignature,
    /// The `rpIdHash` is the SHA-256 of this App ID instead of the specification's. The
    /// signature covers the changed authenticator data.
    RpIdOf(String),
    /// The signature is made with a freshly generated P-256 key instead of the device key.
    SignatureByOtherKey,
    /// The device key signs SHA-256(authenticatorData ‖ clientDataHash ‖ 0x00) instead of
    /// SHA-256(authenticatorData ‖ clientDataHash).
    SignatureOverWrongMessage,
    /// The authenticator data lacks its last byte (36 bytes without the extension map). The
    /// signature covers the truncated bytes.
    TruncatedAuthData,
}

/// Builds the assertion for `device` as `spec` describes it.
pub(crate) fn build(device: &SimulatedDevice, spec: &AssertionSpec) -> Vec<u8> {
    let mutation = &spec.mutation;

    let rp_id_hash = match mutation {
        AssertionMutation::RpIdOf(other_app_id) => app_id_hash(other_app_id),
        _ => app_id_hash(&spec.app_id),
    };
    let mut authenticator_data = Vec::with_capacity(37);
    authenticator_data.extend_from_slice(&rp_id_hash);
    authenticator_data.push(FLAG_ATTESTED_CREDENTIAL_DATA);
    authenticator_data.extend_from_slice(&spec.counter.to_be_bytes());
    if spec.extension_map {
        authenticator_data.extend_from_slice(&ios_extension_map());
    }
    if *mutation == AssertionMutation::TruncatedAuthData {
        authenticator_data.pop();
    }

    // The signed message is the 32-byte SHA-256 digest; ECDSA-with-SHA-256 hashes it again.
    let mut signed = authenticator_data.clone();
    signed.extend_from_slice(&spec.client_data_hash);
    if *mutation == AssertionMutation::SignatureOverWrongMessage {
        signed.push(0x00);
    }
    let message = sha256(&signed);

    let signature = match mutation {
        AssertionMutation::RawSignature => device.sign_fixed(&message),
        AssertionMutation::SignatureByOtherKey => SimulatedDevice::new().sign_der(&message),
        _ => device.sign_der(&message),
    };

    encode(&Value::Map(vec![
        (text("signature"), bytes(&signature)),
        (text("authenticatorData"), bytes(&authenticator_data)),
    ]))
}
