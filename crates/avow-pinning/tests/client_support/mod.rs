//! Helpers shared by the document and client tests: signing keys and documents, a clock the
//! test sets, a reporter that records events, a test PKI and a TLS server on 127.0.0.1.

#![allow(dead_code, unreachable_pub)]

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use avow_pinning::client::{Clock, PinningEvent, PinningReporter, PinningVerifier};
use avow_pinning::{
    AfterExpiry, DomainPins, HostPattern, Pin, PinDocument, PinDocumentSigner, PinDocumentVerifier,
    PinningMode, TrustStore, UserAnchorPolicy,
};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, ServerConfig, ServerConnection, StreamOwned};

pub const APP_ID: &str = "com.example.shop";
pub const ISSUER: &str = "https://avow.test";
pub const HOST: &str = "api.test";

/// 2026-01-01T00:00:00Z, the issue time of the documents in these tests.
pub const T0: u64 = 1_767_225_600;
pub const DAY: u64 = 24 * 60 * 60;

// === Signing ===

/// A pin-signing key with its PKCS#8 document, so tests can also sign raw, hand-made JWS.
pub struct TestSigner {
    pub signer: PinDocumentSigner,
    pub pkcs8: Vec<u8>,
}

impl TestSigner {
    pub fn generate() -> Self {
        let (signer, pkcs8) = PinDocumentSigner::generate().unwrap();
        Self {
            signer,
            pkcs8: pkcs8.to_vec(),
        }
    }

    pub fn verifier(&self) -> PinDocumentVerifier {
        PinDocumentVerifier::new([self.signer.public_key().clone()]).with_app(APP_ID)
    }

    pub fn sign(&self, document: &PinDocument) -> String {
        self.signer.sign(document).unwrap()
    }

    /// Signs `header` and `payload` JSON as given, with ES256, without any check.
    pub fn sign_raw(&self, header: &str, payload: &str) -> String {
        let key_pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &self.pkcs8).unwrap();
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let signature = key_pair
            .sign(&SystemRandom::new(), signing_input.as_bytes())
            .unwrap();
        format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.as_ref())
        )
    }

    /// Returns the header a real signer writes.
    pub fn header(&self) -> String {
        format!(
            r#"{{"alg":"ES256","typ":"avow-pins+jwt","kid":"{}"}}"#,
            self.signer.kid()
        )
    }
}

/// Computes a pin from arbitrary bytes, for documents that need placeholder backup pins.
pub fn placeholder_pin(label: &str) -> Pin {
    Pin::from_spki_der(label.as_bytes())
}

pub fn domain(host: &str, pins: Vec<Pin>, exp: u64) -> DomainPins {
    DomainPins {
        host: HostPattern::parse(host).unwrap(),
        pins,
        exp,
        mode: PinningMode::Enforce,
        after_expiry: AfterExpiry::FailClosed,
        user_anchors: UserAnchorPolicy::Reject,
    }
}

pub fn document(ver: u64, iat: u64, domains: Vec<DomainPins>) -> PinDocument {
    PinDocument {
        iss: ISSUER.to_owned(),
        app: APP_ID.to_owned(),
        ver,
        iat,
        exp: iat + 30 * DAY,
        domains,
    }
}

/// Returns a document for [`HOST`] with two placeholder pins, issued at `iat`, domain expiry 90 days
/// and document expiry 30 days after.
pub fn simple_document(ver: u64, iat: u64) -> PinDocument {
    document(
        ver,
        iat,
        vec![domain(
            HOST,
            vec![placeholder_pin("current"), placeholder_pin("backup")],
            iat + 90 * DAY,
        )],
    )
}

// === Clock ===

/// A clock whose readings the test sets.
#[derive(Debug)]
pub struct ManualClock {
    wall: AtomicU64,
    monotonic: Mutex<Option<Duration>>,
}

impl ManualClock {
    pub fn new(wall: u64, monotonic: Option<Duration>) -> Arc<Self> {
        Arc::new(Self {
            wall: AtomicU64::new(wall),
            monotonic: Mutex::new(monotonic),
        })
    }

    pub fn set_wall(&self, wall: u64) {
        self.wall.store(wall, Ordering::SeqCst);
    }

    pub fn set_monotonic(&self, monotonic: Option<Duration>) {
        *self.monotonic.lock().unwrap() = monotonic;
    }

    /// Moves both clocks forward by `secs`.
    pub fn advance(&self, secs: u64) {
        self.wall.fetch_add(secs, Ordering::SeqCst);
        let mut monotonic = self.monotonic.lock().unwrap();
        *monotonic = monotonic.map(|value| value + Duration::from_secs(secs));
    }
}

impl Clock for ManualClock {
    fn wall_time(&self) -> u64 {
        self.wall.load(Ordering::SeqCst)
    }

    fn monotonic(&self) -> Option<Duration> {
        *self.monotonic.lock().unwrap()
    }
}

// === Reporter ===

/// Records every event it receives.
#[derive(Debug, Default)]
pub struct RecordingReporter {
    events: Mutex<Vec<PinningEvent>>,
}

impl RecordingReporter {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub fn take(&self) -> Vec<PinningEvent> {
        std::mem::take(&mut *self.events.lock().unwrap())
    }
}

impl PinningReporter for RecordingReporter {
    fn report(&self, event: &PinningEvent) {
        self.events.lock().unwrap().push(event.clone());
    }
}

// === Test PKI ===

/// A CA that can issue intermediates and leaves.
pub struct TestCa {
    pub cert: CertificateDer<'static>,
    pub pin: Pin,
    issuer: Issuer<'static, KeyPair>,
}

impl TestCa {
    pub fn root(name: &str) -> Self {
        let key = KeyPair::generate().unwrap();
        let params = ca_params(name);
        let cert = params.self_signed(&key).unwrap();
        Self::from_parts(cert.der().clone(), params, key)
    }

    pub fn intermediate(&self, name: &str) -> Self {
        let key = KeyPair::generate().unwrap();
        let params = ca_params(name);
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Self::from_parts(cert.der().clone(), params, key)
    }

    /// Issues a server certificate for `host` with a new key.
    pub fn leaf(&self, host: &str) -> TestLeaf {
        let key = KeyPair::generate().unwrap();
        self.leaf_with_key(host, key)
    }

    /// Issues a server certificate for `host` for an existing key (a renewal that keeps the
    /// key).
    pub fn leaf_with_key(&self, host: &str, key: KeyPair) -> TestLeaf {
        let mut params = CertificateParams::new(vec![host.to_owned()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, host);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let cert = cert.der().clone();
        TestLeaf {
            pin: Pin::from_certificate_der(&cert).unwrap(),
            cert,
            key: PrivatePkcs8KeyDer::from(key.serialize_der()),
        }
    }

    /// Returns a trust store holding only this CA.
    pub fn store(&self) -> TrustStore {
        let mut store = TrustStore::empty();
        store.add_certificate_der(self.cert.clone()).unwrap();
        store
    }

    fn from_parts(cert: CertificateDer<'static>, params: CertificateParams, key: KeyPair) -> Self {
        Self {
            pin: Pin::from_certificate_der(&cert).unwrap(),
            cert,
            issuer: Issuer::new(params, key),
        }
    }
}

fn ca_params(name: &str) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

/// A server certificate and its private key.
pub struct TestLeaf {
    pub cert: CertificateDer<'static>,
    pub pin: Pin,
    pub key: PrivatePkcs8KeyDer<'static>,
}

/// Builds a trust store from several CAs.
pub fn store_of(cas: &[&TestCa]) -> TrustStore {
    let mut store = TrustStore::empty();
    for ca in cas {
        store.add_certificate_der(ca.cert.clone()).unwrap();
    }
    store
}

// === TLS on 127.0.0.1 ===

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Builds a TLS server configuration serving `chain` (leaf first) with `key`.
pub fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: &PrivatePkcs8KeyDer<'static>,
) -> Arc<ServerConfig> {
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, PrivateKeyDer::Pkcs8(key.clone_key()))
        .unwrap();
    Arc::new(config)
}

/// A TLS server on 127.0.0.1 that replies `pong` to `ping`. Its configuration can be swapped
/// between connections, which is how a test rotates the server's certificate.
pub struct TlsServer {
    addr: SocketAddr,
    config: Arc<RwLock<Arc<ServerConfig>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Upper bound on connections one test server accepts, so a test cannot loop forever.
const MAX_CONNECTIONS: usize = 64;

impl TlsServer {
    pub fn start(config: Arc<ServerConfig>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let config = Arc::new(RwLock::new(config));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let config = Arc::clone(&config);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                for stream in listener.incoming().take(MAX_CONNECTIONS) {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let current = Arc::clone(&config.read().unwrap());
                    serve_one(current, stream);
                }
            })
        };
        Self {
            addr,
            config,
            stop,
            thread: Some(thread),
        }
    }

    pub fn set_config(&self, config: Arc<ServerConfig>) {
        *self.config.write().unwrap() = config;
    }

    /// Connects with `verifier` for `host`, sends `ping` and expects `pong`.
    pub fn connect(
        &self,
        verifier: &Arc<PinningVerifier>,
        host: &str,
    ) -> Result<(), rustls::Error> {
        let config = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(Arc::clone(verifier) as _)
            .with_no_client_auth();
        let name = ServerName::try_from(host.to_owned()).unwrap();
        let connection = ClientConnection::new(Arc::new(config), name).unwrap();
        let tcp = TcpStream::connect(self.addr).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut tls = StreamOwned::new(connection, tcp);
        let exchange = tls.write_all(b"ping").and_then(|()| {
            let mut reply = [0u8; 4];
            tls.read_exact(&mut reply).map(|()| reply)
        });
        match exchange {
            Ok(reply) => {
                assert_eq!(&reply, b"pong");
                Ok(())
            }
            Err(error) => Err(error
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
                .cloned()
                .unwrap_or_else(|| panic!("connection failed without a TLS error: {error}"))),
        }
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it checks the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve_one(config: Arc<ServerConfig>, stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let Ok(connection) = ServerConnection::new(config) else {
        return;
    };
    let mut tls = StreamOwned::new(connection, stream);
    let mut request = [0u8; 4];
    if tls.read_exact(&mut request).is_ok() && &request == b"ping" {
        let _ = tls.write_all(b"pong");
        let _ = tls.flush();
    }
}

/// Returns the pin error inside a rustls error, if the handshake failed on a pin rule.
pub fn pin_error(error: &rustls::Error) -> Option<&avow_pinning::client::PinCheckError> {
    match error {
        rustls::Error::InvalidCertificate(rustls::CertificateError::Other(other)) => {
            other.0.downcast_ref()
        }
        _ => None,
    }
}
