//! The token check of `avow guard`, with a cache of verified tokens.
//!
//! An app sends the same token with every request until it refreshes it, so the proxy remembers
//! each verified token and, when it comes back, checks only its time claims again. This skips
//! the ES256 signature verification, the largest cost of a request.
//!
//! A remembered token is accepted exactly when the full check would accept it. Its signature,
//! `typ`, `alg`, `iss` and `aud` cannot change, and `exp` and `iat` are checked again at every
//! use. Tokens bound to a request header (`pay`) are never remembered, because their check
//! depends on other headers. A remembered token stays accepted until it expires even when its
//! key leaves the JWKS.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use avow_guard::{Claims, GuardConfig, GuardError, TokenHeader};
use avow_token::TokenVerifier;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};

/// A token that passed the check, with the headers that carry its claims upstream.
#[derive(Debug)]
pub(crate) struct Verified {
    pub(crate) claims: Claims,
    pub(crate) headers: Box<[(HeaderName, HeaderValue)]>,
}

/// The guard check plus the cache of verified tokens.
pub(crate) struct TokenCheck {
    config: GuardConfig,
    /// Checks `iss`, `aud`, `exp` and `iat` of a remembered token with the guard's rules.
    claim_rules: TokenVerifier,
    cache: Option<TokenCache>,
}

impl TokenCheck {
    /// Builds the check. A `cache_size` of 0 turns the cache off.
    pub(crate) fn new(config: GuardConfig, claim_rules: TokenVerifier, cache_size: usize) -> Self {
        let cache = (cache_size > 0).then(|| TokenCache::new(cache_size));
        Self {
            config,
            claim_rules,
            cache,
        }
    }

    /// Returns the header the token is read from.
    pub(crate) fn token_header(&self) -> &TokenHeader {
        self.config.token_header()
    }

    /// Checks the token in `headers` at `now` (Unix seconds). A token that is not remembered
    /// goes through the guard's full check, which loads the JWKS again for an unknown `kid`.
    ///
    /// # Errors
    ///
    /// The [`GuardError`] of the guard's check, unchanged.
    pub(crate) async fn check(
        &self,
        headers: &HeaderMap,
        now: u64,
    ) -> Result<Arc<Verified>, GuardError> {
        let cached = self.cache.as_ref().and_then(|cache| {
            let token = read_token(self.config.token_header(), headers)?;
            cache.get(token)
        });
        if let Some(verified) = cached
            && self.claim_rules.check_claims(&verified.claims, now).is_ok()
        {
            return Ok(verified);
        }

        let claims = avow_guard::check_with_refresh(&self.config, headers, now).await?;
        let cacheable = claims.pay.is_none();
        let verified = Arc::new(Verified {
            headers: avow_guard::claim_headers(&claims).into_boxed_slice(),
            claims,
        });
        if cacheable
            && let Some(cache) = &self.cache
            && let Some(token) = read_token(self.config.token_header(), headers)
        {
            cache.insert(token, Arc::clone(&verified));
        }
        Ok(verified)
    }

    /// Returns the token text of `headers`, read as the check reads it.
    pub(crate) fn token<'h>(&self, headers: &'h HeaderMap) -> Option<&'h str> {
        read_token(self.config.token_header(), headers)
    }
}

/// Reads the token with the guard's own reader, so that a cache hit is only possible where the
/// full check reads the same token. Returns `None` wherever the check would fail on the header.
fn read_token<'h>(token_header: &TokenHeader, headers: &'h HeaderMap) -> Option<&'h str> {
    avow_guard::read_token(token_header, headers).ok()
}

/// Verified tokens by their text, in two generations of at most `capacity` tokens each.
///
/// A lookup tries the current generation, then the previous one, and moves a token found in
/// the previous one to the current one. When the current generation is full, it becomes the
/// previous one and the old previous one is dropped. So every step costs O(1) amortised, the
/// cache contains at most `2 × capacity` tokens, the `capacity` most recently used tokens are
/// always kept, and a token that is not used again, such as an expired one, leaves the cache
/// after two generations.
struct TokenCache {
    generations: RwLock<Generations>,
    capacity: usize,
}

#[derive(Default)]
struct Generations {
    current: HashMap<Box<str>, Arc<Verified>>,
    previous: HashMap<Box<str>, Arc<Verified>>,
}

impl Generations {
    /// Adds a token to the current generation, first starting a new generation when the
    /// current one is full. Returns the dropped generation, so that the caller frees it after
    /// releasing the lock.
    fn insert(
        &mut self,
        capacity: usize,
        token: Box<str>,
        verified: Arc<Verified>,
    ) -> Option<HashMap<Box<str>, Arc<Verified>>> {
        let dropped =
            (self.current.len() >= capacity && !self.current.contains_key(&token)).then(|| {
                let current = std::mem::take(&mut self.current);
                std::mem::replace(&mut self.previous, current)
            });
        self.current.insert(token, verified);
        dropped
    }
}

impl TokenCache {
    fn new(capacity: usize) -> Self {
        Self {
            generations: RwLock::new(Generations::default()),
            capacity,
        }
    }

    fn get(&self, token: &str) -> Option<Arc<Verified>> {
        {
            // A poisoned lock only means that another request panicked while inserting. The
            // maps themselves are still consistent, so they stay in use.
            let generations = self
                .generations
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(verified) = generations.current.get(token) {
                return Some(Arc::clone(verified));
            }
            if !generations.previous.contains_key(token) {
                return None;
            }
        }
        // Found in the previous generation: move it to the current one. Another request may
        // have moved or dropped it in the meantime, hence the second lookup.
        let mut generations = self.write();
        if let Some(verified) = generations.current.get(token) {
            return Some(Arc::clone(verified));
        }
        let (token, verified) = generations.previous.remove_entry(token)?;
        let dropped = generations.insert(self.capacity, token, Arc::clone(&verified));
        drop(generations);
        drop(dropped);
        Some(verified)
    }

    /// Remembers `verified` in the current generation.
    fn insert(&self, token: &str, verified: Arc<Verified>) {
        let mut generations = self.write();
        let dropped = generations.insert(self.capacity, token.into(), verified);
        drop(generations);
        drop(dropped);
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Generations> {
        self.generations
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        let generations = self
            .generations
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        generations.current.len() + generations.previous.len()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use avow_guard::Keys;
    use avow_token::{AttestationClaim, Jwks, TokenSigner};

    use super::*;

    const NOW: u64 = 1_800_000_000;
    const ISSUER: &str = "https://avow.test";
    const AUDIENCE: &str = "TEAMID1234.com.example.app";

    fn claims(exp: u64) -> Claims {
        Claims {
            iss: ISSUER.to_owned(),
            sub: AUDIENCE.to_owned(),
            aud: AUDIENCE.to_owned(),
            iat: NOW,
            exp,
            nbf: None,
            jti: "token-1".to_owned(),
            ins: None,
            pay: None,
            att: AttestationClaim {
                prv: vec!["app_attest".to_owned()],
                trust: "hardware".to_owned(),
                app: "recognized".to_owned(),
                dev: "strong".to_owned(),
                flg: Vec::new(),
                env: None,
                at: NOW,
                via: "attestation".to_owned(),
                red: false,
            },
        }
    }

    fn token_check(signer: &TokenSigner, cache_size: usize) -> TokenCheck {
        let jwks = Jwks {
            keys: vec![signer.jwk().unwrap()],
        };
        let config = GuardConfig::builder(Keys::Es256(jwks), ISSUER, vec![AUDIENCE.to_owned()])
            .leeway(Duration::from_secs(30))
            .build()
            .unwrap();
        let claim_rules = TokenVerifier::from_jwks(&Jwks::default())
            .unwrap()
            .with_issuer(ISSUER)
            .with_audiences(vec![AUDIENCE.to_owned()])
            .with_leeway(30);
        TokenCheck::new(config, claim_rules, cache_size)
    }

    /// Runs the async check on a current-thread runtime.
    fn run(check: &TokenCheck, headers: &HeaderMap, now: u64) -> Result<Arc<Verified>, GuardError> {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(check.check(headers, now))
    }

    fn headers(token: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("avow-token", HeaderValue::from_str(token).unwrap());
        headers
    }

    #[test]
    fn reused_token_comes_from_cache() {
        let (signer, _) = TokenSigner::generate().unwrap();
        let check = token_check(&signer, 10);
        let token = signer.sign(&claims(NOW + 300)).unwrap();
        let first = run(&check, &headers(&token), NOW).unwrap();
        let second = run(&check, &headers(&token), NOW + 1).unwrap();
        assert!(Arc::ptr_eq(&first, &second));
    }

    #[test]
    fn cached_token_still_expires() {
        let (signer, _) = TokenSigner::generate().unwrap();
        let check = token_check(&signer, 10);
        let token = signer.sign(&claims(NOW + 300)).unwrap();
        run(&check, &headers(&token), NOW).unwrap();
        let error = run(&check, &headers(&token), NOW + 330).unwrap_err();
        assert_eq!(error.reason(), "token_expired");
    }

    #[test]
    fn repeated_header_is_not_served_from_cache() {
        let (signer, _) = TokenSigner::generate().unwrap();
        let check = token_check(&signer, 10);
        let token = signer.sign(&claims(NOW + 300)).unwrap();
        run(&check, &headers(&token), NOW).unwrap();
        let mut repeated = headers(&token);
        repeated.append("avow-token", HeaderValue::from_str(&token).unwrap());
        let error = run(&check, &repeated, NOW).unwrap_err();
        assert_eq!(error, GuardError::RepeatedTokenHeader);
    }

    #[test]
    fn full_cache_keeps_checking() {
        let (signer, _) = TokenSigner::generate().unwrap();
        let check = token_check(&signer, 1);
        let first = signer.sign(&claims(NOW + 300)).unwrap();
        let second = signer.sign(&claims(NOW + 301)).unwrap();
        let first_verified = run(&check, &headers(&first), NOW).unwrap();
        let second_verified = run(&check, &headers(&second), NOW).unwrap();
        // Both fit: the first token moved to the previous generation.
        let again = run(&check, &headers(&second), NOW).unwrap();
        assert!(Arc::ptr_eq(&second_verified, &again));
        assert_eq!(again.claims.exp, NOW + 301);
        let again = run(&check, &headers(&first), NOW).unwrap();
        assert!(Arc::ptr_eq(&first_verified, &again));
        assert_eq!(check.cache.as_ref().unwrap().len(), 2);
    }

    #[test]
    fn expired_entries_age_out() {
        let (signer, _) = TokenSigner::generate().unwrap();
        let check = token_check(&signer, 1);
        let expiring = signer.sign(&claims(NOW + 10)).unwrap();
        run(&check, &headers(&expiring), NOW).unwrap();
        let error = run(&check, &headers(&expiring), NOW + 60).unwrap_err();
        assert_eq!(error.reason(), "token_expired");
        // Two newer tokens push the expired one out of both generations.
        for exp in [NOW + 300, NOW + 301] {
            let token = signer.sign(&claims(exp)).unwrap();
            run(&check, &headers(&token), NOW + 60).unwrap();
        }
        let cache = check.cache.as_ref().unwrap();
        assert!(cache.get(&expiring).is_none());
        assert_eq!(cache.len(), 2);
    }

    fn verified(exp: u64) -> Arc<Verified> {
        Arc::new(Verified {
            claims: claims(exp),
            headers: Box::new([]),
        })
    }

    #[test]
    fn eviction_keeps_recent_tokens_within_twice_the_capacity() {
        let cache = TokenCache::new(3);
        let mut inserted = Vec::new();
        for index in 0..20 {
            let token = format!("token-{index}");
            cache.insert(&token, verified(NOW + 300 + index));
            inserted.push(token);
            assert!(cache.len() <= 6, "{} tokens after {index}", cache.len());
            // The three most recent tokens are always remembered.
            for recent in inserted.iter().rev().take(3) {
                assert!(cache.get(recent).is_some(), "{recent} after {index}");
            }
        }
        // Tokens that were not used for two generations are gone.
        for old in &inserted[..14] {
            assert!(cache.get(old).is_none(), "{old} is still remembered");
        }
    }

    #[test]
    fn hit_in_previous_generation_is_kept() {
        let cache = TokenCache::new(2);
        for token in ["a", "b", "c"] {
            cache.insert(token, verified(NOW + 300));
        }
        // "a" and "b" are in the previous generation, "c" in the current one. Using "a" moves
        // it to the current one, so the next new generation keeps it and drops "b".
        let a = cache.get("a").unwrap();
        cache.insert("d", verified(NOW + 300));
        assert!(Arc::ptr_eq(&a, &cache.get("a").unwrap()));
        assert!(cache.get("b").is_none());
        assert!(cache.get("c").is_some());
        assert!(cache.get("d").is_some());
    }

    #[test]
    fn bearer_token_is_read_like_the_guard() {
        let bearer = TokenHeader::AuthorizationBearer;
        let mut headers = HeaderMap::new();
        headers.insert("authorization", HeaderValue::from_static("bearer  abc"));
        assert_eq!(read_token(&bearer, &headers), Some("abc"));
        headers.insert("authorization", HeaderValue::from_static("Basic abc"));
        assert_eq!(read_token(&bearer, &headers), None);
        headers.insert("authorization", HeaderValue::from_static("Bearer"));
        assert_eq!(read_token(&bearer, &headers), None);
    }
}
