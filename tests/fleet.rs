//! A fleet of instances sharing one token through a real Redis (or Valkey, with
//! `TOKEN_CLIENT_TEST_STORE=valkey`): each "instance" is a provider with its own store
//! connection, against a counting token endpoint (tests/support/counting_idp.rs).
//!
//! Every test starts its own server on a free loopback port (tests/support/redis_server.rs)
//! and kills it at its end. Redis counts its TTLs in real time, so these tests run on the
//! real clock.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use support::counting_idp::CountingIdp;
use support::redis_server::{RedisCluster, RedisServer};
use support::{middleware_client, within};
use token_client::{
    Loaded, RedisTokenStore, SharedTokenProvider, StoreError, StoreKey, StoreLock, TokenError,
    TokenOptions, TokenProvider, TokenStore,
};
use tokio::time::Instant;

const KEY: [u8; 32] = *b"fleet-test-key-0123456789abcdef!";
const OTHER_KEY: [u8; 32] = *b"another-key-for-rotation-tests!!";

fn options(idp: &CountingIdp) -> TokenOptions {
    TokenOptions::client_credentials(idp.token_endpoint(), "fleet-client", "fleet-secret")
        .request_timeout(Duration::from_secs(2))
}

fn store(server: &RedisServer, namespace: &str) -> RedisTokenStore {
    RedisTokenStore::new(&server.url())
        .unwrap()
        .namespace(namespace)
        .encryption_key(KEY)
}

/// An instance: a provider with a store connection of its own.
fn instance(options: TokenOptions, store: impl TokenStore) -> SharedTokenProvider {
    SharedTokenProvider::builder(options)
        .store(store)
        .build()
        .unwrap()
}

fn fleet(
    server: &RedisServer,
    idp: &CountingIdp,
    namespace: &str,
    n: usize,
) -> Vec<SharedTokenProvider> {
    (0..n)
        .map(|_| instance(options(idp), store(server, namespace)))
        .collect()
}

/// Writes `value` under `name` for a minute, as a provider would.
async fn set_px(server: &RedisServer, name: &str, value: &[u8]) {
    server
        .command(&[b"SET", name.as_bytes(), value, b"PX", b"60000"])
        .await;
}

/// The one Redis key matching `pattern`.
async fn only_key(server: &RedisServer, pattern: &str) -> String {
    let keys = server.keys(pattern).await;
    assert_eq!(keys.len(), 1, "keys matching {pattern}: {keys:?}");
    keys.into_iter().next().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cold_fleet_of_eight_makes_one_token_request_for_a_thousand_callers() {
    let server = RedisServer::start().await;
    let idp = CountingIdp::start(Duration::from_secs(300), Duration::from_millis(200)).await;
    let instances = fleet(&server, &idp, "stampede", 8);

    let calls: Vec<_> = (0..1000)
        .map(|i| {
            let provider = instances[i % instances.len()].clone();
            tokio::spawn(async move { provider.token().await })
        })
        .collect();
    let mut secrets = std::collections::HashSet::new();
    for call in calls {
        let token = within(Duration::from_secs(20), "a caller", call)
            .await
            .unwrap();
        secrets.insert(
            token
                .expect("every caller gets a token")
                .secret()
                .to_owned(),
        );
    }

    assert_eq!(idp.requests(), 1, "one token request for the whole fleet");
    assert_eq!(
        secrets.len(),
        1,
        "every caller got the same token: {secrets:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_under_load_makes_one_request_per_refresh_period_and_hands_out_no_expired_token() {
    let server = RedisServer::start().await;
    let lifetime = Duration::from_secs(2);
    let idp = Arc::new(CountingIdp::start(lifetime, Duration::from_millis(20)).await);
    let instances = fleet(&server, &idp, "steady", 8);
    let run_for = lifetime * 3;
    let start = Instant::now();
    let expired = Arc::new(AtomicU64::new(0));
    let calls = Arc::new(AtomicU64::new(0));

    let mut workers = Vec::new();
    for provider in instances {
        for _ in 0..4 {
            let (provider, idp) = (provider.clone(), Arc::clone(&idp));
            let (expired, calls) = (Arc::clone(&expired), Arc::clone(&calls));
            workers.push(tokio::spawn(async move {
                while start.elapsed() < run_for {
                    let token = provider.token().await.expect("a token");
                    calls.fetch_add(1, Ordering::Relaxed);
                    if token.is_expired_at(Instant::now()) || !idp.is_valid(token.secret()) {
                        expired.fetch_add(1, Ordering::Relaxed);
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }));
        }
    }
    for worker in workers {
        within(run_for * 3, "a worker", worker).await.unwrap();
    }

    // Tokens of 2 s are refreshed 1 s ahead (half their lifetime): a period of 1 s plus
    // the fetch. Eight instances on their own would make eight requests per period.
    let periods = start.elapsed().as_secs_f64() / (lifetime.as_secs_f64() / 2.0);
    let requests = idp.requests();
    assert!(
        calls.load(Ordering::Relaxed) > 1000,
        "the fleet was under load"
    );
    assert_eq!(
        expired.load(Ordering::Relaxed),
        0,
        "no caller got an expired token"
    );
    assert!(
        (requests as f64) <= periods.ceil() + 1.0,
        "{requests} token requests in {periods:.1} refresh periods: the fleet should make one per period"
    );
    assert!(requests >= 3, "tokens were refreshed: {requests} requests");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_joiner_adopts_the_fresh_token_in_the_store_without_a_request() {
    let server = RedisServer::start().await;
    let idp = CountingIdp::start(Duration::from_secs(300), Duration::ZERO).await;
    let first = instance(options(&idp), store(&server, "late"));
    let token = first.token().await.unwrap();
    assert_eq!(idp.requests(), 1);

    let late = instance(options(&idp), store(&server, "late"));
    let adopted = late.token().await.unwrap();

    assert_eq!(idp.requests(), 1, "the late joiner made no request");
    assert_eq!(adopted.secret(), token.secret());
    let left = adopted.expires_in();
    assert!(
        left > Duration::from_secs(290) && left <= Duration::from_secs(300),
        "expiry read back from the store's TTL: {left:?}"
    );
}

/// A store whose `save` stalls, with a timeout long enough for the provider to wait it
/// out, and whose lock lives `lock_ttl` only: a holder paused past its lock's TTL (a GC
/// pause, a frozen VM).
struct StallingSave {
    inner: RedisTokenStore,
    stall: Duration,
    lock_ttl: Duration,
}

#[token_client::async_trait]
impl TokenStore for StallingSave {
    fn check(&self) -> Result<(), StoreError> {
        self.inner.check()
    }
    fn timeout(&self) -> Duration {
        self.stall * 2
    }
    async fn load(&self, key: &StoreKey) -> Result<Loaded, StoreError> {
        self.inner.load(key).await
    }
    async fn lock(
        &self,
        key: &StoreKey,
        lock: &StoreLock,
        _: Duration,
    ) -> Result<bool, StoreError> {
        self.inner.lock(key, lock, self.lock_ttl).await
    }
    async fn save(
        &self,
        key: &StoreKey,
        lock: &StoreLock,
        token: &[u8],
        ttl: Duration,
        refresh_token: Option<&[u8]>,
    ) -> Result<bool, StoreError> {
        tokio::time::sleep(self.stall).await;
        self.inner.save(key, lock, token, ttl, refresh_token).await
    }
    async fn hold(
        &self,
        key: &StoreKey,
        lock: &StoreLock,
        hold: Duration,
        failure: Option<&str>,
    ) -> Result<(), StoreError> {
        self.inner.hold(key, lock, hold, failure).await
    }
    async fn remove(&self, key: &StoreKey, stale: &[u8]) -> Result<bool, StoreError> {
        self.inner.remove(key, stale).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_holder_stalled_past_its_lock_costs_one_more_request_and_its_late_write_is_refused() {
    let server = RedisServer::start().await;
    let fetch = Duration::from_millis(100);
    let idp = CountingIdp::start(Duration::from_secs(300), fetch).await;
    // Shorter than the others' patience (their request timeout, 2 s): they take over.
    let lock_ttl = Duration::from_secs(1);
    let stall = Duration::from_secs(3);
    let stalled = instance(
        options(&idp),
        StallingSave {
            inner: store(&server, "stall"),
            stall,
            lock_ttl,
        },
    );
    let holder = tokio::spawn(async move { stalled.token().await });
    // The stalled instance holds the lock before the others ask.
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.keys("stall:*:lock").await.is_empty() {
        assert!(
            Instant::now() < deadline,
            "the first instance never took the lock"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let asked = Instant::now();

    let others = fleet(&server, &idp, "stall", 4);
    let waits: Vec<_> = others
        .iter()
        .map(|provider| {
            let provider = provider.clone();
            tokio::spawn(async move { provider.token().await.map(|t| t.secret().to_owned()) })
        })
        .collect();
    let mut secrets = std::collections::HashSet::new();
    for wait in waits {
        secrets.insert(wait.await.unwrap().expect("a token"));
    }
    let waited = asked.elapsed();

    assert_eq!(
        idp.requests(),
        2,
        "the stalled holder's request and one more"
    );
    assert_eq!(secrets.len(), 1, "the others share the one new token");
    let poll = Duration::from_millis(100);
    assert!(
        waited < lock_ttl + poll + fetch + Duration::from_millis(500),
        "waiters done {waited:?} after asking: within the lock TTL, a poll and a fetch"
    );

    // The stalled holder wakes up: its write is refused, the newer token stays.
    let stale = holder
        .await
        .unwrap()
        .expect("the stalled holder's own token");
    let newer = secrets.into_iter().next().unwrap();
    assert_ne!(stale.secret(), newer);
    let late = instance(options(&idp), store(&server, "stall"));
    assert_eq!(
        late.token().await.unwrap().secret(),
        newer,
        "the store kept the newer token"
    );
    assert_eq!(idp.requests(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_lock_holder_cannot_overwrite_or_release_what_a_newer_holder_wrote() {
    let server = RedisServer::start().await;
    let store = store(&server, "stale");
    let key = options_key(&server).await;
    let ttl = Duration::from_millis(200);

    let old = StoreLock::random();
    assert!(
        store.lock(&key, &old, ttl).await.unwrap(),
        "the lock is free"
    );
    assert!(
        !store.lock(&key, &StoreLock::random(), ttl).await.unwrap(),
        "the lock is held"
    );
    tokio::time::sleep(ttl + Duration::from_millis(100)).await;
    let new = StoreLock::random();
    assert!(
        store
            .lock(&key, &new, Duration::from_secs(10))
            .await
            .unwrap(),
        "expired: free"
    );
    assert!(
        store
            .save(&key, &new, b"newer", Duration::from_secs(60), None)
            .await
            .unwrap()
    );

    assert!(
        !store
            .save(&key, &old, b"older", Duration::from_secs(60), None)
            .await
            .unwrap(),
        "the stale holder's write is refused"
    );
    store.hold(&key, &old, Duration::ZERO, None).await.unwrap();
    let loaded = store.load(&key).await.unwrap();
    assert_eq!(loaded.token.as_deref(), Some(&b"newer"[..]));

    // A holder that still holds its lock: hold shortens it, zero releases it.
    let lock = StoreLock::random();
    assert!(
        store
            .lock(&key, &lock, Duration::from_secs(60))
            .await
            .unwrap()
    );
    store
        .hold(&key, &lock, Duration::from_millis(100), None)
        .await
        .unwrap();
    let pttl = server.pttl(&only_key(&server, "stale:*:lock").await).await;
    assert!(
        (1..=100).contains(&pttl),
        "the lock kept for the cool-down: {pttl} ms"
    );
    let loaded = store.load(&key).await.unwrap();
    assert!(loaded.locked && loaded.failure.is_none());
    assert!(
        loaded
            .lock_expires_in
            .is_some_and(|left| left <= Duration::from_millis(100)),
        "{loaded:?}"
    );
    store.hold(&key, &lock, Duration::ZERO, None).await.unwrap();
    let loaded = store.load(&key).await.unwrap();
    assert!(!loaded.locked && loaded.lock_expires_in.is_none());

    // A failed holder's marker: held, with its error, for the cool-down; then free.
    let lock = StoreLock::random();
    assert!(
        store
            .lock(&key, &lock, Duration::from_secs(60))
            .await
            .unwrap()
    );
    store
        .hold(
            &key,
            &lock,
            Duration::from_millis(300),
            Some("endpoint said 503"),
        )
        .await
        .unwrap();
    let loaded = store.load(&key).await.unwrap();
    assert!(loaded.locked, "{loaded:?}");
    assert_eq!(loaded.failure.as_deref(), Some("endpoint said 503"));
    assert!(
        !store.lock(&key, &StoreLock::random(), ttl).await.unwrap(),
        "nobody takes the lock during the cool-down"
    );
    assert!(
        !store
            .save(&key, &lock, b"late", Duration::from_secs(60), None)
            .await
            .unwrap(),
        "the marker is nobody's lock"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    let loaded = store.load(&key).await.unwrap();
    assert!(!loaded.locked && loaded.failure.is_none(), "{loaded:?}");
}

/// Some store key (these tests of the store alone need one, not a real configuration's).
async fn options_key(server: &RedisServer) -> StoreKey {
    let _ = server;
    StoreKey::for_options(&TokenOptions::client_credentials(
        "https://login.example/token",
        "id",
        "secret",
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_and_restarted_fails_no_call_and_sharing_resumes() {
    let mut server = RedisServer::start().await;
    let lifetime = Duration::from_secs(2);
    let idp = Arc::new(CountingIdp::start(lifetime, Duration::from_millis(20)).await);
    let instances = fleet(&server, &idp, "outage", 4);
    let failures = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut workers = Vec::new();
    for provider in &instances {
        for _ in 0..2 {
            let (provider, failures, stop) =
                (provider.clone(), Arc::clone(&failures), Arc::clone(&stop));
            workers.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    if provider.token().await.is_err() {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }));
        }
    }
    tokio::time::sleep(lifetime).await;
    server.kill();
    tokio::time::sleep(lifetime * 2).await;
    let during_outage = idp.requests();
    server.restart().await;
    // Let every instance come back to the store (its back-off, a refresh period).
    tokio::time::sleep(lifetime * 2).await;
    let before = idp.requests();
    let measured = Instant::now();
    tokio::time::sleep(lifetime * 3).await;
    let after = idp.requests() - before;
    let periods = measured.elapsed().as_secs_f64() / (lifetime.as_secs_f64() / 2.0);
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        within(Duration::from_secs(10), "a worker", worker)
            .await
            .unwrap();
    }

    assert_eq!(failures.load(Ordering::Relaxed), 0, "no call failed");
    assert!(
        during_outage >= 2,
        "the instances fetched on their own meanwhile"
    );
    assert!(
        (after as f64) <= periods.ceil() + 1.0,
        "after the restart: {after} requests in {periods:.1} refresh periods, one per period expected"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_redis_delays_no_call_longer_than_the_store_timeout_and_a_fetch() {
    let server = RedisServer::start().await;
    let fetch = Duration::from_millis(50);
    let idp = CountingIdp::start(Duration::from_secs(300), fetch).await;
    let timeout = Duration::from_millis(300);
    let make = || instance(options(&idp), store(&server, "paused").timeout(timeout));
    // A warm connection, then the pause.
    make().token().await.unwrap();
    server.client_pause(5_000).await;

    let cold = make();
    let started = Instant::now();
    let token = within(
        Duration::from_secs(4),
        "a token while Redis is paused",
        cold.token(),
    )
    .await
    .expect("a token without the store");
    let waited = started.elapsed();

    assert!(
        waited < timeout + fetch + Duration::from_millis(400),
        "waited {waited:?}: at most the store timeout ({timeout:?}) plus a fetch ({fetch:?})"
    );
    assert!(idp.is_valid(token.secret()));
    assert_eq!(
        idp.requests(),
        2,
        "the paused store cost one request of this instance's own"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_values_are_sealed_and_any_tampering_reads_as_a_miss() {
    let server = RedisServer::start().await;
    let idp = CountingIdp::start(Duration::from_secs(300), Duration::ZERO).await;
    let token = instance(options(&idp), store(&server, "sealed"))
        .token()
        .await
        .unwrap();
    let name = only_key(&server, "sealed:*:token").await;
    let raw = server.get(&name).await.expect("a stored token");
    assert!(
        !raw.windows(token.secret().len())
            .any(|w| w == token.secret().as_bytes()),
        "the raw value does not hold the token"
    );
    let requests = || idp.requests();
    assert_eq!(requests(), 1);

    // A wrong key: a miss (and a fetch), never an error.
    let wrong = RedisTokenStore::new(&server.url())
        .unwrap()
        .namespace("sealed")
        .encryption_key(OTHER_KEY);
    instance(options(&idp), wrong).token().await.unwrap();
    assert_eq!(requests(), 2, "a value sealed under another key is a miss");

    // The old key readable during a rotation: the value (rewritten under OTHER_KEY just
    // now? no: under KEY by the first instance, then under OTHER_KEY by the second) opens
    // with OTHER_KEY as the current key and KEY as the previous one.
    let rotated = RedisTokenStore::new(&server.url())
        .unwrap()
        .namespace("sealed")
        .encryption_key(KEY)
        .previous_encryption_key(OTHER_KEY);
    instance(options(&idp), rotated).token().await.unwrap();
    assert_eq!(
        requests(),
        2,
        "a value sealed under the previous key still opens"
    );

    // A plaintext reader never takes a sealed value for plaintext.
    let plain = RedisTokenStore::new(&server.url())
        .unwrap()
        .namespace("sealed")
        .allow_plaintext();
    instance(options(&idp), plain).token().await.unwrap();
    assert_eq!(requests(), 3);

    // Reseal under KEY, then flip one byte of the stored value: a miss.
    let resealed = instance(options(&idp), store(&server, "sealed"));
    resealed.token().await.unwrap();
    assert_eq!(
        requests(),
        4,
        "the plaintext value is not read by a sealing store either"
    );
    let mut raw = server.get(&name).await.unwrap();
    let last = raw.len() - 1;
    raw[last] ^= 1;
    set_px(&server, &name, &raw).await;
    instance(options(&idp), store(&server, "sealed"))
        .token()
        .await
        .unwrap();
    assert_eq!(requests(), 5, "a flipped byte is a miss");

    // A value copied under another configuration's key: a miss.
    let raw = server.get(&name).await.unwrap();
    let other = options(&idp).scope("other");
    instance(other.clone(), store(&server, "sealed"))
        .token()
        .await
        .unwrap();
    assert_eq!(requests(), 6);
    let other_name = server
        .keys("sealed:*:token")
        .await
        .into_iter()
        .find(|k| *k != name)
        .unwrap();
    set_px(&server, &other_name, &raw).await;
    instance(other, store(&server, "sealed"))
        .token()
        .await
        .unwrap();
    assert_eq!(
        requests(),
        7,
        "a value copied to another key does not open there"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn options_differing_in_scope_audience_endpoint_or_namespace_never_share_a_token() {
    let server = RedisServer::start().await;
    let idp = CountingIdp::start(Duration::from_secs(300), Duration::ZERO).await;
    let base = options(&idp);
    let localhost = idp.token_endpoint().replace("127.0.0.1", "localhost");
    let variants = [
        (base.clone(), "iso"),
        (base.clone().scope("a"), "iso"),
        (base.clone().scope("b"), "iso"),
        (base.clone().audience("https://api.example"), "iso"),
        (
            TokenOptions::client_credentials(localhost, "fleet-client", "fleet-secret"),
            "iso",
        ),
        (base.clone(), "iso-other-app"),
    ];
    let mut secrets = std::collections::HashSet::new();
    for (options, namespace) in &variants {
        let token = instance(options.clone(), store(&server, namespace))
            .token()
            .await
            .unwrap();
        secrets.insert(token.secret().to_owned());
    }
    assert_eq!(
        idp.requests(),
        variants.len() as u64,
        "one request per configuration"
    );
    assert_eq!(
        secrets.len(),
        variants.len(),
        "no two configurations share a token"
    );

    // And each configuration does share with itself.
    for (options, namespace) in &variants {
        instance(options.clone(), store(&server, namespace))
            .token()
            .await
            .unwrap();
    }
    assert_eq!(idp.requests(), variants.len() as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_instances_rejected_at_once_make_one_new_token_request() {
    let server = RedisServer::start().await;
    let idp = CountingIdp::start(Duration::from_secs(300), Duration::from_millis(50)).await;
    let instances = fleet(&server, &idp, "rejected", 8);
    let mut first = None;
    for provider in &instances {
        let token = provider.token().await.unwrap();
        first.get_or_insert_with(|| token.secret().to_owned());
    }
    assert_eq!(idp.requests(), 1);
    idp.revoke(first.as_deref().unwrap());

    let barrier = Arc::new(tokio::sync::Barrier::new(instances.len()));
    let calls: Vec<_> = instances
        .iter()
        .map(|provider| {
            let client = middleware_client(provider.clone());
            let (api, barrier) = (idp.api(), Arc::clone(&barrier));
            tokio::spawn(async move {
                barrier.wait().await;
                client.get(api).send().await.unwrap().status()
            })
        })
        .collect();
    for call in calls {
        assert_eq!(
            call.await.unwrap(),
            200,
            "the replay after the 401 succeeds"
        );
    }

    assert_eq!(idp.requests(), 2, "one new token for the whole fleet");
    let late = instance(options(&idp), store(&server, "rejected"));
    let token = late.token().await.unwrap();
    assert_ne!(
        Some(token.secret()),
        first.as_deref(),
        "the rejected token left the store"
    );
    assert_eq!(idp.requests(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_refresh_token_is_shared_and_invalid_grant_falls_back_to_the_password() {
    let server = RedisServer::start().await;
    let idp = CountingIdp::start(Duration::from_secs(2), Duration::ZERO).await;
    let password = || {
        TokenOptions::password(
            idp.token_endpoint(),
            "fleet-client",
            "fleet-secret",
            "alice",
            "pw",
        )
        .request_timeout(Duration::from_secs(2))
    };
    let a = instance(password(), store(&server, "rotation"));
    let b = instance(password(), store(&server, "rotation"));
    a.token().await.unwrap();
    b.token().await.unwrap();
    assert_eq!(idp.requests_of("password"), 1);

    // Each refresh rotates the refresh token; whichever instance refreshes uses the one
    // the store holds, so none is refused.
    for round in 0..3 {
        tokio::time::sleep(Duration::from_millis(2100)).await;
        let provider = if round % 2 == 0 { &b } else { &a };
        let token = provider.token().await.unwrap();
        assert!(idp.is_valid(token.secret()));
    }
    assert_eq!(
        idp.requests_of("password"),
        1,
        "the password grant was not needed again"
    );
    assert_eq!(
        idp.requests_of("refresh_token"),
        3,
        "one refresh per round, none refused"
    );

    // `a` last refreshed in round 1; `b` rotated its refresh token away in round 2. With
    // the store's refresh token gone, `a` tries its own: invalid_grant, then the password.
    let name = only_key(&server, "rotation:*:refresh").await;
    server.command(&[b"DEL", name.as_bytes()]).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let token = a
        .token()
        .await
        .expect("the password grant after invalid_grant");
    assert!(idp.is_valid(token.secret()));
    assert_eq!(
        idp.requests_of("refresh_token"),
        4,
        "the stale refresh token, refused"
    );
    assert_eq!(idp.requests_of("password"), 2, "then the password grant");
}

/// A token endpoint answering 503 (after `delay`) until `up` is set, then tokens
/// `tok-1`, `tok-2`...; and the count of its requests.
async fn flaky_idp(delay: Duration) -> (wiremock::MockServer, Arc<AtomicBool>, Arc<AtomicU64>) {
    let server = wiremock::MockServer::start().await;
    let (up, requests) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(0)),
    );
    let (is_up, count) = (Arc::clone(&up), Arc::clone(&requests));
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(move |_: &wiremock::Request| {
            let n = count.fetch_add(1, Ordering::SeqCst) + 1;
            let response = if is_up.load(Ordering::SeqCst) {
                let body = format!(
                    r#"{{"access_token":"tok-{n}","token_type":"Bearer","expires_in":300}}"#
                );
                wiremock::ResponseTemplate::new(200).set_body_raw(body, "application/json")
            } else {
                wiremock::ResponseTemplate::new(503).set_body_string("overloaded")
            };
            response.set_delay(delay)
        })
        .mount(&server)
        .await;
    (server, up, requests)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_refresh_fails_the_waiting_fleet_at_once_and_one_instance_retries_after_the_cool_down()
 {
    let server = RedisServer::start().await;
    let fetch = Duration::from_millis(100);
    let (idp, up, requests) = flaky_idp(fetch).await;
    let cooldown = Duration::from_secs(2);
    let options = TokenOptions::client_credentials(
        format!("{}/token", idp.uri()),
        "fleet-client",
        "fleet-secret",
    )
    .request_timeout(Duration::from_secs(2))
    .failure_cooldown(cooldown);
    let instances: Vec<_> = (0..6)
        .map(|_| instance(options.clone(), store(&server, "failing")))
        .collect();
    let all_at_once = |instances: &[SharedTokenProvider]| {
        let calls: Vec<_> = instances
            .iter()
            .map(|provider| {
                let provider = provider.clone();
                tokio::spawn(async move { provider.token().await })
            })
            .collect();
        async move {
            let mut outcomes = Vec::new();
            for call in calls {
                outcomes.push(
                    within(Duration::from_secs(10), "a caller", call)
                        .await
                        .unwrap(),
                );
            }
            outcomes
        }
    };

    let started = Instant::now();
    let outcomes = all_at_once(&instances).await;
    let waited = started.elapsed();
    assert_eq!(
        requests.load(Ordering::SeqCst),
        1,
        "one request for the fleet"
    );
    let errors: Vec<TokenError> = outcomes
        .into_iter()
        .map(|outcome| outcome.expect_err("the endpoint is down"))
        .collect();
    let shared = errors
        .iter()
        .filter(|error| matches!(error, TokenError::SharedRefreshFailed(_)))
        .count();
    assert_eq!(shared, 5, "the others got the holder's failure: {errors:?}");
    assert!(
        errors.iter().all(|error| error.to_string().contains("503")),
        "{errors:?}"
    );
    assert!(
        waited < fetch + Duration::from_millis(600),
        "every caller failed within the request's time, not the lock's: {waited:?}"
    );

    // Within the cool-down: no request, every caller fails at once (a new instance too).
    let late = instance(options.clone(), store(&server, "failing"));
    let started = Instant::now();
    assert!(late.token().await.is_err());
    for outcome in all_at_once(&instances).await {
        assert!(outcome.is_err());
    }
    assert!(started.elapsed() < Duration::from_millis(500));
    assert_eq!(
        requests.load(Ordering::SeqCst),
        1,
        "the fleet backs off together"
    );

    // After the cool-down, with the endpoint back: one instance retries, all share its token.
    up.store(true, Ordering::SeqCst);
    tokio::time::sleep(cooldown + Duration::from_millis(300)).await;
    let secrets: std::collections::HashSet<String> = all_at_once(&instances)
        .await
        .into_iter()
        .map(|outcome| outcome.expect("the endpoint is back").secret().to_owned())
        .collect();
    assert_eq!(
        requests.load(Ordering::SeqCst),
        2,
        "one retry for the fleet"
    );
    assert_eq!(secrets.len(), 1, "{secrets:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_without_ttl_and_keys_of_another_type_or_size_are_repaired_not_waited_on() {
    let server = RedisServer::start().await;
    let idp = CountingIdp::start(Duration::from_secs(300), Duration::ZERO).await;
    let key = StoreKey::for_options(&options(&idp));
    let name = |part: &str| format!("odd:{{{}}}:{part}", key.as_str());
    let quick = Duration::from_millis(800);

    // A lock nobody will ever release (no TTL): removed, not waited on.
    server.set(&name("lock"), b"left-behind").await;
    let started = Instant::now();
    instance(options(&idp), store(&server, "odd"))
        .token()
        .await
        .unwrap();
    assert!(started.elapsed() < quick, "waited {:?}", started.elapsed());
    assert_eq!(idp.requests(), 1);
    assert_eq!(server.pttl(&name("lock")).await, -2, "the lock is gone");

    // Keys of another type (a hash, a list): absent, and overwritten; never an error.
    server.command(&[b"DEL", name("token").as_bytes()]).await;
    for (part, command) in [("token", &b"HSET"[..]), ("refresh", b"HSET")] {
        server
            .command(&[command, name(part).as_bytes(), b"field", b"value"])
            .await;
    }
    server
        .command(&[b"RPUSH", name("lock").as_bytes(), b"item"])
        .await;
    let started = Instant::now();
    let fresh = instance(options(&idp), store(&server, "odd"));
    let token = fresh.token().await.unwrap();
    assert!(started.elapsed() < quick, "waited {:?}", started.elapsed());
    assert_eq!(idp.requests(), 2, "a miss: one request");
    assert_eq!(
        server.command(&[b"TYPE", name("token").as_bytes()]).await,
        support::redis_server::Reply::Simple("string".into()),
        "the token key is a token again"
    );
    let shared = instance(options(&idp), store(&server, "odd"));
    assert_eq!(shared.token().await.unwrap().secret(), token.secret());
    assert_eq!(idp.requests(), 2, "and shared");

    // A value over 64 KiB: a miss, not read.
    set_px(&server, &name("token"), &vec![b'x'; 65 * 1024]).await;
    instance(options(&idp), store(&server, "odd"))
        .token()
        .await
        .unwrap();
    assert_eq!(idp.requests(), 3);
}

// ---- configuration: no server needed for most of it ----

#[token_client::token_client]
pub trait Api: Send + Sync {
    #[get("/api")]
    async fn call(&self) -> Result<(), token_client::Error>;
}

#[test]
fn a_store_with_neither_a_key_nor_plaintext_or_a_bad_namespace_fails_the_build_plainly() {
    let options = || TokenOptions::client_credentials("https://login.example/token", "id", "s");
    let build = |store: RedisTokenStore| {
        SharedTokenProvider::builder(options())
            .store(store)
            .build()
            .unwrap_err()
            .to_string()
    };
    let unsealed = RedisTokenStore::new("redis://127.0.0.1:1/").unwrap();
    let error = build(unsealed.clone());
    assert!(
        error.contains("`.encryption_key(key)`") && error.contains("`.allow_plaintext()`"),
        "{error}"
    );
    // A previous key alone is no encryption key.
    assert!(build(unsealed.clone().previous_encryption_key(KEY)).contains("encryption_key"));
    for namespace in ["", "a{b}", "with space", "line\nbreak", &"x".repeat(129)] {
        let error = build(unsealed.clone().allow_plaintext().namespace(namespace));
        assert!(error.contains("namespace"), "{namespace:?}: {error}");
    }
    let error = build(unsealed.clone().allow_plaintext().timeout(Duration::ZERO));
    assert!(error.contains("timeout"), "{error}");
    assert!(RedisTokenStore::new("not a url").is_err());
    assert!(RedisTokenStore::new("http://127.0.0.1/").is_err());

    // The client builder: a store goes with token options, not with a built provider.
    let provider = SharedTokenProvider::new(options()).unwrap();
    let error = ApiClient::builder()
        .base_url("https://api.example")
        .token_provider(provider)
        .token_store(unsealed.allow_plaintext())
        .build();
    let Err(error) = error else {
        panic!("a store with a built provider is refused")
    };
    assert!(
        matches!(
            error,
            token_client::Error::Build(token_client::BuildError::StoreWithProvider)
        ),
        "{error:?}"
    );

    // A store without token options would be ignored: refused too.
    let error = PublicClient::builder()
        .base_url("https://api.example")
        .token_store(
            RedisTokenStore::new("redis://127.0.0.1:1/")
                .unwrap()
                .allow_plaintext(),
        )
        .build();
    let Err(error) = error else {
        panic!("a store without token options is refused")
    };
    assert!(
        matches!(
            error,
            token_client::Error::Build(token_client::BuildError::StoreWithoutTokenOptions)
        ),
        "{error:?}"
    );
}

/// A client whose every method is `#[no_auth]`: it needs no token configuration.
#[token_client::token_client]
pub trait Public: Send + Sync {
    #[get("/status")]
    #[no_auth]
    async fn status(&self) -> Result<(), token_client::Error>;
}

#[test]
fn a_store_used_outside_a_tokio_runtime_fails_instead_of_panicking() {
    use std::task::{Context, Poll, Waker};
    let store = RedisTokenStore::new("redis://127.0.0.1:1/")
        .unwrap()
        .allow_plaintext();
    let key = StoreKey::for_options(&TokenOptions::client_credentials(
        "https://login.example/token",
        "id",
        "secret",
    ));
    let mut load = store.load(&key);
    match load.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(Err(error)) => assert!(error.to_string().contains("tokio runtime"), "{error}"),
        Poll::Ready(Ok(loaded)) => panic!("loaded without a runtime: {loaded:?}"),
        Poll::Pending => panic!("no answer at once"),
    }
}

#[test]
fn a_store_shows_neither_its_password_nor_its_keys() {
    let store = RedisTokenStore::new("redis://user:hunter2-pw@cache:6379/0")
        .unwrap()
        .encryption_key(KEY)
        .previous_encryption_key(OTHER_KEY);
    let shown = format!("{store:?}");
    assert!(!shown.contains("hunter2-pw"), "{shown}");
    assert!(!shown.contains("fleet-test-key"), "{shown}");
    assert!(shown.contains("cache:6379"), "{shown}");
    assert!(
        shown.contains("user:<redacted>@cache"),
        "plainly, not escaped: {shown}"
    );
    assert!(shown.contains("with a previous key"), "{shown}");
    // A Unix socket's password goes in the query.
    let unix = RedisTokenStore::new("redis+unix:///run/redis.sock?db=2&pass=hunter2-pw").unwrap();
    let shown = format!("{unix:?}");
    assert!(!shown.contains("hunter2-pw"), "{shown}");
    assert!(shown.contains("/run/redis.sock"), "{shown}");
    // A previous key given before the current one is kept.
    let store = RedisTokenStore::new("redis://cache:6379/0")
        .unwrap()
        .previous_encryption_key(OTHER_KEY)
        .encryption_key(KEY);
    assert!(
        format!("{store:?}").contains("with a previous key"),
        "{store:?}"
    );
    let error = RedisTokenStore::new("redis://:hunter2-pw@cache:notaport/").unwrap_err();
    assert!(!error.to_string().contains("hunter2-pw"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_built_with_token_options_and_a_store_share_one_token() {
    let server = RedisServer::start().await;
    let idp = CountingIdp::start(Duration::from_secs(300), Duration::ZERO).await;
    let base = idp.api().trim_end_matches("/api").to_owned();
    for _ in 0..3 {
        let client = ApiClient::builder()
            .base_url(&base)
            .token_options(options(&idp))
            .token_store(store(&server, "clients"))
            .build()
            .unwrap();
        client.call().await.unwrap();
    }
    assert_eq!(idp.requests(), 1, "three clients, one token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_on_a_redis_cluster_shares_one_token_with_its_keys_in_one_slot() {
    let cluster = RedisCluster::start(3).await;
    let idp = CountingIdp::start(Duration::from_secs(300), Duration::from_millis(100)).await;
    let urls = cluster.urls();
    let instances: Vec<_> = (0..4)
        .map(|_| {
            let store = RedisTokenStore::cluster(urls.iter().map(String::as_str))
                .unwrap()
                .namespace("cluster")
                .encryption_key(KEY);
            instance(options(&idp), store)
        })
        .collect();

    let calls: Vec<_> = (0..200)
        .map(|i| {
            let provider = instances[i % instances.len()].clone();
            tokio::spawn(async move { provider.token().await.map(|t| t.secret().to_owned()) })
        })
        .collect();
    let mut secrets = std::collections::HashSet::new();
    for call in calls {
        secrets.insert(call.await.unwrap().expect("a token"));
    }
    assert_eq!(
        idp.requests(),
        1,
        "one request for the fleet, on a cluster too"
    );
    assert_eq!(secrets.len(), 1);

    let mut holders = Vec::new();
    for node in cluster.nodes() {
        holders.push(node.keys("cluster:*").await);
    }
    let with_keys: Vec<_> = holders.iter().filter(|keys| !keys.is_empty()).collect();
    assert_eq!(
        with_keys.len(),
        1,
        "one node holds every key of the token: {holders:?}"
    );
    assert!(with_keys[0].iter().any(|key| key.ends_with(":token")));
}
