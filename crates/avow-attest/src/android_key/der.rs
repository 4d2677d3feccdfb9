//! A strict DER reader for the attestation extension.
//!
//! The extension is small and its schema fixed, so this reader only splits tag-length-value
//! elements and decodes the four primitive types the schema uses. It rejects every encoding that
//! DER forbids: indefinite or non-minimal lengths, non-minimal tag numbers, non-minimal
//! integers, and booleans other than 0x00 and 0xFF.
//!
//! It is written here instead of using `asn1-rs` (re-exported by `x509-parser`) because
//! `asn1-rs` 0.7.2 checks the DER constraints of a BOOLEAN by reading its first content byte
//! before checking the length, so `bool::from_der(&[0x01, 0x00])` panics.

/// The reason an encoding was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DerError(pub(crate) &'static str);

/// The class bits of an identifier octet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    Application,
    ContextSpecific,
    Private,
    Universal,
}

/// Universal tag numbers used by the attestation schema.
pub(crate) const TAG_BOOLEAN: u32 = 1;
pub(crate) const TAG_INTEGER: u32 = 2;
pub(crate) const TAG_OCTET_STRING: u32 = 4;
pub(crate) const TAG_ENUMERATED: u32 = 10;
pub(crate) const TAG_SEQUENCE: u32 = 16;
pub(crate) const TAG_SET: u32 = 17;

/// One tag-length-value element.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Element<'a> {
    pub(crate) class: Class,
    pub(crate) constructed: bool,
    pub(crate) tag: u32,
    pub(crate) content: &'a [u8],
}

impl<'a> Element<'a> {
    /// Returns a reader over the content of a SEQUENCE.
    pub(crate) fn sequence(&self) -> Result<Reader<'a>, DerError> {
        self.expect_constructed(TAG_SEQUENCE, "expected a SEQUENCE")
    }

    /// Returns a reader over the content of a SET.
    pub(crate) fn set(&self) -> Result<Reader<'a>, DerError> {
        self.expect_constructed(TAG_SET, "expected a SET")
    }

    /// Decodes a non-negative INTEGER that fits in 64 bits.
    pub(crate) fn unsigned_integer(&self) -> Result<u64, DerError> {
        self.expect_primitive(TAG_INTEGER, "expected an INTEGER")?;
        unsigned(self.content)
    }

    /// Decodes a non-negative ENUMERATED value that fits in 64 bits.
    pub(crate) fn enumerated(&self) -> Result<u64, DerError> {
        self.expect_primitive(TAG_ENUMERATED, "expected an ENUMERATED")?;
        unsigned(self.content)
    }

    /// Decodes a BOOLEAN.
    pub(crate) fn boolean(&self) -> Result<bool, DerError> {
        self.expect_primitive(TAG_BOOLEAN, "expected a BOOLEAN")?;
        match self.content {
            [0x00] => Ok(false),
            [0xff] => Ok(true),
            _ => Err(DerError("BOOLEAN is not one byte of 0x00 or 0xFF")),
        }
    }

    /// Returns the bytes of an OCTET STRING (DER allows only the primitive form).
    pub(crate) fn octet_string(&self) -> Result<&'a [u8], DerError> {
        self.expect_primitive(TAG_OCTET_STRING, "expected an OCTET STRING")?;
        Ok(self.content)
    }

    fn expect_primitive(&self, tag: u32, detail: &'static str) -> Result<(), DerError> {
        if self.class == Class::Universal && !self.constructed && self.tag == tag {
            Ok(())
        } else {
            Err(DerError(detail))
        }
    }

    fn expect_constructed(&self, tag: u32, detail: &'static str) -> Result<Reader<'a>, DerError> {
        if self.class == Class::Universal && self.constructed && self.tag == tag {
            Ok(Reader::new(self.content))
        } else {
            Err(DerError(detail))
        }
    }
}

/// Reads consecutive elements from a byte slice.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Reader<'a> {
    input: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(input: &'a [u8]) -> Self {
        Self { input }
    }

    /// Returns whether every byte has been read.
    pub(crate) fn is_empty(&self) -> bool {
        self.input.is_empty()
    }

    /// Returns how many bytes are left.
    pub(crate) fn remaining(&self) -> usize {
        self.input.len()
    }

    /// Reads the next element, or fails when none is left.
    pub(crate) fn element(&mut self) -> Result<Element<'a>, DerError> {
        let (&identifier, rest) = self
            .input
            .split_first()
            .ok_or(DerError("truncated: an element is missing"))?;
        let class = match identifier >> 6 {
            0 => Class::Universal,
            1 => Class::Application,
            2 => Class::ContextSpecific,
            _ => Class::Private,
        };
        let constructed = identifier & 0x20 != 0;
        let (tag, rest) = match identifier & 0x1f {
            0x1f => high_tag_number(rest)?,
            low => (u32::from(low), rest),
        };
        let (length, rest) = length(rest)?;
        if length > rest.len() {
            return Err(DerError(
                "truncated: a length runs past the end of its container",
            ));
        }
        let (content, rest) = rest.split_at(length);
        self.input = rest;
        Ok(Element {
            class,
            constructed,
            tag,
            content,
        })
    }

    /// Reads the next element if one is left.
    pub(crate) fn optional_element(&mut self) -> Result<Option<Element<'a>>, DerError> {
        if self.is_empty() {
            Ok(None)
        } else {
            self.element().map(Some)
        }
    }
}

/// Reads a tag number of 31 or more, written in base 128 after the identifier octet.
fn high_tag_number(input: &[u8]) -> Result<(u32, &[u8]), DerError> {
    let mut tag: u32 = 0;
    for (index, &byte) in input.iter().enumerate() {
        if index == 0 && byte == 0x80 {
            return Err(DerError("tag number has a leading zero digit"));
        }
        // Four base-128 digits reach 2^28, more than any tag KeyMint defines.
        if index >= 4 {
            return Err(DerError("tag number is too large"));
        }
        tag = (tag << 7) | u32::from(byte & 0x7f);
        if byte & 0x80 == 0 {
            if tag < 0x1f {
                return Err(DerError("tag number below 31 in the long form"));
            }
            let rest = input.get(index + 1..).unwrap_or_default();
            return Ok((tag, rest));
        }
    }
    Err(DerError("truncated: the tag number is cut off"))
}

/// Reads a definite length in its minimal form.
fn length(input: &[u8]) -> Result<(usize, &[u8]), DerError> {
    let (&first, rest) = input
        .split_first()
        .ok_or(DerError("truncated: the length is missing"))?;
    if first < 0x80 {
        return Ok((usize::from(first), rest));
    }
    if first == 0x80 {
        return Err(DerError("indefinite length"));
    }
    let count = usize::from(first & 0x7f);
    // Four length octets allow 4 GiB, far beyond any certificate.
    if count > 4 {
        return Err(DerError("length has too many octets"));
    }
    let digits = rest
        .get(..count)
        .ok_or(DerError("truncated: the length is cut off"))?;
    if digits.first() == Some(&0) {
        return Err(DerError("length has a leading zero octet"));
    }
    let value = digits
        .iter()
        .fold(0usize, |value, &digit| (value << 8) | usize::from(digit));
    if value < 0x80 {
        return Err(DerError("length in the long form below 128"));
    }
    Ok((value, rest.get(count..).unwrap_or_default()))
}

/// Decodes the content octets of a non-negative INTEGER or ENUMERATED that fits in 64 bits.
fn unsigned(content: &[u8]) -> Result<u64, DerError> {
    let magnitude = match content {
        [] => return Err(DerError("INTEGER has no content octets")),
        [first, ..] if first & 0x80 != 0 => return Err(DerError("INTEGER is negative")),
        [0, second, ..] if second & 0x80 == 0 => {
            return Err(DerError("INTEGER has a leading zero octet"));
        }
        [0, rest @ ..] if !rest.is_empty() => rest,
        _ => content,
    };
    if magnitude.len() > 8 {
        return Err(DerError("INTEGER does not fit in 64 bits"));
    }
    Ok(magnitude
        .iter()
        .fold(0u64, |value, &digit| (value << 8) | u64::from(digit)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(bytes: &[u8]) -> Result<Element<'_>, DerError> {
        let mut reader = Reader::new(bytes);
        let element = reader.element()?;
        assert!(reader.is_empty());
        Ok(element)
    }

    #[test]
    fn high_tag_numbers_decode() {
        // [704] EXPLICIT, constructed, empty.
        let element = one(&[0xbf, 0x85, 0x40, 0x00]).unwrap();
        assert_eq!(element.class, Class::ContextSpecific);
        assert!(element.constructed);
        assert_eq!(element.tag, 704);
    }

    #[test]
    fn non_minimal_tag_rejected() {
        assert!(one(&[0xbf, 0x80, 0x85, 0x40, 0x00]).is_err());
        assert!(one(&[0xbf, 0x1e, 0x00]).is_err());
    }

    #[test]
    fn non_minimal_lengths_rejected() {
        assert!(one(&[0x04, 0x81, 0x01, 0x00]).is_err());
        assert!(one(&[0x04, 0x82, 0x00, 0x81]).is_err());
        assert!(one(&[0x30, 0x80, 0x00, 0x00]).is_err());
    }

    #[test]
    fn truncated_content_rejected() {
        assert!(one(&[0x04, 0x05, 0x00]).is_err());
        assert!(one(&[0x04]).is_err());
        assert!(one(&[]).is_err());
    }

    #[test]
    fn integers_must_be_minimal_and_non_negative() {
        assert_eq!(one(&[0x02, 0x01, 0x00]).unwrap().unsigned_integer(), Ok(0));
        assert_eq!(
            one(&[0x02, 0x02, 0x00, 0x80]).unwrap().unsigned_integer(),
            Ok(128)
        );
        assert!(
            one(&[0x02, 0x02, 0x00, 0x7f])
                .unwrap()
                .unsigned_integer()
                .is_err()
        );
        assert!(
            one(&[0x02, 0x01, 0x80])
                .unwrap()
                .unsigned_integer()
                .is_err()
        );
        assert!(one(&[0x02, 0x00]).unwrap().unsigned_integer().is_err());
        let nine = [0x02, 0x09, 0x01, 0, 0, 0, 0, 0, 0, 0, 0];
        assert!(one(&nine).unwrap().unsigned_integer().is_err());
    }

    #[test]
    fn booleans_must_be_der() {
        assert_eq!(one(&[0x01, 0x01, 0xff]).unwrap().boolean(), Ok(true));
        assert_eq!(one(&[0x01, 0x01, 0x00]).unwrap().boolean(), Ok(false));
        assert!(one(&[0x01, 0x01, 0x01]).unwrap().boolean().is_err());
        assert!(one(&[0x01, 0x00]).unwrap().boolean().is_err());
    }

    #[test]
    fn constructed_octet_string_rejected() {
        assert!(one(&[0x24, 0x00]).unwrap().octet_string().is_err());
    }
}
