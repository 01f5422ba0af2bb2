//! The fleet protocol: how an instance's refresh goes through a [`TokenStore`] so that
//! the whole fleet makes one token request per token lifetime.
//!
//! Run by the provider's single flight (so at most once at a time per instance), only when
//! its own token is absent, due or rejected:
//!
//! 1. Load what the store holds. A stored token is adopted (no request) when it is neither
//!    the one being replaced nor the one a server last rejected, and has more time left
//!    than the refresh window and the store's timeout (time left: the store's TTL, never
//!    more than the token's lifetime). A stored token a server rejected is removed, if it
//!    is still the stored one.
//! 2. Otherwise take the refresh lock (`SET NX PX`, with a random value chosen here; TTL:
//!    what a holder's whole run may take, two token requests and two store operations, plus
//!    a margin). The holder loads again (another holder may have saved meanwhile), takes
//!    the store's refresh token, fetches, then saves the token and releases the lock in one
//!    step, only if it still holds the lock. A failed fetch turns the lock into a failure
//!    marker for the cool-down: the instances waiting fail at once with the holder's error,
//!    and the fleet backs off together.
//! 3. Without the lock: poll, jittered, until a token is adopted, a failure marker shows
//!    (fail at once), or the lock is free again (its holder crashed: take it over); for at
//!    most a token request's timeout, spread among the instances, after which each fetches
//!    on its own.
//!
//! The store failing (an error, or slower than its timeout) never fails a call: the flight
//! fetches on its own, the store is left alone for a back-off, and one warning is logged
//! per outage.

use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::{Loaded, StoreError, StoreKey, StoreLock, TokenStore};
use crate::{AccessToken, RefreshPolicy, RefreshToken, TokenError, TokenSource, time};

type Outcome = Result<AccessToken, TokenError>;

/// Added to a holder's longest legitimate run to make the refresh lock's TTL.
const LOCK_MARGIN: Duration = Duration::from_secs(1);
/// Between two looks at the store while another instance refreshes (± half, at random).
const POLL: Duration = Duration::from_millis(50);
/// How long the store is left alone after it failed.
const RETRY_AFTER: Duration = Duration::from_secs(1);
/// The most characters of a holder's error written to the store, and read back from it.
const FAILURE_MAX_CHARS: usize = 1000;

/// A provider's link to its store.
pub(crate) struct Fleet {
    store: Arc<dyn TokenStore>,
    key: StoreKey,
    /// How long the wait for another instance's refresh lasts at most.
    request_timeout: Duration,
    lock_ttl: Duration,
    policy: RefreshPolicy,
    /// The end of the store's back-off after a failure; `None`: the store is answering.
    down_until: Mutex<Option<Instant>>,
}

/// A token as the store keeps it (JSON, then encrypted by the store if it encrypts).
#[derive(Serialize, Deserialize)]
struct Wire {
    access_token: String,
    token_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    /// Its lifetime when issued, in milliseconds: every instance computes the same
    /// refresh window from it.
    lifetime_ms: u64,
}

impl Fleet {
    pub(crate) fn new(
        store: Arc<dyn TokenStore>,
        key: StoreKey,
        request_timeout: Duration,
        policy: RefreshPolicy,
    ) -> Self {
        // A holder's longest legitimate run: its load, a refresh-token request refused
        // (`invalid_grant`) then the primary grant's, its save.
        let lock_ttl = request_timeout
            .saturating_mul(2)
            .saturating_add(store.timeout().saturating_mul(2))
            .saturating_add(LOCK_MARGIN);
        Self {
            store,
            key,
            request_timeout,
            lock_ttl,
            policy,
            down_until: Mutex::new(None),
        }
    }

    /// A token for the flight: from the store, or fetched from `source` (and shared).
    /// `replacing`: the token this refresh replaces, never adopted back; `rejected`: the
    /// tokens servers last rejected, never adopted either, and removed from the store when
    /// one is the stored one.
    pub(crate) async fn fetch(
        &self,
        source: &dyn TokenSource,
        replacing: Option<AccessToken>,
        rejected: &[AccessToken],
    ) -> Outcome {
        if !self.available() {
            return source.fetch().await;
        }
        let avoid = Avoid {
            replacing,
            rejected,
        };
        match self.through_store(source, &avoid).await {
            Ok(outcome) => outcome,
            Err(Fallback::StoreFailed(error)) => {
                self.failed(&error);
                source.fetch().await
            }
            Err(Fallback::HolderTooSlow) => {
                tracing::debug!("no token shared in time by the instance refreshing it: fetching");
                source.fetch().await
            }
        }
    }

    /// Steps 1 to 3. `Err`: fetch without the store (nothing was fetched yet).
    async fn through_store(
        &self,
        source: &dyn TokenSource,
        avoid: &Avoid<'_>,
    ) -> Result<Outcome, Fallback> {
        // The wait for another instance's token lasts a token request's timeout at most,
        // spread among the instances waiting: if the holder hangs, their own fetches do not
        // all start at once.
        let deadline = time::after(Instant::now(), spread(self.request_timeout));
        loop {
            let (loaded, adopted) = self.load(avoid).await?;
            if let Some(token) = adopted {
                return Ok(Ok(token));
            }
            if let Some(failure) = &loaded.failure {
                let error = TokenError::SharedRefreshFailed(clean(failure));
                tracing::debug!(%error, "failing at once: the fleet backs off together");
                return Ok(Err(error));
            }
            if !loaded.locked {
                let lock = StoreLock::random();
                if self.take(&lock).await? {
                    return Ok(self.as_holder(source, avoid, lock).await);
                }
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Fallback::HolderTooSlow);
            }
            // No later than the deadline (one last look), nor than the lock's expiry (its
            // holder crashed: take over at once).
            let mut pause = jittered(POLL).min(deadline - now);
            if let Some(left) = loaded.lock_expires_in {
                pause = pause.min(left.max(Duration::from_millis(1)));
            }
            tokio::time::sleep(pause).await;
        }
    }

    /// Takes the refresh lock with `lock`'s value.
    async fn take(&self, lock: &StoreLock) -> Result<bool, Fallback> {
        let taken = self
            .op(self.store.lock(&self.key, lock, self.lock_ttl))
            .await;
        if taken.is_err() {
            // The lock may be taken all the same (the answer came late, or was lost): let
            // it go, rather than have the fleet wait for it to expire.
            self.release_later(lock);
        }
        taken
    }

    /// Step 2, holding the lock.
    async fn as_holder(
        &self,
        source: &dyn TokenSource,
        avoid: &Avoid<'_>,
        lock: StoreLock,
    ) -> Outcome {
        match self.load(avoid).await {
            Ok((_, Some(token))) => {
                // Saved by the previous holder between our first look and our lock.
                self.release(&lock, Duration::ZERO, None).await;
                return Ok(token);
            }
            // Only the holder takes the store's refresh token, right before using it: the
            // one the store holds is the one the last holder got (rotation revokes the
            // others).
            Ok((loaded, None)) => adopt_refresh_token(source, &loaded),
            Err(Fallback::StoreFailed(error)) => self.failed(&error),
            Err(Fallback::HolderTooSlow) => {}
        }
        let outcome = source.fetch().await;
        match &outcome {
            Ok(token) => self.save(source, &lock, token).await,
            Err(error) => {
                let cooldown = self.policy.failure_cooldown;
                if cooldown.is_zero() {
                    self.release(&lock, Duration::ZERO, None).await;
                } else {
                    // `TokenError`'s text never holds a secret.
                    let text = crate::error::excerpt(&error.to_string(), FAILURE_MAX_CHARS);
                    self.release(&lock, cooldown, Some(&text)).await;
                }
            }
        }
        outcome
    }

    /// Loads the store's state, and its token when usable; removes the token when it is
    /// the rejected one.
    async fn load(&self, avoid: &Avoid<'_>) -> Result<(Loaded, Option<AccessToken>), Fallback> {
        let started = Instant::now();
        let loaded = self.op(self.store.load(&self.key)).await?;
        let Some(bytes) = &loaded.token else {
            return Ok((loaded, None));
        };
        let Some(stored) = decode(bytes, started, loaded.expires_in) else {
            tracing::debug!("the stored token does not parse: treated as absent");
            return Ok((loaded, None));
        };
        if avoid
            .rejected
            .iter()
            .any(|rejected| rejected.same_as(&stored.token))
        {
            self.op(self.store.remove(&self.key, bytes)).await?;
            return Ok((loaded, None));
        }
        if avoid
            .replacing
            .as_ref()
            .is_some_and(|old| old.same_as(&stored.token))
        {
            return Ok((loaded, None));
        }
        let window = self.policy.early_refresh.min(stored.lifetime / 2);
        let usable = stored.left > window.max(self.store.timeout());
        Ok((loaded, usable.then_some(stored.token)))
    }

    async fn save(&self, source: &dyn TokenSource, lock: &StoreLock, token: &AccessToken) {
        let ttl = token.expires_in();
        let wire = Wire {
            access_token: token.secret().to_owned(),
            token_type: token.token_type().to_owned(),
            scope: token.scope().map(str::to_owned),
            lifetime_ms: u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX),
        };
        let bytes = serde_json::to_vec(&wire).expect("a token serializes");
        let refresh = source.refresh_token();
        let refresh = refresh.as_ref().map(|t| t.secret().as_bytes());
        if ttl.is_zero() {
            self.release(lock, Duration::ZERO, None).await;
            return;
        }
        match self
            .op(self.store.save(&self.key, lock, &bytes, ttl, refresh))
            .await
        {
            Ok(true) => tracing::debug!("token shared through the store"),
            Ok(false) => tracing::debug!(
                "refresh lock expired before the token was shared: the store keeps its token"
            ),
            Err(Fallback::StoreFailed(error)) => {
                // The save may not have happened, and then the lock is still ours.
                self.release_later(lock);
                self.failed(&error);
            }
            Err(Fallback::HolderTooSlow) => {}
        }
    }

    async fn release(&self, lock: &StoreLock, hold: Duration, failure: Option<&str>) {
        if let Err(Fallback::StoreFailed(error)) = self
            .op(self.store.hold(&self.key, lock, hold, failure))
            .await
        {
            self.failed(&error);
        }
    }

    /// Releases `lock` in the background, if it is still held: best effort, after an
    /// operation that may have left it taken gave no answer in time.
    fn release_later(&self, lock: &StoreLock) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (store, key, lock) = (Arc::clone(&self.store), self.key.clone(), lock.clone());
        let limit = store.timeout();
        drop(runtime.spawn(async move {
            let release = store.hold(&key, &lock, Duration::ZERO, None);
            if let Ok(Err(error)) = tokio::time::timeout(limit, release).await {
                tracing::debug!(%error, "could not release a refresh lock");
            }
        }));
    }

    /// Runs one store operation within the store's timeout.
    async fn op<T>(
        &self,
        operation: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, Fallback> {
        let limit = self.store.timeout();
        match tokio::time::timeout(limit, operation).await {
            Ok(Ok(value)) => {
                self.answered();
                Ok(value)
            }
            Ok(Err(error)) => Err(Fallback::StoreFailed(error)),
            Err(_) => Err(Fallback::StoreFailed(StoreError::new(format_args!(
                "no answer within {limit:?}"
            )))),
        }
    }

    fn down_until(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.down_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the store is out of its back-off.
    fn available(&self) -> bool {
        self.down_until()
            .is_none_or(|until| Instant::now() >= until)
    }

    /// Leaves the store alone for a while; warns at the start of an outage only.
    fn failed(&self, error: &StoreError) {
        let first = self
            .down_until()
            .replace(time::after(Instant::now(), RETRY_AFTER))
            .is_none();
        if first {
            tracing::warn!(
                %error,
                "token store unavailable: each instance fetches its own tokens until it answers again"
            );
        } else {
            tracing::debug!(%error, "token store still unavailable");
        }
    }

    /// The store answered: ends an outage.
    fn answered(&self) {
        if self.down_until().take().is_some() {
            tracing::info!("token store answering again: sharing tokens through it");
        }
    }
}

/// The tokens a refresh never adopts from the store.
struct Avoid<'a> {
    /// The token it replaces (the cached one).
    replacing: Option<AccessToken>,
    /// The tokens servers last rejected: removed from the store when still stored.
    rejected: &'a [AccessToken],
}

enum Fallback {
    StoreFailed(StoreError),
    HolderTooSlow,
}

/// Gives `source` the store's refresh token, if it holds one.
fn adopt_refresh_token(source: &dyn TokenSource, loaded: &Loaded) {
    if let Some(bytes) = &loaded.refresh_token
        && let Ok(secret) = std::str::from_utf8(bytes)
        && !secret.is_empty()
    {
        source.set_refresh_token(Some(RefreshToken::new(secret)));
    }
}

/// A token read from the store.
struct Stored {
    token: AccessToken,
    /// Its lifetime when issued.
    lifetime: Duration,
    /// Its time left: the store's count, at most its lifetime.
    left: Duration,
}

/// The token in `bytes`, read at `read_at` with `expires_in` left by the store's count;
/// `None` for bytes that are not a token usable in an `Authorization` header.
fn decode(bytes: &[u8], read_at: Instant, expires_in: Duration) -> Option<Stored> {
    let wire: Wire = serde_json::from_slice(bytes).ok()?;
    if wire.access_token.is_empty() {
        return None;
    }
    let lifetime = Duration::from_millis(wire.lifetime_ms);
    // A TTL longer than the token's lifetime was not set by a provider: not trusted.
    let left = expires_in.min(lifetime);
    let token = AccessToken::with_details(
        wire.access_token,
        wire.token_type,
        time::after(read_at, left),
        wire.scope,
    );
    token.bearer_header()?;
    Some(Stored {
        token,
        lifetime,
        left,
    })
}

/// A holder's error as read from the store (another process wrote it): bounded, and
/// without control characters.
fn clean(failure: &str) -> String {
    crate::redact::escape_controls(&crate::error::excerpt(failure, FAILURE_MAX_CHARS))
}

/// A random duration in `[0, limit)`.
fn random_below(limit: Duration) -> Duration {
    let nanos = u64::try_from(limit.as_nanos()).unwrap_or(u64::MAX);
    if nanos == 0 {
        return Duration::ZERO;
    }
    let random = RandomState::new().hash_one(Instant::now());
    Duration::from_nanos(random % nanos)
}

/// `base`, plus or minus half of it, at random: instances polling together drift apart.
fn jittered(base: Duration) -> Duration {
    base / 2 + random_below(base)
}

/// Between three quarters of `base` and `base`, at random: instances giving up together
/// do not act together.
fn spread(base: Duration) -> Duration {
    base - random_below(base / 4)
}
