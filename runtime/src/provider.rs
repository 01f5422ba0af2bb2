//! [`TokenProvider`] and [`SharedTokenProvider`]: caching with lock-free reads and
//! single-flight refresh.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::{AccessToken, OAuth2Source, TokenError, TokenFuture, TokenOptions, TokenSource};

/// Hands out access tokens. Object-safe: `Arc<dyn TokenProvider>` is a provider too.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a token provider",
    label = "expected a `token_client::SharedTokenProvider` or another `token_client::TokenProvider`",
    note = "build one with `SharedTokenProvider::new(options)` or `SharedTokenProvider::from_source(source)`"
)]
pub trait TokenProvider: Send + Sync + 'static {
    /// A valid token: at once from the cache, or after a refresh.
    fn token(&self) -> TokenFuture<'_>;

    /// Tells the provider that `stale` was rejected (a 401). The cached token is dropped
    /// only if it is still `stale`, so a burst of 401s for one token causes one refresh.
    fn invalidate(&self, stale: &AccessToken);
}

impl<P: TokenProvider + ?Sized> TokenProvider for Arc<P> {
    fn token(&self) -> TokenFuture<'_> {
        (**self).token()
    }

    fn invalidate(&self, stale: &AccessToken) {
        (**self).invalidate(stale)
    }
}

/// When a [`SharedTokenProvider`] refreshes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshPolicy {
    /// How long before expiry a token is refreshed in the background (clamped to half
    /// the token's lifetime). Default 60 s.
    pub early_refresh: Duration,
    /// After a failed refresh, how long callers needing a token get that failure at once
    /// instead of a new request to the token endpoint. Default 1 s.
    pub failure_cooldown: Duration,
}

impl Default for RefreshPolicy {
    fn default() -> Self {
        Self {
            early_refresh: Duration::from_secs(60),
            failure_cooldown: Duration::from_secs(1),
        }
    }
}

/// Caches the token of a [`TokenSource`] and refreshes it, once, ahead of expiry.
///
/// - A caller that finds a valid token gets it after an atomic load and a clock read: no
///   lock, no waiting, no allocation.
/// - A token inside its early-refresh window is still handed out at once while one
///   background refresh runs; only an absent or expired token makes callers wait.
/// - However many callers need a refresh, one request reaches the source, and all of them
///   get its result, token or error. The refresh runs in its own task: dropping the caller
///   that started it cancels nothing.
///
/// Cheap to clone (one `Arc` inside): share one provider between clients.
///
/// Refreshes run as tokio tasks, so [`token`](TokenProvider::token) must be called inside
/// a tokio runtime (as reqwest requires anyway). A refresh whose runtime shuts down is
/// reported to its waiters as [`TokenError::RefreshAborted`], and the next caller starts a
/// new one: a provider can outlive the runtime that first used it.
#[derive(Clone)]
pub struct SharedTokenProvider {
    shared: Arc<Shared>,
}

struct Shared {
    source: Box<dyn TokenSource>,
    policy: RefreshPolicy,
    cached: ArcSwapOption<Cached>,
    flight: Mutex<FlightState>,
}

/// The cached token and the instant its background refresh is due.
struct Cached {
    token: AccessToken,
    refresh_at: Instant,
}

type Outcome = Result<AccessToken, TokenError>;

/// How far a background refresh defers the next one while it runs (it ends well before:
/// the token endpoint has its own timeout; if it does not, expiry ends the deferral).
const MAX_DEFER: Duration = Duration::from_secs(3600);

#[derive(Default)]
struct FlightState {
    /// The refresh under way: every waiter holds a receiver of its outcome.
    running: Option<watch::Receiver<Option<Outcome>>>,
    /// The last failure and the end of its cool-down.
    failed: Option<(Instant, TokenError)>,
}

/// What a caller that needs a refresh does.
enum Join {
    Ready(Outcome),
    Wait(watch::Receiver<Option<Outcome>>),
    Nothing,
}

impl SharedTokenProvider {
    /// A provider fetching tokens from the token endpoint described by `options`.
    ///
    /// Fails when the options are invalid (see [`TokenOptions::validate`]).
    pub fn new(options: TokenOptions) -> Result<Self, TokenError> {
        let policy = options.refresh_policy();
        let source = OAuth2Source::new(options)?;
        Ok(Self::from_source_with_policy(source, policy))
    }

    /// A provider over any token source, with the default [`RefreshPolicy`].
    pub fn from_source(source: impl TokenSource) -> Self {
        Self::from_source_with_policy(source, RefreshPolicy::default())
    }

    /// A provider over any token source, with the given refresh policy.
    pub fn from_source_with_policy(source: impl TokenSource, policy: RefreshPolicy) -> Self {
        let shared = Shared {
            source: Box::new(source),
            policy,
            cached: ArcSwapOption::empty(),
            flight: Mutex::new(FlightState::default()),
        };
        Self {
            shared: Arc::new(shared),
        }
    }

    /// The refresh policy in force.
    pub fn policy(&self) -> RefreshPolicy {
        self.shared.policy
    }
}

impl TokenProvider for SharedTokenProvider {
    #[inline]
    fn token(&self) -> TokenFuture<'_> {
        // Hot path: one atomic load and one clock read. `Instant::now()` comes after the
        // load, so a token stored by a refresh that finished in between is not judged
        // against an older clock reading.
        let guard = self.shared.cached.load();
        let now = Instant::now();
        if let Some(cached) = guard.as_deref()
            && now < cached.refresh_at
        {
            return TokenFuture::ready(Ok(cached.token.clone()));
        }
        self.token_slow(guard, now)
    }

    fn invalidate(&self, stale: &AccessToken) {
        let cached = self.shared.cached.load();
        if let Some(current) = cached.as_deref() {
            // Compare-and-swap: if a refresh stored a newer token since our load, the swap
            // fails and the newer token stays.
            if current.token.same_as(stale) {
                self.shared.cached.compare_and_swap(&*cached, None);
                tracing::debug!("cached token invalidated");
            }
        }
    }
}

impl SharedTokenProvider {
    /// The token is in its early window, expired or absent.
    #[cold]
    #[inline(never)]
    fn token_slow(
        &self,
        guard: arc_swap::Guard<Option<Arc<Cached>>>,
        now: Instant,
    ) -> TokenFuture<'_> {
        if let Some(cached) = guard.as_deref()
            && !cached.token.is_expired_at(now)
        {
            let token = cached.token.clone();
            drop(guard);
            self.shared.refresh_in_background(now);
            return TokenFuture::ready(Ok(token));
        }
        let shared = Arc::clone(&self.shared);
        TokenFuture::new(async move { shared.wait_for_refresh(now).await })
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, FlightState> {
        // The state stays consistent across a panic (each write is one assignment).
        self.flight.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn refresh_in_background(self: &Arc<Self>, now: Instant) {
        // Whatever comes back, this caller already has a valid token and does not wait.
        let _ = self.join_or_start(now, false);
    }

    async fn wait_for_refresh(self: Arc<Self>, now: Instant) -> Outcome {
        match self.join_or_start(now, true) {
            Join::Ready(outcome) => outcome,
            Join::Wait(receiver) => wait(receiver).await,
            Join::Nothing => unreachable!("a caller that needs a token always joins or starts"),
        }
    }

    /// Joins the refresh under way or starts one. `needs_token`: the caller has no valid
    /// token and will wait; otherwise it only wants a background refresh started.
    ///
    /// Correct under races because the refresh task stores its token in `cached` *before*
    /// it clears `running`, both while holding the lock: a caller that takes the lock and
    /// finds nothing running re-reads `cached`, and so sees the token of any refresh that
    /// already finished instead of starting a second one.
    fn join_or_start(self: &Arc<Self>, now: Instant, needs_token: bool) -> Join {
        let mut state = self.lock();
        if let Some(running) = &state.running {
            return if needs_token {
                Join::Wait(running.clone())
            } else {
                Join::Nothing
            };
        }
        if let Some(cached) = self.cached.load().as_deref() {
            if needs_token && !cached.token.is_expired_at(now) {
                return Join::Ready(Ok(cached.token.clone()));
            }
            if !needs_token && now < cached.refresh_at {
                return Join::Nothing;
            }
        }
        if let Some((until, error)) = &state.failed {
            if now < *until {
                return if needs_token {
                    tracing::debug!(%error, "token endpoint in cool-down after a failure: failing at once");
                    Join::Ready(Err(error.clone()))
                } else {
                    Join::Nothing
                };
            }
        }
        let receiver = self.start(&mut state);
        if needs_token {
            return Join::Wait(receiver);
        }
        tracing::debug!("token inside its early-refresh window: refreshing in the background");
        // Until this refresh ends, the cached token counts as fresh: the other callers in
        // the window take the pure hot path instead of coming here, to the lock.
        self.defer_refresh(Instant::now() + MAX_DEFER);
        Join::Nothing
    }

    /// Moves the refresh time of the cached token to `until` (at most its expiry).
    ///
    /// A compare-and-swap, so a token invalidated meanwhile is not brought back.
    fn defer_refresh(&self, until: Instant) {
        let current = self.cached.load();
        let Some(cached) = current.as_deref() else {
            return;
        };
        if cached.token.is_expired_at(Instant::now()) {
            return;
        }
        let deferred = Cached {
            token: cached.token.clone(),
            refresh_at: until.min(cached.token.expires_at()),
        };
        self.cached
            .compare_and_swap(&*current, Some(Arc::new(deferred)));
    }

    /// Spawns the refresh task. Called with the lock held and nothing running.
    fn start(self: &Arc<Self>, state: &mut FlightState) -> watch::Receiver<Option<Outcome>> {
        let (sender, receiver) = watch::channel(None);
        state.running = Some(receiver.clone());
        let flight = Flight {
            shared: Arc::clone(self),
            sender,
        };
        tokio::spawn(flight.run());
        tracing::debug!("token refresh started");
        receiver
    }

    /// Records the outcome of the refresh: stores the token (or the failure and its
    /// cool-down), then clears `running`, under the lock.
    ///
    /// `cool_down`: whether a failure holds off new attempts for the cool-down. Not for a
    /// refresh cut off by its runtime shutting down: that says nothing about the endpoint.
    fn finish(&self, outcome: &Outcome, cool_down: bool) {
        let mut state = self.lock();
        match outcome {
            Ok(token) => {
                self.cached
                    .store(Some(Arc::new(self.cache_entry(token.clone()))));
                state.failed = None;
            }
            Err(error) if cool_down => {
                let until = Instant::now() + self.policy.failure_cooldown;
                state.failed = Some((until, error.clone()));
                // A still-valid token keeps being served; the next background attempt
                // comes after the cool-down.
                self.defer_refresh(until);
            }
            // The next caller in the window starts a new refresh at once.
            Err(_) => self.defer_refresh(Instant::now()),
        }
        state.running = None;
    }

    fn cache_entry(&self, token: AccessToken) -> Cached {
        let lifetime = token.expires_at().saturating_duration_since(Instant::now());
        let early = self.policy.early_refresh.min(lifetime / 2);
        let refresh_at = token.expires_at() - early;
        Cached { token, refresh_at }
    }
}

/// One refresh, run in its own task so no caller owns it.
struct Flight {
    shared: Arc<Shared>,
    sender: watch::Sender<Option<Outcome>>,
}

impl Flight {
    async fn run(self) {
        let outcome = self.shared.source.fetch().await;
        self.complete(outcome, true);
    }

    fn complete(&self, outcome: Outcome, cool_down: bool) {
        match &outcome {
            Ok(_) => tracing::debug!("token refresh succeeded"),
            Err(error) => tracing::warn!(%error, "token refresh failed"),
        }
        self.shared.finish(&outcome, cool_down);
        self.sender.send_replace(Some(outcome));
    }
}

impl Drop for Flight {
    /// The task was dropped before `complete`: the source panicked (then the cool-down
    /// applies, as to any failure), or the runtime shut down (then the next caller, on
    /// another runtime, starts a new refresh at once). Either way waiters get an error
    /// instead of waiting forever on a refresh that will never end.
    fn drop(&mut self) {
        if self.sender.borrow().is_none() {
            self.complete(Err(TokenError::RefreshAborted), std::thread::panicking());
        }
    }
}

async fn wait(mut receiver: watch::Receiver<Option<Outcome>>) -> Outcome {
    match receiver.wait_for(Option::is_some).await {
        Ok(outcome) => outcome.clone().expect("waited for Some"),
        Err(_) => Err(TokenError::RefreshAborted),
    }
}

impl fmt::Debug for SharedTokenProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cached = self.shared.cached.load();
        f.debug_struct("SharedTokenProvider")
            .field("policy", &self.shared.policy)
            .field("token", &cached.as_deref().map(|c| &c.token))
            .finish_non_exhaustive()
    }
}
