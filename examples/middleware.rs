//! `TokenMiddleware` without the macro: `cargo run --example middleware`
//!
//! A plain `reqwest_middleware::ClientWithMiddleware` with two middlewares, the Rust
//! counterpart of .NET's token-refreshing `DelegatingHandler` plus a Polly retry policy:
//! `reqwest-retry` retries transient failures (5xx, 429, connection errors) with
//! exponential backoff, and `TokenMiddleware` puts a bearer token on each attempt.
//!
//! Self-contained: a local token endpoint and API (wiremock) stand in for the real ones;
//! the API fails twice with 503 before answering, to show the retry.

use std::time::Duration;

use reqwest_retry::RetryTransientMiddleware;
use reqwest_retry::policies::ExponentialBackoff;
use token_client::{SharedTokenProvider, TokenMiddleware, TokenOptions};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let idp = MockServer::start().await;
    let api = MockServer::start().await;
    let token = r#"{"access_token":"example-token","token_type":"Bearer","expires_in":3600}"#;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(token, "application/json"))
        .mount(&idp)
        .await;
    Mock::given(path("/foos"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .mount(&api)
        .await;
    Mock::given(path("/foos"))
        .and(header("authorization", "Bearer example-token"))
        .respond_with(ResponseTemplate::new(200).set_body_string(r#"[{"id":1}]"#))
        .mount(&api)
        .await;

    let options =
        TokenOptions::client_credentials(format!("{}/token", idp.uri()), "my-service", "s3cret");
    let provider = SharedTokenProvider::new(options)?;
    let retry = ExponentialBackoff::builder()
        .retry_bounds(Duration::from_millis(50), Duration::from_secs(2))
        .build_with_max_retries(3);

    // Order matters: middlewares run in the order they are added, the first outermost.
    // - Retry outside, token inside: every attempt passes through `TokenMiddleware`, so an
    //   attempt made after a long backoff carries the token that is valid *then*, and a
    //   401 is handled (invalidate, refresh, replay once) inside one attempt. The retry
    //   middleware treats 401 as not transient, so the two never both retry one failure.
    // - The other way round, the token would be put on once and every retry would resend
    //   it, however stale, and a 401 seen by the token middleware would come after all the
    //   transient retries of the first token.
    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(RetryTransientMiddleware::new_with_policy(retry))
        .with(TokenMiddleware::new(provider))
        .build();

    let response = http.get(format!("{}/foos", api.uri())).send().await?;
    let status = response.status();
    let body = response.text().await?;
    let attempts = api.received_requests().await.unwrap_or_default().len();
    let tokens = idp.received_requests().await.unwrap_or_default().len();
    println!("status {status} after {attempts} attempts, {tokens} token request(s): {body}");
    if !status.is_success() {
        return Err(format!("expected success, got {status}").into());
    }
    Ok(())
}
