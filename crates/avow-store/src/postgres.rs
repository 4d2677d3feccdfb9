//! The PostgreSQL store, for several server instances sharing one database.

use std::str::FromStr;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, Postgres};

use crate::StoreError;
use crate::sql;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// A [`Store`] in a PostgreSQL database.
///
/// Any number of server instances may share the database. The atomic statements of
/// [`Store::consume_nonce`] and [`Store::advance_counter`] rely on PostgreSQL's row locks at the
/// default READ COMMITTED isolation level, so they hold across instances.
///
/// Cloning is cheap: clones share one connection pool.
///
/// [`Store`]: crate::Store
/// [`Store::consume_nonce`]: crate::Store::consume_nonce
/// [`Store::advance_counter`]: crate::Store::advance_counter
#[derive(Clone, Debug)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to the database at a `postgres://` URL and applies pending migrations.
    ///
    /// The URL is used as given. Tables are created in the first schema of the connection's
    /// `search_path`, which a URL can set, for example with
    /// `?options=-c%20search_path%3Davow`.
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidUrl`] when the URL cannot be parsed, [`StoreError::Database`] when
    /// no connection can be made, [`StoreError::Migration`] when the schema cannot be brought
    /// up to date.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url).map_err(sql::url_error)?;

        let pool = PgPool::connect_with(options)
            .await
            .map_err(StoreError::Database)?;
        MIGRATOR.run(&pool).await.map_err(StoreError::Migration)?;
        tracing::debug!("postgres store connected and migrated");

        Ok(Self { pool })
    }
}

// The `Store` methods are written once in `crate::store_impl`, shared with the SQLite store.
crate::store_impl::impl_store!(PostgresStore, Postgres);
