//! Google's attestation certificate status list.
//!
//! Google publishes the serial numbers of revoked and suspended attestation certificates at
//! <https://android.googleapis.com/attestation/status> as
//! `{"entries": {"<serial, lowercase hex>": {"status": "REVOKED", "reason": "...", ...}}}`.
//! The operator downloads that file; this module parses its bytes. Verification never fetches
//! it.

use std::collections::HashMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{MapAccess, Visitor};

use crate::Error;

/// Largest status list accepted. Google's file was a few hundred KiB in 2025.
pub const MAX_STATUS_LIST_LEN: usize = 16 * 1024 * 1024;

/// Longest serial number accepted as a key: 20 octets (RFC 5280) in hex, with some slack for
/// leading zeros.
const MAX_SERIAL_HEX_LEN: usize = 64;

/// Longest `status` or `reason` string accepted.
const MAX_TEXT_LEN: usize = 256;

const WHAT: &str = "attestation status list";

/// The status of one listed certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StatusEntry {
    /// The status as Google writes it: `REVOKED` or `SUSPENDED`.
    pub status: String,
    /// The reason, such as `KEY_COMPROMISE`, when given.
    pub reason: Option<String>,
}

/// A parsed status list: the serial numbers of attestation certificates that must not be
/// trusted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatusList {
    entries: HashMap<String, StatusEntry>,
}

impl StatusList {
    /// Parses a status list file.
    ///
    /// Serial numbers are normalised to lowercase hex without leading zeros, the form
    /// [`serial_hex`] produces from a certificate. Unknown members are ignored; a serial
    /// listed twice, a key that is not hex, or a missing `status` is an error.
    ///
    /// # Errors
    ///
    /// [`Error::InputTooLarge`] above [`MAX_STATUS_LIST_LEN`], [`Error::MalformedPayload`]
    /// when the JSON does not have the shape above.
    pub fn parse(json: &[u8]) -> Result<Self, Error> {
        if json.len() > MAX_STATUS_LIST_LEN {
            return Err(Error::InputTooLarge {
                what: WHAT,
                len: json.len(),
                max: MAX_STATUS_LIST_LEN,
            });
        }
        // The file is Google's public list chosen by the operator, not evidence, so the
        // decoder's message (which may quote a value) is kept to say what to fix.
        let file: StatusFile =
            serde_json::from_slice(json).map_err(|error| Error::MalformedPayload {
                what: WHAT,
                detail: error.to_string(),
            })?;
        Ok(Self {
            entries: file.entries.0,
        })
    }

    /// Returns the entry of a serial number given as lowercase hex without leading zeros.
    pub fn entry(&self, serial_hex: &str) -> Option<&StatusEntry> {
        self.entries.get(serial_hex)
    }

    /// Returns how many serial numbers are listed.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Returns whether no serial number is listed.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Formats a certificate serial number (its big-endian INTEGER content octets) as the status
/// list does: lowercase hex without leading zeros, `0` for zero.
pub fn serial_hex(serial: &[u8]) -> String {
    let hex: String = serial.iter().map(|byte| format!("{byte:02x}")).collect();
    normalise(&hex)
}

fn normalise(hex: &str) -> String {
    let trimmed = hex.trim_start_matches('0');
    if trimmed.is_empty() {
        "0".to_owned()
    } else {
        trimmed.to_ascii_lowercase()
    }
}

#[derive(Deserialize)]
struct StatusFile {
    entries: Entries,
}

#[derive(Deserialize)]
struct RawEntry {
    status: String,
    reason: Option<String>,
}

/// The `entries` object, decoded with a check that no serial number appears twice, which
/// serde's map decoding would otherwise let the last occurrence win.
struct Entries(HashMap<String, StatusEntry>);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(EntriesVisitor)
    }
}

struct EntriesVisitor;

impl<'de> Visitor<'de> for EntriesVisitor {
    type Value = Entries;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("an object from hex serial numbers to status entries")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries, A::Error> {
        use serde::de::Error as _;

        let mut entries = HashMap::new();
        while let Some(key) = map.next_key::<String>()? {
            let valid_hex = !key.is_empty()
                && key.len() <= MAX_SERIAL_HEX_LEN
                && key.bytes().all(|byte| byte.is_ascii_hexdigit());
            if !valid_hex {
                return Err(A::Error::custom(format!(
                    "serial number key {key:?} is not a hex string of at most \
                     {MAX_SERIAL_HEX_LEN} digits"
                )));
            }
            let raw: RawEntry = map.next_value()?;
            let too_long = raw.status.len() > MAX_TEXT_LEN
                || raw
                    .reason
                    .as_ref()
                    .is_some_and(|reason| reason.len() > MAX_TEXT_LEN);
            if too_long {
                return Err(A::Error::custom(format!(
                    "status or reason of serial number {key} is longer than {MAX_TEXT_LEN} bytes"
                )));
            }
            let serial = normalise(&key);
            let entry = StatusEntry {
                status: raw.status,
                reason: raw.reason,
            };
            if entries.insert(serial.clone(), entry).is_some() {
                return Err(A::Error::custom(format!(
                    "serial number {serial} is listed twice"
                )));
            }
        }
        Ok(Entries(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_parse_and_normalise() {
        let json = br#"{"entries": {
            "00C35747A084470C": {"status": "REVOKED", "reason": "KEY_COMPROMISE", "expires": "x"},
            "2c8cdddfd5e03bfc": {"status": "SUSPENDED", "comment": "testing"}
        }, "extra": 1}"#;
        let list = StatusList::parse(json).unwrap();
        assert_eq!(list.len(), 2);
        let revoked = list.entry("c35747a084470c").unwrap();
        assert_eq!(revoked.status, "REVOKED");
        assert_eq!(revoked.reason.as_deref(), Some("KEY_COMPROMISE"));
        let suspended = list.entry("2c8cdddfd5e03bfc").unwrap();
        assert_eq!(suspended.status, "SUSPENDED");
        assert_eq!(suspended.reason, None);
    }

    #[test]
    fn duplicate_serial_rejected() {
        let json = br#"{"entries": {"0a": {"status": "REVOKED"}, "a": {"status": "REVOKED"}}}"#;
        let error = StatusList::parse(json).unwrap_err();
        assert_eq!(error.reason(), "malformed_payload");
    }

    #[test]
    fn non_hex_serial_rejected() {
        let json = br#"{"entries": {"xyz": {"status": "REVOKED"}}}"#;
        assert!(StatusList::parse(json).is_err());
    }

    #[test]
    fn missing_status_rejected() {
        let json = br#"{"entries": {"0a": {"reason": "KEY_COMPROMISE"}}}"#;
        assert!(StatusList::parse(json).is_err());
    }

    #[test]
    fn missing_entries_rejected() {
        assert!(StatusList::parse(b"{}").is_err());
    }

    #[test]
    fn serial_hex_drops_leading_zeros() {
        assert_eq!(serial_hex(&[0x00, 0xd0, 0x5f]), "d05f");
        assert_eq!(serial_hex(&[0x01]), "1");
        assert_eq!(serial_hex(&[0x00]), "0");
        assert_eq!(serial_hex(&[0x03, 0x88, 0x26]), "38826");
    }
}
