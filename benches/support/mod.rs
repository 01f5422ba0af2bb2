//! Shared by the criterion benchmarks: quick mode, and reading back what criterion
//! measured so each bench can print its ratios against the baselines of the same run.

#![allow(dead_code, reason = "each benchmark uses its own part of this module")]

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, SystemTime};

use criterion::Criterion;

/// Quick mode: `cargo bench -- --quick` (criterion's own flag) or `TC_BENCH_QUICK=1`.
/// The benches then also shrink their workloads.
pub fn quick() -> bool {
    std::env::args().any(|arg| arg == "--quick")
        || std::env::var("TC_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// A criterion configured from the command line; in quick mode with short timings.
pub fn criterion() -> Criterion {
    let criterion = Criterion::default().configure_from_args();
    if quick() {
        criterion
            .warm_up_time(Duration::from_millis(200))
            .measurement_time(Duration::from_millis(800))
            .sample_size(10)
    } else {
        criterion
    }
}

/// What criterion saved for the benchmarks of this process.
pub struct Results {
    started: SystemTime,
    dir: PathBuf,
}

impl Results {
    /// Call before the first benchmark: estimates older than this are ignored.
    pub fn new() -> Self {
        Self {
            started: SystemTime::now(),
            dir: criterion_dir(),
        }
    }

    /// Criterion's estimate (slope, else mean) of one iteration of `group/function`, in
    /// nanoseconds, if it was measured by this process.
    pub fn nanos(&self, group: &str, function: &str) -> Option<f64> {
        let path = self
            .dir
            .join(group)
            .join(function)
            .join("new")
            .join("estimates.json");
        let modified = std::fs::metadata(&path).ok()?.modified().ok()?;
        if modified < self.started {
            return None;
        }
        let json: serde_json::Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
        let typical = match &json["slope"] {
            serde_json::Value::Null => &json["mean"],
            slope => slope,
        };
        typical["point_estimate"].as_f64()
    }
}

/// Where criterion writes, found as criterion finds it.
fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return home.into();
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(target).join("criterion");
    }
    cargo_target_dir()
        .unwrap_or_else(|| PathBuf::from("target"))
        .join("criterion")
}

fn cargo_target_dir() -> Option<PathBuf> {
    let cargo = std::env::var_os("CARGO")?;
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .output()
        .ok()?;
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).ok()?;
    json["target_directory"].as_str().map(PathBuf::from)
}

/// A nanosecond figure, scaled for reading.
pub fn human(nanos: f64) -> String {
    match nanos {
        n if n >= 1e9 => format!("{:.2} s", n / 1e9),
        n if n >= 1e6 => format!("{:.2} ms", n / 1e6),
        n if n >= 1e3 => format!("{:.2} µs", n / 1e3),
        n => format!("{n:.1} ns"),
    }
}

/// One line of a bench's closing summary: a ratio, its target, and whether it is met.
pub fn ratio_line(what: &str, ratio: Option<f64>, target: &str, met: impl Fn(f64) -> bool) {
    match ratio {
        Some(r) => {
            let verdict = if met(r) { "met" } else { "MISSED" };
            println!("  {what:<58} {r:>7.2}x   target {target:<8} {verdict}");
        }
        None => println!("  {what:<58}     n/a   target {target:<8} (not measured in this run)"),
    }
}

/// A ratio reported without a target.
pub fn info_line(what: &str, ratio: Option<f64>) {
    match ratio {
        Some(r) => println!("  {what:<58} {r:>7.2}x"),
        None => println!("  {what:<58}     n/a   (not measured in this run)"),
    }
}

/// The load averages now, for the record: a busy machine skews every figure.
pub fn load() -> String {
    let loadavg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let fields: Vec<&str> = loadavg.split_whitespace().take(3).collect();
    format!("load average {}", fields.join(" "))
}

/// A current-thread tokio runtime with time and I/O, for one bench thread.
pub fn current_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// `threads` OS threads, each making `iters` calls of `call` in a current-thread runtime
/// of its own, released together: the wall time from the first start to the last end.
pub fn aggregate<F, Fut>(threads: usize, iters: u64, call: F) -> Duration
where
    F: Fn() -> Fut + Sync,
    Fut: std::future::Future,
{
    let barrier = std::sync::Barrier::new(threads);
    let spans: Vec<(std::time::Instant, std::time::Instant)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let runtime = current_thread_runtime();
                    barrier.wait();
                    runtime.block_on(async {
                        let start = std::time::Instant::now();
                        for _ in 0..iters {
                            std::hint::black_box(call().await);
                        }
                        (start, std::time::Instant::now())
                    })
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().expect("bench thread panicked"))
            .collect()
    });
    let start = spans.iter().map(|span| span.0).min().expect("a thread");
    let end = spans.iter().map(|span| span.1).max().expect("a thread");
    end - start
}
