//! One `SharedTokenProvider` serving several `TokenScope`s: one cached token and one
//! single flight per scope, the token requests each scope makes, and the middleware picking
//! the scope from a request extension.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::poll_once;
use token_client_runtime::{
    AccessToken, Loaded, SharedTokenProvider, StoreError, StoreKey, StoreLock, TokenError,
    TokenFuture, TokenMiddleware, TokenOptions, TokenProvider, TokenScope, TokenSource, TokenStore,
};
use tokio::time::Instant;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// What one token request asked for: its `scope` and its `resource`s, in order.
#[derive(Clone, Debug, PartialEq)]
struct Asked {
    scope: Option<String>,
    resources: Vec<String>,
}

impl Asked {
    fn of(request: &Request) -> Self {
        let mut asked = Asked {
            scope: None,
            resources: Vec::new(),
        };
        for (name, value) in form_urlencoded::parse(&request.body) {
            match &*name {
                "scope" => asked.scope = Some(value.into_owned()),
                "resource" => asked.resources.push(value.into_owned()),
                _ => {}
            }
        }
        asked
    }

    fn new(scope: &str, resources: &[&str]) -> Self {
        Self {
            scope: Some(scope.to_owned()),
            resources: resources.iter().map(|r| (*r).to_owned()).collect(),
        }
    }
}

/// A token endpoint at `/token` that issues `tok<n>|<scope>|<resources, comma-separated>`
/// (n: the number of the request) after `delay`, and refuses the scope `bad` with
/// `invalid_scope`. Records what each request asked for.
struct Endpoint {
    server: MockServer,
    asked: Arc<Mutex<Vec<Asked>>>,
}

impl Endpoint {
    async fn start(delay: Duration) -> Self {
        let server = MockServer::start().await;
        let asked = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&asked);
        Mock::given(method("POST"))
            .and(path("/token"))
            .respond_with(move |request: &Request| {
                let this = Asked::of(request);
                let n = {
                    let mut log = log.lock().unwrap();
                    log.push(this.clone());
                    log.len()
                };
                let scope = this.scope.unwrap_or_default();
                if scope == "bad" {
                    return ResponseTemplate::new(400)
                        .set_body_raw(r#"{"error":"invalid_scope"}"#, "application/json");
                }
                let token = format!("tok{n}|{scope}|{}", this.resources.join(","));
                let body = serde_json::json!({
                    "access_token": token,
                    "token_type": "Bearer",
                    "expires_in": 300,
                });
                ResponseTemplate::new(200)
                    .set_body_json(body)
                    .set_delay(delay)
            })
            .mount(&server)
            .await;
        Self { server, asked }
    }

    fn options(&self) -> TokenOptions {
        let url = format!("{}/token", self.server.uri());
        TokenOptions::client_credentials(url, "id", "secret")
            .scope("default.read")
            .resource("https://default.example")
    }

    fn provider(&self) -> SharedTokenProvider {
        SharedTokenProvider::new(self.options()).unwrap()
    }

    fn asked(&self) -> Vec<Asked> {
        self.asked.lock().unwrap().clone()
    }

    fn count(&self) -> usize {
        self.asked.lock().unwrap().len()
    }
}

/// The `scope|resources` part of a token of the endpoint (what it was issued for).
fn issued_for(token: &AccessToken) -> &str {
    token.secret().split_once('|').expect("an endpoint token").1
}

fn orders_read() -> TokenScope {
    TokenScope::new().scope("orders.read")
}

fn orders_write() -> TokenScope {
    TokenScope::new()
        .scope("orders.write")
        .resource("https://orders.example")
}

fn two_resources() -> TokenScope {
    TokenScope::new()
        .resource("https://a.example")
        .resource("https://b.example")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_scopes_times_a_hundred_concurrent_callers_make_three_token_requests() {
    let endpoint = Endpoint::start(Duration::from_millis(300)).await;
    let provider = endpoint.provider();
    let scopes = [
        (orders_read(), "orders.read|https://default.example"),
        (orders_write(), "orders.write|https://orders.example"),
        (
            two_resources(),
            "default.read|https://a.example,https://b.example",
        ),
    ];

    let mut callers = Vec::new();
    for _ in 0..100 {
        for (scope, expected) in &scopes {
            let (provider, scope) = (provider.clone(), scope.clone());
            let expected = *expected;
            callers.push(tokio::spawn(async move {
                let token = provider.token_for(&scope).await.unwrap();
                assert_eq!(issued_for(&token), expected);
                token
            }));
        }
    }
    let mut tokens = Vec::new();
    for caller in callers {
        tokens.push(caller.await.unwrap().secret().to_owned());
    }

    let mut asked = endpoint.asked();
    assert_eq!(asked.len(), 3, "one token request per scope: {asked:?}");
    asked.sort_by(|a, b| a.scope.cmp(&b.scope));
    assert_eq!(
        asked,
        [
            Asked::new("default.read", &["https://a.example", "https://b.example"]),
            Asked::new("orders.read", &["https://default.example"]),
            Asked::new("orders.write", &["https://orders.example"]),
        ]
    );
    tokens.sort();
    tokens.dedup();
    assert_eq!(
        tokens.len(),
        3,
        "every caller of a scope got the same token"
    );

    // The default token is a flight of its own, with the options' scope and resource.
    let default = provider.token().await.unwrap();
    assert_eq!(issued_for(&default), "default.read|https://default.example");
    let same = provider.token_for(&TokenScope::new()).await.unwrap();
    assert_eq!(
        same.secret(),
        default.secret(),
        "token_for(default) is token()"
    );
    assert_eq!(endpoint.count(), 4);
    assert!(format!("{provider:?}").contains("scoped_tokens: 3"));
}

#[tokio::test]
async fn a_valid_scoped_token_is_handed_out_on_the_first_poll_without_a_request() {
    let endpoint = Endpoint::start(Duration::ZERO).await;
    let provider = endpoint.provider();
    let first = provider.token_for(&orders_read()).await.unwrap();
    for _ in 0..100 {
        // An equal scope built anew finds the same flight.
        let token = poll_once(provider.token_for(&orders_read())).expect("no wait");
        assert_eq!(token.unwrap().secret(), first.secret());
    }
    assert_eq!(endpoint.count(), 1);
}

#[tokio::test]
async fn invalidating_one_scope_refreshes_that_scope_only() {
    let endpoint = Endpoint::start(Duration::ZERO).await;
    let provider = endpoint.provider();
    let read = provider.token_for(&orders_read()).await.unwrap();
    let write = provider.token_for(&orders_write()).await.unwrap();
    let default = provider.token().await.unwrap();
    assert_eq!(endpoint.count(), 3);

    provider.invalidate_for(&orders_read(), &read);
    // Invalidating a token of another scope, or one a scope does not hold, does nothing.
    provider.invalidate_for(&orders_write(), &read);
    provider.invalidate_for(&two_resources(), &read);

    let fresh = provider.token_for(&orders_read()).await.unwrap();
    assert_ne!(fresh.secret(), read.secret());
    assert_eq!(issued_for(&fresh), "orders.read|https://default.example");
    let write_again = provider.token_for(&orders_write()).await.unwrap();
    assert_eq!(write_again.secret(), write.secret());
    assert_eq!(provider.token().await.unwrap().secret(), default.secret());
    assert_eq!(
        endpoint.count(),
        4,
        "one more request, for the invalidated scope"
    );

    // `invalidate_for` with the default scope is `invalidate`.
    provider.invalidate_for(&TokenScope::new(), &default);
    assert_ne!(provider.token().await.unwrap().secret(), default.secret());
    assert_eq!(
        provider.token_for(&orders_read()).await.unwrap().secret(),
        fresh.secret()
    );
    assert_eq!(endpoint.count(), 5);
}

#[tokio::test]
async fn a_failing_scope_does_not_affect_the_others() {
    let endpoint = Endpoint::start(Duration::ZERO).await;
    let provider = endpoint.provider();
    let bad = TokenScope::new().scope("bad");

    let error = provider.token_for(&bad).await.unwrap_err();
    assert_eq!(error.oauth_error(), Some("invalid_scope"));
    let read = provider.token_for(&orders_read()).await.unwrap();
    assert_eq!(issued_for(&read), "orders.read|https://default.example");
    provider.token().await.unwrap();
    assert_eq!(endpoint.count(), 3);

    // The failing scope is in its own cool-down: it fails at once, without a request,
    // while the others keep being served.
    let again = provider.token_for(&bad).await.unwrap_err();
    assert_eq!(again.oauth_error(), Some("invalid_scope"));
    assert_eq!(endpoint.count(), 3);
}

// ---------------------------------------------------------------------------------------
// Custom sources and providers

/// A source issuing `<label>-<n>`, whose `for_scope` (when `scopes`) returns a source
/// labelled with the scope. Counts fetches and `for_scope` calls over all its offspring.
struct Labelled {
    label: String,
    scopes: bool,
    fetches: Arc<AtomicUsize>,
    made: Arc<AtomicUsize>,
}

impl Labelled {
    fn new(scopes: bool) -> Self {
        Self {
            label: "default".to_owned(),
            scopes,
            fetches: Arc::default(),
            made: Arc::default(),
        }
    }
}

#[async_trait::async_trait]
impl TokenSource for Labelled {
    async fn fetch(&self) -> Result<AccessToken, TokenError> {
        let n = self.fetches.fetch_add(1, Ordering::SeqCst) + 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
        let token = format!("{}-{n}", self.label);
        Ok(AccessToken::new(
            token,
            Instant::now() + Duration::from_secs(300),
        ))
    }

    fn for_scope(&self, scope: &TokenScope) -> Option<Box<dyn TokenSource>> {
        if !self.scopes {
            return None;
        }
        self.made.fetch_add(1, Ordering::SeqCst);
        Some(Box::new(Labelled {
            label: scope.scope_value().unwrap_or("none").to_owned(),
            scopes: false,
            fetches: Arc::clone(&self.fetches),
            made: Arc::clone(&self.made),
        }))
    }
}

#[tokio::test]
async fn a_source_without_for_scope_serves_the_default_scope_only() {
    let source = Labelled::new(false);
    let fetches = Arc::clone(&source.fetches);
    let provider = SharedTokenProvider::from_source(source);

    let error = provider.token_for(&orders_read()).await.unwrap_err();
    assert!(matches!(error, TokenError::ScopeNotSupported), "{error:?}");
    assert!(error.to_string().contains("for_scope"), "{error}");
    let token = provider.token_for(&TokenScope::new()).await.unwrap();
    assert_eq!(token.secret(), "default-1");
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
    assert!(format!("{provider:?}").contains("scoped_tokens: 0"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_source_with_for_scope_gets_one_flight_per_scope() {
    let source = Labelled::new(true);
    let (fetches, made) = (Arc::clone(&source.fetches), Arc::clone(&source.made));
    let provider = SharedTokenProvider::from_source(source);
    // A future never polled makes nothing.
    drop(provider.token_for(&TokenScope::new().scope("even")));
    assert!(format!("{provider:?}").contains("scoped_tokens: 0"));
    assert_eq!(made.load(Ordering::SeqCst), 0);

    let callers: Vec<_> = (0..200)
        .map(|i| {
            let provider = provider.clone();
            let scope = TokenScope::new().scope(if i % 2 == 0 { "even" } else { "odd" });
            tokio::spawn(async move { provider.token_for(&scope).await })
        })
        .collect();
    for (i, caller) in callers.into_iter().enumerate() {
        let token = caller.await.unwrap().unwrap();
        let label = if i % 2 == 0 { "even" } else { "odd" };
        assert!(token.secret().starts_with(label), "{}", token.secret());
    }
    assert_eq!(fetches.load(Ordering::SeqCst), 2, "one fetch per scope");
    // Callers racing on a new scope may each make a source; one flight is kept.
    assert!(made.load(Ordering::SeqCst) >= 2);
}

#[tokio::test]
async fn a_provider_serves_at_most_1024_scopes() {
    let source = Labelled::new(true);
    let fetches = Arc::clone(&source.fetches);
    let provider = SharedTokenProvider::from_source(source);
    let scope = |i: usize| TokenScope::new().scope(format!("s{i}"));
    for i in 0..1024 {
        // The first poll makes the scope's flight, which starts a fetch.
        assert!(poll_once(provider.token_for(&scope(i))).is_none());
    }

    let error = poll_once(provider.token_for(&scope(1024)))
        .expect("fails at once")
        .unwrap_err();
    assert!(
        matches!(error, TokenError::TooManyScopes { limit: 1024 }),
        "{error:?}"
    );
    assert!(error.to_string().contains("1024"), "{error}");
    // The scopes already served still are, and so is the default one.
    let token = provider.token_for(&scope(7)).await.unwrap();
    assert!(token.secret().starts_with("s7-"), "{}", token.secret());
    let token = provider.token().await.unwrap();
    assert!(token.secret().starts_with("default-"), "{}", token.secret());
    assert_eq!(fetches.load(Ordering::SeqCst), 1025);
    assert!(format!("{provider:?}").contains("scoped_tokens: 1024"));
}

/// A provider of one fixed token, implementing only `token` and `invalidate`.
struct Fixed(AccessToken);

impl TokenProvider for Fixed {
    fn token(&self) -> TokenFuture<'_> {
        TokenFuture::ready(Ok(self.0.clone()))
    }

    fn invalidate(&self, _: &AccessToken) {}
}

#[tokio::test]
async fn a_provider_with_one_kind_of_token_refuses_other_scopes() {
    let token = AccessToken::new("fixed", Instant::now() + Duration::from_secs(300));
    let provider: Arc<dyn TokenProvider> = Arc::new(Fixed(token));
    let default = provider.token_for(&TokenScope::new()).await.unwrap();
    assert_eq!(default.secret(), "fixed");
    let error = provider.token_for(&orders_read()).await.unwrap_err();
    assert!(matches!(error, TokenError::ScopeNotSupported), "{error:?}");
    provider.invalidate_for(&orders_read(), &default);
}

// ---------------------------------------------------------------------------------------
// The middleware

fn middleware_client(provider: SharedTokenProvider) -> reqwest_middleware::ClientWithMiddleware {
    reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(TokenMiddleware::new(provider))
        .build()
}

/// The bearer token each request to `/api` carried, in order.
async fn api_bearers(server: &MockServer) -> Vec<String> {
    let requests = server.received_requests().await.unwrap();
    requests
        .iter()
        .filter(|request| request.url.path() == "/api")
        .map(|request| {
            let value = request.headers.get("authorization").unwrap();
            let value = value.to_str().unwrap();
            value.strip_prefix("Bearer ").unwrap().to_owned()
        })
        .collect()
}

fn bearer_for(bearer: &str) -> &str {
    bearer.split_once('|').unwrap().1
}

/// `GET /api` answers `status`: `times` times at most (always if `None`), ahead of the
/// other answers when it has a `priority`.
async fn answer_api(server: &MockServer, status: u16, times: Option<u64>, priority: Option<u8>) {
    let mut mock = Mock::given(method("GET"))
        .and(path("/api"))
        .respond_with(ResponseTemplate::new(status));
    if let Some(times) = times {
        mock = mock.up_to_n_times(times);
    }
    if let Some(priority) = priority {
        mock = mock.with_priority(priority);
    }
    mock.mount(server).await;
}

#[tokio::test]
async fn the_middleware_sends_the_token_of_the_scope_in_the_request_extensions() {
    let endpoint = Endpoint::start(Duration::ZERO).await;
    Mock::given(method("GET"))
        .and(path("/api"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&endpoint.server)
        .await;
    let client = middleware_client(endpoint.provider());
    let url = format!("{}/api", endpoint.server.uri());

    let scoped = client.get(&url).with_extension(orders_write());
    assert_eq!(scoped.send().await.unwrap().status(), 200);
    assert_eq!(client.get(&url).send().await.unwrap().status(), 200);
    let default_scope = client.get(&url).with_extension(TokenScope::new());
    assert_eq!(default_scope.send().await.unwrap().status(), 200);

    let bearers = api_bearers(&endpoint.server).await;
    let sent: Vec<_> = bearers.iter().map(|b| bearer_for(b)).collect();
    assert_eq!(
        sent,
        [
            "orders.write|https://orders.example",
            "default.read|https://default.example",
            "default.read|https://default.example",
        ]
    );
    assert_eq!(endpoint.count(), 2);
}

#[tokio::test]
async fn the_middleware_retries_a_401_with_a_fresh_token_of_the_same_scope() {
    let endpoint = Endpoint::start(Duration::ZERO).await;
    let client = middleware_client(endpoint.provider());
    let url = format!("{}/api", endpoint.server.uri());
    // The default token first: `tok1`.
    answer_api(&endpoint.server, 200, Some(1), None).await;
    assert_eq!(client.get(&url).send().await.unwrap().status(), 200);
    // Then the scope's first token (`tok2`) is rejected once.
    answer_api(&endpoint.server, 401, Some(1), Some(1)).await;
    answer_api(&endpoint.server, 200, None, None).await;

    let response = client
        .get(&url)
        .with_extension(orders_read())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(client.get(&url).send().await.unwrap().status(), 200);

    let bearers = api_bearers(&endpoint.server).await;
    assert_eq!(
        bearers,
        [
            "tok1|default.read|https://default.example",
            "tok2|orders.read|https://default.example",
            "tok3|orders.read|https://default.example",
            "tok1|default.read|https://default.example",
        ],
        "the replay carried a fresh token of the scope; the default token was kept"
    );
    assert_eq!(endpoint.count(), 3);
}

// ---------------------------------------------------------------------------------------
// The core of generated clients

/// What `#[token_client]` generates, by hand: a client over a `ClientCore`.
struct Api(token_client_runtime::__private::ClientCore);

impl token_client_runtime::__private::FromCore for Api {
    fn from_core(core: token_client_runtime::__private::ClientCore) -> Self {
        Self(core)
    }
}

impl Api {
    /// `GET /api`, with the token of `scope` when given (what `#[scope]` generates).
    async fn get(&self, scope: Option<&TokenScope>) -> u16 {
        let mut spec = self.0.request(reqwest::Method::GET, "/api");
        if let Some(scope) = scope {
            spec.token_scope(scope);
        }
        self.0.send(&mut spec).await.unwrap().status().as_u16()
    }
}

#[tokio::test]
async fn a_call_with_a_token_scope_sends_and_renews_that_scope_s_token() {
    let endpoint = Endpoint::start(Duration::ZERO).await;
    let api: Api = token_client_runtime::ClientBuilder::new()
        .base_url(endpoint.server.uri())
        .token_provider(endpoint.provider())
        .allow_insecure_http(true)
        .build()
        .unwrap();
    answer_api(&endpoint.server, 200, Some(1), None).await;
    assert_eq!(api.get(None).await, 200);
    answer_api(&endpoint.server, 401, Some(1), Some(1)).await;
    answer_api(&endpoint.server, 200, None, None).await;

    assert_eq!(api.get(Some(&orders_write())).await, 200);
    assert_eq!(api.get(Some(&orders_write())).await, 200);
    assert_eq!(api.get(None).await, 200);

    assert_eq!(
        api_bearers(&endpoint.server).await,
        [
            "tok1|default.read|https://default.example",
            "tok2|orders.write|https://orders.example",
            "tok3|orders.write|https://orders.example",
            "tok3|orders.write|https://orders.example",
            "tok1|default.read|https://default.example",
        ],
        "the 401 renewed the scope's token only, and the replay carried it"
    );
    assert_eq!(endpoint.count(), 3);
}

// ---------------------------------------------------------------------------------------
// A store shared by a fleet

/// A store that records the key of every load, then answers that it is down: the provider
/// then fetches on its own (a store never fails a call).
#[derive(Default)]
struct KeyRecorder(Mutex<Vec<StoreKey>>);

impl KeyRecorder {
    fn keys(&self) -> Vec<String> {
        let keys = self.0.lock().unwrap();
        keys.iter().map(|key| key.as_str().to_owned()).collect()
    }
}

fn down() -> StoreError {
    StoreError::new("down")
}

#[async_trait::async_trait]
impl TokenStore for KeyRecorder {
    async fn load(&self, key: &StoreKey) -> Result<Loaded, StoreError> {
        self.0.lock().unwrap().push(key.clone());
        Err(down())
    }

    async fn lock(&self, _: &StoreKey, _: &StoreLock, _: Duration) -> Result<bool, StoreError> {
        Err(down())
    }

    async fn save(
        &self,
        _: &StoreKey,
        _: &StoreLock,
        _: &[u8],
        _: Duration,
        _: Option<&[u8]>,
    ) -> Result<bool, StoreError> {
        Err(down())
    }

    async fn hold(
        &self,
        _: &StoreKey,
        _: &StoreLock,
        _: Duration,
        _: Option<&str>,
    ) -> Result<(), StoreError> {
        Err(down())
    }

    async fn remove(&self, _: &StoreKey, _: &[u8]) -> Result<bool, StoreError> {
        Err(down())
    }
}

#[tokio::test]
async fn with_a_store_each_scope_shares_its_token_under_a_key_of_its_own() {
    let endpoint = Endpoint::start(Duration::ZERO).await;
    let store = Arc::new(KeyRecorder::default());
    let provider = SharedTokenProvider::builder(endpoint.options())
        .store(Arc::clone(&store))
        .build()
        .unwrap();

    provider.token().await.unwrap();
    provider.token_for(&orders_read()).await.unwrap();
    provider.token_for(&two_resources()).await.unwrap();

    // The key a provider built from the scope's own options would use: instances whose
    // options already ask for that scope share the token with this one.
    let key = |options: TokenOptions| StoreKey::for_options(&options).as_str().to_owned();
    let url = format!("{}/token", endpoint.server.uri());
    let options = || TokenOptions::client_credentials(&url, "id", "secret");
    let expected = [
        key(endpoint.options()),
        key(options()
            .scope("orders.read")
            .resource("https://default.example")),
        key(options()
            .scope("default.read")
            .resource("https://a.example")
            .resource("https://b.example")),
    ];
    assert_eq!(store.keys(), expected);
    let mut distinct = store.keys();
    distinct.dedup();
    assert_eq!(distinct.len(), 3);
    assert_eq!(endpoint.count(), 3);
}
