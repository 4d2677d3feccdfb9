//! Small CBOR encoding helpers on top of ciborium.

use ciborium::Value;

/// The initial byte of an indefinite-length map (major type 5, additional information 31).
const INDEFINITE_MAP_START: u8 = 0xbf;

/// The "break" byte that ends an indefinite-length item.
const BREAK: u8 = 0xff;

/// Encodes `value` with ciborium, which uses definite lengths, the shortest integer forms and
/// keeps map entries in the given order (duplicates included).
pub(crate) fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing into a `Vec` cannot fail, and `Value` contains no types that ciborium rejects
    // (this crate never builds floats, tags or integers beyond 64 bits).
    ciborium::into_writer(value, &mut out).expect("CBOR encoding into a Vec failed");
    out
}

/// Encodes a map with an indefinite-length header and a closing break byte. Keys and values
/// themselves use definite lengths.
pub(crate) fn encode_indefinite_map(entries: &[(Value, Value)]) -> Vec<u8> {
    let mut out = vec![INDEFINITE_MAP_START];
    for (key, value) in entries {
        out.extend_from_slice(&encode(key));
        out.extend_from_slice(&encode(value));
    }
    out.push(BREAK);
    out
}

/// Builds a CBOR text string.
pub(crate) fn text(value: &str) -> Value {
    Value::Text(value.to_owned())
}

/// Builds a CBOR integer.
pub(crate) fn int(value: i64) -> Value {
    Value::Integer(value.into())
}

/// Builds a CBOR byte string.
pub(crate) fn bytes(value: &[u8]) -> Value {
    Value::Bytes(value.to_vec())
}
