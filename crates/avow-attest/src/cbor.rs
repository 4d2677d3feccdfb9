//! Strict CBOR decoding on top of `ciborium`: one item, bounded depth, no duplicate map keys.

use ciborium::value::Value;

use crate::Error;

/// Maximum nesting depth of any CBOR structure the verifiers accept. Real App Attest objects
/// nest three levels deep.
pub(crate) const MAX_DEPTH: usize = 16;

/// Maximum number of entries in any CBOR map. App Attest maps have at most five; the cap keeps
/// the duplicate-key check, which compares every pair of keys, cheap on hostile input.
pub(crate) const MAX_MAP_ENTRIES: usize = 64;

/// Decodes one CBOR item from the front of `input` and returns it with the bytes that follow.
pub(crate) fn decode_prefix<'a>(
    input: &'a [u8],
    what: &'static str,
) -> Result<(Value, &'a [u8]), Error> {
    let mut reader = input;
    let value: Value = ciborium::de::from_reader_with_recursion_limit(&mut reader, MAX_DEPTH)
        .map_err(|error| match error {
            ciborium::de::Error::RecursionLimitExceeded => Error::CborTooDeep {
                what,
                max_depth: MAX_DEPTH,
            },
            ciborium::de::Error::Io(_) => Error::MalformedCbor {
                what,
                detail: "input ends inside an item".to_owned(),
            },
            ciborium::de::Error::Syntax(offset) => Error::MalformedCbor {
                what,
                detail: format!("syntax error at byte {offset}"),
            },
            ciborium::de::Error::Semantic(_, detail) => Error::MalformedCbor { what, detail },
        })?;
    reject_duplicate_keys(&value, what)?;
    Ok((value, reader))
}

/// Decodes exactly one CBOR item that spans all of `input`.
pub(crate) fn decode_exact(input: &[u8], what: &'static str) -> Result<Value, Error> {
    let (value, rest) = decode_prefix(input, what)?;
    if !rest.is_empty() {
        return Err(Error::TrailingBytes {
            what,
            len: rest.len(),
        });
    }
    Ok(value)
}

fn reject_duplicate_keys(value: &Value, what: &'static str) -> Result<(), Error> {
    match value {
        Value::Map(entries) => {
            if entries.len() > MAX_MAP_ENTRIES {
                return Err(Error::CborMapTooLarge {
                    what,
                    max: MAX_MAP_ENTRIES,
                });
            }
            for (index, (key, item)) in entries.iter().enumerate() {
                if entries[..index].iter().any(|(earlier, _)| earlier == key) {
                    return Err(Error::CborDuplicateKey {
                        what,
                        key: describe_key(key),
                    });
                }
                reject_duplicate_keys(item, what)?;
            }
            Ok(())
        }
        Value::Array(items) => items
            .iter()
            .try_for_each(|item| reject_duplicate_keys(item, what)),
        Value::Tag(_, inner) => reject_duplicate_keys(inner, what),
        _ => Ok(()),
    }
}

fn describe_key(key: &Value) -> String {
    match key {
        Value::Text(text) => format!("{text:?}"),
        Value::Integer(integer) => i128::from(*integer).to_string(),
        other => format!("{other:?}"),
    }
}

/// Returns the map entries of `value`, or a [`Error::MissingField`] naming `what`.
pub(crate) fn as_map<'a>(
    value: &'a Value,
    what: &'static str,
) -> Result<&'a [(Value, Value)], Error> {
    match value {
        Value::Map(entries) => Ok(entries),
        _ => Err(Error::MissingField { what }),
    }
}

/// Looks up a text key in map entries.
pub(crate) fn text_key<'a>(entries: &'a [(Value, Value)], key: &str) -> Option<&'a Value> {
    entries
        .iter()
        .find(|(candidate, _)| matches!(candidate, Value::Text(text) if text == key))
        .map(|(_, value)| value)
}

/// Looks up an integer key in map entries.
pub(crate) fn integer_key(entries: &[(Value, Value)], key: i64) -> Option<&Value> {
    entries
        .iter()
        .find(|(candidate, _)| {
            matches!(candidate, Value::Integer(integer) if i128::from(*integer) == i128::from(key))
        })
        .map(|(_, value)| value)
}

/// Returns the bytes of a required byte-string field.
pub(crate) fn required_bytes<'a>(
    entries: &'a [(Value, Value)],
    key: &str,
    what: &'static str,
) -> Result<&'a [u8], Error> {
    match text_key(entries, key) {
        Some(Value::Bytes(bytes)) => Ok(bytes),
        _ => Err(Error::MissingField { what }),
    }
}

/// Returns the text of a required text-string field.
pub(crate) fn required_text<'a>(
    entries: &'a [(Value, Value)],
    key: &str,
    what: &'static str,
) -> Result<&'a str, Error> {
    match text_key(entries, key) {
        Some(Value::Text(text)) => Ok(text),
        _ => Err(Error::MissingField { what }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_text_key_rejected() {
        // {"a": 1, "a": 2}
        let input = [0xa2, 0x61, 0x61, 0x01, 0x61, 0x61, 0x02];
        let error = decode_exact(&input, "test").unwrap_err();
        assert_eq!(error.reason(), "cbor_duplicate_key");
    }

    #[test]
    fn nested_duplicate_key_rejected() {
        // [{1: 1, 1: 2}]
        let input = [0x81, 0xa2, 0x01, 0x01, 0x01, 0x02];
        let error = decode_exact(&input, "test").unwrap_err();
        assert_eq!(error.reason(), "cbor_duplicate_key");
    }

    #[test]
    fn map_with_too_many_entries_rejected() {
        // A map of 65 integer keys 0..64 with value 0.
        let mut input = vec![0xb8, 65];
        for key in 0u8..65 {
            if key < 24 {
                input.push(key);
            } else {
                input.extend_from_slice(&[0x18, key]);
            }
            input.push(0x00);
        }
        let error = decode_exact(&input, "test").unwrap_err();
        assert_eq!(
            error,
            Error::CborMapTooLarge {
                what: "test",
                max: 64
            }
        );
    }

    #[test]
    fn trailing_bytes_rejected() {
        let input = [0x01, 0x00];
        let error = decode_exact(&input, "test").unwrap_err();
        assert_eq!(
            error,
            Error::TrailingBytes {
                what: "test",
                len: 1
            }
        );
    }

    #[test]
    fn deep_nesting_rejected() {
        // 64 nested one-element arrays around 0.
        let mut input = vec![0x81; 64];
        input.push(0x00);
        let error = decode_exact(&input, "test").unwrap_err();
        assert_eq!(error.reason(), "cbor_too_deep");
    }

    #[test]
    fn truncated_input_rejected() {
        // A byte string that announces 10 bytes and carries 2.
        let input = [0x4a, 0x01, 0x02];
        let error = decode_exact(&input, "test").unwrap_err();
        assert_eq!(error.reason(), "malformed_cbor");
    }

    #[test]
    fn prefix_returns_rest() {
        let input = [0x01, 0xa0, 0xff];
        let (value, rest) = decode_prefix(&input, "test").unwrap();
        assert_eq!(value, Value::Integer(1.into()));
        assert_eq!(rest, &[0xa0, 0xff]);
    }
}
