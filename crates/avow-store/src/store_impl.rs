//! The [`Store`](crate::Store) methods, written once for the SQLite and PostgreSQL stores.
//!
//! Both stores run the same statements from [`crate::sql`] and decode the same columns, so
//! [`impl_store!`] contains the one copy of the trait body, and each backend module expands it
//! for its own store type and sqlx database. What differs between the backends stays in their
//! modules: connect options, SQLite's WAL mode and busy timeout, and the migrations.
//!
//! The body is a macro rather than functions generic over `sqlx::Database` because sqlx has no
//! driver-independent way to read `rows_affected` from a query result, and because generic code
//! would need higher-ranked `Executor`, `Encode` and `Decode` bounds for every column type,
//! repeated on every function. Each expansion is ordinary code for one concrete driver, which the
//! compiler checks once per backend.

/// Implements [`Store`](crate::Store) for `$store`, a struct in the calling module with a
/// `pool: sqlx::Pool<$database>` field, where `$database` is a sqlx driver such as
/// `sqlx::sqlite::Sqlite`.
///
/// The expansion sits in an anonymous `const` block, so its helper functions are visible only to
/// the `Store` methods and cannot clash with the items of the calling module.
macro_rules! impl_store {
    ($store:ty, $database:ty) => {
        const _: () = {
            use $crate::sql;
            use $crate::{
                AdminKey, App, Install, NewNonce, NonceRejection, SigningKey, Store, StoreError,
            };

            type Pool = sqlx::Pool<$database>;
            type Row = <$database as sqlx::Database>::Row;
            type Query =
                sqlx::query::Query<'static, $database, <$database as sqlx::Database>::Arguments>;

            #[async_trait::async_trait]
            impl Store for $store {
                async fn insert_app(&self, app: &App) -> Result<(), StoreError> {
                    let query =
                        bind_app_fields(sqlx::query(sql::INSERT_APP), app)?.bind(app.created_at);
                    insert(&self.pool, query, "app").await
                }

                async fn app(&self, id: &str) -> Result<Option<App>, StoreError> {
                    let query = sqlx::query(sql::SELECT_APP).bind(id);
                    fetch_optional(&self.pool, query, decode_app).await
                }

                async fn apps(&self) -> Result<Vec<App>, StoreError> {
                    fetch_all(&self.pool, sqlx::query(sql::SELECT_APPS), decode_app).await
                }

                async fn update_app(&self, app: &App) -> Result<bool, StoreError> {
                    let query = bind_app_fields(sqlx::query(sql::UPDATE_APP), app)?;
                    Ok(execute(&self.pool, query).await? == 1)
                }

                async fn put_app_secret(
                    &self,
                    app_id: &str,
                    name: &str,
                    sealed: &[u8],
                    now: i64,
                ) -> Result<(), StoreError> {
                    let query = sqlx::query(sql::PUT_APP_SECRET)
                        .bind(app_id)
                        .bind(name)
                        .bind(sealed)
                        .bind(now);
                    execute(&self.pool, query).await?;
                    Ok(())
                }

                async fn app_secret(
                    &self,
                    app_id: &str,
                    name: &str,
                ) -> Result<Option<Vec<u8>>, StoreError> {
                    sqlx::query_scalar(sql::SELECT_APP_SECRET)
                        .bind(app_id)
                        .bind(name)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(StoreError::Database)
                }

                async fn insert_admin_key(&self, key: &AdminKey) -> Result<(), StoreError> {
                    let query = sqlx::query(sql::INSERT_ADMIN_KEY)
                        .bind(&key.id)
                        .bind(&key.secret_hash)
                        .bind(key.created_at);
                    insert(&self.pool, query, "admin key").await
                }

                async fn admin_key(&self, id: &str) -> Result<Option<AdminKey>, StoreError> {
                    let query = sqlx::query(sql::SELECT_ADMIN_KEY).bind(id);
                    fetch_optional(&self.pool, query, decode_admin_key).await
                }

                async fn admin_key_count(&self) -> Result<i64, StoreError> {
                    sqlx::query_scalar(sql::COUNT_ADMIN_KEYS)
                        .fetch_one(&self.pool)
                        .await
                        .map_err(StoreError::Database)
                }

                async fn insert_signing_key(&self, key: &SigningKey) -> Result<(), StoreError> {
                    let query = sqlx::query(sql::INSERT_SIGNING_KEY)
                        .bind(&key.kid)
                        .bind(&key.algorithm)
                        .bind(&key.encrypted_private_key)
                        .bind(&key.public_key)
                        .bind(key.created_at);
                    insert(&self.pool, query, "signing key").await
                }

                async fn signing_keys(&self) -> Result<Vec<SigningKey>, StoreError> {
                    let query = sqlx::query(sql::SELECT_SIGNING_KEYS);
                    fetch_all(&self.pool, query, decode_signing_key).await
                }

                async fn insert_nonce(&self, nonce: &NewNonce) -> Result<(), StoreError> {
                    let query = sqlx::query(sql::INSERT_NONCE)
                        .bind(&nonce.hash)
                        .bind(&nonce.app_id)
                        .bind(nonce.issued_at)
                        .bind(nonce.expires_at);
                    insert(&self.pool, query, "nonce").await
                }

                async fn consume_nonce(
                    &self,
                    hash: &[u8],
                    app_id: &str,
                    now: i64,
                ) -> Result<Result<(), NonceRejection>, StoreError> {
                    let consume = sqlx::query(sql::CONSUME_NONCE)
                        .bind(hash)
                        .bind(app_id)
                        .bind(now);
                    if execute(&self.pool, consume).await? == 1 {
                        return Ok(Ok(()));
                    }

                    let select_state = sqlx::query(sql::SELECT_NONCE_STATE).bind(hash);
                    let state =
                        fetch_optional(&self.pool, select_state, decode_nonce_state).await?;
                    Ok(Err(sql::classify_rejection(state, app_id, now)))
                }

                async fn purge_nonces(&self, before: i64) -> Result<u64, StoreError> {
                    execute(&self.pool, sqlx::query(sql::PURGE_NONCES).bind(before)).await
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
                    decode_install(&row)
                }

                async fn install(
                    &self,
                    app_id: &str,
                    key_id: &[u8],
                ) -> Result<Option<Install>, StoreError> {
                    let query = sqlx::query(sql::SELECT_INSTALL).bind(app_id).bind(key_id);
                    fetch_optional(&self.pool, query, decode_install).await
                }

                async fn advance_counter(
                    &self,
                    app_id: &str,
                    key_id: &[u8],
                    counter: i64,
                    now: i64,
                ) -> Result<bool, StoreError> {
                    let query = sqlx::query(sql::ADVANCE_COUNTER)
                        .bind(app_id)
                        .bind(key_id)
                        .bind(counter)
                        .bind(now);
                    Ok(execute(&self.pool, query).await? == 1)
                }

                async fn ping(&self) -> Result<(), StoreError> {
                    execute(&self.pool, sqlx::query(sql::PING)).await?;
                    Ok(())
                }
            }

            // === statements ===

            /// Binds `$1` to `$8` of [`sql::INSERT_APP`] and [`sql::UPDATE_APP`]: the app's
            /// columns in order, up to `min_version_code`.
            fn bind_app_fields(query: Query, app: &App) -> Result<Query, StoreError> {
                let certificate_digests =
                    sql::encode_certificate_digests(&app.certificate_digests)?;
                Ok(query
                    .bind(&app.id)
                    .bind(&app.platform)
                    .bind(&app.team_id)
                    .bind(&app.bundle_id)
                    .bind(&app.environment)
                    .bind(&app.package_name)
                    .bind(certificate_digests)
                    .bind(app.min_version_code))
            }

            /// Runs a statement and returns the number of rows it affected.
            async fn execute(pool: &Pool, query: Query) -> Result<u64, StoreError> {
                let result = query.execute(pool).await.map_err(StoreError::Database)?;
                Ok(result.rows_affected())
            }

            /// Runs an `INSERT`. A unique violation fails with [`StoreError::AlreadyExists`]
            /// naming `entity`.
            async fn insert(
                pool: &Pool,
                query: Query,
                entity: &'static str,
            ) -> Result<(), StoreError> {
                query
                    .execute(pool)
                    .await
                    .map_err(|error| sql::insert_error(error, entity))?;
                Ok(())
            }

            async fn fetch_optional<T>(
                pool: &Pool,
                query: Query,
                decode: fn(&Row) -> Result<T, StoreError>,
            ) -> Result<Option<T>, StoreError> {
                let row = query
                    .fetch_optional(pool)
                    .await
                    .map_err(StoreError::Database)?;
                row.as_ref().map(decode).transpose()
            }

            async fn fetch_all<T>(
                pool: &Pool,
                query: Query,
                decode: fn(&Row) -> Result<T, StoreError>,
            ) -> Result<Vec<T>, StoreError> {
                let rows = query.fetch_all(pool).await.map_err(StoreError::Database)?;
                rows.iter().map(decode).collect()
            }

            // === row decoding ===

            fn decode_app(row: &Row) -> Result<App, StoreError> {
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

            fn decode_admin_key(row: &Row) -> Result<AdminKey, StoreError> {
                Ok(AdminKey {
                    id: read_column(row, "id")?,
                    secret_hash: read_column(row, "secret_hash")?,
                    created_at: read_column(row, "created_at")?,
                })
            }

            fn decode_signing_key(row: &Row) -> Result<SigningKey, StoreError> {
                Ok(SigningKey {
                    kid: read_column(row, "kid")?,
                    algorithm: read_column(row, "algorithm")?,
                    encrypted_private_key: read_column(row, "encrypted_private_key")?,
                    public_key: read_column(row, "public_key")?,
                    created_at: read_column(row, "created_at")?,
                })
            }

            fn decode_nonce_state(row: &Row) -> Result<sql::NonceState, StoreError> {
                Ok(sql::NonceState {
                    app_id: read_column(row, "app_id")?,
                    expires_at: read_column(row, "expires_at")?,
                    consumed_at: read_column(row, "consumed_at")?,
                })
            }

            fn decode_install(row: &Row) -> Result<Install, StoreError> {
                Ok(Install {
                    id: read_column(row, "id")?,
                    app_id: read_column(row, "app_id")?,
                    provider: read_column(row, "provider")?,
                    key_id: read_column(row, "key_id")?,
                    public_key: read_column(row, "public_key")?,
                    counter: read_column(row, "counter")?,
                    environment: read_column(row, "environment")?,
                    receipt: read_column(row, "receipt")?,
                    verdict: read_column(row, "verdict")?,
                    attested_at: read_column(row, "attested_at")?,
                    last_seen_at: read_column(row, "last_seen_at")?,
                })
            }

            /// Reads one column, mapping a failure to [`StoreError::Database`].
            fn read_column<'r, T>(row: &'r Row, name: &str) -> Result<T, StoreError>
            where
                T: sqlx::Decode<'r, $database> + sqlx::Type<$database>,
            {
                sqlx::Row::try_get(row, name).map_err(StoreError::Database)
            }
        };
    };
}

pub(crate) use impl_store;
