//! The behaviour of used-token marks for limited-use tokens. `store.rs` runs each function
//! here once per backend, through the same list as the rest of the suite.

use std::sync::Arc;

use avow_store::Store;

use crate::backend::TestDatabase;

/// The current time in these tests, in Unix seconds.
const NOW: i64 = 1_700_000_000;

/// A token lifetime, in seconds.
const TOKEN_LIFETIME: i64 = 300;

/// How many tasks race to mark one token id.
const CONCURRENT_MARKS: usize = 32;

/// How many times the race is repeated, each with a new token id.
const MARK_ROUNDS: u8 = 4;

pub(crate) async fn token_marked_used_once(db: TestDatabase) {
    let store = db.open().await;

    let first = mark(&store, "jti-1", NOW + TOKEN_LIFETIME, NOW).await;
    let second = mark(&store, "jti-1", NOW + TOKEN_LIFETIME, NOW + 1).await;
    // Another expiry time does not make it a new token.
    let third = mark(&store, "jti-1", NOW + 10 * TOKEN_LIFETIME, NOW + 2).await;

    assert!(first, "the first use was not marked");
    assert!(!second, "a second use was marked");
    assert!(!third, "a use with another expiry was marked");
}

pub(crate) async fn token_marks_independent(db: TestDatabase) {
    let store = db.open().await;

    let first = mark(&store, "jti-a", NOW + TOKEN_LIFETIME, NOW).await;
    let other = mark(&store, "jti-b", NOW + TOKEN_LIFETIME, NOW).await;
    // Ids compare by bytes: a different letter case is another token.
    let upper = mark(&store, "JTI-A", NOW + TOKEN_LIFETIME, NOW).await;
    let first_again = mark(&store, "jti-a", NOW + TOKEN_LIFETIME, NOW).await;

    assert!(first);
    assert!(other);
    assert!(upper);
    assert!(!first_again);
}

pub(crate) async fn used_token_purge_removes_only_expired(db: TestDatabase) {
    let store = db.open().await;
    for (jti, expires_at) in [
        ("early", NOW + 100),
        ("boundary", NOW + 200),
        ("late", NOW + 300),
    ] {
        assert!(mark(&store, jti, expires_at, NOW).await, "{jti}");
    }

    let first_purge = purge(&store, NOW + 200, 100).await;

    assert_eq!(first_purge, 1);
    // A purged mark is gone, so the id can be marked again. The others are still marked.
    assert!(mark(&store, "early", NOW + 100, NOW + 250).await);
    assert!(!mark(&store, "boundary", NOW + 200, NOW + 250).await);
    assert!(!mark(&store, "late", NOW + 300, NOW + 250).await);

    assert_eq!(
        purge(&store, NOW + 200, 100).await,
        1,
        "the re-marked early id"
    );
    assert_eq!(purge(&store, NOW + 200, 100).await, 0);
    assert_eq!(purge(&store, NOW + 301, 100).await, 2);
    assert_eq!(
        db.fetch_i64("SELECT COUNT(*) FROM used_tokens").await,
        0,
        "rows left after the final purge"
    );
}

pub(crate) async fn used_token_purge_bounded(db: TestDatabase) {
    let store = db.open().await;
    for index in 0..5 {
        let jti = format!("expired-{index}");
        assert!(mark(&store, &jti, NOW - 10, NOW - 300).await);
    }
    assert!(mark(&store, "live", NOW + TOKEN_LIFETIME, NOW).await);

    let batches = [
        purge(&store, NOW, 2).await,
        purge(&store, NOW, 2).await,
        purge(&store, NOW, 2).await,
        purge(&store, NOW, 2).await,
    ];

    assert_eq!(batches, [2, 2, 1, 0]);
    assert_eq!(purge(&store, NOW, 0).await, 0);
    assert!(!mark(&store, "live", NOW + TOKEN_LIFETIME, NOW).await);
}

pub(crate) async fn concurrent_token_marks_one_winner(db: TestDatabase) {
    // Two stores with separate pools play two server instances sharing one database.
    let instances = [db.open().await, db.open().await];

    for round in 0..MARK_ROUNDS {
        let jti = format!("jti-race-{round}");
        let mut tasks = Vec::with_capacity(CONCURRENT_MARKS);
        for call in 0..CONCURRENT_MARKS {
            let store = Arc::clone(&instances[call % instances.len()]);
            let jti = jti.clone();
            tasks.push(tokio::spawn(async move {
                store.mark_token_used(&jti, NOW + TOKEN_LIFETIME, NOW).await
            }));
        }
        let mut outcomes = Vec::with_capacity(CONCURRENT_MARKS);
        for task in tasks {
            let outcome = task.await.expect("join a marking task");
            outcomes.push(outcome.expect("mark_token_used reached the database"));
        }

        let winners = outcomes.iter().filter(|&&marked| marked).count();
        assert_eq!(winners, 1, "round {round}: {outcomes:?}");
    }
}

async fn mark(store: &Arc<dyn Store>, jti: &str, expires_at: i64, now: i64) -> bool {
    store
        .mark_token_used(jti, expires_at, now)
        .await
        .expect("mark_token_used reached the database")
}

async fn purge(store: &Arc<dyn Store>, before: i64, limit: u32) -> u64 {
    store
        .purge_used_tokens(before, limit)
        .await
        .expect("purge_used_tokens reached the database")
}
