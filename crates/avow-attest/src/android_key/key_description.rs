//! The key attestation extension (OID 1.3.6.1.4.1.11129.2.1.17): `KeyDescription` and the parts
//! of its authorization lists that the verifier reads.
//!
//! The schema is Android's "Attestation extension" (KeyMint `KeyDescription`, attestation
//! versions 1 to 400 share its shape):
//!
//! ```text
//! KeyDescription ::= SEQUENCE {
//!     attestationVersion INTEGER, attestationSecurityLevel SecurityLevel,
//!     keyMintVersion INTEGER, keyMintSecurityLevel SecurityLevel,
//!     attestationChallenge OCTET STRING, uniqueId OCTET STRING,
//!     softwareEnforced AuthorizationList, hardwareEnforced AuthorizationList }
//! AuthorizationList ::= SEQUENCE { each entry [tag] EXPLICIT, OPTIONAL, in tag order }
//! RootOfTrust ::= SEQUENCE { verifiedBootKey OCTET STRING, deviceLocked BOOLEAN,
//!     verifiedBootState VerifiedBootState, verifiedBootHash OCTET STRING OPTIONAL }
//! ```
//!
//! Authorization list entries with tags the verifier does not read are checked to be one
//! well-formed element in an explicit tag and skipped, so that tags added by newer KeyMint
//! versions do not break verification.

use super::der::{Class, DerError, Element, Reader};
use crate::Error;

/// The structure named in errors about the whole extension.
const EXTENSION: &str = "attestation extension";

/// Authorization list tags read by the verifier (KeyMint `Tag` numbers without the type bits).
const TAG_PURPOSE: u32 = 1;
const TAG_ALGORITHM: u32 = 2;
const TAG_KEY_SIZE: u32 = 3;
const TAG_DIGEST: u32 = 5;
const TAG_EC_CURVE: u32 = 10;
const TAG_CREATION_DATE_TIME: u32 = 701;
const TAG_ORIGIN: u32 = 702;
const TAG_ROOT_OF_TRUST: u32 = 704;
const TAG_OS_VERSION: u32 = 705;
const TAG_OS_PATCH_LEVEL: u32 = 706;
const TAG_ATTESTATION_APPLICATION_ID: u32 = 709;
const TAG_VENDOR_PATCH_LEVEL: u32 = 718;
const TAG_BOOT_PATCH_LEVEL: u32 = 719;

/// Most entries accepted in one SET OF (purposes, digests, packages, signature digests).
const MAX_SET_LEN: usize = 64;

/// The security level of a key or of its attestation, as KeyMint reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SecurityLevel {
    /// The Android system stores the key, so a compromised OS can read it.
    Software,
    /// A trusted execution environment (TEE) stores the key.
    TrustedEnvironment,
    /// A discrete secure element (StrongBox) stores the key.
    StrongBox,
}

impl SecurityLevel {
    fn from_value(value: u64) -> Result<Self, DerError> {
        match value {
            0 => Ok(Self::Software),
            1 => Ok(Self::TrustedEnvironment),
            2 => Ok(Self::StrongBox),
            _ => Err(DerError("unknown SecurityLevel value")),
        }
    }

    /// Returns whether secure hardware (TEE or StrongBox) stores the key.
    pub fn is_hardware(self) -> bool {
        matches!(self, Self::TrustedEnvironment | Self::StrongBox)
    }

    /// Returns the name used in Android's schema.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Software => "Software",
            Self::TrustedEnvironment => "TrustedEnvironment",
            Self::StrongBox => "StrongBox",
        }
    }
}

/// The verified boot state reported by the bootloader.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VerifiedBootState {
    /// The bootloader verified the whole boot chain with the OEM's key ("green").
    Verified,
    /// The boot chain was verified with a key the user installed ("yellow").
    SelfSigned,
    /// The bootloader is unlocked and does not verify the OS ("orange").
    Unverified,
    /// Verification failed ("red").
    Failed,
}

impl VerifiedBootState {
    fn from_value(value: u64) -> Result<Self, DerError> {
        match value {
            0 => Ok(Self::Verified),
            1 => Ok(Self::SelfSigned),
            2 => Ok(Self::Unverified),
            3 => Ok(Self::Failed),
            _ => Err(DerError("unknown VerifiedBootState value")),
        }
    }

    /// Returns the name used in Android's schema.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Verified => "Verified",
            Self::SelfSigned => "SelfSigned",
            Self::Unverified => "Unverified",
            Self::Failed => "Failed",
        }
    }
}

/// The device state that the secure hardware received from the bootloader.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RootOfTrust {
    /// Digest of the key that verified the boot image (all zero on some unlocked devices).
    pub verified_boot_key: Vec<u8>,
    /// Whether the bootloader is locked.
    pub device_locked: bool,
    /// The verified boot state.
    pub verified_boot_state: VerifiedBootState,
    /// Digest of the verified boot data, present from attestation version 3.
    pub verified_boot_hash: Option<Vec<u8>>,
}

/// One package of the app that requested the attestation.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AttestationPackageInfo {
    /// The package name bytes (UTF-8 in practice).
    pub package_name: Vec<u8>,
    /// The package's version code.
    pub version: u64,
}

/// The app identity the Android framework attached to the key: every package of the calling
/// UID and the SHA-256 digests of their signing certificates.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AttestationApplicationId {
    /// The packages sharing the calling UID (usually one).
    pub package_infos: Vec<AttestationPackageInfo>,
    /// SHA-256 digests of the signing certificates.
    pub signature_digests: Vec<Vec<u8>>,
}

/// The entries of one authorization list that the verifier reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuthorizationList {
    /// Allowed key purposes (KeyMint `KeyPurpose`: 2 sign, 3 verify, …).
    pub purposes: Vec<u64>,
    /// Key algorithm (KeyMint `Algorithm`: 1 RSA, 3 EC, …).
    pub algorithm: Option<u64>,
    /// Key size in bits.
    pub key_size: Option<u64>,
    /// Allowed digests (KeyMint `Digest`: 4 SHA-256, …).
    pub digests: Vec<u64>,
    /// Elliptic curve (KeyMint `EcCurve`: 1 P-256, 2 P-384, …).
    pub ec_curve: Option<u64>,
    /// Key creation time, Unix milliseconds, by the device clock.
    pub creation_date_time: Option<u64>,
    /// Key origin (KeyMint `KeyOrigin`: 0 generated, 2 imported, …).
    pub origin: Option<u64>,
    /// The device's root of trust.
    pub root_of_trust: Option<RootOfTrust>,
    /// OS version as MMmmpp (150000 is Android 15).
    pub os_version: Option<u64>,
    /// OS security patch level as YYYYMM.
    pub os_patch_level: Option<u64>,
    /// The app identity, decoded from its OCTET STRING.
    pub attestation_application_id: Option<AttestationApplicationId>,
    /// Vendor image patch level as YYYYMMDD.
    pub vendor_patch_level: Option<u64>,
    /// Boot image patch level as YYYYMMDD.
    pub boot_patch_level: Option<u64>,
}

/// The decoded attestation extension.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyDescription {
    /// The attestation schema version (KeyMint 3 writes 300).
    pub attestation_version: u64,
    /// The security level of the attestation itself.
    pub attestation_security_level: SecurityLevel,
    /// The Keymaster or KeyMint version.
    pub keymint_version: u64,
    /// The security level of the Keymaster or KeyMint implementation.
    pub keymint_security_level: SecurityLevel,
    /// The challenge the app passed to `setAttestationChallenge`.
    pub attestation_challenge: Vec<u8>,
    /// The unique id, empty unless the caller had the privileged permission to request it.
    pub unique_id: Vec<u8>,
    /// Properties the Android system enforces.
    pub software_enforced: AuthorizationList,
    /// Properties the secure hardware enforces.
    pub hardware_enforced: AuthorizationList,
}

impl KeyDescription {
    /// Returns the app identity from whichever list carries it (the system adds it to
    /// `softwareEnforced`).
    pub fn attestation_application_id(&self) -> Option<&AttestationApplicationId> {
        self.software_enforced
            .attestation_application_id
            .as_ref()
            .or(self.hardware_enforced.attestation_application_id.as_ref())
    }
}

/// Decodes the value of the attestation extension (the bytes inside `extnValue`).
///
/// # Errors
///
/// [`Error::AttestationExtensionMalformed`] for an encoding that breaks DER or the schema, and
/// [`Error::TrailingBytes`] when bytes follow a structure that must end there.
pub(crate) fn parse(value: &[u8]) -> Result<KeyDescription, Error> {
    let mut outer = Reader::new(value);
    let sequence = outer.element().map_err(malformed)?;
    if !outer.is_empty() {
        return Err(Error::TrailingBytes {
            what: EXTENSION,
            len: outer.remaining(),
        });
    }
    let mut fields = sequence.sequence().map_err(malformed)?;

    let attestation_version = next(&mut fields)?.unsigned_integer().map_err(malformed)?;
    let attestation_security_level = security_level(next(&mut fields)?)?;
    let keymint_version = next(&mut fields)?.unsigned_integer().map_err(malformed)?;
    let keymint_security_level = security_level(next(&mut fields)?)?;
    let attestation_challenge = next(&mut fields)?.octet_string().map_err(malformed)?;
    let unique_id = next(&mut fields)?.octet_string().map_err(malformed)?;
    let software_enforced = authorization_list(next(&mut fields)?)?;
    let hardware_enforced = authorization_list(next(&mut fields)?)?;
    end_of(&fields, "KeyDescription")?;

    if software_enforced.attestation_application_id.is_some()
        && hardware_enforced.attestation_application_id.is_some()
    {
        return Err(malformed(DerError(
            "attestationApplicationId appears in both authorization lists",
        )));
    }

    Ok(KeyDescription {
        attestation_version,
        attestation_security_level,
        keymint_version,
        keymint_security_level,
        attestation_challenge: attestation_challenge.to_vec(),
        unique_id: unique_id.to_vec(),
        software_enforced,
        hardware_enforced,
    })
}

fn malformed(error: DerError) -> Error {
    Error::AttestationExtensionMalformed { detail: error.0 }
}

fn next<'a>(reader: &mut Reader<'a>) -> Result<Element<'a>, Error> {
    reader.element().map_err(malformed)
}

fn end_of(reader: &Reader<'_>, what: &'static str) -> Result<(), Error> {
    if reader.is_empty() {
        Ok(())
    } else {
        Err(Error::TrailingBytes {
            what,
            len: reader.remaining(),
        })
    }
}

fn security_level(element: Element<'_>) -> Result<SecurityLevel, Error> {
    let value = element.enumerated().map_err(malformed)?;
    SecurityLevel::from_value(value).map_err(malformed)
}

fn authorization_list(element: Element<'_>) -> Result<AuthorizationList, Error> {
    let mut entries = element.sequence().map_err(malformed)?;
    let mut list = AuthorizationList::default();
    let mut previous_tag = None;
    while let Some(entry) = entries.optional_element().map_err(malformed)? {
        if entry.class != Class::ContextSpecific || !entry.constructed {
            return Err(malformed(DerError(
                "authorization list entry is not an explicit context-specific tag",
            )));
        }
        // DER writes the optional components of a SEQUENCE in schema order, which is tag
        // order; a repeated tag would be a duplicate entry.
        if previous_tag.is_some_and(|previous| entry.tag <= previous) {
            return Err(malformed(DerError(
                "authorization list entries are not in ascending tag order",
            )));
        }
        previous_tag = Some(entry.tag);

        let mut wrapper = Reader::new(entry.content);
        let value = next(&mut wrapper)?;
        end_of(&wrapper, "authorization list entry")?;
        read_entry(&mut list, entry.tag, value)?;
    }
    Ok(list)
}

fn read_entry(list: &mut AuthorizationList, tag: u32, value: Element<'_>) -> Result<(), Error> {
    let integer = |element: Element<'_>| element.unsigned_integer().map_err(malformed);
    match tag {
        TAG_PURPOSE => list.purposes = integer_set(value)?,
        TAG_ALGORITHM => list.algorithm = Some(integer(value)?),
        TAG_KEY_SIZE => list.key_size = Some(integer(value)?),
        TAG_DIGEST => list.digests = integer_set(value)?,
        TAG_EC_CURVE => list.ec_curve = Some(integer(value)?),
        TAG_CREATION_DATE_TIME => list.creation_date_time = Some(integer(value)?),
        TAG_ORIGIN => list.origin = Some(integer(value)?),
        TAG_ROOT_OF_TRUST => list.root_of_trust = Some(root_of_trust(value)?),
        TAG_OS_VERSION => list.os_version = Some(integer(value)?),
        TAG_OS_PATCH_LEVEL => list.os_patch_level = Some(integer(value)?),
        TAG_ATTESTATION_APPLICATION_ID => {
            let bytes = value.octet_string().map_err(malformed)?;
            list.attestation_application_id = Some(attestation_application_id(bytes)?);
        }
        TAG_VENDOR_PATCH_LEVEL => list.vendor_patch_level = Some(integer(value)?),
        TAG_BOOT_PATCH_LEVEL => list.boot_patch_level = Some(integer(value)?),
        // Entries the verifier does not read; the wrapper was already checked.
        _ => {}
    }
    Ok(())
}

fn integer_set(element: Element<'_>) -> Result<Vec<u64>, Error> {
    let mut members = element.set().map_err(malformed)?;
    let mut values = Vec::new();
    while let Some(member) = members.optional_element().map_err(malformed)? {
        if values.len() == MAX_SET_LEN {
            return Err(malformed(DerError("SET OF INTEGER has too many members")));
        }
        values.push(member.unsigned_integer().map_err(malformed)?);
    }
    Ok(values)
}

fn root_of_trust(element: Element<'_>) -> Result<RootOfTrust, Error> {
    let mut fields = element.sequence().map_err(malformed)?;
    let verified_boot_key = next(&mut fields)?.octet_string().map_err(malformed)?;
    let device_locked = next(&mut fields)?.boolean().map_err(malformed)?;
    let state = next(&mut fields)?.enumerated().map_err(malformed)?;
    let verified_boot_state = VerifiedBootState::from_value(state).map_err(malformed)?;
    let verified_boot_hash = match fields.optional_element().map_err(malformed)? {
        Some(hash) => Some(hash.octet_string().map_err(malformed)?.to_vec()),
        None => None,
    };
    end_of(&fields, "RootOfTrust")?;
    Ok(RootOfTrust {
        verified_boot_key: verified_boot_key.to_vec(),
        device_locked,
        verified_boot_state,
        verified_boot_hash,
    })
}

/// Decodes the DER inside the `attestationApplicationId` OCTET STRING:
///
/// ```text
/// AttestationApplicationId ::= SEQUENCE {
///     package_infos SET OF AttestationPackageInfo, signature_digests SET OF OCTET STRING }
/// AttestationPackageInfo ::= SEQUENCE { package_name OCTET STRING, version INTEGER }
/// ```
///
/// The members of each SET OF are not required to be in DER sort order, because the order
/// carries no meaning here and Android's own encoder is the only producer.
fn attestation_application_id(bytes: &[u8]) -> Result<AttestationApplicationId, Error> {
    const WHAT: &str = "attestationApplicationId";
    let mut outer = Reader::new(bytes);
    let sequence = next(&mut outer)?;
    end_of(&outer, WHAT)?;
    let mut fields = sequence.sequence().map_err(malformed)?;

    let mut packages = next(&mut fields)?.set().map_err(malformed)?;
    let mut package_infos = Vec::new();
    while let Some(package) = packages.optional_element().map_err(malformed)? {
        if package_infos.len() == MAX_SET_LEN {
            return Err(malformed(DerError("package_infos has too many members")));
        }
        let mut info = package.sequence().map_err(malformed)?;
        let package_name = next(&mut info)?.octet_string().map_err(malformed)?;
        let version = next(&mut info)?.unsigned_integer().map_err(malformed)?;
        end_of(&info, "AttestationPackageInfo")?;
        package_infos.push(AttestationPackageInfo {
            package_name: package_name.to_vec(),
            version,
        });
    }

    let mut digests = next(&mut fields)?.set().map_err(malformed)?;
    let mut signature_digests = Vec::new();
    while let Some(digest) = digests.optional_element().map_err(malformed)? {
        if signature_digests.len() == MAX_SET_LEN {
            return Err(malformed(DerError(
                "signature_digests has too many members",
            )));
        }
        signature_digests.push(digest.octet_string().map_err(malformed)?.to_vec());
    }
    end_of(&fields, WHAT)?;

    Ok(AttestationApplicationId {
        package_infos,
        signature_digests,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tlv(identifier: &[u8], content: &[u8]) -> Vec<u8> {
        let mut out = identifier.to_vec();
        let len = u8::try_from(content.len()).unwrap();
        if len >= 0x80 {
            out.push(0x81);
        }
        out.push(len);
        out.extend_from_slice(content);
        out
    }

    fn integer(value: u8) -> Vec<u8> {
        assert!(value < 0x80);
        tlv(&[0x02], &[value])
    }

    fn enumerated(value: u8) -> Vec<u8> {
        tlv(&[0x0a], &[value])
    }

    fn octets(bytes: &[u8]) -> Vec<u8> {
        tlv(&[0x04], bytes)
    }

    fn sequence(parts: &[Vec<u8>]) -> Vec<u8> {
        tlv(&[0x30], &parts.concat())
    }

    /// `[704] EXPLICIT RootOfTrust` with a 4-byte boot key, locked, Verified, no hash.
    fn root_of_trust_entry() -> Vec<u8> {
        let root = sequence(&[octets(&[1, 2, 3, 4]), tlv(&[0x01], &[0xff]), enumerated(0)]);
        tlv(&[0xbf, 0x85, 0x40], &root)
    }

    fn description(security_level: u8, software: &[Vec<u8>], hardware: &[Vec<u8>]) -> Vec<u8> {
        sequence(&[
            integer(4),
            enumerated(security_level),
            integer(4),
            enumerated(security_level),
            octets(b"nonce"),
            octets(&[]),
            sequence(software),
            sequence(hardware),
        ])
    }

    fn application_id_entry() -> Vec<u8> {
        let info = sequence(&[octets(b"com.example"), integer(1)]);
        let id = sequence(&[tlv(&[0x31], &info), tlv(&[0x31], &octets(&[0xab; 32]))]);
        tlv(&[0xbf, 0x85, 0x45], &octets(&id))
    }

    #[test]
    fn version_four_root_of_trust_without_hash_decodes() {
        let value = description(1, &[application_id_entry()], &[root_of_trust_entry()]);
        let parsed = parse(&value).unwrap();
        assert_eq!(parsed.attestation_version, 4);
        let root = parsed.hardware_enforced.root_of_trust.unwrap();
        assert!(root.device_locked);
        assert_eq!(root.verified_boot_state, VerifiedBootState::Verified);
        assert_eq!(root.verified_boot_hash, None);
        let application = parsed.software_enforced.attestation_application_id.unwrap();
        assert_eq!(application.package_infos[0].package_name, b"com.example");
    }

    #[test]
    fn unknown_tags_skipped() {
        // [600] allApplications (NULL) and [1000], a tag no KeyMint version defines.
        let all_applications = tlv(&[0xbf, 0x84, 0x58], &tlv(&[0x05], &[]));
        let future = tlv(&[0xbf, 0x87, 0x68], &integer(7));
        let value = description(1, &[], &[all_applications, root_of_trust_entry(), future]);
        assert!(parse(&value).is_ok());
    }

    #[test]
    fn unordered_tags_rejected() {
        let algorithm = tlv(&[0xa2], &integer(3));
        let value = description(1, &[], &[root_of_trust_entry(), algorithm]);
        assert_eq!(
            parse(&value),
            Err(Error::AttestationExtensionMalformed {
                detail: "authorization list entries are not in ascending tag order"
            })
        );
    }

    #[test]
    fn repeated_tag_rejected() {
        let value = description(1, &[], &[root_of_trust_entry(), root_of_trust_entry()]);
        assert!(matches!(
            parse(&value),
            Err(Error::AttestationExtensionMalformed { .. })
        ));
    }

    #[test]
    fn implicit_entry_rejected() {
        // [2] IMPLICIT INTEGER: primitive, so not an explicit wrapper.
        let value = description(1, &[], &[tlv(&[0x82], &[3])]);
        assert!(matches!(
            parse(&value),
            Err(Error::AttestationExtensionMalformed { .. })
        ));
    }

    #[test]
    fn two_values_in_one_entry_rejected() {
        let entry = tlv(&[0xa2], &[integer(3), integer(4)].concat());
        let value = description(1, &[], &[entry]);
        assert_eq!(
            parse(&value),
            Err(Error::TrailingBytes {
                what: "authorization list entry",
                len: 3
            })
        );
    }

    #[test]
    fn unknown_security_level_rejected() {
        let value = description(3, &[], &[]);
        assert_eq!(
            parse(&value),
            Err(Error::AttestationExtensionMalformed {
                detail: "unknown SecurityLevel value"
            })
        );
    }

    #[test]
    fn application_id_in_both_lists_rejected() {
        let value = description(1, &[application_id_entry()], &[application_id_entry()]);
        assert!(matches!(
            parse(&value),
            Err(Error::AttestationExtensionMalformed { .. })
        ));
    }

    #[test]
    fn missing_field_rejected() {
        let value = sequence(&[integer(4), enumerated(1)]);
        assert_eq!(
            parse(&value),
            Err(Error::AttestationExtensionMalformed {
                detail: "truncated: an element is missing"
            })
        );
    }

    #[test]
    fn extra_field_rejected() {
        let mut value = description(1, &[], &[]);
        // Append a ninth element inside the outer SEQUENCE.
        value.extend_from_slice(&integer(0));
        value[1] += 3;
        assert_eq!(
            parse(&value),
            Err(Error::TrailingBytes {
                what: "KeyDescription",
                len: 3
            })
        );
    }
}
