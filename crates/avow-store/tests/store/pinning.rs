//! The pinning part of the `Store` behaviour suite: API domains, pin sets, pin documents, live
//! checks, pin-failure reports and pin-signing keys. `store.rs` runs each function here once per
//! backend, like those of `suite.rs`.

use std::sync::Arc;

use avow_store::{
    ApiDomain, App, DomainCheckRecord, PinDocumentRecord, PinReportEvent, PinReportOutcome,
    PinSetEntry, PinSetRecord, SigningKey, Store, StoreError,
};

use crate::backend::TestDatabase;

/// The current time in every test, in Unix seconds.
const NOW: i64 = 1_700_000_000;

/// How many publishes race in the document concurrency test.
const CONCURRENT_PUBLISHES: i64 = 8;

/// How many reports of one group race in the report concurrency test.
const CONCURRENT_REPORTS: i64 = 32;

const APP_ID: &str = "ABCDE12345.com.example.app";
const OTHER_APP_ID: &str = "FGHIJ67890.com.example.other";

const PIN_A: &str = "C5+lpZ7tcVwmwQIMcRtPbsQtWLABXhQzejna0wHFr8M=";
const PIN_B: &str = "diGVwiVYbubAI3RW4hB9xU8e/CH2GnkuvVFZE8zmgzI=";
const PIN_C: &str = "++MBgDH5WGvL9Bcn5Be30cRcL0f5O+NyoXuWtQdX1aI=";

// === API domains ===

pub(crate) async fn api_domains_listed_by_app_and_host(db: TestDatabase) {
    let store = apps_store(&db).await;
    let exact = domain(APP_ID, "api.example.com");
    let pattern = ApiDomain {
        probe_host: "eu.example.com".to_owned(),
        connect_to: Some("127.0.0.1:8443".to_owned()),
        ca_bundle_pem: Some("-----BEGIN CERTIFICATE-----\n".to_owned()),
        managed: true,
        ..domain(APP_ID, "*.example.com")
    };
    let other = domain(OTHER_APP_ID, "api.other.example");
    for domain in [&exact, &other, &pattern] {
        store
            .insert_api_domain(domain)
            .await
            .expect("insert a domain");
    }

    let of_app = store
        .api_domains(Some(APP_ID))
        .await
        .expect("list the app's domains");
    let every = store.api_domains(None).await.expect("list every domain");
    let one = store
        .api_domain(APP_ID, "*.example.com")
        .await
        .expect("read a domain");
    let missing = store
        .api_domain(OTHER_APP_ID, "api.example.com")
        .await
        .expect("read a missing domain");

    // Byte order puts `*` before letters.
    assert_eq!(of_app, vec![pattern.clone(), exact.clone()]);
    assert_eq!(every, vec![pattern.clone(), exact, other]);
    assert_eq!(one, Some(pattern));
    assert_eq!(missing, None);
}

pub(crate) async fn api_domain_duplicate_rejected(db: TestDatabase) {
    let store = apps_store(&db).await;
    let first = domain(APP_ID, "api.example.com");
    store.insert_api_domain(&first).await.expect("insert");

    let result = store
        .insert_api_domain(&ApiDomain {
            port: 8443,
            ..domain(APP_ID, "api.example.com")
        })
        .await;
    let other_app = store
        .insert_api_domain(&domain(OTHER_APP_ID, "api.example.com"))
        .await;

    assert!(
        matches!(result, Err(StoreError::AlreadyExists("api domain"))),
        "expected AlreadyExists(\"api domain\"), got {result:?}"
    );
    assert!(other_app.is_ok(), "{other_app:?}");
    let stored = store
        .api_domain(APP_ID, "api.example.com")
        .await
        .expect("read the domain");
    assert_eq!(stored, Some(first));
}

pub(crate) async fn api_domain_for_unknown_app_rejected(db: TestDatabase) {
    let store = db.open().await;

    let result = store
        .insert_api_domain(&domain(APP_ID, "api.example.com"))
        .await;

    assert!(
        matches!(result, Err(StoreError::Database(_))),
        "expected Database, got {result:?}"
    );
}

pub(crate) async fn api_domain_managed_flag_set(db: TestDatabase) {
    let store = apps_store(&db).await;
    store
        .insert_api_domain(&domain(APP_ID, "api.example.com"))
        .await
        .expect("insert");

    let set = store
        .set_api_domain_managed(APP_ID, "api.example.com", true)
        .await
        .expect("set the flag");
    let unknown = store
        .set_api_domain_managed(APP_ID, "other.example.com", true)
        .await
        .expect("set the flag of an unknown domain");

    assert!(set);
    assert!(!unknown);
    let stored = store
        .api_domain(APP_ID, "api.example.com")
        .await
        .expect("read")
        .expect("the domain exists");
    assert!(stored.managed);
}

pub(crate) async fn api_domain_delete_removes_set_and_check(db: TestDatabase) {
    let store = apps_store(&db).await;
    for host in ["api.example.com", "cdn.example.com"] {
        store
            .insert_api_domain(&domain(APP_ID, host))
            .await
            .expect("insert a domain");
        store
            .put_pin_set(&pin_set(
                APP_ID,
                host,
                &[(PIN_A, "current"), (PIN_B, "backup")],
            ))
            .await
            .expect("store a pin set");
        let stored = store
            .put_domain_check(&check(APP_ID, host, "ok", NOW))
            .await
            .expect("store a check");
        assert!(stored, "{host}: the check was not stored");
    }
    store
        .insert_pin_document(&document(APP_ID, 1, NOW))
        .await
        .expect("publish");

    let deleted = store
        .delete_api_domain(APP_ID, "api.example.com")
        .await
        .expect("delete the domain");
    let again = store
        .delete_api_domain(APP_ID, "api.example.com")
        .await
        .expect("delete it again");

    assert!(deleted);
    assert!(!again);
    assert_eq!(
        store
            .api_domain(APP_ID, "api.example.com")
            .await
            .expect("read"),
        None
    );
    assert_eq!(
        store
            .pin_set(APP_ID, "api.example.com")
            .await
            .expect("read"),
        None
    );
    let checks = store.domain_checks(APP_ID).await.expect("list checks");
    let hosts: Vec<&str> = checks.iter().map(|check| check.host.as_str()).collect();
    assert_eq!(hosts, ["cdn.example.com"]);
    let sets = store.pin_sets(APP_ID).await.expect("list sets");
    assert_eq!(sets.len(), 1);
    assert_eq!(sets[0].host, "cdn.example.com");
    assert_eq!(sets[0].pins.len(), 2);
    assert_eq!(
        store.latest_pin_version(APP_ID).await.expect("read"),
        Some(1)
    );
}

// === pin sets ===

pub(crate) async fn pin_set_replaced_whole(db: TestDatabase) {
    let store = apps_store(&db).await;
    store
        .insert_api_domain(&domain(APP_ID, "api.example.com"))
        .await
        .expect("insert");
    let first = PinSetRecord {
        pins: vec![
            PinSetEntry {
                level: Some("ca".to_owned()),
                key_type: Some("RSA-2048".to_owned()),
                not_after: Some(NOW + 400 * 86_400),
                ..entry(PIN_A, "current", None, "CN=R11")
            },
            PinSetEntry {
                level: Some("leaf".to_owned()),
                key_type: Some("EC P-256".to_owned()),
                ..entry(PIN_B, "backup", None, "csr")
            },
            entry(PIN_C, "previous", Some(NOW + 3600), ""),
        ],
        ..pin_set(APP_ID, "api.example.com", &[])
    };
    store.put_pin_set(&first).await.expect("store the set");
    let stored_first = store
        .pin_set(APP_ID, "api.example.com")
        .await
        .expect("read the set");

    let second = PinSetRecord {
        pins: vec![
            entry(PIN_C, "root", None, "CN=Root"),
            entry(PIN_A, "backup", None, ""),
        ],
        expires_at: NOW + 7 * 86_400,
        mode: "report_only".to_owned(),
        after_expiry: "system_trust".to_owned(),
        user_anchors: "allow".to_owned(),
        updated_at: NOW + 10,
        updated_by: "ak_second".to_owned(),
        ..first.clone()
    };
    store.put_pin_set(&second).await.expect("replace the set");
    let stored_second = store
        .pin_set(APP_ID, "api.example.com")
        .await
        .expect("read the set");

    assert_eq!(stored_first, Some(first));
    assert_eq!(stored_second, Some(second));
}

pub(crate) async fn pin_sets_listed_by_host(db: TestDatabase) {
    let store = apps_store(&db).await;
    for (app_id, host) in [
        (APP_ID, "b.example.com"),
        (APP_ID, "a.example.com"),
        (APP_ID, "c.example.com"),
        (OTHER_APP_ID, "a.example.com"),
    ] {
        store
            .insert_api_domain(&domain(app_id, host))
            .await
            .expect("insert a domain");
    }
    let set_b = pin_set(
        APP_ID,
        "b.example.com",
        &[(PIN_B, "current"), (PIN_A, "backup")],
    );
    let set_a = pin_set(
        APP_ID,
        "a.example.com",
        &[(PIN_A, "current"), (PIN_C, "backup")],
    );
    // A set without pins is listed too.
    let empty = pin_set(APP_ID, "c.example.com", &[]);
    let other = pin_set(OTHER_APP_ID, "a.example.com", &[(PIN_C, "current")]);
    for set in [&set_b, &set_a, &empty, &other] {
        store.put_pin_set(set).await.expect("store a set");
    }

    let listed = store.pin_sets(APP_ID).await.expect("list the sets");
    let none = store
        .pin_set(APP_ID, "d.example.com")
        .await
        .expect("read a missing set");

    assert_eq!(listed, vec![set_a, set_b, empty]);
    assert_eq!(none, None);
}

pub(crate) async fn pin_set_for_unknown_domain_rejected(db: TestDatabase) {
    let store = apps_store(&db).await;

    let result = store
        .put_pin_set(&pin_set(APP_ID, "api.example.com", &[(PIN_A, "current")]))
        .await;

    assert!(
        matches!(result, Err(StoreError::Database(_))),
        "expected Database, got {result:?}"
    );
    assert_eq!(store.pin_sets(APP_ID).await.expect("list"), Vec::new());
}

// === pin documents ===

pub(crate) async fn pin_documents_by_version(db: TestDatabase) {
    let store = apps_store(&db).await;
    assert_eq!(store.latest_pin_version(APP_ID).await.expect("read"), None);
    assert_eq!(store.latest_pin_document(APP_ID).await.expect("read"), None);

    let first = document(APP_ID, 1, NOW);
    let second = PinDocumentRecord {
        forced: true,
        ..document(APP_ID, 2, NOW + 10)
    };
    let other = document(OTHER_APP_ID, 1, NOW + 20);
    for record in [&first, &other, &second] {
        store
            .insert_pin_document(record)
            .await
            .expect("insert a document");
    }

    assert_eq!(
        store.latest_pin_version(APP_ID).await.expect("read"),
        Some(2)
    );
    assert_eq!(
        store.latest_pin_document(APP_ID).await.expect("read"),
        Some(second.clone())
    );
    assert_eq!(
        store.pin_document(APP_ID, 1).await.expect("read"),
        Some(first.clone())
    );
    assert_eq!(store.pin_document(APP_ID, 3).await.expect("read"), None);
    assert_eq!(
        store.pin_documents(APP_ID, 10).await.expect("list"),
        vec![second.clone(), first]
    );
    assert_eq!(
        store.pin_documents(APP_ID, 1).await.expect("list"),
        vec![second]
    );
    assert_eq!(
        store.latest_pin_version(OTHER_APP_ID).await.expect("read"),
        Some(1)
    );
}

pub(crate) async fn pin_document_version_taken_rejected(db: TestDatabase) {
    let store = apps_store(&db).await;
    let first = document(APP_ID, 1, NOW);
    store.insert_pin_document(&first).await.expect("insert");

    let result = store
        .insert_pin_document(&document(APP_ID, 1, NOW + 1))
        .await;

    assert!(
        matches!(
            result,
            Err(StoreError::AlreadyExists("pin document version"))
        ),
        "expected AlreadyExists(\"pin document version\"), got {result:?}"
    );
    assert_eq!(
        store.latest_pin_document(APP_ID).await.expect("read"),
        Some(first)
    );
}

pub(crate) async fn pin_document_for_unknown_app_rejected(db: TestDatabase) {
    let store = db.open().await;

    let result = store.insert_pin_document(&document(APP_ID, 1, NOW)).await;

    assert!(
        matches!(result, Err(StoreError::Database(_))),
        "expected Database, got {result:?}"
    );
}

/// Publishers on two store instances each read the latest version and insert the next one,
/// retrying with a fresh read when the version was taken, as the server does.
pub(crate) async fn concurrent_publishes_unique_versions(db: TestDatabase) {
    let instances = two_instances_with_app(&db).await;

    let mut tasks = Vec::new();
    for call in 0..CONCURRENT_PUBLISHES {
        let index = usize::try_from(call).expect("a small task number fits usize");
        let store = Arc::clone(&instances[index % instances.len()]);
        tasks.push(tokio::spawn(async move {
            let mut attempts = 0;
            loop {
                attempts += 1;
                assert!(
                    attempts <= CONCURRENT_PUBLISHES,
                    "task {call} lost more races than there are publishers"
                );
                let latest = store
                    .latest_pin_version(APP_ID)
                    .await
                    .expect("read the latest version");
                let version = latest.unwrap_or(0) + 1;
                let record = PinDocumentRecord {
                    document: format!("document of task {call}"),
                    ..document(APP_ID, version, NOW)
                };
                match store.insert_pin_document(&record).await {
                    Ok(()) => return (version, record.document),
                    Err(StoreError::AlreadyExists(_)) => {}
                    Err(error) => panic!("task {call}: {error}"),
                }
            }
        }));
    }
    let mut published = Vec::new();
    for task in tasks {
        published.push(task.await.expect("join a publishing task"));
    }

    let mut versions: Vec<i64> = published.iter().map(|(version, _)| *version).collect();
    versions.sort_unstable();
    assert_eq!(versions, (1..=CONCURRENT_PUBLISHES).collect::<Vec<i64>>());
    for (version, text) in &published {
        let stored = instances[1]
            .pin_document(APP_ID, *version)
            .await
            .expect("read a version")
            .expect("the version exists");
        assert_eq!(&stored.document, text, "version {version}");
    }
}

pub(crate) async fn pin_document_resign_only_moves_forward(db: TestDatabase) {
    let store = apps_store(&db).await;
    store
        .insert_pin_document(&document(APP_ID, 1, NOW))
        .await
        .expect("insert");

    let later = store
        .resign_pin_document(APP_ID, 1, NOW + 3600, "re-signed later")
        .await
        .expect("re-sign");
    let same_time = store
        .resign_pin_document(APP_ID, 1, NOW + 3600, "re-signed at the same time")
        .await
        .expect("re-sign");
    let earlier = store
        .resign_pin_document(APP_ID, 1, NOW + 60, "re-signed earlier")
        .await
        .expect("re-sign");
    let unknown = store
        .resign_pin_document(APP_ID, 2, NOW + 7200, "no such version")
        .await
        .expect("re-sign");

    assert!(later);
    assert!(!same_time);
    assert!(!earlier);
    assert!(!unknown);
    let stored = store
        .pin_document(APP_ID, 1)
        .await
        .expect("read")
        .expect("the document exists");
    assert_eq!(stored.issued_at, NOW + 3600);
    assert_eq!(stored.document, "re-signed later");
    assert_eq!(stored.expires_at, document(APP_ID, 1, NOW).expires_at);
    assert_eq!(stored.published_at, NOW);
}

// === live checks ===

pub(crate) async fn domain_check_replaced(db: TestDatabase) {
    let store = apps_store(&db).await;
    for host in ["b.example.com", "a.example.com"] {
        store
            .insert_api_domain(&domain(APP_ID, host))
            .await
            .expect("insert a domain");
    }
    let first = check(APP_ID, "b.example.com", "ok", NOW);
    let replaced = DomainCheckRecord {
        status: "mismatch".to_owned(),
        detail: "no published pin on the validated path".to_owned(),
        earliest_not_after: None,
        ..check(APP_ID, "b.example.com", "ok", NOW + 60)
    };
    let other = check(APP_ID, "a.example.com", "unreachable", NOW + 30);
    for record in [&first, &other, &replaced] {
        let stored = store.put_domain_check(record).await.expect("store");
        assert!(stored, "{record:?}");
    }

    let checks = store.domain_checks(APP_ID).await.expect("list");

    assert_eq!(checks, vec![other, replaced]);
}

pub(crate) async fn domain_check_of_unknown_domain_not_stored(db: TestDatabase) {
    let store = apps_store(&db).await;

    let stored = store
        .put_domain_check(&check(APP_ID, "api.example.com", "ok", NOW))
        .await
        .expect("store");

    assert!(!stored);
    assert_eq!(store.domain_checks(APP_ID).await.expect("list"), Vec::new());
}

// === pin-failure reports ===

pub(crate) async fn pin_reports_counted_per_group(db: TestDatabase) {
    let store = apps_store(&db).await;
    let group =
        |at: i64, sample: &str| report(APP_ID, "api.example.com", "pin_mismatch", at, sample);
    for event in [
        group(NOW, "first"),
        group(NOW + 20, "latest"),
        // Arrives last but happened before the latest: counted, the sample stays.
        group(NOW + 10, "late"),
        PinReportEvent {
            app_version: "2.0".to_owned(),
            ..group(NOW + 5, "other app version")
        },
        report(
            APP_ID,
            "api.example.com",
            "pin_mismatch",
            NOW - 50,
            "earlier",
        ),
    ] {
        let outcome = store
            .record_pin_report(&event, 100)
            .await
            .expect("record a report");
        assert_eq!(outcome, PinReportOutcome::Counted, "{event:?}");
    }

    let groups = store.pin_reports(APP_ID, 10).await.expect("list");

    assert_eq!(groups.len(), 2, "{groups:?}");
    let main = &groups[0];
    assert_eq!(main.host, "api.example.com");
    assert_eq!(main.reason, "pin_mismatch");
    assert_eq!(main.document_version, 3);
    assert_eq!(main.app_version, "1.0");
    assert_eq!(main.count, 4);
    assert_eq!(main.first_seen, NOW - 50);
    assert_eq!(main.last_seen, NOW + 20);
    assert_eq!(main.sample, "latest");
    let second = &groups[1];
    assert_eq!(second.app_version, "2.0");
    assert_eq!(second.count, 1);
    assert_eq!(second.sample, "other app version");
    let limited = store.pin_reports(APP_ID, 1).await.expect("list");
    assert_eq!(limited, vec![groups[0].clone()]);
    assert_eq!(
        store.pin_reports(OTHER_APP_ID, 10).await.expect("list"),
        Vec::new()
    );
}

pub(crate) async fn pin_report_groups_limited(db: TestDatabase) {
    let store = apps_store(&db).await;
    let limit = 2;
    for host in ["a.example.com", "b.example.com"] {
        let outcome = store
            .record_pin_report(&report(APP_ID, host, "pin_mismatch", NOW, host), limit)
            .await
            .expect("record");
        assert_eq!(outcome, PinReportOutcome::Counted, "{host}");
    }

    let new_group = store
        .record_pin_report(
            &report(APP_ID, "c.example.com", "pin_mismatch", NOW, "c"),
            limit,
        )
        .await
        .expect("record");
    let existing_group = store
        .record_pin_report(
            &report(APP_ID, "a.example.com", "pin_mismatch", NOW + 1, "a again"),
            limit,
        )
        .await
        .expect("record");
    let other_app = store
        .record_pin_report(
            &report(OTHER_APP_ID, "c.example.com", "pin_mismatch", NOW, "c"),
            limit,
        )
        .await
        .expect("record");

    assert_eq!(new_group, PinReportOutcome::Dropped);
    assert_eq!(existing_group, PinReportOutcome::Counted);
    assert_eq!(other_app, PinReportOutcome::Counted);
    let groups = store.pin_reports(APP_ID, 10).await.expect("list");
    let counts: Vec<(&str, i64)> = groups
        .iter()
        .map(|group| (group.host.as_str(), group.count))
        .collect();
    assert_eq!(counts, [("a.example.com", 2), ("b.example.com", 1)]);
}

pub(crate) async fn concurrent_pin_reports_all_counted(db: TestDatabase) {
    let instances = two_instances_with_app(&db).await;

    let mut tasks = Vec::new();
    for call in 0..CONCURRENT_REPORTS {
        let index = usize::try_from(call).expect("a small task number fits usize");
        let store = Arc::clone(&instances[index % instances.len()]);
        tasks.push(tokio::spawn(async move {
            let event = report(APP_ID, "api.example.com", "pin_mismatch", NOW + call, "x");
            store.record_pin_report(&event, 10).await
        }));
    }
    for task in tasks {
        let outcome = task.await.expect("join a reporting task");
        assert_eq!(outcome.expect("record"), PinReportOutcome::Counted);
    }

    let groups = instances[1].pin_reports(APP_ID, 10).await.expect("list");
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert_eq!(groups[0].count, CONCURRENT_REPORTS);
    assert_eq!(groups[0].first_seen, NOW);
    assert_eq!(groups[0].last_seen, NOW + CONCURRENT_REPORTS - 1);
}

// === pin-signing keys ===

pub(crate) async fn pin_signing_keys_apart_from_token_keys(db: TestDatabase) {
    let store = db.open().await;
    let older = signing_key("pin-kid-a", NOW - 10, 1);
    let newer = signing_key("pin-kid-b", NOW, 2);
    for key in [&older, &newer] {
        store.insert_pin_signing_key(key).await.expect("insert");
    }

    let duplicate = store
        .insert_pin_signing_key(&signing_key("pin-kid-a", NOW + 5, 3))
        .await;
    // The same kid may exist among token keys: the two sets are apart.
    store
        .insert_signing_key(&signing_key("pin-kid-a", NOW, 4))
        .await
        .expect("insert a token key with the same kid");

    assert!(
        matches!(duplicate, Err(StoreError::AlreadyExists("pin-signing key"))),
        "expected AlreadyExists(\"pin-signing key\"), got {duplicate:?}"
    );
    assert_eq!(
        store.pin_signing_keys().await.expect("list"),
        vec![newer, older]
    );
    let token_keys = store.signing_keys().await.expect("list");
    assert_eq!(token_keys.len(), 1);
    assert_eq!(token_keys[0].encrypted_private_key, vec![4; 48]);
}

// === helpers ===

/// Opens a store with the apps `APP_ID` and `OTHER_APP_ID`.
async fn apps_store(db: &TestDatabase) -> Arc<dyn Store> {
    let store = db.open().await;
    for id in [APP_ID, OTHER_APP_ID] {
        store.insert_app(&app(id)).await.expect("insert an app");
    }
    store
}

/// Opens two store instances on one database, with the app [`APP_ID`] inserted through the
/// first.
async fn two_instances_with_app(db: &TestDatabase) -> [Arc<dyn Store>; 2] {
    let instances = [db.open().await, db.open().await];
    instances[0]
        .insert_app(&app(APP_ID))
        .await
        .expect("insert the app");
    instances
}

fn app(id: &str) -> App {
    let (team_id, bundle_id) = id.split_once('.').expect("an iOS app id");
    App {
        id: id.to_owned(),
        platform: "ios".to_owned(),
        team_id: team_id.to_owned(),
        bundle_id: bundle_id.to_owned(),
        environment: "production".to_owned(),
        package_name: String::new(),
        certificate_digests: Vec::new(),
        min_version_code: None,
        created_at: NOW,
    }
}

fn domain(app_id: &str, host: &str) -> ApiDomain {
    ApiDomain {
        app_id: app_id.to_owned(),
        host: host.to_owned(),
        port: 443,
        probe_host: host.to_owned(),
        connect_to: None,
        ca_bundle_pem: None,
        managed: false,
        created_at: NOW,
    }
}

fn entry(pin: &str, role: &str, valid_until: Option<i64>, note: &str) -> PinSetEntry {
    PinSetEntry {
        pin: pin.to_owned(),
        role: role.to_owned(),
        valid_until,
        level: None,
        key_type: None,
        not_after: None,
        note: note.to_owned(),
    }
}

fn pin_set(app_id: &str, host: &str, pins: &[(&str, &str)]) -> PinSetRecord {
    PinSetRecord {
        app_id: app_id.to_owned(),
        host: host.to_owned(),
        pins: pins
            .iter()
            .map(|(pin, role)| entry(pin, role, None, ""))
            .collect(),
        expires_at: NOW + 60 * 86_400,
        mode: "enforce".to_owned(),
        after_expiry: "fail_closed".to_owned(),
        user_anchors: "reject".to_owned(),
        updated_at: NOW,
        updated_by: "ak_admin".to_owned(),
    }
}

fn document(app_id: &str, version: i64, published_at: i64) -> PinDocumentRecord {
    PinDocumentRecord {
        app_id: app_id.to_owned(),
        version,
        issued_at: published_at,
        expires_at: published_at + 60 * 86_400,
        document: format!("header.payload-{version}.signature"),
        pin_sets: format!("[{{\"version\":{version}}}]"),
        forced: false,
        published_at,
        published_by: "ak_admin".to_owned(),
    }
}

fn check(app_id: &str, host: &str, status: &str, checked_at: i64) -> DomainCheckRecord {
    DomainCheckRecord {
        app_id: app_id.to_owned(),
        host: host.to_owned(),
        status: status.to_owned(),
        detail: String::new(),
        checked_at,
        earliest_not_after: Some(checked_at + 90 * 86_400),
    }
}

fn report(app_id: &str, host: &str, reason: &str, at: i64, sample: &str) -> PinReportEvent {
    PinReportEvent {
        app_id: app_id.to_owned(),
        host: host.to_owned(),
        reason: reason.to_owned(),
        document_version: 3,
        app_version: "1.0".to_owned(),
        sample: sample.to_owned(),
        received_at: at,
    }
}

fn signing_key(kid: &str, created_at: i64, key_byte: u8) -> SigningKey {
    SigningKey {
        kid: kid.to_owned(),
        algorithm: "ES256".to_owned(),
        encrypted_private_key: vec![key_byte; 48],
        public_key: vec![4; 65],
        created_at,
    }
}
