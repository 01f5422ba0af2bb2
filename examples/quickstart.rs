//! Quickstart: `cargo run --example quickstart`
//!
//! Needs nothing outside this process. It starts, on loopback ports of its own:
//! - an identity provider whose token endpoint issues 2-second tokens and counts requests;
//! - a small API that accepts only currently valid tokens.
//!
//! Then it declares the API as a `#[token_client]` trait, and 100 concurrent tasks make
//! 1,000 calls through the generated client over several token lifetimes; a summary shows
//! how many tokens that took and how long any call waited for one.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use token_client::{SharedTokenProvider, TokenFuture, TokenOptions, TokenProvider, token_client};

const CLIENT_ID: &str = "quickstart";
const CLIENT_SECRET: &str = "quickstart-secret";
const TOKEN_LIFETIME: Duration = Duration::from_secs(2);
const TASKS: usize = 100;
const CALLS_PER_TASK: usize = 10;
const PAUSE_BETWEEN_CALLS: Duration = Duration::from_millis(600);

#[derive(Debug, Serialize, Deserialize)]
pub struct Foo {
    id: u64,
    name: String,
}

/// The API, as a trait: `#[token_client]` generates `FoosClient`, whose every call gets a
/// token from the shared provider (and retries once, with a fresh token, on a 401).
#[token_client(base_path = "/api/v1")]
#[headers("Accept: application/json")]
pub trait Foos: Send + Sync {
    #[get("/foos/{id}")]
    async fn get(&self, id: u64) -> Result<Foo, token_client::Error>;
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let idp = Arc::new(IdentityProvider::default());
    let idp_addr = serve(idp.token_router()).await?;
    let api_addr = serve(idp.api_router()).await?;
    println!("identity provider on http://{idp_addr}, API on http://{api_addr}");

    let options = TokenOptions::client_credentials(
        format!("http://{idp_addr}/token"),
        CLIENT_ID,
        CLIENT_SECRET,
    );
    let provider = Arc::new(TimedProvider::new(SharedTokenProvider::new(options)?));
    let foos = FoosClient::builder()
        .base_url(format!("http://{api_addr}"))
        .token_provider(Arc::clone(&provider))
        .build()?;

    let stats = Arc::new(Stats::default());
    let progress = tokio::spawn(report_progress(Arc::clone(&stats), Arc::clone(&idp)));
    let started = Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| tokio::spawn(run_task(task, foos.clone(), Arc::clone(&stats))))
        .collect();
    for task in tasks {
        task.await?;
    }
    progress.abort();

    let failed = stats.failed.load(Ordering::Relaxed);
    println!();
    println!("summary");
    println!(
        "  calls made:          {}",
        stats.calls.load(Ordering::Relaxed)
    );
    println!("  calls failed:        {failed}");
    println!(
        "  tokens issued:       {}",
        idp.requests.load(Ordering::Relaxed)
    );
    println!(
        "  run time:            {:.1} s ({} s tokens)",
        started.elapsed().as_secs_f64(),
        TOKEN_LIFETIME.as_secs()
    );
    println!(
        "  longest token wait:  {:.3} ms",
        provider.longest_wait_micros() as f64 / 1000.0
    );
    if failed > 0 {
        return Err(format!("{failed} calls failed").into());
    }
    Ok(())
}

/// One task: `CALLS_PER_TASK` calls, paced so the run spans several token lifetimes.
async fn run_task(task: usize, foos: FoosClient, stats: Arc<Stats>) {
    for call in 0..CALLS_PER_TASK {
        let id = (task * CALLS_PER_TASK + call) as u64;
        let outcome = foos.get(id).await;
        stats.calls.fetch_add(1, Ordering::Relaxed);
        match outcome {
            Ok(found) if found.id == id => {}
            Ok(found) => stats.fail(format!("asked for foo {id}, got {}", found.id)),
            Err(error) => stats.fail(error.to_string()),
        }
        tokio::time::sleep(PAUSE_BETWEEN_CALLS).await;
    }
}

async fn report_progress(stats: Arc<Stats>, idp: Arc<IdentityProvider>) {
    let started = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        println!(
            "  {:>4.1} s  calls {:>5}  failed {}  tokens issued {}",
            started.elapsed().as_secs_f64(),
            stats.calls.load(Ordering::Relaxed),
            stats.failed.load(Ordering::Relaxed),
            idp.requests.load(Ordering::Relaxed),
        );
    }
}

#[derive(Default)]
struct Stats {
    calls: AtomicUsize,
    failed: AtomicUsize,
}

impl Stats {
    fn fail(&self, why: String) {
        if self.failed.fetch_add(1, Ordering::Relaxed) < 5 {
            eprintln!("call failed: {why}");
        }
    }
}

/// A `TokenProvider` wrapper recording the longest time any caller waited for a token:
/// any type implementing the trait can stand where a provider is asked for.
struct TimedProvider {
    inner: SharedTokenProvider,
    longest_wait_micros: AtomicU64,
}

impl TimedProvider {
    fn new(inner: SharedTokenProvider) -> Self {
        Self {
            inner,
            longest_wait_micros: AtomicU64::new(0),
        }
    }

    fn longest_wait_micros(&self) -> u64 {
        self.longest_wait_micros.load(Ordering::Relaxed)
    }
}

impl TokenProvider for TimedProvider {
    fn token(&self) -> TokenFuture<'_> {
        let started = Instant::now();
        let token = self.inner.token();
        TokenFuture::new(async move {
            let token = token.await;
            let waited = started.elapsed().as_micros() as u64;
            self.longest_wait_micros
                .fetch_max(waited, Ordering::Relaxed);
            token
        })
    }

    fn invalidate(&self, stale: &token_client::AccessToken) {
        self.inner.invalidate(stale);
    }
}

// ---- the two in-process servers ----

/// Issues short-lived tokens and remembers them, so the API can check them.
#[derive(Default)]
struct IdentityProvider {
    requests: AtomicUsize,
    issued: Mutex<HashMap<String, Instant>>,
}

impl IdentityProvider {
    fn token_router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/token", post(issue_token))
            .with_state(Arc::clone(self))
    }

    fn api_router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/api/v1/foos/{id}", get(get_foo))
            .with_state(Arc::clone(self))
    }

    fn is_valid(&self, token: &str) -> bool {
        let issued = self.issued.lock().unwrap();
        issued
            .get(token)
            .is_some_and(|expires| Instant::now() < *expires)
    }
}

async fn issue_token(
    State(idp): State<Arc<IdentityProvider>>,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, Json<serde_json::Value>) {
    let n = idp.requests.fetch_add(1, Ordering::Relaxed) + 1;
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
    );
    let authorized = headers
        .get(header::AUTHORIZATION)
        .is_some_and(|v| v.as_bytes() == expected.as_bytes());
    if !authorized || body != "grant_type=client_credentials" {
        let error = serde_json::json!({"error": "invalid_client"});
        return (StatusCode::UNAUTHORIZED, Json(error));
    }
    let token = format!("demo-token-{n}");
    idp.issued
        .lock()
        .unwrap()
        .insert(token.clone(), Instant::now() + TOKEN_LIFETIME);
    let body = serde_json::json!({
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": TOKEN_LIFETIME.as_secs(),
    });
    (StatusCode::OK, Json(body))
}

async fn get_foo(
    State(idp): State<Arc<IdentityProvider>>,
    Path(id): Path<u64>,
    headers: HeaderMap,
) -> Result<Json<Foo>, StatusCode> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if !bearer.is_some_and(|token| idp.is_valid(token)) {
        return Err(StatusCode::UNAUTHORIZED);
    }
    Ok(Json(Foo {
        id,
        name: format!("foo #{id}"),
    }))
}

async fn serve(router: Router) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(addr)
}
