//! No secret (client secret, password, access or refresh token) in any `Debug` or
//! `Display` output: of options, tokens, providers, sources, middleware, and every error.

use std::time::Duration;

use token_client_runtime::{
    AccessToken, Error, OAuth2Source, SharedTokenProvider, TokenError, TokenMiddleware,
    TokenOptions, TokenProvider,
};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const SECRETS: [&str; 4] = [
    "CLIENT-SECRET-x1",
    "USER-PASSWORD-x2",
    "ACCESS-TOKEN-x3",
    "REFRESH-TOKEN-x4",
];

fn assert_clean(what: &str, text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{what} leaks {secret}: {text}");
    }
}

fn options(endpoint: &str) -> TokenOptions {
    TokenOptions::password(endpoint, "svc", SECRETS[0], "alice", SECRETS[1])
}

#[test]
fn options_and_tokens_hide_their_secrets() {
    let options = options("https://idp.example.com/token");
    assert_clean("TokenOptions", &format!("{options:?} {options:#?}"));
    // The secrets are there, and say so, rather than vanish from the output.
    let shown = format!("{options:?}");
    assert!(shown.contains("client_secret: <redacted>"), "{shown}");
    assert!(shown.contains("password: <redacted>"), "{shown}");
    let deserialized: TokenOptions = serde_json::from_value(serde_json::json!({
        "TokenEndpoint": "https://idp/token", "ClientId": "svc", "ClientSecret": SECRETS[0], "Username": "u", "Password": SECRETS[1],
    }))
    .unwrap();
    assert_clean("deserialized TokenOptions", &format!("{deserialized:?}"));
    let token = AccessToken::new(SECRETS[2], tokio::time::Instant::now());
    assert_clean("AccessToken", &format!("{token:?} {token:#?}"));
    let builder = SharedTokenProvider::builder(options.clone());
    let shown = format!("{builder:?}");
    assert!(
        shown.starts_with("ProviderBuilder") && shown.contains("runtime: false"),
        "{shown}"
    );
    assert_clean("ProviderBuilder", &shown);
    let source = OAuth2Source::new(options).unwrap();
    assert_clean("OAuth2Source", &format!("{source:?}"));
}

#[tokio::test]
async fn provider_source_and_errors_from_a_real_exchange_hide_their_secrets() {
    let server = MockServer::start().await;
    let body = format!(
        r#"{{"access_token":"{}","refresh_token":"{}","expires_in":300}}"#,
        SECRETS[2], SECRETS[3]
    );
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body.clone(), "application/json"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    // A server that echoes the token in an error page.
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500).set_body_raw(body, "text/plain"))
        .mount(&server)
        .await;
    let options = options(&format!("{}/token", server.uri())).failure_cooldown(Duration::ZERO);
    let provider = SharedTokenProvider::new(options).unwrap();
    let token = provider.token().await.unwrap();
    assert_eq!(token.secret(), SECRETS[2]);
    assert_clean("SharedTokenProvider", &format!("{provider:?}"));
    assert_clean(
        "TokenMiddleware",
        &format!("{:?}", TokenMiddleware::new(provider.clone())),
    );
    provider.invalidate(&token);
    let error = provider.token().await.unwrap_err();
    assert_clean("TokenError", &format!("{error} {error:?}"));
    let error = Error::from(error);
    assert_clean("Error", &format!("{error} {error:?}"));
}

#[test]
fn every_token_error_variant_displays_without_secrets() {
    let status = http::StatusCode::BAD_REQUEST;
    let variants = [
        TokenError::OAuth {
            status,
            error: "invalid_client".into(),
            description: Some("bad".into()),
            uri: None,
        },
        TokenError::UnexpectedResponse {
            status,
            reason: "not JSON".into(),
            excerpt: "<html>".into(),
        },
        TokenError::MissingField {
            status,
            field: "access_token",
        },
        TokenError::ResponseTooLarge { status, limit: 10 },
        TokenError::Timeout(Duration::from_secs(1)),
        TokenError::InvalidOptions("`client_id` is empty".into()),
        TokenError::custom(std::io::Error::other("metadata server down")),
        TokenError::InvalidToken,
        TokenError::RefreshAborted,
    ];
    for error in variants {
        let text = format!("{error} {error:?}");
        assert_clean("TokenError", &text);
        assert!(!error.to_string().is_empty());
        let error = Error::from(error);
        assert_clean("Error", &format!("{error} {error:?}"));
    }
}
