//! Where a generated client's credentials may go, and where they may not: the API's
//! default headers stay off the token endpoint, the token never crosses plain http to a
//! remote host without an opt-in, and no error shows a URL's query.

use serde::Deserialize;
use token_client::{Error, TokenOptions, token_client};
use wiremock::matchers::{header_exists, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[derive(Debug, Deserialize)]
pub struct Item {
    pub id: u64,
}

#[token_client]
pub trait Items {
    #[get("/items/{id}")]
    async fn get(&self, id: u64, api_key: &str) -> Result<Item, Error>;
}

/// A client whose every method is `#[no_auth]`: it sends no token.
#[token_client]
pub trait Public {
    #[get("/status")]
    #[no_auth]
    async fn status(&self) -> Result<String, Error>;
}

fn token(access_token: &str) -> ResponseTemplate {
    let body =
        format!(r#"{{"access_token":"{access_token}","token_type":"Bearer","expires_in":3600}}"#);
    ResponseTemplate::new(200).set_body_raw(body, "application/json")
}

/// An API key set as a default header on the `reqwest::Client` given for the API goes to
/// the API, never to the token endpoint.
#[tokio::test]
async fn an_apis_default_headers_never_reach_the_token_endpoint() {
    let idp = MockServer::start().await;
    Mock::given(header_exists("x-api-key"))
        .respond_with(ResponseTemplate::new(400))
        .expect(0)
        .named("token request carrying the API's key")
        .mount(&idp)
        .await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(token("t1"))
        .expect(1)
        .mount(&idp)
        .await;
    let api = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/items/7"))
        .and(header_exists("x-api-key"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(r#"{"id":7}"#, "application/json"))
        .expect(1)
        .mount(&api)
        .await;
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-api-key", "api-k3y".parse().unwrap());
    let http = reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap();
    let options = TokenOptions::client_credentials(format!("{}/token", idp.uri()), "svc", "s");
    let items = ItemsClient::builder()
        .base_url(api.uri())
        .http_client(http)
        .token_options(options)
        .build()
        .unwrap();
    assert_eq!(items.get(7, "k").await.unwrap().id, 7);
}

/// Every call carries the bearer token: a plain-http base URL to a remote host is refused
/// unless the user opts in, as for the token endpoint; loopback and `#[no_auth]`-only
/// clients need no opt-in.
#[test]
fn a_plain_http_base_url_to_a_remote_host_is_refused_unless_opted_in() {
    let options = || TokenOptions::client_credentials("https://idp.example/token", "svc", "s");
    let error = ItemsClient::builder()
        .base_url("http://api.example.com")
        .token_options(options())
        .build()
        .unwrap_err();
    assert!(matches!(error, Error::Build(_)), "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains("base_url") && message.contains("allow_insecure_http(true)"),
        "{message}"
    );
    let opted_in = ItemsClient::builder()
        .base_url("http://api.example.com")
        .token_options(options())
        .allow_insecure_http(true)
        .build();
    assert!(opted_in.is_ok());
    for local in [
        "http://127.0.0.1:8080",
        "http://localhost/api",
        "http://[::1]:1",
    ] {
        let client = ItemsClient::builder()
            .base_url(local)
            .token_options(options())
            .build();
        assert!(client.is_ok(), "{local}");
    }
    assert!(
        PublicClient::builder()
            .base_url("http://api.example.com")
            .build()
            .is_ok()
    );
}

/// A request that cannot be sent shows its URL in the error, but not the query, where
/// API keys and signatures travel.
#[tokio::test]
async fn a_transport_error_does_not_show_the_query() {
    let idp = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(token("t1"))
        .mount(&idp)
        .await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    drop(listener);
    let options = TokenOptions::client_credentials(format!("{}/token", idp.uri()), "svc", "s");
    let items = ItemsClient::builder()
        .base_url(closed)
        .token_options(options)
        .build()
        .unwrap();
    let error = items.get(7, "qu3ry-s3cret").await.unwrap_err();
    assert!(error.is_transport(), "{error:?}");
    let text = format!("{error} {error:?}");
    assert!(text.contains("/items/7"), "the URL is still named: {text}");
    assert!(!text.contains("qu3ry-s3cret"), "{text}");
}

/// An API that echoes the token it refused ("invalid token eyJ...") does not put it in
/// an error: the body is kept, the token cut out; so for the token of the retry after a
/// 401.
#[tokio::test]
async fn an_error_page_echoing_the_token_does_not_carry_it_into_the_error() {
    let idp = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(token("acc-3x9-first"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&idp)
        .await;
    Mock::given(method("POST"))
        .respond_with(token("acc-7q2-second"))
        .expect(1)
        .mount(&idp)
        .await;
    let api = MockServer::start().await;
    let echo = |request: &wiremock::Request| {
        let header = request
            .headers
            .get("authorization")
            .unwrap()
            .to_str()
            .unwrap();
        let status = if request.url.path() == "/items/1" {
            403
        } else {
            401
        };
        ResponseTemplate::new(status).set_body_string(format!("rejected: {header}\nbye"))
    };
    Mock::given(method("GET"))
        .respond_with(echo)
        .expect(3)
        .mount(&api)
        .await;
    let options = TokenOptions::client_credentials(format!("{}/token", idp.uri()), "svc", "s");
    let items = ItemsClient::builder()
        .base_url(api.uri())
        .token_options(options)
        .build()
        .unwrap();
    // 403 with the first token; then 401, a fresh token, and 401 again.
    for id in [1, 2] {
        let Error::Api(api_error) = items.get(id, "k").await.unwrap_err() else {
            panic!("an API error")
        };
        assert_eq!(
            api_error.body.lines().nth(1),
            Some("bye"),
            "the body is kept"
        );
        let text = format!("{api_error} {api_error:?} {}", api_error.body);
        assert!(text.contains("rejected: Bearer <redacted>"), "{text}");
        assert!(!text.contains("acc-"), "{text}");
    }
}
