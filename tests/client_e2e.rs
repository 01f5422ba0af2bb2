//! Generated clients end to end against a local server (wiremock): every attribute and
//! return type, exact request shapes, exact call counts.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use token_client::{
    ApiResponse, Error, SharedTokenProvider, TokenError, TokenOptions, async_trait, token_client,
};
use wiremock::matchers::{any, body_bytes, body_json, body_string, header, method, path};
use wiremock::{Match, Mock, MockServer, Request, ResponseTemplate};

// ---- the API under test ----

#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub struct Foo {
    pub id: u64,
    pub name: String,
}

#[derive(Serialize)]
pub struct Filter {
    pub q: String,
    pub archived: Option<bool>,
}

#[token_client(base_path = "/api/v1")]
#[headers("X-Level: trait", "X-From-Trait: yes")]
pub trait Foos: Send + Sync {
    #[get("/foos/{id}")]
    async fn get(&self, id: u64) -> Result<Foo, Error>;

    #[post("/foos")]
    async fn create(&self, #[body] item: &Foo) -> Result<Foo, Error>;

    #[put("/foos/{id}")]
    async fn replace(&self, id: u64, #[body(form)] item: &Foo) -> Result<(), Error>;

    #[patch("/foos/{id}")]
    async fn rename(
        &self,
        id: u64,
        #[body(text = "text/plain; charset=utf-8")] name: String,
    ) -> Result<(), Error>;

    #[delete("/foos/{id}")]
    async fn delete(&self, id: u64) -> Result<(), Error>;

    #[head("/foos/{id}")]
    async fn exists(&self, id: u64) -> Result<reqwest::Response, Error>;

    #[options("/foos")]
    async fn options(&self) -> Result<String, Error>;

    #[post("/blobs")]
    async fn upload(
        &self,
        #[body(bytes = "application/octet-stream")] data: Vec<u8>,
    ) -> Result<bytes::Bytes, Error>;

    #[get("/files/{bucket}/{**key}")]
    async fn file(&self, bucket: &str, key: &str) -> Result<String, Error>;

    #[get("/search")]
    async fn search(
        &self,
        #[query(flatten)] filter: &Filter,
        page: Option<u32>,
        #[query("tag")] tags: &[&str],
        r#type: &str,
    ) -> Result<Vec<Foo>, Error>;

    #[get("/levels")]
    #[headers("X-Level: method")]
    async fn levels(&self, #[header("X-Level")] level: Option<&str>) -> Result<(), Error>;

    #[get("/health")]
    #[no_auth]
    async fn health(&self) -> Result<String, Error>;

    #[get("/foos/{id}")]
    async fn get_response(&self, id: u64) -> Result<ApiResponse<Foo>, Error>;

    #[delete("/tags/{tag}")]
    async fn untag(&self, tag: &str) -> Result<(), Error>;

    #[put("/blobs/{name}")]
    async fn put_slice(
        &self,
        name: &str,
        #[body(bytes = "application/octet-stream")] data: &[u8],
    ) -> Result<(), Error>;

    #[put("/blobs/{name}")]
    #[allow(clippy::ptr_arg)] // a `&Vec<u8>`, as callers holding a `Vec` write it
    async fn put_vec(
        &self,
        name: &str,
        #[body(bytes = "application/octet-stream")] data: &Vec<u8>,
    ) -> Result<(), Error>;

    #[post("/notes")]
    async fn note(
        &self,
        #[body(text = "text/plain; charset=utf-8")] text: &str,
    ) -> Result<(), Error>;
}

// ---- helpers ----

#[path = "support/tokens.rs"]
mod tokens;
use tokens::Counting;

fn client(server: &MockServer) -> (FoosClient, Arc<Counting>) {
    let source = Arc::new(Counting::default());
    let client = FoosClient::builder()
        .base_url(server.uri())
        .token_provider(SharedTokenProvider::from_source(Arc::clone(&source)))
        .build()
        .unwrap();
    (client, source)
}

/// Matches the raw (still encoded) query string exactly.
struct RawQuery(&'static str);

impl Match for RawQuery {
    fn matches(&self, request: &Request) -> bool {
        request.url.query() == Some(self.0)
    }
}

fn seven() -> Foo {
    Foo {
        id: 7,
        name: "seven & co".into(),
    }
}

fn json(value: &impl Serialize) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(value)
}

// ---- verbs, paths, bodies ----

#[tokio::test]
async fn every_verb_sends_its_method_path_and_body() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/foos/7"))
        .and(header("authorization", "Bearer t1"))
        .respond_with(json(&seven()))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/foos"))
        .and(header("content-type", "application/json"))
        .and(body_json(seven()))
        .respond_with(json(&seven()))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/api/v1/foos/7"))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(body_string("id=7&name=seven+%26+co"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path("/api/v1/foos/7"))
        .and(header("content-type", "text/plain; charset=utf-8"))
        .and(body_string("new name"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/api/v1/foos/7"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("HEAD"))
        .and(path("/api/v1/foos/7"))
        .respond_with(ResponseTemplate::new(404))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("OPTIONS"))
        .and(path("/api/v1/foos"))
        .respond_with(ResponseTemplate::new(200).set_body_string("GET, POST"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/blobs"))
        .and(header("content-type", "application/octet-stream"))
        .and(body_string("\u{1}\u{2}"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![9, 8]))
        .expect(1)
        .mount(&server)
        .await;

    let (foos, source) = client(&server);
    assert_eq!(foos.get(7).await.unwrap(), seven());
    assert_eq!(foos.create(&seven()).await.unwrap(), seven());
    foos.replace(7, &seven()).await.unwrap();
    foos.rename(7, "new name".into()).await.unwrap();
    foos.delete(7).await.unwrap();
    assert_eq!(
        foos.exists(7).await.unwrap().status(),
        404,
        "raw response: status not checked"
    );
    assert_eq!(foos.options().await.unwrap(), "GET, POST");
    assert_eq!(&foos.upload(vec![1, 2]).await.unwrap()[..], &[9, 8]);
    assert_eq!(source.fetches(), 1, "one token for every call");
}

#[tokio::test]
async fn path_placeholders_are_one_encoded_segment_and_rest_keeps_slashes() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v1/files/a%2Fb%20c/dir/sub%20dir/f.txt"))
        .respond_with(ResponseTemplate::new(200).set_body_string("content"))
        .expect(1)
        .mount(&server)
        .await;
    let (foos, _) = client(&server);
    assert_eq!(
        foos.file("a/b c", "dir/sub dir/f.txt").await.unwrap(),
        "content"
    );
}

#[tokio::test]
async fn an_empty_path_argument_is_refused_and_nothing_is_sent() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(204))
        .expect(0)
        .mount(&server)
        .await;
    let (foos, source) = client(&server);
    let error = foos.untag("").await.unwrap_err();
    let Error::Request(message) = &error else {
        panic!("{error:?}")
    };
    assert!(message.contains("`{tag}`"), "{message}");
    let error = foos.file("", "key").await.unwrap_err();
    let Error::Request(message) = &error else {
        panic!("{error:?}")
    };
    assert!(message.contains("`{bucket}`"), "{message}");
    assert!(server.received_requests().await.unwrap().is_empty());
    assert_eq!(source.fetches(), 0, "no token fetched either");
}

#[tokio::test]
async fn an_empty_rest_placeholder_addresses_the_root_of_its_subtree() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v1/files/b/"))
        .respond_with(ResponseTemplate::new(200).set_body_string("listing"))
        .expect(1)
        .mount(&server)
        .await;
    let (foos, _) = client(&server);
    assert_eq!(foos.file("b", "").await.unwrap(), "listing");
}

#[tokio::test]
async fn borrowed_bodies_are_sent_byte_for_byte() {
    let server = MockServer::start().await;
    let bytes = [0_u8, 1, 0x7f, 0x80, 0xff];
    for name in ["slice", "vec"] {
        Mock::given(method("PUT"))
            .and(path(format!("/api/v1/blobs/{name}")))
            .and(header("content-type", "application/octet-stream"))
            .and(body_bytes(bytes.to_vec()))
            .respond_with(ResponseTemplate::new(204))
            .expect(1)
            .mount(&server)
            .await;
    }
    Mock::given(method("POST"))
        .and(path("/api/v1/notes"))
        .and(header("content-type", "text/plain; charset=utf-8"))
        .and(body_bytes("naïve ✓".as_bytes()))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let (foos, _) = client(&server);
    foos.put_slice("slice", &bytes[..]).await.unwrap();
    foos.put_vec("vec", &bytes.to_vec()).await.unwrap();
    let text = String::from("naïve ✓");
    foos.note(&text).await.unwrap();
}

#[tokio::test]
async fn query_flattens_structs_repeats_sequences_and_omits_none() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v1/search"))
        .and(RawQuery("q=a+b%26c&page=2&tag=x&tag=y+z&type=big"))
        .respond_with(json(&vec![seven()]))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/api/v1/search"))
        .and(RawQuery("q=only&archived=true&type=small"))
        .respond_with(json(&Vec::<Foo>::new()))
        .expect(1)
        .mount(&server)
        .await;
    let (foos, _) = client(&server);
    let filter = Filter {
        q: "a b&c".into(),
        archived: None,
    };
    assert_eq!(
        foos.search(&filter, Some(2), &["x", "y z"], "big")
            .await
            .unwrap(),
        vec![seven()]
    );
    let filter = Filter {
        q: "only".into(),
        archived: Some(true),
    };
    assert!(
        foos.search(&filter, None, &[], "small")
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn header_argument_overrides_method_which_overrides_trait_and_defaults() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v1/levels"))
        .and(header("x-level", "argument"))
        .and(header("x-from-trait", "yes"))
        .and(header("x-default", "kept"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/api/v1/levels"))
        .and(header("x-level", "method"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let foos = FoosClient::builder()
        .base_url(server.uri())
        .token_provider(SharedTokenProvider::from_source(Counting::default()))
        .default_header("X-Level", "default")
        .default_header("X-Default", "kept")
        .build()
        .unwrap();
    foos.levels(Some("argument")).await.unwrap();
    foos.levels(None).await.unwrap();
    let requests = server.received_requests().await.unwrap();
    assert!(
        requests
            .iter()
            .all(|r| r.headers.get_all("x-level").iter().count() == 1)
    );
}

// ---- authentication ----

#[tokio::test]
async fn no_auth_sends_no_authorization_and_fetches_no_token() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v1/health"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .expect(1)
        .mount(&server)
        .await;
    let (foos, source) = client(&server);
    assert_eq!(foos.health().await.unwrap(), "ok");
    assert_eq!(source.fetches(), 0);
    let requests = server.received_requests().await.unwrap();
    assert!(!requests[0].headers.contains_key("authorization"));
}

#[tokio::test]
async fn a_401_causes_one_refresh_and_one_retry() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v1/foos/7"))
        .and(header("authorization", "Bearer t1"))
        .respond_with(ResponseTemplate::new(401))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/api/v1/foos/7"))
        .and(header("authorization", "Bearer t2"))
        .respond_with(json(&seven()))
        .expect(1)
        .mount(&server)
        .await;
    let (foos, source) = client(&server);
    assert_eq!(foos.get(7).await.unwrap(), seven());
    assert_eq!(source.fetches(), 2);
}

#[tokio::test]
async fn the_replay_after_a_401_carries_the_same_body_and_headers() {
    let server = MockServer::start().await;
    for (bearer, status) in [("Bearer t1", 401), ("Bearer t2", 201)] {
        Mock::given(method("POST"))
            .and(path("/api/v1/foos"))
            .and(header("authorization", bearer))
            .and(header("x-from-trait", "yes"))
            .and(header("content-type", "application/json"))
            .and(body_json(seven()))
            .respond_with(ResponseTemplate::new(status).set_body_json(seven()))
            .expect(1)
            .mount(&server)
            .await;
    }
    let (foos, source) = client(&server);
    assert_eq!(foos.create(&seven()).await.unwrap(), seven());
    assert_eq!(source.fetches(), 2);
}

#[tokio::test]
async fn a_second_401_surfaces_as_an_api_error() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v1/foos/7"))
        .respond_with(ResponseTemplate::new(401).set_body_string("go away"))
        .expect(2)
        .mount(&server)
        .await;
    let (foos, source) = client(&server);
    let error = foos.get(7).await.unwrap_err();
    assert_eq!(error.status().map(|s| s.as_u16()), Some(401));
    let Error::Api(api) = &error else {
        panic!("{error:?}")
    };
    assert_eq!(api.body, "go away");
    assert_eq!(source.fetches(), 2);
}

#[tokio::test]
async fn one_provider_shared_by_two_clients_fetches_one_token() {
    #[token_client(client = BarsApi)]
    pub trait Bars {
        #[get("/bars")]
        async fn list(&self) -> Result<String, Error>;
    }

    let idp = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            r#"{"access_token":"shared","token_type":"Bearer","expires_in":3600}"#,
            "application/json",
        ))
        .expect(1)
        .mount(&idp)
        .await;
    let api = MockServer::start().await;
    Mock::given(header("authorization", "Bearer shared"))
        .respond_with(json(&seven()))
        .expect(4)
        .mount(&api)
        .await;
    let options = TokenOptions::client_credentials(format!("{}/token", idp.uri()), "svc", "secret");
    let provider = SharedTokenProvider::new(options).unwrap();
    let foos = FoosClient::builder()
        .base_url(api.uri())
        .token_provider(provider.clone())
        .build()
        .unwrap();
    let bars = BarsApi::builder()
        .base_url(api.uri())
        .token_provider(provider)
        .build()
        .unwrap();
    let (a, b) = tokio::join!(foos.get(7), bars.list());
    a.unwrap();
    b.unwrap();
    foos.get(7).await.unwrap();
    bars.list().await.unwrap();
}

// ---- return types and errors ----

#[tokio::test]
async fn non_success_json_is_an_api_error_with_status_headers_and_body() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v1/foos/404"))
        .respond_with(
            ResponseTemplate::new(404)
                .insert_header("x-request-id", "r-1")
                .set_body_string("no foo"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let (foos, _) = client(&server);
    let error = foos.get(404).await.unwrap_err();
    let Error::Api(api) = &error else {
        panic!("{error:?}")
    };
    assert_eq!(api.status, 404);
    assert_eq!(api.headers["x-request-id"], "r-1");
    assert_eq!(api.body, "no foo");
    assert!(error.to_string().contains("404"), "{error}");
}

#[tokio::test]
async fn decode_error_keeps_status_and_an_excerpt() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v1/foos/1"))
        .respond_with(
            ResponseTemplate::new(200).set_body_string(format!("<html>{}", "x".repeat(5000))),
        )
        .expect(1)
        .mount(&server)
        .await;
    let (foos, _) = client(&server);
    let error = foos.get(1).await.unwrap_err();
    let Error::Decode(decode) = &error else {
        panic!("{error:?}")
    };
    assert_eq!(decode.status, 200);
    assert!(decode.excerpt.starts_with("<html>xxx"));
    assert!(decode.excerpt.chars().count() <= 201, "a short excerpt");
}

#[tokio::test]
async fn api_response_holds_status_headers_and_body_or_error() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v1/foos/7"))
        .respond_with(json(&seven()).insert_header("etag", "v1"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/api/v1/foos/8"))
        .respond_with(ResponseTemplate::new(404))
        .expect(1)
        .mount(&server)
        .await;
    let (foos, _) = client(&server);
    let found = foos.get_response(7).await.unwrap();
    assert_eq!(found.status(), 200);
    assert_eq!(found.headers()["etag"], "v1");
    assert_eq!(found.body().unwrap(), &seven());
    let missing = foos.get_response(8).await.unwrap();
    assert_eq!(missing.status(), 404);
    assert!(matches!(missing.into_result(), Err(Error::Api(api)) if api.status == 404));
}

#[tokio::test]
async fn types_of_yours_named_response_or_api_response_are_decoded_from_json() {
    #[derive(Debug, PartialEq, Deserialize)]
    pub struct Response {
        pub ok: bool,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    pub struct ApiResponse {
        pub code: u16,
    }

    mod envelope {
        #[derive(Debug, PartialEq, serde::Deserialize)]
        pub struct ApiResponse<T> {
            pub data: T,
        }
    }

    #[token_client]
    pub trait Mine {
        #[get("/response")]
        async fn response(&self) -> Result<Response, Error>;

        #[get("/api-response")]
        async fn api_response(&self) -> Result<ApiResponse, Error>;

        #[get("/envelope")]
        async fn envelope(&self) -> Result<envelope::ApiResponse<Foo>, Error>;
    }

    let server = MockServer::start().await;
    let answers = [
        ("/response", serde_json::json!({ "ok": true })),
        ("/api-response", serde_json::json!({ "code": 7 })),
        ("/envelope", serde_json::json!({ "data": seven() })),
    ];
    for (at, body) in answers {
        Mock::given(path(at))
            .respond_with(json(&body))
            .expect(1)
            .mount(&server)
            .await;
    }
    let mine = MineClient::builder()
        .base_url(server.uri())
        .token_provider(SharedTokenProvider::from_source(Counting::default()))
        .build()
        .unwrap();
    assert_eq!(mine.response().await.unwrap(), Response { ok: true });
    assert_eq!(mine.api_response().await.unwrap(), ApiResponse { code: 7 });
    let wrapped = mine.envelope().await.unwrap();
    assert_eq!(wrapped, envelope::ApiResponse { data: seven() });
}

#[tokio::test]
async fn token_failure_is_an_error_token_and_sends_nothing() {
    let server = MockServer::start().await;
    let options = TokenOptions::client_credentials("http://127.0.0.1:9/token", "svc", "secret");
    let foos = FoosClient::builder()
        .base_url(server.uri())
        .token_options(options)
        .build()
        .unwrap();
    let error = foos.get(7).await.unwrap_err();
    assert!(error.is_token(), "{error:?}");
    assert!(server.received_requests().await.unwrap().is_empty());
}

// ---- builder ----

#[test]
fn builder_says_what_is_missing_or_wrong() {
    let missing_url =
        FoosClient::builder().token_provider(SharedTokenProvider::from_source(Counting::default()));
    let error = missing_url.build().unwrap_err();
    assert!(
        error.to_string().contains("`base_url` is required"),
        "{error}"
    );
    let error = FoosClient::builder()
        .base_url("https://x.example")
        .build()
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("`token_options` or `token_provider`"),
        "{error}"
    );
    let insecure =
        TokenOptions::client_credentials("http://idp.example.com/token", "svc", "secret");
    let error = FoosClient::builder()
        .base_url("https://x.example")
        .token_options(insecure)
        .build()
        .unwrap_err();
    assert!(
        matches!(error, Error::Token(TokenError::InvalidOptions(_))),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_client_whose_methods_all_skip_auth_needs_no_token_configuration() {
    #[token_client]
    pub trait Public {
        #[get("/status")]
        #[no_auth]
        async fn status(&self) -> Result<String, Error>;
    }
    let server = MockServer::start().await;
    Mock::given(path("/status"))
        .respond_with(ResponseTemplate::new(200).set_body_string("up"))
        .expect(1)
        .mount(&server)
        .await;
    let public = PublicClient::builder()
        .base_url(server.uri())
        .build()
        .unwrap();
    assert_eq!(public.status().await.unwrap(), "up");
}

// ---- the trait stays the user's ----

#[tokio::test]
async fn a_mock_implementation_works_through_arc_dyn() {
    struct Mocked;

    #[async_trait]
    impl Bars for Mocked {
        async fn list(&self) -> Result<String, Error> {
            Ok("mocked".into())
        }
    }

    #[token_client]
    pub trait Bars: Send + Sync {
        #[get("/bars")]
        async fn list(&self) -> Result<String, Error>;
    }

    async fn count_bars(bars: Arc<dyn Bars>) -> usize {
        bars.list().await.map(|s| s.len()).unwrap_or(0)
    }

    assert_eq!(count_bars(Arc::new(Mocked)).await, 6);
    let server = MockServer::start().await;
    Mock::given(path("/bars"))
        .respond_with(ResponseTemplate::new(200).set_body_string("real"))
        .expect(1)
        .mount(&server)
        .await;
    let real = BarsClient::builder()
        .base_url(server.uri())
        .token_provider(SharedTokenProvider::from_source(Counting::default()))
        .build()
        .unwrap();
    assert_eq!(count_bars(Arc::new(real)).await, 4);
}
