//! The PostgreSQL store, for several server instances sharing one database.

use std::str::FromStr;

use async_trait::async_trait;
use sqlx::Row;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgRow, Postgres};

use crate::sql::{self, NonceState};
use crate::{AdminKey, App, Install, NewNonce, NonceRejection, SigningKey, Store, StoreError};

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// A [`Store`] in a PostgreSQL database.
///
/// Any number of server instances may share the database. The atomic statements of
/// [`Store::consume_nonce`] and [`Store::advance_counter`] rely on PostgreSQL's row locks at the
/// default READ COMMITTED isolation level, so they hold across instances.
///
/// Cloning is cheap: clones share one connection pool.
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

#[async_trait]
impl Store for PostgresStore {
    async fn insert_app(&self, app: &App) -> Result<(), StoreError> {
        let certificate_digests = sql::encode_certificate_digests(&app.certificate_digests)?;
        sqlx::query(sql::INSERT_APP)
            .bind(&app.id)
            .bind(&app.platform)
            .bind(&app.team_id)
            .bind(&app.bundle_id)
            .bind(&app.environment)
            .bind(&app.package_name)
            .bind(certificate_digests)
            .bind(app.min_version_code)
            .bind(app.created_at)
            .execute(&self.pool)
            .await
            .map_err(|error| sql::insert_error(error, "app"))?;
        Ok(())
    }

    async fn app(&self, id: &str) -> Result<Option<App>, StoreError> {
        let row = sqlx::query(sql::SELECT_APP)
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::Database)?;
        row.as_ref().map(decode_app).transpose()
    }

    async fn apps(&self) -> Result<Vec<App>, StoreError> {
        let rows = sqlx::query(sql::SELECT_APPS)
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::Database)?;
        rows.iter().map(decode_app).collect()
    }

    async fn update_app(&self, app: &App) -> Result<bool, StoreError> {
        let certificate_digests = sql::encode_certificate_digests(&app.certificate_digests)?;
        let updated = sqlx::query(sql::UPDATE_APP)
            .bind(&app.id)
            .bind(&app.platform)
            .bind(&app.team_id)
            .bind(&app.bundle_id)
            .bind(&app.environment)
            .bind(&app.package_name)
            .bind(certificate_digests)
            .bind(app.min_version_code)
            .execute(&self.pool)
            .await
            .map_err(StoreError::Database)?;
        Ok(updated.rows_affected() == 1)
    }

    async fn put_app_secret(
        &self,
        app_id: &str,
        name: &str,
        sealed: &[u8],
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(sql::PUT_APP_SECRET)
            .bind(app_id)
            .bind(name)
            .bind(sealed)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(StoreError::Database)?;
        Ok(())
    }

    async fn app_secret(&self, app_id: &str, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        sqlx::query_scalar(sql::SELECT_APP_SECRET)
            .bind(app_id)
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::Database)
    }

    async fn insert_admin_key(&self, key: &AdminKey) -> Result<(), StoreError> {
        sqlx::query(sql::INSERT_ADMIN_KEY)
            .bind(&key.id)
            .bind(&key.secret_hash)
            .bind(key.created_at)
            .execute(&self.pool)
            .await
            .map_err(|error| sql::insert_error(error, "admin key"))?;
        Ok(())
    }

    async fn admin_key(&self, id: &str) -> Result<Option<AdminKey>, StoreError> {
        let row = sqlx::query(sql::SELECT_ADMIN_KEY)
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::Database)?;
        row.as_ref()
            .map(decode_admin_key)
            .transpose()
            .map_err(StoreError::Database)
    }

    async fn admin_key_count(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar(sql::COUNT_ADMIN_KEYS)
            .fetch_one(&self.pool)
            .await
            .map_err(StoreError::Database)
    }

    async fn insert_signing_key(&self, key: &SigningKey) -> Result<(), StoreError> {
        sqlx::query(sql::INSERT_SIGNING_KEY)
            .bind(&key.kid)
            .bind(&key.algorithm)
            .bind(&key.encrypted_private_key)
            .bind(&key.public_key)
            .bind(key.created_at)
            .execute(&self.pool)
            .await
            .map_err(|error| sql::insert_error(error, "signing key"))?;
        Ok(())
    }

    async fn signing_keys(&self) -> Result<Vec<SigningKey>, StoreError> {
        let rows = sqlx::query(sql::SELECT_SIGNING_KEYS)
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::Database)?;
        rows.iter()
            .map(decode_signing_key)
            .collect::<Result<_, _>>()
            .map_err(StoreError::Database)
    }

    async fn insert_nonce(&self, nonce: &NewNonce) -> Result<(), StoreError> {
        sqlx::query(sql::INSERT_NONCE)
            .bind(&nonce.hash)
            .bind(&nonce.app_id)
            .bind(nonce.issued_at)
            .bind(nonce.expires_at)
            .execute(&self.pool)
            .await
            .map_err(|error| sql::insert_error(error, "nonce"))?;
        Ok(())
    }

    async fn consume_nonce(
        &self,
        hash: &[u8],
        app_id: &str,
        now: i64,
    ) -> Result<Result<(), NonceRejection>, StoreError> {
        let consumed = sqlx::query(sql::CONSUME_NONCE)
            .bind(hash)
            .bind(app_id)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(StoreError::Database)?;
        if consumed.rows_affected() == 1 {
            return Ok(Ok(()));
        }

        let row = sqlx::query(sql::SELECT_NONCE_STATE)
            .bind(hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::Database)?;
        let state = row
            .as_ref()
            .map(decode_nonce_state)
            .transpose()
            .map_err(StoreError::Database)?;
        Ok(Err(sql::classify_rejection(state, app_id, now)))
    }

    async fn purge_nonces(&self, before: i64) -> Result<u64, StoreError> {
        let purged = sqlx::query(sql::PURGE_NONCES)
            .bind(before)
            .execute(&self.pool)
            .await
            .map_err(StoreError::Database)?;
        Ok(purged.rows_affected())
    }

    async fn upsert_install(&self, install: &Install) -> Result<Install, StoreError> {
        let row = sqlx::query(sql::UPSERT_INSTALL)
            .bind(&install.id)
            .bind(&install.app_id)
            .bind(&install.provider)
            .bind(&install.key_id)
            .bind(&install.public_key)
            .bind(install.counter)
            .bind(&install.environment)
            .bind(&install.receipt)
            .bind(&install.verdict)
            .bind(install.attested_at)
            .bind(install.last_seen_at)
            .fetch_one(&self.pool)
            .await
            .map_err(|error| sql::insert_error(error, "install"))?;
        decode_install(&row).map_err(StoreError::Database)
    }

    async fn install(&self, app_id: &str, key_id: &[u8]) -> Result<Option<Install>, StoreError> {
        let row = sqlx::query(sql::SELECT_INSTALL)
            .bind(app_id)
            .bind(key_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::Database)?;
        row.as_ref()
            .map(decode_install)
            .transpose()
            .map_err(StoreError::Database)
    }

    async fn advance_counter(
        &self,
        app_id: &str,
        key_id: &[u8],
        counter: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        let advanced = sqlx::query(sql::ADVANCE_COUNTER)
            .bind(app_id)
            .bind(key_id)
            .bind(counter)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(StoreError::Database)?;
        Ok(advanced.rows_affected() == 1)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query(sql::PING)
            .execute(&self.pool)
            .await
            .map_err(StoreError::Database)?;
        Ok(())
    }
}

// === row decoding ===

fn decode_app(row: &PgRow) -> Result<App, StoreError> {
    let id: String = read_column(row, "id")?;
    let digests: String = read_column(row, "certificate_digests")?;
    let certificate_digests = sql::decode_certificate_digests(&digests, &id)?;

    Ok(App {
        id,
        platform: read_column(row, "platform")?,
        team_id: read_column(row, "team_id")?,
        bundle_id: read_column(row, "bundle_id")?,
        environment: read_column(row, "environment")?,
        package_name: read_column(row, "package_name")?,
        certificate_digests,
        min_version_code: read_column(row, "min_version_code")?,
        created_at: read_column(row, "created_at")?,
    })
}

/// Reads one column, mapping a failure to [`StoreError::Database`].
fn read_column<'r, T>(row: &'r PgRow, name: &str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>,
{
    row.try_get(name).map_err(StoreError::Database)
}

fn decode_admin_key(row: &PgRow) -> Result<AdminKey, sqlx::Error> {
    Ok(AdminKey {
        id: row.try_get("id")?,
        secret_hash: row.try_get("secret_hash")?,
        created_at: row.try_get("created_at")?,
    })
}

fn decode_signing_key(row: &PgRow) -> Result<SigningKey, sqlx::Error> {
    Ok(SigningKey {
        kid: row.try_get("kid")?,
        algorithm: row.try_get("algorithm")?,
        encrypted_private_key: row.try_get("encrypted_private_key")?,
        public_key: row.try_get("public_key")?,
        created_at: row.try_get("created_at")?,
    })
}

fn decode_nonce_state(row: &PgRow) -> Result<NonceState, sqlx::Error> {
    Ok(NonceState {
        app_id: row.try_get("app_id")?,
        expires_at: row.try_get("expires_at")?,
        consumed_at: row.try_get("consumed_at")?,
    })
}

fn decode_install(row: &PgRow) -> Result<Install, sqlx::Error> {
    Ok(Install {
        id: row.try_get("id")?,
        app_id: row.try_get("app_id")?,
        provider: row.try_get("provider")?,
        key_id: row.try_get("key_id")?,
        public_key: row.try_get("public_key")?,
        counter: row.try_get("counter")?,
        environment: row.try_get("environment")?,
        receipt: row.try_get("receipt")?,
        verdict: row.try_get("verdict")?,
        attested_at: row.try_get("attested_at")?,
        last_seen_at: row.try_get("last_seen_at")?,
    })
}
