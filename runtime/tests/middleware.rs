//! `TokenMiddleware` on a plain `reqwest_middleware` client against a local API.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::ScriptedSource;
use token_client_runtime::{SharedTokenProvider, TokenError, TokenMiddleware};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn source() -> Arc<ScriptedSource> {
    Arc::new(ScriptedSource::new(
        Duration::from_secs(300),
        Duration::ZERO,
    ))
}

fn client(source: &Arc<ScriptedSource>, retry: bool) -> reqwest_middleware::ClientWithMiddleware {
    let provider = SharedTokenProvider::from_source(Arc::clone(source));
    let middleware = TokenMiddleware::new(provider).retry_on_unauthorized(retry);
    reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(middleware)
        .build()
}

async fn mount(server: &MockServer, bearer: &str, status: u16, times: u64) {
    Mock::given(method("GET"))
        .and(path("/foos"))
        .and(header("authorization", format!("Bearer {bearer}").as_str()))
        .respond_with(ResponseTemplate::new(status))
        .expect(times)
        .mount(server)
        .await;
}

#[tokio::test]
async fn adds_the_bearer_token() {
    let server = MockServer::start().await;
    mount(&server, "t1", 200, 2).await;
    let source = source();
    let client = client(&source, true);
    for _ in 0..2 {
        let response = client
            .get(format!("{}/foos", server.uri()))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    assert_eq!(source.count(), 1);
}

#[tokio::test]
async fn keeps_an_existing_authorization_header() {
    let server = MockServer::start().await;
    mount(&server, "mine", 200, 1).await;
    let source = source();
    let response = client(&source, true)
        .get(format!("{}/foos", server.uri()))
        .bearer_auth("mine")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(source.count(), 0, "no token fetched");
}

#[tokio::test]
async fn on_401_invalidates_once_and_retries_once() {
    let server = MockServer::start().await;
    mount(&server, "t1", 401, 1).await;
    mount(&server, "t2", 200, 1).await;
    let source = source();
    let response = client(&source, true)
        .get(format!("{}/foos", server.uri()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(source.count(), 2, "one refresh after the 401");
}

#[tokio::test]
async fn a_second_401_is_returned_as_is() {
    let server = MockServer::start().await;
    mount(&server, "t1", 401, 1).await;
    mount(&server, "t2", 401, 1).await;
    let source = source();
    let response = client(&source, true)
        .get(format!("{}/foos", server.uri()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(source.count(), 2);
}

#[tokio::test]
async fn retry_can_be_switched_off_but_the_token_is_still_invalidated() {
    let server = MockServer::start().await;
    mount(&server, "t1", 401, 1).await;
    mount(&server, "t2", 200, 1).await;
    let source = source();
    let client = client(&source, false);
    let url = format!("{}/foos", server.uri());
    assert_eq!(client.get(&url).send().await.unwrap().status(), 401);
    assert_eq!(client.get(&url).send().await.unwrap().status(), 200);
    assert_eq!(source.count(), 2);
}

#[tokio::test]
async fn a_streaming_body_is_not_replayed() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(header("authorization", "Bearer t1"))
        .respond_with(ResponseTemplate::new(401))
        .expect(1)
        .mount(&server)
        .await;
    let source = source();
    let chunks: Vec<Result<&'static str, std::io::Error>> = vec![Ok("streamed")];
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let response = client(&source, true)
        .post(format!("{}/foos", server.uri()))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        1,
        "not replayed"
    );
}

#[tokio::test]
async fn token_failure_is_a_middleware_error_holding_the_token_error() {
    let provider =
        SharedTokenProvider::new(token_client_runtime::TokenOptions::client_credentials(
            "http://127.0.0.1:9/token",
            "svc",
            "secret",
        ))
        .unwrap();
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(TokenMiddleware::new(provider))
        .build();
    let error = client
        .get("http://127.0.0.1:9/foos")
        .send()
        .await
        .unwrap_err();
    let reqwest_middleware::Error::Middleware(inner) = error else {
        panic!("{error:?}")
    };
    let token_error = inner.downcast_ref::<TokenError>().expect("a TokenError");
    assert!(token_error.is_transport(), "{token_error:?}");
}
