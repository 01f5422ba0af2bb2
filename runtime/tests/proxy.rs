//! A loopback token endpoint is reached directly, even with a proxy configured in the
//! environment: the request carries the client's credentials, and loopback must stay
//! loopback. Its own test binary, because it sets `HTTP_PROXY` for the whole process.

use token_client_runtime::{OAuth2Source, TokenOptions, TokenSource};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test]
async fn a_loopback_token_endpoint_is_never_reached_through_a_proxy() {
    let proxy = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(502))
        .expect(0)
        .mount(&proxy)
        .await;
    // SAFETY: the only test of this binary, and no other thread reads the environment
    // while it is set (the servers above do not).
    unsafe {
        std::env::set_var("HTTP_PROXY", proxy.uri());
        std::env::set_var("http_proxy", proxy.uri());
        std::env::set_var("ALL_PROXY", proxy.uri());
    }
    let endpoint = MockServer::start().await;
    let body = r#"{"access_token":"direct","token_type":"Bearer","expires_in":60}"#;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body, "application/json"))
        .expect(2)
        .mount(&endpoint)
        .await;
    for host in ["127.0.0.1", "localhost"] {
        let url = format!("http://{host}:{}/token", endpoint.address().port());
        let options = TokenOptions::client_credentials(url, "svc", "secret");
        let token = OAuth2Source::new(options).unwrap().fetch().await.unwrap();
        assert_eq!(token.secret(), "direct", "{host}");
    }
}
