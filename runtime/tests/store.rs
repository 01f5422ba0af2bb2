//! How a provider uses a [`TokenStore`], with an in-memory store that can be made to fail,
//! stall or hold garbage: the hot path never touches it, and no failure of the store ever
//! fails a call. (The Redis engine and the fleet protocol across instances: tests/fleet.rs
//! of the facade, against a real Redis.)

mod common;

use common::Captured;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use token_client_runtime::{
    Loaded, SharedTokenProvider, StoreError, StoreKey, StoreLock, TokenOptions, TokenProvider,
    TokenStore,
};
use tokio::time::Instant;
use wiremock::{Mock, MockServer, ResponseTemplate};

#[derive(Clone, Copy, PartialEq, Debug)]
enum Mode {
    Up,
    Failing,
    Stalling,
}

/// A store in memory, faithful to the contract, with a switch.
#[derive(Default)]
struct MemoryStore {
    mode: Mutex<Option<Mode>>,
    token: Mutex<Option<(Vec<u8>, Instant)>>,
    lock: Mutex<Option<(Lock, Instant)>>,
    ops: AtomicUsize,
}

/// The refresh lock: taken with a value, or a failure marker with the holder's error.
#[derive(Clone, PartialEq, Debug)]
enum Lock {
    Taken(String),
    Failed(String),
}

impl MemoryStore {
    fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = Some(mode);
    }

    fn ops(&self) -> usize {
        self.ops.load(Ordering::SeqCst)
    }

    async fn enter(&self) -> Result<(), StoreError> {
        self.ops.fetch_add(1, Ordering::SeqCst);
        let mode = self.mode.lock().unwrap().unwrap_or(Mode::Up);
        match mode {
            Mode::Up => Ok(()),
            Mode::Failing => Err(StoreError::new("connection refused")),
            Mode::Stalling => std::future::pending().await,
        }
    }

    fn current_lock(&self) -> Option<(Lock, Instant)> {
        let lock = self.lock.lock().unwrap();
        lock.as_ref()
            .filter(|(_, until)| Instant::now() < *until)
            .cloned()
    }

    fn locked_by(&self) -> Option<String> {
        match self.current_lock()? {
            (Lock::Taken(value), _) => Some(value),
            (Lock::Failed(_), _) => None,
        }
    }
}

#[async_trait::async_trait]
impl TokenStore for MemoryStore {
    fn timeout(&self) -> Duration {
        Duration::from_millis(200)
    }

    async fn load(&self, _: &StoreKey) -> Result<Loaded, StoreError> {
        self.enter().await?;
        let now = Instant::now();
        let token = self.token.lock().unwrap().clone();
        let token = token.filter(|(_, until)| now < *until);
        let lock = self.current_lock();
        let mut loaded = Loaded::default();
        loaded.expires_in = token
            .as_ref()
            .map_or(Duration::ZERO, |(_, until)| *until - now);
        loaded.token = token.map(|(bytes, _)| bytes);
        loaded.locked = lock.is_some();
        loaded.lock_expires_in = lock.as_ref().map(|(_, until)| *until - now);
        loaded.failure = match lock {
            Some((Lock::Failed(failure), _)) => Some(failure),
            _ => None,
        };
        Ok(loaded)
    }

    async fn lock(
        &self,
        _: &StoreKey,
        lock: &StoreLock,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        self.enter().await?;
        if self.current_lock().is_some() {
            return Ok(false);
        }
        let taken = Lock::Taken(lock.value().to_owned());
        *self.lock.lock().unwrap() = Some((taken, Instant::now() + ttl));
        Ok(true)
    }

    async fn save(
        &self,
        _: &StoreKey,
        lock: &StoreLock,
        token: &[u8],
        ttl: Duration,
        _: Option<&[u8]>,
    ) -> Result<bool, StoreError> {
        self.enter().await?;
        if self.locked_by().as_deref() != Some(lock.value()) {
            return Ok(false);
        }
        *self.token.lock().unwrap() = Some((token.to_vec(), Instant::now() + ttl));
        *self.lock.lock().unwrap() = None;
        Ok(true)
    }

    async fn hold(
        &self,
        _: &StoreKey,
        lock: &StoreLock,
        hold: Duration,
        failure: Option<&str>,
    ) -> Result<(), StoreError> {
        self.enter().await?;
        if self.locked_by().as_deref() == Some(lock.value()) {
            let kept = match failure {
                Some(failure) => Lock::Failed(failure.to_owned()),
                None => Lock::Taken(lock.value().to_owned()),
            };
            *self.lock.lock().unwrap() = (!hold.is_zero()).then(|| (kept, Instant::now() + hold));
        }
        Ok(())
    }

    async fn remove(&self, _: &StoreKey, stale: &[u8]) -> Result<bool, StoreError> {
        self.enter().await?;
        let mut token = self.token.lock().unwrap();
        let matches = token.as_ref().is_some_and(|(bytes, _)| bytes == stale);
        if matches {
            *token = None;
        }
        Ok(matches)
    }
}

/// A token endpoint issuing `t1`, `t2`... valid `lifetime` seconds; counts its requests.
async fn endpoint(lifetime: u64) -> (MockServer, Arc<AtomicUsize>) {
    let server = MockServer::start().await;
    let count = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&count);
    Mock::given(wiremock::matchers::method("POST"))
        .respond_with(move |_: &wiremock::Request| {
            let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
            let body = format!(
                r#"{{"access_token":"t{n}","token_type":"Bearer","expires_in":{lifetime}}}"#
            );
            ResponseTemplate::new(200).set_body_raw(body.into_bytes(), "application/json")
        })
        .mount(&server)
        .await;
    (server, count)
}

fn provider(server: &MockServer, store: &Arc<MemoryStore>) -> SharedTokenProvider {
    let options = TokenOptions::client_credentials(format!("{}/token", server.uri()), "id", "s");
    SharedTokenProvider::builder(options)
        .store(Arc::clone(store))
        .build()
        .unwrap()
}

#[tokio::test(flavor = "current_thread")]
async fn the_hot_path_never_touches_the_store() {
    let (server, requests) = endpoint(300).await;
    let store = Arc::new(MemoryStore::default());
    let provider = provider(&server, &store);
    provider.token().await.unwrap();
    let after_first = store.ops();
    assert!(after_first >= 3, "load, lock, save: {after_first}");

    for _ in 0..1000 {
        provider.token().await.unwrap();
    }

    assert_eq!(
        store.ops(),
        after_first,
        "no store operation for a valid token"
    );
    assert_eq!(requests.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn a_failing_store_fails_no_call_warns_once_and_is_retried_after_a_back_off() {
    let (captured, _guard) = Captured::start(tracing::Level::INFO);
    let (server, requests) = endpoint(300).await;
    let store = Arc::new(MemoryStore::default());
    store.set(Mode::Failing);

    // Providers that each need a token: each fetches on its own.
    for n in 1..=5 {
        let token = provider(&server, &store)
            .token()
            .await
            .expect("no call fails");
        assert_eq!(token.secret(), format!("t{n}"));
    }
    assert_eq!(requests.load(Ordering::SeqCst), 5);
    assert_eq!(
        captured.count("token store unavailable"),
        5,
        "one warning per provider"
    );

    // One provider, many refreshes within one outage: one warning, and the store is left
    // alone during its back-off.
    let provider = provider(&server, &store);
    let before = captured.count("token store unavailable");
    provider.token().await.unwrap();
    let ops = store.ops();
    for _ in 0..5 {
        provider.invalidate(&provider.token().await.unwrap());
        provider.token().await.expect("no call fails");
    }
    assert_eq!(store.ops(), ops, "no store operation during the back-off");
    assert_eq!(
        captured.count("token store unavailable"),
        before + 1,
        "warned once"
    );

    // After the back-off the store is tried again; it answers: sharing resumes.
    store.set(Mode::Up);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    provider.invalidate(&provider.token().await.unwrap());
    provider.token().await.unwrap();
    assert!(store.ops() > ops, "the store was tried again");
    assert_eq!(captured.count("token store answering again"), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn a_stalled_store_costs_at_most_its_timeout() {
    let (server, requests) = endpoint(300).await;
    let store = Arc::new(MemoryStore::default());
    store.set(Mode::Stalling);
    let provider = provider(&server, &store);

    let started = std::time::Instant::now();
    let token = provider.token().await.expect("a token without the store");
    let waited = started.elapsed();

    assert_eq!(token.secret(), "t1");
    assert_eq!(requests.load(Ordering::SeqCst), 1);
    assert!(
        waited >= Duration::from_millis(200) && waited < Duration::from_millis(1000),
        "the store's 200 ms timeout, then a fetch: {waited:?}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_stored_value_that_is_not_a_token_is_a_miss_and_is_overwritten() {
    let (server, requests) = endpoint(300).await;
    let store = Arc::new(MemoryStore::default());
    for garbage in [
        &b"not json"[..],
        b"{}",
        b"\xff\xfe",
        br#"{"access_token":7}"#,
        // Parses, and has time enough left to be adopted, but could never go in an
        // `Authorization` header: every call would fail.
        br#"{"access_token":"evil\nX","token_type":"Bearer","lifetime_ms":100000}"#,
        br#"{"access_token":"","token_type":"Bearer","lifetime_ms":100000}"#,
    ] {
        *store.token.lock().unwrap() =
            Some((garbage.to_vec(), Instant::now() + Duration::from_secs(60)));
        let before = requests.load(Ordering::SeqCst);
        let token = provider(&server, &store).token().await.unwrap();
        assert_eq!(
            requests.load(Ordering::SeqCst),
            before + 1,
            "{garbage:?} is a miss"
        );
        let stored = store.token.lock().unwrap().clone().unwrap().0;
        let stored = String::from_utf8(stored).unwrap();
        assert!(
            stored.contains(token.secret()),
            "overwritten with the new token"
        );
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_store_that_refuses_its_configuration_fails_the_build() {
    struct Unconfigured;
    #[async_trait::async_trait]
    impl TokenStore for Unconfigured {
        fn check(&self) -> Result<(), StoreError> {
            Err(StoreError::new("needs a key"))
        }
        async fn load(&self, _: &StoreKey) -> Result<Loaded, StoreError> {
            unreachable!()
        }
        async fn lock(&self, _: &StoreKey, _: &StoreLock, _: Duration) -> Result<bool, StoreError> {
            unreachable!()
        }
        async fn save(
            &self,
            _: &StoreKey,
            _: &StoreLock,
            _: &[u8],
            _: Duration,
            _: Option<&[u8]>,
        ) -> Result<bool, StoreError> {
            unreachable!()
        }
        async fn hold(
            &self,
            _: &StoreKey,
            _: &StoreLock,
            _: Duration,
            _: Option<&str>,
        ) -> Result<(), StoreError> {
            unreachable!()
        }
        async fn remove(&self, _: &StoreKey, _: &[u8]) -> Result<bool, StoreError> {
            unreachable!()
        }
    }
    let options = TokenOptions::client_credentials("https://login.example/token", "id", "s");
    let error = SharedTokenProvider::builder(options)
        .store(Unconfigured)
        .build()
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid token options: token store: needs a key"
    );
}

#[test]
fn store_keys_differ_by_what_makes_tokens_differ_and_never_by_a_secret() {
    let base = || TokenOptions::client_credentials("https://login.example/token", "id", "s1");
    let key = |options: TokenOptions| StoreKey::for_options(&options);
    let same = [
        base(),
        TokenOptions::client_credentials("https://login.example/token", "id", "s2"),
        base().request_timeout(Duration::from_secs(3)),
    ];
    let same = same.into_iter().chain([base()
        .scope("b a")
        .resource("r2")
        .resource("r1")
        .extra_param("y", "2")
        .extra_param("x", "1")]);
    let reordered = key(base()
        .scope("a  b a")
        .resource("r1")
        .resource("r2")
        .extra_param("x", "1")
        .extra_param("y", "2"));
    assert_eq!(
        key(base()
            .scope("b a")
            .resource("r2")
            .resource("r1")
            .extra_param("y", "2")
            .extra_param("x", "1")),
        reordered,
        "sets in any order"
    );
    for options in same.take(3) {
        assert_eq!(
            key(options),
            key(base()),
            "secrets and timeouts are not in the key"
        );
    }
    let different = [
        TokenOptions::client_credentials("https://login.example/token2", "id", "s1"),
        TokenOptions::client_credentials("https://login.example/token", "id2", "s1"),
        base().scope("a"),
        base().audience("a"),
        base().resource("a"),
        base().extra_param("tenant", "a"),
        base().client_auth(token_client_runtime::ClientAuth::RequestBody),
        TokenOptions::password("https://login.example/token", "id", "s1", "alice", "pw"),
    ];
    let mut keys: Vec<StoreKey> = different.into_iter().map(key).collect();
    keys.push(key(base()));
    keys.push(key(TokenOptions::password(
        "https://login.example/token",
        "id",
        "s1",
        "bob",
        "pw",
    )));
    let unique: std::collections::HashSet<_> = keys.iter().collect();
    assert_eq!(
        unique.len(),
        keys.len(),
        "every configuration has its own key"
    );
    let pw = key(TokenOptions::password(
        "https://login.example/token",
        "id",
        "s1",
        "alice",
        "other-password",
    ));
    assert_eq!(pw, keys[7], "the password is not in the key");
    assert!(keys.iter().all(|k| k.as_str().len() == 64));
}

#[tokio::test(flavor = "current_thread")]
async fn a_rejected_token_is_never_adopted_back_from_the_store_even_when_written_again() {
    // Tokens of 2 s: due for refresh after 1 s.
    let (server, requests) = endpoint(2).await;
    let store = Arc::new(MemoryStore::default());
    let provider = provider(&server, &store);
    let t1 = provider.token().await.unwrap();
    assert_eq!(t1.secret(), "t1");

    // A server rejects t1: it leaves the store, and t2 takes its place.
    provider.invalidate(&t1);
    let t2 = provider.token().await.unwrap();
    assert_eq!(t2.secret(), "t2");
    assert_eq!(requests.load(Ordering::SeqCst), 2);

    // A stale instance writes t1 back, valid for long. When t2 is due, its refresh does
    // not adopt t1: the rejection outlives the refresh that followed it.
    let stale = br#"{"access_token":"t1","token_type":"Bearer","lifetime_ms":300000}"#;
    *store.token.lock().unwrap() =
        Some((stale.to_vec(), Instant::now() + Duration::from_secs(300)));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    let next = loop {
        let token = provider.token().await.unwrap();
        if !token.same_as(&t2) {
            break token;
        }
        assert!(Instant::now() < deadline, "t2 was never refreshed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(next.secret(), "t3", "the rejected t1 was not adopted back");
    assert_eq!(requests.load(Ordering::SeqCst), 3);
    let stored = store.token.lock().unwrap().clone().unwrap().0;
    assert!(String::from_utf8(stored).unwrap().contains("\"t3\""));
}

#[tokio::test(flavor = "current_thread")]
async fn a_stored_token_is_trusted_for_its_lifetime_at_most_and_not_adopted_with_less_left_than_a_store_operation()
 {
    let (server, requests) = endpoint(300).await;
    let store = Arc::new(MemoryStore::default());
    // Issued for 30 s, but kept for an hour (not by a provider): adopted for 30 s at most.
    let odd = br#"{"access_token":"old","token_type":"Bearer","lifetime_ms":30000}"#;
    *store.token.lock().unwrap() = Some((odd.to_vec(), Instant::now() + Duration::from_secs(3600)));
    let token = provider(&server, &store).token().await.unwrap();
    assert_eq!(token.secret(), "old");
    assert!(
        token.expires_in() <= Duration::from_secs(30),
        "{:?}",
        token.expires_in()
    );
    assert_eq!(requests.load(Ordering::SeqCst), 0);

    // Outside its refresh window, but with less time left than a store operation may
    // take (200 ms): not adopted.
    let short = br#"{"access_token":"short","token_type":"Bearer","lifetime_ms":250}"#;
    *store.token.lock().unwrap() =
        Some((short.to_vec(), Instant::now() + Duration::from_millis(150)));
    let token = provider(&server, &store).token().await.unwrap();
    assert_eq!(token.secret(), "t1");
    assert_eq!(requests.load(Ordering::SeqCst), 1);
}
