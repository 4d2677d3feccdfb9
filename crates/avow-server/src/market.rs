//! Resolution of the market of a request: the country or region whose policy applies to it.
//!
//! The market comes from the first source that yields one:
//!
//! 1. the trusted request header named by `markets.trusted_header`, such as `CF-IPCountry`, which
//!    a CDN or load balancer in front of Avow sets;
//! 2. the country of the client IP address in the GeoIP database named by
//!    `markets.geoip_file` (MaxMind DB format, GeoLite2-Country or GeoIP2-Country);
//! 3. none: [`MarketResolver::resolve`] returns no market, and the caller applies the default
//!    market of the app's policy.
//!
//! A market is a lowercase label of 1 to 32 characters from `[a-z0-9_-]` ([`Market`]).
//!
//! The region that a client declares about itself is returned next to the market, for the
//! record only. It never selects the market: a client that wants a more lenient policy could
//! otherwise choose it.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use axum::http::{HeaderMap, HeaderName};
use maxminddb::{MaxMindDbError, Reader, geoip2};

use crate::config::MarketsConfig;

/// Maximum length of a market label, in bytes.
pub const MAX_MARKET_LEN: usize = 32;

/// The header that carries the client address through proxies.
const FORWARDED_FOR: &str = "x-forwarded-for";

/// A market label: 1 to 32 bytes of `[a-z0-9_-]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Market(String);

impl Market {
    /// Normalises `value` to a market label: surrounding whitespace is removed and ASCII
    /// letters are lowercased. Returns `None` when the result is empty, longer than 32 bytes or
    /// contains a byte outside `[a-z0-9_-]`.
    pub fn parse(value: &str) -> Option<Self> {
        let label = value.trim().to_ascii_lowercase();
        let valid = !label.is_empty()
            && label.len() <= MAX_MARKET_LEN
            && label.bytes().all(|byte| {
                byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_' || byte == b'-'
            });
        valid.then_some(Self(label))
    }

    /// Returns the label.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Market {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The source of a resolved market.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MarketSource {
    /// The GeoIP database, looked up by client address.
    GeoIp,
    /// The trusted request header.
    TrustedHeader,
}

impl MarketSource {
    /// Returns the source as a snake_case name for logs and records.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::GeoIp => "geoip",
            Self::TrustedHeader => "trusted_header",
        }
    }
}

/// The result of [`MarketResolver::resolve`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarketResolution {
    /// The market and where it came from, or `None` when no source yielded one and the app's
    /// default market applies.
    pub market: Option<(Market, MarketSource)>,
    /// The region the client declared, normalised like a market label (`None` when absent or
    /// invalid). Kept for the record only: it never decides the market. It is client-controlled
    /// text, so it must not become a metric label.
    pub declared_region: Option<Market>,
}

impl MarketResolution {
    /// Returns the resolved market, if any.
    pub fn market(&self) -> Option<&Market> {
        self.market.as_ref().map(|(market, _)| market)
    }
}

/// Failures to set up market resolution. They stop the server at start.
#[derive(Debug, thiserror::Error)]
pub enum MarketError {
    /// The GeoIP database file could not be read.
    #[error("cannot read GeoIP database {path}: {source}")]
    GeoIpRead {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The GeoIP database file is not a valid MaxMind DB file.
    #[error("invalid GeoIP database {path}: {source}")]
    GeoIpInvalid {
        /// The file.
        path: PathBuf,
        /// The reader's error.
        source: MaxMindDbError,
    },
    /// The configured trusted header is not a valid HTTP header name.
    #[error("markets.trusted_header {name:?} is not a valid HTTP header name")]
    TrustedHeaderInvalid {
        /// The configured name.
        name: String,
    },
}

/// A loaded GeoIP country database.
pub struct GeoIpDatabase {
    reader: Reader<Vec<u8>>,
    /// Whether a failed lookup has been logged at `warn`. Later failures go to `debug`, so a
    /// database with an unexpected layout does not flood the log.
    lookup_failure_logged: AtomicBool,
}

impl std::fmt::Debug for GeoIpDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let metadata = self.reader.metadata();
        f.debug_struct("GeoIpDatabase")
            .field("database_type", &metadata.database_type)
            .field("build_epoch", &metadata.build_epoch)
            .finish_non_exhaustive()
    }
}

impl GeoIpDatabase {
    /// Reads a MaxMind DB file into memory.
    pub fn open(path: &Path) -> Result<Self, MarketError> {
        let bytes = std::fs::read(path).map_err(|source| MarketError::GeoIpRead {
            path: path.to_owned(),
            source,
        })?;
        Self::from_bytes(bytes).map_err(|source| MarketError::GeoIpInvalid {
            path: path.to_owned(),
            source,
        })
    }

    /// Parses the bytes of a MaxMind DB file.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, MaxMindDbError> {
        Ok(Self {
            reader: Reader::from_source(bytes)?,
            lookup_failure_logged: AtomicBool::new(false),
        })
    }

    /// Returns the `database_type` of the metadata, such as `GeoLite2-Country`.
    pub fn database_type(&self) -> &str {
        &self.reader.metadata().database_type
    }

    /// Returns the market of `address`: the lowercased `country.iso_code` of its record.
    /// Returns `None` when the database has no record or no country code for the address.
    pub fn market_of(&self, address: IpAddr) -> Option<Market> {
        // A server listening on `[::]` receives IPv4 clients as IPv4-mapped IPv6 addresses.
        let address = address.to_canonical();
        let iso_code = self
            .reader
            .lookup(address)
            .and_then(|result| result.decode::<geoip2::Country<'_>>())
            .map(|country| country.and_then(|country| country.country.iso_code));
        match iso_code {
            Ok(iso_code) => iso_code.and_then(Market::parse),
            // An IPv6 address cannot be looked up in an IPv4-only database.
            Err(MaxMindDbError::InvalidInput { .. }) => None,
            Err(error) => {
                if self.lookup_failure_logged.swap(true, Ordering::Relaxed) {
                    tracing::debug!(%error, "GeoIP lookup failed");
                } else {
                    tracing::warn!(
                        %error,
                        "GeoIP lookup failed; the database may not have the GeoIP2 country \
                         layout. Requests fall back to the default market, and further failures \
                         are logged at debug level"
                    );
                }
                None
            }
        }
    }
}

/// The market resolver of the server, set up once at start from `[markets]`.
#[derive(Debug, Default)]
pub struct MarketResolver {
    trusted_header: Option<HeaderName>,
    geoip: Option<GeoIpDatabase>,
    trust_forwarded_for: bool,
}

impl MarketResolver {
    /// Creates a resolver from its parts.
    pub fn new(
        trusted_header: Option<HeaderName>,
        geoip: Option<GeoIpDatabase>,
        trust_forwarded_for: bool,
    ) -> Self {
        Self {
            trusted_header,
            geoip,
            trust_forwarded_for,
        }
    }

    /// Creates a resolver from the configuration, reading the GeoIP database when one is
    /// configured.
    pub fn from_config(config: &MarketsConfig) -> Result<Self, MarketError> {
        let trusted_header = config
            .trusted_header
            .as_deref()
            .map(parse_header_name)
            .transpose()?;
        let geoip = match &config.geoip_file {
            Some(path) => {
                let database = GeoIpDatabase::open(path)?;
                let metadata = database.reader.metadata();
                tracing::info!(
                    path = %path.display(),
                    database_type = %metadata.database_type,
                    build_epoch = metadata.build_epoch,
                    "GeoIP database loaded"
                );
                Some(database)
            }
            None => None,
        };
        Ok(Self::new(trusted_header, geoip, config.trust_forwarded_for))
    }

    /// Resolves the market of a request from its headers and the TCP peer address.
    ///
    /// `declared_region` is the region the client states in its request. It is normalised and
    /// returned in [`MarketResolution::declared_region`], and never used to pick the market.
    pub fn resolve(
        &self,
        headers: &HeaderMap,
        peer: Option<IpAddr>,
        declared_region: Option<&str>,
    ) -> MarketResolution {
        MarketResolution {
            market: self.resolve_market(headers, peer),
            declared_region: declared_region.and_then(Market::parse),
        }
    }

    fn resolve_market(
        &self,
        headers: &HeaderMap,
        peer: Option<IpAddr>,
    ) -> Option<(Market, MarketSource)> {
        if let Some(market) = self.market_from_header(headers) {
            return Some((market, MarketSource::TrustedHeader));
        }
        let geoip = self.geoip.as_ref()?;
        let address = self.client_address(headers, peer)?;
        geoip
            .market_of(address)
            .map(|market| (market, MarketSource::GeoIp))
    }

    /// Returns the normalised value of the trusted header. A header sent more than once is
    /// ignored, because the values cannot all come from the one proxy that sets it.
    fn market_from_header(&self, headers: &HeaderMap) -> Option<Market> {
        let name = self.trusted_header.as_ref()?;
        let mut values = headers.get_all(name).iter();
        let value = values.next()?;
        if values.next().is_some() {
            return None;
        }
        Market::parse(value.to_str().ok()?)
    }

    /// Returns the address to look up: the first address of `X-Forwarded-For` when it is
    /// trusted and present, else the TCP peer. A trusted but invalid `X-Forwarded-For` gives no
    /// address, because the peer is then a proxy, and its location is not the client's.
    fn client_address(&self, headers: &HeaderMap, peer: Option<IpAddr>) -> Option<IpAddr> {
        if !self.trust_forwarded_for {
            return peer;
        }
        match headers.get(FORWARDED_FOR) {
            Some(value) => first_forwarded_address(value.to_str().ok()?),
            None => peer,
        }
    }
}

fn parse_header_name(name: &str) -> Result<HeaderName, MarketError> {
    HeaderName::from_bytes(name.as_bytes()).map_err(|_| MarketError::TrustedHeaderInvalid {
        name: name.to_owned(),
    })
}

/// Parses the first element of an `X-Forwarded-For` value: an IPv4 or IPv6 address, also
/// accepted with a port (`192.0.2.1:443`, `[2001:db8::1]:443`).
fn first_forwarded_address(value: &str) -> Option<IpAddr> {
    let first = value.split(',').next()?.trim();
    first.parse::<IpAddr>().ok().or_else(|| {
        first
            .parse::<std::net::SocketAddr>()
            .ok()
            .map(|socket| socket.ip())
    })
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use axum::http::HeaderValue;

    use super::*;

    const COUNTRY_HEADER: &str = "cf-ipcountry";

    fn geoip() -> GeoIpDatabase {
        let bytes = avow_testgen::mmdb::country_database(&[
            ("192.0.2.0/24", "CN"),
            ("198.51.100.0/24", "DE"),
            ("2001:db8::/32", "JP"),
        ])
        .unwrap();
        GeoIpDatabase::from_bytes(bytes).unwrap()
    }

    fn resolver(header: bool, geoip_database: bool, trust_forwarded_for: bool) -> MarketResolver {
        MarketResolver::new(
            header.then(|| HeaderName::from_static(COUNTRY_HEADER)),
            geoip_database.then(geoip),
            trust_forwarded_for,
        )
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    fn market(label: &str) -> Market {
        Market::parse(label).unwrap()
    }

    #[test]
    fn market_labels_normalised() {
        assert_eq!(Market::parse("CN").unwrap().as_str(), "cn");
        assert_eq!(Market::parse(" eu-west_1 ").unwrap().as_str(), "eu-west_1");
        assert_eq!(Market::parse(&"a".repeat(32)).unwrap().as_str().len(), 32);
        for invalid in ["", "   ", "c n", "cn;", "ü", "a.b", &"a".repeat(33)] {
            assert_eq!(Market::parse(invalid), None, "{invalid:?}");
        }
    }

    #[test]
    fn header_wins_over_geoip() {
        let resolution = resolver(true, true, false).resolve(
            &headers(&[("CF-IPCountry", "BR")]),
            ip("192.0.2.1"),
            None,
        );
        assert_eq!(
            resolution.market,
            Some((market("br"), MarketSource::TrustedHeader))
        );
    }

    #[test]
    fn invalid_header_value_ignored() {
        let resolver = resolver(true, true, false);
        for value in ["not a market", "", "x".repeat(40).as_str(), "cn,de"] {
            let resolution =
                resolver.resolve(&headers(&[("CF-IPCountry", value)]), ip("192.0.2.1"), None);
            assert_eq!(
                resolution.market,
                Some((market("cn"), MarketSource::GeoIp)),
                "{value:?}"
            );
        }
    }

    #[test]
    fn repeated_header_ignored() {
        let resolution = resolver(true, false, false).resolve(
            &headers(&[("CF-IPCountry", "BR"), ("CF-IPCountry", "US")]),
            ip("192.0.2.1"),
            None,
        );
        assert_eq!(resolution.market, None);
    }

    #[test]
    fn header_not_configured_ignored() {
        let resolution = resolver(false, true, false).resolve(
            &headers(&[("CF-IPCountry", "BR")]),
            ip("198.51.100.7"),
            None,
        );
        assert_eq!(resolution.market, Some((market("de"), MarketSource::GeoIp)));
    }

    #[test]
    fn geoip_used_without_header() {
        let resolver = resolver(true, true, false);
        let cases = [
            ("192.0.2.200", "cn"),
            ("198.51.100.1", "de"),
            ("2001:db8::5", "jp"),
            ("::ffff:192.0.2.9", "cn"),
        ];
        for (address, expected) in cases {
            let resolution = resolver.resolve(&HeaderMap::new(), ip(address), None);
            assert_eq!(
                resolution.market,
                Some((market(expected), MarketSource::GeoIp)),
                "{address}"
            );
        }
    }

    #[test]
    fn forwarded_for_ignored_unless_trusted() {
        let request = headers(&[("X-Forwarded-For", "198.51.100.20, 10.0.0.1")]);

        let untrusted = resolver(false, true, false).resolve(&request, ip("192.0.2.1"), None);
        assert_eq!(untrusted.market, Some((market("cn"), MarketSource::GeoIp)));

        let trusted = resolver(false, true, true).resolve(&request, ip("192.0.2.1"), None);
        assert_eq!(trusted.market, Some((market("de"), MarketSource::GeoIp)));
    }

    #[test]
    fn trusted_forwarded_for_forms() {
        let resolver = resolver(false, true, true);
        let cases = [
            ("198.51.100.20", Some("de")),
            ("198.51.100.20:443", Some("de")),
            ("[2001:db8::1]:443", Some("jp")),
            ("  2001:db8::1 , 192.0.2.1", Some("jp")),
            ("unknown", None),
        ];
        for (value, expected) in cases {
            let resolution = resolver.resolve(
                &headers(&[("X-Forwarded-For", value)]),
                ip("192.0.2.1"),
                None,
            );
            assert_eq!(
                resolution.market(),
                expected.map(market).as_ref(),
                "{value:?}"
            );
        }
        // Without the header, the peer address is used.
        let resolution = resolver.resolve(&HeaderMap::new(), ip("192.0.2.1"), None);
        assert_eq!(resolution.market(), Some(&market("cn")));
    }

    #[test]
    fn unknown_ip_gives_none() {
        let resolver = resolver(true, true, false);
        for peer in [ip("203.0.113.1"), ip("2001:db9::1"), None] {
            let resolution = resolver.resolve(&HeaderMap::new(), peer, None);
            assert_eq!(resolution.market, None, "{peer:?}");
        }
    }

    #[test]
    fn ipv6_peer_in_ipv4_database_gives_none() {
        let bytes = avow_testgen::mmdb::country_database(&[("192.0.2.0/24", "CN")]).unwrap();
        let database = GeoIpDatabase::from_bytes(bytes).unwrap();
        assert_eq!(database.market_of("2001:db8::1".parse().unwrap()), None);
        assert_eq!(
            database.market_of(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))),
            Some(market("cn"))
        );
    }

    #[test]
    fn declared_region_never_used() {
        // Nothing else yields a market: the declared region still does not.
        let resolution =
            resolver(true, true, false).resolve(&HeaderMap::new(), ip("203.0.113.1"), Some("US"));
        assert_eq!(resolution.market, None);
        assert_eq!(resolution.declared_region, Some(market("us")));

        // GeoIP yields a market: the declared region does not replace it.
        let resolution =
            resolver(false, true, false).resolve(&HeaderMap::new(), ip("192.0.2.1"), Some("us"));
        assert_eq!(resolution.market, Some((market("cn"), MarketSource::GeoIp)));
        assert_eq!(resolution.declared_region, Some(market("us")));

        // An invalid declared region is dropped.
        let resolution =
            resolver(false, false, false).resolve(&HeaderMap::new(), None, Some("<script>"));
        assert_eq!(resolution.declared_region, None);
    }

    #[test]
    fn config_loads_geoip_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("country.mmdb");
        std::fs::write(
            &path,
            avow_testgen::mmdb::country_database(&[("192.0.2.0/24", "CN")]).unwrap(),
        )
        .unwrap();
        let config = MarketsConfig {
            trusted_header: Some("CF-IPCountry".to_owned()),
            geoip_file: Some(path),
            trust_forwarded_for: false,
        };
        let resolver = MarketResolver::from_config(&config).unwrap();
        assert_eq!(
            resolver
                .resolve(&HeaderMap::new(), ip("192.0.2.1"), None)
                .market(),
            Some(&market("cn"))
        );
        assert_eq!(
            resolver
                .resolve(&headers(&[("cf-ipcountry", "FR")]), ip("192.0.2.1"), None)
                .market(),
            Some(&market("fr"))
        );
    }

    #[tokio::test]
    async fn unreadable_geoip_file_stops_start() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.mmdb");
        let mut config = crate::Config {
            data_dir: dir.path().join("data"),
            listen: "127.0.0.1:0".to_owned(),
            ..crate::Config::default()
        };
        config.markets.geoip_file = Some(missing.clone());

        let Err(error) = crate::Server::start(config, None).await else {
            panic!("the server started without its GeoIP database");
        };
        assert!(
            matches!(
                error,
                crate::StartError::Markets(MarketError::GeoIpRead { .. })
            ),
            "{error}"
        );
        assert!(
            error.to_string().contains(&missing.display().to_string()),
            "{error}"
        );
    }

    #[test]
    fn config_errors_name_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.mmdb");
        let error = MarketResolver::from_config(&MarketsConfig {
            geoip_file: Some(missing.clone()),
            ..MarketsConfig::default()
        })
        .unwrap_err();
        assert!(matches!(error, MarketError::GeoIpRead { .. }), "{error}");
        assert!(
            error.to_string().contains(&missing.display().to_string()),
            "{error}"
        );

        let garbage = dir.path().join("garbage.mmdb");
        std::fs::write(&garbage, b"not a database").unwrap();
        let error = MarketResolver::from_config(&MarketsConfig {
            geoip_file: Some(garbage),
            ..MarketsConfig::default()
        })
        .unwrap_err();
        assert!(matches!(error, MarketError::GeoIpInvalid { .. }), "{error}");

        let error = MarketResolver::from_config(&MarketsConfig {
            trusted_header: Some("bad header".to_owned()),
            ..MarketsConfig::default()
        })
        .unwrap_err();
        assert!(
            matches!(error, MarketError::TrustedHeaderInvalid { .. }),
            "{error}"
        );
    }
}
