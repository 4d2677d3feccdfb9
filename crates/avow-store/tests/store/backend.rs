//! Fresh databases for the behaviour suite: a temporary SQLite file per test, or a new
//! PostgreSQL schema per test.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use avow_store::{PostgresStore, SqliteStore, Store};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{AssertSqlSafe, Connection, PgConnection};

/// The environment variable with the URL of a PostgreSQL database the suite may use.
const POSTGRES_URL_VARIABLE: &str = "AVOW_TEST_POSTGRES_URL";

/// One test's database. [`TestDatabase::open`] may be called more than once, and every store it
/// returns reads and writes the same data, like several server instances sharing one database.
pub(crate) enum TestDatabase {
    /// A database file in a temporary directory that the runner deletes afterwards.
    Sqlite { path: PathBuf },
    /// A PostgreSQL URL whose `search_path` names a schema only this test uses.
    Postgres { url: String },
}

impl TestDatabase {
    /// Opens a new store, with its own connection pool, on this test's database.
    pub(crate) async fn open(&self) -> Arc<dyn Store> {
        match self {
            Self::Sqlite { path } => Arc::new(
                SqliteStore::open(path)
                    .await
                    .expect("open the sqlite store"),
            ),
            Self::Postgres { url } => Arc::new(
                PostgresStore::connect(url)
                    .await
                    .expect("connect the postgres store"),
            ),
        }
    }

    /// Runs one SQL statement on this test's database outside the store, for tests that need a
    /// row the store would never write. Returns the number of rows it affected.
    pub(crate) async fn execute(&self, statement: &'static str) -> u64 {
        match self {
            Self::Sqlite { path } => {
                let options = SqliteConnectOptions::new().filename(path);
                let mut connection = SqliteConnection::connect_with(&options)
                    .await
                    .expect("connect to the sqlite file");
                let result = sqlx::query(statement)
                    .execute(&mut connection)
                    .await
                    .expect("run the statement");
                connection.close().await.expect("close the connection");
                result.rows_affected()
            }
            Self::Postgres { url } => {
                let mut connection = PgConnection::connect(url)
                    .await
                    .expect("connect to the test schema");
                let result = sqlx::query(statement)
                    .execute(&mut connection)
                    .await
                    .expect("run the statement");
                connection.close().await.expect("close the connection");
                result.rows_affected()
            }
        }
    }

    /// Runs one SQL query that returns a single `BIGINT` on this test's database, outside the
    /// store, for values the `Store` trait does not return.
    pub(crate) async fn fetch_i64(&self, query: &'static str) -> i64 {
        match self {
            Self::Sqlite { path } => {
                let options = SqliteConnectOptions::new().filename(path);
                let mut connection = SqliteConnection::connect_with(&options)
                    .await
                    .expect("connect to the sqlite file");
                let value = sqlx::query_scalar(query)
                    .fetch_one(&mut connection)
                    .await
                    .expect("run the query");
                connection.close().await.expect("close the connection");
                value
            }
            Self::Postgres { url } => {
                let mut connection = PgConnection::connect(url)
                    .await
                    .expect("connect to the test schema");
                let value = sqlx::query_scalar(query)
                    .fetch_one(&mut connection)
                    .await
                    .expect("run the query");
                connection.close().await.expect("close the connection");
                value
            }
        }
    }
}

/// Runs `test` on a new SQLite file in a temporary directory.
pub(crate) async fn run_on_sqlite<F, Fut>(test: F)
where
    F: FnOnce(TestDatabase) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let path = dir.path().join("avow.db");

    test(TestDatabase::Sqlite { path }).await;
}

/// Runs `test` in a new schema of the database named by `AVOW_TEST_POSTGRES_URL`, then drops
/// the schema, also when the test panics. Returns at once when the variable is unset or empty.
pub(crate) async fn run_on_postgres<F, Fut>(test: F)
where
    F: FnOnce(TestDatabase) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let base_url = std::env::var(POSTGRES_URL_VARIABLE).unwrap_or_default();
    if base_url.is_empty() {
        eprintln!(
            "skipped: {POSTGRES_URL_VARIABLE} is not set (PostgreSQL behaviour suite not run)"
        );
        return;
    }

    let schema = unique_schema_name();
    let mut admin = PgConnection::connect(&base_url)
        .await
        .expect("connect to AVOW_TEST_POSTGRES_URL");
    // The schema name is built from digits and underscores only, so it is safe to splice in.
    sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut admin)
        .await
        .expect("create the test schema");

    let url = with_search_path(&base_url, &schema);
    // The test runs as its own task so that a panic comes back as a value and the schema is
    // still dropped before the panic is passed on.
    let outcome = tokio::spawn(test(TestDatabase::Postgres { url })).await;

    sqlx::query(AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&mut admin)
        .await
        .expect("drop the test schema");
    admin.close().await.expect("close the admin connection");

    if let Err(error) = outcome {
        match error.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(error) => panic!("test task did not finish: {error}"),
        }
    }
}

/// Returns a schema name no other test, in this process or another, uses at the same time.
fn unique_schema_name() -> String {
    static SEQUENCE: AtomicU64 = AtomicU64::new(0);

    let sequence = SEQUENCE.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("system clock after 1970")
        .as_nanos();
    format!("avow_test_{}_{nanos}_{sequence}", std::process::id())
}

/// Appends a libpq `options` parameter that sets `search_path` to `schema` for every connection.
fn with_search_path(url: &str, schema: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}options=-c%20search_path%3D{schema}")
}
