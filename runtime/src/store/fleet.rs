//! The fleet protocol: how an instance's refresh goes through a [`TokenStore`] so that
//! the whole fleet makes one token request per token lifetime.
//!
//! Run by the provider's single flight (so at most once at a time per instance), only when
//! its own token is absent, due or rejected:
//!
//! 1. Load what the store holds. A stored token that is not the one being replaced and not
//!    yet due is adopted: no request. A stored token a server rejected is removed, if it is
//!    still the stored one.
//! 2. Otherwise take the refresh lock (`SET NX PX`, TTL: the token request's timeout plus a
//!    margin). The holder loads again (another holder may have saved meanwhile), fetches,
//!    then saves the token and releases the lock in one step, only if it still holds the
//!    lock. A failed fetch keeps the lock for the cool-down: the fleet backs off together.
//! 3. Without the lock: poll, jittered, until a token is adopted or the lock is free again
//!    (its holder crashed: take it over).
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

/// Added to the token request's timeout to make the refresh lock's TTL.
const LOCK_MARGIN: Duration = Duration::from_secs(1);
/// Between two looks at the store while another instance refreshes (± half, at random).
const POLL: Duration = Duration::from_millis(50);
/// How long the store is left alone after it failed.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// A provider's link to its store.
pub(crate) struct Fleet {
    store: Arc<dyn TokenStore>,
    key: StoreKey,
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
        Self {
            store,
            key,
            lock_ttl: request_timeout.saturating_add(LOCK_MARGIN),
            policy,
            down_until: Mutex::new(None),
        }
    }

    /// A token for the flight: from the store, or fetched from `source` (and shared).
    /// `replacing`: the token this refresh replaces, never adopted back; `rejected`:
    /// whether a server rejected it (then it is removed from the store too).
    pub(crate) async fn fetch(
        &self,
        source: &dyn TokenSource,
        replacing: Option<AccessToken>,
        rejected: bool,
    ) -> Outcome {
        if !self.available() {
            return source.fetch().await;
        }
        let replacing = Replacing {
            token: replacing,
            rejected,
        };
        match self.through_store(source, &replacing).await {
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
        replacing: &Replacing,
    ) -> Result<Outcome, Fallback> {
        // Polling ends once a lock's whole TTL has passed and a fetch could have been made.
        let deadline = time::after(Instant::now(), self.lock_ttl.saturating_mul(2));
        loop {
            let (loaded, adopted) = self.load(source, replacing).await?;
            if let Some(token) = adopted {
                return Ok(Ok(token));
            }
            if !loaded.locked
                && let Some(lock) = self.op(self.store.lock(&self.key, self.lock_ttl)).await?
            {
                return Ok(self.as_holder(source, replacing, lock).await);
            }
            if Instant::now() >= deadline {
                return Err(Fallback::HolderTooSlow);
            }
            tokio::time::sleep(jittered(POLL)).await;
        }
    }

    /// Step 2, holding the lock.
    async fn as_holder(
        &self,
        source: &dyn TokenSource,
        replacing: &Replacing,
        lock: StoreLock,
    ) -> Outcome {
        match self.load(source, replacing).await {
            Ok((_, Some(token))) => {
                // Saved by the previous holder between our first look and our lock.
                self.release(&lock, Duration::ZERO).await;
                return Ok(token);
            }
            Ok((_, None)) => {}
            Err(Fallback::StoreFailed(error)) => self.failed(&error),
            Err(Fallback::HolderTooSlow) => {}
        }
        let outcome = source.fetch().await;
        match &outcome {
            Ok(token) => self.save(source, &lock, token).await,
            Err(_) => {
                let cooldown = self.policy.failure_cooldown.min(self.lock_ttl);
                self.release(&lock, cooldown).await;
            }
        }
        outcome
    }

    /// Loads the store's state; adopts its refresh token, and its token when usable;
    /// removes it when it is the rejected one.
    async fn load(
        &self,
        source: &dyn TokenSource,
        replacing: &Replacing,
    ) -> Result<(Loaded, Option<AccessToken>), Fallback> {
        let started = Instant::now();
        let loaded = self.op(self.store.load(&self.key)).await?;
        self.answered();
        if let Some(bytes) = &loaded.refresh_token
            && let Ok(secret) = std::str::from_utf8(bytes)
            && !secret.is_empty()
        {
            source.set_refresh_token(Some(RefreshToken::new(secret)));
        }
        let Some(bytes) = &loaded.token else {
            return Ok((loaded, None));
        };
        let Some((token, lifetime)) = decode(bytes, time::after(started, loaded.expires_in)) else {
            tracing::debug!("the stored token does not parse: treated as absent");
            return Ok((loaded, None));
        };
        if replacing
            .token
            .as_ref()
            .is_some_and(|old| old.same_as(&token))
        {
            if replacing.rejected {
                self.op(self.store.remove(&self.key, bytes)).await?;
            }
            return Ok((loaded, None));
        }
        let window = self.policy.early_refresh.min(lifetime / 2);
        let usable = loaded.expires_in > window;
        Ok((loaded, usable.then_some(token)))
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
            self.release(lock, Duration::ZERO).await;
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
            Err(Fallback::StoreFailed(error)) => self.failed(&error),
            Err(Fallback::HolderTooSlow) => {}
        }
    }

    async fn release(&self, lock: &StoreLock, hold: Duration) {
        if let Err(Fallback::StoreFailed(error)) =
            self.op(self.store.hold(&self.key, lock, hold)).await
        {
            self.failed(&error);
        }
    }

    /// Runs one store operation within the store's timeout.
    async fn op<T>(
        &self,
        operation: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, Fallback> {
        let limit = self.store.timeout();
        match tokio::time::timeout(limit, operation).await {
            Ok(Ok(value)) => Ok(value),
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

struct Replacing {
    token: Option<AccessToken>,
    rejected: bool,
}

enum Fallback {
    StoreFailed(StoreError),
    HolderTooSlow,
}

/// The token in `bytes`, expiring at `expires_at`, and its lifetime when issued; `None`
/// for bytes that are not a token.
fn decode(bytes: &[u8], expires_at: Instant) -> Option<(AccessToken, Duration)> {
    let wire: Wire = serde_json::from_slice(bytes).ok()?;
    let lifetime = Duration::from_millis(wire.lifetime_ms);
    let token =
        AccessToken::with_details(wire.access_token, wire.token_type, expires_at, wire.scope);
    Some((token, lifetime))
}

/// `base`, plus or minus half of it, at random: instances polling together drift apart.
fn jittered(base: Duration) -> Duration {
    let random = RandomState::new().hash_one(Instant::now());
    let half = base / 2;
    let nanos = u64::try_from(base.as_nanos()).unwrap_or(u64::MAX).max(1);
    half + Duration::from_nanos(random % nanos)
}
