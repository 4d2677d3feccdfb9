//! Strict JSON reading shared by the pin document and the pin-failure report.
//!
//! serde_json keeps the last value of a repeated object key when it fills a map, and derived
//! structs ignore repeats of members they skip. Two parsers that disagree on which value counts
//! is how signed-content confusion starts, so every object in a signed document or a report is
//! checked for repeated keys, at any depth, before it is read.

use std::collections::HashSet;
use std::fmt;

use serde::Deserialize as _;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};

/// Returns the first key that appears twice in one JSON object of `bytes`, at any depth.
///
/// Keys are compared after unescaping, so `"a"` and `"\u0061"` are the same key.
///
/// # Errors
///
/// The serde_json error when `bytes` is not one JSON value (trailing data included). Nesting is
/// limited by serde_json's recursion limit of 128, so deep input fails instead of overflowing
/// the stack.
pub(crate) fn first_duplicate_key(bytes: &[u8]) -> Result<Option<String>, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let duplicate = UniqueKeys.deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(duplicate)
}

/// A seed that walks any JSON value and yields the first repeated object key found in it.
#[derive(Clone, Copy)]
struct UniqueKeys;

impl<'de> DeserializeSeed<'de> for UniqueKeys {
    type Value = Option<String>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for UniqueKeys {
    type Value = Option<String>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        while let Some(duplicate) = seq.next_element_seed(self)? {
            found = found.or(duplicate);
        }
        Ok(found)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut seen = HashSet::new();
        let mut found = None;
        while let Some(key) = map.next_key::<String>()? {
            let nested = map.next_value_seed(self)?;
            if found.is_none() && seen.contains(&key) {
                found = Some(key);
            } else {
                found = found.or(nested);
                seen.insert(key);
            }
        }
        Ok(found)
    }
}

/// Skips a JSON value of any shape (`null` included) and records that the member was present;
/// used for members that must be absent.
pub(crate) fn mark_present<'de, D: de::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<()>, D::Error> {
    de::IgnoredAny::deserialize(deserializer).map(|_| Some(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_keys_found_at_any_depth() {
        let cases: [(&str, Option<&str>); 7] = [
            (r#"{"a":1,"b":2}"#, None),
            (r#"{"a":1,"a":2}"#, Some("a")),
            (r#"{"a":1,"\u0061":2}"#, Some("a")),
            (r#"{"x":{"k":1,"k":2}}"#, Some("k")),
            (r#"[{"k":1},{"k":2}]"#, None),
            (r#"{"d":[{"h":1,"p":[],"h":3}]}"#, Some("h")),
            (r#""text""#, None),
        ];
        for (input, expected) in cases {
            let found = first_duplicate_key(input.as_bytes()).unwrap();
            assert_eq!(found.as_deref(), expected, "{input}");
        }
    }

    #[test]
    fn trailing_data_and_deep_nesting_are_errors() {
        assert!(first_duplicate_key(br#"{"a":1} x"#).is_err());
        let deep = "[".repeat(10_000);
        assert!(first_duplicate_key(deep.as_bytes()).is_err());
    }
}
