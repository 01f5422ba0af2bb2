//! `SharedTokenProvider::token()` with a valid cached token, on 1 and 2 threads, against
//! the floor of the same work and the caches people usually write, and `token_for` (the
//! token of another scope) on the same provider; then the latency of a call made while a
//! refresh is in flight. See BENCHMARKS.md.
//!
//! Every contender caches the same `AccessToken` with the instant its refresh is due, and
//! is called from a loop `for _ in 0..iters { black_box(cache.get().await) }` inside a
//! current-thread tokio runtime of its own thread, so they differ only in how they cache.

mod support;

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant as StdInstant};

use arc_swap::ArcSwap;
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, SamplingMode, Throughput};
use token_client::{
    AccessToken, SharedTokenProvider, TokenError, TokenProvider, TokenScope, TokenSource,
};
use tokio::runtime::Runtime;
use tokio::sync::{Mutex, RwLock};
use tokio::time::Instant;

type Outcome = Result<AccessToken, TokenError>;

const HOUR: Duration = Duration::from_secs(3600);
/// The first token of the "during refresh" provider: its early window is clamped to half
/// its lifetime, so it enters the window 150 ms after it is fetched.
const SHORT_LIFETIME: Duration = Duration::from_millis(300);
/// How long every refresh of the "during refresh" group takes.
const REFRESH_TIME: Duration = Duration::from_millis(100);
/// How many calls one in-flight refresh may cover (a few ms of calls, far below 100 ms).
const MAX_CALLS_PER_FLIGHT: u64 = 100_000;
/// How long after its start a refresh may still be used for a batch of calls.
const FLIGHT_USABLE_FOR: Duration = Duration::from_millis(50);

const CONTENDERS: [&str; 7] = [
    "floor",
    "shared_provider",
    "shared_provider_dyn",
    "shared_provider_scoped",
    "tokio_mutex",
    "tokio_rwlock",
    "mutex_across_fetch",
];

fn main() {
    let results = support::Results::new();
    let mut criterion = support::criterion();
    let contenders = Contenders::new();
    for threads in [1, 2] {
        hot_path(&mut criterion, &contenders, threads);
    }
    during_refresh(&mut criterion);
    criterion.final_summary();
    summary(&results);
}

// ---------------------------------------------------------------------------------------
// The contenders

/// What every contender does: hand out its cached token.
trait Cache: Sync {
    async fn get(&self) -> Outcome;
}

/// A cached token and the instant its refresh is due (60 s before expiry, at most half the
/// lifetime: the policy of `SharedTokenProvider`).
struct Entry {
    token: AccessToken,
    refresh_at: Instant,
}

impl Entry {
    fn new(token: AccessToken) -> Self {
        let lifetime = token.expires_at().saturating_duration_since(Instant::now());
        let refresh_at = token.expires_at() - Duration::from_secs(60).min(lifetime / 2);
        Self { token, refresh_at }
    }

    /// A valid token whose refresh is due now.
    fn due(token: AccessToken) -> Self {
        Self {
            token,
            refresh_at: Instant::now(),
        }
    }

    fn is_fresh(&self, now: Instant) -> bool {
        now < self.refresh_at
    }
}

/// The floor: an `ArcSwap` load, a tokio `Instant::now()` and a clone of the token's `Arc`.
struct Floor(ArcSwap<Entry>);

impl Cache for Floor {
    async fn get(&self) -> Outcome {
        let entry = self.0.load();
        let now = Instant::now();
        if entry.is_fresh(now) {
            return Ok(entry.token.clone());
        }
        unreachable!("the floor's token stays fresh for the whole run")
    }
}

impl Cache for SharedTokenProvider {
    async fn get(&self) -> Outcome {
        self.token().await
    }
}

/// `token_for` on the provider of `shared_provider`: the token of another scope (what a
/// method with `#[scope]` asks for), the scope a static built once, as generated code has.
struct Scoped<'a> {
    provider: &'a SharedTokenProvider,
    scope: TokenScope,
}

impl Cache for Scoped<'_> {
    async fn get(&self) -> Outcome {
        self.provider.token_for(&self.scope).await
    }
}

/// What generated clients hold: calls go through the vtable.
impl Cache for Arc<dyn TokenProvider> {
    async fn get(&self) -> Outcome {
        self.token().await
    }
}

/// What most hand-written caches do: a `tokio::sync::Mutex` around the token, released
/// during the fetch (so no single flight either).
struct TokioMutexCache {
    slot: Mutex<Option<Entry>>,
    source: Arc<dyn TokenSource>,
}

impl Cache for TokioMutexCache {
    async fn get(&self) -> Outcome {
        {
            let slot = self.slot.lock().await;
            if let Some(entry) = slot.as_ref()
                && entry.is_fresh(Instant::now())
            {
                return Ok(entry.token.clone());
            }
        }
        let token = self.source.fetch().await?;
        *self.slot.lock().await = Some(Entry::new(token.clone()));
        Ok(token)
    }
}

/// The same with a `tokio::sync::RwLock`: readers share the lock.
struct TokioRwLockCache {
    slot: RwLock<Option<Entry>>,
    source: Arc<dyn TokenSource>,
}

impl Cache for TokioRwLockCache {
    async fn get(&self) -> Outcome {
        {
            let slot = self.slot.read().await;
            if let Some(entry) = slot.as_ref()
                && entry.is_fresh(Instant::now())
            {
                return Ok(entry.token.clone());
            }
        }
        let token = self.source.fetch().await?;
        *self.slot.write().await = Some(Entry::new(token.clone()));
        Ok(token)
    }
}

/// A cache that holds its mutex across the fetch, as Go's `x/oauth2` `ReuseTokenSource`
/// and yup-oauth2 do: single flight, but every caller waits for a refresh in progress,
/// including one started ahead of expiry.
struct LockAcrossFetch {
    slot: Mutex<Option<Entry>>,
    source: Arc<dyn TokenSource>,
}

impl Cache for LockAcrossFetch {
    async fn get(&self) -> Outcome {
        let mut slot = self.slot.lock().await;
        if let Some(entry) = slot.as_ref()
            && entry.is_fresh(Instant::now())
        {
            return Ok(entry.token.clone());
        }
        let token = self.source.fetch().await?;
        *slot = Some(Entry::new(token.clone()));
        Ok(token)
    }
}

// ---------------------------------------------------------------------------------------
// Token sources

/// Hands out tokens of `lifetime` after `delay`; with `first_at_once`, the first one comes
/// at once and lives `first_lifetime`. Counts fetches started and completed.
struct TestSource {
    first_at_once: Option<Duration>,
    lifetime: Duration,
    delay: Duration,
    started: AtomicUsize,
    completed: AtomicUsize,
}

impl TestSource {
    /// Tokens valid for an hour, at once.
    fn long_lived() -> Self {
        Self::new(None, HOUR, Duration::ZERO)
    }

    fn new(first_at_once: Option<Duration>, lifetime: Duration, delay: Duration) -> Self {
        Self {
            first_at_once,
            lifetime,
            delay,
            started: AtomicUsize::new(0),
            completed: AtomicUsize::new(0),
        }
    }

    fn started(&self) -> usize {
        self.started.load(Ordering::SeqCst)
    }

    fn completed(&self) -> usize {
        self.completed.load(Ordering::SeqCst)
    }
}

#[token_client::async_trait]
impl TokenSource for TestSource {
    async fn fetch(&self) -> Outcome {
        let first = self.started.fetch_add(1, Ordering::SeqCst) == 0;
        let lifetime = match self.first_at_once {
            Some(lifetime) if first => lifetime,
            _ => {
                tokio::time::sleep(self.delay).await;
                self.lifetime
            }
        };
        self.completed.fetch_add(1, Ordering::SeqCst);
        Ok(AccessToken::new("bench-token", Instant::now() + lifetime))
    }

    /// The tokens of another scope: the same as this source's own.
    fn for_scope(&self, _: &TokenScope) -> Option<Box<dyn TokenSource>> {
        Some(Box::new(Self::long_lived()))
    }
}

// ---------------------------------------------------------------------------------------
// Hot path: a valid cached token, 1 and 2 threads

/// Every contender, each caching a token valid for an hour.
struct Contenders {
    floor: Floor,
    provider: SharedTokenProvider,
    provider_dyn: Arc<dyn TokenProvider>,
    /// A scope of `provider`, one of several it serves.
    scope: TokenScope,
    mutex: TokioMutexCache,
    rwlock: TokioRwLockCache,
    across: LockAcrossFetch,
}

impl Contenders {
    fn new() -> Self {
        let source: Arc<dyn TokenSource> = Arc::new(TestSource::long_lived());
        let token = || AccessToken::new("bench-token", Instant::now() + HOUR);
        let provider = SharedTokenProvider::from_source(Arc::clone(&source));
        let provider_dyn: Arc<dyn TokenProvider> =
            Arc::new(SharedTokenProvider::from_source(Arc::clone(&source)));
        let scope = TokenScope::new()
            .scope("orders.read")
            .resource("https://orders.example");
        // Fill both providers' caches (the first call waits for the fetch), and the caches
        // of `scope` and of a few other scopes of `provider`: the lookup is not in a map of
        // one.
        support::current_thread_runtime().block_on(async {
            provider.token().await.expect("first token");
            provider_dyn.token().await.expect("first token");
            for other in ["orders.write", "users.read", "users.write"] {
                let other = TokenScope::new().scope(other);
                provider.token_for(&other).await.expect("first token");
            }
            provider.token_for(&scope).await.expect("first token");
        });
        Self {
            floor: Floor(ArcSwap::from_pointee(Entry::new(token()))),
            provider,
            provider_dyn,
            scope,
            mutex: TokioMutexCache {
                slot: Mutex::new(Some(Entry::new(token()))),
                source: Arc::clone(&source),
            },
            rwlock: TokioRwLockCache {
                slot: RwLock::new(Some(Entry::new(token()))),
                source: Arc::clone(&source),
            },
            across: LockAcrossFetch {
                slot: Mutex::new(Some(Entry::new(token()))),
                source,
            },
        }
    }
}

fn hot_path_group(threads: usize) -> String {
    format!(
        "hot_path_{threads}_thread{}",
        if threads == 1 { "" } else { "s" }
    )
}

fn hot_path(criterion: &mut Criterion, contenders: &Contenders, threads: usize) {
    let mut group = criterion.benchmark_group(hot_path_group(threads));
    // One iteration is one call on each thread, all at once.
    group.throughput(Throughput::Elements(threads as u64));
    if !support::quick() {
        group
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3));
    }
    let [floor, provider, provider_dyn, scoped, mutex, rwlock, across] = CONTENDERS;
    bench(&mut group, floor, &contenders.floor, threads);
    bench(&mut group, provider, &contenders.provider, threads);
    bench(&mut group, provider_dyn, &contenders.provider_dyn, threads);
    let token_for = Scoped {
        provider: &contenders.provider,
        scope: contenders.scope.clone(),
    };
    bench(&mut group, scoped, &token_for, threads);
    bench(&mut group, mutex, &contenders.mutex, threads);
    bench(&mut group, rwlock, &contenders.rwlock, threads);
    bench(&mut group, across, &contenders.across, threads);
    group.finish();
}

fn bench<C: Cache>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    cache: &C,
    threads: usize,
) {
    group.bench_function(name, |b| {
        b.iter_custom(|iters| support::aggregate(threads, iters, || cache.get()))
    });
}

// ---------------------------------------------------------------------------------------
// During a refresh: one call made while a 100 ms refresh is in flight

fn during_refresh(criterion: &mut Criterion) {
    // The refreshes run on the worker thread while the bench thread makes the calls.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let mut group = criterion.benchmark_group("during_refresh");
    group.sample_size(10).sampling_mode(SamplingMode::Flat);
    group
        .warm_up_time(Duration::from_millis(50))
        .measurement_time(Duration::from_millis(200));
    // The baseline: the same calls from the same thread, no refresh anywhere.
    let idle = SharedTokenProvider::from_source(TestSource::long_lived());
    runtime.block_on(idle.token()).expect("first token");
    group.bench_function("shared_provider_no_refresh", |b| {
        b.iter_custom(|iters| time_calls(&runtime, &idle, iters))
    });
    // Started ahead, so that criterion's warm-up times calls rather than this set-up.
    let mut flight = Some(runtime.block_on(InFlight::start()));
    group.bench_function("shared_provider", |b| {
        b.iter_custom(|iters| time_calls_in_flight(&runtime, &mut flight, iters))
    });
    // Each call here waits ~90 ms: ten samples of one call.
    group
        .warm_up_time(Duration::from_millis(100))
        .measurement_time(Duration::from_millis(1100));
    group.bench_function("lock_across_fetch", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| time_caller_behind_lock(&runtime)).sum())
    });
    group.finish();
}

/// A `SharedTokenProvider` whose token is inside its early window and whose background
/// refresh (100 ms) is in flight.
struct InFlight {
    provider: SharedTokenProvider,
    source: Arc<TestSource>,
    refresh_started: StdInstant,
}

impl InFlight {
    async fn start() -> Self {
        let source = Arc::new(TestSource::new(Some(SHORT_LIFETIME), HOUR, REFRESH_TIME));
        let provider = SharedTokenProvider::from_source(Arc::clone(&source));
        provider.token().await.expect("first token");
        // The default 60 s window, clamped to half of 300 ms: the token enters it at 150 ms.
        // Keep calling meanwhile (untimed), so the thread is as warm as the baseline's.
        let window = StdInstant::now() + SHORT_LIFETIME / 2 + Duration::from_millis(10);
        while StdInstant::now() < window {
            let _ = black_box(provider.token().await);
        }
        // This call finds the token in its window: it starts the background refresh.
        provider.token().await.expect("token in its window");
        while source.started() < 2 {
            tokio::task::yield_now().await;
        }
        Self {
            provider,
            source,
            refresh_started: StdInstant::now(),
        }
    }

    fn still_in_flight(&self) -> bool {
        self.source.completed() == 1
    }
}

/// Times `iters` calls, each made while a refresh is in flight (a refresh covers at most
/// `MAX_CALLS_PER_FLIGHT` calls made in its first 50 ms; a batch during which the refresh
/// ended is measured again).
fn time_calls_in_flight(runtime: &Runtime, flight: &mut Option<InFlight>, iters: u64) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let batch = left.min(MAX_CALLS_PER_FLIGHT);
        let current = match flight.take() {
            Some(current) if current.refresh_started.elapsed() < FLIGHT_USABLE_FOR => current,
            _ => runtime.block_on(InFlight::start()),
        };
        let elapsed = time_calls(runtime, &current.provider, batch);
        if current.still_in_flight() {
            total += elapsed;
            left -= batch;
            *flight = Some(current);
        }
    }
    total
}

/// The latencies of `calls` calls of `provider.token()` made from this thread, in
/// `runtime`, each timed on its own (as the lock-across-fetch caller is), added up.
fn time_calls(runtime: &Runtime, provider: &SharedTokenProvider, calls: u64) -> Duration {
    runtime.block_on(async {
        let mut total = Duration::ZERO;
        for _ in 0..calls {
            let start = StdInstant::now();
            let token = provider.token().await;
            total += start.elapsed();
            let _ = black_box(token);
        }
        total
    })
}

/// Starts a refresh of a lock-across-fetch cache (its token still valid, its refresh due),
/// waits 10 ms, then times one more caller.
fn time_caller_behind_lock(runtime: &Runtime) -> Duration {
    runtime.block_on(async {
        let source = Arc::new(TestSource::new(None, HOUR, REFRESH_TIME));
        let token = AccessToken::new("bench-token", Instant::now() + HOUR);
        let cache = Arc::new(LockAcrossFetch {
            slot: Mutex::new(Some(Entry::due(token))),
            source,
        });
        let refresher = tokio::spawn({
            let cache = Arc::clone(&cache);
            async move { cache.get().await }
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        let start = StdInstant::now();
        let _ = black_box(cache.get().await);
        let elapsed = start.elapsed();
        refresher
            .await
            .expect("refresher")
            .expect("refreshed token");
        elapsed
    })
}

// ---------------------------------------------------------------------------------------
// Summary

fn summary(results: &support::Results) {
    let nanos = |group: &str, function: &str| results.nanos(group, function);
    let (one, two) = (hot_path_group(1), hot_path_group(2));
    println!();
    println!(
        "token_hot_path: absolute figures (this machine; {})",
        support::load()
    );
    println!(
        "  {:<22} {:>14} {:>26}",
        "contender", "1 thread/call", "2 threads: Mcalls/s total"
    );
    for name in CONTENDERS {
        let single = nanos(&one, name).map_or("n/a".into(), support::human);
        let pair = nanos(&two, name).map_or("n/a".into(), |ns| format!("{:.1}", 2e3 / ns));
        println!("  {name:<22} {single:>14} {pair:>26}");
    }
    let ratio = |group: &str, num: &str, den: &str| Some(nanos(group, num)? / nanos(group, den)?);
    println!();
    println!("token_hot_path: ratios");
    support::ratio_line(
        "1 thread: SharedTokenProvider / floor (time per call)",
        ratio(&one, "shared_provider", "floor"),
        "<= 1.5x",
        |r| r <= 1.5,
    );
    support::ratio_line(
        "1 thread: Arc<dyn TokenProvider> / floor (time per call)",
        ratio(&one, "shared_provider_dyn", "floor"),
        "<= 2x",
        |r| r <= 2.0,
    );
    support::ratio_line(
        "1 thread: token_for (scoped) / token(), same provider",
        ratio(&one, "shared_provider_scoped", "shared_provider"),
        "<= 2x",
        |r| r <= 2.0,
    );
    // Two threads cloning one `Arc` contend for its cache line: these move from run to run
    // (the two vCPUs' placement on the host), so they carry no target.
    support::info_line(
        "2 threads: SharedTokenProvider / floor (time per call)",
        ratio(&two, "shared_provider", "floor"),
    );
    support::info_line(
        "2 threads: Arc<dyn TokenProvider> / floor (time per call)",
        ratio(&two, "shared_provider_dyn", "floor"),
    );
    support::info_line(
        "2 threads: token_for (scoped) / token(), same provider",
        ratio(&two, "shared_provider_scoped", "shared_provider"),
    );
    support::ratio_line(
        "2 threads: throughput SharedTokenProvider / tokio Mutex",
        ratio(&two, "tokio_mutex", "shared_provider"),
        ">= 3x",
        |r| r >= 3.0,
    );
    for (name, label) in [
        ("tokio_rwlock", "tokio RwLock"),
        ("mutex_across_fetch", "lock-across-fetch"),
    ] {
        support::info_line(
            &format!("2 threads: throughput SharedTokenProvider / {label}"),
            ratio(&two, name, "shared_provider"),
        );
    }
    let idle = nanos("during_refresh", "shared_provider_no_refresh");
    let provider = nanos("during_refresh", "shared_provider");
    let across = nanos("during_refresh", "lock_across_fetch");
    let show = |ns: Option<f64>| ns.map_or("n/a".into(), support::human);
    println!();
    println!("token_hot_path: one call while a 100 ms refresh is in flight (this machine)");
    println!(
        "  SharedTokenProvider, no refresh (baseline): {}",
        show(idle)
    );
    println!(
        "  SharedTokenProvider, refresh in flight:     {}",
        show(provider)
    );
    println!(
        "  lock-across-fetch cache, refresh in flight: {}",
        show(across)
    );
    support::ratio_line(
        "during refresh / no refresh: SharedTokenProvider",
        provider.zip(idle).map(|(during, idle)| during / idle),
        "<= 1.5x",
        |r| r <= 1.5,
    );
    support::info_line(
        "during refresh: lock-across-fetch / SharedTokenProvider",
        across
            .zip(provider)
            .map(|(across, provider)| across / provider),
    );
}
