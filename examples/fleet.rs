//! Fleet: `cargo run --example fleet`
//!
//! Several instances of a service share one OAuth2 token through Redis. Each instance is
//! a `SharedTokenProvider` with its own `RedisTokenStore` connection, all against one
//! counting identity provider (in this process, on a loopback port) that issues 2-second
//! tokens. Callers on every instance ask for tokens for three token lifetimes, once with
//! the store and once without; a table shows how many token requests each run made.
//! With the store the fleet makes about one per lifetime; without, one per instance.
//!
//! Needs `redis-server` on `PATH` (it starts its own on a free loopback port, or Valkey's
//! with `TOKEN_CLIENT_TEST_STORE=valkey`), or a running Redis named by `REDIS_URL`:
//! `REDIS_URL=redis://127.0.0.1:6379/ cargo run --example fleet`.

#[path = "../tests/support/counting_idp.rs"]
mod counting_idp;
#[path = "../tests/support/redis_server.rs"]
mod redis_server;

use std::error::Error;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use counting_idp::CountingIdp;
use redis_server::RedisServer;
use token_client::{RedisTokenStore, SharedTokenProvider, TokenOptions, TokenProvider};

const INSTANCES: usize = 6;
const CALLERS_PER_INSTANCE: usize = 4;
const TOKEN_LIFETIME: Duration = Duration::from_secs(2);
const LIFETIMES: u32 = 3;
/// Refresh a quarter second before expiry (the default, 60 s, is clamped to half of these
/// short tokens' lifetime, which would refresh twice per lifetime).
const EARLY_REFRESH: Duration = Duration::from_millis(250);
const NAMESPACE: &str = "token-client-fleet-example";
/// A demo key, the same on every instance. A real one (32 random bytes) comes from a
/// secret manager, never from the source.
const DEMO_KEY: [u8; 32] = *b"token-client fleet example key!!";

type BoxError = Box<dyn Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    // A local server lives as long as `_local`, and is killed when it drops.
    let (url, _local) = match std::env::var("REDIS_URL") {
        // Not printed: the URL may hold a password.
        Ok(url) => {
            println!("using the Redis at $REDIS_URL");
            (url, None)
        }
        Err(_) => {
            let server = RedisServer::start().await;
            println!("started {} on {}", server.flavor(), server.url());
            (server.url(), Some(server))
        }
    };
    println!(
        "{INSTANCES} instances x {CALLERS_PER_INSTANCE} callers, {} s tokens, {LIFETIMES} lifetimes per run",
        TOKEN_LIFETIME.as_secs()
    );

    let with_store = run(Some(&url)).await?;
    let without_store = run(None).await?;

    println!();
    println!("                 instances  lifetimes  token requests  per lifetime  calls");
    for (name, run) in [
        ("with store", &with_store),
        ("without store", &without_store),
    ] {
        let per_lifetime = run.requests as f64 / f64::from(LIFETIMES);
        println!(
            "  {name:<13}  {INSTANCES:>9}  {LIFETIMES:>9}  {:>14}  {per_lifetime:>12.1}  {:>5}",
            run.requests, run.calls
        );
    }
    println!();
    println!("against a real Redis: REDIS_URL=redis://host:6379/ cargo run --example fleet");

    let limit = u64::from(LIFETIMES) + 2;
    if with_store.requests > limit {
        return Err(format!(
            "with the store the fleet made {} token requests, more than {limit} (lifetimes + 2)",
            with_store.requests
        )
        .into());
    }
    if with_store.invalid + without_store.invalid > 0 {
        return Err("a caller got a token the identity provider no longer accepts".into());
    }
    Ok(())
}

/// What one run counted.
struct Run {
    requests: u64,
    calls: u64,
    invalid: u64,
}

/// Runs the fleet for `LIFETIMES` token lifetimes against a fresh identity provider,
/// sharing tokens through the Redis at `store_url` if given.
async fn run(store_url: Option<&str>) -> Result<Run, BoxError> {
    let idp = Arc::new(CountingIdp::start(TOKEN_LIFETIME, Duration::from_millis(20)).await);
    let (calls, invalid) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let run_for = TOKEN_LIFETIME * LIFETIMES;
    let start = Instant::now();
    let mut callers = Vec::new();
    for _ in 0..INSTANCES {
        let options = TokenOptions::client_credentials(idp.token_endpoint(), "fleet", "secret")
            .early_refresh(EARLY_REFRESH);
        let provider = match store_url {
            Some(url) => {
                let store = RedisTokenStore::new(url)?
                    .namespace(NAMESPACE)
                    .encryption_key(DEMO_KEY);
                SharedTokenProvider::builder(options).store(store).build()?
            }
            None => SharedTokenProvider::new(options)?,
        };
        for _ in 0..CALLERS_PER_INSTANCE {
            let (provider, idp) = (provider.clone(), Arc::clone(&idp));
            let (calls, invalid) = (Arc::clone(&calls), Arc::clone(&invalid));
            callers.push(tokio::spawn(async move {
                while start.elapsed() < run_for {
                    let token = provider.token().await?;
                    calls.fetch_add(1, Ordering::Relaxed);
                    if !idp.is_valid(token.secret()) {
                        invalid.fetch_add(1, Ordering::Relaxed);
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                Ok::<_, token_client::TokenError>(())
            }));
        }
    }
    for caller in callers {
        caller.await??;
    }
    Ok(Run {
        requests: idp.requests(),
        calls: calls.load(Ordering::Relaxed),
        invalid: invalid.load(Ordering::Relaxed),
    })
}
