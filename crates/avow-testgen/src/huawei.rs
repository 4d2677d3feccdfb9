//! Huawei HMS Safety Detect SysIntegrity results, built with the SafetyNet pieces: Huawei's
//! format is SafetyNet's without `ctsProfileMatch` and `evaluationType`.

use rcgen::date_time_ymd;
use serde_json::Value;
use time::OffsetDateTime;

use crate::safetynet::{
    LeafName, Padding, ResultMutation, ResultPayload, ResultSigner, algorithm, apply_missing_field,
    payload_object, sign_options,
};

/// The host Huawei's SysIntegrity signing certificate is issued for.
pub const SYS_INTEGRITY_HOST: &str = "sysintegrity.platform.hicloud.com";

/// The signature algorithm of a generated result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SysIntegrityAlgorithm {
    /// RSASSA-PSS with SHA-256.
    Ps256,
    /// RSASSA-PKCS1-v1_5 with SHA-256, the one Huawei's server sample checks.
    Rs256,
}

impl SysIntegrityAlgorithm {
    /// Returns the JWS `alg` name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ps256 => "PS256",
            Self::Rs256 => "RS256",
        }
    }
}

/// The description of a SysIntegrity result to generate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SysIntegritySpec {
    /// The payload fields.
    pub payload: ResultPayload,
    /// The signature algorithm. Defaults to RS256.
    pub algorithm: SysIntegrityAlgorithm,
    /// Whether the base64url parts keep `=` padding. Defaults to [`Padding::Padded`], the
    /// form public HMS verifiers report.
    pub padding: Padding,
    /// The single defect to build in. Defaults to [`ResultMutation::None`].
    pub mutation: ResultMutation,
}

impl SysIntegritySpec {
    /// Creates the specification of a valid result from a device that passes
    /// `basicIntegrity`.
    pub fn new(
        nonce: impl Into<Vec<u8>>,
        timestamp_ms: u64,
        package_name: impl Into<String>,
        certificate_digests: Vec<[u8; 32]>,
    ) -> Self {
        Self {
            payload: ResultPayload {
                nonce: nonce.into(),
                timestamp_ms,
                package_name: package_name.into(),
                certificate_digests,
                basic_integrity: true,
                advice: None,
            },
            algorithm: SysIntegrityAlgorithm::Rs256,
            padding: Padding::Padded,
            mutation: ResultMutation::None,
        }
    }

    /// Returns this specification with `mutation` in place of the current one.
    #[must_use]
    pub fn with_mutation(mut self, mutation: ResultMutation) -> Self {
        self.mutation = mutation;
        self
    }
}

/// Generates SysIntegrity results from a [`ResultSigner`] whose leaf is for
/// [`SYS_INTEGRITY_HOST`].
#[derive(Debug)]
pub struct SysIntegrityGenerator {
    signer: ResultSigner,
    leaf_name: LeafName,
}

impl SysIntegrityGenerator {
    /// Creates a fresh test PKI whose leaf names the host as given by `leaf_name`, valid from
    /// 2024-01-01 to 2049-12-31. Public HMS verifiers report that Huawei's leaf names the host
    /// in its common name only ([`LeafName::CommonNameOnly`]).
    pub fn new(leaf_name: LeafName) -> Self {
        Self::with_leaf_validity(
            leaf_name,
            date_time_ymd(2024, 1, 1),
            date_time_ymd(2049, 12, 31),
        )
    }

    /// Creates a fresh test PKI whose leaf is valid from `not_before` to `not_after`.
    pub fn with_leaf_validity(
        leaf_name: LeafName,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> Self {
        Self {
            signer: ResultSigner::new(SYS_INTEGRITY_HOST, leaf_name, not_before, not_after),
            leaf_name,
        }
    }

    /// Returns the PKI behind the results, for its root certificate.
    pub fn signer(&self) -> &ResultSigner {
        &self.signer
    }

    /// Builds the compact JWS described by `spec`.
    pub fn result(&self, spec: &SysIntegritySpec) -> String {
        let mut payload = payload_object(&spec.payload, &spec.mutation);
        apply_missing_field(&mut payload, &spec.mutation);
        let alg = algorithm(&spec.mutation, spec.algorithm.as_str());
        self.signer.sign(
            alg,
            &Value::Object(payload),
            &sign_options(
                &spec.mutation,
                spec.padding,
                SYS_INTEGRITY_HOST,
                self.leaf_name,
            ),
        )
    }
}
