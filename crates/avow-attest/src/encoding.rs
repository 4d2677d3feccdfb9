//! Decoding of the base64 variants that mobile clients send.
//!
//! iOS returns key ids in standard base64 with padding, Android and web clients often use
//! base64url without padding, and hand-written clients mix them. Ids are decoded to bytes once,
//! here, and compared as bytes, never as strings.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

const LENIENT: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_padding_mode(DecodePaddingMode::Indifferent)
    .with_decode_allow_trailing_bits(false);
const STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);

/// The input is not base64 in any variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid base64: not standard or URL-safe base64, with or without padding")]
pub struct InvalidBase64;

/// Decodes standard or URL-safe base64, with or without padding, ignoring surrounding
/// whitespace and line breaks (as in PEM-style wrapped input).
///
/// A string that mixes the two alphabets (`+` and `-`, or `/` and `_`) is rejected.
pub fn decode_base64_any(input: &str) -> Result<Vec<u8>, InvalidBase64> {
    let compact: String = input.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let standard_only = compact.contains(['+', '/']);
    let url_only = compact.contains(['-', '_']);
    let engine = match (standard_only, url_only) {
        (true, true) => return Err(InvalidBase64),
        (false, true) => &URL_SAFE,
        _ => &STANDARD,
    };
    engine.decode(compact.as_bytes()).map_err(|_| InvalidBase64)
}

/// Encodes bytes as URL-safe base64 without padding, the form Avow uses in its own APIs.
pub fn encode_base64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_decodes_to_same_bytes() {
        let bytes: Vec<u8> = (0u8..=255).rev().take(32).collect();
        let standard = base64::engine::general_purpose::STANDARD.encode(&bytes);
        let standard_no_pad = base64::engine::general_purpose::STANDARD_NO_PAD.encode(&bytes);
        let url = base64::engine::general_purpose::URL_SAFE.encode(&bytes);
        let url_no_pad = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes);
        assert!(standard.contains('/') || standard.contains('+'));
        for encoded in [standard, standard_no_pad, url, url_no_pad] {
            assert_eq!(decode_base64_any(&encoded).unwrap(), bytes, "{encoded}");
        }
    }

    #[test]
    fn wrapped_input_decodes() {
        assert_eq!(decode_base64_any("aGVs\nbG8=\n").unwrap(), b"hello");
    }

    #[test]
    fn mixed_alphabets_rejected() {
        assert_eq!(decode_base64_any("a+b_"), Err(InvalidBase64));
    }

    #[test]
    fn garbage_rejected() {
        assert_eq!(decode_base64_any("not base64!"), Err(InvalidBase64));
        assert_eq!(decode_base64_any("a"), Err(InvalidBase64));
    }
}
