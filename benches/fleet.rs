//! A fleet of instances sharing one token through a real Redis (`RedisTokenStore`), against
//! the same instances without a store. See BENCHMARKS.md.
//!
//! 1. **Token requests per lifetime**: N = 1, 4, 8 instances (each its own provider, and
//!    its own store connection with the store), 4 callers per instance calling `token()`
//!    in a loop, for 3 lifetimes of 2 s tokens on a 2-worker runtime. A counted quantity:
//!    a table, no timing.
//! 2. **A store miss**: the first `token()` of a cold provider with an empty store (load,
//!    lock, load, fetch, save) against the same first call without a store, same IdP with
//!    no delay; p50 and p99 of each and the difference.
//! 3. **Hot path** (criterion): `token()` on a warm provider with a store configured
//!    against one without: the store must cost nothing there.
//!
//! Needs `redis-server` (or Valkey with `TOKEN_CLIENT_TEST_STORE=valkey`): see
//! tests/support/redis_server.rs, which this bench includes, as it includes the counting
//! token endpoint of tests/support/counting_idp.rs.

mod support;

#[path = "../tests/support/counting_idp.rs"]
mod counting_idp;
#[path = "../tests/support/redis_server.rs"]
mod redis_server;

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant as StdInstant};

use counting_idp::CountingIdp;
use criterion::Criterion;
use redis_server::RedisServer;
use token_client::{RedisTokenStore, SharedTokenProvider, TokenOptions, TokenProvider};
use tokio::runtime::Runtime;
use tokio::time::Instant;

const KEY: [u8; 32] = *b"fleet-bench-key-0123456789abcde!";
const HOUR: Duration = Duration::from_secs(3600);

/// The fleet's tokens: refreshed at half their lifetime (the 60 s window, clamped).
const LIFETIME: Duration = Duration::from_secs(2);
/// How long the fleet's token endpoint takes to answer.
const FLEET_FETCH: Duration = Duration::from_millis(20);
const FLEET_SIZES: [usize; 3] = [1, 4, 8];
const CALLERS_PER_INSTANCE: usize = 4;
/// A caller's pause between two calls (it also lets the runtime run the refreshes).
const CALL_PAUSE: Duration = Duration::from_millis(1);
/// Counting starts this long after the cold start, mid-way between two refreshes, so the
/// window holds a whole number of refresh periods rather than a boundary at each end.
const COUNT_OFFSET: Duration = Duration::from_millis(500);

const HOT_GROUP: &str = "fleet_hot_path";
const WITHOUT_STORE: &str = "without_store";
const WITH_STORE: &str = "with_store";

fn main() {
    let quick = support::quick();
    let results = support::Results::new();
    let mut criterion = support::criterion();
    // The Redis, the token endpoints and the fleets run here; the hot path runs on a
    // current-thread runtime of the bench thread.
    let harness = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let server = harness.block_on(RedisServer::start());
    println!(
        "fleet: on {} at {} ({})",
        server.flavor(),
        server.url(),
        support::load()
    );

    let lifetimes = if quick { 1 } else { 3 };
    let runs: Vec<FleetRun> = FLEET_SIZES
        .iter()
        .flat_map(|&n| [(n, false), (n, true)])
        .map(|(n, with_store)| {
            let run = harness.block_on(fleet_run(&server, n, with_store, lifetimes));
            println!("fleet: {}", run.describe());
            run
        })
        .collect();

    let samples = if quick { 20 } else { 200 };
    let misses = harness.block_on(store_misses(&server, samples));

    let rounds = hot_path(&mut criterion, &harness, &server);
    criterion.final_summary();
    summary(&results, &runs, &misses, &rounds, lifetimes);
    drop(server);
}

fn options(idp: &CountingIdp) -> TokenOptions {
    TokenOptions::client_credentials(idp.token_endpoint(), "fleet-client", "fleet-secret")
        .request_timeout(Duration::from_secs(2))
}

/// A store with a connection of its own.
fn store(server: &RedisServer, namespace: &str) -> RedisTokenStore {
    RedisTokenStore::new(&server.url())
        .expect("a Redis URL")
        .namespace(namespace)
        .encryption_key(KEY)
}

fn provider(idp: &CountingIdp, store: Option<RedisTokenStore>) -> SharedTokenProvider {
    let builder = SharedTokenProvider::builder(options(idp));
    match store {
        Some(store) => builder.store(store),
        None => builder,
    }
    .build()
    .expect("a provider")
}

// ---------------------------------------------------------------------------------------
// 1. Token requests per lifetime

struct FleetRun {
    instances: usize,
    with_store: bool,
    /// Token requests of the cold start (every instance's first call).
    cold: u64,
    /// Token requests in the counting window, and its length in lifetimes.
    requests: u64,
    lifetimes: f64,
    calls: u64,
    /// Tokens handed out already expired (must be 0).
    expired: u64,
}

impl FleetRun {
    fn per_lifetime(&self) -> f64 {
        self.requests as f64 / self.lifetimes
    }

    fn describe(&self) -> String {
        format!(
            "{} instance(s), {}: {} cold-start request(s), {} request(s) in {:.2} lifetimes \
             ({:.2} per lifetime), {} calls, {} expired",
            self.instances,
            store_label(self.with_store),
            self.cold,
            self.requests,
            self.lifetimes,
            self.per_lifetime(),
            self.calls,
            self.expired
        )
    }
}

fn store_label(with_store: bool) -> &'static str {
    if with_store { "with store" } else { "no store" }
}

/// `n` instances, cold-started together, then called by their callers for `lifetimes`
/// token lifetimes (plus the offset), counting token requests in that window.
async fn fleet_run(server: &RedisServer, n: usize, with_store: bool, lifetimes: u32) -> FleetRun {
    let idp = CountingIdp::start(LIFETIME, FLEET_FETCH).await;
    // A namespace per run: no run adopts another's token.
    let namespace = format!("fleet-{n}");
    let instances: Vec<SharedTokenProvider> = (0..n)
        .map(|_| provider(&idp, with_store.then(|| store(server, &namespace))))
        .collect();
    let cold: Vec<_> = instances
        .iter()
        .map(|provider| {
            let provider = provider.clone();
            tokio::spawn(async move { provider.token().await })
        })
        .collect();
    for call in cold {
        call.await.expect("a cold start").expect("a first token");
    }
    let cold = idp.requests();

    let started = Instant::now();
    let stop_at = started + COUNT_OFFSET + LIFETIME * lifetimes;
    let calls = Arc::new(AtomicU64::new(0));
    let expired = Arc::new(AtomicU64::new(0));
    let mut callers = Vec::new();
    for provider in &instances {
        for _ in 0..CALLERS_PER_INSTANCE {
            let provider = provider.clone();
            let (calls, expired) = (Arc::clone(&calls), Arc::clone(&expired));
            callers.push(tokio::spawn(async move {
                while Instant::now() < stop_at {
                    let token = provider.token().await.expect("a token");
                    if token.is_expired_at(Instant::now()) {
                        expired.fetch_add(1, Ordering::Relaxed);
                    }
                    calls.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(CALL_PAUSE).await;
                }
            }));
        }
    }
    tokio::time::sleep_until(started + COUNT_OFFSET).await;
    let (before, from) = (idp.requests(), Instant::now());
    tokio::time::sleep_until(stop_at).await;
    let (after, to) = (idp.requests(), Instant::now());
    for caller in callers {
        caller.await.expect("a caller");
    }
    FleetRun {
        instances: n,
        with_store,
        cold,
        requests: after - before,
        lifetimes: (to - from).as_secs_f64() / LIFETIME.as_secs_f64(),
        calls: calls.load(Ordering::Relaxed),
        expired: expired.load(Ordering::Relaxed),
    }
}

// ---------------------------------------------------------------------------------------
// 2. A store miss

/// Figures, sorted: latencies in nanoseconds, ratios.
struct Sorted(Vec<f64>);

impl Sorted {
    fn new(mut values: Vec<f64>) -> Self {
        values.sort_by(f64::total_cmp);
        Self(values)
    }

    /// The `p`-th percentile (nearest rank).
    fn percentile(&self, p: f64) -> f64 {
        let rank = ((p / 100.0) * self.0.len() as f64).ceil() as usize;
        self.0[rank.clamp(1, self.0.len()) - 1]
    }
}

struct Misses {
    samples: usize,
    /// A fresh provider without a store: its first call fetches.
    plain: Sorted,
    /// A fresh provider, an empty store on a connection already open (a fresh namespace
    /// on a clone of a warmed store): miss, lock, load, fetch, save.
    store: Sorted,
    /// The same on a store connection of its own, opened by that first call: what a
    /// newly started instance pays.
    store_new_connection: Sorted,
    /// Token requests made per sample with the store (must be 1: every sample a miss).
    requests_per_store_sample: f64,
}

async fn store_misses(server: &RedisServer, samples: usize) -> Misses {
    let idp = CountingIdp::start(HOUR, Duration::ZERO).await;
    // Opens the connection that the samples' stores share (clones share it).
    let shared = store(server, "miss-warm-up");
    provider(&idp, Some(shared.clone()))
        .token()
        .await
        .expect("a token");
    let first_call = |provider: SharedTokenProvider| async move {
        let start = StdInstant::now();
        let token = provider.token().await;
        let nanos = start.elapsed().as_nanos() as f64;
        black_box(token.expect("a token"));
        nanos
    };
    let (mut plain, mut store_warm, mut store_cold) = (Vec::new(), Vec::new(), Vec::new());
    let mut store_requests = 0;
    // Interleaved, so that whatever else the machine does spreads over the three.
    for i in 0..samples {
        plain.push(first_call(provider(&idp, None)).await);
        let namespace = format!("miss-{i}");
        let before = idp.requests();
        let fresh = provider(&idp, Some(shared.clone().namespace(namespace.as_str())));
        store_warm.push(first_call(fresh).await);
        let namespace = format!("miss-new-connection-{i}");
        let fresh = provider(&idp, Some(store(server, &namespace)));
        store_cold.push(first_call(fresh).await);
        store_requests += idp.requests() - before;
    }
    Misses {
        samples,
        plain: Sorted::new(plain),
        store: Sorted::new(store_warm),
        store_new_connection: Sorted::new(store_cold),
        requests_per_store_sample: store_requests as f64 / (2 * samples) as f64,
    }
}

// ---------------------------------------------------------------------------------------
// 3. Hot path

/// Criterion's two benchmarks, then the alternating rounds.
fn hot_path(criterion: &mut Criterion, harness: &Runtime, server: &RedisServer) -> Rounds {
    // The token endpoint runs on the harness; the calls on this thread's runtime.
    let idp = harness.block_on(CountingIdp::start(HOUR, Duration::ZERO));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let plain = provider(&idp, None);
    let shared = provider(&idp, Some(store(server, "hot-path")));
    // Warm both: a token valid for an hour (the one with the store shares it there).
    runtime.block_on(async {
        plain.token().await.expect("first token");
        shared.token().await.expect("first token");
    });
    let mut group = criterion.benchmark_group(HOT_GROUP);
    if !support::quick() {
        group
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3));
    }
    for (name, provider) in [(WITHOUT_STORE, &plain), (WITH_STORE, &shared)] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                runtime.block_on(async {
                    let start = StdInstant::now();
                    for _ in 0..iters {
                        let _ = black_box(provider.token().await);
                    }
                    start.elapsed()
                })
            })
        });
    }
    group.finish();
    let rounds = alternating(&runtime, &plain, &shared);
    assert_eq!(idp.requests(), 2, "the hot path made no token request");
    rounds
}

/// The hot path's ratio again, by the median of rounds of one batch per provider, the
/// order alternating: criterion measures one, then the other, and this machine drifts in
/// between (other engineers' builds). Each batch is timed by the wall clock and by the
/// bench thread's CPU time (`/proc/thread-self/schedstat`), which leaves out the time the
/// thread was descheduled.
fn alternating(
    runtime: &Runtime,
    plain: &SharedTokenProvider,
    shared: &SharedTokenProvider,
) -> Rounds {
    let (rounds, calls) = if support::quick() {
        (6, 200_000)
    } else {
        (20, 1_000_000)
    };
    let batch = |provider: &SharedTokenProvider| {
        runtime.block_on(async {
            let (wall, cpu) = (StdInstant::now(), thread_cpu());
            for _ in 0..calls {
                let _ = black_box(provider.token().await);
            }
            (wall.elapsed(), thread_cpu() - cpu)
        })
    };
    let (mut wall, mut cpu) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let (without, with) = if round % 2 == 0 {
            let without = batch(plain);
            (without, batch(shared))
        } else {
            let with = batch(shared);
            (batch(plain), with)
        };
        wall.push(with.0.as_secs_f64() / without.0.as_secs_f64());
        cpu.push(with.1.as_secs_f64() / without.1.as_secs_f64());
    }
    Rounds {
        rounds,
        calls,
        wall: Sorted::new(wall),
        cpu: Sorted::new(cpu),
    }
}

/// The hot path's ratios with store / without store, one per alternating round.
struct Rounds {
    rounds: usize,
    calls: u64,
    wall: Sorted,
    cpu: Sorted,
}

/// The CPU time of this thread so far (`/proc/thread-self/schedstat`; zero without it).
fn thread_cpu() -> Duration {
    let nanos = std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    Duration::from_nanos(nanos)
}

// ---------------------------------------------------------------------------------------
// Summary

fn summary(
    results: &support::Results,
    runs: &[FleetRun],
    misses: &Misses,
    rounds: &Rounds,
    lifetimes: u32,
) {
    println!();
    println!(
        "fleet: token requests per lifetime ({} s tokens refreshed at half-life, {} ms per \
         fetch, {CALLERS_PER_INSTANCE} callers per instance, counted over {lifetimes} \
         lifetime(s); {})",
        LIFETIME.as_secs(),
        FLEET_FETCH.as_millis(),
        support::load()
    );
    println!(
        "  {:>9} {:>12} {:>12} {:>12} {:>13} {:>10} {:>8}",
        "instances", "store", "cold start", "per lifetime", "no/with store", "calls", "expired"
    );
    for run in runs {
        let without = runs
            .iter()
            .find(|other| other.instances == run.instances && !other.with_store);
        let ratio = match without {
            Some(without) if run.with_store && run.requests > 0 => {
                format!("{:.2}x", without.per_lifetime() / run.per_lifetime())
            }
            _ => String::new(),
        };
        println!(
            "  {:>9} {:>12} {:>12} {:>12.2} {:>13} {:>10} {:>8}",
            run.instances,
            store_label(run.with_store),
            run.cold,
            run.per_lifetime(),
            ratio,
            run.calls,
            run.expired
        );
    }

    println!();
    println!(
        "fleet: a cold provider's first token() ({} samples each, token endpoint with no delay)",
        misses.samples
    );
    println!("  {:<44} {:>10} {:>10}", "", "p50", "p99");
    let row = |what: &str, latencies: &Sorted| {
        println!(
            "  {what:<44} {:>10} {:>10}",
            support::human(latencies.percentile(50.0)),
            support::human(latencies.percentile(99.0))
        );
    };
    row("no store (plain fetch)", &misses.plain);
    row("store miss, connection open", &misses.store);
    row("store miss, new connection", &misses.store_new_connection);
    for (what, latencies) in [
        ("store miss - no store", &misses.store),
        (
            "store miss on a new connection - no store",
            &misses.store_new_connection,
        ),
    ] {
        let added = |p: f64| latencies.percentile(p) - misses.plain.percentile(p);
        println!(
            "  {what:<44} {:>10} {:>10}",
            signed(added(50.0)),
            signed(added(99.0))
        );
    }
    for (what, latencies) in [
        ("store miss / no store", &misses.store),
        (
            "store miss on a new connection / no store",
            &misses.store_new_connection,
        ),
    ] {
        let ratio = |p: f64| latencies.percentile(p) / misses.plain.percentile(p);
        println!("  {what:<44} {:>9.2}x {:>9.2}x", ratio(50.0), ratio(99.0));
    }
    println!(
        "  token requests per store sample: {:.2} (1.00: every sample was a miss)",
        misses.requests_per_store_sample
    );

    let nanos = |function: &str| results.nanos(HOT_GROUP, function);
    let show = |ns: Option<f64>| ns.map_or("n/a".into(), support::human);
    println!();
    println!("fleet: hot path, a valid cached token, 1 thread (this machine)");
    println!("  no store:   {}", show(nanos(WITHOUT_STORE)));
    println!("  with store: {}", show(nanos(WITH_STORE)));
    let quartiles = |ratios: &Sorted| {
        format!(
            "median {:.3}x (quartiles {:.3}-{:.3}x)",
            ratios.percentile(50.0),
            ratios.percentile(25.0),
            ratios.percentile(75.0)
        )
    };
    println!(
        "  then {} alternating rounds of {} calls per provider, with / without store:",
        rounds.rounds, rounds.calls
    );
    println!(
        "    by the wall clock:          {}",
        quartiles(&rounds.wall)
    );
    println!("    by the thread's CPU time:   {}", quartiles(&rounds.cpu));
    println!();
    println!("fleet: ratios");
    support::ratio_line(
        "hot path: with store / without store (time per call)",
        nanos(WITH_STORE)
            .zip(nanos(WITHOUT_STORE))
            .map(|(with, without)| with / without),
        "<= 1.05x",
        |r| r <= 1.05,
    );
    support::ratio_line(
        &format!(
            "hot path: the same, median of {} alternating rounds (wall)",
            rounds.rounds
        ),
        Some(rounds.wall.percentile(50.0)),
        "<= 1.05x",
        |r| r <= 1.05,
    );
    support::info_line(
        "hot path: the same by the bench thread's CPU time",
        Some(rounds.cpu.percentile(50.0)).filter(|r| r.is_finite()),
    );
    for n in FLEET_SIZES {
        let of = |with_store: bool| {
            runs.iter()
                .find(|run| run.instances == n && run.with_store == with_store)
                .map(FleetRun::per_lifetime)
        };
        support::info_line(
            &format!("{n} instance(s): token requests without store / with store"),
            of(false)
                .zip(of(true))
                .map(|(without, with)| without / with),
        );
    }
}

/// A difference of nanosecond figures, with its sign.
fn signed(nanos: f64) -> String {
    if nanos < 0.0 {
        format!("-{}", support::human(-nanos))
    } else {
        format!("+{}", support::human(nanos))
    }
}
