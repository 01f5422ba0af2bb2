//! The single flight behind [`SharedTokenProvider`](crate::SharedTokenProvider): the
//! cached token read lock-free, the one refresh under way, its waiters, its cool-down.
//!
//! State: `cached` (an `ArcSwapOption`, read without a lock by every caller) and
//! `flight` (a `Mutex`, taken only on the slow path: to join or start a refresh, and by
//! the refresh to record its outcome). No lock is held across an `.await`, while
//! spawning, or while anything that can run user code is dropped.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use tokio::runtime::Handle;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::future::BoxFuture;
use crate::store::fleet::Fleet;
use crate::{AccessToken, RefreshPolicy, TokenError, TokenSource, time};

/// What every clone of one provider shares.
pub(crate) struct Shared {
    source: Box<dyn TokenSource>,
    policy: RefreshPolicy,
    /// Where refreshes run; `None`: on the runtime of the caller that starts one.
    runtime: Option<Handle>,
    /// The store shared with other instances, if any: consulted by refreshes only.
    fleet: Option<Fleet>,
    cached: ArcSwapOption<Cached>,
    flight: Mutex<FlightState>,
}

/// The cached token and the instant its background refresh is due.
struct Cached {
    token: AccessToken,
    refresh_at: Instant,
}

type Outcome = Result<AccessToken, TokenError>;

/// How many refreshes a waiter waits for before it gives up on tokens that have expired
/// each time it gets one.
const MAX_ATTEMPTS: usize = 3;

/// What a caller without a valid token does: wait for a refresh, or take an answer now.
enum Join {
    Wait(watch::Receiver<Option<Outcome>>),
    Done(Outcome),
}

/// How far a background refresh defers the next one while it runs (it ends well before:
/// the token endpoint has its own timeout; if it does not, expiry ends the deferral).
const MAX_DEFER: Duration = Duration::from_secs(3600);

#[derive(Default)]
struct FlightState {
    /// The refresh under way: every waiter holds a receiver of its outcome.
    running: Option<watch::Receiver<Option<Outcome>>>,
    /// The last failure and the end of its cool-down.
    failed: Option<(Instant, TokenError)>,
    /// With a store: the tokens servers last rejected (the latest last, at most four),
    /// kept until newer ones are: refreshes never adopt them back, and remove them from
    /// the store if still there.
    rejected: Vec<AccessToken>,
}

impl Shared {
    pub(crate) fn new(
        source: Box<dyn TokenSource>,
        policy: RefreshPolicy,
        runtime: Option<Handle>,
        fleet: Option<Fleet>,
    ) -> Self {
        Self {
            source,
            policy,
            runtime,
            fleet,
            cached: ArcSwapOption::empty(),
            flight: Mutex::new(FlightState::default()),
        }
    }

    pub(crate) fn policy(&self) -> RefreshPolicy {
        self.policy
    }

    /// The source, for a provider that asks it for the source of another scope.
    pub(crate) fn source(&self) -> &dyn TokenSource {
        &*self.source
    }

    /// The cached token, valid or not (for `Debug`).
    pub(crate) fn cached_token(&self) -> Option<AccessToken> {
        self.cached.load().as_deref().map(|c| c.token.clone())
    }

    /// Drops `stale` from the cache, if it is still the cached token.
    ///
    /// With a store, `stale` is first recorded as rejected (under the flight's lock, where
    /// a refresh starting reads it with the cached token): a refresh starting at any point
    /// of this sees it in one place or the other, and never adopts it back from the store.
    /// Not recorded when the cache holds another token (a late rejection of an older one);
    /// with the cache empty, it is added to the last few rejected, not in their place.
    pub(crate) fn invalidate(&self, stale: &AccessToken) {
        const MAX_REJECTED: usize = 4;
        if self.fleet.is_some() {
            let mut state = self.lock();
            let current = self
                .cached
                .load()
                .as_deref()
                .is_none_or(|cached| cached.token.same_as(stale));
            let known = state.rejected.iter().any(|token| token.same_as(stale));
            let oldest = if current && !known {
                state.rejected.push(stale.clone());
                (state.rejected.len() > MAX_REJECTED).then(|| state.rejected.remove(0))
            } else {
                None
            };
            drop(state);
            drop(oldest);
        }
        self.remove(stale, self.cached.load());
    }
}

impl Shared {
    /// Drops `stale` from the cache; `current` is the entry the caller loaded.
    ///
    /// Compares on the token, not on the entry holding it: a background refresh that
    /// defers the refresh time swaps in a new entry with the same token, and a
    /// compare-and-swap on the entry would then fail and lose the invalidation. So: retry
    /// while the entry changed but still holds `stale`; stop when it holds another token
    /// (a refresh stored a newer one, which stays) or none.
    fn remove(&self, stale: &AccessToken, mut current: arc_swap::Guard<Option<Arc<Cached>>>) {
        while let Some(entry) = current.as_deref()
            && entry.token.same_as(stale)
        {
            tracing::debug!("invalidating the cached token");
            self.cached.compare_and_swap(&*current, None);
            current = self.cached.load();
        }
    }
}

impl Shared {
    /// The hot path, run when a token future is first polled: one atomic load and one
    /// clock read. `Instant::now()` comes after the load, so a token stored by a refresh
    /// that finished in between is not judged against an older clock reading. `Err`: the
    /// slow path, a future to poll.
    #[inline]
    pub(crate) fn lookup(self: &Arc<Self>) -> Result<AccessToken, BoxFuture<'static>> {
        let guard = self.cached.load();
        let now = Instant::now();
        if let Some(cached) = guard.as_deref()
            && now < cached.refresh_at
        {
            return Ok(cached.token.clone());
        }
        self.lookup_slow(guard, now)
    }

    /// The token is in its early window, expired or absent.
    #[cold]
    #[inline(never)]
    fn lookup_slow(
        self: &Arc<Self>,
        guard: arc_swap::Guard<Option<Arc<Cached>>>,
        now: Instant,
    ) -> Result<AccessToken, BoxFuture<'static>> {
        if let Some(cached) = guard.as_deref()
            && !cached.token.is_expired_at(now)
        {
            let token = cached.token.clone();
            drop(guard);
            self.refresh_in_background(now);
            return Ok(token);
        }
        drop(guard);
        let shared = Arc::clone(self);
        Err(Box::pin(async move { shared.wait_for_token(now).await }))
    }

    /// The runtime a refresh starting now runs on.
    fn spawner(&self) -> Option<Handle> {
        self.runtime.clone().or_else(|| Handle::try_current().ok())
    }

    fn lock(&self) -> MutexGuard<'_, FlightState> {
        // The state stays consistent across a panic (each write is one assignment).
        self.flight.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts a background refresh of the still-valid token, unless one runs, the token
    /// is not due after all, or a failure is cooling down. The caller does not wait.
    ///
    /// Outside a tokio runtime there is nowhere to run the refresh: the caller keeps its
    /// valid token, and the first caller inside a runtime starts the refresh.
    fn refresh_in_background(self: &Arc<Self>, now: Instant) {
        let Some(runtime) = self.spawner() else {
            tracing::debug!("token due for refresh, but no tokio runtime here to refresh it in");
            return;
        };
        let flight = {
            let mut state = self.lock();
            let due = self
                .cached
                .load()
                .as_deref()
                .is_none_or(|cached| now >= cached.refresh_at);
            if state.running.is_some() || !due || state.cooling_down(now).is_some() {
                return;
            }
            let (flight, _) = self.register(&mut state);
            // Until this refresh ends, the cached token counts as fresh: the other callers
            // in the window take the pure hot path instead of coming here, to the lock.
            self.defer_refresh(time::after(Instant::now(), MAX_DEFER));
            flight
        };
        tracing::debug!("token inside its early-refresh window: refreshing in the background");
        flight.spawn_on(&runtime);
    }

    /// For a caller without a valid token: joins the refresh under way, or starts one, and
    /// waits for its outcome (or fails at once inside a failure's cool-down).
    ///
    /// A waiter polled again only after its refresh's token expired (its runtime was not
    /// driven for a while) judges again rather than hand out an expired token; a source
    /// whose tokens have expired every time they are looked at gives [`TokenError::Expired`].
    async fn wait_for_token(self: Arc<Self>, mut now: Instant) -> Outcome {
        for _ in 0..MAX_ATTEMPTS {
            let receiver = match self.join_or_start(now) {
                Join::Wait(receiver) => receiver,
                Join::Done(outcome) => return outcome,
            };
            let outcome = wait(receiver).await;
            now = Instant::now();
            match outcome {
                Ok(token) if token.is_expired_at(now) => continue,
                outcome => return outcome,
            }
        }
        Err(TokenError::Expired)
    }

    /// Joins the refresh under way, or starts one; or answers at once: a valid token
    /// (a refresh ended meanwhile), a failure in its cool-down, no runtime to refresh in.
    ///
    /// Correct under races because the refresh task stores its token in `cached` *before*
    /// it clears `running`, both while holding the lock: a caller that takes the lock and
    /// finds nothing running re-reads `cached`, and so sees the token of any refresh that
    /// already finished instead of starting a second one.
    fn join_or_start(self: &Arc<Self>, now: Instant) -> Join {
        let (receiver, flight) = {
            let mut state = self.lock();
            if let Some(running) = &state.running {
                (running.clone(), None)
            } else if let Some(cached) = self.cached.load().as_deref()
                && !cached.token.is_expired_at(now)
            {
                return Join::Done(Ok(cached.token.clone()));
            } else if let Some(error) = state.cooling_down(now) {
                let error = error.clone();
                drop(state);
                tracing::debug!(%error, "token endpoint in cool-down after a failure: failing at once");
                return Join::Done(Err(error));
            } else {
                let Some(runtime) = self.spawner() else {
                    return Join::Done(Err(TokenError::NoRuntime));
                };
                let (flight, receiver) = self.register(&mut state);
                (receiver, Some((flight, runtime)))
            }
        };
        if let Some((flight, runtime)) = flight {
            flight.spawn_on(&runtime);
        }
        Join::Wait(receiver)
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

    /// Records a refresh as running and returns the flight to spawn, once the lock is
    /// released: never spawn under the lock, since on a runtime that is shutting down tokio
    /// drops the task at once, and dropping a flight takes the lock.
    fn register(
        self: &Arc<Self>,
        state: &mut FlightState,
    ) -> (Flight, watch::Receiver<Option<Outcome>>) {
        let (sender, receiver) = watch::channel(None);
        state.running = Some(receiver.clone());
        let flight = Flight {
            shared: Arc::clone(self),
            sender,
        };
        (flight, receiver)
    }

    /// Records the outcome of the refresh: stores the token (or the failure and its
    /// cool-down), then clears `running`, under the lock.
    ///
    /// `cool_down`: whether a failure holds off new attempts for the cool-down. Not for a
    /// refresh cut off by its runtime shutting down: that says nothing about the endpoint.
    fn finish(&self, outcome: &Outcome, cool_down: bool) {
        let mut state = self.lock();
        let replaced = match outcome {
            Ok(token) => {
                self.cached
                    .store(Some(Arc::new(self.cache_entry(token.clone()))));
                state.failed.take()
            }
            Err(error) if cool_down => {
                let until = time::after(Instant::now(), self.policy.failure_cooldown);
                // A still-valid token keeps being served; the next background attempt
                // comes after the cool-down.
                self.defer_refresh(until);
                state.failed.replace((until, error.clone()))
            }
            Err(_) => {
                // The next caller in the window starts a new refresh at once.
                self.defer_refresh(Instant::now());
                None
            }
        };
        state.running = None;
        drop(state);
        // The failure it replaces may hold a custom source's error, whose drop is that
        // source's code: never run under the lock.
        drop(replaced);
    }

    fn cache_entry(&self, token: AccessToken) -> Cached {
        let refresh_at = refresh_at(self.policy, &token);
        Cached { token, refresh_at }
    }
}

/// When `token`, just fetched, is due for its background refresh: `early_refresh` before
/// its expiry, at most half its remaining lifetime before.
pub(crate) fn refresh_at(policy: RefreshPolicy, token: &AccessToken) -> Instant {
    let lifetime = token.expires_at().saturating_duration_since(Instant::now());
    let early = policy.early_refresh.min(lifetime / 2);
    time::before(token.expires_at(), early)
}

impl FlightState {
    /// The failure whose cool-down is still running at `now`.
    fn cooling_down(&self, now: Instant) -> Option<&TokenError> {
        match &self.failed {
            Some((until, error)) if now < *until => Some(error),
            _ => None,
        }
    }
}

/// One refresh, run in its own task so no caller owns it.
struct Flight {
    shared: Arc<Shared>,
    sender: watch::Sender<Option<Outcome>>,
}

impl Flight {
    /// Spawns the refresh on `runtime`. Called without the lock (see [`Shared::register`]).
    fn spawn_on(self, runtime: &Handle) {
        drop(runtime.spawn(self.run()));
    }

    async fn run(self) {
        let shared = &*self.shared;
        let outcome = match &shared.fleet {
            None => shared.source.fetch().await,
            Some(fleet) => {
                // Both under the lock `invalidate` records a rejection under.
                let (replacing, rejected) = {
                    let state = shared.lock();
                    (shared.cached_token(), state.rejected.clone())
                };
                fleet.fetch(&*shared.source, replacing, &rejected).await
            }
        };
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A source whose fetches never end: these tests look at what is started, not at
    /// what it brings.
    struct Never;

    #[async_trait::async_trait]
    impl TokenSource for Never {
        async fn fetch(&self) -> Outcome {
            std::future::pending().await
        }
    }

    /// The interleaving no test from outside can force: `invalidate` loads the entry, a
    /// background refresh then defers the refresh time (a new entry, the same token), and
    /// only then does `invalidate` swap.
    #[tokio::test(start_paused = true)]
    async fn invalidation_is_not_lost_to_a_deferral_between_its_load_and_its_swap() {
        let shared = Shared::new(Box::new(Never), RefreshPolicy::default(), None, None);
        let stale = AccessToken::new("t1", Instant::now() + Duration::from_secs(300));
        shared
            .cached
            .store(Some(Arc::new(shared.cache_entry(stale.clone()))));

        let loaded = shared.cached.load();
        shared.defer_refresh(Instant::now() + MAX_DEFER);
        let deferred = shared.cached.load_full();
        let (before, after) = (loaded.as_ref().unwrap(), deferred.as_ref().unwrap());
        assert!(
            !Arc::ptr_eq(before, after),
            "the deferral swapped the entry"
        );
        shared.remove(&stale, loaded);

        assert!(shared.cached.load().is_none(), "the rejected token is gone");
    }

    /// Under the lock, a background refresh checks again what the lock-free read saw:
    /// between the two, another caller may have started a refresh, a refresh may have
    /// ended, or failed. Only threads interleave there, so this puts the state in each
    /// of those shapes and calls it.
    #[tokio::test(start_paused = true)]
    async fn a_background_refresh_checks_again_under_the_lock() {
        let shared = Arc::new(Shared::new(
            Box::new(Never),
            RefreshPolicy::default(),
            None,
            None,
        ));
        let due = || {
            let token = AccessToken::new("t1", Instant::now() + Duration::from_secs(100));
            Some(Arc::new(Cached {
                token,
                refresh_at: Instant::now(),
            }))
        };
        let running = |shared: &Shared| shared.lock().running.clone();

        // A refresh runs, and the token was invalidated meanwhile (absent: due).
        let (flight, receiver) = shared.register(&mut shared.lock());
        shared.cached.store(None);
        shared.refresh_in_background(Instant::now());
        let still = running(&shared).expect("still running");
        assert!(still.same_channel(&receiver), "no second refresh started");
        drop(flight);
        assert!(running(&shared).is_none());

        // A failure is cooling down.
        let until = Instant::now() + Duration::from_secs(10);
        shared.lock().failed = Some((until, TokenError::RefreshAborted));
        shared.cached.store(due());
        shared.refresh_in_background(Instant::now());
        assert!(running(&shared).is_none(), "no refresh inside a cool-down");

        // A refresh just ended: the token is not due any more.
        shared.lock().failed = None;
        let fresh = AccessToken::new("t2", Instant::now() + Duration::from_secs(300));
        shared
            .cached
            .store(Some(Arc::new(shared.cache_entry(fresh))));
        shared.refresh_in_background(Instant::now());
        assert!(running(&shared).is_none(), "no refresh of a token not due");

        // Due, nothing running, no cool-down: the refresh starts.
        shared.cached.store(due());
        shared.refresh_in_background(Instant::now());
        assert!(running(&shared).is_some());
    }
}
