//! Faults, and nothing lost to them: a token endpoint that is down, silent, or answers
//! 10 MB; an API slower than half a token's lifetime; a storm of 401s; callers dropped at
//! random points. Against local servers the tests control (wiremock, or a few lines of
//! tokio), in real time (paused time would fire the timeouts at once while waiting on real
//! sockets), each test a few seconds at most.

mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::{Prng, middleware_client, token_error, within};
use token_client::{SharedTokenProvider, TokenError, TokenOptions, TokenProvider, token_client};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio::time::Instant;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// The token request timeout of these tests.
const TIMEOUT: Duration = Duration::from_millis(500);

fn options(token_endpoint: impl Into<String>) -> TokenOptions {
    TokenOptions::client_credentials(token_endpoint, "svc", "secret").request_timeout(TIMEOUT)
}

fn provider(options: TokenOptions) -> SharedTokenProvider {
    SharedTokenProvider::new(options).expect("valid options")
}

fn token_response(token: &str, expires_in: u64) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(serde_json::json!({
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": expires_in,
    }))
}

/// `GET /api` with `Bearer <token>` answers 200, exactly `times` times.
async fn mount_api(server: &MockServer, token: &str, times: u64) {
    Mock::given(method("GET"))
        .and(path("/api"))
        .and(header("authorization", format!("Bearer {token}").as_str()))
        .respond_with(ResponseTemplate::new(200))
        .expect(times)
        .mount(server)
        .await;
}

fn bearer(request: &Request) -> Option<&str> {
    let value = request.headers.get("authorization")?.to_str().ok()?;
    value.strip_prefix("Bearer ")
}

/// A token endpoint issuing `tok-1`, `tok-2`... valid for `lifetime`, each answered after
/// `delay`; it remembers when each token expires so an API can check them.
#[derive(Clone)]
struct Issuer {
    lifetime: Duration,
    delay: Duration,
    expiries: Arc<Mutex<HashMap<String, std::time::Instant>>>,
}

impl Issuer {
    fn new(lifetime: Duration, delay: Duration) -> Self {
        let expiries = Arc::default();
        Self {
            lifetime,
            delay,
            expiries,
        }
    }

    fn is_valid(&self, token: &str) -> bool {
        let expiries = self.expiries.lock().unwrap();
        expiries
            .get(token)
            .is_some_and(|expiry| std::time::Instant::now() < *expiry)
    }
}

impl Respond for Issuer {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let mut expiries = self.expiries.lock().unwrap();
        let token = format!("tok-{}", expiries.len() + 1);
        // Valid from when the answer leaves, after the delay.
        let expiry = std::time::Instant::now() + self.delay + self.lifetime;
        expiries.insert(token.clone(), expiry);
        token_response(&token, self.lifetime.as_secs()).set_delay(self.delay)
    }
}

/// An API that accepts only tokens the issuer says are valid when the request arrives,
/// and answers after a delay (`delays` cycles through its values).
struct CheckingApi {
    issuer: Issuer,
    delays: Vec<Duration>,
    served: AtomicU64,
    rejected: Arc<AtomicU64>,
}

impl CheckingApi {
    fn new(issuer: &Issuer, delays: Vec<Duration>) -> (Self, Arc<AtomicU64>) {
        let rejected = Arc::new(AtomicU64::new(0));
        let api = Self {
            issuer: issuer.clone(),
            delays,
            served: AtomicU64::new(0),
            rejected: Arc::clone(&rejected),
        };
        (api, rejected)
    }
}

impl Respond for CheckingApi {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        if !bearer(request).is_some_and(|token| self.issuer.is_valid(token)) {
            self.rejected.fetch_add(1, Ordering::SeqCst);
            return ResponseTemplate::new(401);
        }
        let n = self.served.fetch_add(1, Ordering::SeqCst) as usize;
        ResponseTemplate::new(200).set_delay(self.delays[n % self.delays.len()])
    }
}

/// How many requests `server` received.
async fn received(server: &MockServer) -> usize {
    server
        .received_requests()
        .await
        .map_or(0, |requests| requests.len())
}

/// `GET url` through `http`: the status, or why there was none.
async fn get(http: &reqwest_middleware::ClientWithMiddleware, url: &str) -> Result<u16, String> {
    match http.get(url).send().await {
        Ok(response) => Ok(response.status().as_u16()),
        Err(error) => Err(error.to_string()),
    }
}

#[token_client]
trait Api {
    #[get("/api")]
    async fn ping(&self) -> Result<(), token_client::Error>;
}

// ---- the token endpoint down, then back ----

/// A loopback port with nothing listening on it (connections are refused).
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_endpoint_down_then_back() {
    let port = closed_port();
    let api = MockServer::start().await;
    mount_api(&api, "t1", 3).await;
    let options = options(format!("http://127.0.0.1:{port}/token"))
        .failure_cooldown(Duration::from_millis(100));
    let client = ApiClient::builder()
        .base_url(api.uri())
        .token_provider(provider(options))
        .build()
        .unwrap();

    // Down: every call fails at once with Error::Token, alone or twenty at a time.
    for _ in 0..3 {
        let started = Instant::now();
        let mut calls = JoinSet::new();
        for _ in 0..20 {
            let client = client.clone();
            calls.spawn(async move { client.ping().await });
        }
        for outcome in within(TIMEOUT * 2, "calls while down", calls.join_all()).await {
            match outcome {
                Err(token_client::Error::Token(error)) => assert!(error.is_transport(), "{error}"),
                other => panic!("expected Error::Token, got {other:?}"),
            }
        }
        assert!(
            started.elapsed() < TIMEOUT,
            "failed fast: {:?}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(150)).await; // past the cool-down
    }

    // Back on the same port: the next calls get a token and succeed.
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let idp = MockServer::builder().listener(listener).start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(token_response("t1", 300))
        .expect(1)
        .mount(&idp)
        .await;
    for _ in 0..3 {
        within(TIMEOUT * 2, "a call once back", client.ping())
            .await
            .expect("the endpoint is back");
    }
    idp.verify().await;
    api.verify().await;
}

// ---- the token endpoint accepts the connection and never answers ----

/// A token endpoint that accepts connections, holds them open, and never answers. Returns
/// its URL and the number of connections accepted.
async fn silent_endpoint() -> (String, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/token", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicU64::new(0));
    let count = Arc::clone(&accepted);
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            held.push(socket);
        }
    });
    (url, accepted)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_endpoint_that_never_answers_times_out() {
    let (endpoint, accepted) = silent_endpoint().await;
    let provider = provider(options(endpoint));

    let started = Instant::now();
    let mut callers = JoinSet::new();
    for _ in 0..20 {
        let provider = provider.clone();
        callers.spawn(async move { provider.token().await });
    }
    let outcomes = within(TIMEOUT * 4, "the callers", callers.join_all()).await;
    let elapsed = started.elapsed();
    for outcome in outcomes {
        match outcome {
            Err(TokenError::Timeout(limit)) => assert_eq!(limit, TIMEOUT),
            other => panic!("expected TokenError::Timeout, got {other:?}"),
        }
    }
    assert!(
        elapsed >= TIMEOUT - Duration::from_millis(20),
        "{elapsed:?}"
    );
    assert!(
        elapsed < TIMEOUT + Duration::from_millis(1500),
        "{elapsed:?}"
    );
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "one request for 20 callers"
    );

    // Within the cool-down, a call through the middleware gets that failure at once.
    let http = middleware_client(provider);
    let started = Instant::now();
    let error = http
        .get("http://127.0.0.1:9/never-sent")
        .send()
        .await
        .unwrap_err();
    assert!(
        token_error(&error).is_some_and(TokenError::is_timeout),
        "{error}"
    );
    assert!(
        started.elapsed() < Duration::from_millis(200),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}

// ---- a 10 MB token response ----

const TEN_MB: usize = 10 * 1024 * 1024;
const LIMIT: usize = 64 * 1024;

fn assert_too_large(error: &TokenError) {
    match error {
        TokenError::ResponseTooLarge { status, limit } => {
            assert_eq!((status.as_u16(), *limit), (200, LIMIT));
            assert!(
                error.to_string().contains("larger than 65536 bytes"),
                "{error}"
            );
        }
        other => panic!("expected TokenError::ResponseTooLarge, got {other:?}"),
    }
}

#[tokio::test]
async fn ten_megabyte_token_response_with_a_length_is_refused() {
    let idp = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(vec![b' '; TEN_MB], "application/json"),
        )
        .expect(1)
        .mount(&idp)
        .await;
    let provider = provider(options(format!("{}/token", idp.uri())));

    let error = within(TIMEOUT * 2, "the token request", provider.token())
        .await
        .unwrap_err();
    assert_too_large(&error);
}

/// A token endpoint streaming `total` bytes of JSON-looking whitespace, chunked, with no
/// length. Returns its URL and a handle giving how many body bytes it managed to hand to
/// the kernel before the client hung up. Its send buffer is fixed at 64 KiB (no
/// autotuning), so what it hands over tracks what the client reads.
async fn streaming_endpoint(total: usize) -> (String, tokio::task::JoinHandle<usize>) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_send_buffer_size(64 * 1024).unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(16).unwrap();
    let url = format!("http://{}/token", listener.local_addr().unwrap());
    let sender = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = [0u8; 4096];
        let _ = socket.read(&mut request).await;
        let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
        if socket.write_all(head.as_bytes()).await.is_err() {
            return 0;
        }
        let chunk = [b' '; 16 * 1024];
        let mut sent = 0;
        while sent < total {
            let frame = [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"].concat();
            if socket.write_all(&frame).await.is_err() {
                break;
            }
            sent += chunk.len();
        }
        let _ = socket.write_all(b"0\r\n\r\n").await;
        sent
    });
    (url, sender)
}

#[tokio::test]
async fn ten_megabyte_token_response_streamed_without_a_length_is_cut_off() {
    let (endpoint, sender) = streaming_endpoint(TEN_MB).await;
    let provider = provider(options(endpoint));

    let error = within(TIMEOUT * 2, "the token request", provider.token())
        .await
        .unwrap_err();
    assert_too_large(&error);
    // The client stopped reading after 64 KiB and hung up: the server got rid of no more
    // than that plus what the socket buffers on both sides hold.
    let sent = within(Duration::from_secs(5), "the sender", sender)
        .await
        .unwrap();
    eprintln!("the server sent {sent} of {TEN_MB} bytes before the client hung up");
    assert!(sent < TEN_MB / 10, "the client read on: {sent} bytes sent");
}

// ---- an API slower than half a token's lifetime ----

/// 2 s tokens, an API answering in 1.5 s: every call carries a token still valid when it
/// arrives (refreshed ahead, 1 s before expiry), so no call meets a 401.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_api_with_fast_expiring_tokens_meets_no_401() {
    const CALLERS: u64 = 10;
    const CALLS: u64 = 3;
    let issuer = Issuer::new(Duration::from_secs(2), Duration::ZERO);
    let idp = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(issuer.clone())
        .expect(3..=8)
        .mount(&idp)
        .await;
    let api = MockServer::start().await;
    let (checking, rejected) = CheckingApi::new(&issuer, vec![Duration::from_millis(1500)]);
    Mock::given(method("GET"))
        .and(path("/api"))
        .respond_with(checking)
        .expect(CALLERS * CALLS) // a 401 would add a retry
        .mount(&api)
        .await;
    let http = middleware_client(provider(options(format!("{}/token", idp.uri()))));
    let url = format!("{}/api", api.uri());

    let mut callers = JoinSet::new();
    for caller in 0..CALLERS {
        let (http, url) = (http.clone(), url.clone());
        callers.spawn(async move {
            tokio::time::sleep(Duration::from_millis(150 * caller)).await;
            let mut statuses = Vec::new();
            for _ in 0..CALLS {
                statuses.push(get(&http, &url).await);
            }
            statuses
        });
    }
    let statuses = within(Duration::from_secs(15), "the callers", callers.join_all()).await;

    eprintln!("slow API: {} token requests", received(&idp).await);
    assert!(
        statuses.iter().flatten().all(|s| *s == Ok(200)),
        "{statuses:?}"
    );
    assert_eq!(rejected.load(Ordering::SeqCst), 0);
    idp.verify().await;
    api.verify().await;
}

// ---- a storm of 401s ----

#[derive(Default)]
struct StormCounts {
    unauthorized: AtomicU64,
    ok: AtomicU64,
    other: AtomicU64,
}

/// An API that answers `Bearer t1` with 401, only once `rejections` such requests are all
/// in (so every caller really holds the old token when the 401s come back), and
/// `Bearer t2` with 200.
async fn storm_api(rejections: usize, counts: Arc<StormCounts>) -> String {
    use axum::http::{HeaderMap, StatusCode};
    let barrier = Arc::new(tokio::sync::Barrier::new(rejections));
    let handler = move |headers: HeaderMap| {
        let (barrier, counts) = (Arc::clone(&barrier), Arc::clone(&counts));
        async move {
            let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
            match auth {
                Some("Bearer t1") => {
                    counts.unauthorized.fetch_add(1, Ordering::SeqCst);
                    barrier.wait().await;
                    StatusCode::UNAUTHORIZED
                }
                Some("Bearer t2") => {
                    counts.ok.fetch_add(1, Ordering::SeqCst);
                    StatusCode::OK
                }
                _ => {
                    counts.other.fetch_add(1, Ordering::SeqCst);
                    StatusCode::BAD_REQUEST
                }
            }
        }
    };
    let app = axum::Router::new().route("/api", axum::routing::get(handler));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// 1,000 concurrent calls all get a 401 for the same token: each invalidates it and
/// retries, and exactly one refresh reaches the token endpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storm_of_a_thousand_401s_causes_one_refresh() {
    const CALLS: usize = 1000;
    let idp = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(token_response("t1", 300))
        .up_to_n_times(1)
        .expect(1)
        .mount(&idp)
        .await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(token_response("t2", 300))
        .expect(1)
        .mount(&idp)
        .await;
    let counts = Arc::new(StormCounts::default());
    let url = storm_api(CALLS, Arc::clone(&counts)).await;
    let provider = provider(options(format!("{}/token", idp.uri())));
    assert_eq!(provider.token().await.unwrap().secret(), "t1");
    let http = middleware_client(provider);

    let mut calls = JoinSet::new();
    for _ in 0..CALLS {
        let (http, url) = (http.clone(), url.clone());
        calls.spawn(async move { get(&http, &url).await });
    }
    let statuses = within(Duration::from_secs(30), "the storm", calls.join_all()).await;

    assert!(
        statuses.iter().all(|s| *s == Ok(200)),
        "{:?}",
        statuses.iter().find(|s| **s != Ok(200))
    );
    assert_eq!(counts.unauthorized.load(Ordering::SeqCst), CALLS as u64);
    assert_eq!(counts.ok.load(Ordering::SeqCst), CALLS as u64);
    assert_eq!(counts.other.load(Ordering::SeqCst), 0);
    idp.verify().await; // t1, then exactly one refresh: t2
}

// ---- callers dropped mid-call ----

/// Every caller that started a refresh is dropped while it runs: the refresh goes on, and
/// a later caller gets its token without a second request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_every_caller_mid_refresh_does_not_cancel_it() {
    let idp = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(token_response("t1", 300).set_delay(Duration::from_millis(300)))
        .expect(1)
        .mount(&idp)
        .await;
    let api = MockServer::start().await;
    mount_api(&api, "t1", 1).await;
    let http = middleware_client(provider(options(format!("{}/token", idp.uri()))));
    let url = format!("{}/api", api.uri());

    let mut callers = JoinSet::new();
    for _ in 0..50 {
        let (http, url) = (http.clone(), url.clone());
        callers.spawn(async move { get(&http, &url).await });
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    callers.abort_all();
    while let Some(outcome) = callers.join_next().await {
        assert!(
            outcome.is_err_and(|e| e.is_cancelled()),
            "dropped while waiting for the token"
        );
    }

    let status = within(Duration::from_secs(2), "a later call", get(&http, &url)).await;
    assert_eq!(status, Ok(200));
    idp.verify().await;
    api.verify().await;
}

/// Callers start every few milliseconds for 3 s and a random third of those still running
/// are dropped at random moments (waiting for a token, for a refresh, or for the API),
/// while 1 s tokens are refreshed every half second. No caller that was not dropped fails,
/// nothing deadlocks, and the token endpoint sees no more than the refresh schedule implies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_dropped_at_random_points_lose_nothing() {
    const RUN: Duration = Duration::from_secs(3);
    let issuer = Issuer::new(Duration::from_secs(1), Duration::from_millis(100));
    let idp = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(issuer.clone())
        .expect(1..=9) // one per half second, plus the first and the last
        .mount(&idp)
        .await;
    let api = MockServer::start().await;
    let delays = [0, 3, 11, 25, 7, 40, 1].map(Duration::from_millis).to_vec();
    let (checking, rejected) = CheckingApi::new(&issuer, delays);
    Mock::given(method("GET"))
        .and(path("/api"))
        .respond_with(checking)
        .mount(&api)
        .await;
    let provider = provider(options(format!("{}/token", idp.uri())));
    let http = middleware_client(provider.clone());
    let url = format!("{}/api", api.uri());

    let mut rng = Prng::new(0x5eed_c0ff_ee00_0001);
    let mut running = Vec::new();
    let (mut succeeded, mut dropped, mut lost) = (0, 0, Vec::new());
    let started = Instant::now();
    while started.elapsed() < RUN {
        for _ in 0..10 {
            let (http, url) = (http.clone(), url.clone());
            running.push(tokio::spawn(async move { get(&http, &url).await }));
        }
        tokio::time::sleep(Duration::from_millis(rng.below(40))).await;
        for handle in &running {
            if !handle.is_finished() && rng.one_in(3) {
                handle.abort();
            }
        }
        let (done, still): (Vec<_>, Vec<_>) = running.into_iter().partition(|h| h.is_finished());
        running = still;
        for handle in done {
            match handle.await {
                Ok(Ok(200)) => succeeded += 1,
                Err(error) if error.is_cancelled() => dropped += 1,
                other => lost.push(format!("{other:?}")),
            }
        }
    }
    for handle in running {
        match within(Duration::from_secs(5), "a remaining caller", handle).await {
            Ok(Ok(200)) => succeeded += 1,
            Err(error) if error.is_cancelled() => dropped += 1,
            other => lost.push(format!("{other:?}")),
        }
    }

    eprintln!(
        "{succeeded} calls succeeded, {dropped} dropped, {} rejected with 401 and retried, \
         {} token requests",
        rejected.load(Ordering::SeqCst),
        received(&idp).await,
    );
    assert!(
        lost.is_empty(),
        "calls that were not dropped failed: {lost:?}"
    );
    assert!(
        succeeded > 100 && dropped > 50,
        "{succeeded} succeeded, {dropped} dropped"
    );
    let status = within(
        Duration::from_secs(2),
        "a call after the drops",
        get(&http, &url),
    )
    .await;
    assert_eq!(status, Ok(200));
    within(
        Duration::from_secs(2),
        "a token after the drops",
        provider.token(),
    )
    .await
    .expect("a token");
    idp.verify().await;
}
