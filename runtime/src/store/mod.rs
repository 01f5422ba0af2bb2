//! [`TokenStore`]: a token shared by a fleet of instances, with one refresh at a time
//! across the fleet. The protocol lives in `fleet.rs`, the Redis engine in `redis.rs`.
//!
//! A store holds, per token configuration ([`StoreKey`]): the token's bytes with a time to
//! live, the refresh token's bytes, and a refresh lock. It sees only bytes: what they mean
//! (and the adoption rules) is the provider's; how they are kept (encrypted, on which
//! engine) is the store's.

use std::fmt;
use std::time::Duration;

pub(crate) mod fleet;
#[cfg(feature = "redis")]
mod redis;

#[cfg(feature = "redis")]
pub use self::redis::RedisTokenStore;

/// A store shared by the instances of a service, through which they share one token and
/// take turns refreshing it: `SharedTokenProvider::builder(options).store(store)`.
///
/// Object-safe, so engines other than `RedisTokenStore` (feature
/// `redis`) can follow. Every method works on one [`StoreKey`]; the provider calls them only
/// when its own cached token is absent or due, never on the hot path, and treats any error
/// (or an operation slower than [`timeout`](Self::timeout)) as the store being down: it then
/// fetches on its own, as without a store.
#[async_trait::async_trait]
pub trait TokenStore: Send + Sync + 'static {
    /// Refuses a store that is not fully configured; called when the provider is built.
    fn check(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// How long one operation may take before the provider gives up on it. Default 500 ms.
    fn timeout(&self) -> Duration {
        DEFAULT_TIMEOUT
    }

    /// What the store holds for `key`, read at one instant. A value the store cannot read
    /// (one that does not decrypt, written under another key) is absent.
    async fn load(&self, key: &StoreKey) -> Result<Loaded, StoreError>;

    /// Takes the refresh lock of `key` with the value of `lock` (chosen by the caller, see
    /// [`StoreLock::random`]) for `ttl`, unless someone holds it: `true` when taken.
    ///
    /// The caller chooses the value so that it can release a lock this call may have taken
    /// even when it gave up waiting for the answer.
    async fn lock(
        &self,
        key: &StoreKey,
        lock: &StoreLock,
        ttl: Duration,
    ) -> Result<bool, StoreError>;

    /// If `lock` still holds the refresh lock of `key`, at once: stores `token` for `ttl`,
    /// stores `refresh_token` (or removes the stored one), releases the lock and returns
    /// `true`. Otherwise (the lock expired; maybe another instance holds it now) changes
    /// nothing and returns `false`.
    async fn save(
        &self,
        key: &StoreKey,
        lock: &StoreLock,
        token: &[u8],
        ttl: Duration,
        refresh_token: Option<&[u8]>,
    ) -> Result<bool, StoreError>;

    /// If `lock` still holds the refresh lock of `key`: releases it when `hold` is zero;
    /// otherwise keeps the lock taken for `hold` from now.
    ///
    /// With a `failure` (the holder's fetch failed: the text of its error, no secret in
    /// it), the lock becomes a failure marker for `hold` (the fleet's cool-down): until it
    /// expires, [`load`](Self::load) reports the lock as held, with this
    /// [`failure`](Loaded::failure), so that the instances waiting for the holder fail at
    /// once instead of waiting out the lock, and nobody holds the lock any more (no `save`
    /// or `hold` goes through with it).
    async fn hold(
        &self,
        key: &StoreKey,
        lock: &StoreLock,
        hold: Duration,
        failure: Option<&str>,
    ) -> Result<(), StoreError>;

    /// Removes the token of `key` if its value still is `stale` (as [`load`](Self::load)
    /// read it): a token a server rejected goes, a newer one stays. `true`: removed.
    async fn remove(&self, key: &StoreKey, stale: &[u8]) -> Result<bool, StoreError>;
}

/// The default of [`TokenStore::timeout`].
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_millis(500);

#[async_trait::async_trait]
impl<S: TokenStore + ?Sized> TokenStore for std::sync::Arc<S> {
    fn check(&self) -> Result<(), StoreError> {
        (**self).check()
    }
    fn timeout(&self) -> Duration {
        (**self).timeout()
    }
    async fn load(&self, key: &StoreKey) -> Result<Loaded, StoreError> {
        (**self).load(key).await
    }
    async fn lock(
        &self,
        key: &StoreKey,
        lock: &StoreLock,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        (**self).lock(key, lock, ttl).await
    }
    async fn save(
        &self,
        key: &StoreKey,
        lock: &StoreLock,
        token: &[u8],
        ttl: Duration,
        refresh_token: Option<&[u8]>,
    ) -> Result<bool, StoreError> {
        (**self).save(key, lock, token, ttl, refresh_token).await
    }
    async fn hold(
        &self,
        key: &StoreKey,
        lock: &StoreLock,
        hold: Duration,
        failure: Option<&str>,
    ) -> Result<(), StoreError> {
        (**self).hold(key, lock, hold, failure).await
    }
    async fn remove(&self, key: &StoreKey, stale: &[u8]) -> Result<bool, StoreError> {
        (**self).remove(key, stale).await
    }
}

/// What a [`TokenStore`] holds for one key, read at one instant.
///
/// `#[non_exhaustive]`: fields may be added. An engine builds it with
/// `Loaded::default()`, then sets the fields it has:
///
/// ```
/// # use std::time::Duration;
/// # use token_client_runtime::Loaded;
/// let mut loaded = Loaded::default();
/// loaded.token = Some(b"...".to_vec());
/// loaded.expires_in = Duration::from_secs(300);
/// ```
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct Loaded {
    /// The token's bytes, as saved.
    pub token: Option<Vec<u8>>,
    /// How long the token has left, as the store counts it (Redis: `PTTL`): never
    /// computed from another host's clock.
    pub expires_in: Duration,
    /// The refresh token's bytes, as saved.
    pub refresh_token: Option<Vec<u8>>,
    /// Whether some instance holds the refresh lock (or its failure marker).
    pub locked: bool,
    /// How long the refresh lock has left, as the store counts it, when it is held.
    pub lock_expires_in: Option<Duration>,
    /// The lock is a failure marker (see [`TokenStore::hold`]): the error of the instance
    /// whose refresh failed, as it wrote it.
    pub failure: Option<String>,
}

impl fmt::Debug for Loaded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Loaded")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("expires_in", &self.expires_in)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "<redacted>"),
            )
            .field("locked", &self.locked)
            .field("lock_expires_in", &self.lock_expires_in)
            .field("failure", &self.failure)
            .finish()
    }
}

/// Names one token configuration in a store: a hash of what makes tokens differ (token
/// endpoint, client id, client authentication, grant and user name, scope, audience,
/// resource, extra parameters), never of a secret. 64 hex digits.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct StoreKey(String);

impl StoreKey {
    /// The key of the tokens `options` fetch: what a provider built from them uses.
    pub fn for_options(options: &crate::TokenOptions) -> Self {
        options.store_key()
    }

    /// The key as text (64 lowercase hex digits).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub(crate) fn from_hash(hash: &[u8]) -> Self {
        use fmt::Write as _;
        let mut hex = String::with_capacity(hash.len() * 2);
        for byte in hash {
            let _ = write!(hex, "{byte:02x}");
        }
        Self(hex)
    }
}

/// Proof of holding a refresh lock: the random value it was taken with.
#[derive(Clone, PartialEq, Eq)]
pub struct StoreLock(String);

impl StoreLock {
    /// A lock taken with `value` (random, unguessable by other instances).
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// A lock with a random value of 128 bits (32 lowercase hex digits), different at
    /// every call, in every process.
    pub fn random() -> Self {
        use std::hash::{BuildHasher, RandomState};
        use std::sync::atomic::{AtomicU64, Ordering};
        // `RandomState` keys come from the OS's randomness (per thread, then stepped at
        // each `new`): two of them hash the same input to two independent 64-bit halves.
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let input = (
            COUNTER.fetch_add(1, Ordering::Relaxed),
            std::process::id(),
            std::time::SystemTime::now(),
        );
        let high = RandomState::new().hash_one(input);
        let low = RandomState::new().hash_one(input);
        Self(format!("{high:016x}{low:016x}"))
    }

    /// The value the lock was taken with.
    pub fn value(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for StoreLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StoreLock(..)")
    }
}

/// A [`TokenStore`] failed: not reachable, too slow, or not configured.
///
/// Never carries a token or a key's value.
#[derive(Clone, Debug)]
pub struct StoreError {
    message: String,
}

impl StoreError {
    /// An error saying `message` (no secrets in it: it is logged).
    pub fn new(message: impl fmt::Display) -> Self {
        Self {
            message: message.to_string(),
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StoreError {}
