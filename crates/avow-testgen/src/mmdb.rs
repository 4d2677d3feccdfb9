//! A writer of small MaxMind DB files shaped like GeoLite2-Country, for tests of GeoIP lookups.
//!
//! The format is MaxMind DB 2.0 (<https://maxmind.github.io/MaxMind-DB/>). A file is:
//!
//! 1. a binary search tree with one level per address bit. Each node has two 24-bit records,
//!    left for bit 0 and right for bit 1. A record is a node number, the node count ("no
//!    data"), or node count + 16 + an offset into the data section;
//! 2. 16 zero bytes that separate the tree from the data section;
//! 3. the data section, with one record per country: `{"country": {"iso_code": "CN"}}`;
//! 4. the marker `\xAB\xCD\xEFMaxMind.com` and the metadata map.
//!
//! ```
//! use avow_testgen::mmdb::country_database;
//!
//! let bytes = country_database(&[("192.0.2.0/24", "CN"), ("198.51.100.0/24", "DE")]).unwrap();
//! assert!(bytes.windows(14).any(|window| window == b"\xAB\xCD\xEFMaxMind.com"));
//! ```
//!
//! Real GeoLite2 records also carry names, GeoNames ids, the continent and the registered
//! country. These files contain only `country.iso_code`, the one field Avow reads.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// The `database_type` written into the metadata.
pub const DATABASE_TYPE: &str = "GeoLite2-Country";
/// The `build_epoch` written into the metadata: 2026-01-01T00:00:00Z. Fixed, so the same input
/// always gives the same bytes.
pub const BUILD_EPOCH: u64 = 1_767_225_600;

/// Bits per search tree record. 24 bits hold node numbers and data pointers below 2^24.
const RECORD_SIZE_BITS: u16 = 24;
const MAX_RECORD_VALUE: u64 = (1 << 24) - 1;
/// The size of the zero-filled separator between the search tree and the data section.
const DATA_SECTION_SEPARATOR_LEN: usize = 16;
/// The bytes that start the metadata section.
const METADATA_MARKER: &[u8] = b"\xAB\xCD\xEFMaxMind.com";

// Data section type numbers. Numbers above 7 are "extended" types.
const TYPE_UTF8_STRING: u8 = 2;
const TYPE_UINT16: u8 = 5;
const TYPE_UINT32: u8 = 6;
const TYPE_MAP: u8 = 7;
const TYPE_UINT64: u8 = 9;
const TYPE_ARRAY: u8 = 11;

/// Failures to build a database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MmdbError {
    /// A network is not `ADDRESS/PREFIX` with a valid IPv4 or IPv6 address.
    InvalidNetwork {
        /// The network as given.
        network: String,
    },
    /// The prefix length is longer than the address.
    PrefixTooLong {
        /// The network as given.
        network: String,
    },
    /// The address has bits set after the prefix, such as `192.0.2.1/24`.
    HostBitsSet {
        /// The network as given.
        network: String,
    },
    /// An IPv6 network was added to an IPv4 database.
    Ipv6InIpv4Database {
        /// The network as given.
        network: String,
    },
    /// The country code is not two ASCII letters.
    InvalidIsoCode {
        /// The code as given.
        iso_code: String,
    },
    /// The tree or the data section needs record values that do not fit in 24 bits.
    TooLarge,
}

impl fmt::Display for MmdbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidNetwork { network } => {
                write!(f, "invalid network {network:?}: expected ADDRESS/PREFIX")
            }
            Self::PrefixTooLong { network } => {
                write!(f, "prefix of {network:?} is longer than the address")
            }
            Self::HostBitsSet { network } => {
                write!(
                    f,
                    "network {network:?} has address bits set after the prefix"
                )
            }
            Self::Ipv6InIpv4Database { network } => {
                write!(
                    f,
                    "IPv6 network {network:?} does not fit in an IPv4 database"
                )
            }
            Self::InvalidIsoCode { iso_code } => {
                write!(f, "country code {iso_code:?} is not two ASCII letters")
            }
            Self::TooLarge => f.write_str("database too large for 24-bit records"),
        }
    }
}

impl std::error::Error for MmdbError {}

/// An IP network: an address whose bits after `prefix_len` are zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Network {
    address: IpAddr,
    prefix_len: u8,
}

impl Network {
    /// Returns the network address.
    pub fn address(&self) -> IpAddr {
        self.address
    }

    /// Returns the prefix length in bits.
    pub fn prefix_len(&self) -> u8 {
        self.prefix_len
    }
}

impl FromStr for Network {
    type Err = MmdbError;

    /// Parses `ADDRESS/PREFIX`, such as `192.0.2.0/24` or `2001:db8::/32`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || MmdbError::InvalidNetwork {
            network: text.to_owned(),
        };
        let (address, prefix_len) = text.split_once('/').ok_or_else(invalid)?;
        let address: IpAddr = address.parse().map_err(|_| invalid())?;
        let prefix_len: u8 = prefix_len.parse().map_err(|_| invalid())?;

        let width = address_width(address);
        if u32::from(prefix_len) > width {
            return Err(MmdbError::PrefixTooLong {
                network: text.to_owned(),
            });
        }
        let host_bits = address_bits(address) & !prefix_mask(prefix_len, width);
        if host_bits != 0 {
            return Err(MmdbError::HostBitsSet {
                network: text.to_owned(),
            });
        }
        Ok(Self {
            address,
            prefix_len,
        })
    }
}

/// The address family of the search tree, the metadata's `ip_version`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpVersion {
    /// A 32-level tree of IPv4 addresses.
    V4,
    /// A 128-level tree. IPv4 networks are stored twice: under `::/96`, where readers look up
    /// IPv4 addresses, and under the IPv4-mapped `::ffff:0:0/96`.
    V6,
}

/// A country database under construction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CountryDatabase {
    ip_version: IpVersion,
    entries: Vec<(Network, String)>,
}

impl CountryDatabase {
    /// Creates an empty database of the given address family.
    pub fn new(ip_version: IpVersion) -> Self {
        Self {
            ip_version,
            entries: Vec::new(),
        }
    }

    /// Adds a network located in the country with ISO 3166-1 alpha-2 code `iso_code`.
    ///
    /// Overlapping networks are allowed: a lookup returns the country of the longest matching
    /// prefix. When the same network is added twice, the later country wins.
    pub fn insert(&mut self, network: &str, iso_code: &str) -> Result<&mut Self, MmdbError> {
        let parsed: Network = network.parse()?;
        if self.ip_version == IpVersion::V4 && parsed.address.is_ipv6() {
            return Err(MmdbError::Ipv6InIpv4Database {
                network: network.to_owned(),
            });
        }
        if iso_code.len() != 2 || !iso_code.bytes().all(|byte| byte.is_ascii_alphabetic()) {
            return Err(MmdbError::InvalidIsoCode {
                iso_code: iso_code.to_owned(),
            });
        }
        self.entries.push((parsed, iso_code.to_owned()));
        Ok(self)
    }

    /// Encodes the database as the bytes of an `.mmdb` file.
    pub fn to_bytes(&self) -> Result<Vec<u8>, MmdbError> {
        let mut data_section = Vec::new();
        let mut data_offsets = BTreeMap::new();
        for (_, iso_code) in &self.entries {
            if !data_offsets.contains_key(iso_code) {
                data_offsets.insert(iso_code.clone(), data_section.len());
                write_country_record(&mut data_section, iso_code);
            }
        }

        let mut tree = Tree::new();
        // Shorter prefixes go in first, so a longer one inserted later splits their leaves and
        // takes its own part of the address space.
        let mut entries: Vec<&(Network, String)> = self.entries.iter().collect();
        entries.sort_by_key(|(network, _)| network.prefix_len);
        for (network, iso_code) in entries {
            let offset = data_offsets[iso_code];
            for (key, key_width, prefix_len) in self.tree_keys(network) {
                tree.insert(key, key_width, prefix_len, offset);
            }
        }

        let mut out = tree.encode()?;
        out.extend_from_slice(&[0u8; DATA_SECTION_SEPARATOR_LEN]);
        out.extend_from_slice(&data_section);
        out.extend_from_slice(METADATA_MARKER);
        self.write_metadata(&mut out, tree.node_count());
        Ok(out)
    }

    /// Returns the tree paths of a network as (key bits, key width, prefix length).
    fn tree_keys(&self, network: &Network) -> Vec<(u128, u32, u32)> {
        let bits = address_bits(network.address);
        let prefix_len = u32::from(network.prefix_len);
        match (self.ip_version, network.address) {
            (IpVersion::V4, _) => vec![(bits, 32, prefix_len)],
            (IpVersion::V6, IpAddr::V6(_)) => vec![(bits, 128, prefix_len)],
            (IpVersion::V6, IpAddr::V4(_)) => vec![
                (bits, 128, 96 + prefix_len),
                ((0xffff << 32) | bits, 128, 96 + prefix_len),
            ],
        }
    }

    fn write_metadata(&self, out: &mut Vec<u8>, node_count: u32) {
        let ip_version = match self.ip_version {
            IpVersion::V4 => 4,
            IpVersion::V6 => 6,
        };
        write_control(out, TYPE_MAP, 9);
        write_string(out, "binary_format_major_version");
        write_unsigned(out, TYPE_UINT16, 2);
        write_string(out, "binary_format_minor_version");
        write_unsigned(out, TYPE_UINT16, 0);
        write_string(out, "build_epoch");
        write_unsigned(out, TYPE_UINT64, BUILD_EPOCH);
        write_string(out, "database_type");
        write_string(out, DATABASE_TYPE);
        write_string(out, "description");
        write_control(out, TYPE_MAP, 1);
        write_string(out, "en");
        write_string(out, "Avow test country database");
        write_string(out, "ip_version");
        write_unsigned(out, TYPE_UINT16, ip_version);
        write_string(out, "languages");
        write_control(out, TYPE_ARRAY, 1);
        write_string(out, "en");
        write_string(out, "node_count");
        write_unsigned(out, TYPE_UINT32, u64::from(node_count));
        write_string(out, "record_size");
        write_unsigned(out, TYPE_UINT16, u64::from(RECORD_SIZE_BITS));
    }
}

/// Builds a database from `(network, country code)` pairs, such as `("192.0.2.0/24", "CN")`.
///
/// The database is IPv4 when every network is IPv4, and IPv6 otherwise.
pub fn country_database(networks: &[(&str, &str)]) -> Result<Vec<u8>, MmdbError> {
    let mut parsed_any_ipv6 = false;
    for (network, _) in networks {
        parsed_any_ipv6 |= network.parse::<Network>()?.address.is_ipv6();
    }
    let ip_version = if parsed_any_ipv6 {
        IpVersion::V6
    } else {
        IpVersion::V4
    };
    let mut database = CountryDatabase::new(ip_version);
    for (network, iso_code) in networks {
        database.insert(network, iso_code)?;
    }
    database.to_bytes()
}

/// One record of a search tree node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Record {
    /// No data for this part of the address space.
    Empty,
    /// The number of the next node.
    Node(u32),
    /// An offset into the data section.
    Data(usize),
}

struct Tree {
    /// Node 0 is the root. Index 0 of a node is the record for bit 0.
    nodes: Vec<[Record; 2]>,
}

impl Tree {
    fn new() -> Self {
        Self {
            nodes: vec![[Record::Empty; 2]],
        }
    }

    fn node_count(&self) -> u32 {
        // A count above u32::MAX becomes u32::MAX, which `encode` rejects as too large for
        // 24-bit records.
        u32::try_from(self.nodes.len()).unwrap_or(u32::MAX)
    }

    /// Points the first `prefix_len` bits of `key` (of `key_width` bits) at `offset`.
    fn insert(&mut self, key: u128, key_width: u32, prefix_len: u32, offset: usize) {
        if prefix_len == 0 {
            self.nodes[0] = [Record::Data(offset); 2];
            return;
        }
        let mut node = 0usize;
        for depth in 0..prefix_len {
            let bit = usize::from((key >> (key_width - 1 - depth)) & 1 == 1);
            if depth + 1 == prefix_len {
                self.nodes[node][bit] = Record::Data(offset);
                return;
            }
            node = match self.nodes[node][bit] {
                Record::Node(next) => next as usize,
                // A shorter network covers this path: split its leaf into a node whose two
                // records both keep its data.
                Record::Empty | Record::Data(_) => {
                    let inherited = self.nodes[node][bit];
                    let next = self.nodes.len();
                    self.nodes.push([inherited; 2]);
                    self.nodes[node][bit] = Record::Node(u32::try_from(next).unwrap_or(u32::MAX));
                    next
                }
            };
        }
    }

    fn encode(&self) -> Result<Vec<u8>, MmdbError> {
        let node_count = u64::from(self.node_count());
        let mut out = Vec::with_capacity(self.nodes.len() * 6);
        for node in &self.nodes {
            for record in node {
                let value = match *record {
                    Record::Empty => node_count,
                    Record::Node(next) => u64::from(next),
                    Record::Data(offset) => {
                        let offset = u64::try_from(offset).map_err(|_| MmdbError::TooLarge)?;
                        node_count + DATA_SECTION_SEPARATOR_LEN as u64 + offset
                    }
                };
                if value > MAX_RECORD_VALUE {
                    return Err(MmdbError::TooLarge);
                }
                out.extend_from_slice(&value.to_be_bytes()[5..]);
            }
        }
        Ok(out)
    }
}

fn address_width(address: IpAddr) -> u32 {
    match address {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

fn address_bits(address: IpAddr) -> u128 {
    match address {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

/// Returns a mask with the top `prefix_len` of `width` bits set.
fn prefix_mask(prefix_len: u8, width: u32) -> u128 {
    let all = if width == 128 {
        u128::MAX
    } else {
        (1u128 << width) - 1
    };
    let host_len = width - u32::from(prefix_len);
    if host_len >= 128 {
        0
    } else {
        all & !((1u128 << host_len) - 1)
    }
}

fn write_country_record(out: &mut Vec<u8>, iso_code: &str) {
    write_control(out, TYPE_MAP, 1);
    write_string(out, "country");
    write_control(out, TYPE_MAP, 1);
    write_string(out, "iso_code");
    write_string(out, &iso_code.to_ascii_uppercase());
}

/// Writes a control byte: the type in the top three bits and the size in the low five bits.
/// An extended type has 0 there, and its number minus 7 follows in the next byte. Sizes of 29 or
/// more continue in up to three bytes after that.
fn write_control(out: &mut Vec<u8>, type_number: u8, size: usize) {
    let (type_bits, extended) = if type_number <= 7 {
        (type_number << 5, None)
    } else {
        (0, Some(type_number - 7))
    };
    let (size_bits, size_bytes): (u8, Vec<u8>) = match size {
        0..29 => (size as u8, Vec::new()),
        29..285 => (29, vec![(size - 29) as u8]),
        285..65_821 => (30, ((size - 285) as u16).to_be_bytes().to_vec()),
        _ => (31, ((size - 65_821) as u32).to_be_bytes()[1..].to_vec()),
    };
    out.push(type_bits | size_bits);
    if let Some(extended) = extended {
        out.push(extended);
    }
    out.extend_from_slice(&size_bytes);
}

fn write_string(out: &mut Vec<u8>, text: &str) {
    write_control(out, TYPE_UTF8_STRING, text.len());
    out.extend_from_slice(text.as_bytes());
}

/// Writes an unsigned integer big-endian in as few bytes as it needs (none for zero).
fn write_unsigned(out: &mut Vec<u8>, type_number: u8, value: u64) {
    let bytes = value.to_be_bytes();
    let leading_zero_bytes = (value.leading_zeros() / 8) as usize;
    write_control(out, type_number, bytes.len() - leading_zero_bytes);
    out.extend_from_slice(&bytes[leading_zero_bytes..]);
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use maxminddb::{Reader, geoip2};

    use super::*;

    fn country_at(reader: &Reader<Vec<u8>>, address: &str) -> Option<String> {
        let address: IpAddr = address.parse().unwrap();
        let result = reader.lookup(address).unwrap();
        let country: Option<geoip2::Country<'_>> = result.decode().unwrap();
        country.and_then(|country| country.country.iso_code.map(str::to_owned))
    }

    fn open(bytes: Vec<u8>) -> Reader<Vec<u8>> {
        let reader = Reader::from_source(bytes).unwrap();
        reader.verify().unwrap();
        reader
    }

    #[test]
    fn country_record_bytes() {
        let mut out = Vec::new();
        write_country_record(&mut out, "cn");
        let mut expected = vec![0xe1, 0x47];
        expected.extend_from_slice(b"country");
        expected.extend_from_slice(&[0xe1, 0x48]);
        expected.extend_from_slice(b"iso_code");
        expected.push(0x42);
        expected.extend_from_slice(b"CN");
        assert_eq!(out, expected);
    }

    #[test]
    fn control_byte_sizes() {
        let cases: [(u8, usize, &[u8]); 6] = [
            (TYPE_UTF8_STRING, 28, &[0x5c]),
            (TYPE_UTF8_STRING, 29, &[0x5d, 0x00]),
            (TYPE_UTF8_STRING, 284, &[0x5d, 0xff]),
            (TYPE_UTF8_STRING, 285, &[0x5e, 0x00, 0x00]),
            (TYPE_UTF8_STRING, 65_821, &[0x5f, 0x00, 0x00, 0x00]),
            (TYPE_ARRAY, 1, &[0x01, 0x04]),
        ];
        for (type_number, size, expected) in cases {
            let mut out = Vec::new();
            write_control(&mut out, type_number, size);
            assert_eq!(out, expected, "type {type_number}, size {size}");
        }
    }

    #[test]
    fn unsigned_integers_minimal() {
        let mut out = Vec::new();
        write_unsigned(&mut out, TYPE_UINT16, 0);
        assert_eq!(out, [0xa0]);
        out.clear();
        write_unsigned(&mut out, TYPE_UINT32, 0x0102);
        assert_eq!(out, [0xc2, 0x01, 0x02]);
        out.clear();
        write_unsigned(&mut out, TYPE_UINT64, BUILD_EPOCH);
        assert_eq!(out, [0x04, 0x02, 0x69, 0x55, 0xb9, 0x00]);
    }

    #[test]
    fn ipv4_lookups_inside_and_outside() {
        let bytes = country_database(&[
            ("192.0.2.0/24", "CN"),
            ("198.51.100.0/25", "DE"),
            ("203.0.113.7/32", "BR"),
        ])
        .unwrap();
        let reader = open(bytes);

        let cases = [
            ("192.0.2.0", Some("CN")),
            ("192.0.2.255", Some("CN")),
            ("192.0.1.255", None),
            ("192.0.3.0", None),
            ("198.51.100.0", Some("DE")),
            ("198.51.100.127", Some("DE")),
            ("198.51.100.128", None),
            ("203.0.113.7", Some("BR")),
            ("203.0.113.6", None),
            ("203.0.113.8", None),
            ("10.0.0.1", None),
        ];
        for (address, expected) in cases {
            assert_eq!(
                country_at(&reader, address).as_deref(),
                expected,
                "{address}"
            );
        }
    }

    #[test]
    fn lookup_reports_inserted_network() {
        let reader = open(country_database(&[("198.51.100.0/25", "DE")]).unwrap());
        let result = reader.lookup("198.51.100.9".parse().unwrap()).unwrap();
        assert_eq!(result.network().unwrap().to_string(), "198.51.100.0/25");
    }

    #[test]
    fn longer_prefix_wins() {
        // Listed with the longer prefix first, to show that the order of the input does not
        // matter.
        let reader = open(
            country_database(&[
                ("192.0.2.128/26", "FR"),
                ("192.0.2.0/24", "CN"),
                ("0.0.0.0/0", "ZZ"),
            ])
            .unwrap(),
        );
        assert_eq!(country_at(&reader, "192.0.2.127").as_deref(), Some("CN"));
        assert_eq!(country_at(&reader, "192.0.2.128").as_deref(), Some("FR"));
        assert_eq!(country_at(&reader, "192.0.2.191").as_deref(), Some("FR"));
        assert_eq!(country_at(&reader, "192.0.2.192").as_deref(), Some("CN"));
        assert_eq!(country_at(&reader, "8.8.8.8").as_deref(), Some("ZZ"));
    }

    #[test]
    fn ipv6_database_with_ipv4_networks() {
        let reader =
            open(country_database(&[("2001:db8::/32", "JP"), ("192.0.2.0/24", "CN")]).unwrap());
        assert_eq!(reader.metadata().ip_version, 6);
        assert_eq!(country_at(&reader, "2001:db8:1::1").as_deref(), Some("JP"));
        assert_eq!(country_at(&reader, "2001:db9::1").as_deref(), None);
        assert_eq!(country_at(&reader, "192.0.2.10").as_deref(), Some("CN"));
        assert_eq!(country_at(&reader, "192.0.3.10").as_deref(), None);
        assert_eq!(
            country_at(&reader, "::ffff:192.0.2.10").as_deref(),
            Some("CN")
        );
        assert_eq!(country_at(&reader, "::ffff:192.0.3.10").as_deref(), None);
    }

    #[test]
    fn metadata_fields() {
        let reader = open(country_database(&[("192.0.2.0/24", "CN")]).unwrap());
        let metadata = reader.metadata();
        assert_eq!(metadata.binary_format_major_version, 2);
        assert_eq!(metadata.binary_format_minor_version, 0);
        assert_eq!(metadata.build_epoch, BUILD_EPOCH);
        assert_eq!(metadata.database_type, DATABASE_TYPE);
        assert_eq!(metadata.ip_version, 4);
        assert_eq!(metadata.record_size, RECORD_SIZE_BITS);
        assert_eq!(metadata.languages, ["en"]);
        assert_eq!(
            metadata.description.get("en").map(String::as_str),
            Some("Avow test country database")
        );
        // One node per bit of the /24 prefix.
        assert_eq!(metadata.node_count, 24);
    }

    #[test]
    fn empty_database_has_no_data() {
        let reader = open(CountryDatabase::new(IpVersion::V4).to_bytes().unwrap());
        assert_eq!(country_at(&reader, "192.0.2.1"), None);
    }

    #[test]
    fn output_deterministic() {
        let networks = [("192.0.2.0/24", "CN"), ("2001:db8::/32", "JP")];
        assert_eq!(
            country_database(&networks).unwrap(),
            country_database(&networks).unwrap()
        );
    }

    #[test]
    fn invalid_input_rejected() {
        let cases = [
            (
                "192.0.2.0",
                MmdbError::InvalidNetwork {
                    network: "192.0.2.0".to_owned(),
                },
            ),
            (
                "192.0.2.0/x",
                MmdbError::InvalidNetwork {
                    network: "192.0.2.0/x".to_owned(),
                },
            ),
            (
                "192.0.2.0/33",
                MmdbError::PrefixTooLong {
                    network: "192.0.2.0/33".to_owned(),
                },
            ),
            (
                "192.0.2.1/24",
                MmdbError::HostBitsSet {
                    network: "192.0.2.1/24".to_owned(),
                },
            ),
            (
                "2001:db8::1/32",
                MmdbError::HostBitsSet {
                    network: "2001:db8::1/32".to_owned(),
                },
            ),
        ];
        for (network, expected) in cases {
            assert_eq!(
                country_database(&[(network, "CN")]).unwrap_err(),
                expected,
                "{network}"
            );
        }

        let mut database = CountryDatabase::new(IpVersion::V4);
        assert_eq!(
            database.insert("2001:db8::/32", "JP").unwrap_err(),
            MmdbError::Ipv6InIpv4Database {
                network: "2001:db8::/32".to_owned(),
            }
        );
        assert_eq!(
            database.insert("192.0.2.0/24", "CHN").unwrap_err(),
            MmdbError::InvalidIsoCode {
                iso_code: "CHN".to_owned(),
            }
        );
    }

    #[test]
    fn network_parses_full_prefixes() {
        let network: Network = "2001:db8::1/128".parse().unwrap();
        assert_eq!(network.prefix_len(), 128);
        assert_eq!(network.address(), "2001:db8::1".parse::<IpAddr>().unwrap());
        let network: Network = "0.0.0.0/0".parse().unwrap();
        assert_eq!(network.prefix_len(), 0);
    }
}
