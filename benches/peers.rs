//! `SharedTokenProvider` side by side with the crates users would pick instead, in one run,
//! against one local token endpoint. See BENCHMARKS.md ("Us versus the peers").
//!
//! The bench target of `benches/peers/Cargo.toml`, a crate outside the workspace so that
//! the peers' dependencies never build in the root's `cargo test --workspace`:
//!
//! ```sh
//! cargo bench --manifest-path benches/peers/Cargo.toml                   # everything
//! cargo bench --manifest-path benches/peers/Cargo.toml -- hot_path       # 1. (criterion)
//! cargo bench --manifest-path benches/peers/Cargo.toml -- during_refresh # 2.
//! cargo bench --manifest-path benches/peers/Cargo.toml -- storm          # 3.
//! cargo bench --manifest-path benches/peers/Cargo.toml -- cold_start     # 4.
//! cargo bench --manifest-path benches/peers/Cargo.toml -- allocations    # 5.
//! ```
//!
//! The contenders:
//! - **ours**: `SharedTokenProvider` built from `TokenOptions::client_credentials`.
//! - **yup_oauth2** (12): `ServiceAccountAuthenticator`, its key's `token_uri` pointing at
//!   the local endpoint (an RSA key made at start; every token request signs a JWT).
//! - **aliri_tokens** (0.3): a `TokenWatcher` over a `ClientCredentialsTokenSource`,
//!   refreshing in the background at half the token's lifetime. `_borrow` reads the token
//!   under the watch channel's read lock; `_owned` copies it out (what a caller that keeps
//!   it across an `.await` needs).
//! - **oauth2_mutex_cache** (oauth2 5): the cache its users write, a
//!   `tokio::sync::Mutex<Option<token>>` held across `exchange_client_credentials`,
//!   refreshing at our policy's instant (60 s before expiry, at most half the lifetime).

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aliri_tokens::backoff::ErrorBackoffConfig;
use aliri_tokens::jitter::NullJitter;
use aliri_tokens::sources::oauth2::ClientCredentialsTokenSource;
use aliri_tokens::sources::oauth2::dto::{ClientCredentials, ClientCredentialsWithAudience};
use aliri_tokens::{ClientId, ClientSecret, TokenLifetimeConfig, TokenWatcher};
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Throughput};
use oauth2::basic::BasicClient;
use oauth2::{EndpointNotSet, EndpointSet, TokenResponse};
use token_client::{AccessToken, SharedTokenProvider, TokenOptions, TokenProvider};
use tokio::runtime::{Handle, Runtime};
use tokio::time::MissedTickBehavior;

/// How long the token endpoint takes to answer, in every scenario.
const ENDPOINT_DELAY: Duration = Duration::from_millis(100);
/// The lifetime of the tokens of the scenarios that cross a refresh.
const SHORT: Duration = Duration::from_secs(2);
/// The lifetime of the tokens of the scenarios that do not.
const HOUR: Duration = Duration::from_secs(3600);
const CLIENT_ID: &str = "peers-client";
const CLIENT_SECRET: &str = "peers-secret";
const SCOPE: &str = "peers.read";

// ---------------------------------------------------------------------------------------
// A counting allocator: allocations and bytes, per thread

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    static ALLOCATED_BYTES: Cell<u64> = const { Cell::new(0) };
}

struct Counting;

impl Counting {
    fn record(bytes: usize) {
        // `try_with`: nothing is counted while a thread's locals are being torn down.
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        let _ = ALLOCATED_BYTES.try_with(|n| n.set(n.get() + bytes as u64));
    }

    /// Allocations and bytes allocated by this thread so far.
    fn now() -> (u64, u64) {
        (ALLOCATIONS.with(Cell::get), ALLOCATED_BYTES.with(Cell::get))
    }
}

// SAFETY: every call is forwarded to `System` unchanged; the counters are thread-local
// `Cell`s with const initialisers, which neither allocate nor need a destructor.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        Self::record(layout.size());
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        Self::record(layout.size());
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        Self::record(new_size);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

// ---------------------------------------------------------------------------------------
// The local token endpoint

/// A token endpoint on a free loopback port: answers every POST to `/token` after
/// `delay` with a new token (`peer-token-1`, `-2`...) valid for `expires_in` seconds,
/// whatever the grant and the client authentication, and counts the requests.
struct Endpoint {
    url: String,
    state: Arc<EndpointState>,
    server: tokio::task::JoinHandle<()>,
}

struct EndpointState {
    delay: Duration,
    expires_in: u64,
    started: AtomicU64,
    completed: AtomicU64,
}

impl Endpoint {
    async fn start(delay: Duration, expires_in: u64) -> Self {
        let state = Arc::new(EndpointState {
            delay,
            expires_in,
            started: AtomicU64::new(0),
            completed: AtomicU64::new(0),
        });
        let app = Router::new()
            .route("/token", post(issue))
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let url = format!("http://{}/token", listener.local_addr().expect("address"));
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("token endpoint");
        });
        Self { url, state, server }
    }

    /// Token requests received so far.
    fn started(&self) -> u64 {
        self.state.started.load(Ordering::SeqCst)
    }

    /// Token requests answered so far.
    fn completed(&self) -> u64 {
        self.state.completed.load(Ordering::SeqCst)
    }

    /// Returns once a token request beyond the first `seen` has arrived.
    async fn wait_for_request(&self, seen: u64) {
        while self.started() <= seen {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn issue(
    State(state): State<Arc<EndpointState>>,
    _body: axum::body::Bytes,
) -> Json<serde_json::Value> {
    let n = state.started.fetch_add(1, Ordering::SeqCst) + 1;
    tokio::time::sleep(state.delay).await;
    state.completed.fetch_add(1, Ordering::SeqCst);
    Json(serde_json::json!({
        "access_token": format!("peer-token-{n}"),
        "token_type": "Bearer",
        "expires_in": state.expires_in,
    }))
}

// ---------------------------------------------------------------------------------------
// The contenders

/// What every contender does: hand out a token, fetching it when its cache needs one.
trait Peer: Send + Sync + Sized + 'static {
    const NAME: &'static str;
    /// What a call hands out.
    type Token: Send + 'static;
    /// When its refresh is due, after a token of `lifetime` was fetched; `None`: in the
    /// background, whenever it decides.
    const REFRESH_AT: fn(Duration) -> Option<Duration>;

    /// The `expires_in` its endpoint answers for tokens meant to last `lifetime`.
    fn expires_in(lifetime: Duration) -> u64 {
        lifetime.as_secs()
    }

    /// A contender with an empty cache (unless it cannot be built without a token).
    async fn build(endpoint: &Endpoint, runtime: &Handle) -> Self;

    fn get(&self) -> impl Future<Output = Result<Self::Token, String>> + Send;
}

/// Ours: refresh-ahead at 60 s before expiry, at most half the lifetime.
fn our_policy(lifetime: Duration) -> Option<Duration> {
    Some(lifetime - Duration::from_secs(60).min(lifetime / 2))
}

struct Ours(SharedTokenProvider);

impl Peer for Ours {
    const NAME: &'static str = "ours (SharedTokenProvider)";
    type Token = AccessToken;
    const REFRESH_AT: fn(Duration) -> Option<Duration> = our_policy;

    async fn build(endpoint: &Endpoint, runtime: &Handle) -> Self {
        let options =
            TokenOptions::client_credentials(&endpoint.url, CLIENT_ID, CLIENT_SECRET).scope(SCOPE);
        // Background refreshes run on the harness runtime, wherever the call is made.
        let provider = SharedTokenProvider::builder(options)
            .runtime(runtime.clone())
            .build()
            .expect("a provider");
        Self(provider)
    }

    async fn get(&self) -> Result<AccessToken, String> {
        self.0.token().await.map_err(|error| error.to_string())
    }
}

/// yup-oauth2's service-account authenticator. It takes a token as expired 60 s before
/// its expiry, and has no background refresh: the endpoint adds 60 s to its tokens, so
/// that they are used for as long as the others'.
struct Yup(yup_oauth2::authenticator::DefaultAuthenticator);

/// Made once: an RSA key takes a moment to generate.
static RSA_KEY: std::sync::OnceLock<String> = std::sync::OnceLock::new();

fn rsa_key_pem() -> &'static str {
    RSA_KEY.get_or_init(|| {
        use rsa::pkcs8::{EncodePrivateKey, LineEnding};
        let key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).expect("an RSA key");
        key.to_pkcs8_pem(LineEnding::LF)
            .expect("a PKCS#8 PEM")
            .to_string()
    })
}

impl Peer for Yup {
    const NAME: &'static str = "yup-oauth2 12 (service account)";
    type Token = yup_oauth2::AccessToken;
    const REFRESH_AT: fn(Duration) -> Option<Duration> = Some;

    fn expires_in(lifetime: Duration) -> u64 {
        lifetime.as_secs() + 60
    }

    async fn build(endpoint: &Endpoint, _: &Handle) -> Self {
        let key = yup_oauth2::ServiceAccountKey {
            key_type: Some("service_account".to_owned()),
            project_id: None,
            private_key_id: Some("bench".to_owned()),
            private_key: rsa_key_pem().to_owned(),
            client_email: format!("{CLIENT_ID}@bench.invalid"),
            client_id: Some(CLIENT_ID.to_owned()),
            auth_uri: None,
            token_uri: endpoint.url.clone(),
            auth_provider_x509_cert_url: None,
            client_x509_cert_url: None,
        };
        let authenticator = yup_oauth2::ServiceAccountAuthenticator::builder(key)
            .build()
            .await
            .expect("a yup-oauth2 authenticator");
        Self(authenticator)
    }

    async fn get(&self) -> Result<yup_oauth2::AccessToken, String> {
        self.0
            .token(&[SCOPE])
            .await
            .map_err(|error| error.to_string())
    }
}

/// aliri_tokens' watcher, stale at half the lifetime (its default is 75%, with at least
/// 30 s left, which a 2 s token cannot have).
async fn aliri_watcher(endpoint: &Endpoint) -> TokenWatcher {
    let credentials = ClientCredentialsWithAudience {
        credentials: Arc::new(ClientCredentials {
            client_id: ClientId::new(CLIENT_ID.to_owned()),
            client_secret: ClientSecret::new(CLIENT_SECRET.to_owned()),
        }),
        audience: aliri::jwt::Audience::new(SCOPE.to_owned()),
    };
    let source = ClientCredentialsTokenSource::new(
        reqwest012::Client::new(),
        endpoint.url.parse().expect("a URL"),
        credentials,
        TokenLifetimeConfig::new(0.5, aliri_clock::DurationSecs(0)),
    )
    .using_form_data();
    TokenWatcher::spawn_from_token_source(source, NullJitter, ErrorBackoffConfig::default())
        .await
        .expect("aliri_tokens' first token")
}

/// Background refresh at half the lifetime (whole seconds: aliri's clock).
fn aliri_policy(_: Duration) -> Option<Duration> {
    None
}

struct AliriBorrow(TokenWatcher);

impl Peer for AliriBorrow {
    const NAME: &'static str = "aliri_tokens 0.3 (borrow)";
    /// The length of the borrowed token: the borrow ends with the call.
    type Token = usize;
    const REFRESH_AT: fn(Duration) -> Option<Duration> = aliri_policy;

    async fn build(endpoint: &Endpoint, _: &Handle) -> Self {
        Self(aliri_watcher(endpoint).await)
    }

    async fn get(&self) -> Result<usize, String> {
        Ok(self.0.token().access_token().as_str().len())
    }
}

struct AliriOwned(TokenWatcher);

impl Peer for AliriOwned {
    const NAME: &'static str = "aliri_tokens 0.3 (owned copy)";
    type Token = aliri_tokens::AccessToken;
    const REFRESH_AT: fn(Duration) -> Option<Duration> = aliri_policy;

    async fn build(endpoint: &Endpoint, _: &Handle) -> Self {
        Self(aliri_watcher(endpoint).await)
    }

    async fn get(&self) -> Result<aliri_tokens::AccessToken, String> {
        Ok(self.0.token().access_token().to_owned())
    }
}

type OauthClient =
    BasicClient<EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// The cache oauth2's users write: a `tokio::sync::Mutex<Option<token>>`, held across the
/// exchange (so one caller fetches and the others wait for it).
struct Oauth2Cache {
    client: OauthClient,
    http: reqwest012::Client,
    slot: tokio::sync::Mutex<Option<(oauth2::AccessToken, Instant)>>,
}

impl Peer for Oauth2Cache {
    const NAME: &'static str = "oauth2 5 + Mutex<Option<token>>";
    type Token = oauth2::AccessToken;
    const REFRESH_AT: fn(Duration) -> Option<Duration> = our_policy;

    async fn build(endpoint: &Endpoint, _: &Handle) -> Self {
        let client = BasicClient::new(oauth2::ClientId::new(CLIENT_ID.to_owned()))
            .set_client_secret(oauth2::ClientSecret::new(CLIENT_SECRET.to_owned()))
            .set_token_uri(oauth2::TokenUrl::new(endpoint.url.clone()).expect("a URL"));
        let http = reqwest012::Client::builder()
            // As oauth2's examples: following redirects opens the client up to SSRF.
            .redirect(reqwest012::redirect::Policy::none())
            .build()
            .expect("a reqwest client");
        Self {
            client,
            http,
            slot: tokio::sync::Mutex::new(None),
        }
    }

    async fn get(&self) -> Result<oauth2::AccessToken, String> {
        let mut slot = self.slot.lock().await;
        if let Some((token, refresh_at)) = &*slot
            && Instant::now() < *refresh_at
        {
            return Ok(token.clone());
        }
        let response = self
            .client
            .exchange_client_credentials()
            .add_scope(oauth2::Scope::new(SCOPE.to_owned()))
            .request_async(&self.http)
            .await
            .map_err(|error| error.to_string())?;
        let lifetime = response.expires_in().unwrap_or(Duration::from_secs(300));
        let refresh_at = our_policy(lifetime).expect("a policy");
        let token = response.access_token().clone();
        *slot = Some((token.clone(), Instant::now() + refresh_at));
        Ok(token)
    }
}

/// Not a contender: one read of the clock that our hot path reads once per call
/// (`tokio::time::Instant::now()`), timed in the same group, so the cost of that read on
/// this machine shows beside the contenders that do not read the clock.
struct ClockRead;

impl Peer for ClockRead {
    const NAME: &'static str = "reference: Instant::now()";
    type Token = tokio::time::Instant;
    const REFRESH_AT: fn(Duration) -> Option<Duration> = aliri_policy;

    async fn build(_: &Endpoint, _: &Handle) -> Self {
        Self
    }

    async fn get(&self) -> Result<tokio::time::Instant, String> {
        Ok(tokio::time::Instant::now())
    }
}

/// Runs `$body` once per contender type, bound to `$p`.
macro_rules! for_each_peer {
    ($p:ident => $body:expr) => {{
        {
            type $p = Ours;
            $body
        }
        {
            type $p = Yup;
            $body
        }
        {
            type $p = AliriBorrow;
            $body
        }
        {
            type $p = AliriOwned;
            $body
        }
        {
            type $p = Oauth2Cache;
            $body
        }
    }};
}

// ---------------------------------------------------------------------------------------
// main

const SECTIONS: [&str; 8] = [
    "hot_path",
    "during_refresh",
    "storm",
    "cold_start",
    "allocations",
    "client_allocations",
    "client_ir_raw",
    "client_ir_generated",
];

fn main() {
    // The first argument that is not an option (criterion's filter) selects the sections
    // whose name contains it; criterion is also given it, to filter its benchmarks.
    let filter = std::env::args()
        .skip(1)
        .find(|arg| !arg.starts_with('-'))
        .unwrap_or_default();
    let selected = |section: &str| {
        section.contains(&filter) || (section == "hot_path" && filter.starts_with("hot_path"))
    };
    if !SECTIONS.iter().any(|section| selected(section)) {
        eprintln!("peers: no section matches `{filter}`; the sections: {SECTIONS:?}");
        std::process::exit(2);
    }
    // The endpoints, the refreshes and the storms run here; the hot path runs on
    // current-thread runtimes of the bench threads.
    let harness = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    println!("peers: {}", support::load());
    // Made before anything is timed (not for the instruction counts, run under callgrind,
    // where making an RSA key takes minutes).
    if !filter.starts_with("client_ir") {
        rsa_key_pem();
    }

    if selected("hot_path") {
        hot_path(&harness);
    }
    if selected("during_refresh") {
        let rounds = if support::quick() { 1 } else { 3 };
        println!();
        println!(
            "during_refresh: one caller with a still-valid token while a {} ms refresh is in flight (median of {rounds} round(s))",
            ENDPOINT_DELAY.as_millis()
        );
        println!(
            "  {:<34} {:>12} {:>14} {:>10} {:>10} {:>9}",
            "contender", "no refresh", "during refresh", "x idle", "x ours", "requests"
        );
        let mut ours = None;
        for_each_peer!(P => {
            let run = harness.block_on(during_refresh_rounds::<P>(harness.handle(), rounds));
            ours.get_or_insert(run.during);
            run.print(P::NAME, ours.expect("ours first"));
        });
    }
    if selected("storm") {
        let plan = if support::quick() { QUICK } else { FULL };
        println!();
        println!(
            "storm: {} calls over {} ms across an expiry, endpoint {} ms",
            plan.ticks * plan.per_tick,
            plan.ticks,
            ENDPOINT_DELAY.as_millis()
        );
        print_latency_header();
        for_each_peer!(P => {
            let run = harness.block_on(storm::<P>(harness.handle(), plan));
            run.print(P::NAME);
        });
    }
    if selected("cold_start") {
        let callers = if support::quick() { 200 } else { 1000 };
        println!();
        println!(
            "cold_start: {callers} concurrent callers, empty cache, endpoint {} ms",
            ENDPOINT_DELAY.as_millis()
        );
        print_latency_header();
        for_each_peer!(P => {
            let run = harness.block_on(cold_start::<P>(harness.handle(), callers));
            run.print(P::NAME);
        });
    }
    if selected("allocations") {
        println!();
        println!("allocations: per call with a valid cached token (this thread, 10,000 calls)");
        println!(
            "  {:<34} {:>12} {:>12}",
            "contender", "allocations", "bytes"
        );
        for_each_peer!(P => allocations::<P>(&harness));
    }
    if selected("client_allocations") {
        client_allocations(&harness);
    }
    for (section, generated) in [("client_ir_raw", false), ("client_ir_generated", true)] {
        if filter == section {
            client_calls(&harness, generated);
        }
    }
}

/// A contender holding a token valid for an hour, on its own endpoint (kept alive with it).
fn warm<P: Peer>(harness: &Runtime) -> (P, Endpoint) {
    harness.block_on(async {
        let endpoint = Endpoint::start(Duration::ZERO, P::expires_in(HOUR)).await;
        let peer = P::build(&endpoint, harness.handle()).await;
        peer.get().await.expect("first token");
        (peer, endpoint)
    })
}

// ---------------------------------------------------------------------------------------
// 1. Hot path: a valid cached token, 1 and 2 threads (criterion)

fn hot_path_group(threads: usize) -> String {
    format!(
        "peers_hot_path_{threads}_thread{}",
        if threads == 1 { "" } else { "s" }
    )
}

fn hot_path(harness: &Runtime) {
    let results = support::Results::new();
    let mut criterion = support::criterion();
    let ours = warm::<Ours>(harness);
    let yup = warm::<Yup>(harness);
    let borrow = warm::<AliriBorrow>(harness);
    let owned = warm::<AliriOwned>(harness);
    let oauth2 = warm::<Oauth2Cache>(harness);
    let clock = warm::<ClockRead>(harness);
    for threads in [1, 2] {
        let mut group = criterion.benchmark_group(hot_path_group(threads));
        // One iteration is one call on each thread, all at once.
        group.throughput(Throughput::Elements(threads as u64));
        if !support::quick() {
            group
                .warm_up_time(Duration::from_secs(1))
                .measurement_time(Duration::from_secs(3));
        }
        bench(&mut group, "ours", &ours.0, threads);
        bench(&mut group, "yup_oauth2", &yup.0, threads);
        bench(&mut group, "aliri_tokens_borrow", &borrow.0, threads);
        bench(&mut group, "aliri_tokens_owned", &owned.0, threads);
        bench(&mut group, "oauth2_mutex_cache", &oauth2.0, threads);
        bench(&mut group, "clock_read", &clock.0, threads);
        group.finish();
    }
    criterion.final_summary();
    hot_path_summary(&results);
}

fn bench<P: Peer>(group: &mut BenchmarkGroup<'_, WallTime>, name: &str, peer: &P, threads: usize) {
    group.bench_function(name, |b| {
        b.iter_custom(|iters| support::aggregate(threads, iters, || peer.get()))
    });
}

fn hot_path_summary(results: &support::Results) {
    let names = [
        ("ours", Ours::NAME),
        ("yup_oauth2", Yup::NAME),
        ("aliri_tokens_borrow", AliriBorrow::NAME),
        ("aliri_tokens_owned", AliriOwned::NAME),
        ("oauth2_mutex_cache", Oauth2Cache::NAME),
        ("clock_read", ClockRead::NAME),
    ];
    let (one, two) = (hot_path_group(1), hot_path_group(2));
    println!();
    println!(
        "hot_path: a valid cached token (x ours: 1 thread, time per call / ours; 2 threads, throughput / ours)"
    );
    println!(
        "  {:<34} {:>12} {:>8} {:>18} {:>8}",
        "contender", "1 thread", "x ours", "2 threads Mcalls/s", "x ours"
    );
    let ours_one = results.nanos(&one, "ours");
    let ours_two = results.nanos(&two, "ours");
    let ratio = |n: Option<f64>, ours: Option<f64>| match (n, ours) {
        (Some(n), Some(ours)) => format!("{:.2}x", n / ours),
        _ => "n/a".to_owned(),
    };
    for (id, name) in names {
        let single = results.nanos(&one, id);
        let double = results.nanos(&two, id);
        println!(
            "  {:<34} {:>12} {:>8} {:>18} {:>8}",
            name,
            single.map_or("n/a".to_owned(), support::human),
            ratio(single, ours_one),
            // One iteration of the 2-thread group is two calls.
            double.map_or("n/a".to_owned(), |n| format!("{:.2}", 2e3 / n)),
            ratio(ours_two, double),
        );
    }
}

// ---------------------------------------------------------------------------------------
// 2. During a refresh: one caller with a still-valid token while a refresh is in flight

struct DuringRefresh {
    /// Median latency of single calls with no refresh anywhere (same thread, same way).
    idle: Duration,
    /// Median latency of the calls made while the refresh was in flight.
    during: Duration,
    /// Token requests from the start of the refresh to the end of the timed calls.
    requests: u64,
}

impl DuringRefresh {
    fn print(&self, name: &str, ours: Duration) {
        println!(
            "  {:<34} {:>12} {:>14} {:>10} {:>10} {:>9}",
            name,
            human(self.idle),
            human(self.during),
            ratio(self.during, self.idle),
            ratio(self.during, ours),
            self.requests,
        );
    }
}

async fn during_refresh_rounds<P: Peer>(runtime: &Handle, rounds: usize) -> DuringRefresh {
    let mut runs = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        runs.push(during_refresh::<P>(runtime).await);
    }
    runs.sort_by_key(|run| run.during);
    runs.swap_remove(rounds / 2)
}

/// How many calls are timed while the refresh is in flight, and for how long at most.
const DURING_CALLS: usize = 1000;
const DURING_WINDOW: Duration = Duration::from_millis(50);

async fn during_refresh<P: Peer>(runtime: &Handle) -> DuringRefresh {
    let endpoint = Endpoint::start(ENDPOINT_DELAY, P::expires_in(SHORT)).await;
    let peer = Arc::new(P::build(&endpoint, runtime).await);
    peer.get().await.expect("first token");
    let fetched = Instant::now();
    let idle = median(&time_calls(&*peer, DURING_CALLS, None).await);

    // Start the refresh: a caller once it is due (its token still valid), or, for a
    // background refresher, wait until it has sent its request.
    let seen = endpoint.started();
    let trigger = match P::REFRESH_AT(SHORT) {
        Some(due) => {
            tokio::time::sleep_until((fetched + due + Duration::from_millis(50)).into()).await;
            let peer = Arc::clone(&peer);
            Some(tokio::spawn(async move { peer.get().await.map(drop) }))
        }
        None => None,
    };
    endpoint.wait_for_request(seen).await;
    // The timed calls: as many as fit while that request is unanswered (for a contender
    // whose callers wait, the first call outlives it: one sample).
    let flight = Flight {
        endpoint: &endpoint,
        answered: endpoint.completed(),
        started: Instant::now(),
    };
    let latencies = time_calls(&*peer, DURING_CALLS, Some(&flight)).await;
    let requests = endpoint.started() - seen;
    if let Some(trigger) = trigger {
        trigger
            .await
            .expect("trigger task")
            .expect("refreshed token");
    }
    DuringRefresh {
        idle,
        during: median(&latencies),
        requests,
    }
}

struct Flight<'a> {
    endpoint: &'a Endpoint,
    answered: u64,
    started: Instant,
}

impl Flight<'_> {
    fn in_flight(&self) -> bool {
        self.endpoint.completed() == self.answered && self.started.elapsed() < DURING_WINDOW
    }
}

/// Up to `calls` calls, each timed on its own; with a `flight`, only while it lasts (and at
/// least one).
async fn time_calls<P: Peer>(peer: &P, calls: usize, flight: Option<&Flight<'_>>) -> Vec<Duration> {
    let mut latencies = Vec::with_capacity(calls);
    for _ in 0..calls {
        if !latencies.is_empty() && flight.is_some_and(|flight| !flight.in_flight()) {
            break;
        }
        let start = Instant::now();
        let token = peer.get().await;
        latencies.push(start.elapsed());
        black_box(token).expect("a token");
    }
    latencies
}

fn median(latencies: &[Duration]) -> Duration {
    let mut sorted = latencies.to_vec();
    sorted.sort_unstable();
    sorted[sorted.len() / 2]
}

// ---------------------------------------------------------------------------------------
// 3. Storm: calls launched at a steady rate across an expiry (as benches/refresh_storm.rs)

#[derive(Clone, Copy)]
struct Plan {
    start: Duration,
    ticks: u32,
    per_tick: u32,
}

/// 10,000 calls from 1.5 s to 2.5 s after the first token (valid 2 s) was fetched.
const FULL: Plan = Plan {
    start: Duration::from_millis(1500),
    ticks: 1000,
    per_tick: 10,
};

const QUICK: Plan = Plan {
    start: Duration::from_millis(1750),
    ticks: 500,
    per_tick: 4,
};

/// Latencies of concurrent callers, and the token requests they caused.
struct Crowd {
    latencies: Vec<Duration>,
    requests: u64,
    failures: usize,
    /// From the first call's start to the last call's end.
    span: Duration,
    /// How long building the contender took (cold start only: aliri_tokens' watcher is
    /// built by fetching its first token, before any caller can call).
    build: Option<Duration>,
}

impl Crowd {
    fn percentile(&self, p: f64) -> Duration {
        let last = self.latencies.len() - 1;
        self.latencies[((last as f64) * p).round() as usize]
    }

    fn print(&self, name: &str) {
        println!(
            "  {:<34} {:>6} {:>9} {:>11} {:>11} {:>11} {:>11} {:>7} {:>11}",
            name,
            self.latencies.len(),
            self.requests,
            human(self.percentile(0.5)),
            human(self.percentile(0.99)),
            human(self.percentile(1.0)),
            human(self.span),
            self.failures,
            self.build.map_or("".to_owned(), human),
        );
    }
}

fn print_latency_header() {
    println!(
        "  {:<34} {:>6} {:>9} {:>11} {:>11} {:>11} {:>11} {:>7} {:>11}",
        "contender", "calls", "requests", "p50", "p99", "max", "span", "failed", "build"
    );
}

type Call = tokio::task::JoinHandle<(Instant, Instant, bool)>;

fn spawn_call<P: Peer>(peer: &Arc<P>) -> Call {
    let peer = Arc::clone(peer);
    tokio::spawn(async move {
        let start = Instant::now();
        let ok = peer.get().await.is_ok();
        (start, Instant::now(), ok)
    })
}

async fn gather(calls: Vec<Call>, requests: impl FnOnce() -> u64) -> Crowd {
    let mut latencies = Vec::with_capacity(calls.len());
    let (mut first, mut last) = (None::<Instant>, None::<Instant>);
    let mut failures = 0;
    for call in calls {
        let (start, end, ok) = call.await.expect("call task");
        latencies.push(end - start);
        first = Some(first.map_or(start, |first| first.min(start)));
        last = Some(last.map_or(end, |last| last.max(end)));
        failures += usize::from(!ok);
    }
    latencies.sort_unstable();
    Crowd {
        latencies,
        requests: requests(),
        failures,
        span: last.expect("a call") - first.expect("a call"),
        build: None,
    }
}

async fn storm<P: Peer>(runtime: &Handle, plan: Plan) -> Crowd {
    let endpoint = Endpoint::start(ENDPOINT_DELAY, P::expires_in(SHORT)).await;
    let peer = Arc::new(P::build(&endpoint, runtime).await);
    peer.get().await.expect("first token");
    tokio::time::sleep(plan.start).await;

    let before = endpoint.started();
    let mut ticker = tokio::time::interval(Duration::from_millis(1));
    ticker.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let mut calls = Vec::with_capacity((plan.ticks * plan.per_tick) as usize);
    for _ in 0..plan.ticks {
        ticker.tick().await;
        for _ in 0..plan.per_tick {
            calls.push(spawn_call(&peer));
        }
    }
    gather(calls, || endpoint.started() - before).await
}

// ---------------------------------------------------------------------------------------
// 4. Cold start: concurrent callers, empty cache

async fn cold_start<P: Peer>(runtime: &Handle, callers: usize) -> Crowd {
    let endpoint = Endpoint::start(ENDPOINT_DELAY, P::expires_in(HOUR)).await;
    // aliri_tokens' watcher is built by fetching its first token: counted here too.
    let building = Instant::now();
    let peer = Arc::new(P::build(&endpoint, runtime).await);
    let build = building.elapsed();
    let calls: Vec<Call> = (0..callers).map(|_| spawn_call(&peer)).collect();
    let crowd = gather(calls, || endpoint.started()).await;
    Crowd {
        build: Some(build),
        ..crowd
    }
}

// ---------------------------------------------------------------------------------------
// 5. Allocations per call, valid cached token

const ALLOCATION_CALLS: u64 = 10_000;

fn allocations<P: Peer>(harness: &Runtime) {
    let (peer, _endpoint) = warm::<P>(harness);
    let runtime = support::current_thread_runtime();
    let (allocations, bytes) = runtime.block_on(async {
        // Warm this thread too (its runtime's first poll, thread-locals).
        for _ in 0..100 {
            let _ = black_box(peer.get().await);
        }
        let before = Counting::now();
        for _ in 0..ALLOCATION_CALLS {
            let _ = black_box(peer.get().await);
        }
        let after = Counting::now();
        (after.0 - before.0, after.1 - before.1)
    });
    println!(
        "  {:<34} {:>12.2} {:>12.1}",
        P::NAME,
        allocations as f64 / ALLOCATION_CALLS as f64,
        bytes as f64 / ALLOCATION_CALLS as f64,
    );
}

/// `a / b`, as a ratio.
fn ratio(a: Duration, b: Duration) -> String {
    match a.as_secs_f64() / b.as_secs_f64() {
        r if r >= 100.0 => format!("{r:.0}x"),
        r => format!("{r:.2}x"),
    }
}

fn human(duration: Duration) -> String {
    support::human(duration.as_nanos() as f64)
}

// ---------------------------------------------------------------------------------------
// 5b. Allocations per API call: a generated client against raw reqwest

#[derive(serde::Serialize, serde::Deserialize)]
struct Item {
    id: u64,
    name: String,
}

#[token_client::token_client]
trait Items {
    #[get("/items/{id}")]
    async fn get(&self, id: u64) -> Result<Item, token_client::Error>;
}

/// One `GET /items/{id}` decoded into an [`Item`], three ways: raw reqwest with a fixed
/// bearer header, the generated client (inherent method), and the same through `dyn Items`
/// (the boxed future of `async_trait`). The server runs on the harness's threads, so this
/// thread counts the client's allocations only (reqwest's connection task included: it runs
/// on this thread's current-thread runtime).
fn client_allocations(harness: &Runtime) {
    let (base, raw, generated) = item_clients(harness);
    let runtime = support::current_thread_runtime();
    let dyn_items: &dyn Items = &generated;
    let calls = ALLOCATION_CALLS / 10;
    println!();
    println!(
        "client_allocations: per `GET /items/{{id}}` decoded from JSON, loopback ({calls} calls; the `Box::pin` of this harness, 1 allocation, is in every row)"
    );
    println!("  {:<34} {:>12} {:>12}", "client", "allocations", "bytes");
    let raw_calls = count(&runtime, calls, "raw reqwest, fixed bearer header", &|id| {
        Box::pin(raw_item(&raw, &base, id))
    });
    let ours = count(&runtime, calls, "generated client", &|id| {
        let generated = &generated;
        Box::pin(async move { generated.get(id).await.expect("item") })
    });
    let boxed = count(
        &runtime,
        calls,
        "generated client through dyn Items",
        &|id| Box::pin(async move { dyn_items.get(id).await.expect("item") }),
    );
    println!(
        "  generated client - raw reqwest: {:+.2} allocations per call ({:+.2} through dyn)",
        ours - raw_calls,
        boxed - raw_calls
    );
}

/// `TC_IR_CALLS` calls (default 1,000) of one client, after 100 to warm up, on this thread:
/// run under `valgrind --tool=callgrind --separate-threads=yes` with two call counts, the
/// difference of this thread's totals divided by the difference of the counts is the
/// client's instructions per call, setup and server (other threads) excluded. See
/// BENCHMARKS.md.
fn client_calls(harness: &Runtime, generated: bool) {
    let calls: u64 = std::env::var("TC_IR_CALLS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1000);
    let (base, raw, client) = item_clients(harness);
    support::current_thread_runtime().block_on(async {
        for id in 0..100 + calls {
            let item = if generated {
                client.get(id).await.expect("item")
            } else {
                raw_item(&raw, &base, id).await
            };
            black_box(item);
        }
    });
}

/// `GET {base}/items/{id}` through raw reqwest with a fixed bearer header, decoded as the
/// generated client decodes it.
async fn raw_item(raw: &token_client::reqwest::Client, base: &str, id: u64) -> Item {
    use token_client::reqwest::header::{AUTHORIZATION, HeaderValue};
    const BEARER: HeaderValue = HeaderValue::from_static("Bearer peers-token");
    let response = raw
        .get(format!("{base}/items/{id}"))
        .header(AUTHORIZATION, BEARER)
        .send()
        .await
        .expect("sent")
        .error_for_status()
        .expect("success");
    serde_json::from_slice(&response.bytes().await.expect("body")).expect("json")
}

/// A loopback items server on the harness's threads, and the two clients of it: raw
/// reqwest, and the generated `ItemsClient` (a static token).
fn item_clients(harness: &Runtime) -> (String, token_client::reqwest::Client, ItemsClient) {
    use token_client::reqwest;

    let base = harness.block_on(async {
        let app = Router::new().route(
            "/items/{id}",
            axum::routing::get(
                |axum::extract::Path(id): axum::extract::Path<u64>| async move {
                    Json(Item {
                        id,
                        name: "item".to_owned(),
                    })
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{address}")
    });
    let http = || {
        reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client")
    };
    let generated = ItemsClient::builder()
        .base_url(&base)
        .http_client(http())
        .token_provider(SharedTokenProvider::from_source(StaticToken))
        .build()
        .expect("generated client");
    (base, http(), generated)
}

/// A boxed call of one of the clients.
type ItemCall<'a> =
    dyn Fn(u64) -> std::pin::Pin<Box<dyn std::future::Future<Output = Item> + 'a>> + 'a;

/// Allocations per call of `call` on this thread, printed with `name`.
fn count(runtime: &Runtime, calls: u64, name: &str, call: &ItemCall<'_>) -> f64 {
    let (allocations, bytes) = runtime.block_on(async {
        for id in 0..100 {
            black_box(call(id).await);
        }
        let before = Counting::now();
        for id in 0..calls {
            black_box(call(id).await);
        }
        let after = Counting::now();
        (after.0 - before.0, after.1 - before.1)
    });
    let per_call = allocations as f64 / calls as f64;
    println!(
        "  {name:<34} {per_call:>12.2} {:>12.1}",
        bytes as f64 / calls as f64
    );
    per_call
}

/// A token source that always has the same token, valid for an hour.
struct StaticToken;

#[token_client::async_trait]
impl token_client::TokenSource for StaticToken {
    async fn fetch(&self) -> Result<AccessToken, token_client::TokenError> {
        let expires = tokio::time::Instant::now() + HOUR;
        Ok(AccessToken::new("peers-token", expires))
    }
}
