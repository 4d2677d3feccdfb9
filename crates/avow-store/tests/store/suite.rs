//! The behaviour every `Store` implementation must show. `store.rs` runs each function here
//! once per backend.

use std::sync::Arc;

use avow_store::{
    AdminKey, App, AuditEntry, DebugDevice, DecisionRecord, Install, InstallBan, NewNonce,
    NonceRejection, PolicyRecord, SigningKey, Store, StoreError,
};

use crate::backend::TestDatabase;

// The pinning tests live in their own file and run through the same list in `store.rs`.
pub(crate) use crate::pinning::*;
// So do the used-token tests.
pub(crate) use crate::used_tokens::*;

/// The current time in every test, in Unix seconds.
const NOW: i64 = 1_700_000_000;

/// How long test nonces stay valid, in seconds.
const NONCE_LIFETIME: i64 = 60;

/// How many tasks race in the concurrency tests.
const CONCURRENT_CALLS: usize = 32;

/// How many times each concurrency test repeats its race.
const RACE_ROUNDS: u8 = 4;

/// How many policy inserts race. The store retries an insert up to 10 times, and each of `n`
/// racing inserts needs at most `n` attempts, so this must stay at 10 or below.
const CONCURRENT_POLICY_INSERTS: i64 = 8;

/// The limit of the daily counter in the concurrency test.
const COUNTER_LIMIT: i64 = 10;

const APP_ID: &str = "ABCDE12345.com.example.app";
const OTHER_APP_ID: &str = "FGHIJ67890.com.example.other";
const ANDROID_APP_ID: &str = "com.example.android";

/// The name of the app secret in the secret tests.
const SECRET_NAME: &str = "play_integrity_decryption_key";

// === apps ===

pub(crate) async fn app_insert_and_get(db: TestDatabase) {
    let store = db.open().await;
    let app = app(APP_ID);

    store.insert_app(&app).await.expect("insert the app");

    let stored = store.app(APP_ID).await.expect("read the app");
    assert_eq!(stored, Some(app));
    let missing = store.app(OTHER_APP_ID).await.expect("read a missing app");
    assert_eq!(missing, None);
}

pub(crate) async fn apps_listed_by_id(db: TestDatabase) {
    let store = db.open().await;
    assert_eq!(store.apps().await.expect("list no apps"), Vec::new());

    // Byte order puts upper case before lower case and `.` before letters. A locale-aware
    // collation would order these differently.
    let ids = [
        "ZZZZZ00000.com.example.b",
        "AAAAA00000.com.example.b",
        "AAAAA00000.com.Example.a",
        "AAAAA00000.com.example.a",
        "AAAAA00000.com.example",
    ];
    for id in ids {
        store.insert_app(&app(id)).await.expect("insert an app");
    }

    let listed: Vec<String> = store
        .apps()
        .await
        .expect("list the apps")
        .into_iter()
        .map(|app| app.id)
        .collect();
    assert_eq!(
        listed,
        [
            "AAAAA00000.com.Example.a",
            "AAAAA00000.com.example",
            "AAAAA00000.com.example.a",
            "AAAAA00000.com.example.b",
            "ZZZZZ00000.com.example.b",
        ]
    );
}

pub(crate) async fn app_duplicate_rejected(db: TestDatabase) {
    let store = db.open().await;
    let first = app(APP_ID);
    store.insert_app(&first).await.expect("insert the app");
    let second = App {
        environment: "development".to_owned(),
        created_at: NOW + 1,
        ..first.clone()
    };

    let result = store.insert_app(&second).await;

    assert!(
        matches!(result, Err(StoreError::AlreadyExists("app"))),
        "expected AlreadyExists(\"app\"), got {result:?}"
    );
    let stored = store.app(APP_ID).await.expect("read the app");
    assert_eq!(stored, Some(first));
}

pub(crate) async fn app_android_fields_round_trip(db: TestDatabase) {
    let store = db.open().await;
    // Not in byte order, so a store that sorted the digests would fail.
    let digests = vec![vec![0xf0; 32], vec![0x0a; 32], (0..32).collect()];
    let android = android_app(ANDROID_APP_ID, digests.clone(), Some(42));
    let ios = app(APP_ID);

    store.insert_app(&android).await.expect("insert an app");
    store.insert_app(&ios).await.expect("insert an app");

    let stored_android = store
        .app(ANDROID_APP_ID)
        .await
        .expect("read an app")
        .expect("the android app exists");
    assert_eq!(stored_android.package_name, "com.example.android");
    assert_eq!(stored_android.certificate_digests, digests);
    assert_eq!(stored_android.min_version_code, Some(42));
    assert_eq!(stored_android, android);

    let stored_ios = store
        .app(APP_ID)
        .await
        .expect("read an app")
        .expect("the ios app exists");
    assert_eq!(stored_ios.package_name, "");
    assert_eq!(stored_ios.certificate_digests, Vec::<Vec<u8>>::new());
    assert_eq!(stored_ios.min_version_code, None);
    assert_eq!(stored_ios, ios);

    let listed = store.apps().await.expect("list the apps");
    assert_eq!(listed, vec![ios, android]);
}

pub(crate) async fn app_invalid_digest_rejected(db: TestDatabase) {
    let store = db.open().await;
    let short_digest = android_app(ANDROID_APP_ID, vec![vec![1; 32], vec![2; 31]], None);

    let inserted = store.insert_app(&short_digest).await;

    assert!(
        matches!(
            inserted,
            Err(StoreError::InvalidCertificateDigest { length: 31 })
        ),
        "expected InvalidCertificateDigest {{ length: 31 }}, got {inserted:?}"
    );
    let stored = store.app(ANDROID_APP_ID).await.expect("read the app");
    assert_eq!(stored, None);

    let valid = android_app(ANDROID_APP_ID, vec![vec![1; 32]], None);
    store.insert_app(&valid).await.expect("insert the app");
    let updated = store.update_app(&short_digest).await;

    assert!(
        matches!(
            updated,
            Err(StoreError::InvalidCertificateDigest { length: 31 })
        ),
        "expected InvalidCertificateDigest {{ length: 31 }}, got {updated:?}"
    );
    let stored = store.app(ANDROID_APP_ID).await.expect("read the app");
    assert_eq!(stored, Some(valid));
}

pub(crate) async fn app_corrupt_digests_rejected(db: TestDatabase) {
    let store = db.open().await;
    store
        .insert_app(&android_app(ANDROID_APP_ID, vec![vec![1; 32]], None))
        .await
        .expect("insert the app");
    let corrupted = db
        .execute("UPDATE apps SET certificate_digests = 'not-hex'")
        .await;
    assert_eq!(corrupted, 1);

    let read = store.app(ANDROID_APP_ID).await;
    let listed = store.apps().await;

    assert!(
        matches!(read, Err(StoreError::Corrupt(_))),
        "expected a corrupt value error, got {read:?}"
    );
    assert!(
        matches!(listed, Err(StoreError::Corrupt(_))),
        "expected a corrupt value error, got {listed:?}"
    );
}

pub(crate) async fn app_update_changes_fields(db: TestDatabase) {
    let store = db.open().await;
    let original = android_app(ANDROID_APP_ID, vec![vec![1; 32]], Some(7));
    store.insert_app(&original).await.expect("insert the app");
    store
        .insert_app(&app(APP_ID))
        .await
        .expect("insert another app");
    let changed = App {
        id: ANDROID_APP_ID.to_owned(),
        platform: "android-tv".to_owned(),
        team_id: "TEAM".to_owned(),
        bundle_id: "bundle".to_owned(),
        environment: "development".to_owned(),
        package_name: "com.example.renamed".to_owned(),
        certificate_digests: vec![vec![3; 32], vec![2; 32]],
        min_version_code: Some(9),
        created_at: NOW + 500,
    };

    let matched = store.update_app(&changed).await.expect("update the app");

    assert!(matched, "update_app found no row for an existing app");
    let stored = store
        .app(ANDROID_APP_ID)
        .await
        .expect("read the app")
        .expect("the app exists");
    assert_eq!(stored.platform, "android-tv");
    assert_eq!(stored.team_id, "TEAM");
    assert_eq!(stored.bundle_id, "bundle");
    assert_eq!(stored.environment, "development");
    assert_eq!(stored.package_name, "com.example.renamed");
    assert_eq!(stored.certificate_digests, vec![vec![3; 32], vec![2; 32]]);
    assert_eq!(stored.min_version_code, Some(9));
    assert_eq!(stored.created_at, NOW);
    let other = store.app(APP_ID).await.expect("read the other app");
    assert_eq!(other, Some(app(APP_ID)));

    let cleared = App {
        certificate_digests: Vec::new(),
        min_version_code: None,
        ..changed
    };
    let matched = store.update_app(&cleared).await.expect("update the app");

    assert!(matched, "update_app found no row for an existing app");
    let stored = store
        .app(ANDROID_APP_ID)
        .await
        .expect("read the app")
        .expect("the app exists");
    assert_eq!(stored.certificate_digests, Vec::<Vec<u8>>::new());
    assert_eq!(stored.min_version_code, None);
    assert_eq!(stored.created_at, NOW);
}

pub(crate) async fn app_update_unknown_is_false(db: TestDatabase) {
    let store = db.open().await;
    store
        .insert_app(&app(APP_ID))
        .await
        .expect("insert the app");

    let matched = store
        .update_app(&app(OTHER_APP_ID))
        .await
        .expect("update an unknown app");

    assert!(!matched, "update_app matched an unknown app");
    let missing = store.app(OTHER_APP_ID).await.expect("read the unknown app");
    assert_eq!(missing, None);
    let listed = store.apps().await.expect("list the apps");
    assert_eq!(listed, vec![app(APP_ID)]);
}

// === app secrets ===

pub(crate) async fn app_secret_put_and_get(db: TestDatabase) {
    let store = db.open().await;
    store
        .insert_app(&app(APP_ID))
        .await
        .expect("insert the app");

    store
        .put_app_secret(APP_ID, SECRET_NAME, b"sealed one", NOW)
        .await
        .expect("store the secret");

    let stored = store
        .app_secret(APP_ID, SECRET_NAME)
        .await
        .expect("read the secret");
    assert_eq!(stored, Some(b"sealed one".to_vec()));
    let updated_at = db.fetch_i64("SELECT updated_at FROM app_secrets").await;
    assert_eq!(updated_at, NOW);
}

pub(crate) async fn app_secret_replaced(db: TestDatabase) {
    let store = db.open().await;
    store
        .insert_app(&app(APP_ID))
        .await
        .expect("insert the app");
    store
        .put_app_secret(APP_ID, SECRET_NAME, b"sealed one", NOW)
        .await
        .expect("store the secret");

    store
        .put_app_secret(APP_ID, SECRET_NAME, b"sealed two", NOW + 60)
        .await
        .expect("replace the secret");

    let stored = store
        .app_secret(APP_ID, SECRET_NAME)
        .await
        .expect("read the secret");
    assert_eq!(stored, Some(b"sealed two".to_vec()));
    let rows = db.fetch_i64("SELECT COUNT(*) FROM app_secrets").await;
    assert_eq!(rows, 1);
    let updated_at = db.fetch_i64("SELECT updated_at FROM app_secrets").await;
    assert_eq!(updated_at, NOW + 60);
}

pub(crate) async fn app_secret_unknown_is_none(db: TestDatabase) {
    let store = db.open().await;
    store
        .insert_app(&app(APP_ID))
        .await
        .expect("insert the app");
    store
        .put_app_secret(APP_ID, SECRET_NAME, b"sealed one", NOW)
        .await
        .expect("store the secret");

    let unknown_name = store.app_secret(APP_ID, "other_key").await;
    let unknown_app = store.app_secret(OTHER_APP_ID, SECRET_NAME).await;

    assert_eq!(unknown_name.expect("read an unknown name"), None);
    assert_eq!(unknown_app.expect("read under an unknown app"), None);
}

pub(crate) async fn app_secrets_kept_per_app(db: TestDatabase) {
    let store = db.open().await;
    store.insert_app(&app(APP_ID)).await.expect("insert an app");
    store
        .insert_app(&app(OTHER_APP_ID))
        .await
        .expect("insert an app");
    store
        .put_app_secret(APP_ID, SECRET_NAME, b"sealed for app", NOW)
        .await
        .expect("store a secret");
    store
        .put_app_secret(OTHER_APP_ID, SECRET_NAME, b"sealed for other", NOW)
        .await
        .expect("store a secret");

    // Replacing one app's secret leaves the other app's secret of the same name alone.
    store
        .put_app_secret(APP_ID, SECRET_NAME, b"sealed for app, again", NOW + 1)
        .await
        .expect("replace a secret");

    let for_app = store.app_secret(APP_ID, SECRET_NAME).await;
    let for_other = store.app_secret(OTHER_APP_ID, SECRET_NAME).await;
    assert_eq!(
        for_app.expect("read a secret"),
        Some(b"sealed for app, again".to_vec())
    );
    assert_eq!(
        for_other.expect("read a secret"),
        Some(b"sealed for other".to_vec())
    );
}

pub(crate) async fn app_secret_for_unknown_app_rejected(db: TestDatabase) {
    let store = db.open().await;

    let result = store
        .put_app_secret(APP_ID, SECRET_NAME, b"sealed one", NOW)
        .await;

    assert!(
        matches!(result, Err(StoreError::Database(_))),
        "expected a database error, got {result:?}"
    );
    let stored = store
        .app_secret(APP_ID, SECRET_NAME)
        .await
        .expect("read the secret");
    assert_eq!(stored, None);
}

// === admin keys ===

pub(crate) async fn admin_key_insert_get_count(db: TestDatabase) {
    let store = db.open().await;
    assert_eq!(store.admin_key_count().await.expect("count no keys"), 0);

    let first = admin_key("ak_first", 1);
    let second = admin_key("ak_second", 2);
    store.insert_admin_key(&first).await.expect("insert a key");
    store.insert_admin_key(&second).await.expect("insert a key");

    assert_eq!(store.admin_key_count().await.expect("count the keys"), 2);
    let stored = store.admin_key("ak_first").await.expect("read a key");
    assert_eq!(stored, Some(first));
    let stored = store.admin_key("ak_second").await.expect("read a key");
    assert_eq!(stored, Some(second));
    let missing = store
        .admin_key("ak_third")
        .await
        .expect("read a missing key");
    assert_eq!(missing, None);
}

pub(crate) async fn admin_key_duplicate_rejected(db: TestDatabase) {
    let store = db.open().await;
    let first = admin_key("ak_first", 1);
    store
        .insert_admin_key(&first)
        .await
        .expect("insert the key");

    let result = store.insert_admin_key(&admin_key("ak_first", 2)).await;

    assert!(
        matches!(result, Err(StoreError::AlreadyExists("admin key"))),
        "expected AlreadyExists(\"admin key\"), got {result:?}"
    );
    assert_eq!(store.admin_key_count().await.expect("count the keys"), 1);
    let stored = store.admin_key("ak_first").await.expect("read the key");
    assert_eq!(stored, Some(first));
}

// === signing keys ===

pub(crate) async fn signing_keys_newest_first(db: TestDatabase) {
    let store = db.open().await;
    assert_eq!(
        store.signing_keys().await.expect("list no keys"),
        Vec::new()
    );

    let oldest = signing_key("kid-a", NOW - 200, 1);
    let newest = signing_key("kid-b", NOW, 2);
    let middle = signing_key("kid-c", NOW - 100, 3);
    // Same second as `newest`: ties are ordered by kid, descending.
    let newest_tie = signing_key("kid-d", NOW, 4);
    for key in [&oldest, &newest, &middle, &newest_tie] {
        store.insert_signing_key(key).await.expect("insert a key");
    }

    let listed = store.signing_keys().await.expect("list the keys");

    assert_eq!(listed, vec![newest_tie, newest, middle, oldest]);
}

pub(crate) async fn signing_key_duplicate_rejected(db: TestDatabase) {
    let store = db.open().await;
    let first = signing_key("kid-a", NOW, 1);
    store
        .insert_signing_key(&first)
        .await
        .expect("insert the key");

    let result = store
        .insert_signing_key(&signing_key("kid-a", NOW + 1, 2))
        .await;

    assert!(
        matches!(result, Err(StoreError::AlreadyExists("signing key"))),
        "expected AlreadyExists(\"signing key\"), got {result:?}"
    );
    let listed = store.signing_keys().await.expect("list the keys");
    assert_eq!(listed, vec![first]);
}

// === nonces ===

pub(crate) async fn nonce_consumed_once(db: TestDatabase) {
    let store = db.open().await;
    store
        .insert_app(&app(APP_ID))
        .await
        .expect("insert the app");
    let nonce = nonce(1, APP_ID, NOW + NONCE_LIFETIME);
    store.insert_nonce(&nonce).await.expect("insert the nonce");

    let first = consume(&store, &nonce.hash, APP_ID, NOW).await;

    assert_eq!(first, Ok(()));
}

pub(crate) async fn nonce_replay_rejected(db: TestDatabase) {
    let store = db.open().await;
    store
        .insert_app(&app(APP_ID))
        .await
        .expect("insert the app");
    let nonce = nonce(1, APP_ID, NOW + NONCE_LIFETIME);
    store.insert_nonce(&nonce).await.expect("insert the nonce");

    let first = consume(&store, &nonce.hash, APP_ID, NOW).await;
    let second = consume(&store, &nonce.hash, APP_ID, NOW + 1).await;
    let third = consume(&store, &nonce.hash, APP_ID, NOW + 2).await;

    assert_eq!(first, Ok(()));
    assert_eq!(second, Err(NonceRejection::Replayed));
    assert_eq!(third, Err(NonceRejection::Replayed));
}

pub(crate) async fn nonce_expired_not_consumed(db: TestDatabase) {
    let store = db.open().await;
    store
        .insert_app(&app(APP_ID))
        .await
        .expect("insert the app");
    let expires_at = NOW + NONCE_LIFETIME;
    let late = nonce(1, APP_ID, expires_at);
    let last_second = nonce(2, APP_ID, expires_at);
    store.insert_nonce(&late).await.expect("insert a nonce");
    store
        .insert_nonce(&last_second)
        .await
        .expect("insert a nonce");

    let at_expiry = consume(&store, &late.hash, APP_ID, expires_at).await;
    // Still expired rather than replayed: the first attempt consumed nothing.
    let after_expiry = consume(&store, &late.hash, APP_ID, expires_at + 1).await;
    let before_expiry = consume(&store, &last_second.hash, APP_ID, expires_at - 1).await;

    assert_eq!(at_expiry, Err(NonceRejection::Expired));
    assert_eq!(after_expiry, Err(NonceRejection::Expired));
    assert_eq!(before_expiry, Ok(()));
}

pub(crate) async fn nonce_other_app_not_consumed(db: TestDatabase) {
    let store = db.open().await;
    store.insert_app(&app(APP_ID)).await.expect("insert an app");
    store
        .insert_app(&app(OTHER_APP_ID))
        .await
        .expect("insert an app");
    let nonce = nonce(1, APP_ID, NOW + NONCE_LIFETIME);
    store.insert_nonce(&nonce).await.expect("insert the nonce");

    let by_other = consume(&store, &nonce.hash, OTHER_APP_ID, NOW).await;
    let by_other_again = consume(&store, &nonce.hash, OTHER_APP_ID, NOW + 1).await;
    let by_owner = consume(&store, &nonce.hash, APP_ID, NOW + 2).await;
    let by_other_after = consume(&store, &nonce.hash, OTHER_APP_ID, NOW + 3).await;

    assert_eq!(by_other, Err(NonceRejection::AppMismatch));
    assert_eq!(by_other_again, Err(NonceRejection::AppMismatch));
    assert_eq!(by_owner, Ok(()));
    assert_eq!(by_other_after, Err(NonceRejection::Replayed));
}

pub(crate) async fn nonce_unknown_rejected(db: TestDatabase) {
    let store = db.open().await;
    store
        .insert_app(&app(APP_ID))
        .await
        .expect("insert the app");
    let stored = nonce(1, APP_ID, NOW + NONCE_LIFETIME);
    store.insert_nonce(&stored).await.expect("insert the nonce");
    let mut near_miss = stored.hash.clone();
    near_miss[31] ^= 0x01;

    let never_issued = consume(&store, &[7; 32], APP_ID, NOW).await;
    let one_bit_off = consume(&store, &near_miss, APP_ID, NOW).await;
    let stored_one = consume(&store, &stored.hash, APP_ID, NOW).await;

    assert_eq!(never_issued, Err(NonceRejection::Unknown));
    assert_eq!(one_bit_off, Err(NonceRejection::Unknown));
    assert_eq!(stored_one, Ok(()));
}

pub(crate) async fn nonce_rejection_priority(db: TestDatabase) {
    let store = db.open().await;
    store.insert_app(&app(APP_ID)).await.expect("insert an app");
    store
        .insert_app(&app(OTHER_APP_ID))
        .await
        .expect("insert an app");
    let expires_at = NOW + NONCE_LIFETIME;
    let consumed = nonce(1, APP_ID, expires_at);
    let unconsumed = nonce(2, APP_ID, expires_at);
    store.insert_nonce(&consumed).await.expect("insert a nonce");
    store
        .insert_nonce(&unconsumed)
        .await
        .expect("insert a nonce");
    let consumed_by_owner = consume(&store, &consumed.hash, APP_ID, NOW).await;
    assert_eq!(consumed_by_owner, Ok(()));

    // Consumed, of another app and expired at once.
    let all_three = consume(&store, &consumed.hash, OTHER_APP_ID, expires_at + 1).await;
    // Of another app and expired.
    let mismatch_and_expired = consume(&store, &unconsumed.hash, OTHER_APP_ID, expires_at).await;
    // Consumed and expired.
    let replayed_and_expired = consume(&store, &consumed.hash, APP_ID, expires_at).await;

    assert_eq!(all_three, Err(NonceRejection::Replayed));
    assert_eq!(mismatch_and_expired, Err(NonceRejection::AppMismatch));
    assert_eq!(replayed_and_expired, Err(NonceRejection::Replayed));
}

pub(crate) async fn nonce_duplicate_rejected(db: TestDatabase) {
    let store = db.open().await;
    store
        .insert_app(&app(APP_ID))
        .await
        .expect("insert the app");
    let first = nonce(1, APP_ID, NOW + NONCE_LIFETIME);
    store.insert_nonce(&first).await.expect("insert the nonce");
    let same_hash = NewNonce {
        expires_at: NOW + 10 * NONCE_LIFETIME,
        ..first.clone()
    };

    let result = store.insert_nonce(&same_hash).await;

    assert!(
        matches!(result, Err(StoreError::AlreadyExists("nonce"))),
        "expected AlreadyExists(\"nonce\"), got {result:?}"
    );
    // The first row is unchanged, so the nonce still expires at its original time.
    let after_first_expiry = consume(&store, &first.hash, APP_ID, first.expires_at).await;
    assert_eq!(after_first_expiry, Err(NonceRejection::Expired));
}

pub(crate) async fn nonce_for_unknown_app_rejected(db: TestDatabase) {
    let store = db.open().await;
    let orphan = nonce(1, APP_ID, NOW + NONCE_LIFETIME);

    let result = store.insert_nonce(&orphan).await;

    assert!(
        matches!(result, Err(StoreError::Database(_))),
        "expected a database error, got {result:?}"
    );
    let lookup = consume(&store, &orphan.hash, APP_ID, NOW).await;
    assert_eq!(lookup, Err(NonceRejection::Unknown));
}

pub(crate) async fn purge_removes_only_expired(db: TestDatabase) {
    let store = db.open().await;
    store
        .insert_app(&app(APP_ID))
        .await
        .expect("insert the app");
    let early = nonce(1, APP_ID, NOW + 100);
    let boundary = nonce(2, APP_ID, NOW + 200);
    let late = nonce(3, APP_ID, NOW + 300);
    for nonce in [&early, &boundary, &late] {
        store.insert_nonce(nonce).await.expect("insert a nonce");
    }
    let consumed_late = consume(&store, &late.hash, APP_ID, NOW).await;
    assert_eq!(consumed_late, Ok(()));

    let first_purge = store.purge_nonces(NOW + 200).await.expect("purge nonces");

    assert_eq!(first_purge, 1);
    let early_after = consume(&store, &early.hash, APP_ID, NOW + 250).await;
    assert_eq!(early_after, Err(NonceRejection::Unknown));
    let boundary_after = consume(&store, &boundary.hash, APP_ID, NOW + 250).await;
    assert_eq!(boundary_after, Err(NonceRejection::Expired));
    let late_after = consume(&store, &late.hash, APP_ID, NOW + 250).await;
    assert_eq!(late_after, Err(NonceRejection::Replayed));

    let repeated_purge = store.purge_nonces(NOW + 200).await.expect("purge nonces");
    assert_eq!(repeated_purge, 0);

    let final_purge = store.purge_nonces(NOW + 301).await.expect("purge nonces");
    assert_eq!(final_purge, 2);
    let late_final = consume(&store, &late.hash, APP_ID, NOW + 350).await;
    assert_eq!(late_final, Err(NonceRejection::Unknown));
}

// === concurrency ===

pub(crate) async fn concurrent_consume_one_winner(db: TestDatabase) {
    // Two stores with separate pools play two server instances sharing one database.
    let instances = [db.open().await, db.open().await];
    instances[0]
        .insert_app(&app(APP_ID))
        .await
        .expect("insert the app");

    for round in 0..RACE_ROUNDS {
        let nonce = nonce(round, APP_ID, NOW + NONCE_LIFETIME);
        instances[0]
            .insert_nonce(&nonce)
            .await
            .expect("insert the nonce");

        let mut tasks = Vec::with_capacity(CONCURRENT_CALLS);
        for call in 0..CONCURRENT_CALLS {
            let store = Arc::clone(&instances[call % instances.len()]);
            let hash = nonce.hash.clone();
            tasks.push(tokio::spawn(async move {
                store.consume_nonce(&hash, APP_ID, NOW).await
            }));
        }
        let mut outcomes = Vec::with_capacity(CONCURRENT_CALLS);
        for task in tasks {
            let outcome = task.await.expect("join a consumer task");
            outcomes.push(outcome.expect("consume the nonce"));
        }

        let successes = outcomes.iter().filter(|outcome| outcome.is_ok()).count();
        let replays = outcomes
            .iter()
            .filter(|outcome| **outcome == Err(NonceRejection::Replayed))
            .count();
        assert_eq!(successes, 1, "round {round}: {outcomes:?}");
        assert_eq!(replays, CONCURRENT_CALLS - 1, "round {round}: {outcomes:?}");
    }
}

pub(crate) async fn concurrent_advance_one_winner(db: TestDatabase) {
    let instances = [db.open().await, db.open().await];
    instances[0]
        .insert_app(&app(APP_ID))
        .await
        .expect("insert the app");
    let install = install("install-1", APP_ID, 1);
    instances[0]
        .upsert_install(&install)
        .await
        .expect("insert the install");

    for round in 0..RACE_ROUNDS {
        let counter = i64::from(round) + 1;
        let mut tasks = Vec::with_capacity(CONCURRENT_CALLS);
        for call in 0..CONCURRENT_CALLS {
            let store = Arc::clone(&instances[call % instances.len()]);
            let key_id = install.key_id.clone();
            tasks.push(tokio::spawn(async move {
                store.advance_counter(APP_ID, &key_id, counter, NOW).await
            }));
        }
        let mut outcomes = Vec::with_capacity(CONCURRENT_CALLS);
        for task in tasks {
            let outcome = task.await.expect("join an advancing task");
            outcomes.push(outcome.expect("advance the counter"));
        }

        let advanced = outcomes.iter().filter(|moved| **moved).count();
        assert_eq!(advanced, 1, "round {round}: {outcomes:?}");
        let stored = instances[1]
            .install(APP_ID, &install.key_id)
            .await
            .expect("read the install")
            .expect("the install exists");
        assert_eq!(stored.counter, counter, "round {round}");
    }
}

// === installs ===

pub(crate) async fn counter_never_moves_backwards(db: TestDatabase) {
    let store = db.open().await;
    store
        .insert_app(&app(APP_ID))
        .await
        .expect("insert the app");
    let install = install("install-1", APP_ID, 1);
    store
        .upsert_install(&install)
        .await
        .expect("insert the install");
    let key_id = &install.key_id;

    let to_five = store.advance_counter(APP_ID, key_id, 5, NOW + 1).await;
    assert!(to_five.expect("advance to 5"), "counter did not move to 5");
    let (counter, last_seen_at) = counter_and_last_seen(&store, key_id).await;
    assert_eq!(counter, 5);
    assert_eq!(last_seen_at, NOW + 1);

    let to_three = store.advance_counter(APP_ID, key_id, 3, NOW + 2).await;
    assert!(!to_three.expect("advance to 3"), "counter moved back to 3");
    let to_five_again = store.advance_counter(APP_ID, key_id, 5, NOW + 3).await;
    assert!(
        !to_five_again.expect("advance to 5"),
        "counter accepted 5 twice"
    );
    let (counter, last_seen_at) = counter_and_last_seen(&store, key_id).await;
    assert_eq!(counter, 5);
    assert_eq!(last_seen_at, NOW + 1);

    let to_six = store.advance_counter(APP_ID, key_id, 6, NOW + 4).await;
    assert!(to_six.expect("advance to 6"), "counter did not move to 6");
    let (counter, last_seen_at) = counter_and_last_seen(&store, key_id).await;
    assert_eq!(counter, 6);
    assert_eq!(last_seen_at, NOW + 4);
}

pub(crate) async fn advance_unknown_install_is_false(db: TestDatabase) {
    let store = db.open().await;
    store.insert_app(&app(APP_ID)).await.expect("insert an app");
    store
        .insert_app(&app(OTHER_APP_ID))
        .await
        .expect("insert an app");
    let install = install("install-1", APP_ID, 1);
    store
        .upsert_install(&install)
        .await
        .expect("insert the install");

    let unknown_key = store.advance_counter(APP_ID, &[9; 32], 5, NOW).await;
    let other_app = store
        .advance_counter(OTHER_APP_ID, &install.key_id, 5, NOW)
        .await;

    assert!(
        !unknown_key.expect("advance an unknown key"),
        "unknown key moved"
    );
    assert!(
        !other_app.expect("advance under another app"),
        "other app moved"
    );
    let (counter, _) = counter_and_last_seen(&store, &install.key_id).await;
    assert_eq!(counter, 0);
}

pub(crate) async fn upsert_keeps_identity_and_counter(db: TestDatabase) {
    let store = db.open().await;
    store
        .insert_app(&app(APP_ID))
        .await
        .expect("insert the app");
    let first = install("install-1", APP_ID, 1);

    let inserted = store
        .upsert_install(&first)
        .await
        .expect("insert the install");
    assert_eq!(inserted, first);

    let moved = store
        .advance_counter(APP_ID, &first.key_id, 7, NOW + 10)
        .await
        .expect("advance the counter");
    assert!(moved, "counter did not move to 7");

    let reattested = Install {
        id: "install-2".to_owned(),
        provider: "avow_device_key".to_owned(),
        public_key: vec![0x04; 65],
        counter: 0,
        environment: "development".to_owned(),
        receipt: b"second receipt".to_vec(),
        verdict: r#"{"risk":"elevated"}"#.to_owned(),
        attested_at: NOW + 100,
        last_seen_at: NOW + 101,
        ..first.clone()
    };
    let updated = store
        .upsert_install(&reattested)
        .await
        .expect("update the install");

    assert_eq!(updated.id, "install-1");
    assert_eq!(updated.app_id, APP_ID);
    assert_eq!(updated.provider, "app_attest");
    assert_eq!(updated.key_id, first.key_id);
    assert_eq!(updated.public_key, first.public_key);
    assert_eq!(updated.counter, 7);
    assert_eq!(updated.environment, "development");
    assert_eq!(updated.receipt, b"second receipt".to_vec());
    assert_eq!(updated.verdict, r#"{"risk":"elevated"}"#);
    assert_eq!(updated.attested_at, NOW + 100);
    assert_eq!(updated.last_seen_at, NOW + 101);

    let stored = store
        .install(APP_ID, &first.key_id)
        .await
        .expect("read the install");
    assert_eq!(stored, Some(updated));
}

pub(crate) async fn install_provider_round_trip(db: TestDatabase) {
    let store = db.open().await;
    store
        .insert_app(&app(APP_ID))
        .await
        .expect("insert the app");
    let providers = ["app_attest", "android_key_attestation", "avow_device_key"];

    for (seed, provider) in (1..).zip(providers) {
        let install = Install {
            provider: provider.to_owned(),
            ..install(&format!("install-{seed}"), APP_ID, seed)
        };

        let upserted = store
            .upsert_install(&install)
            .await
            .expect("insert an install");
        let stored = store
            .install(APP_ID, &install.key_id)
            .await
            .expect("read an install")
            .expect("the install exists");

        assert_eq!(upserted.provider, provider);
        assert_eq!(stored.provider, provider);
    }
}

pub(crate) async fn install_lookup_by_key_id(db: TestDatabase) {
    let store = db.open().await;
    store.insert_app(&app(APP_ID)).await.expect("insert an app");
    store
        .insert_app(&app(OTHER_APP_ID))
        .await
        .expect("insert an app");
    let first = install("install-1", APP_ID, 1);
    let second = install("install-2", APP_ID, 2);
    // The same key id under another app is a separate install.
    let other = install("install-3", OTHER_APP_ID, 1);
    for install in [&first, &second, &other] {
        store
            .upsert_install(install)
            .await
            .expect("insert an install");
    }

    let found_first = store.install(APP_ID, &first.key_id).await;
    let found_second = store.install(APP_ID, &second.key_id).await;
    let found_other = store.install(OTHER_APP_ID, &other.key_id).await;
    let missing_under_other = store.install(OTHER_APP_ID, &second.key_id).await;
    let missing_key = store.install(APP_ID, &[9; 32]).await;

    assert_eq!(found_first.expect("read an install"), Some(first));
    assert_eq!(found_second.expect("read an install"), Some(second));
    assert_eq!(found_other.expect("read an install"), Some(other));
    assert_eq!(missing_under_other.expect("read an install"), None);
    assert_eq!(missing_key.expect("read an install"), None);
}

// === install bans ===

pub(crate) async fn install_by_id_lookup(db: TestDatabase) {
    let store = db.open().await;
    store
        .insert_app(&app(APP_ID))
        .await
        .expect("insert the app");
    let first = install("install-1", APP_ID, 1);
    let second = install("install-2", APP_ID, 2);
    for install in [&first, &second] {
        store
            .upsert_install(install)
            .await
            .expect("insert an install");
    }

    let found_first = store.install_by_id("install-1").await;
    let found_second = store.install_by_id("install-2").await;
    let missing = store.install_by_id("install-3").await;

    assert_eq!(found_first.expect("read an install"), Some(first));
    assert_eq!(found_second.expect("read an install"), Some(second));
    assert_eq!(missing.expect("read a missing install"), None);
}

pub(crate) async fn install_ban_set_and_lifted(db: TestDatabase) {
    let store = db.open().await;
    store
        .insert_app(&app(APP_ID))
        .await
        .expect("insert the app");
    let banned = install("install-1", APP_ID, 1);
    let bystander = install("install-2", APP_ID, 2);
    for install in [&banned, &bystander] {
        store
            .upsert_install(install)
            .await
            .expect("insert an install");
    }
    let expected_ban = InstallBan {
        banned_at: NOW + 5,
        reason: "emulator farm".to_owned(),
    };

    let set = store
        .set_install_ban("install-1", Some(("emulator farm", NOW + 5)))
        .await
        .expect("ban the install");

    assert!(set, "set_install_ban found no row for an existing install");
    let by_id = store
        .install_by_id("install-1")
        .await
        .expect("read the install")
        .expect("the install exists");
    assert_eq!(by_id.ban, Some(expected_ban.clone()));
    let by_key = store
        .install(APP_ID, &banned.key_id)
        .await
        .expect("read the install")
        .expect("the install exists");
    assert_eq!(by_key.ban, Some(expected_ban));
    let other = store
        .install_by_id("install-2")
        .await
        .expect("read the other install");
    assert_eq!(other, Some(bystander));

    let replaced = store
        .set_install_ban("install-1", Some(("abuse report", NOW + 9)))
        .await
        .expect("ban the install again");

    assert!(
        replaced,
        "set_install_ban found no row for an existing install"
    );
    let rebanned = store
        .install_by_id("install-1")
        .await
        .expect("read the install")
        .expect("the install exists");
    assert_eq!(
        rebanned.ban,
        Some(InstallBan {
            banned_at: NOW + 9,
            reason: "abuse report".to_owned(),
        })
    );

    let lifted = store
        .set_install_ban("install-1", None)
        .await
        .expect("lift the ban");

    assert!(
        lifted,
        "set_install_ban found no row for an existing install"
    );
    let unbanned = store
        .install_by_id("install-1")
        .await
        .expect("read the install");
    assert_eq!(unbanned, Some(banned));
}

pub(crate) async fn install_ban_unknown_is_false(db: TestDatabase) {
    let store = db.open().await;
    store
        .insert_app(&app(APP_ID))
        .await
        .expect("insert the app");
    let existing = install("install-1", APP_ID, 1);
    store
        .upsert_install(&existing)
        .await
        .expect("insert the install");

    let banned = store
        .set_install_ban("install-9", Some(("abuse report", NOW)))
        .await
        .expect("ban an unknown install");
    let lifted = store
        .set_install_ban("install-9", None)
        .await
        .expect("lift the ban of an unknown install");

    assert!(!banned, "set_install_ban matched an unknown install");
    assert!(!lifted, "set_install_ban matched an unknown install");
    let stored = store
        .install_by_id("install-1")
        .await
        .expect("read the install");
    assert_eq!(stored, Some(existing));
}

pub(crate) async fn upsert_keeps_ban(db: TestDatabase) {
    let store = db.open().await;
    store
        .insert_app(&app(APP_ID))
        .await
        .expect("insert the app");
    let first = install("install-1", APP_ID, 1);
    store
        .upsert_install(&first)
        .await
        .expect("insert the install");
    let set = store
        .set_install_ban("install-1", Some(("abuse report", NOW + 5)))
        .await
        .expect("ban the install");
    assert!(set, "set_install_ban found no row for an existing install");
    let expected_ban = InstallBan {
        banned_at: NOW + 5,
        reason: "abuse report".to_owned(),
    };

    // A new attestation of the same key carries no ban, and must not lift the stored one.
    let reattested = Install {
        id: "install-2".to_owned(),
        receipt: b"second receipt".to_vec(),
        attested_at: NOW + 100,
        last_seen_at: NOW + 100,
        ..first.clone()
    };
    let updated = store
        .upsert_install(&reattested)
        .await
        .expect("update the install");

    assert_eq!(updated.id, "install-1");
    assert_eq!(updated.attested_at, NOW + 100);
    assert_eq!(updated.ban, Some(expected_ban.clone()));
    let stored = store
        .install_by_id("install-1")
        .await
        .expect("read the install")
        .expect("the install exists");
    assert_eq!(stored.ban, Some(expected_ban));

    // A different ban in the upserted value does not replace the stored ban either.
    let with_other_ban = Install {
        ban: Some(InstallBan {
            banned_at: NOW + 200,
            reason: "other reason".to_owned(),
        }),
        ..reattested
    };
    let updated_again = store
        .upsert_install(&with_other_ban)
        .await
        .expect("update the install");
    assert_eq!(
        updated_again.ban,
        Some(InstallBan {
            banned_at: NOW + 5,
            reason: "abuse report".to_owned(),
        })
    );
}

pub(crate) async fn upsert_stores_ban_of_new_install(db: TestDatabase) {
    let store = db.open().await;
    store
        .insert_app(&app(APP_ID))
        .await
        .expect("insert the app");
    let banned = Install {
        ban: Some(InstallBan {
            banned_at: NOW - 1,
            reason: "imported ban".to_owned(),
        }),
        ..install("install-1", APP_ID, 1)
    };

    let inserted = store
        .upsert_install(&banned)
        .await
        .expect("insert the install");

    assert_eq!(inserted, banned);
    let stored = store
        .install_by_id("install-1")
        .await
        .expect("read the install");
    assert_eq!(stored, Some(banned));
}

pub(crate) async fn install_half_ban_rejected(db: TestDatabase) {
    let store = db.open().await;
    store
        .insert_app(&app(APP_ID))
        .await
        .expect("insert the app");
    let install = install("install-1", APP_ID, 1);
    store
        .upsert_install(&install)
        .await
        .expect("insert the install");
    let corrupted = db.execute("UPDATE installs SET banned_at = 5").await;
    assert_eq!(corrupted, 1);

    let by_id = store.install_by_id("install-1").await;
    let by_key = store.install(APP_ID, &install.key_id).await;

    assert!(
        matches!(by_id, Err(StoreError::Corrupt(_))),
        "expected a corrupt value error, got {by_id:?}"
    );
    assert!(
        matches!(by_key, Err(StoreError::Corrupt(_))),
        "expected a corrupt value error, got {by_key:?}"
    );
}

// === policies ===

pub(crate) async fn policy_versions_count_per_app(db: TestDatabase) {
    let store = db.open().await;
    store.insert_app(&app(APP_ID)).await.expect("insert an app");
    store
        .insert_app(&app(OTHER_APP_ID))
        .await
        .expect("insert an app");

    let first = insert_policy(&store, APP_ID, "doc 1", NOW).await;
    let other_first = insert_policy(&store, OTHER_APP_ID, "other doc 1", NOW + 1).await;
    let second = insert_policy(&store, APP_ID, "doc 2", NOW + 2).await;
    let third = insert_policy(&store, APP_ID, "doc 3", NOW + 3).await;

    assert_eq!(first, 1);
    assert_eq!(other_first, 1);
    assert_eq!(second, 2);
    assert_eq!(third, 3);
    let current = store
        .current_policy(APP_ID)
        .await
        .expect("read the current policy");
    assert_eq!(current, Some(policy(APP_ID, 3, "doc 3", NOW + 3)));
    let other_current = store
        .current_policy(OTHER_APP_ID)
        .await
        .expect("read the current policy");
    assert_eq!(
        other_current,
        Some(policy(OTHER_APP_ID, 1, "other doc 1", NOW + 1))
    );
}

pub(crate) async fn policy_lookup_by_version(db: TestDatabase) {
    let store = db.open().await;
    store.insert_app(&app(APP_ID)).await.expect("insert an app");
    store
        .insert_app(&app(OTHER_APP_ID))
        .await
        .expect("insert an app");
    for (version, document) in (0..).zip(["doc 1", "doc 2", "doc 3"]) {
        insert_policy(&store, APP_ID, document, NOW + version).await;
    }

    let second = store.policy_version(APP_ID, 2).await;
    let beyond = store.policy_version(APP_ID, 4).await;
    let zero = store.policy_version(APP_ID, 0).await;
    let other_app = store.policy_version(OTHER_APP_ID, 2).await;

    assert_eq!(
        second.expect("read a policy version"),
        Some(policy(APP_ID, 2, "doc 2", NOW + 1))
    );
    assert_eq!(beyond.expect("read a missing version"), None);
    assert_eq!(zero.expect("read version 0"), None);
    assert_eq!(other_app.expect("read under another app"), None);
}

pub(crate) async fn policy_versions_newest_first(db: TestDatabase) {
    let store = db.open().await;
    store.insert_app(&app(APP_ID)).await.expect("insert an app");
    store
        .insert_app(&app(OTHER_APP_ID))
        .await
        .expect("insert an app");
    let empty = store
        .policy_versions(APP_ID)
        .await
        .expect("list no versions");
    assert_eq!(empty, Vec::new());
    for (version, document) in (0..).zip(["doc 1", "doc 2", "doc 3"]) {
        insert_policy(&store, APP_ID, document, NOW + version).await;
    }
    insert_policy(&store, OTHER_APP_ID, "other doc 1", NOW).await;

    let listed = store.policy_versions(APP_ID).await;

    assert_eq!(
        listed.expect("list the versions"),
        vec![
            policy(APP_ID, 3, "doc 3", NOW + 2),
            policy(APP_ID, 2, "doc 2", NOW + 1),
            policy(APP_ID, 1, "doc 1", NOW),
        ]
    );
}

pub(crate) async fn policy_unknown_app_is_none(db: TestDatabase) {
    let store = db.open().await;
    store
        .insert_app(&app(APP_ID))
        .await
        .expect("insert the app");
    insert_policy(&store, APP_ID, "doc 1", NOW).await;

    let current = store.current_policy(OTHER_APP_ID).await;
    let versions = store.policy_versions(OTHER_APP_ID).await;

    assert_eq!(current.expect("read the current policy"), None);
    assert_eq!(versions.expect("list the versions"), Vec::new());
}

pub(crate) async fn policy_for_unknown_app_rejected(db: TestDatabase) {
    let store = db.open().await;

    let result = store.insert_policy(APP_ID, "doc 1", "ak_admin", NOW).await;

    assert!(
        matches!(result, Err(StoreError::Database(_))),
        "expected a database error, got {result:?}"
    );
    let current = store
        .current_policy(APP_ID)
        .await
        .expect("read the current policy");
    assert_eq!(current, None);
}

pub(crate) async fn concurrent_policy_inserts_unique_versions(db: TestDatabase) {
    let instances = [db.open().await, db.open().await];
    instances[0]
        .insert_app(&app(APP_ID))
        .await
        .expect("insert the app");

    let mut tasks = Vec::new();
    for call in 0..CONCURRENT_POLICY_INSERTS {
        let index = usize::try_from(call).expect("a small task number fits usize");
        let store = Arc::clone(&instances[index % instances.len()]);
        tasks.push(tokio::spawn(async move {
            let document = format!("doc from task {call}");
            let version = store
                .insert_policy(APP_ID, &document, "ak_admin", NOW)
                .await;
            (version, document)
        }));
    }
    let mut inserted = Vec::new();
    for task in tasks {
        let (version, document) = task.await.expect("join an inserting task");
        inserted.push((version.expect("insert a policy"), document));
    }

    let mut versions: Vec<i64> = inserted.iter().map(|(version, _)| *version).collect();
    versions.sort_unstable();
    assert_eq!(
        versions,
        (1..=CONCURRENT_POLICY_INSERTS).collect::<Vec<i64>>()
    );
    for (version, document) in &inserted {
        let stored = instances[1]
            .policy_version(APP_ID, *version)
            .await
            .expect("read a policy version")
            .expect("the version exists");
        assert_eq!(&stored.document, document, "version {version}");
    }
    let current = instances[1]
        .current_policy(APP_ID)
        .await
        .expect("read the current policy")
        .expect("a policy exists");
    assert_eq!(current.version, CONCURRENT_POLICY_INSERTS);
}

// === audit log ===

pub(crate) async fn audit_newest_first(db: TestDatabase) {
    let store = db.open().await;
    let empty = store.audit(None, 100).await.expect("list no entries");
    assert_eq!(empty, Vec::new());
    let created = audit_entry(NOW, "app.create", Some(APP_ID), None);
    let banned = audit_entry(NOW + 10, "install.ban", Some(APP_ID), Some("install-1"));
    let key_added = audit_entry(NOW + 5, "admin_key.create", None, Some("ak_second"));
    // Same second as `banned`, inserted later, so listed before it.
    let other_created = audit_entry(NOW + 10, "app.create", Some(OTHER_APP_ID), None);
    for entry in [&created, &banned, &key_added, &other_created] {
        store.insert_audit(entry).await.expect("insert an entry");
    }

    let listed = store.audit(None, 100).await.expect("list the entries");

    assert_eq!(listed, vec![other_created, banned, key_added, created]);
}

pub(crate) async fn audit_filtered_by_app(db: TestDatabase) {
    let store = db.open().await;
    let created = audit_entry(NOW, "app.create", Some(APP_ID), None);
    let key_added = audit_entry(NOW + 5, "admin_key.create", None, Some("ak_second"));
    let other_created = audit_entry(NOW + 7, "app.create", Some(OTHER_APP_ID), None);
    let banned = audit_entry(NOW + 10, "install.ban", Some(APP_ID), Some("install-1"));
    for entry in [&created, &key_added, &other_created, &banned] {
        store.insert_audit(entry).await.expect("insert an entry");
    }

    let for_app = store.audit(Some(APP_ID), 100).await;
    let for_other = store.audit(Some(OTHER_APP_ID), 100).await;
    let for_unknown = store.audit(Some(ANDROID_APP_ID), 100).await;

    assert_eq!(
        for_app.expect("list the app's entries"),
        vec![banned, created]
    );
    assert_eq!(
        for_other.expect("list the other app's entries"),
        vec![other_created]
    );
    assert_eq!(
        for_unknown.expect("list an unknown app's entries"),
        Vec::new()
    );
}

pub(crate) async fn audit_limit_keeps_newest(db: TestDatabase) {
    let store = db.open().await;
    let entries: Vec<AuditEntry> = (0..5)
        .map(|offset| audit_entry(NOW + offset, "app.update", Some(APP_ID), None))
        .collect();
    for entry in &entries {
        store.insert_audit(entry).await.expect("insert an entry");
    }

    let two = store.audit(None, 2).await;
    let two_of_app = store.audit(Some(APP_ID), 2).await;
    let none = store.audit(None, 0).await;

    assert_eq!(
        two.expect("list two entries"),
        vec![entries[4].clone(), entries[3].clone()]
    );
    assert_eq!(
        two_of_app.expect("list two entries of the app"),
        vec![entries[4].clone(), entries[3].clone()]
    );
    assert_eq!(none.expect("list no entries"), Vec::new());
}

// === decisions ===

pub(crate) async fn decision_round_trip(db: TestDatabase) {
    let store = db.open().await;
    let full = DecisionRecord {
        install_id: Some("install-1".to_owned()),
        app_version: Some("2.4.1".to_owned()),
        ..decision(APP_ID, NOW)
    };
    let sparse = DecisionRecord {
        install_id: None,
        kind: "outage".to_owned(),
        app_version: None,
        ..decision(OTHER_APP_ID, NOW + 1)
    };

    store
        .insert_decision(&full)
        .await
        .expect("insert a decision");
    store
        .insert_decision(&sparse)
        .await
        .expect("insert a decision");

    let by_install = store.install_decisions("install-1", 10).await;
    let by_app = store.recent_decisions(OTHER_APP_ID, NOW, 10).await;
    assert_eq!(by_install.expect("list an install's decisions"), vec![full]);
    assert_eq!(by_app.expect("list an app's decisions"), vec![sparse]);
}

pub(crate) async fn install_decisions_newest_first(db: TestDatabase) {
    let store = db.open().await;
    let first = install_decision("install-1", NOW, "attest");
    let third = install_decision("install-1", NOW + 20, "refresh");
    let second = install_decision("install-1", NOW + 10, "refresh");
    // Same second as `third`, inserted later, so listed before it.
    let fourth = install_decision("install-1", NOW + 20, "outage");
    let other_install = install_decision("install-2", NOW + 30, "attest");
    let no_install = decision(APP_ID, NOW + 40);
    for decision in [
        &first,
        &third,
        &second,
        &fourth,
        &other_install,
        &no_install,
    ] {
        store
            .insert_decision(decision)
            .await
            .expect("insert a decision");
    }

    let all = store.install_decisions("install-1", 10).await;
    let limited = store.install_decisions("install-1", 2).await;
    let unknown = store.install_decisions("install-9", 10).await;

    assert_eq!(
        all.expect("list the decisions"),
        vec![fourth.clone(), third.clone(), second, first]
    );
    assert_eq!(limited.expect("list two decisions"), vec![fourth, third]);
    assert_eq!(unknown.expect("list no decisions"), Vec::new());
}

pub(crate) async fn recent_decisions_since_and_limit(db: TestDatabase) {
    let store = db.open().await;
    let before = decision(APP_ID, NOW - 1);
    let at_since = decision(APP_ID, NOW);
    let later = install_decision("install-1", NOW + 5, "refresh");
    let latest = decision(APP_ID, NOW + 9);
    let other_app = decision(OTHER_APP_ID, NOW + 7);
    for decision in [&before, &at_since, &later, &latest, &other_app] {
        store
            .insert_decision(decision)
            .await
            .expect("insert a decision");
    }

    let since_now = store.recent_decisions(APP_ID, NOW, 10).await;
    let limited = store.recent_decisions(APP_ID, NOW, 2).await;
    let after_all = store.recent_decisions(APP_ID, NOW + 10, 10).await;

    assert_eq!(
        since_now.expect("list the decisions"),
        vec![latest.clone(), later.clone(), at_since]
    );
    assert_eq!(limited.expect("list two decisions"), vec![latest, later]);
    assert_eq!(after_all.expect("list no decisions"), Vec::new());
}

// === daily counters ===

pub(crate) async fn daily_counter_stops_at_limit(db: TestDatabase) {
    let store = db.open().await;
    let never = store
        .daily_counter("quota", "play_integrity", "2024-03-01")
        .await
        .expect("read a missing counter");
    assert_eq!(never, 0);

    let first = increment(&store, "quota", "play_integrity", "2024-03-01", 3).await;
    let second = increment(&store, "quota", "play_integrity", "2024-03-01", 3).await;
    let third = increment(&store, "quota", "play_integrity", "2024-03-01", 3).await;
    let fourth = increment(&store, "quota", "play_integrity", "2024-03-01", 3).await;
    let fifth = increment(&store, "quota", "play_integrity", "2024-03-01", 3).await;

    assert_eq!(first, Some(1));
    assert_eq!(second, Some(2));
    assert_eq!(third, Some(3));
    assert_eq!(fourth, None);
    assert_eq!(fifth, None);
    let count = store
        .daily_counter("quota", "play_integrity", "2024-03-01")
        .await
        .expect("read the counter");
    assert_eq!(count, 3);

    // A higher limit lets the same counter go on from where it stopped.
    let raised = increment(&store, "quota", "play_integrity", "2024-03-01", 4).await;
    assert_eq!(raised, Some(4));
}

pub(crate) async fn daily_counters_independent(db: TestDatabase) {
    let store = db.open().await;
    let base = increment(&store, "quota", "play_integrity", "2024-03-01", 1).await;
    assert_eq!(base, Some(1));

    let other_day = increment(&store, "quota", "play_integrity", "2024-03-02", 1).await;
    let other_key = increment(&store, "quota", "device_check", "2024-03-01", 1).await;
    let other_scope = increment(&store, "reduced_trust", "play_integrity", "2024-03-01", 1).await;
    let base_again = increment(&store, "quota", "play_integrity", "2024-03-01", 1).await;

    assert_eq!(other_day, Some(1));
    assert_eq!(other_key, Some(1));
    assert_eq!(other_scope, Some(1));
    assert_eq!(base_again, None);
    let base_count = store
        .daily_counter("quota", "play_integrity", "2024-03-01")
        .await
        .expect("read a counter");
    assert_eq!(base_count, 1);
}

pub(crate) async fn daily_counter_zero_limit(db: TestDatabase) {
    let store = db.open().await;

    let new_zero = increment(&store, "quota", "play_integrity", "2024-03-01", 0).await;
    let new_negative = increment(&store, "quota", "play_integrity", "2024-03-01", -1).await;

    assert_eq!(new_zero, None);
    assert_eq!(new_negative, None);
    let rows = db.fetch_i64("SELECT COUNT(*) FROM daily_counters").await;
    assert_eq!(rows, 0);

    let started = increment(&store, "quota", "play_integrity", "2024-03-01", 5).await;
    assert_eq!(started, Some(1));
    let existing_zero = increment(&store, "quota", "play_integrity", "2024-03-01", 0).await;
    assert_eq!(existing_zero, None);
    let count = store
        .daily_counter("quota", "play_integrity", "2024-03-01")
        .await
        .expect("read the counter");
    assert_eq!(count, 1);
}

pub(crate) async fn concurrent_increments_stop_at_limit(db: TestDatabase) {
    let instances = [db.open().await, db.open().await];

    for round in 0..RACE_ROUNDS {
        // A new day per round, so every round starts from a missing counter.
        let day = format!("2024-03-{:02}", round + 1);
        let mut tasks = Vec::with_capacity(CONCURRENT_CALLS);
        for call in 0..CONCURRENT_CALLS {
            let store = Arc::clone(&instances[call % instances.len()]);
            let day = day.clone();
            tasks.push(tokio::spawn(async move {
                store
                    .increment_daily_counter("quota", "play_integrity", &day, COUNTER_LIMIT)
                    .await
            }));
        }
        let mut outcomes = Vec::with_capacity(CONCURRENT_CALLS);
        for task in tasks {
            let outcome = task.await.expect("join an incrementing task");
            outcomes.push(outcome.expect("increment the counter"));
        }

        let mut counts: Vec<i64> = outcomes.iter().flatten().copied().collect();
        counts.sort_unstable();
        let refused = outcomes.iter().filter(|outcome| outcome.is_none()).count();
        assert_eq!(
            counts,
            (1..=COUNTER_LIMIT).collect::<Vec<i64>>(),
            "round {round}: {outcomes:?}"
        );
        let expected_refusals =
            CONCURRENT_CALLS - usize::try_from(COUNTER_LIMIT).expect("the limit fits usize");
        assert_eq!(refused, expected_refusals, "round {round}: {outcomes:?}");
        let stored = instances[1]
            .daily_counter("quota", "play_integrity", &day)
            .await
            .expect("read the counter");
        assert_eq!(stored, COUNTER_LIMIT, "round {round}");
    }
}

// === debug devices ===

pub(crate) async fn debug_devices_listed_by_key_id(db: TestDatabase) {
    let store = db.open().await;
    store.insert_app(&app(APP_ID)).await.expect("insert an app");
    store
        .insert_app(&app(OTHER_APP_ID))
        .await
        .expect("insert an app");
    let empty = store.debug_devices(APP_ID).await.expect("list no devices");
    assert_eq!(empty, Vec::new());
    let high = debug_device(APP_ID, 0xf0, NOW + 100);
    // Already expired, but still listed.
    let low = debug_device(APP_ID, 0x01, NOW - 100);
    let middle = debug_device(APP_ID, 0x80, NOW + 50);
    let other = debug_device(OTHER_APP_ID, 0x02, NOW + 100);
    for device in [&high, &low, &middle, &other] {
        store
            .put_debug_device(device)
            .await
            .expect("store a debug device");
    }

    let listed = store.debug_devices(APP_ID).await;
    let other_listed = store.debug_devices(OTHER_APP_ID).await;

    assert_eq!(listed.expect("list the devices"), vec![low, middle, high]);
    assert_eq!(other_listed.expect("list the devices"), vec![other]);
}

pub(crate) async fn debug_device_replaced_keeps_created_at(db: TestDatabase) {
    let store = db.open().await;
    store
        .insert_app(&app(APP_ID))
        .await
        .expect("insert the app");
    let first = debug_device(APP_ID, 1, NOW + 100);
    store
        .put_debug_device(&first)
        .await
        .expect("store the debug device");

    let replacement = DebugDevice {
        note: "handed to QA".to_owned(),
        expires_at: NOW + 900,
        created_at: NOW + 50,
        ..first.clone()
    };
    store
        .put_debug_device(&replacement)
        .await
        .expect("replace the debug device");

    let listed = store.debug_devices(APP_ID).await.expect("list the devices");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].note, "handed to QA");
    assert_eq!(listed[0].expires_at, NOW + 900);
    assert_eq!(listed[0].created_at, NOW);
}

pub(crate) async fn debug_device_deleted(db: TestDatabase) {
    let store = db.open().await;
    store.insert_app(&app(APP_ID)).await.expect("insert an app");
    store
        .insert_app(&app(OTHER_APP_ID))
        .await
        .expect("insert an app");
    let removed = debug_device(APP_ID, 1, NOW + 100);
    let kept = debug_device(APP_ID, 2, NOW + 100);
    let same_key_other_app = debug_device(OTHER_APP_ID, 1, NOW + 100);
    for device in [&removed, &kept, &same_key_other_app] {
        store
            .put_debug_device(device)
            .await
            .expect("store a debug device");
    }

    let deleted = store
        .delete_debug_device(APP_ID, &removed.key_id)
        .await
        .expect("delete a debug device");
    let deleted_again = store
        .delete_debug_device(APP_ID, &removed.key_id)
        .await
        .expect("delete a deleted debug device");

    assert!(
        deleted,
        "delete_debug_device found no row for a stored mark"
    );
    assert!(!deleted_again, "delete_debug_device deleted a mark twice");
    let listed = store.debug_devices(APP_ID).await;
    assert_eq!(listed.expect("list the devices"), vec![kept]);
    let other_listed = store.debug_devices(OTHER_APP_ID).await;
    assert_eq!(
        other_listed.expect("list the devices"),
        vec![same_key_other_app]
    );
    let still_marked = store
        .is_debug_device(APP_ID, &removed.key_id, NOW)
        .await
        .expect("check a deleted mark");
    assert!(!still_marked, "deleted debug device still active");
}

pub(crate) async fn debug_device_active_until_expiry(db: TestDatabase) {
    let store = db.open().await;
    store.insert_app(&app(APP_ID)).await.expect("insert an app");
    store
        .insert_app(&app(OTHER_APP_ID))
        .await
        .expect("insert an app");
    let expires_at = NOW + 100;
    let device = debug_device(APP_ID, 1, expires_at);
    store
        .put_debug_device(&device)
        .await
        .expect("store the debug device");

    let before = store
        .is_debug_device(APP_ID, &device.key_id, expires_at - 1)
        .await;
    let at_expiry = store
        .is_debug_device(APP_ID, &device.key_id, expires_at)
        .await;
    let after = store
        .is_debug_device(APP_ID, &device.key_id, expires_at + 1)
        .await;
    let other_app = store
        .is_debug_device(OTHER_APP_ID, &device.key_id, NOW)
        .await;
    let other_key = store.is_debug_device(APP_ID, &[2; 32], NOW).await;

    assert!(
        before.expect("check before expiry"),
        "inactive before expiry"
    );
    assert!(!at_expiry.expect("check at expiry"), "active at expiry");
    assert!(!after.expect("check after expiry"), "active after expiry");
    assert!(
        !other_app.expect("check another app"),
        "active for another app"
    );
    assert!(
        !other_key.expect("check another key"),
        "active for another key"
    );
}

pub(crate) async fn debug_device_for_unknown_app_rejected(db: TestDatabase) {
    let store = db.open().await;
    let device = debug_device(APP_ID, 1, NOW + 100);

    let result = store.put_debug_device(&device).await;

    assert!(
        matches!(result, Err(StoreError::Database(_))),
        "expected a database error, got {result:?}"
    );
    let listed = store.debug_devices(APP_ID).await.expect("list the devices");
    assert_eq!(listed, Vec::new());
}

// === whole database ===

pub(crate) async fn reopen_keeps_data(db: TestDatabase) {
    let store = db.open().await;
    store
        .insert_app(&app(APP_ID))
        .await
        .expect("insert the app");
    let nonce = nonce(1, APP_ID, NOW + NONCE_LIFETIME);
    store.insert_nonce(&nonce).await.expect("insert the nonce");
    let consumed = consume(&store, &nonce.hash, APP_ID, NOW).await;
    assert_eq!(consumed, Ok(()));
    drop(store);

    // Opening again runs the migrations again, which must find nothing left to apply.
    let reopened = db.open().await;

    let stored = reopened.app(APP_ID).await.expect("read the app");
    assert_eq!(stored, Some(app(APP_ID)));
    let replayed = consume(&reopened, &nonce.hash, APP_ID, NOW + 1).await;
    assert_eq!(replayed, Err(NonceRejection::Replayed));
}

pub(crate) async fn ping_succeeds(db: TestDatabase) {
    let store = db.open().await;

    let result = store.ping().await;

    assert!(result.is_ok(), "ping failed: {result:?}");
}

// === helpers ===

fn app(id: &str) -> App {
    let (team_id, bundle_id) = id.split_once('.').expect("app id has a team id prefix");
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

/// Builds an Android app whose id is its package name.
fn android_app(package_name: &str, digests: Vec<Vec<u8>>, min_version_code: Option<i64>) -> App {
    App {
        id: package_name.to_owned(),
        platform: "android".to_owned(),
        team_id: String::new(),
        bundle_id: String::new(),
        environment: "production".to_owned(),
        package_name: package_name.to_owned(),
        certificate_digests: digests,
        min_version_code,
        created_at: NOW,
    }
}

fn admin_key(id: &str, secret_byte: u8) -> AdminKey {
    AdminKey {
        id: id.to_owned(),
        secret_hash: vec![secret_byte; 32],
        created_at: NOW,
    }
}

fn signing_key(kid: &str, created_at: i64, key_byte: u8) -> SigningKey {
    SigningKey {
        kid: kid.to_owned(),
        algorithm: "ES256".to_owned(),
        encrypted_private_key: vec![key_byte; 80],
        public_key: vec![key_byte.wrapping_add(100); 65],
        created_at,
    }
}

/// Builds a nonce whose 32-byte hash repeats `seed`, issued one lifetime before `expires_at`.
fn nonce(seed: u8, app_id: &str, expires_at: i64) -> NewNonce {
    NewNonce {
        hash: vec![seed; 32],
        app_id: app_id.to_owned(),
        issued_at: expires_at - NONCE_LIFETIME,
        expires_at,
    }
}

/// Builds a new install with counter 0 whose key id and public key repeat `key_seed`.
fn install(id: &str, app_id: &str, key_seed: u8) -> Install {
    // An uncompressed SEC1 point starts with 0x04.
    let mut public_key = vec![key_seed; 65];
    public_key[0] = 0x04;
    Install {
        id: id.to_owned(),
        app_id: app_id.to_owned(),
        provider: "app_attest".to_owned(),
        key_id: vec![key_seed; 32],
        public_key,
        counter: 0,
        environment: "production".to_owned(),
        receipt: b"first receipt".to_vec(),
        verdict: r#"{"risk":"low"}"#.to_owned(),
        attested_at: NOW,
        last_seen_at: NOW,
        ban: None,
    }
}

/// Builds the policy record that [`insert_policy`] stores.
fn policy(app_id: &str, version: i64, document: &str, created_at: i64) -> PolicyRecord {
    PolicyRecord {
        app_id: app_id.to_owned(),
        version,
        document: document.to_owned(),
        created_at,
        created_by: "ak_admin".to_owned(),
    }
}

/// Inserts a policy created by `ak_admin` and returns its version.
async fn insert_policy(store: &Arc<dyn Store>, app_id: &str, document: &str, now: i64) -> i64 {
    store
        .insert_policy(app_id, document, "ak_admin", now)
        .await
        .expect("insert a policy")
}

fn audit_entry(at: i64, action: &str, app_id: Option<&str>, subject: Option<&str>) -> AuditEntry {
    AuditEntry {
        at,
        actor: "ak_admin".to_owned(),
        action: action.to_owned(),
        app_id: app_id.map(str::to_owned),
        subject: subject.map(str::to_owned),
        detail: format!("{action} at {at}"),
    }
}

/// Builds an attestation decision without an install.
fn decision(app_id: &str, at: i64) -> DecisionRecord {
    DecisionRecord {
        app_id: app_id.to_owned(),
        install_id: None,
        at,
        kind: "attest".to_owned(),
        policy_version: 3,
        market: "DE".to_owned(),
        outcome: "deny".to_owned(),
        enforced_outcome: "allow".to_owned(),
        reasons: r#"["device_integrity_missing"]"#.to_owned(),
        verdict: format!(r#"{{"at":{at}}}"#),
        providers: "app_attest".to_owned(),
        platform: "ios".to_owned(),
        app_version: None,
    }
}

/// Builds a decision of `kind` about an install of [`APP_ID`].
fn install_decision(install_id: &str, at: i64, kind: &str) -> DecisionRecord {
    DecisionRecord {
        install_id: Some(install_id.to_owned()),
        kind: kind.to_owned(),
        ..decision(APP_ID, at)
    }
}

/// Builds a debug device created at [`NOW`] whose 32-byte key id repeats `key_seed`.
fn debug_device(app_id: &str, key_seed: u8, expires_at: i64) -> DebugDevice {
    DebugDevice {
        app_id: app_id.to_owned(),
        key_id: vec![key_seed; 32],
        note: format!("test phone {key_seed}"),
        expires_at,
        created_at: NOW,
    }
}

async fn increment(
    store: &Arc<dyn Store>,
    scope: &str,
    key: &str,
    day: &str,
    limit: i64,
) -> Option<i64> {
    store
        .increment_daily_counter(scope, key, day, limit)
        .await
        .expect("increment_daily_counter reached the database")
}

async fn consume(
    store: &Arc<dyn Store>,
    hash: &[u8],
    app_id: &str,
    now: i64,
) -> Result<(), NonceRejection> {
    store
        .consume_nonce(hash, app_id, now)
        .await
        .expect("consume_nonce reached the database")
}

async fn counter_and_last_seen(store: &Arc<dyn Store>, key_id: &[u8]) -> (i64, i64) {
    let install = store
        .install(APP_ID, key_id)
        .await
        .expect("read the install")
        .expect("the install exists");
    (install.counter, install.last_seen_at)
}
