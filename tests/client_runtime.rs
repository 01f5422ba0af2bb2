//! What the runtime does for a generated client, driven through real `#[token_client]`
//! traits against a local server (wiremock): base URL joining, path and query encoding,
//! header precedence, the token and the 401 retry, decoders, the builder. What
//! `client_e2e.rs` already shows (every verb and body kind, the one-retry-on-401) is
//! not repeated here.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use token_client::reqwest::StatusCode;
use token_client::reqwest::header::{HeaderMap, HeaderValue};
use token_client::{
    ApiResponse, BuildError, ClientBuilder, Error, SharedTokenProvider, TokenOptions, token_client,
};
use wiremock::matchers::{any, body_bytes, header, method, path};
use wiremock::{Match, Mock, MockServer, Request, ResponseTemplate};

// ---- the API under test ----

#[derive(Debug, PartialEq, Deserialize)]
pub struct Foo {
    pub id: u64,
}

#[derive(Serialize)]
pub struct Filter {
    pub q: &'static str,
    pub limit: Option<u32>,
    pub sort: Option<&'static str>,
}

#[token_client(base_path = "/v1")]
pub trait Foos: Send + Sync {
    #[get("/foos")]
    async fn ping(&self) -> Result<(), Error>;

    #[get("/foos/{id}")]
    #[headers("Accept: application/json")]
    async fn get(
        &self,
        id: &str,
        #[header("X-Tenant")] tenant: Option<&str>,
        page: Option<u32>,
    ) -> Result<Foo, Error>;

    #[get("/foos/{id}")]
    async fn get_response(&self, id: &str) -> Result<ApiResponse<Foo>, Error>;

    #[delete("/foos/{id}")]
    async fn delete(&self, id: &str) -> Result<(), Error>;

    #[put("/files/{**name}")]
    async fn upload(
        &self,
        name: &str,
        #[body(bytes = "application/octet-stream")] data: Vec<u8>,
    ) -> Result<ApiResponse<String>, Error>;

    #[get("/search")]
    async fn search(
        &self,
        page: Option<u32>,
        missing: Option<u32>,
        #[query("tag")] tags: &[&str],
        #[query(flatten)] filter: &Filter,
        name: &str,
    ) -> Result<(), Error>;

    #[get("/nested")]
    async fn nested(&self, nested: Vec<Vec<u32>>) -> Result<(), Error>;

    #[get("/headers")]
    #[headers("X-B: static", "X-C: static")]
    async fn headers(&self, #[header("X-C")] c: &str) -> Result<(), Error>;

    #[get("/body")]
    async fn text(&self) -> Result<String, Error>;

    #[get("/body")]
    async fn bytes(&self) -> Result<bytes::Bytes, Error>;

    #[get("/body")]
    async fn raw(&self) -> Result<token_client::reqwest::Response, Error>;
}

// ---- helpers ----

#[path = "support/tokens.rs"]
mod tokens;
use tokens::Counting;

/// A builder for the server's `/api`, with a counting token source.
fn builder(server: &MockServer) -> (ClientBuilder<FoosClient>, Arc<Counting>) {
    let source = Arc::new(Counting::default());
    let builder = FoosClient::builder()
        .base_url(format!("{}/api", server.uri()))
        .token_provider(SharedTokenProvider::from_source(Arc::clone(&source)));
    (builder, source)
}

fn client(server: &MockServer) -> (FoosClient, Arc<Counting>) {
    let (builder, source) = builder(server);
    (builder.build().unwrap(), source)
}

/// Matches the raw (still encoded) query string exactly.
struct RawQuery(&'static str);

impl Match for RawQuery {
    fn matches(&self, request: &Request) -> bool {
        request.url.query() == Some(self.0)
    }
}

fn ok() -> ResponseTemplate {
    ResponseTemplate::new(200)
}

/// A server that must receive nothing.
async fn expect_nothing() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ok())
        .expect(0)
        .mount(&server)
        .await;
    server
}

/// The message of an `Error::Request`.
fn request_message(error: Error) -> String {
    match error {
        Error::Request(message) => message,
        other => panic!("expected Error::Request, got {other:?}"),
    }
}

/// The `BuildError` a build failed with.
fn build_error(result: Result<FoosClient, Error>) -> BuildError {
    match result {
        Err(Error::Build(error)) => error,
        other => panic!("expected Error::Build, got {other:?}"),
    }
}

// ---- URL: base URL joining, path encoding, query ----

#[tokio::test]
async fn base_url_keeps_its_path_and_joins_with_one_slash() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/foos"))
        .respond_with(ok())
        .expect(2)
        .mount(&server)
        .await;
    for base in ["/api", "/api/"] {
        let foos = FoosClient::builder()
            .base_url(format!("{}{base}", server.uri()))
            .token_provider(SharedTokenProvider::from_source(Counting::default()))
            .build()
            .unwrap();
        foos.ping().await.unwrap();
    }
}

#[tokio::test]
async fn a_dot_or_dot_dot_path_argument_is_refused_and_nothing_is_sent() {
    let server = expect_nothing().await;
    let (foos, source) = client(&server);
    for id in ["..", "."] {
        let message = request_message(foos.get(id, None, None).await.unwrap_err());
        assert!(message.contains(&format!("`{id}`")), "{message}");
    }
    assert_eq!(source.fetches(), 0, "no token fetched either");
}

#[tokio::test]
async fn query_writes_scalars_omits_none_repeats_sequences_and_flattens_structs() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/search"))
        .and(RawQuery(
            "page=2&tag=a&tag=b&q=x+y&sort=name&name=%C3%A9%26%3D",
        ))
        .respond_with(ok())
        .expect(1)
        .mount(&server)
        .await;
    let (foos, _) = client(&server);
    let filter = Filter {
        q: "x y",
        limit: None,
        sort: Some("name"),
    };
    foos.search(Some(2), None, &["a", "b"], &filter, "é&=")
        .await
        .unwrap();
}

#[tokio::test]
async fn a_query_value_serde_cannot_write_is_refused_and_nothing_is_sent() {
    let server = expect_nothing().await;
    let (foos, source) = client(&server);
    let message = request_message(foos.nested(vec![vec![1, 2]]).await.unwrap_err());
    assert!(message.contains("`nested`"), "{message}");
    assert_eq!(source.fetches(), 0);
}

// ---- headers ----

#[tokio::test]
async fn header_precedence_is_default_then_static_then_argument() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/headers"))
        .and(header("x-a", "default"))
        .and(header("x-b", "static"))
        .and(header("x-c", "argument"))
        .respond_with(ok())
        .expect(1)
        .mount(&server)
        .await;
    let mut defaults = HeaderMap::new();
    defaults.insert("x-b", HeaderValue::from_static("default"));
    let (builder, _) = builder(&server);
    let foos = builder
        .default_header("X-A", "default")
        .default_headers(defaults)
        .default_header("X-C", "default")
        .build()
        .unwrap();
    foos.headers("argument").await.unwrap();
    let requests = server.received_requests().await.unwrap();
    for name in ["x-a", "x-b", "x-c"] {
        let count = requests[0].headers.get_all(name).iter().count();
        assert_eq!(count, 1, "one `{name}`, the winner");
    }
}

#[tokio::test]
async fn an_invalid_header_value_is_refused_and_nothing_is_sent() {
    let server = expect_nothing().await;
    let (foos, source) = client(&server);
    let message = request_message(foos.headers("a\nb").await.unwrap_err());
    assert!(message.contains("`X-C`"), "{message}");
    assert_eq!(source.fetches(), 0);
}

// ---- the token and the 401 retry ----

#[tokio::test]
async fn unauthorized_retry_with_token_options_hits_the_token_endpoint_twice() {
    let server = MockServer::start().await;
    let token =
        serde_json::json!({"access_token": "abc", "token_type": "Bearer", "expires_in": 3600});
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ok().set_body_json(token))
        .expect(2)
        .mount(&server)
        .await;
    fails_once_then_succeeds(&server, "Bearer abc", 401).await;
    let options =
        TokenOptions::client_credentials(format!("{}/token", server.uri()), "id", "secret");
    let foos = FoosClient::builder()
        .base_url(format!("{}/api", server.uri()))
        .token_options(options)
        .build()
        .unwrap();
    foos.ping().await.unwrap();
}

#[tokio::test]
async fn without_retry_a_401_still_invalidates_the_token() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/foos"))
        .and(header("authorization", "Bearer t1"))
        .respond_with(ResponseTemplate::new(401))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/foos"))
        .and(header("authorization", "Bearer t2"))
        .respond_with(ResponseTemplate::new(401))
        .expect(1)
        .mount(&server)
        .await;
    let (builder, source) = builder(&server);
    let foos = builder.retry_on_unauthorized(false).build().unwrap();
    let error = foos.ping().await.unwrap_err();
    assert!(
        matches!(&error, Error::Api(api) if api.status == StatusCode::UNAUTHORIZED),
        "{error:?}"
    );
    assert_eq!(source.fetches(), 1, "no retry");
    foos.ping().await.unwrap_err();
    assert_eq!(source.fetches(), 2, "the rejected token was dropped");
}

/// A 503 answered once, then a 200: the call succeeds only if the given client's retry
/// middleware sends it, and every attempt carries the token put on before the middleware.
#[tokio::test]
async fn the_middleware_client_given_sends_the_calls() {
    use reqwest_retry::RetryTransientMiddleware;
    use reqwest_retry::policies::ExponentialBackoff;

    let server = MockServer::start().await;
    fails_once_then_succeeds(&server, "Bearer t1", 503).await;
    let retry = ExponentialBackoff::builder()
        .retry_bounds(Duration::from_millis(1), Duration::from_millis(10))
        .build_with_max_retries(1);
    let http =
        token_client::reqwest_middleware::ClientBuilder::new(token_client::reqwest::Client::new())
            .with(RetryTransientMiddleware::new_with_policy(retry))
            .build();
    let (builder, source) = builder(&server);
    let foos = builder.middleware_client(http).build().unwrap();
    foos.ping().await.unwrap();
    assert_eq!(source.fetches(), 1);
}

#[tokio::test]
async fn the_timeout_applies_to_each_request() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/foos"))
        .respond_with(ok().set_delay(Duration::from_secs(2)))
        .expect(1)
        .mount(&server)
        .await;
    let (builder, _) = builder(&server);
    let foos = builder.timeout(Duration::from_millis(50)).build().unwrap();
    let error = foos.ping().await.unwrap_err();
    assert!(matches!(error, Error::Transport(_)), "{error:?}");
}

// ---- return types ----

#[tokio::test]
async fn decode_errors_keep_the_status_say_what_went_wrong_and_show_an_excerpt() {
    let server = MockServer::start().await;
    let html = format!("<html>{}</html>", "x".repeat(500));
    for (id, body) in [("1", html), ("2", String::new())] {
        Mock::given(method("GET"))
            .and(path(format!("/api/v1/foos/{id}")))
            .respond_with(ok().set_body_string(body))
            .expect(1)
            .mount(&server)
            .await;
    }
    let (foos, _) = client(&server);
    let decode_error = |error: Error| match error {
        Error::Decode(decode) => decode,
        other => panic!("expected Error::Decode, got {other:?}"),
    };
    let html = decode_error(foos.get("1", None, None).await.unwrap_err());
    assert_eq!(html.status, StatusCode::OK);
    assert!(html.message.contains("expected value"), "{}", html.message);
    assert!(html.excerpt.starts_with("<html>xxx"), "{}", html.excerpt);
    assert!(html.excerpt.chars().count() <= 201, "{}", html.excerpt);
    let empty = decode_error(foos.get("2", None, None).await.unwrap_err());
    assert!(empty.message.contains("empty"), "{}", empty.message);
}

#[tokio::test]
async fn unit_ignores_the_body_but_not_the_status() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .and(path("/api/v1/foos/1"))
        .respond_with(ok().set_body_string("ignored"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/api/v1/foos/2"))
        .respond_with(ResponseTemplate::new(410))
        .expect(1)
        .mount(&server)
        .await;
    let (foos, _) = client(&server);
    foos.delete("1").await.unwrap();
    let error = foos.delete("2").await.unwrap_err();
    assert!(
        matches!(&error, Error::Api(api) if api.status == StatusCode::GONE),
        "{error:?}"
    );
}

#[tokio::test]
async fn text_and_bytes_return_the_body() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/body"))
        .respond_with(ok().set_body_string("héllo"))
        .expect(2)
        .mount(&server)
        .await;
    let (foos, _) = client(&server);
    assert_eq!(foos.text().await.unwrap(), "héllo");
    assert_eq!(&foos.bytes().await.unwrap()[..], "héllo".as_bytes());
}

#[tokio::test]
async fn a_raw_response_is_returned_with_a_server_error_unchecked() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/body"))
        .respond_with(ResponseTemplate::new(500).set_body_string("boom"))
        .expect(1)
        .mount(&server)
        .await;
    let (foos, _) = client(&server);
    let response = foos.raw().await.unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(response.text().await.unwrap(), "boom");
}

#[tokio::test]
async fn api_response_holds_the_api_error_on_a_failure() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/foos/404"))
        .respond_with(
            ResponseTemplate::new(404)
                .insert_header("x-trace", "t1")
                .set_body_string("missing"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let (foos, _) = client(&server);
    let response = foos.get_response("404").await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(!response.is_success());
    assert_eq!(response.headers()["x-trace"], "t1");
    assert!(matches!(response.body(), Err(Error::Api(api)) if api.body == "missing"));
    let (status, headers, body) = response.into_parts();
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(headers["x-trace"], "t1");
    assert!(matches!(body, Err(Error::Api(api)) if api.status == StatusCode::NOT_FOUND));
}

#[tokio::test]
async fn api_response_holds_the_decoded_body_on_a_success() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/foos/3"))
        .respond_with(ResponseTemplate::new(201).set_body_string(r#"{"id":3}"#))
        .expect(1)
        .mount(&server)
        .await;
    let (foos, _) = client(&server);
    let response = foos.get_response("3").await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert!(response.is_success());
    assert_eq!(response.body().unwrap(), &Foo { id: 3 });
    assert_eq!(response.into_result().unwrap(), Foo { id: 3 });
}

// ---- the trait object ----

/// The generated methods' futures are `Send`: a call through `Arc<dyn Foos>` can be
/// spawned, with a path, an optional header, a query, a rest path and a bytes body.
#[tokio::test]
async fn a_generated_client_works_through_arc_dyn_on_a_spawned_task() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/foos/42"))
        .and(RawQuery("page=3"))
        .and(header("accept", "application/json"))
        .and(header("x-tenant", "acme"))
        .respond_with(ok().set_body_string(r#"{"id":42}"#))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/api/v1/files/a/b.txt"))
        .and(header("content-type", "application/octet-stream"))
        .and(body_bytes(b"data".to_vec()))
        .respond_with(ResponseTemplate::new(202).set_body_string("stored"))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = client(&server);
    let foos: Arc<dyn Foos> = Arc::new(client);
    let task = tokio::spawn({
        let foos = Arc::clone(&foos);
        async move { foos.get("42", Some("acme"), Some(3)).await }
    });
    assert_eq!(task.await.unwrap().unwrap(), Foo { id: 42 });
    let response = foos.upload("a/b.txt", b"data".to_vec()).await.unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(response.into_result().unwrap(), "stored");
}

// ---- the builder ----

#[test]
fn builder_requires_a_base_url() {
    let source = SharedTokenProvider::from_source(Counting::default());
    let error = build_error(FoosClient::builder().token_provider(source).build());
    assert!(matches!(error, BuildError::MissingBaseUrl), "{error:?}");
    assert_eq!(
        error.to_string(),
        "cannot build the client: `base_url` is required"
    );
}

#[test]
fn builder_refuses_a_base_url_that_is_not_absolute_http() {
    for bad in ["ftp://x", "/api", "x.example"] {
        let result = FoosClient::builder()
            .base_url(bad)
            .token_provider(SharedTokenProvider::from_source(Counting::default()))
            .build();
        let error = build_error(result);
        assert!(matches!(error, BuildError::InvalidBaseUrl(_)), "{error:?}");
        let expected = format!(
            "cannot build the client: `base_url` `{bad}` must be an absolute http or https URL"
        );
        assert_eq!(error.to_string(), expected);
    }
}

#[test]
fn builder_refuses_an_invalid_default_header() {
    let result = FoosClient::builder()
        .base_url("https://x.example")
        .token_provider(SharedTokenProvider::from_source(Counting::default()))
        .default_header("X-A", "a\nb")
        .build();
    let error = build_error(result);
    assert!(
        matches!(error, BuildError::InvalidDefaultHeader(_)),
        "{error:?}"
    );
    assert!(error.to_string().contains("`default_header`"), "{error}");
}

#[test]
fn client_debug_shows_the_base_url_and_no_secret() {
    let options = TokenOptions::client_credentials("https://login.example/token", "id", "s3cr3t");
    let foos = FoosClient::builder()
        .base_url("https://x.example/api/")
        .token_options(options)
        .default_header("X-Api-Key", "k3y")
        .build()
        .unwrap();
    let debug = format!("{foos:?}");
    assert!(debug.contains("https://x.example/api"), "{debug}");
    assert!(
        !debug.contains("s3cr3t") && !debug.contains("k3y"),
        "{debug}"
    );
}

/// `GET /api/v1/foos` with `authorization` answers `status` once, then 200; each is
/// expected exactly once.
async fn fails_once_then_succeeds(server: &MockServer, authorization: &str, status: u16) {
    let api = || {
        Mock::given(method("GET"))
            .and(path("/api/v1/foos"))
            .and(header("authorization", authorization))
    };
    api()
        .respond_with(ResponseTemplate::new(status))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(server)
        .await;
    api()
        .respond_with(ok())
        .with_priority(2)
        .expect(1)
        .mount(server)
        .await;
}
