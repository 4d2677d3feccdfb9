//! The SQLite store: a single database file, the default for one server instance.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::sqlite::{Sqlite, SqliteConnectOptions, SqliteJournalMode, SqlitePool};

use crate::StoreError;
use crate::sql;

/// How long a statement waits for another connection's write lock before it fails.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// A [`Store`] in one SQLite database file.
///
/// Connections use WAL journal mode, enforce foreign keys and wait up to 5 seconds for the write
/// lock. Every write is one autocommit statement, and SQLite runs one writer at a time, so the
/// atomic statements of [`Store::consume_nonce`] and [`Store::advance_counter`] hold across all
/// connections and processes of one host that open the same file. WAL mode does not work on a
/// network file system, so several hosts need [`PostgresStore`](crate::PostgresStore).
///
/// Cloning is cheap: clones share one connection pool.
///
/// [`Store`]: crate::Store
/// [`Store::consume_nonce`]: crate::Store::consume_nonce
/// [`Store::advance_counter`]: crate::Store::advance_counter
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens the database file at `path`, creating it when missing, and applies pending
    /// migrations.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`] when the file cannot be opened or created,
    /// [`StoreError::Migration`] when the schema cannot be brought up to date.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        create_private_file(path)?;
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true);
        Self::open_with(options).await
    }

    /// Opens the database named by a `sqlite:` URL, such as `sqlite://avow.db` or
    /// `sqlite:///var/lib/avow/avow.db?mode=rw`, and applies pending migrations.
    ///
    /// The file is created when missing unless the URL has a `mode` parameter, which then
    /// decides (`rwc` creates, `rw` does not).
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidUrl`] for an unknown URL parameter or value, and otherwise as
    /// [`SqliteStore::open`].
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let mut options = SqliteConnectOptions::from_str(url).map_err(sql::url_error)?;
        if !has_mode_parameter(url) {
            create_private_file(options.get_filename())?;
            options = options.create_if_missing(true);
        }
        Self::open_with(options).await
    }

    async fn open_with(options: SqliteConnectOptions) -> Result<Self, StoreError> {
        let options = options
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);

        let pool = SqlitePool::connect_with(options)
            .await
            .map_err(StoreError::Database)?;
        MIGRATOR.run(&pool).await.map_err(StoreError::Migration)?;
        tracing::debug!("sqlite store opened and migrated");

        Ok(Self { pool })
    }
}

// The `Store` methods are written once in `crate::store_impl`, shared with the PostgreSQL store.
crate::store_impl::impl_store!(SqliteStore, Sqlite);

/// Creates an empty database file readable by its owner only (0600 on Unix) when `path` does not
/// exist yet. SQLite gives the `-wal` and `-shm` files the same permissions, so key hashes and
/// sealed keys are not left readable by other local users. An empty file is a valid empty
/// database, and an existing file keeps the permissions its operator chose.
fn create_private_file(path: &Path) -> Result<(), StoreError> {
    if path.as_os_str().is_empty() || path == Path::new(":memory:") || path.exists() {
        return Ok(());
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        // Another process created it first: that is the file to open.
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(StoreError::Database(sqlx::Error::Io(error))),
        Ok(_) => Ok(()),
    }
}

/// Reports whether a `sqlite:` URL sets the `mode` query parameter.
fn has_mode_parameter(url: &str) -> bool {
    let Some((_, query)) = url.split_once('?') else {
        return false;
    };
    query
        .split('&')
        .any(|pair| pair.split('=').next() == Some("mode"))
}
