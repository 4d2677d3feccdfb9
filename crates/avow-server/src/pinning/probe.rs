//! The live-chain probe: connect to an API domain with TLS, take the certificates it serves,
//! and validate them against the domain's trust store.
//!
//! Fetching and judging are separate steps. [`ChainFetcher`] only connects and returns the
//! served list, so tests can replace the network part. [`inspect`] then builds the validated
//! path with `avow_pinning`, at the time the caller gives, which is what apps will do.

use std::sync::Arc;
use std::time::Duration;

use avow_pinning::{
    CertificateDer, CertificateRole, ChainCertificate, KeyType, Pin, ServerName, TrustStore,
    UnixTime, ValidatedPath,
};
use avow_store::ApiDomain;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use serde::Serialize;
use tokio::io::AsyncWriteExt as _;

/// The host, port and address of one probe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeTarget {
    /// The host name sent as SNI. The leaf must be valid for it.
    pub host: String,
    /// The TCP port.
    pub port: u16,
    /// The `address:port` to connect to in place of resolving `host`, if any.
    pub connect_to: Option<String>,
}

impl ProbeTarget {
    /// Returns the target of a stored API domain.
    pub fn of_domain(domain: &ApiDomain) -> Self {
        Self {
            host: domain.probe_host.clone(),
            port: u16::try_from(domain.port).unwrap_or(443),
            connect_to: domain.connect_to.clone(),
        }
    }

    /// Returns where the probe connects, for messages.
    pub fn address(&self) -> String {
        match &self.connect_to {
            Some(address) => address.clone(),
            None if self.host.contains(':') => format!("[{}]:{}", self.host, self.port),
            None => format!("{}:{}", self.host, self.port),
        }
    }
}

/// Failures of a probe that got no certificates.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The TCP connection failed.
    #[error("cannot connect to {address}: {detail}")]
    Connect {
        /// The address.
        address: String,
        /// The I/O error.
        detail: String,
    },
    /// Connecting and the handshake together took longer than the timeout.
    #[error("no TLS handshake with {address} within {timeout_ms} ms")]
    Timeout {
        /// The address.
        address: String,
        /// The timeout.
        timeout_ms: u128,
    },
    /// The TLS handshake failed.
    #[error("TLS handshake with {address} failed: {detail}")]
    Handshake {
        /// The address.
        address: String,
        /// The TLS error.
        detail: String,
    },
    /// The host is not a valid TLS server name.
    #[error("{host:?} is not a valid TLS server name")]
    InvalidHost {
        /// The host.
        host: String,
    },
    /// The server completed the handshake without sending a certificate.
    #[error("{address} sent no certificate")]
    NoCertificate {
        /// The address.
        address: String,
    },
}

impl ProbeError {
    /// Returns a stable snake_case code for the failure.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Connect { .. } => "connect_failed",
            Self::Timeout { .. } => "timeout",
            Self::Handshake { .. } => "handshake_failed",
            Self::InvalidHost { .. } => "invalid_host",
            Self::NoCertificate { .. } => "no_certificate",
        }
    }
}

/// Fetches the certificate list a TLS server sends.
#[async_trait::async_trait]
pub trait ChainFetcher: Send + Sync + 'static {
    /// Connects to `target` and returns the certificates the server sent, in the order sent.
    async fn fetch(&self, target: &ProbeTarget)
    -> Result<Vec<CertificateDer<'static>>, ProbeError>;
}

/// The real [`ChainFetcher`]: a TCP connection and a TLS handshake with rustls and the aws-lc-rs
/// provider, TLS 1.2 or 1.3, no client certificate, no application data.
pub struct TlsChainFetcher {
    config: Arc<ClientConfig>,
    timeout: Duration,
}

impl std::fmt::Debug for TlsChainFetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsChainFetcher")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl TlsChainFetcher {
    /// Creates a fetcher whose connect and handshake together time out after `timeout`.
    pub fn new(timeout: Duration) -> Result<Self, rustls::Error> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let recorder = ServedChainRecorder {
            algorithms: provider.signature_verification_algorithms,
        };
        let config = ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(recorder))
            .with_no_client_auth();
        Ok(Self {
            config: Arc::new(config),
            timeout,
        })
    }

    async fn handshake(
        &self,
        target: &ProbeTarget,
        server_name: ServerName<'static>,
    ) -> Result<Vec<CertificateDer<'static>>, ProbeError> {
        let address = target.address();
        let tcp = match &target.connect_to {
            Some(connect_to) => tokio::net::TcpStream::connect(connect_to.as_str()).await,
            None => tokio::net::TcpStream::connect((target.host.as_str(), target.port)).await,
        }
        .map_err(|error| ProbeError::Connect {
            address: address.clone(),
            detail: error.to_string(),
        })?;
        let connector = tokio_rustls::TlsConnector::from(Arc::clone(&self.config));
        let mut tls =
            connector
                .connect(server_name, tcp)
                .await
                .map_err(|error| ProbeError::Handshake {
                    address: address.clone(),
                    detail: error.to_string(),
                })?;
        let served: Vec<CertificateDer<'static>> = tls
            .get_ref()
            .1
            .peer_certificates()
            .map(|certificates| {
                certificates
                    .iter()
                    .map(|certificate| certificate.clone().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        // A polite close_notify; the chain is already in hand, so a failure here changes
        // nothing.
        let _ = tls.shutdown().await;
        if served.is_empty() {
            return Err(ProbeError::NoCertificate { address });
        }
        Ok(served)
    }
}

#[async_trait::async_trait]
impl ChainFetcher for TlsChainFetcher {
    async fn fetch(
        &self,
        target: &ProbeTarget,
    ) -> Result<Vec<CertificateDer<'static>>, ProbeError> {
        let server_name =
            ServerName::try_from(target.host.clone()).map_err(|_| ProbeError::InvalidHost {
                host: target.host.clone(),
            })?;
        tokio::time::timeout(self.timeout, self.handshake(target, server_name))
            .await
            .map_err(|_| ProbeError::Timeout {
                address: target.address(),
                timeout_ms: self.timeout.as_millis(),
            })?
    }
}

/// A rustls server certificate verifier that accepts any certificate list, so the probe can
/// record what a server sends, even a chain that does not validate.
///
/// It still checks the handshake signature with the leaf's key, so the recorded chain comes from
/// a server that has the leaf's private key. Trust is decided afterwards by [`inspect`], never here.
/// Nothing is sent over a connection made with it.
#[derive(Debug)]
struct ServedChainRecorder {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for ServedChainRecorder {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Returns the trust store of a domain: its PEM bundle, or the Mozilla roots.
pub fn trust_store(domain: &ApiDomain) -> Result<TrustStore, avow_pinning::Error> {
    match &domain.ca_bundle_pem {
        Some(pem) => TrustStore::from_pem(pem.as_bytes()),
        None => Ok(TrustStore::mozilla()),
    }
}

/// A served chain and what validating it gave.
#[derive(Clone, Debug)]
pub struct LiveChain {
    /// The certificates the server sent, in the order sent.
    pub served: Vec<CertificateDer<'static>>,
    /// The validated path, or why the served chain does not validate.
    pub validation: Result<ValidatedPath, avow_pinning::Error>,
    /// The validation time, Unix seconds.
    pub checked_at: i64,
}

impl LiveChain {
    /// Returns the validated path, if the chain validated.
    pub fn path(&self) -> Option<&ValidatedPath> {
        self.validation.as_ref().ok()
    }

    /// Returns the earliest `notAfter` on the validated path, Unix seconds.
    pub fn earliest_not_after(&self) -> Option<i64> {
        self.path()?
            .certificates()
            .iter()
            .filter_map(|certificate| certificate.not_after)
            .min()
            .map(|not_after| i64::try_from(not_after).unwrap_or(i64::MAX))
    }

    /// Describes the chain for the admin API.
    pub fn view(&self) -> LiveChainView {
        let served_pins: Vec<Option<Pin>> = self
            .served
            .iter()
            .map(|der| Pin::from_certificate_der(der.as_ref()).ok())
            .collect();
        let (path, served_only, error, error_reason) = match &self.validation {
            Ok(path) => (
                path.certificates()
                    .iter()
                    .map(|certificate| {
                        let served = served_pins.contains(&Some(certificate.pin));
                        CertificateView::of(certificate, served)
                    })
                    .collect(),
                path.served_only()
                    .iter()
                    .map(|certificate| CertificateView::of(certificate, true))
                    .collect(),
                None,
                None,
            ),
            Err(error) => (
                Vec::new(),
                Vec::new(),
                Some(error.to_string()),
                Some(error.reason()),
            ),
        };
        let served = self
            .served
            .iter()
            .map(|der| {
                match ChainCertificate::from_certificate_der(
                    der.as_ref(),
                    CertificateRole::ServedOnly,
                ) {
                    Ok(certificate) => CertificateView::of(&certificate, true),
                    Err(error) => CertificateView::unreadable(&error),
                }
            })
            .collect();
        LiveChainView {
            checked_at: self.checked_at,
            valid: self.validation.is_ok(),
            path,
            served_only,
            served,
            error,
            error_reason,
        }
    }
}

/// A live chain as the admin API shows it.
#[derive(Clone, Debug, Serialize)]
pub struct LiveChainView {
    /// The validation time, Unix seconds.
    pub checked_at: i64,
    /// Whether the served chain validated against the domain's trust store.
    pub valid: bool,
    /// The validated path, leaf first and trust anchor last. Empty when the chain does not
    /// validate.
    pub path: Vec<CertificateView>,
    /// Served certificates that the path does not use. Pinning them has no effect.
    pub served_only: Vec<CertificateView>,
    /// Every served certificate, in the order sent.
    pub served: Vec<CertificateView>,
    /// The validation error, when the chain does not validate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The reason code of `error`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_reason: Option<&'static str>,
}

/// One certificate of a live chain.
#[derive(Clone, Debug, Serialize)]
pub struct CertificateView {
    /// `leaf`, `intermediate`, `anchor` or `served_only`.
    pub role: Option<CertificateRole>,
    /// The SPKI SHA-256 pin.
    pub pin: Option<Pin>,
    /// The subject distinguished name.
    pub subject: String,
    /// The key type, such as `EC P-256` or `RSA-2048`.
    pub key_type: Option<String>,
    /// Whether pinning libraries on phones accept the key type.
    pub key_type_supported: bool,
    /// notBefore, Unix seconds, when known.
    pub not_before: Option<u64>,
    /// notAfter, Unix seconds, when known.
    pub not_after: Option<u64>,
    /// Whether the server sent this certificate (an anchor often is not sent).
    pub served: bool,
}

impl CertificateView {
    fn of(certificate: &ChainCertificate, served: bool) -> Self {
        Self {
            role: Some(certificate.role),
            pin: Some(certificate.pin),
            subject: certificate.subject.clone(),
            key_type: Some(certificate.key_type.to_string()),
            key_type_supported: KeyType::is_mobile_supported(&certificate.key_type),
            not_before: certificate.not_before,
            not_after: certificate.not_after,
            served,
        }
    }

    fn unreadable(error: &avow_pinning::Error) -> Self {
        Self {
            role: None,
            pin: None,
            subject: format!("(unreadable certificate: {error})"),
            key_type: None,
            key_type_supported: false,
            not_before: None,
            not_after: None,
            served: true,
        }
    }
}

/// Validates a served chain for `host` against `trust` at `now` (Unix seconds).
pub fn inspect(
    served: Vec<CertificateDer<'static>>,
    trust: &TrustStore,
    host: &str,
    now: i64,
) -> LiveChain {
    let validation = match ServerName::try_from(host.to_owned()) {
        Ok(server_name) => trust.validate(
            &served,
            &server_name,
            UnixTime::since_unix_epoch(Duration::from_secs(u64::try_from(now).unwrap_or(0))),
        ),
        Err(_) => Err(avow_pinning::Error::CertificateNameMismatch {
            host: host.to_owned(),
        }),
    };
    LiveChain {
        served,
        validation,
        checked_at: now,
    }
}

/// Probes an API domain: fetches its served chain and validates it against its trust store.
///
/// An invalid trust store bundle is reported as a validation error, so a domain stored with a
/// bundle that no longer parses shows up as `invalid_chain` rather than failing the caller.
pub async fn probe_domain(
    fetcher: &dyn ChainFetcher,
    domain: &ApiDomain,
    now: i64,
) -> Result<LiveChain, ProbeError> {
    let served = fetcher.fetch(&ProbeTarget::of_domain(domain)).await?;
    Ok(match trust_store(domain) {
        Ok(trust) => inspect(served, &trust, &domain.probe_host, now),
        Err(error) => LiveChain {
            served,
            validation: Err(error),
            checked_at: now,
        },
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

    use super::*;

    const HOST: &str = "probe.example.test";

    /// Generates a CA, returned as PEM, and a served chain (leaf, CA) with the leaf's key.
    fn chain() -> (String, Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Probe Test CA");
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec![HOST.to_owned()])
            .unwrap()
            .signed_by(&leaf_key, &issuer)
            .unwrap();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        (ca.pem(), vec![leaf.der().clone(), ca.der().clone()], key)
    }

    /// Serves one TLS handshake on 127.0.0.1 and returns the address.
    async fn tls_server(
        certificates: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> std::net::SocketAddr {
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certificates, key)
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            if let Ok(mut tls) = acceptor.accept(stream).await {
                let _ = tls.shutdown().await;
            }
        });
        address
    }

    fn target(address: String) -> ProbeTarget {
        ProbeTarget {
            host: HOST.to_owned(),
            port: 443,
            connect_to: Some(address),
        }
    }

    #[tokio::test]
    async fn served_chain_recorded_and_validated() {
        let (ca_pem, certificates, key) = chain();
        let address = tls_server(certificates.clone(), key).await;
        let fetcher = TlsChainFetcher::new(Duration::from_secs(10)).unwrap();

        let served = fetcher.fetch(&target(address.to_string())).await.unwrap();

        assert_eq!(served, certificates);
        let trust = TrustStore::from_pem(ca_pem.as_bytes()).unwrap();
        let live = inspect(served, &trust, HOST, crate::unix_now());
        let path = live.path().expect("the chain validates");
        assert_eq!(path.certificates().len(), 2);
        assert_eq!(
            path.leaf().pin,
            Pin::from_certificate_der(certificates[0].as_ref()).unwrap()
        );
        let view = live.view();
        assert!(view.valid);
        assert!(view.path[1].served, "the CA was served");
        assert_eq!(view.served.len(), 2);
    }

    #[tokio::test]
    async fn chain_of_unknown_ca_recorded_but_invalid() {
        let (_, certificates, key) = chain();
        let (other_ca_pem, _, _) = chain();
        let address = tls_server(certificates.clone(), key).await;
        let fetcher = TlsChainFetcher::new(Duration::from_secs(10)).unwrap();

        let served = fetcher.fetch(&target(address.to_string())).await.unwrap();
        let trust = TrustStore::from_pem(other_ca_pem.as_bytes()).unwrap();
        let live = inspect(served, &trust, HOST, crate::unix_now());

        assert_eq!(live.served, certificates);
        let view = live.view();
        assert!(!view.valid);
        assert!(view.error_reason.is_some(), "{view:?}");
        assert!(view.path.is_empty());
    }

    #[tokio::test]
    async fn closed_port_is_connect_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        drop(listener);
        let fetcher = TlsChainFetcher::new(Duration::from_secs(10)).unwrap();

        let error = fetcher
            .fetch(&target(address.to_string()))
            .await
            .unwrap_err();

        assert_eq!(error.reason(), "connect_failed", "{error}");
        assert!(error.to_string().contains(&address.to_string()), "{error}");
    }

    #[tokio::test]
    async fn silent_server_times_out() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        // Accepts the connection and keeps it open without ever answering the ClientHello.
        let holder = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(30)).await;
            drop(stream);
        });
        let fetcher = TlsChainFetcher::new(Duration::from_millis(200)).unwrap();

        let error = fetcher
            .fetch(&target(address.to_string()))
            .await
            .unwrap_err();

        holder.abort();
        assert_eq!(error.reason(), "timeout", "{error}");
    }

    #[tokio::test]
    async fn invalid_server_name_rejected() {
        let fetcher = TlsChainFetcher::new(Duration::from_secs(1)).unwrap();

        let error = fetcher
            .fetch(&ProbeTarget {
                host: "bad host".to_owned(),
                port: 443,
                connect_to: Some("127.0.0.1:1".to_owned()),
            })
            .await
            .unwrap_err();

        assert_eq!(error.reason(), "invalid_host", "{error}");
    }
}
