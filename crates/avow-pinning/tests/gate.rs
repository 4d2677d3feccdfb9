//! The publish gate on real chains and on generated ones, one test per failure seen in the
//! field, named after what it shows.

mod common;

use avow_pinning::gate::{self, ActiveSet, GateInput, ProblemCode, Severity};
use avow_pinning::{
    BackupKey, CertificateDer, CertificateRole, ChainCertificate, HostPattern, KeyLevel, Pin,
    PinEntry, PinRole, PinSet, ValidatedPath,
};
use common::{
    GENERATED_NOW, TestCa, chains_dir, current_roots, inside_validity, load, load_one, seconds,
    server_name, store, store_of,
};

const DAY: u64 = 86_400;

fn pin_of(der: &CertificateDer<'_>) -> Pin {
    Pin::from_certificate_der(der.as_ref()).unwrap()
}

fn entry(pin: Pin, role: PinRole, level: KeyLevel) -> PinEntry {
    let mut entry = PinEntry::new(pin, role);
    entry.level = Some(level);
    entry
}

fn pin_set(host: &str, entries: Vec<PinEntry>, expires_at: u64) -> PinSet {
    let mut set = PinSet::new(HostPattern::parse(host).unwrap(), expires_at);
    for entry in entries {
        set.add(entry).unwrap();
    }
    set
}

/// Returns the backup entry for a freshly generated next key, given as a CSR the way an
/// operator would.
fn next_key_backup(host: &str) -> PinEntry {
    let key = rcgen::KeyPair::generate().unwrap();
    let csr = rcgen::CertificateParams::new(vec![host.to_owned()])
        .unwrap()
        .serialize_request(&key)
        .unwrap();
    BackupKey::from_text(&csr.pem().unwrap())
        .unwrap()
        .to_entry()
}

/// Returns the pin of a generated key.
fn key_pin(key: &rcgen::KeyPair) -> Pin {
    Pin::from_spki_der(&rcgen::PublicKeyData::subject_public_key_info(key))
}

/// Returns an intermediate CA under a new root, and a trust store of that root.
fn issuing_ca() -> (TestCa, avow_pinning::TrustStore) {
    let ca = TestCa::root("Test Root");
    let issuing = ca.intermediate("Test Issuing CA");
    let trust = store_of(&[&ca.cert]);
    (issuing, trust)
}

/// Returns the validated path of a leaf for `host` with `key`, served with its issuer.
fn path_with_key(
    issuing: &TestCa,
    trust: &avow_pinning::TrustStore,
    host: &str,
    key: &rcgen::KeyPair,
    now: u64,
) -> ValidatedPath {
    let served = vec![issuing.leaf_with_key(host, key), issuing.cert.clone()];
    validate(trust, &served, host, now)
}

fn validate(
    store: &avow_pinning::TrustStore,
    served: &[CertificateDer<'static>],
    host: &str,
    now: u64,
) -> ValidatedPath {
    store
        .validate(served, &server_name(host), seconds(now))
        .unwrap()
}

/// A CDN-like provider: four roots, two intermediates (the old M01 and the current M04), and
/// a leaf for `host` issued by M04.
///
/// The field report names `sites/aws.amazon.com_…via-Amazon-RSA-2048-M04`, which is not in the
/// vectors folder. This is an equivalent hierarchy generated for the test with the same shape:
/// four provider roots, and the leaf under the newer of two intermediates of root 1.
struct Cdn {
    roots: Vec<TestCa>,
    m01: TestCa,
    m04: TestCa,
    served: Vec<CertificateDer<'static>>,
}

impl Cdn {
    fn new(host: &str) -> Self {
        let roots: Vec<TestCa> = (1..=4)
            .map(|n| TestCa::root(&format!("Test Provider Root CA {n}")))
            .collect();
        let m01 = roots[0].intermediate("Test Provider RSA 2048 M01");
        let m04 = roots[0].intermediate("Test Provider RSA 2048 M04");
        let served = vec![m04.leaf(host), m04.cert.clone()];
        Self {
            roots,
            m01,
            m04,
            served,
        }
    }

    fn path(&self, host: &str) -> ValidatedPath {
        let roots: Vec<&CertificateDer<'static>> = self.roots.iter().map(|ca| &ca.cert).collect();
        validate(&store_of(&roots), &self.served, host, GENERATED_NOW)
    }

    fn root_pins(&self) -> Vec<PinEntry> {
        self.roots
            .iter()
            .map(|ca| PinEntry::new(pin_of(&ca.cert), PinRole::Root))
            .collect()
    }
}

fn managed(set: &PinSet, paths: &[ValidatedPath]) -> gate::GateReport {
    let mut input = GateInput::new(set, paths, GENERATED_NOW + 30 * DAY, GENERATED_NOW);
    input.managed = true;
    gate::check(&input)
}

#[test]
fn gate_rejects_leaf_and_one_intermediate_for_cdn() {
    let host = "cdn.example.com";
    let cdn = Cdn::new(host);
    let path = cdn.path(host);
    let set = pin_set(
        host,
        vec![
            entry(path.leaf().pin, PinRole::Current, KeyLevel::Leaf),
            entry(pin_of(&cdn.m01.cert), PinRole::Backup, KeyLevel::Ca),
        ],
        GENERATED_NOW + 30 * DAY,
    );
    let report = managed(&set, std::slice::from_ref(&path));
    assert!(!report.passes(), "{report:#?}");
    assert!(report.has(ProblemCode::LeafPinOnManagedHost), "{report:#?}");
}

#[test]
fn gate_accepts_every_root_of_the_cdn_provider() {
    let host = "cdn.example.com";
    let cdn = Cdn::new(host);
    let path = cdn.path(host);
    assert_eq!(path.anchor().pin, pin_of(&cdn.roots[0].cert));
    let set = pin_set(host, cdn.root_pins(), GENERATED_NOW + 30 * DAY);
    let report = managed(&set, std::slice::from_ref(&path));
    assert!(report.passes(), "{report:#?}");
    assert!(report.problems.is_empty(), "{report:#?}");
}

#[test]
fn gate_rejects_intermediate_only_set_on_managed_host() {
    let host = "cdn.example.com";
    let cdn = Cdn::new(host);
    let path = cdn.path(host);
    let set = pin_set(
        host,
        vec![
            entry(pin_of(&cdn.m04.cert), PinRole::Current, KeyLevel::Ca),
            entry(pin_of(&cdn.m01.cert), PinRole::Backup, KeyLevel::Ca),
        ],
        GENERATED_NOW + 30 * DAY,
    );
    let report = managed(&set, std::slice::from_ref(&path));
    assert_eq!(report.codes(), [ProblemCode::IntermediatePinOnManagedHost]);
    assert!(!report.passes());

    // The same set on a host the operator keys itself is accepted.
    let report = gate::check(&GateInput::new(
        &set,
        std::slice::from_ref(&path),
        GENERATED_NOW + 30 * DAY,
        GENERATED_NOW,
    ));
    assert!(report.passes(), "{report:#?}");
}

#[test]
fn gate_rejects_leaf_only_set_on_managed_host() {
    let host = "cdn.example.com";
    let cdn = Cdn::new(host);
    let path = cdn.path(host);
    let set = pin_set(
        host,
        vec![
            entry(path.leaf().pin, PinRole::Current, KeyLevel::Leaf),
            next_key_backup(host),
        ],
        GENERATED_NOW + 30 * DAY,
    );
    let report = managed(&set, std::slice::from_ref(&path));
    assert_eq!(report.codes(), [ProblemCode::LeafPinOnManagedHost]);
    // Both the served leaf and the prepared leaf key are named.
    assert_eq!(report.problems[0].pins.len(), 2);
}

#[test]
fn letsencrypt_renewals_switch_intermediates() {
    let Some(chains) = chains_dir() else { return };
    let roots = current_roots(&chains);
    let e6 = pin_of(&load_one(&chains, "letsencrypt/e6.pem"));
    let series = [
        ("lencr.org_2023-09-03_via-R3", false),
        ("lencr.org_2024-07-13_via-E6_fixed", true),
        ("lencr.org_2024-09-16_via-E6", true),
        ("letsencrypt.org_2025-01-31_via-E6", true),
        ("letsencrypt.org_2025-06-01_via-E5", false),
        ("letsencrypt.org_2025-08-13_via-E6", true),
        ("letsencrypt.org_2026-01-03_via-E8", false),
        ("letsencrypt.org_2026-02-10_via-E7", false),
    ];
    let mut leaf_pins = Vec::new();
    for (name, matches) in series {
        let served = load(&chains, &format!("sites/{name}.chain.pem"));
        let host = name.split('_').next().unwrap();
        let path = roots
            .validate(&served, &server_name(host), inside_validity(&served[0]))
            .unwrap();
        assert_eq!(path.contains_pin(&e6), matches, "{name}");
        leaf_pins.push(path.leaf().pin);
    }
    let count = leaf_pins.len();
    leaf_pins.sort();
    leaf_pins.dedup();
    assert_eq!(leaf_pins.len(), count, "every renewal has a new leaf key");
}

#[test]
fn gate_flags_single_letsencrypt_intermediate() {
    let Some(chains) = chains_dir() else { return };
    let served = load(&chains, "sites/letsencrypt.org_2025-01-31_via-E6.chain.pem");
    let anchors = store(&chains, &["letsencrypt/isrg-root-x1.pem"]);
    let now = inside_validity(&served[0]).as_secs();
    let path = validate(&anchors, &served, "letsencrypt.org", now);
    let e6 = pin_of(&load_one(&chains, "letsencrypt/e6.pem"));
    let set = pin_set(
        "letsencrypt.org",
        vec![
            entry(e6, PinRole::Current, KeyLevel::Ca),
            next_key_backup("letsencrypt.org"),
        ],
        now + 30 * DAY,
    );
    let paths = [path];
    let report = gate::check(&GateInput::new(&set, &paths, now + 30 * DAY, now));
    assert!(report.passes(), "only a warning: {report:#?}");
    assert_eq!(
        report.codes(),
        [ProblemCode::SingleIntermediateOfRandomizingCa]
    );
    assert_eq!(report.problems[0].severity, Severity::Warning);

    // Pinning every published intermediate plus the roots clears the warning.
    let mut entries = Vec::new();
    for name in [
        "e5", "e6", "e7", "e8", "e9", "r10", "r11", "r12", "r13", "r14",
    ] {
        let pin = pin_of(&load_one(&chains, &format!("letsencrypt/{name}.pem")));
        let role = if pin == e6 {
            PinRole::Current
        } else {
            PinRole::Backup
        };
        entries.push(entry(pin, role, KeyLevel::Ca));
    }
    for name in ["isrg-root-x1", "isrg-root-x2"] {
        let pin = pin_of(&load_one(&chains, &format!("letsencrypt/{name}.pem")));
        entries.push(PinEntry::new(pin, PinRole::Root));
    }
    let set = pin_set("letsencrypt.org", entries, now + 30 * DAY);
    let report = gate::check(&GateInput::new(&set, &paths, now + 30 * DAY, now));
    assert!(report.problems.is_empty(), "{report:#?}");
}

#[test]
fn gate_rejects_expired_pinned_root() {
    let Some(chains) = chains_dir() else { return };
    // A client that still trusts DST Root CA X3 builds lencr.org's 2023 chain through the
    // served cross-sign up to DST, which expired on 2021-09-30.
    let served = load(&chains, "sites/lencr.org_2023-09-03_via-R3.chain.pem");
    let dst_store = store(&chains, &["letsencrypt/dst-root-ca-x3.pem"]);
    let now = inside_validity(&served[0]).as_secs();
    let path = validate(&dst_store, &served, "lencr.org", now);
    let dst = pin_of(&load_one(&chains, "letsencrypt/dst-root-ca-x3.pem"));
    assert_eq!(path.anchor().pin, dst);
    assert!(path.anchor().not_after.unwrap() < now);

    let x2 = pin_of(&load_one(&chains, "letsencrypt/isrg-root-x2.pem"));
    let set = pin_set(
        "lencr.org",
        vec![
            PinEntry::new(dst, PinRole::Root),
            PinEntry::new(x2, PinRole::Root),
        ],
        now + 30 * DAY,
    );
    let paths = [path];
    let report = gate::check(&GateInput::new(&set, &paths, now + 30 * DAY, now));
    assert_eq!(
        report.codes(),
        [ProblemCode::PinnedCertificateExpiresBeforeDocument]
    );
    let problem = &report.problems[0];
    assert_eq!(problem.pins, [dst]);
    assert!(
        problem.message.contains("expired at"),
        "{}",
        problem.message
    );
    assert!(
        problem.message.contains("DST Root CA X3"),
        "{}",
        problem.message
    );
}

#[test]
fn gate_rejects_dst_pin_for_x1_path() {
    let Some(chains) = chains_dir() else { return };
    let served = load(&chains, "sites/lencr.org_2023-09-03_via-R3.chain.pem");
    let x1_store = store(&chains, &["letsencrypt/isrg-root-x1.pem"]);
    let now = inside_validity(&served[0]).as_secs();
    let paths = [validate(&x1_store, &served, "lencr.org", now)];
    let dst = pin_of(&load_one(&chains, "letsencrypt/dst-root-ca-x3.pem"));
    let x1 = pin_of(&load_one(&chains, "letsencrypt/isrg-root-x1.pem"));
    let x2 = pin_of(&load_one(&chains, "letsencrypt/isrg-root-x2.pem"));

    let dst_set = pin_set(
        "lencr.org",
        vec![
            PinEntry::new(dst, PinRole::Root),
            PinEntry::new(x2, PinRole::Root),
        ],
        now + 30 * DAY,
    );
    let report = gate::check(&GateInput::new(&dst_set, &paths, now + 30 * DAY, now));
    assert_eq!(report.codes(), [ProblemCode::NoPinOnPath]);

    let x1_set = pin_set(
        "lencr.org",
        vec![
            PinEntry::new(x1, PinRole::Root),
            PinEntry::new(x2, PinRole::Root),
        ],
        now + 30 * DAY,
    );
    let report = gate::check(&GateInput::new(&x1_set, &paths, now + 30 * DAY, now));
    assert!(report.problems.is_empty(), "{report:#?}");
}

#[test]
fn gate_rejects_pin_on_served_only_certificate() {
    let Some(chains) = chains_dir() else { return };
    let served = load(&chains, "sites/letsencrypt.org_2025-01-31_via-E6.chain.pem");
    let anchors = store(&chains, &["letsencrypt/isrg-root-x1.pem"]);
    let now = inside_validity(&served[0]).as_secs();
    let paths = [validate(&anchors, &served, "letsencrypt.org", now)];
    let x2 = pin_of(&load_one(&chains, "letsencrypt/isrg-root-x2.pem"));
    let set = pin_set(
        "letsencrypt.org",
        vec![
            PinEntry::new(x2, PinRole::Current),
            next_key_backup("letsencrypt.org"),
        ],
        now + 30 * DAY,
    );
    let report = gate::check(&GateInput::new(&set, &paths, now + 30 * DAY, now));
    assert_eq!(
        report.codes(),
        [ProblemCode::NoPinOnPath, ProblemCode::PinOnlyInServedList]
    );
    assert!(
        report.problems[0].message.contains("does not use"),
        "{}",
        report.problems[0].message
    );
}

#[test]
fn gate_rejects_appended_genuine_root() {
    let Some(chains) = chains_dir() else { return };
    // An interceptor with a certificate from another trusted CA appends ISRG Root X1 to what
    // it serves. The field report names `sites/aws.amazon.com_…` as the unrelated chain. It is
    // not in the vectors folder, so a generated chain replaces it.
    let host = "api.example.com";
    let other_ca = TestCa::root("Other Trusted Root");
    let issuing = other_ca.intermediate("Other Trusted Issuing CA");
    let x1 = load_one(&chains, "letsencrypt/isrg-root-x1.pem");
    let served = vec![issuing.leaf(host), issuing.cert.clone(), x1.clone()];
    let mut trust = store_of(&[&other_ca.cert]);
    trust.add_certificate_der(x1.clone()).unwrap();
    let path = validate(&trust, &served, host, GENERATED_NOW);
    assert!(!path.contains_pin(&pin_of(&x1)));
    assert_eq!(path.served_only_pins(), [pin_of(&x1)]);

    let x2 = pin_of(&load_one(&chains, "letsencrypt/isrg-root-x2.pem"));
    let set = pin_set(
        host,
        vec![
            PinEntry::new(pin_of(&x1), PinRole::Root),
            PinEntry::new(x2, PinRole::Root),
        ],
        GENERATED_NOW + 30 * DAY,
    );
    let paths = [path];
    let report = gate::check(&GateInput::new(
        &set,
        &paths,
        GENERATED_NOW + 30 * DAY,
        GENERATED_NOW,
    ));
    assert!(report.has(ProblemCode::NoPinOnPath), "{report:#?}");
    assert!(!report.passes());
}

#[test]
fn pin_parse_names_hex_format() {
    let hex = "0b9fa5a59eed715c26c1020c711b4f6ec42d58b0015e14337a39dad301c5afc3";
    let err = Pin::parse(hex).unwrap_err();
    assert_eq!(err.reason(), "pin_hex");
    assert!(err.to_string().contains("hexadecimal"), "{err}");
    let err = BackupKey::from_text("C5-lpZ7tcVwmwQIMcRtPbsQtWLABXhQzejna0wHFr8M").unwrap_err();
    assert_eq!(err.reason(), "pin_base64url");
    assert!(err.to_string().contains("base64url"), "{err}");
}

#[test]
fn gate_explains_whole_certificate_hash() {
    let Some(chains) = chains_dir() else { return };
    let served = load(&chains, "sites/letsencrypt.org_2025-01-31_via-E6.chain.pem");
    let anchors = store(&chains, &["letsencrypt/isrg-root-x1.pem"]);
    let now = inside_validity(&served[0]).as_secs();
    let paths = [validate(&anchors, &served, "letsencrypt.org", now)];
    // The fingerprint of the served E6 certificate: well-formed base64 of 32 bytes, so it
    // parses, but it is not a key pin.
    let fingerprint = Pin::from_spki_der(served[1].as_ref());
    let set = pin_set(
        "letsencrypt.org",
        vec![
            PinEntry::new(fingerprint, PinRole::Current),
            next_key_backup("letsencrypt.org"),
        ],
        now + 30 * DAY,
    );
    let report = gate::check(&GateInput::new(&set, &paths, now + 30 * DAY, now));
    assert_eq!(report.codes(), [ProblemCode::NoPinOnPath]);
    let message = &report.problems[0].message;
    assert!(message.contains("the whole certificate of"), "{message}");
    assert!(message.contains("CN=E6"), "{message}");
    assert!(
        message.contains("0Bbh/jEZSKymTy3kTOhsmlHKBB32EDu1KojrP3YfV9c="),
        "{message}"
    );
}

#[test]
fn gate_rejects_a_set_with_one_pin() {
    let host = "api.example.com";
    let ca = TestCa::root("Test Root");
    let issuing = ca.intermediate("Test Issuing CA");
    let served = vec![issuing.leaf(host), issuing.cert.clone()];
    let paths = [validate(
        &store_of(&[&ca.cert]),
        &served,
        host,
        GENERATED_NOW,
    )];
    let set = pin_set(
        host,
        vec![PinEntry::new(pin_of(&ca.cert), PinRole::Root)],
        GENERATED_NOW + 30 * DAY,
    );
    let report = gate::check(&GateInput::new(
        &set,
        &paths,
        GENERATED_NOW + 30 * DAY,
        GENERATED_NOW,
    ));
    assert_eq!(
        report.codes(),
        [ProblemCode::FewerThanTwoPins, ProblemCode::NoBackupPin]
    );
}

#[test]
fn gate_counts_active_population_left_uncovered() {
    let host = "api.example.com";
    let ca = TestCa::root("Test Root");
    let old_issuing = ca.intermediate("Old Issuing CA");
    let new_issuing = ca.intermediate("New Issuing CA");
    // The proposed chain comes from the new issuing CA with a new key.
    let served = vec![new_issuing.leaf(host), new_issuing.cert.clone()];
    let paths = [validate(
        &store_of(&[&ca.cert]),
        &served,
        host,
        GENERATED_NOW,
    )];
    let new_leaf = paths[0].leaf().pin;
    let old_ca = pin_of(&old_issuing.cert);
    let new_ca = pin_of(&new_issuing.cert);

    let set = pin_set(
        host,
        vec![
            entry(new_ca, PinRole::Current, KeyLevel::Ca),
            entry(old_ca, PinRole::Backup, KeyLevel::Ca),
        ],
        GENERATED_NOW + 30 * DAY,
    );
    // v3 already contains the new issuing CA, but v1 contains only the old one and a leaf pin.
    let population = [
        ActiveSet {
            document_version: 3,
            share: 0.8,
            pins: vec![new_ca, old_ca],
        },
        ActiveSet {
            document_version: 1,
            share: 0.2,
            pins: vec![old_ca, Pin::from_digest([7; 32])],
        },
    ];
    let mut input = GateInput::new(&set, &paths, GENERATED_NOW + 30 * DAY, GENERATED_NOW);
    input.active_population = &population;
    let report = gate::check(&input);
    assert_eq!(report.codes(), [ProblemCode::ActivePopulationUncovered]);
    let message = &report.problems[0].message;
    assert!(message.starts_with("20% of active devices"), "{message}");
    assert!(message.contains("v1"), "{message}");
    assert!(!message.contains("v3"), "{message}");
    assert_ne!(new_leaf, old_ca);

    // An operator may accept a small uncovered share explicitly.
    input.uncovered_tolerance = 0.25;
    assert!(gate::check(&input).passes());
}

#[test]
fn rotation_to_published_backup_passes() {
    let host = "api.example.com";
    let (issuing, trust) = issuing_ca();
    let key_a = rcgen::KeyPair::generate().unwrap();
    let key_b = rcgen::KeyPair::generate().unwrap();
    let key_c = rcgen::KeyPair::generate().unwrap();
    let expires = GENERATED_NOW + 30 * DAY;

    // Step 1: the server has key A; B is published as the backup.
    let path_a = [path_with_key(&issuing, &trust, host, &key_a, GENERATED_NOW)];
    let set_1 = pin_set(
        host,
        vec![
            entry(key_pin(&key_a), PinRole::Current, KeyLevel::Leaf),
            entry(key_pin(&key_b), PinRole::Backup, KeyLevel::Leaf),
        ],
        expires,
    );
    let report = gate::check(&GateInput::new(&set_1, &path_a, expires, GENERATED_NOW));
    assert!(report.problems.is_empty(), "{report:#?}");

    // Step 2: the server switches to B. Devices still on set 1 match through B.
    let later = GENERATED_NOW + 10 * DAY;
    let path_b = [path_with_key(&issuing, &trust, host, &key_b, later)];
    let set_2 = pin_set(
        host,
        vec![
            entry(key_pin(&key_b), PinRole::Current, KeyLevel::Leaf),
            entry(key_pin(&key_c), PinRole::Backup, KeyLevel::Leaf),
            entry(
                key_pin(&key_a),
                PinRole::Previous {
                    until: later + 7 * DAY,
                },
                KeyLevel::Leaf,
            ),
        ],
        later + 30 * DAY,
    );
    let population = [ActiveSet {
        document_version: 1,
        share: 1.0,
        pins: set_1.active_pins(later),
    }];
    let mut input = GateInput::new(&set_2, &path_b, later + 30 * DAY, later);
    input.active_population = &population;
    let report = gate::check(&input);
    assert!(report.problems.is_empty(), "{report:#?}");

    let plan = gate::plan(std::slice::from_ref(&set_1), std::slice::from_ref(&set_2));
    let change = &plan.hosts[0];
    assert_eq!(change.pins_added.len(), 1);
    assert_eq!(change.pins_added[0].pin, key_pin(&key_c));
    assert_eq!(change.roles_changed.len(), 2);
}

#[test]
fn rotation_without_a_backup_is_rejected() {
    let host = "api.example.com";
    let (issuing, trust) = issuing_ca();
    let key_a = rcgen::KeyPair::generate().unwrap();
    let key_c = rcgen::KeyPair::generate().unwrap();
    let expires = GENERATED_NOW + 30 * DAY;

    let path_a = [path_with_key(&issuing, &trust, host, &key_a, GENERATED_NOW)];
    // Both pins are on the live chain: nothing is ready for the next key.
    let set_1 = pin_set(
        host,
        vec![
            entry(key_pin(&key_a), PinRole::Current, KeyLevel::Leaf),
            entry(pin_of(&issuing.cert), PinRole::Current, KeyLevel::Ca),
        ],
        expires,
    );
    let report = gate::check(&GateInput::new(&set_1, &path_a, expires, GENERATED_NOW));
    assert_eq!(report.codes(), [ProblemCode::NoBackupPin]);

    // Switching straight to a key C that no published document contains leaves the devices
    // on set 1, which pinned the leaf only, without a match.
    let leaf_only = [entry(key_pin(&key_a), PinRole::Current, KeyLevel::Leaf)];
    let path_c = [path_with_key(&issuing, &trust, host, &key_c, GENERATED_NOW)];
    let set_2 = pin_set(
        host,
        vec![
            entry(key_pin(&key_c), PinRole::Current, KeyLevel::Leaf),
            next_key_backup(host),
        ],
        expires,
    );
    let population = [ActiveSet {
        document_version: 1,
        share: 1.0,
        pins: leaf_only.iter().map(|entry| entry.pin).collect(),
    }];
    let mut input = GateInput::new(&set_2, &path_c, expires, GENERATED_NOW);
    input.active_population = &population;
    let report = gate::check(&input);
    assert_eq!(report.codes(), [ProblemCode::ActivePopulationUncovered]);
    assert!(
        report.problems[0]
            .message
            .starts_with("100% of active devices")
    );
}

#[test]
fn gate_rejects_unsupported_key_type() {
    let host = "api.example.com";
    let ca = TestCa::root("Test Root");
    let issuing = ca.intermediate("Test Issuing CA");
    let ed25519 = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let served = vec![issuing.leaf_with_key(host, &ed25519), issuing.cert.clone()];
    let paths = [validate(
        &store_of(&[&ca.cert]),
        &served,
        host,
        GENERATED_NOW,
    )];
    let leaf =
        ChainCertificate::from_certificate_der(served[0].as_ref(), CertificateRole::Leaf).unwrap();
    let expires = GENERATED_NOW + 30 * DAY;

    let pinned_leaf = pin_set(
        host,
        vec![
            entry(leaf.pin, PinRole::Current, KeyLevel::Leaf),
            next_key_backup(host),
        ],
        expires,
    );
    let report = gate::check(&GateInput::new(
        &pinned_leaf,
        &paths,
        expires,
        GENERATED_NOW,
    ));
    assert_eq!(report.codes(), [ProblemCode::UnsupportedKeyType]);
    assert_eq!(report.problems[0].severity, Severity::Blocking);
    assert!(report.problems[0].message.contains("Ed25519"));

    // Pinning the issuing CA instead leaves a warning: some iOS pinners fail on any key of
    // another type in the chain.
    let pinned_ca = pin_set(
        host,
        vec![
            entry(pin_of(&issuing.cert), PinRole::Current, KeyLevel::Ca),
            PinEntry::new(pin_of(&TestCa::root("Spare Root").cert), PinRole::Root),
        ],
        expires,
    );
    let report = gate::check(&GateInput::new(&pinned_ca, &paths, expires, GENERATED_NOW));
    assert!(report.passes(), "{report:#?}");
    assert_eq!(report.codes(), [ProblemCode::UnsupportedKeyType]);
    assert_eq!(report.problems[0].severity, Severity::Warning);
}

#[test]
fn gate_rejects_leaf_expiring_before_document() {
    let Some(chains) = chains_dir() else { return };
    let served = load(&chains, "sites/letsencrypt.org_2025-01-31_via-E6.chain.pem");
    let anchors = store(&chains, &["letsencrypt/isrg-root-x1.pem"]);
    let now = inside_validity(&served[0]).as_secs();
    let paths = [validate(&anchors, &served, "letsencrypt.org", now)];
    let leaf = paths[0].leaf().clone();
    let document_expires_at = leaf.not_after.unwrap() + DAY;
    let set = pin_set(
        "letsencrypt.org",
        vec![
            entry(leaf.pin, PinRole::Current, KeyLevel::Leaf),
            next_key_backup("letsencrypt.org"),
        ],
        document_expires_at,
    );
    let report = gate::check(&GateInput::new(&set, &paths, document_expires_at, now));
    assert_eq!(
        report.codes(),
        [ProblemCode::PinnedCertificateExpiresBeforeDocument]
    );
    assert!(report.problems[0].message.contains("CN=letsencrypt.org"));

    // A document that expires before the leaf does is fine.
    let shorter = leaf.not_after.unwrap() - DAY;
    let report = gate::check(&GateInput::new(&set, &paths, shorter, now));
    assert!(report.problems.is_empty(), "{report:#?}");
}

#[test]
fn gate_requires_a_match_on_every_vantage_point() {
    let Some(chains) = chains_dir() else { return };
    // Two edges of one host serve different chains (as during a CDN change): a set that
    // matches one of them is rejected and the failing path is named.
    let r3 = load(&chains, "sites/lencr.org_2023-09-03_via-R3.chain.pem");
    let e6 = load(&chains, "sites/lencr.org_2024-09-16_via-E6.chain.pem");
    let roots = current_roots(&chains);
    let now_r3 = inside_validity(&r3[0]).as_secs();
    let now_e6 = inside_validity(&e6[0]).as_secs();
    let paths = [
        validate(&roots, &r3, "lencr.org", now_r3),
        validate(&roots, &e6, "lencr.org", now_e6),
    ];
    let r3_pin = pin_of(&load_one(&chains, "letsencrypt/r3.pem"));
    let set = pin_set(
        "lencr.org",
        vec![
            entry(r3_pin, PinRole::Current, KeyLevel::Ca),
            next_key_backup("lencr.org"),
        ],
        now_r3 + 30 * DAY,
    );
    let report = gate::check(&GateInput::new(&set, &paths, now_r3 + 30 * DAY, now_r3));
    let failing: Vec<Option<usize>> = report
        .problems
        .iter()
        .filter(|problem| problem.code == ProblemCode::NoPinOnPath)
        .map(|problem| problem.path)
        .collect();
    assert_eq!(failing, [Some(1)]);
}

#[test]
fn removed_root_breaks_validation() {
    let Some(chains) = chains_dir() else { return };
    let served = load(
        &chains,
        "sites/revoked.badssl.com_2021_via-RapidSSL-expired.chain.pem",
    );
    let now = inside_validity(&served[0]);
    let host = server_name("revoked.badssl.com");
    let mut roots = current_roots(&chains);
    assert_eq!(
        roots.validate(&served, &host, now).unwrap_err().reason(),
        "unknown_issuer"
    );
    roots
        .add_certificate_der(load_one(
            &chains,
            "roots/removed-2026-04_digicert-global-root-ca.pem",
        ))
        .unwrap();
    let path = roots.validate(&served, &host, now).unwrap();
    assert!(path.anchor().subject.contains("DigiCert Global Root CA"));
}

#[test]
fn gate_rejects_x1_pin_when_new_root_ends_path() {
    // Let's Encrypt's Generation Y chains run leaf <- YE1 <- Root YE <- ISRG Root X2 <- ISRG
    // Root X1. The vectors hold no leaf under YE1, so the same hierarchy is generated here:
    // an old store stops at "X1", a store that gained "Root YE" stops there.
    let host = "api.example.com";
    let x1 = TestCa::root("Test ISRG Root X1");
    let x2 = TestCa::root("Test ISRG Root X2");
    let ye = TestCa::root("Test Root YE");
    let yr = TestCa::root("Test Root YR");
    let ye1 = ye.intermediate("Test YE1");
    let served = vec![
        ye1.leaf(host),
        ye1.cert.clone(),
        x2.cross_sign(&ye, "Test Root YE"),
        x1.cross_sign(&x2, "Test ISRG Root X2"),
    ];
    let old_store = store_of(&[&x1.cert]);
    let new_store = store_of(&[&x1.cert, &ye.cert]);
    let paths = [
        validate(&old_store, &served, host, GENERATED_NOW),
        validate(&new_store, &served, host, GENERATED_NOW),
    ];
    assert_eq!(paths[0].anchor().pin, pin_of(&x1.cert));
    assert_eq!(paths[1].anchor().pin, pin_of(&ye.cert));
    let expires = GENERATED_NOW + 30 * DAY;

    let x1_only = pin_set(
        host,
        vec![
            PinEntry::new(pin_of(&x1.cert), PinRole::Root),
            next_key_backup(host),
        ],
        expires,
    );
    let report = gate::check(&GateInput::new(&x1_only, &paths, expires, GENERATED_NOW));
    assert_eq!(report.codes(), [ProblemCode::NoPinOnPath]);
    assert_eq!(report.problems[0].path, Some(1));

    let all_roots = pin_set(
        host,
        [&x1, &x2, &ye, &yr]
            .iter()
            .map(|ca| PinEntry::new(pin_of(&ca.cert), PinRole::Root))
            .collect(),
        expires,
    );
    let report = gate::check(&GateInput::new(&all_roots, &paths, expires, GENERATED_NOW));
    assert!(report.problems.is_empty(), "{report:#?}");
}
