//! Apple App Attest: attestation objects and assertions.
//!
//! The steps follow Apple's "Validating apps that connect to your server"
//! (<https://developer.apple.com/documentation/devicecheck/validating-apps-that-connect-to-your-server>),
//! numbered in Apple's order in [`AttestationCheck`], with two additions: the credential public
//! key in the authenticator data must equal the certificate's key, and the CBOR input must be
//! strict (one item, no duplicate keys, bounded size and depth, no trailing bytes).
//!
//! `clientDataHash` is whatever bytes the app passed to `attestKey` or `generateAssertion`.
//! The verifier takes it as bytes of any length and leaves the convention to the caller.

mod assertion;
mod attestation;
mod auth_data;

pub use assertion::{
    AssertionCheck, AssertionInput, AssertionReport, VerifiedAssertion, verify_assertion,
    verify_assertion_report,
};
pub use attestation::{
    AttestationCheck, AttestationInput, AttestationReport, VerifiedAttestation, verify_attestation,
    verify_attestation_report,
};
pub use auth_data::Extensions;

pub use crate::{CheckOutcome, Roots};

/// Apple App Attestation Root CA, as published by Apple (provenance in `roots/README.md`).
pub(crate) const APPLE_APP_ATTESTATION_ROOT_CA_PEM: &[u8] =
    include_bytes!("roots/Apple_App_Attestation_Root_CA.pem");

/// Largest attestation object accepted. Real ones are about 5 KiB, most of it the receipt.
pub const MAX_ATTESTATION_LEN: usize = 64 * 1024;
/// Largest assertion accepted. Real ones are about 110 bytes.
pub const MAX_ASSERTION_LEN: usize = 4 * 1024;

/// The App Attest environment a key was created in, named by the AAGUID.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Environment {
    /// Keys of apps built by Xcode for development (AAGUID `appattestdevelop`).
    Development,
    /// Keys of apps distributed through TestFlight, the App Store or enterprise distribution
    /// (AAGUID `appattest` followed by seven zero bytes).
    Production,
}

impl Environment {
    const DEVELOPMENT_AAGUID: [u8; 16] = *b"appattestdevelop";
    const PRODUCTION_AAGUID: [u8; 16] = *b"appattest\0\0\0\0\0\0\0";

    /// Returns the lowercase name used in configuration and APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Development => "development",
            Self::Production => "production",
        }
    }

    /// Parses `development` or `production`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "development" => Some(Self::Development),
            "production" => Some(Self::Production),
            _ => None,
        }
    }

    fn from_aaguid(aaguid: &[u8; 16]) -> Option<Self> {
        match *aaguid {
            Self::DEVELOPMENT_AAGUID => Some(Self::Development),
            Self::PRODUCTION_AAGUID => Some(Self::Production),
            _ => None,
        }
    }
}

/// An Apple App ID: `TEAMID.bundle.identifier`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AppId(String);

impl AppId {
    /// Builds the App ID from a team id and a bundle id.
    pub fn new(team_id: &str, bundle_id: &str) -> Self {
        Self(format!("{team_id}.{bundle_id}"))
    }

    /// Parses `TEAMID.bundle.identifier`. Returns `None` when there is no dot separating a
    /// non-empty team id from a non-empty bundle id.
    pub fn parse(app_id: &str) -> Option<Self> {
        let (team, bundle) = app_id.split_once('.')?;
        (!team.is_empty() && !bundle.is_empty()).then(|| Self(app_id.to_owned()))
    }

    /// Returns the App ID as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Returns SHA-256 of the App ID, the value App Attest puts in `rpIdHash`.
    pub fn rp_id_hash(&self) -> [u8; 32] {
        crate::sha256(self.0.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_id_parse_requires_team_and_bundle() {
        assert!(AppId::parse("TEAM.com.example").is_some());
        assert!(AppId::parse("TEAM").is_none());
        assert!(AppId::parse(".com.example").is_none());
        assert!(AppId::parse("TEAM.").is_none());
    }

    #[test]
    fn environment_from_aaguid() {
        assert_eq!(
            Environment::from_aaguid(b"appattestdevelop"),
            Some(Environment::Development)
        );
        assert_eq!(
            Environment::from_aaguid(b"appattest\0\0\0\0\0\0\0"),
            Some(Environment::Production)
        );
        assert_eq!(Environment::from_aaguid(&[0u8; 16]), None);
    }
}
