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
            use $crate::pinning_sql;
            use $crate::sql;
            use $crate::{
                AdminKey, App, AuditEntry, DebugDevice, DecisionRecord, Install, NewNonce,
                NonceRejection, PolicyRecord, SigningKey, Store, StoreError,
            };
            use $crate::{
                ApiDomain, DomainCheckRecord, PinDocumentRecord, PinReportAggregate,
                PinReportEvent, PinReportOutcome, PinSetRecord,
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
                    let query = bind_signing_key(sqlx::query(sql::INSERT_SIGNING_KEY), key);
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
                        .bind(install.ban.as_ref().map(|ban| ban.banned_at))
                        .bind(install.ban.as_ref().map(|ban| ban.reason.as_str()))
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

                async fn install_by_id(&self, id: &str) -> Result<Option<Install>, StoreError> {
                    let query = sqlx::query(sql::SELECT_INSTALL_BY_ID).bind(id);
                    fetch_optional(&self.pool, query, decode_install).await
                }

                async fn set_install_ban(
                    &self,
                    install_id: &str,
                    ban: Option<(&str, i64)>,
                ) -> Result<bool, StoreError> {
                    let query = sqlx::query(sql::SET_INSTALL_BAN)
                        .bind(install_id)
                        .bind(ban.map(|(_, banned_at)| banned_at))
                        .bind(ban.map(|(reason, _)| reason));
                    Ok(execute(&self.pool, query).await? == 1)
                }

                async fn insert_policy(
                    &self,
                    app_id: &str,
                    document: &str,
                    created_by: &str,
                    now: i64,
                ) -> Result<i64, StoreError> {
                    let mut attempt = 1;
                    loop {
                        let inserted: Result<i64, sqlx::Error> =
                            sqlx::query_scalar(sql::INSERT_POLICY)
                                .bind(app_id)
                                .bind(document)
                                .bind(now)
                                .bind(created_by)
                                .fetch_one(&self.pool)
                                .await;
                        match inserted {
                            Ok(version) => return Ok(version),
                            Err(error)
                                if sql::is_unique_violation(&error)
                                    && attempt < sql::POLICY_INSERT_ATTEMPTS =>
                            {
                                tracing::debug!(
                                    app_id,
                                    attempt,
                                    "policy version taken by a concurrent insert, retrying"
                                );
                                attempt += 1;
                            }
                            Err(error) => {
                                return Err(sql::insert_error(error, "policy version"));
                            }
                        }
                    }
                }

                async fn current_policy(
                    &self,
                    app_id: &str,
                ) -> Result<Option<PolicyRecord>, StoreError> {
                    let query = sqlx::query(sql::SELECT_CURRENT_POLICY).bind(app_id);
                    fetch_optional(&self.pool, query, decode_policy).await
                }

                async fn policy_version(
                    &self,
                    app_id: &str,
                    version: i64,
                ) -> Result<Option<PolicyRecord>, StoreError> {
                    let query = sqlx::query(sql::SELECT_POLICY_VERSION)
                        .bind(app_id)
                        .bind(version);
                    fetch_optional(&self.pool, query, decode_policy).await
                }

                async fn policy_versions(
                    &self,
                    app_id: &str,
                ) -> Result<Vec<PolicyRecord>, StoreError> {
                    let query = sqlx::query(sql::SELECT_POLICY_VERSIONS).bind(app_id);
                    fetch_all(&self.pool, query, decode_policy).await
                }

                async fn insert_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
                    let query = sqlx::query(sql::INSERT_AUDIT)
                        .bind(entry.at)
                        .bind(&entry.actor)
                        .bind(&entry.action)
                        .bind(&entry.app_id)
                        .bind(&entry.subject)
                        .bind(&entry.detail);
                    execute(&self.pool, query).await?;
                    Ok(())
                }

                async fn audit(
                    &self,
                    app_id: Option<&str>,
                    limit: u32,
                ) -> Result<Vec<AuditEntry>, StoreError> {
                    let query = sqlx::query(sql::SELECT_AUDIT)
                        .bind(app_id)
                        .bind(i64::from(limit));
                    fetch_all(&self.pool, query, decode_audit_entry).await
                }

                async fn insert_decision(
                    &self,
                    decision: &DecisionRecord,
                ) -> Result<(), StoreError> {
                    let query = sqlx::query(sql::INSERT_DECISION)
                        .bind(&decision.app_id)
                        .bind(&decision.install_id)
                        .bind(decision.at)
                        .bind(&decision.kind)
                        .bind(decision.policy_version)
                        .bind(&decision.market)
                        .bind(&decision.outcome)
                        .bind(&decision.enforced_outcome)
                        .bind(&decision.reasons)
                        .bind(&decision.verdict)
                        .bind(&decision.providers)
                        .bind(&decision.platform)
                        .bind(&decision.app_version);
                    execute(&self.pool, query).await?;
                    Ok(())
                }

                async fn install_decisions(
                    &self,
                    install_id: &str,
                    limit: u32,
                ) -> Result<Vec<DecisionRecord>, StoreError> {
                    let query = sqlx::query(sql::SELECT_INSTALL_DECISIONS)
                        .bind(install_id)
                        .bind(i64::from(limit));
                    fetch_all(&self.pool, query, decode_decision).await
                }

                async fn recent_decisions(
                    &self,
                    app_id: &str,
                    since: i64,
                    limit: u32,
                ) -> Result<Vec<DecisionRecord>, StoreError> {
                    let query = sqlx::query(sql::SELECT_RECENT_DECISIONS)
                        .bind(app_id)
                        .bind(since)
                        .bind(i64::from(limit));
                    fetch_all(&self.pool, query, decode_decision).await
                }

                async fn increment_daily_counter(
                    &self,
                    scope: &str,
                    key: &str,
                    day: &str,
                    limit: i64,
                ) -> Result<Option<i64>, StoreError> {
                    sqlx::query_scalar(sql::INCREMENT_DAILY_COUNTER)
                        .bind(scope)
                        .bind(key)
                        .bind(day)
                        .bind(limit)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(StoreError::Database)
                }

                async fn daily_counter(
                    &self,
                    scope: &str,
                    key: &str,
                    day: &str,
                ) -> Result<i64, StoreError> {
                    let count: Option<i64> = sqlx::query_scalar(sql::SELECT_DAILY_COUNTER)
                        .bind(scope)
                        .bind(key)
                        .bind(day)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(StoreError::Database)?;
                    Ok(count.unwrap_or(0))
                }

                async fn put_debug_device(&self, device: &DebugDevice) -> Result<(), StoreError> {
                    let query = sqlx::query(sql::PUT_DEBUG_DEVICE)
                        .bind(&device.app_id)
                        .bind(&device.key_id)
                        .bind(&device.note)
                        .bind(device.expires_at)
                        .bind(device.created_at);
                    execute(&self.pool, query).await?;
                    Ok(())
                }

                async fn delete_debug_device(
                    &self,
                    app_id: &str,
                    key_id: &[u8],
                ) -> Result<bool, StoreError> {
                    let query = sqlx::query(sql::DELETE_DEBUG_DEVICE)
                        .bind(app_id)
                        .bind(key_id);
                    Ok(execute(&self.pool, query).await? == 1)
                }

                async fn debug_devices(
                    &self,
                    app_id: &str,
                ) -> Result<Vec<DebugDevice>, StoreError> {
                    let query = sqlx::query(sql::SELECT_DEBUG_DEVICES).bind(app_id);
                    fetch_all(&self.pool, query, decode_debug_device).await
                }

                async fn is_debug_device(
                    &self,
                    app_id: &str,
                    key_id: &[u8],
                    now: i64,
                ) -> Result<bool, StoreError> {
                    let marks: i64 = sqlx::query_scalar(sql::COUNT_ACTIVE_DEBUG_DEVICE)
                        .bind(app_id)
                        .bind(key_id)
                        .bind(now)
                        .fetch_one(&self.pool)
                        .await
                        .map_err(StoreError::Database)?;
                    Ok(marks > 0)
                }

                async fn insert_api_domain(&self, domain: &ApiDomain) -> Result<(), StoreError> {
                    let query = sqlx::query(pinning_sql::INSERT_PIN_DOMAIN)
                        .bind(&domain.app_id)
                        .bind(&domain.host)
                        .bind(domain.port)
                        .bind(&domain.probe_host)
                        .bind(&domain.connect_to)
                        .bind(&domain.ca_bundle_pem)
                        .bind(domain.managed)
                        .bind(domain.created_at);
                    insert(&self.pool, query, "api domain").await
                }

                async fn api_domain(
                    &self,
                    app_id: &str,
                    host: &str,
                ) -> Result<Option<ApiDomain>, StoreError> {
                    let query = sqlx::query(pinning_sql::SELECT_PIN_DOMAIN)
                        .bind(app_id)
                        .bind(host);
                    fetch_optional(&self.pool, query, decode_api_domain).await
                }

                async fn api_domains(
                    &self,
                    app_id: Option<&str>,
                ) -> Result<Vec<ApiDomain>, StoreError> {
                    let query = match app_id {
                        Some(app_id) => sqlx::query(pinning_sql::SELECT_PIN_DOMAINS).bind(app_id),
                        None => sqlx::query(pinning_sql::SELECT_ALL_PIN_DOMAINS),
                    };
                    fetch_all(&self.pool, query, decode_api_domain).await
                }

                async fn set_api_domain_managed(
                    &self,
                    app_id: &str,
                    host: &str,
                    managed: bool,
                ) -> Result<bool, StoreError> {
                    let query = sqlx::query(pinning_sql::SET_PIN_DOMAIN_MANAGED)
                        .bind(app_id)
                        .bind(host)
                        .bind(managed);
                    Ok(execute(&self.pool, query).await? == 1)
                }

                async fn delete_api_domain(
                    &self,
                    app_id: &str,
                    host: &str,
                ) -> Result<bool, StoreError> {
                    let query = sqlx::query(pinning_sql::DELETE_PIN_DOMAIN)
                        .bind(app_id)
                        .bind(host);
                    Ok(execute(&self.pool, query).await? == 1)
                }

                async fn put_pin_set(&self, pin_set: &PinSetRecord) -> Result<(), StoreError> {
                    let mut transaction = self.pool.begin().await.map_err(StoreError::Database)?;
                    sqlx::query(pinning_sql::UPSERT_PIN_SET)
                        .bind(&pin_set.app_id)
                        .bind(&pin_set.host)
                        .bind(pin_set.expires_at)
                        .bind(&pin_set.mode)
                        .bind(&pin_set.after_expiry)
                        .bind(&pin_set.user_anchors)
                        .bind(pin_set.updated_at)
                        .bind(&pin_set.updated_by)
                        .execute(&mut *transaction)
                        .await
                        .map_err(StoreError::Database)?;
                    sqlx::query(pinning_sql::DELETE_PIN_SET_PINS)
                        .bind(&pin_set.app_id)
                        .bind(&pin_set.host)
                        .execute(&mut *transaction)
                        .await
                        .map_err(StoreError::Database)?;
                    for (position, entry) in (0_i64..).zip(&pin_set.pins) {
                        sqlx::query(pinning_sql::INSERT_PIN_SET_PIN)
                            .bind(&pin_set.app_id)
                            .bind(&pin_set.host)
                            .bind(position)
                            .bind(&entry.pin)
                            .bind(&entry.role)
                            .bind(entry.valid_until)
                            .bind(&entry.level)
                            .bind(&entry.key_type)
                            .bind(entry.not_after)
                            .bind(&entry.note)
                            .execute(&mut *transaction)
                            .await
                            .map_err(StoreError::Database)?;
                    }
                    transaction.commit().await.map_err(StoreError::Database)
                }

                async fn pin_set(
                    &self,
                    app_id: &str,
                    host: &str,
                ) -> Result<Option<PinSetRecord>, StoreError> {
                    let query = sqlx::query(pinning_sql::SELECT_PIN_SETS)
                        .bind(app_id)
                        .bind(Some(host));
                    let rows = fetch_all(&self.pool, query, decode_pin_set_row).await?;
                    Ok(pinning_sql::group_pin_sets(rows).into_iter().next())
                }

                async fn pin_sets(&self, app_id: &str) -> Result<Vec<PinSetRecord>, StoreError> {
                    let query = sqlx::query(pinning_sql::SELECT_PIN_SETS)
                        .bind(app_id)
                        .bind(None::<&str>);
                    let rows = fetch_all(&self.pool, query, decode_pin_set_row).await?;
                    Ok(pinning_sql::group_pin_sets(rows))
                }

                async fn insert_pin_document(
                    &self,
                    document: &PinDocumentRecord,
                ) -> Result<(), StoreError> {
                    let query = sqlx::query(pinning_sql::INSERT_PIN_DOCUMENT)
                        .bind(&document.app_id)
                        .bind(document.version)
                        .bind(document.issued_at)
                        .bind(document.expires_at)
                        .bind(&document.document)
                        .bind(&document.pin_sets)
                        .bind(document.forced)
                        .bind(document.published_at)
                        .bind(&document.published_by);
                    insert(&self.pool, query, "pin document version").await
                }

                async fn latest_pin_document(
                    &self,
                    app_id: &str,
                ) -> Result<Option<PinDocumentRecord>, StoreError> {
                    let query = sqlx::query(pinning_sql::SELECT_LATEST_PIN_DOCUMENT).bind(app_id);
                    fetch_optional(&self.pool, query, decode_pin_document).await
                }

                async fn latest_pin_version(
                    &self,
                    app_id: &str,
                ) -> Result<Option<i64>, StoreError> {
                    sqlx::query_scalar(pinning_sql::SELECT_LATEST_PIN_VERSION)
                        .bind(app_id)
                        .fetch_one(&self.pool)
                        .await
                        .map_err(StoreError::Database)
                }

                async fn pin_document(
                    &self,
                    app_id: &str,
                    version: i64,
                ) -> Result<Option<PinDocumentRecord>, StoreError> {
                    let query = sqlx::query(pinning_sql::SELECT_PIN_DOCUMENT)
                        .bind(app_id)
                        .bind(version);
                    fetch_optional(&self.pool, query, decode_pin_document).await
                }

                async fn pin_documents(
                    &self,
                    app_id: &str,
                    limit: u32,
                ) -> Result<Vec<PinDocumentRecord>, StoreError> {
                    let query = sqlx::query(pinning_sql::SELECT_PIN_DOCUMENTS)
                        .bind(app_id)
                        .bind(i64::from(limit));
                    fetch_all(&self.pool, query, decode_pin_document).await
                }

                async fn resign_pin_document(
                    &self,
                    app_id: &str,
                    version: i64,
                    issued_at: i64,
                    document: &str,
                ) -> Result<bool, StoreError> {
                    let query = sqlx::query(pinning_sql::RESIGN_PIN_DOCUMENT)
                        .bind(app_id)
                        .bind(version)
                        .bind(issued_at)
                        .bind(document);
                    Ok(execute(&self.pool, query).await? == 1)
                }

                async fn put_domain_check(
                    &self,
                    check: &DomainCheckRecord,
                ) -> Result<bool, StoreError> {
                    let query = sqlx::query(pinning_sql::PUT_DOMAIN_CHECK)
                        .bind(&check.app_id)
                        .bind(&check.host)
                        .bind(&check.status)
                        .bind(&check.detail)
                        .bind(check.checked_at)
                        .bind(check.earliest_not_after);
                    Ok(execute(&self.pool, query).await? == 1)
                }

                async fn domain_checks(
                    &self,
                    app_id: &str,
                ) -> Result<Vec<DomainCheckRecord>, StoreError> {
                    let query = sqlx::query(pinning_sql::SELECT_DOMAIN_CHECKS).bind(app_id);
                    fetch_all(&self.pool, query, decode_domain_check).await
                }

                async fn record_pin_report(
                    &self,
                    report: &PinReportEvent,
                    max_groups: i64,
                ) -> Result<PinReportOutcome, StoreError> {
                    let count = bind_pin_report(sqlx::query(pinning_sql::COUNT_PIN_REPORT), report);
                    if execute(&self.pool, count).await? == 1 {
                        return Ok(PinReportOutcome::Counted);
                    }
                    let insert =
                        bind_pin_report(sqlx::query(pinning_sql::INSERT_PIN_REPORT), report)
                            .bind(max_groups);
                    Ok(if execute(&self.pool, insert).await? == 1 {
                        PinReportOutcome::Counted
                    } else {
                        PinReportOutcome::Dropped
                    })
                }

                async fn pin_reports(
                    &self,
                    app_id: &str,
                    limit: u32,
                ) -> Result<Vec<PinReportAggregate>, StoreError> {
                    let query = sqlx::query(pinning_sql::SELECT_PIN_REPORTS)
                        .bind(app_id)
                        .bind(i64::from(limit));
                    fetch_all(&self.pool, query, decode_pin_report).await
                }

                async fn insert_pin_signing_key(&self, key: &SigningKey) -> Result<(), StoreError> {
                    let query =
                        bind_signing_key(sqlx::query(pinning_sql::INSERT_PIN_SIGNING_KEY), key);
                    insert(&self.pool, query, "pin-signing key").await
                }

                async fn pin_signing_keys(&self) -> Result<Vec<SigningKey>, StoreError> {
                    let query = sqlx::query(pinning_sql::SELECT_PIN_SIGNING_KEYS);
                    fetch_all(&self.pool, query, decode_signing_key).await
                }

                async fn mark_token_used(
                    &self,
                    jti: &str,
                    expires_at: i64,
                    now: i64,
                ) -> Result<bool, StoreError> {
                    let query = sqlx::query(sql::MARK_TOKEN_USED)
                        .bind(jti)
                        .bind(expires_at)
                        .bind(now);
                    Ok(execute(&self.pool, query).await? == 1)
                }

                async fn purge_used_tokens(
                    &self,
                    before: i64,
                    limit: u32,
                ) -> Result<u64, StoreError> {
                    let query = sqlx::query(sql::PURGE_USED_TOKENS)
                        .bind(before)
                        .bind(i64::from(limit));
                    execute(&self.pool, query).await
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

            /// Binds `$1` to `$5` of [`sql::INSERT_SIGNING_KEY`] and
            /// [`pinning_sql::INSERT_PIN_SIGNING_KEY`], which share their column order.
            fn bind_signing_key(query: Query, key: &SigningKey) -> Query {
                query
                    .bind(&key.kid)
                    .bind(&key.algorithm)
                    .bind(&key.encrypted_private_key)
                    .bind(&key.public_key)
                    .bind(key.created_at)
            }

            /// Binds `$1` to `$7` of [`pinning_sql::COUNT_PIN_REPORT`] and
            /// [`pinning_sql::INSERT_PIN_REPORT`]: the report's columns in order.
            fn bind_pin_report(query: Query, report: &PinReportEvent) -> Query {
                query
                    .bind(&report.app_id)
                    .bind(&report.host)
                    .bind(&report.reason)
                    .bind(report.document_version)
                    .bind(&report.app_version)
                    .bind(report.received_at)
                    .bind(&report.sample)
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
                let id: String = read_column(row, "id")?;
                let ban = sql::decode_install_ban(
                    read_column(row, "banned_at")?,
                    read_column(row, "ban_reason")?,
                    &id,
                )?;

                Ok(Install {
                    id,
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
                    ban,
                })
            }

            fn decode_policy(row: &Row) -> Result<PolicyRecord, StoreError> {
                Ok(PolicyRecord {
                    app_id: read_column(row, "app_id")?,
                    version: read_column(row, "version")?,
                    document: read_column(row, "document")?,
                    created_at: read_column(row, "created_at")?,
                    created_by: read_column(row, "created_by")?,
                })
            }

            fn decode_audit_entry(row: &Row) -> Result<AuditEntry, StoreError> {
                Ok(AuditEntry {
                    at: read_column(row, "at")?,
                    actor: read_column(row, "actor")?,
                    action: read_column(row, "action")?,
                    app_id: read_column(row, "app_id")?,
                    subject: read_column(row, "subject")?,
                    detail: read_column(row, "detail")?,
                })
            }

            fn decode_decision(row: &Row) -> Result<DecisionRecord, StoreError> {
                Ok(DecisionRecord {
                    app_id: read_column(row, "app_id")?,
                    install_id: read_column(row, "install_id")?,
                    at: read_column(row, "at")?,
                    kind: read_column(row, "kind")?,
                    policy_version: read_column(row, "policy_version")?,
                    market: read_column(row, "market")?,
                    outcome: read_column(row, "outcome")?,
                    enforced_outcome: read_column(row, "enforced_outcome")?,
                    reasons: read_column(row, "reasons")?,
                    verdict: read_column(row, "verdict")?,
                    providers: read_column(row, "providers")?,
                    platform: read_column(row, "platform")?,
                    app_version: read_column(row, "app_version")?,
                })
            }

            fn decode_debug_device(row: &Row) -> Result<DebugDevice, StoreError> {
                Ok(DebugDevice {
                    app_id: read_column(row, "app_id")?,
                    key_id: read_column(row, "key_id")?,
                    note: read_column(row, "note")?,
                    expires_at: read_column(row, "expires_at")?,
                    created_at: read_column(row, "created_at")?,
                })
            }

            fn decode_api_domain(row: &Row) -> Result<ApiDomain, StoreError> {
                Ok(ApiDomain {
                    app_id: read_column(row, "app_id")?,
                    host: read_column(row, "host")?,
                    port: read_column(row, "port")?,
                    probe_host: read_column(row, "probe_host")?,
                    connect_to: read_column(row, "connect_to")?,
                    ca_bundle_pem: read_column(row, "ca_bundle_pem")?,
                    managed: read_column(row, "managed")?,
                    created_at: read_column(row, "created_at")?,
                })
            }

            fn decode_pin_set_row(row: &Row) -> Result<pinning_sql::PinSetRow, StoreError> {
                let host: String = read_column(row, "host")?;
                let details = pinning_sql::PinDetails {
                    valid_until: read_column(row, "valid_until")?,
                    level: read_column(row, "level")?,
                    key_type: read_column(row, "key_type")?,
                    not_after: read_column(row, "not_after")?,
                };
                let pin = pinning_sql::decode_pin_set_entry(
                    read_column(row, "pin")?,
                    read_column(row, "role")?,
                    read_column(row, "note")?,
                    details,
                    &host,
                )?;
                Ok(pinning_sql::PinSetRow {
                    app_id: read_column(row, "app_id")?,
                    host,
                    expires_at: read_column(row, "expires_at")?,
                    mode: read_column(row, "mode")?,
                    after_expiry: read_column(row, "after_expiry")?,
                    user_anchors: read_column(row, "user_anchors")?,
                    updated_at: read_column(row, "updated_at")?,
                    updated_by: read_column(row, "updated_by")?,
                    pin,
                })
            }

            fn decode_pin_document(row: &Row) -> Result<PinDocumentRecord, StoreError> {
                Ok(PinDocumentRecord {
                    app_id: read_column(row, "app_id")?,
                    version: read_column(row, "version")?,
                    issued_at: read_column(row, "issued_at")?,
                    expires_at: read_column(row, "expires_at")?,
                    document: read_column(row, "document")?,
                    pin_sets: read_column(row, "pin_sets")?,
                    forced: read_column(row, "forced")?,
                    published_at: read_column(row, "published_at")?,
                    published_by: read_column(row, "published_by")?,
                })
            }

            fn decode_domain_check(row: &Row) -> Result<DomainCheckRecord, StoreError> {
                Ok(DomainCheckRecord {
                    app_id: read_column(row, "app_id")?,
                    host: read_column(row, "host")?,
                    status: read_column(row, "status")?,
                    detail: read_column(row, "detail")?,
                    checked_at: read_column(row, "checked_at")?,
                    earliest_not_after: read_column(row, "earliest_not_after")?,
                })
            }

            fn decode_pin_report(row: &Row) -> Result<PinReportAggregate, StoreError> {
                Ok(PinReportAggregate {
                    app_id: read_column(row, "app_id")?,
                    host: read_column(row, "host")?,
                    reason: read_column(row, "reason")?,
                    document_version: read_column(row, "document_version")?,
                    app_version: read_column(row, "app_version")?,
                    count: read_column(row, "count")?,
                    first_seen: read_column(row, "first_seen")?,
                    last_seen: read_column(row, "last_seen")?,
                    sample: read_column(row, "sample")?,
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
