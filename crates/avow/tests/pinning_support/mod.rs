//! Helpers shared by the pinning tests: a test PKI made with rcgen, a rustls TLS server on
//! 127.0.0.1 whose certificate the test can switch while it runs, and a TLS client that
//! connects through any rustls server certificate verifier.

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, PublicKeyData as _,
};
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use time::OffsetDateTime;

/// Time allowed for one TLS connection's reads and writes.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// The line the test server writes after a completed handshake.
pub const GREETING: &str = "hello from the pinned server";

/// Returns the crypto provider of every TLS endpoint in the tests.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// A test certificate authority: a root and an intermediate, both with P-256 keys, valid from
/// a day ago for ten years.
pub struct TestCa {
    pub root_der: CertificateDer<'static>,
    pub root_pem: String,
    pub intermediate_der: CertificateDer<'static>,
    pub intermediate_pem: String,
    intermediate: Issuer<'static, KeyPair>,
}

impl TestCa {
    /// Generates a root and an intermediate named after `name`.
    pub fn new(name: &str) -> Self {
        let root_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let root_params = ca_params(&format!("{name} Root"), BasicConstraints::Unconstrained);
        let root = root_params.self_signed(&root_key).unwrap();
        let root_issuer = Issuer::new(root_params, root_key);

        let intermediate_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let intermediate_params = ca_params(
            &format!("{name} Intermediate"),
            BasicConstraints::Constrained(0),
        );
        let intermediate = intermediate_params
            .signed_by(&intermediate_key, &root_issuer)
            .unwrap();
        Self {
            root_der: root.der().clone(),
            root_pem: root.pem(),
            intermediate_der: intermediate.der().clone(),
            intermediate_pem: intermediate.pem(),
            intermediate: Issuer::new(intermediate_params, intermediate_key),
        }
    }

    /// Issues a server certificate for `host` with `key`, valid from a day ago for
    /// `valid_days`, and returns it with the intermediate as a served chain.
    pub fn issue(&self, host: &str, key: &ServerKey, valid_days: i64) -> ServedChain {
        let mut params = CertificateParams::new(vec![host.to_owned()]).unwrap();
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, host);
        let now = OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::days(1);
        params.not_after = now + time::Duration::days(valid_days);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let leaf = params.signed_by(&key.pair, &self.intermediate).unwrap();
        ServedChain {
            leaf_pem: leaf.pem(),
            certificates: vec![leaf.der().clone(), self.intermediate_der.clone()],
            chain_pem: format!("{}{}", leaf.pem(), self.intermediate_pem),
            key_pkcs8: key.pair.serialize_der(),
            key_pem: key.pair.serialize_pem(),
        }
    }
}

fn ca_params(common_name: &str, constraints: BasicConstraints) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::new()).unwrap();
    params.distinguished_name = DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params
        .distinguished_name
        .push(DnType::OrganizationName, "Avow Pinning Test");
    params.is_ca = IsCa::Ca(constraints);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let now = OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(3650);
    params
}

/// A server key pair: what an operator generates before asking a CA for a certificate.
pub struct ServerKey {
    pair: KeyPair,
}

impl ServerKey {
    pub fn generate() -> Self {
        Self {
            pair: KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap(),
        }
    }

    /// Returns the DER SubjectPublicKeyInfo.
    pub fn spki_der(&self) -> Vec<u8> {
        self.pair.subject_public_key_info()
    }

    /// Returns the public key as a PEM `PUBLIC KEY` block, as `openssl pkey -pubout` writes it.
    pub fn public_key_pem(&self) -> String {
        self.pair.public_key_pem()
    }

    /// Returns a certificate signing request for `host` in PEM, signed by this key.
    pub fn csr_pem(&self, host: &str) -> String {
        let mut params = CertificateParams::new(vec![host.to_owned()]).unwrap();
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, host);
        params.serialize_request(&self.pair).unwrap().pem().unwrap()
    }
}

/// A served certificate chain (leaf first) and the leaf's private key.
#[derive(Clone)]
pub struct ServedChain {
    pub certificates: Vec<CertificateDer<'static>>,
    pub leaf_pem: String,
    /// The leaf and the intermediate, PEM, as nginx's `ssl_certificate` expects.
    pub chain_pem: String,
    key_pkcs8: Vec<u8>,
    pub key_pem: String,
}

impl ServedChain {
    /// Returns this chain with `extra` appended to the served certificates.
    pub fn with_appended(&self, extra: &CertificateDer<'static>) -> Self {
        let mut chain = self.clone();
        chain.certificates.push(extra.clone());
        chain
    }

    fn server_config(&self) -> Arc<rustls::ServerConfig> {
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_pkcs8.clone()));
        let config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(self.certificates.clone(), key)
            .unwrap();
        Arc::new(config)
    }
}

/// A TLS server on 127.0.0.1 that completes a handshake, writes [`GREETING`] and closes.
///
/// The test can switch the served chain at any time. Given several chains, the server serves
/// them in turn, one per connection, as a fleet of servers does in the middle of a rollout.
pub struct TlsServer {
    pub address: SocketAddr,
    chains: Arc<Mutex<Vec<Arc<rustls::ServerConfig>>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl TlsServer {
    pub fn start(chain: &ServedChain) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let chains = Arc::new(Mutex::new(vec![chain.server_config()]));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let chains = Arc::clone(&chains);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || serve(&listener, &chains, &stop))
        };
        Self {
            address,
            chains,
            stop,
            thread: Some(thread),
        }
    }

    /// Serves `chain` on every later connection.
    pub fn serve(&self, chain: &ServedChain) {
        self.serve_in_turn(std::slice::from_ref(chain));
    }

    /// Serves `chains` in turn, one per connection.
    pub fn serve_in_turn(&self, chains: &[ServedChain]) {
        let configs = chains.iter().map(ServedChain::server_config).collect();
        *self.chains.lock().unwrap() = configs;
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Unblock the accept call.
        let _ = TcpStream::connect_timeout(&self.address, Duration::from_secs(1));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(
    listener: &TcpListener,
    chains: &Mutex<Vec<Arc<rustls::ServerConfig>>>,
    stop: &AtomicBool,
) {
    let turn = AtomicUsize::new(0);
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        let config = {
            let chains = chains.lock().unwrap();
            let index = turn.fetch_add(1, Ordering::SeqCst) % chains.len();
            Arc::clone(&chains[index])
        };
        // A client that rejects the certificate aborts the handshake; that is an expected
        // outcome here, so errors only end this connection.
        let _ = answer(stream, config);
    }
}

fn answer(stream: TcpStream, config: Arc<rustls::ServerConfig>) -> std::io::Result<()> {
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let connection = rustls::ServerConnection::new(config).map_err(std::io::Error::other)?;
    let mut tls = rustls::StreamOwned::new(connection, stream);
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock)?;
    }
    tls.write_all(format!("{GREETING}\n").as_bytes())?;
    tls.conn.send_close_notify();
    tls.flush()
}

/// Connects to `address` with TLS, sending `host` as the server name and checking the server
/// with `verifier`, and returns the first line the server writes. An error carries the text of
/// the rustls error, such as the pin verifier's rejection.
pub fn connect(
    verifier: Arc<dyn ServerCertVerifier>,
    host: &str,
    address: SocketAddr,
) -> Result<String, String> {
    exchange(verifier, host, address, None)
}

/// Like [`connect`], but sends `request` first, as an HTTP client does.
pub fn exchange(
    verifier: Arc<dyn ServerCertVerifier>,
    host: &str,
    address: SocketAddr,
    request: Option<&[u8]>,
) -> Result<String, String> {
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    let name = ServerName::try_from(host.to_owned()).map_err(|error| error.to_string())?;
    let connection =
        rustls::ClientConnection::new(Arc::new(config), name).map_err(|error| error.to_string())?;
    let stream =
        TcpStream::connect_timeout(&address, IO_TIMEOUT).map_err(|error| error.to_string())?;
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut tls = rustls::StreamOwned::new(connection, stream);
    if let Some(request) = request {
        tls.write_all(request).map_err(|error| error.to_string())?;
    }
    let mut line = String::new();
    BufReader::new(&mut tls)
        .read_line(&mut line)
        .map_err(|error| error.to_string())?;
    Ok(line.trim_end().to_owned())
}

/// Returns the pin of the leaf certificate that the server at `address` presents for `host`,
/// without trusting it: the handshake is aborted once the certificate is seen.
pub fn served_leaf_pin(host: &str, address: SocketAddr) -> Option<String> {
    let observer = Arc::new(LeafObserver::default());
    // The observer always fails the handshake, so the result carries nothing.
    let _ = connect(observer.clone(), host, address);
    observer.leaf.lock().unwrap().clone()
}

/// A verifier that records the leaf's pin and rejects every certificate, to look at what a
/// server presents.
#[derive(Debug, Default)]
struct LeafObserver {
    leaf: Mutex<Option<String>>,
}

impl ServerCertVerifier for LeafObserver {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        let pin = avow_pinning::Pin::from_certificate_der(end_entity.as_ref())
            .map_err(|error| rustls::Error::General(error.to_string()))?;
        *self.leaf.lock().unwrap() = Some(pin.to_string());
        Err(rustls::Error::General(
            "certificate observed, handshake stopped".to_owned(),
        ))
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General("observer only".to_owned()))
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General("observer only".to_owned()))
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}
