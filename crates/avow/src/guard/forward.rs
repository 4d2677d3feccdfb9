//! Rewriting a client's request for the upstream, and the upstream's response for the client.

use std::net::SocketAddr;

use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::http::uri::{Authority, PathAndQuery, Scheme};
use hyper::{Uri, Version};

/// Prefix of the headers that carry claims to the upstream. Client-sent headers with it are
/// removed so that a client cannot forge a claim.
const CLAIM_HEADER_PREFIX: &str = "avow-";

/// Headers that describe one connection rather than the message (RFC 9110, section 7.6.1),
/// plus `Expect`, which the proxy's own HTTP server handles. They are never forwarded.
const HOP_BY_HOP: [HeaderName; 9] = [
    header::CONNECTION,
    header::EXPECT,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
];

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

/// The upstream's origin and optional path prefix, parsed once at start.
#[derive(Debug)]
pub(crate) struct Upstream {
    authority: Authority,
    /// Path prefix without a trailing `/`, empty for none.
    path_prefix: String,
    /// The upstream's authority as a `Host` value, for requests that carry none.
    host: HeaderValue,
}

impl Upstream {
    /// Parses `http://HOST:PORT[/PREFIX]`.
    pub(crate) fn parse(url: &str) -> Result<Self, String> {
        let uri: Uri = url
            .parse()
            .map_err(|error| format!("--upstream {url:?} is not a valid URL: {error}"))?;
        if uri.scheme() != Some(&Scheme::HTTP) {
            return Err(format!(
                "--upstream {url:?} must start with http://, the proxy speaks plain HTTP to \
                 the upstream"
            ));
        }
        let authority = uri
            .authority()
            .cloned()
            .ok_or_else(|| format!("--upstream {url:?} has no host"))?;
        if uri.query().is_some() {
            return Err(format!("--upstream {url:?} must not have a query"));
        }
        let host = HeaderValue::from_str(authority.as_str())
            .map_err(|_| format!("--upstream {url:?} has an invalid host"))?;
        Ok(Self {
            path_prefix: uri.path().trim_end_matches('/').to_owned(),
            authority,
            host,
        })
    }

    /// Returns the upstream's host name or IP address, IPv6 in brackets.
    pub(crate) fn host(&self) -> &str {
        self.authority.host()
    }

    /// Returns the upstream's port, 80 when the URL has none.
    pub(crate) fn port(&self) -> u16 {
        self.authority.port_u16().unwrap_or(80)
    }

    /// Returns the request target for the upstream (origin form: path and query) for a
    /// client's path and query. Without a path prefix no bytes are copied.
    pub(crate) fn uri(&self, path_and_query: Option<PathAndQuery>) -> Result<Uri, String> {
        let path_and_query = match path_and_query {
            Some(path_and_query) if self.path_prefix.is_empty() => path_and_query,
            Some(path_and_query) => {
                PathAndQuery::try_from(format!("{}{path_and_query}", self.path_prefix))
                    .map_err(|error| format!("cannot join the upstream path prefix: {error}"))?
            }
            None if self.path_prefix.is_empty() => PathAndQuery::from_static("/"),
            None => PathAndQuery::try_from(format!("{}/", self.path_prefix))
                .map_err(|error| format!("cannot join the upstream path prefix: {error}"))?,
        };
        Ok(Uri::from(path_and_query))
    }
}

/// Connection facts that every request on one client connection shares, computed once when the
/// connection is accepted.
#[derive(Debug)]
pub(crate) struct Peer {
    pub(crate) address: SocketAddr,
    /// The client's IP address as an `X-Forwarded-For` element.
    forwarded_for: HeaderValue,
}

impl Peer {
    pub(crate) fn new(address: SocketAddr) -> Self {
        let forwarded_for = HeaderValue::from_str(&address.ip().to_string())
            .unwrap_or_else(|_| HeaderValue::from_static("unknown"));
        Self {
            address,
            forwarded_for,
        }
    }
}

/// Removes hop-by-hop headers: the fixed list, `Upgrade`, and every header that `Connection`
/// names.
pub(crate) fn remove_hop_by_hop(headers: &mut HeaderMap) {
    let names_other_headers =
        headers
            .get_all(header::CONNECTION)
            .iter()
            .any(|value| match value.to_str() {
                Ok(names) => !names.split(',').all(is_known_connection_option),
                Err(_) => false,
            });
    if names_other_headers {
        // Rare: the sender named its own hop-by-hop headers, so the names are copied out
        // before the map is changed.
        let named: Vec<HeaderName> = headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|names| names.split(','))
            .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
            .collect();
        for name in named {
            headers.remove(name);
        }
    }
    for name in &HOP_BY_HOP {
        headers.remove(name);
    }
    headers.remove(header::UPGRADE);
}

/// Returns true for `Connection` options that are removed anyway or name no header.
fn is_known_connection_option(option: &str) -> bool {
    let option = option.trim();
    option.is_empty()
        || ["close", "keep-alive", "te", "upgrade"]
            .iter()
            .any(|known| option.eq_ignore_ascii_case(known))
}

/// Removes client-sent claim headers, so that only the proxy sets them, and the token header
/// unless it is to be forwarded.
pub(crate) fn remove_client_claims(
    headers: &mut HeaderMap,
    token_header: &HeaderName,
    forward_token: bool,
) {
    if !forward_token {
        headers.remove(token_header);
    }
    let is_claim = |name: &HeaderName| {
        name.as_str().starts_with(CLAIM_HEADER_PREFIX) && !(forward_token && name == token_header)
    };
    if !headers.keys().any(is_claim) {
        return;
    }
    let names: Vec<HeaderName> = headers
        .keys()
        .filter(|name| is_claim(name))
        .cloned()
        .collect();
    for name in names {
        headers.remove(name);
    }
}

/// Sets the headers that tell the upstream about the client: its address appended to
/// `X-Forwarded-For`, `X-Forwarded-Proto: http` unless a proxy in front set it, and `Host`
/// when the request has none: an HTTP/2 request carries the host in its URI, and an HTTP/1.0
/// request may lack it.
pub(crate) fn add_forwarding_headers(
    headers: &mut HeaderMap,
    peer: &Peer,
    client_uri: &Uri,
    version: Version,
    upstream: &Upstream,
) {
    match headers.entry(X_FORWARDED_FOR) {
        header::Entry::Vacant(entry) => {
            entry.insert(peer.forwarded_for.clone());
        }
        header::Entry::Occupied(mut entry) => {
            let mut joined = Vec::new();
            for value in entry.iter() {
                joined.extend_from_slice(value.as_bytes());
                joined.extend_from_slice(b", ");
            }
            joined.extend_from_slice(peer.forwarded_for.as_bytes());
            // Joined from valid header values with ", ", so it is a valid header value.
            if let Ok(value) = HeaderValue::from_bytes(&joined) {
                entry.insert(value);
            }
        }
    }
    if !headers.contains_key(&X_FORWARDED_PROTO) {
        headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static("http"));
    }
    if !headers.contains_key(header::HOST) {
        let host = client_uri
            .authority()
            .filter(|_| version == Version::HTTP_2)
            .and_then(|authority| HeaderValue::from_str(authority.as_str()).ok())
            .unwrap_or_else(|| upstream.host.clone());
        headers.insert(header::HOST, host);
    }
}

/// Joins HTTP/2 `Cookie` fields into the single field that HTTP/1.1 expects, separated by
/// "; " (RFC 9113, section 8.2.3).
pub(crate) fn join_cookies(headers: &mut HeaderMap) {
    let mut values = headers.get_all(header::COOKIE).iter();
    let (Some(_), Some(_)) = (values.next(), values.next()) else {
        return;
    };
    let mut joined = Vec::new();
    for value in headers.get_all(header::COOKIE) {
        if !joined.is_empty() {
            joined.extend_from_slice(b"; ");
        }
        joined.extend_from_slice(value.as_bytes());
    }
    if let Ok(value) = HeaderValue::from_bytes(&joined) {
        headers.insert(header::COOKIE, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_without_prefix_keeps_path() {
        let upstream = Upstream::parse("http://127.0.0.1:9000").unwrap();
        let uri = upstream
            .uri(Some(PathAndQuery::from_static("/orders?page=2")))
            .unwrap();
        assert_eq!(uri.to_string(), "/orders?page=2");
        assert_eq!((upstream.host(), upstream.port()), ("127.0.0.1", 9000));
        assert_eq!(upstream.uri(None).unwrap().to_string(), "/");
    }

    #[test]
    fn upstream_prefix_is_prepended() {
        let upstream = Upstream::parse("http://127.0.0.1:9000/api/").unwrap();
        let uri = upstream
            .uri(Some(PathAndQuery::from_static("/orders?page=2")))
            .unwrap();
        assert_eq!(uri.to_string(), "/api/orders?page=2");
        assert_eq!(upstream.uri(None).unwrap().to_string(), "/api/");
    }

    #[test]
    fn upstream_must_be_plain_http() {
        let error = Upstream::parse("https://127.0.0.1:9000").unwrap_err();
        assert!(error.contains("http://"), "{error}");
        assert!(Upstream::parse("127.0.0.1:9000").is_err());
        assert!(Upstream::parse("http://127.0.0.1:9000/?a=b").is_err());
    }

    #[test]
    fn connection_named_headers_are_removed() {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONNECTION, HeaderValue::from_static("close, x-hop"));
        headers.insert("x-hop", HeaderValue::from_static("1"));
        headers.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        headers.insert(
            header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        headers.insert("x-end-to-end", HeaderValue::from_static("1"));
        remove_hop_by_hop(&mut headers);
        let names: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
        assert_eq!(names, ["x-end-to-end"]);
    }

    #[test]
    fn client_claim_headers_are_removed() {
        let token = HeaderName::from_static("avow-token");
        let mut headers = HeaderMap::new();
        headers.insert("avow-app", HeaderValue::from_static("forged"));
        headers.insert("avow-trust", HeaderValue::from_static("hardware"));
        headers.insert(&token, HeaderValue::from_static("token"));
        headers.insert("x-avow-note", HeaderValue::from_static("kept"));
        remove_client_claims(&mut headers, &token, false);
        let names: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
        assert_eq!(names, ["x-avow-note"]);
    }

    #[test]
    fn forwarded_token_is_kept() {
        let token = HeaderName::from_static("avow-token");
        let mut headers = HeaderMap::new();
        headers.insert("avow-app", HeaderValue::from_static("forged"));
        headers.insert(&token, HeaderValue::from_static("token"));
        remove_client_claims(&mut headers, &token, true);
        let names: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
        assert_eq!(names, ["avow-token"]);
    }

    #[test]
    fn forwarded_for_is_appended() {
        let upstream = Upstream::parse("http://127.0.0.1:9000").unwrap();
        let peer = Peer::new("127.0.0.2:5000".parse().unwrap());
        let uri = Uri::from_static("/");
        let mut headers = HeaderMap::new();
        add_forwarding_headers(&mut headers, &peer, &uri, Version::HTTP_11, &upstream);
        assert_eq!(headers[&X_FORWARDED_FOR], "127.0.0.2");
        assert_eq!(headers[&X_FORWARDED_PROTO], "http");
        // An HTTP/1.0 request without `Host` gets the upstream's.
        assert_eq!(headers[header::HOST], "127.0.0.1:9000");

        let mut headers = HeaderMap::new();
        headers.append(&X_FORWARDED_FOR, HeaderValue::from_static("127.0.0.7"));
        headers.append(&X_FORWARDED_FOR, HeaderValue::from_static("127.0.0.8"));
        headers.insert(&X_FORWARDED_PROTO, HeaderValue::from_static("https"));
        add_forwarding_headers(&mut headers, &peer, &uri, Version::HTTP_11, &upstream);
        assert_eq!(headers[&X_FORWARDED_FOR], "127.0.0.7, 127.0.0.8, 127.0.0.2");
        assert_eq!(headers[&X_FORWARDED_PROTO], "https");
    }

    #[test]
    fn http2_request_gets_host() {
        let upstream = Upstream::parse("http://127.0.0.1:9000").unwrap();
        let peer = Peer::new("127.0.0.2:5000".parse().unwrap());
        let uri = Uri::from_static("http://api.test:8081/orders");
        let mut headers = HeaderMap::new();
        add_forwarding_headers(&mut headers, &peer, &uri, Version::HTTP_2, &upstream);
        assert_eq!(headers[header::HOST], "api.test:8081");
    }

    #[test]
    fn cookies_are_joined() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_static("a=1"));
        headers.append(header::COOKIE, HeaderValue::from_static("b=2"));
        join_cookies(&mut headers);
        let values: Vec<_> = headers.get_all(header::COOKIE).iter().collect();
        assert_eq!(values, ["a=1; b=2"]);
    }
}
