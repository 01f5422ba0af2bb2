//! What the runtime logs (through `tracing`) about token requests: the grant, the
//! endpoint's host, the outcome and the OAuth2 error code; never a secret.

mod common;

use common::Captured;
use token_client_runtime::{OAuth2Source, TokenOptions, TokenSource};
use wiremock::matchers::body_string_contains;
use wiremock::{Mock, MockServer, ResponseTemplate};

fn json(status: u16, body: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.as_bytes().to_vec(), "application/json")
}

#[tokio::test(flavor = "current_thread")]
async fn token_requests_are_logged_with_grant_host_and_outcome_but_no_secret() {
    let server = MockServer::start().await;
    let issued = r#"{"access_token":"ACCESS-x3","token_type":"Bearer","expires_in":60,"refresh_token":"REFRESH-x4"}"#;
    Mock::given(body_string_contains("grant_type=password"))
        .respond_with(json(200, issued))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(body_string_contains("grant_type=password"))
        .respond_with(json(401, r#"{"error":"invalid_client"}"#))
        .expect(1)
        .mount(&server)
        .await;
    let refused = r#"{"error":"invalid_grant","error_description":"expired"}"#;
    Mock::given(body_string_contains("grant_type=refresh_token"))
        .respond_with(json(400, refused))
        .expect(1)
        .mount(&server)
        .await;
    let options = TokenOptions::password(
        format!("{}/token", server.uri()),
        "svc",
        "SECRET-x1",
        "alice",
        "PASSWORD-x2",
    );
    let source = OAuth2Source::new(options).unwrap();

    let (captured, _guard) = Captured::start(tracing::Level::DEBUG);
    source.fetch().await.unwrap();
    // The refresh token is refused; the fallback to the password grant is refused too.
    assert!(source.fetch().await.is_err());
    drop(_guard);

    let logs = captured.text();
    assert!(
        logs.contains("token request succeeded") && logs.contains("grant=\"password\""),
        "{logs}"
    );
    assert!(
        logs.contains("token request failed")
            && logs.contains("grant=\"refresh_token\"")
            && logs.contains("error_code=\"invalid_grant\"")
            && logs.contains("error_code=\"invalid_client\""),
        "{logs}"
    );
    assert!(logs.contains("host=\"127.0.0.1\""), "{logs}");
    for secret in ["SECRET-x1", "PASSWORD-x2", "ACCESS-x3", "REFRESH-x4"] {
        assert!(!logs.contains(secret), "{secret} logged: {logs}");
    }
}
