//! The `Store` behaviour suite, written once and run against every backend.
//!
//! Each test in `store/suite.rs` takes a [`backend::TestDatabase`] and runs once against SQLite,
//! in a fresh temporary file, and once against PostgreSQL, in a fresh schema. The PostgreSQL runs
//! need the server URL in `AVOW_TEST_POSTGRES_URL` and are skipped with a message when it is
//! unset. Backend-specific checks (file creation, journal mode, URL handling) follow the suite.

#[path = "store/backend.rs"]
mod backend;
#[path = "store/pinning.rs"]
mod pinning;
#[path = "store/suite.rs"]
mod suite;
#[path = "store/used_tokens.rs"]
mod used_tokens;

/// Instantiates every listed suite test as `sqlite::NAME` and `postgres::NAME`.
macro_rules! behaviour_suite {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    crate::backend::run_on_sqlite(crate::suite::$test).await;
                }
            )*
        }

        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    crate::backend::run_on_postgres(crate::suite::$test).await;
                }
            )*
        }
    };
}

behaviour_suite!(
    app_insert_and_get,
    apps_listed_by_id,
    app_duplicate_rejected,
    app_android_fields_round_trip,
    app_invalid_digest_rejected,
    app_corrupt_digests_rejected,
    app_update_changes_fields,
    app_update_unknown_is_false,
    app_secret_put_and_get,
    app_secret_replaced,
    app_secret_unknown_is_none,
    app_secrets_kept_per_app,
    app_secret_for_unknown_app_rejected,
    admin_key_insert_get_count,
    admin_key_duplicate_rejected,
    signing_keys_newest_first,
    signing_key_duplicate_rejected,
    nonce_consumed_once,
    nonce_replay_rejected,
    nonce_expired_not_consumed,
    nonce_other_app_not_consumed,
    nonce_unknown_rejected,
    nonce_rejection_priority,
    nonce_duplicate_rejected,
    nonce_for_unknown_app_rejected,
    purge_removes_only_expired,
    concurrent_consume_one_winner,
    concurrent_advance_one_winner,
    counter_never_moves_backwards,
    advance_unknown_install_is_false,
    upsert_keeps_identity_and_counter,
    install_provider_round_trip,
    install_lookup_by_key_id,
    install_by_id_lookup,
    install_ban_set_and_lifted,
    install_ban_unknown_is_false,
    upsert_keeps_ban,
    upsert_stores_ban_of_new_install,
    install_half_ban_rejected,
    policy_versions_count_per_app,
    policy_lookup_by_version,
    policy_versions_newest_first,
    policy_unknown_app_is_none,
    policy_for_unknown_app_rejected,
    concurrent_policy_inserts_unique_versions,
    audit_newest_first,
    audit_filtered_by_app,
    audit_limit_keeps_newest,
    decision_round_trip,
    install_decisions_newest_first,
    recent_decisions_since_and_limit,
    daily_counter_stops_at_limit,
    daily_counters_independent,
    daily_counter_zero_limit,
    concurrent_increments_stop_at_limit,
    debug_devices_listed_by_key_id,
    debug_device_replaced_keeps_created_at,
    debug_device_deleted,
    debug_device_active_until_expiry,
    debug_device_for_unknown_app_rejected,
    reopen_keeps_data,
    ping_succeeds,
    token_marked_used_once,
    token_marks_independent,
    used_token_purge_removes_only_expired,
    used_token_purge_bounded,
    concurrent_token_marks_one_winner,
    api_domains_listed_by_app_and_host,
    api_domain_duplicate_rejected,
    api_domain_for_unknown_app_rejected,
    api_domain_managed_flag_set,
    api_domain_delete_removes_set_and_check,
    pin_set_replaced_whole,
    pin_sets_listed_by_host,
    pin_set_for_unknown_domain_rejected,
    pin_documents_by_version,
    pin_document_version_taken_rejected,
    pin_document_for_unknown_app_rejected,
    concurrent_publishes_unique_versions,
    pin_document_resign_only_moves_forward,
    domain_check_replaced,
    domain_check_of_unknown_domain_not_stored,
    pin_reports_counted_per_group,
    pin_report_groups_limited,
    concurrent_pin_reports_all_counted,
    pin_signing_keys_apart_from_token_keys,
);

mod sqlite_only {
    use avow_store::{SqliteStore, Store, StoreError};
    use sqlx::Connection;
    use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};

    async fn journal_mode(path: &std::path::Path) -> String {
        let options = SqliteConnectOptions::new().filename(path);
        let mut connection = SqliteConnection::connect_with(&options)
            .await
            .expect("connect to the database file");
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&mut connection)
            .await
            .expect("read the journal mode");
        connection.close().await.expect("close the connection");
        mode
    }

    #[tokio::test]
    async fn open_creates_file_in_wal_mode() {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        let path = dir.path().join("avow.db");

        let store = SqliteStore::open(&path).await.expect("open the store");
        store.ping().await.expect("ping the store");

        assert!(path.exists(), "{} was not created", path.display());
        assert_eq!(journal_mode(&path).await, "wal");
    }

    #[tokio::test]
    async fn connect_url_creates_file() {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        let path = dir.path().join("avow.db");
        let url = format!("sqlite://{}", path.display());

        let store = SqliteStore::connect(&url)
            .await
            .expect("connect to the store");
        store.ping().await.expect("ping the store");

        assert!(path.exists(), "{} was not created", path.display());
        assert_eq!(journal_mode(&path).await, "wal");
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn new_files_readable_by_owner_only() {
        use std::os::unix::fs::PermissionsExt as _;

        let dir = tempfile::tempdir().expect("create a temporary directory");
        let opened = dir.path().join("opened.db");
        let connected = dir.path().join("connected.db");

        let store = SqliteStore::open(&opened).await.expect("open the store");
        store.ping().await.expect("ping the store");
        let url = format!("sqlite://{}", connected.display());
        let store = SqliteStore::connect(&url)
            .await
            .expect("connect to the store");
        store.ping().await.expect("ping the store");

        for database in [&opened, &connected] {
            let wal = database.with_extension("db-wal");
            for path in [database.clone(), wal] {
                let mode = std::fs::metadata(&path)
                    .unwrap_or_else(|error| panic!("{}: {error}", path.display()))
                    .permissions()
                    .mode();
                assert_eq!(mode & 0o777, 0o600, "{} has mode {mode:o}", path.display());
            }
        }
    }

    #[tokio::test]
    async fn connect_url_mode_rw_does_not_create() {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        let path = dir.path().join("avow.db");
        let url = format!("sqlite://{}?mode=rw", path.display());

        let result = SqliteStore::connect(&url).await;

        assert!(
            matches!(result, Err(StoreError::Database(_))),
            "expected a database error, got {result:?}"
        );
        assert!(!path.exists(), "{} was created", path.display());
    }

    #[tokio::test]
    async fn connect_url_unknown_parameter_rejected() {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        let path = dir.path().join("avow.db");
        let url = format!("sqlite://{}?colour=blue", path.display());

        let result = SqliteStore::connect(&url).await;

        assert!(
            matches!(result, Err(StoreError::InvalidUrl(_))),
            "expected an invalid url error, got {result:?}"
        );
        assert!(!path.exists(), "{} was created", path.display());
    }
}

mod postgres_only {
    use avow_store::{PostgresStore, StoreError};

    #[tokio::test]
    async fn connect_invalid_url_rejected() {
        // The port is not a number, so parsing fails before any connection is attempted.
        let result = PostgresStore::connect("postgres://postgres@127.0.0.1:port/test").await;

        assert!(
            matches!(result, Err(StoreError::InvalidUrl(_))),
            "expected an invalid url error, got {result:?}"
        );
    }
}
