//! A storm of `token()` calls across a token expiry. See BENCHMARKS.md.
//!
//! Calls are launched at a steady rate (a batch of spawned tasks every 1 ms) over a window
//! that crosses the expiry of a 2 s token fetched just before, from a source that takes
//! 100 ms per fetch and counts them. Three runs: refresh-ahead on (the default policy: the
//! 60 s window is clamped to 1 s), off (`early_refresh: 0`: refresh on demand at expiry),
//! and a baseline whose long-lived token does not expire in the window.
//!
//! `cargo bench --bench refresh_storm` prints the latency table. Under `cargo test` (no
//! `--bench` argument) a shorter storm runs and only the invariant is asserted: exactly one
//! token request during the storm, refresh-ahead on and off, and every call gets a token.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant as StdInstant};

use token_client::{
    AccessToken, RefreshPolicy, SharedTokenProvider, TokenError, TokenProvider, TokenSource,
};
use tokio::time::{Instant, MissedTickBehavior};

const LIFETIME: Duration = Duration::from_secs(2);
const FETCH_TIME: Duration = Duration::from_millis(100);
const TICK: Duration = Duration::from_millis(1);

/// When the storm starts (after the token was fetched), how long it lasts, how many calls
/// each tick launches.
#[derive(Clone, Copy)]
struct Plan {
    start: Duration,
    ticks: u32,
    per_tick: u32,
}

/// The full storm: 10,000 calls from 1.5 s to 2.5 s, across the expiry at 2 s. With
/// refresh-ahead, the first call (at 1.5 s, inside the 1 s window) starts the one refresh;
/// the next token's window opens at 1.6 s + 1 s, after the storm.
const FULL: Plan = Plan {
    start: Duration::from_millis(1500),
    ticks: 1000,
    per_tick: 10,
};

/// The test's storm: 2,000 calls from 1.75 s to 2.25 s, leaving 350 ms of margin before the
/// next token's window opens, so a slow CI machine does not see a second, legitimate fetch.
const QUICK: Plan = Plan {
    start: Duration::from_millis(1750),
    ticks: 500,
    per_tick: 4,
};

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    RefreshAhead,
    OnDemand,
    NoExpiry,
}

impl Mode {
    fn label(self) -> &'static str {
        match self {
            Mode::RefreshAhead => "refresh-ahead on (default policy)",
            Mode::OnDemand => "refresh-ahead off (early_refresh: 0)",
            Mode::NoExpiry => "baseline: no expiry in the window",
        }
    }

    fn policy(self) -> RefreshPolicy {
        match self {
            Mode::OnDemand => RefreshPolicy::default().early_refresh(Duration::ZERO),
            Mode::RefreshAhead | Mode::NoExpiry => RefreshPolicy::default(),
        }
    }

    fn lifetime(self) -> Duration {
        match self {
            Mode::NoExpiry => Duration::from_secs(3600),
            Mode::RefreshAhead | Mode::OnDemand => LIFETIME,
        }
    }
}

fn main() -> ExitCode {
    let bench = std::env::args().any(|arg| arg == "--bench");
    let quick = std::env::args().any(|arg| arg == "--quick")
        || std::env::var("TC_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    if bench {
        let (plan, rounds) = if quick { (QUICK, 1) } else { (FULL, 3) };
        runtime.block_on(report(plan, rounds));
        ExitCode::SUCCESS
    } else {
        runtime.block_on(check())
    }
}

/// Under `cargo test`: the invariant only, no timings.
async fn check() -> ExitCode {
    let (mut passed, mut failed) = (0, 0);
    for mode in [Mode::RefreshAhead, Mode::OnDemand] {
        let run = storm(mode, QUICK).await;
        let ok = run.fetches == 1 && run.failures == 0;
        println!(
            "refresh_storm: {}: {} calls, {} token request(s) during the storm, {} failed call(s): {}",
            mode.label(),
            run.latencies.len(),
            run.fetches,
            run.failures,
            if ok {
                "ok"
            } else {
                "FAILED (expected 1 request, 0 failures)"
            }
        );
        if ok {
            passed += 1;
        } else {
            failed += 1;
        }
    }
    println!("refresh_storm: {passed} passed, {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Under `cargo bench`: the table. The three runs are repeated `rounds` times, in turn, and
/// each figure is the median round's: a p99 of sub-microsecond calls moves with whatever
/// else the machine does during one second.
async fn report(plan: Plan, rounds: usize) {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "refresh_storm: {} calls over {} ms ({} every {} ms), token lifetime {} s, fetch {} ms, {rounds} round(s); load average {}",
        plan.ticks * plan.per_tick,
        plan.ticks,
        plan.per_tick,
        TICK.as_millis(),
        LIFETIME.as_secs(),
        FETCH_TIME.as_millis(),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    let modes = [Mode::NoExpiry, Mode::RefreshAhead, Mode::OnDemand];
    let mut runs: Vec<Vec<Run>> = modes.iter().map(|_| Vec::new()).collect();
    for _ in 0..rounds {
        for (mode, runs) in modes.iter().zip(&mut runs) {
            runs.push(storm(*mode, plan).await);
        }
    }
    println!();
    println!(
        "  {:<38} {:>6} {:>10} {:>11} {:>11} {:>11} {:>7}",
        "run (this machine, median round)", "calls", "requests", "p50", "p99", "max", "failed"
    );
    for (mode, runs) in modes.iter().zip(&runs) {
        let requests: Vec<String> = runs.iter().map(|run| run.fetches.to_string()).collect();
        println!(
            "  {:<38} {:>6} {:>10} {:>11} {:>11} {:>11} {:>7}",
            mode.label(),
            runs[0].latencies.len(),
            requests.join("/"),
            human(median(runs, 0.50)),
            human(median(runs, 0.99)),
            human(median(runs, 1.0)),
            runs.iter().map(|run| run.failures).sum::<usize>()
        );
    }
    let p99 = |wanted: Mode| {
        let at = modes.iter().position(|mode| *mode == wanted);
        median(&runs[at.expect("every mode ran")], 0.99)
    };
    let ahead = p99(Mode::RefreshAhead).as_secs_f64() / p99(Mode::NoExpiry).as_secs_f64();
    let on_demand = p99(Mode::OnDemand);
    println!();
    for (mode, runs) in modes.iter().zip(&runs).skip(1) {
        let exactly_one = runs.iter().all(|run| run.fetches == 1);
        println!(
            "  {:<70} {:>8}   target 1         {}",
            format!("token requests during each storm, {}", mode.label()),
            if exactly_one { "1" } else { "not 1" },
            verdict(exactly_one)
        );
    }
    println!(
        "  {:<70} {ahead:>7.2}x   target <= 1.2x   {}",
        "p99 refresh-ahead on / p99 baseline",
        verdict(ahead <= 1.2)
    );
    println!(
        "  {:<70} {:>8}   target ~100 ms   {}",
        "p99 refresh-ahead off (callers wait for the fetch)",
        human(on_demand),
        verdict(on_demand >= FETCH_TIME / 2)
    );
}

/// The median over `runs` of their percentile `p`.
fn median(runs: &[Run], p: f64) -> Duration {
    let mut values: Vec<Duration> = runs.iter().map(|run| run.percentile(p)).collect();
    values.sort_unstable();
    values[values.len() / 2]
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "MISSED" }
}

/// What one storm saw.
struct Run {
    /// Latency of each `token()` call, sorted.
    latencies: Vec<Duration>,
    /// Token requests started between the first and the last call of the storm.
    fetches: usize,
    /// Calls that got an error instead of a token.
    failures: usize,
}

impl Run {
    fn percentile(&self, p: f64) -> Duration {
        let last = self.latencies.len() - 1;
        self.latencies[((last as f64) * p).round() as usize]
    }
}

async fn storm(mode: Mode, plan: Plan) -> Run {
    let source = Arc::new(CountingSource::new(mode.lifetime()));
    let provider = SharedTokenProvider::from_source_with_policy(Arc::clone(&source), mode.policy());
    provider
        .token()
        .await
        .expect("the token fetched before the storm");
    tokio::time::sleep(plan.start).await;

    let before = source.fetches();
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let mut calls = Vec::with_capacity((plan.ticks * plan.per_tick) as usize);
    for _ in 0..plan.ticks {
        ticker.tick().await;
        for _ in 0..plan.per_tick {
            let provider = provider.clone();
            calls.push(tokio::spawn(async move {
                let start = StdInstant::now();
                let outcome = provider.token().await;
                (start.elapsed(), outcome.is_ok())
            }));
        }
    }
    let mut latencies = Vec::with_capacity(calls.len());
    let mut failures = 0;
    for call in calls {
        let (latency, ok) = call.await.expect("call task");
        latencies.push(latency);
        failures += usize::from(!ok);
    }
    let fetches = source.fetches() - before;
    latencies.sort_unstable();
    Run {
        latencies,
        fetches,
        failures,
    }
}

/// Takes 100 ms per fetch and counts them.
struct CountingSource {
    lifetime: Duration,
    fetches: AtomicUsize,
}

impl CountingSource {
    fn new(lifetime: Duration) -> Self {
        Self {
            lifetime,
            fetches: AtomicUsize::new(0),
        }
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

#[token_client::async_trait]
impl TokenSource for CountingSource {
    async fn fetch(&self) -> Result<AccessToken, TokenError> {
        let n = self.fetches.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(FETCH_TIME).await;
        Ok(AccessToken::new(
            format!("storm-token-{n}"),
            Instant::now() + self.lifetime,
        ))
    }
}

fn human(duration: Duration) -> String {
    let nanos = duration.as_nanos() as f64;
    match nanos {
        n if n >= 1e6 => format!("{:.2} ms", n / 1e6),
        n if n >= 1e3 => format!("{:.2} µs", n / 1e3),
        n => format!("{n:.0} ns"),
    }
}
