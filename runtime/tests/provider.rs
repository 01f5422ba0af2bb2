//! The contract of `SharedTokenProvider` (DESIGN.md), one test per line, in paused time
//! against a scripted token source that counts its fetches.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{ScriptedSource, Step, poll_once, settle};
use token_client_runtime::{RefreshPolicy, SharedTokenProvider, TokenError, TokenProvider};
use tokio::time::{Instant, advance};

const SECOND: Duration = Duration::from_secs(1);

fn provider(source: &Arc<ScriptedSource>) -> SharedTokenProvider {
    SharedTokenProvider::from_source(Arc::clone(source))
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// Warms the cache with token `t1` (fetch took `delay`).
async fn warm(provider: &SharedTokenProvider) {
    assert_eq!(provider.token().await.unwrap().secret(), "t1");
}

async fn many_callers(provider: &SharedTokenProvider, n: usize) -> Vec<Result<String, TokenError>> {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let provider = provider.clone();
            tokio::spawn(async move { provider.token().await.map(|t| t.secret().to_owned()) })
        })
        .collect();
    let mut results = Vec::with_capacity(n);
    for task in tasks {
        results.push(task.await.unwrap());
    }
    results
}

#[tokio::test(start_paused = true)]
async fn thousand_concurrent_callers_on_empty_cache_cause_one_fetch() {
    let source = Arc::new(ScriptedSource::new(secs(300), secs(2)));
    let provider = provider(&source);
    let results = many_callers(&provider, 1000).await;
    assert_eq!(source.count(), 1);
    assert!(results.iter().all(|r| r.as_deref().ok() == Some("t1")));
}

#[tokio::test(start_paused = true)]
async fn valid_token_is_handed_out_without_waiting() {
    let source = Arc::new(ScriptedSource::new(secs(300), secs(2)));
    let provider = provider(&source);
    warm(&provider).await;
    // The hot path completes on its first poll: no lock, no allocation, no wait.
    assert_eq!(poll_once(provider.token()).unwrap().unwrap().secret(), "t1");
    assert_eq!(source.count(), 1);
}

#[tokio::test(start_paused = true)]
async fn token_in_early_window_is_served_at_once_while_one_background_refresh_runs() {
    let source = Arc::new(ScriptedSource::new(secs(300), secs(5)));
    let provider = provider(&source);
    warm(&provider).await;
    advance(secs(250)).await; // refresh due at 300 - 60 = 240 s
    let started = Instant::now();
    let results = many_callers(&provider, 200).await;
    assert_eq!(
        Instant::now(),
        started,
        "callers waited for the token endpoint"
    );
    assert!(results.iter().all(|r| r.as_deref().ok() == Some("t1")));
    // Still in flight: callers keep getting t1 at once.
    assert_eq!(poll_once(provider.token()).unwrap().unwrap().secret(), "t1");
    advance(secs(5)).await;
    settle().await;
    assert_eq!(source.count(), 2, "exactly one background refresh");
    assert_eq!(poll_once(provider.token()).unwrap().unwrap().secret(), "t2");
}

#[tokio::test(start_paused = true)]
async fn expired_token_makes_callers_wait_for_the_one_refresh() {
    let source = Arc::new(ScriptedSource::new(secs(300), secs(3)));
    let provider = provider(&source);
    warm(&provider).await;
    advance(secs(301)).await;
    let started = Instant::now();
    let results = many_callers(&provider, 500).await;
    assert_eq!(
        Instant::now() - started,
        secs(3),
        "callers waited for the refresh"
    );
    assert!(results.iter().all(|r| r.as_deref().ok() == Some("t2")));
    assert_eq!(source.count(), 2);
}

#[tokio::test(start_paused = true)]
async fn dropping_the_caller_that_started_a_refresh_does_not_cancel_it() {
    let source = Arc::new(ScriptedSource::new(secs(300), secs(4)));
    let provider = provider(&source);
    let first = tokio::time::timeout(SECOND, provider.token()).await;
    assert!(first.is_err(), "the first caller gives up after 1 s");
    let started = Instant::now();
    let results = many_callers(&provider, 100).await;
    assert_eq!(
        Instant::now() - started,
        secs(3),
        "the others waited for the same refresh"
    );
    assert!(results.iter().all(|r| r.as_deref().ok() == Some("t1")));
    assert_eq!(source.count(), 1);
}

#[tokio::test(start_paused = true)]
async fn failure_is_shared_with_waiters_then_forgotten_after_the_cooldown() {
    let source = Arc::new(
        ScriptedSource::new(secs(300), secs(1)).then(Step::Fail(TokenError::Timeout(secs(30)))),
    );
    let provider = provider(&source);
    let results = many_callers(&provider, 100).await;
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Err(TokenError::Timeout(_))))
    );
    assert_eq!(source.count(), 1, "one attempt for all waiters");
    // Within the cool-down the failure is served at once, without a new request.
    assert!(matches!(
        poll_once(provider.token()).unwrap(),
        Err(TokenError::Timeout(_))
    ));
    assert_eq!(source.count(), 1);
    advance(RefreshPolicy::default().failure_cooldown).await;
    assert_eq!(provider.token().await.unwrap().secret(), "t2");
    assert_eq!(source.count(), 2);
}

#[tokio::test(start_paused = true)]
async fn zero_cooldown_retries_at_once() {
    let source = Arc::new(
        ScriptedSource::new(secs(300), secs(1)).then(Step::Fail(TokenError::Timeout(secs(30)))),
    );
    let policy = RefreshPolicy::default().failure_cooldown(Duration::ZERO);
    let provider = SharedTokenProvider::from_source_with_policy(Arc::clone(&source), policy);
    assert!(provider.token().await.is_err());
    assert_eq!(provider.token().await.unwrap().secret(), "t2");
    assert_eq!(source.count(), 2);
}

#[tokio::test(start_paused = true)]
async fn still_valid_token_is_served_while_background_refresh_fails() {
    let source = Arc::new(
        ScriptedSource::new(secs(300), secs(1))
            .then(Step::Token(secs(300)))
            .then(Step::Fail(TokenError::RefreshAborted)),
    );
    let provider = provider(&source);
    warm(&provider).await;
    advance(secs(250)).await;
    assert_eq!(poll_once(provider.token()).unwrap().unwrap().secret(), "t1");
    settle().await;
    assert_eq!(source.count(), 2, "the background refresh started");
    advance(secs(1)).await;
    settle().await; // it failed; cool-down for 1 s
    assert_eq!(poll_once(provider.token()).unwrap().unwrap().secret(), "t1");
    settle().await;
    assert_eq!(source.count(), 2, "no new attempt within the cool-down");
    advance(secs(1)).await;
    assert_eq!(poll_once(provider.token()).unwrap().unwrap().secret(), "t1");
    settle().await;
    assert_eq!(source.count(), 3, "retried after the cool-down");
    advance(secs(1)).await;
    settle().await;
    assert_eq!(poll_once(provider.token()).unwrap().unwrap().secret(), "t3");
}

#[tokio::test(start_paused = true)]
async fn thousand_concurrent_invalidations_of_one_token_cause_one_refresh() {
    let source = Arc::new(ScriptedSource::new(secs(300), secs(1)));
    let provider = provider(&source);
    warm(&provider).await;
    let stale = provider.token().await.unwrap();
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let (provider, stale) = (provider.clone(), stale.clone());
            tokio::spawn(async move {
                provider.invalidate(&stale);
                provider.token().await.map(|t| t.secret().to_owned())
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap(), "t2");
    }
    assert_eq!(source.count(), 2);
}

#[tokio::test(start_paused = true)]
async fn invalidating_an_old_token_leaves_a_newer_one_alone() {
    let source = Arc::new(ScriptedSource::new(secs(300), secs(1)));
    let provider = provider(&source);
    warm(&provider).await;
    let old = provider.token().await.unwrap();
    provider.invalidate(&old);
    assert_eq!(provider.token().await.unwrap().secret(), "t2");
    provider.invalidate(&old);
    assert_eq!(poll_once(provider.token()).unwrap().unwrap().secret(), "t2");
    assert_eq!(source.count(), 2);
}

#[tokio::test(start_paused = true)]
async fn short_lived_token_is_not_refetched_on_every_call() {
    // 20 s token: the 60 s window is clamped to 10 s, so it is reused for 10 s.
    let source = Arc::new(ScriptedSource::new(secs(20), Duration::ZERO));
    let provider = provider(&source);
    warm(&provider).await;
    for _ in 0..9 {
        advance(SECOND).await;
        assert_eq!(poll_once(provider.token()).unwrap().unwrap().secret(), "t1");
    }
    assert_eq!(source.count(), 1);
    advance(secs(2)).await; // 11 s: inside the window
    provider.token().await.unwrap();
    settle().await;
    assert_eq!(source.count(), 2);
}

#[tokio::test(start_paused = true)]
async fn source_panic_does_not_leave_a_refresh_stuck() {
    let source = Arc::new(ScriptedSource::new(secs(300), secs(1)).then(Step::Panic));
    let policy = RefreshPolicy::default().failure_cooldown(Duration::ZERO);
    let provider = SharedTokenProvider::from_source_with_policy(Arc::clone(&source), policy);
    let results = many_callers(&provider, 10).await;
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Err(TokenError::RefreshAborted)))
    );
    assert_eq!(provider.token().await.unwrap().secret(), "t2");
}

#[tokio::test(start_paused = true)]
async fn dyn_provider_shares_the_cache() {
    let source = Arc::new(ScriptedSource::new(secs(300), secs(1)));
    let provider: Arc<dyn TokenProvider> = Arc::new(provider(&source));
    let a = provider.token().await.unwrap();
    let b = Arc::clone(&provider).token().await.unwrap();
    assert!(a.same_as(&b));
    assert_eq!(source.count(), 1);
    // Through the `Arc` as through the provider: invalidation reaches the cache.
    let shared: Arc<Arc<dyn TokenProvider>> = Arc::new(Arc::clone(&provider));
    shared.invalidate(&a);
    assert_eq!(provider.token().await.unwrap().secret(), "t2");
    assert_eq!(source.count(), 2);
}

/// A real token endpoint (wiremock) that answers `shared` after 200 ms, and expects to be
/// asked exactly once.
async fn slow_token_endpoint() -> wiremock::MockServer {
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    let body = r#"{"access_token":"shared","token_type":"Bearer","expires_in":3600}"#;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(body, "application/json")
                .set_delay(Duration::from_millis(200)),
        )
        .expect(1)
        .mount(&server)
        .await;
    server
}

/// The same on a real token endpoint and a multi-threaded runtime (real parallelism,
/// real time): 1,000 callers, one request.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thousand_parallel_callers_against_a_real_endpoint_cause_one_request() {
    let server = slow_token_endpoint().await;
    let options = token_client_runtime::TokenOptions::client_credentials(
        format!("{}/token", server.uri()),
        "svc",
        "secret",
    );
    let provider = SharedTokenProvider::new(options).unwrap();
    let barrier = Arc::new(tokio::sync::Barrier::new(1000));
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let (provider, barrier) = (provider.clone(), Arc::clone(&barrier));
            tokio::spawn(async move {
                barrier.wait().await;
                provider.token().await.map(|t| t.secret().to_owned())
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap(), "shared");
    }
}

/// A provider outlives the runtime that started a refresh: when that runtime shuts down
/// mid-refresh, the next caller, on another runtime, gets a token instead of waiting
/// forever on the dead refresh or being served its failure.
#[test]
fn a_refresh_cut_off_by_its_runtime_ending_does_not_block_the_next_runtime() {
    struct FirstHangs(std::sync::atomic::AtomicUsize);

    #[async_trait::async_trait]
    impl token_client_runtime::TokenSource for FirstHangs {
        async fn fetch(&self) -> Result<token_client_runtime::AccessToken, TokenError> {
            if self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                tokio::time::sleep(secs(3600)).await;
            }
            Ok(token_client_runtime::AccessToken::new(
                "fresh",
                Instant::now() + secs(300),
            ))
        }
    }

    let provider = SharedTokenProvider::from_source(FirstHangs(Default::default()));
    let runtime = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    };
    let first = runtime();
    let gave_up = first.block_on(async {
        tokio::time::timeout(Duration::from_millis(20), provider.token()).await
    });
    assert!(gave_up.is_err(), "the first refresh hangs");
    drop(first);
    let token = runtime()
        .block_on(async { tokio::time::timeout(secs(5), provider.token()).await })
        .expect("the second runtime does not wait on the dead refresh")
        .expect("a token");
    assert_eq!(token.secret(), "fresh");
}

/// A future polled long after it was created judges the cache when polled: the token
/// another caller fetched in between has expired by then, and a fresh one is fetched.
#[tokio::test(start_paused = true)]
async fn a_token_future_awaited_after_the_cached_token_expired_gets_a_fresh_one() {
    let source = Arc::new(ScriptedSource::new(secs(5), Duration::ZERO));
    let provider = provider(&source);
    let late = provider.token(); // the cache is empty now
    warm(&provider).await; // t1, valid for 5 s
    advance(secs(6)).await;
    let token = late.await.unwrap();
    assert_eq!(token.secret(), "t2");
    assert!(!token.is_expired_at(Instant::now()));
    assert_eq!(source.count(), 2);
}

/// Outside any tokio runtime no refresh can run: the caller gets an error naming the
/// cause, at once, and the provider serves correct callers afterwards.
#[test]
fn a_token_fetched_outside_a_runtime_is_a_clear_error_and_the_provider_keeps_working() {
    let source = Arc::new(ScriptedSource::new(secs(300), Duration::ZERO));
    let provider = provider(&source);
    let outside = std::thread::spawn({
        let provider = provider.clone();
        move || poll_once(provider.token()).expect("answers at once, without waiting")
    })
    .join()
    .expect("no panic");
    let error = outside.unwrap_err();
    assert!(matches!(error, TokenError::NoRuntime), "{error:?}");
    assert!(
        error.to_string().contains("needs a tokio runtime"),
        "{error}"
    );
    assert_eq!(source.count(), 0);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let token = runtime.block_on(provider.token()).unwrap();
    assert_eq!(token.secret(), "t1");
    assert_eq!(source.count(), 1);
}

/// A `Handle` kept past its runtime's shutdown (a `spawn_blocking` thread, a stored
/// handle): tokio drops every task spawned there at once. Neither a caller in the
/// early-refresh window (whose background refresh is dropped) nor one that needs a token
/// hangs, and a live runtime's caller then gets a token.
#[test]
fn a_shut_down_runtimes_handle_neither_hangs_callers_nor_breaks_the_provider() {
    let source = Arc::new(ScriptedSource::new(secs(4), Duration::ZERO));
    let provider = provider(&source);
    let paused = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    paused.block_on(async {
        warm(&provider).await;
        advance(secs(3)).await; // t1 is in its early window (the last 2 s)
    });
    let handle = paused.handle().clone();
    drop(paused);

    let entered = std::thread::spawn({
        let provider = provider.clone();
        move || {
            let _context = handle.enter();
            // Due for a refresh: handed out at once; its refresh task is dropped at spawn.
            let early = poll_once(provider.token()).expect("at once").unwrap();
            assert_eq!(early.secret(), "t1");
            provider.invalidate(&early);
            // Needs a token: its refresh is dropped too, and the caller is told.
            poll_once(provider.token()).expect("at once, not a hang")
        }
    })
    .join()
    .expect("no deadlock, no panic");
    assert!(
        matches!(entered, Err(TokenError::RefreshAborted)),
        "{entered:?}"
    );
    assert_eq!(source.count(), 1, "no dropped refresh reached the source");

    let live = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    assert_eq!(live.block_on(provider.token()).unwrap().secret(), "t2");
}

/// Policy values as large as a `Duration` holds saturate instead of overflowing an
/// `Instant` (which panicked, and panicked again in the refresh's drop guard: an abort).
#[tokio::test(start_paused = true)]
async fn policy_values_as_large_as_a_duration_never_panic() {
    let failing = TokenError::InvalidOptions("scripted".to_owned());
    let source = Arc::new(ScriptedSource::new(secs(300), Duration::ZERO).then(Step::Fail(failing)));
    let policy = RefreshPolicy::default()
        .early_refresh(Duration::MAX)
        .failure_cooldown(Duration::MAX);
    let provider = SharedTokenProvider::from_source_with_policy(Arc::clone(&source), policy);
    assert!(provider.token().await.is_err());
    advance(secs(3600 * 24 * 365)).await;
    assert!(
        provider.token().await.is_err(),
        "still cooling down, without a panic"
    );
    assert_eq!(source.count(), 1);

    // A 50-year token: the window, clamped to half its lifetime, is 25 years.
    let fifty_years = secs(3600 * 24 * 365 * 50);
    let lasting = Arc::new(ScriptedSource::new(fifty_years, Duration::ZERO));
    let provider = SharedTokenProvider::from_source_with_policy(Arc::clone(&lasting), policy);
    provider.token().await.unwrap();
    advance(secs(3600 * 24 * 365 * 20)).await;
    assert_eq!(provider.token().await.unwrap().secret(), "t1");
    assert_eq!(lasting.count(), 1);
}

/// A provider shared between runtimes: a refresh started by a caller on a runtime that is
/// then no longer driven would leave the callers of other runtimes waiting. With the
/// runtime named in the builder, refreshes run there, whoever starts them.
#[test]
fn refreshes_run_on_the_runtime_named_in_the_builder() {
    let named = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let server = named.block_on(slow_token_endpoint());
    let options = token_client_runtime::TokenOptions::client_credentials(
        format!("{}/token", server.uri()),
        "svc",
        "secret",
    );
    let provider = SharedTokenProvider::builder(options)
        .runtime(named.handle().clone())
        .build()
        .unwrap();
    // A caller on a current-thread runtime starts the refresh, then gives up: that
    // runtime is not driven any more (but not shut down either).
    let stalled = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let gave_up = stalled.block_on(async {
        tokio::time::timeout(Duration::from_millis(20), provider.token()).await
    });
    assert!(gave_up.is_err(), "the refresh takes 200 ms");
    let token = named
        .block_on(async { tokio::time::timeout(secs(5), provider.token()).await })
        .expect("the refresh ran on the named runtime, not on the stalled one")
        .unwrap();
    assert_eq!(token.secret(), "shared");
    named.block_on(server.verify());
}

/// The policy in force is the one given, whichever way the provider was built.
#[test]
fn the_provider_reports_the_policy_it_was_given() {
    let policy = RefreshPolicy::default()
        .early_refresh(secs(7))
        .failure_cooldown(secs(3));
    let source = Arc::new(ScriptedSource::new(secs(300), Duration::ZERO));
    let custom = SharedTokenProvider::from_source_with_policy(Arc::clone(&source), policy);
    assert_eq!(custom.policy(), policy);
    let options = token_client_runtime::TokenOptions::client_credentials(
        "https://login.example/token",
        "svc",
        "secret",
    );
    let built = SharedTokenProvider::builder(options.clone().early_refresh(secs(9)))
        .build()
        .unwrap();
    assert_eq!(built.policy().early_refresh, secs(9));
    let overridden = SharedTokenProvider::builder(options)
        .policy(policy)
        .build()
        .unwrap();
    assert_eq!(overridden.policy(), policy);
}

/// `Debug` says whether a token is cached (without its secret).
#[tokio::test(start_paused = true)]
async fn debug_shows_whether_a_token_is_cached_but_not_the_token() {
    let source = Arc::new(ScriptedSource::new(secs(300), Duration::ZERO));
    let provider = provider(&source);
    assert!(
        format!("{provider:?}").contains("token: None"),
        "{provider:?}"
    );
    warm(&provider).await;
    let shown = format!("{provider:?}");
    assert!(shown.contains("token: Some(AccessToken"), "{shown}");
    assert!(!shown.contains("t1"), "{shown}");
}
