//! `OAuth2Source` against a local token endpoint (wiremock): exact request shapes for each
//! grant and client authentication, every fixture a real identity provider sends, and every
//! failure mapped to the right `TokenError`.

use std::time::Duration;

use token_client_runtime::{
    ClientAuth, OAuth2Source, RefreshToken, SharedTokenProvider, TokenError, TokenOptions,
    TokenProvider, TokenSource,
};
use tokio::time::Instant;
use wiremock::matchers::{body_string, body_string_contains, header, header_exists, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/token-responses"
);

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}/{name}")).unwrap()
}

fn json(status: u16, body: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.as_bytes().to_vec(), "application/json")
}

fn ok_token(token: &str) -> ResponseTemplate {
    json(
        200,
        &format!(r#"{{"access_token":"{token}","token_type":"Bearer","expires_in":3600}}"#),
    )
}

fn options(server: &MockServer) -> TokenOptions {
    TokenOptions::client_credentials(format!("{}/token", server.uri()), "svc", "secret")
}

async fn fetch(options: TokenOptions) -> Result<token_client_runtime::AccessToken, TokenError> {
    OAuth2Source::new(options).unwrap().fetch().await
}

/// Seconds between now and the token's expiry, rounded to the nearest second.
fn lifetime(token: &token_client_runtime::AccessToken) -> u64 {
    (token.expires_at() - Instant::now()).as_secs_f64().round() as u64
}

// ---- request shapes ----

#[tokio::test]
async fn client_credentials_sends_exact_form_and_basic_header() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(header("authorization", "Basic c3ZjOnNlY3JldA=="))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(header("accept", "application/json"))
        .and(body_string("grant_type=client_credentials&scope=foos.read+foos.write&audience=https%3A%2F%2Fapi.example&resource=urn%3Ar&tenant=t%26x"))
        .respond_with(ok_token("abc"))
        .expect(1)
        .mount(&server)
        .await;
    let options = options(&server)
        .scope("foos.read foos.write")
        .audience("https://api.example")
        .resource("urn:r")
        .extra_param("tenant", "t&x");
    let token = fetch(options).await.unwrap();
    assert_eq!(token.secret(), "abc");
    assert_eq!(lifetime(&token), 3600);
}

#[tokio::test]
async fn basic_header_form_encodes_id_and_secret_with_special_characters() {
    let server = MockServer::start().await;
    // base64("my%3Aclient%2B1+%C3%A9:p%40ss%3Aw%2Brd+%C3%A9"), per RFC 6749 2.3.1
    Mock::given(header(
        "authorization",
        "Basic bXklM0FjbGllbnQlMkIxKyVDMyVBOTpwJTQwc3MlM0F3JTJCcmQrJUMzJUE5",
    ))
    .and(body_string("grant_type=client_credentials"))
    .respond_with(ok_token("abc"))
    .expect(1)
    .mount(&server)
    .await;
    let options = TokenOptions::client_credentials(
        format!("{}/token", server.uri()),
        "my:client+1 é",
        "p@ss:w+rd é",
    );
    assert_eq!(fetch(options).await.unwrap().secret(), "abc");
}

#[tokio::test]
async fn password_grant_sends_user_and_password() {
    let server = MockServer::start().await;
    Mock::given(header("authorization", "Basic c3ZjOnNlY3JldA=="))
        .and(body_string(
            "grant_type=password&username=al+ice%3A1&password=p%40ss%3Aw%2Brd+%C3%A9&scope=openid",
        ))
        .respond_with(ok_token("user-token"))
        .expect(1)
        .mount(&server)
        .await;
    let options = TokenOptions::password(
        format!("{}/token", server.uri()),
        "svc",
        "secret",
        "al ice:1",
        "p@ss:w+rd é",
    )
    .scope("openid");
    assert_eq!(fetch(options).await.unwrap().secret(), "user-token");
}

#[tokio::test]
async fn body_client_auth_sends_credentials_in_the_form_and_no_authorization() {
    let server = MockServer::start().await;
    Mock::given(body_string(
        "grant_type=client_credentials&client_id=svc%3A1&client_secret=s+%2B%C3%A9",
    ))
    .respond_with(ok_token("abc"))
    .expect(1)
    .mount(&server)
    .await;
    let options =
        TokenOptions::client_credentials(format!("{}/token", server.uri()), "svc:1", "s +é")
            .client_auth(ClientAuth::RequestBody);
    assert_eq!(fetch(options).await.unwrap().secret(), "abc");
    let requests = server.received_requests().await.unwrap();
    assert!(!requests[0].headers.contains_key("authorization"));
}

// ---- refresh_token grant ----

/// Mounts one-shot answers to token requests whose form body is exactly `form`: each
/// answers once and must be asked once; requests with the same form get them in order.
async fn script(server: &MockServer, steps: Vec<(&str, ResponseTemplate)>) {
    for (form, response) in steps {
        Mock::given(body_string(form))
            .respond_with(response)
            .up_to_n_times(1)
            .expect(1)
            .mount(server)
            .await;
    }
}

fn with_refresh(access: &str, refresh: &str) -> ResponseTemplate {
    let body =
        format!(r#"{{"access_token":"{access}","expires_in":300,"refresh_token":"{refresh}"}}"#);
    json(200, &body)
}

#[tokio::test]
async fn refresh_token_is_sent_and_the_rotated_one_stored() {
    let server = MockServer::start().await;
    let keycloak = ResponseTemplate::new(200)
        .set_body_raw(fixture("keycloak-password.json"), "application/json");
    script(
        &server,
        vec![
            ("grant_type=password&username=u&password=p", keycloak),
            (
                "grant_type=refresh_token&refresh_token=eyJhbGciOiJIUzI1NiJ9.kc-refresh.sig",
                with_refresh("second", "rotated-1"),
            ),
            (
                "grant_type=refresh_token&refresh_token=rotated-1",
                ok_token("third"),
            ),
            (
                "grant_type=refresh_token&refresh_token=rotated-1",
                ok_token("fourth"),
            ),
        ],
    )
    .await;
    let options =
        TokenOptions::password(format!("{}/token", server.uri()), "svc", "secret", "u", "p");
    let source = OAuth2Source::new(options).unwrap();
    let first = source.fetch().await.unwrap();
    assert_eq!(first.secret(), "eyJhbGciOiJSUzI1NiJ9.kc-pw.sig");
    assert_eq!(source.fetch().await.unwrap().secret(), "second");
    assert_eq!(source.fetch().await.unwrap().secret(), "third");
    // No new refresh token in the last answer: the previous one stays in use.
    assert_eq!(source.fetch().await.unwrap().secret(), "fourth");
}

/// The refresh token is reachable from outside the source (for a store shared by several
/// instances): read after an answer, and replaced by one another instance rotated.
#[tokio::test]
async fn the_refresh_token_can_be_read_and_replaced_from_outside_the_source() {
    let server = MockServer::start().await;
    script(
        &server,
        vec![
            ("grant_type=client_credentials", with_refresh("first", "r1")),
            (
                "grant_type=refresh_token&refresh_token=from-another-instance",
                with_refresh("second", "r2"),
            ),
            ("grant_type=client_credentials", ok_token("third")),
        ],
    )
    .await;
    let source = OAuth2Source::new(options(&server)).unwrap();
    assert_eq!(source.refresh_token(), None);
    source.fetch().await.unwrap();
    assert_eq!(source.refresh_token(), Some(RefreshToken::new("r1")));
    source.set_refresh_token(Some(RefreshToken::new("from-another-instance")));
    assert_eq!(source.fetch().await.unwrap().secret(), "second");
    assert_eq!(source.refresh_token().unwrap().secret(), "r2");
    assert!(!format!("{:?}", source.refresh_token()).contains("r2"));
    source.set_refresh_token(None);
    assert_eq!(source.fetch().await.unwrap().secret(), "third");
}

#[tokio::test]
async fn rejected_refresh_token_falls_back_to_the_primary_grant() {
    let server = MockServer::start().await;
    let rejected = ResponseTemplate::new(400)
        .set_body_raw(fixture("error-invalid-grant.json"), "application/json");
    script(
        &server,
        vec![
            ("grant_type=client_credentials", with_refresh("first", "r1")),
            ("grant_type=refresh_token&refresh_token=r1", rejected),
            ("grant_type=client_credentials", ok_token("fallback")),
        ],
    )
    .await;
    let source = OAuth2Source::new(options(&server)).unwrap();
    assert_eq!(source.fetch().await.unwrap().secret(), "first");
    assert_eq!(source.fetch().await.unwrap().secret(), "fallback");
}

#[tokio::test]
async fn refresh_token_survives_a_server_error() {
    let server = MockServer::start().await;
    script(
        &server,
        vec![
            ("grant_type=client_credentials", with_refresh("first", "r1")),
            (
                "grant_type=refresh_token&refresh_token=r1",
                ResponseTemplate::new(503),
            ),
            (
                "grant_type=refresh_token&refresh_token=r1",
                ok_token("refreshed"),
            ),
        ],
    )
    .await;
    let source = OAuth2Source::new(options(&server)).unwrap();
    source.fetch().await.unwrap();
    let error = source.fetch().await.unwrap_err();
    assert_eq!(error.status().map(|s| s.as_u16()), Some(503));
    assert_eq!(source.fetch().await.unwrap().secret(), "refreshed");
}

// ---- fixtures: what real identity providers send ----

enum Expect {
    Token { secret: &'static str, lifetime: u64 },
    OAuth(&'static str),
    Missing(&'static str),
    Unexpected,
}

#[tokio::test]
async fn every_fixture_yields_a_token_or_the_right_error() {
    use Expect::*;
    let cases = [
        (
            "keycloak-client-credentials.json",
            200,
            Token {
                secret: "eyJhbGciOiJSUzI1NiJ9.kc-cc.sig",
                lifetime: 300,
            },
        ),
        (
            "keycloak-password.json",
            200,
            Token {
                secret: "eyJhbGciOiJSUzI1NiJ9.kc-pw.sig",
                lifetime: 300,
            },
        ),
        (
            "azure-ad-v1-string-expiry.json",
            200,
            Token {
                secret: "eyJ0eXAiOiJKV1QifQ.aad-v1.sig",
                lifetime: 3599,
            },
        ),
        (
            "azure-ad-v2.json",
            200,
            Token {
                secret: "eyJ0eXAiOiJKV1QifQ.aad-v2.sig",
                lifetime: 3599,
            },
        ),
        (
            "auth0-m2m.json",
            200,
            Token {
                secret: "eyJhbGciOiJSUzI1NiJ9.auth0.sig",
                lifetime: 86400,
            },
        ),
        (
            "lowercase-token-type.json",
            200,
            Token {
                secret: "gho_16C7e42F292c6912E7710c838347Ae178B4a",
                lifetime: 300,
            },
        ),
        (
            "no-expires-in.json",
            200,
            Token {
                secret: "00D5e000000abcd!AQ0AQ.no-expiry",
                lifetime: 300,
            },
        ),
        (
            "expires-in-zero.json",
            200,
            Token {
                secret: "zero-lifetime-token",
                lifetime: 300,
            },
        ),
        (
            "expires-in-float.json",
            200,
            Token {
                secret: "float-lifetime-token",
                lifetime: 3600,
            },
        ),
        (
            "form-encoded-response.txt",
            200,
            Token {
                secret: "gho_formencoded123",
                lifetime: 300,
            },
        ),
        ("error-invalid-client.json", 401, OAuth("invalid_client")),
        ("error-invalid-client.json", 400, OAuth("invalid_client")),
        ("error-azure-verbose.json", 401, OAuth("invalid_client")),
        ("error-invalid-grant.json", 400, OAuth("invalid_grant")),
        (
            "error-with-status-200.json",
            200,
            OAuth("bad_verification_code"),
        ),
        ("missing-access-token.json", 200, Missing("access_token")),
        ("proxy-502.html", 502, Unexpected),
    ];
    for (file, status, expect) in cases {
        let server = MockServer::start().await;
        let content_type = match file.rsplit('.').next() {
            Some("json") => "application/json",
            Some("html") => "text/html",
            _ => "application/x-www-form-urlencoded",
        };
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(status).set_body_raw(fixture(file), content_type))
            .expect(1)
            .mount(&server)
            .await;
        let result = fetch(options(&server)).await;
        match (expect, result) {
            (
                Token {
                    secret,
                    lifetime: secs,
                },
                Ok(token),
            ) => {
                assert_eq!(token.secret(), secret, "{file}");
                assert_eq!(lifetime(&token), secs, "{file}");
                assert_eq!(token.token_type(), "Bearer", "{file}");
            }
            (OAuth(code), Err(error)) => {
                assert_eq!(error.oauth_error(), Some(code), "{file}: {error}");
                assert_eq!(error.status().unwrap().as_u16(), status, "{file}");
            }
            (Missing(field), Err(TokenError::MissingField { field: f, .. })) => {
                assert_eq!(f, field, "{file}")
            }
            (
                Unexpected,
                Err(TokenError::UnexpectedResponse {
                    status: s, excerpt, ..
                }),
            ) => {
                assert_eq!(s.as_u16(), status, "{file}");
                assert!(excerpt.contains("502 Bad Gateway"), "{file}: {excerpt}");
                assert!(excerpt.len() < 200, "{file}: excerpt too long");
            }
            (_, other) => panic!("{file}: unexpected {other:?}"),
        }
    }
}

#[tokio::test]
async fn oauth_error_keeps_code_and_description() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_raw(fixture("error-azure-verbose.json"), "application/json"),
        )
        .mount(&server)
        .await;
    let error = fetch(options(&server)).await.unwrap_err();
    let TokenError::OAuth {
        error: code,
        description,
        uri,
        ..
    } = &error
    else {
        panic!("{error:?}")
    };
    assert_eq!(code, "invalid_client");
    assert!(description.as_deref().unwrap().starts_with("AADSTS7000215"));
    assert_eq!(
        uri.as_deref(),
        Some("https://login.example.com/error?code=7000215")
    );
    let text = error.to_string();
    assert!(
        text.contains("invalid_client") && text.contains("401"),
        "{text}"
    );
}

// ---- failures, then recovery through the provider ----

/// Serves `failure` once, then a good token; the provider (no cool-down) returns the
/// failure to the first call and the token to the second, with one request each.
async fn fails_then_recovers(failure: ResponseTemplate, check: impl Fn(&TokenError)) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(failure)
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ok_token("good"))
        .expect(1)
        .mount(&server)
        .await;
    let provider =
        SharedTokenProvider::new(options(&server).failure_cooldown(Duration::ZERO)).unwrap();
    let error = provider.token().await.unwrap_err();
    check(&error);
    assert!(!error.to_string().contains("secret"), "{error}");
    assert_eq!(provider.token().await.unwrap().secret(), "good");
}

#[tokio::test]
async fn status_500_without_body() {
    fails_then_recovers(ResponseTemplate::new(500), |e| {
        assert!(
            matches!(e, TokenError::UnexpectedResponse { status, .. } if status.as_u16() == 500),
            "{e:?}"
        )
    })
    .await;
}

#[tokio::test]
async fn html_body() {
    let html = ResponseTemplate::new(502).set_body_raw(fixture("proxy-502.html"), "text/html");
    fails_then_recovers(html, |e| {
        assert!(
            matches!(e, TokenError::UnexpectedResponse { status, .. } if status.as_u16() == 502),
            "{e:?}"
        );
        assert!(e.to_string().contains("502 Bad Gateway"), "{e}");
    })
    .await;
}

#[tokio::test]
async fn invalid_json() {
    fails_then_recovers(json(200, r#"{"access_token": "#), |e| {
        assert!(matches!(e, TokenError::UnexpectedResponse { .. }), "{e:?}")
    })
    .await;
}

#[tokio::test]
async fn error_in_a_200() {
    let body = ResponseTemplate::new(200)
        .set_body_raw(fixture("error-with-status-200.json"), "application/json");
    fails_then_recovers(body, |e| {
        assert_eq!(e.oauth_error(), Some("bad_verification_code"))
    })
    .await;
}

#[tokio::test]
async fn missing_access_token() {
    let body = ResponseTemplate::new(200)
        .set_body_raw(fixture("missing-access-token.json"), "application/json");
    fails_then_recovers(body, |e| {
        assert!(
            matches!(
                e,
                TokenError::MissingField {
                    field: "access_token",
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(e.to_string().contains("access_token"));
    })
    .await;
}

#[tokio::test]
async fn oversized_body() {
    let huge = format!(r#"{{"access_token":"{}"}}"#, "x".repeat(200_000));
    fails_then_recovers(json(200, &huge), |e| {
        assert!(
            matches!(e, TokenError::ResponseTooLarge { limit: 65536, .. }),
            "{e:?}"
        )
    })
    .await;
}

/// The limit is inclusive: a response of exactly 64 KiB (announced by its length) is read.
#[tokio::test]
async fn a_body_of_exactly_the_limit_is_read() {
    let server = MockServer::start().await;
    let head = r#"{"access_token":"big","token_type":"Bearer","expires_in":60,"pad":""#;
    let body = format!("{head}{}\"}}", "x".repeat(65536 - head.len() - 2));
    assert_eq!(body.len(), 65536);
    Mock::given(method("POST"))
        .respond_with(json(200, &body))
        .expect(1)
        .mount(&server)
        .await;
    assert_eq!(fetch(options(&server)).await.unwrap().secret(), "big");
}

/// `Debug` of a source names it and says whether it holds a refresh token, not which.
#[tokio::test]
async fn a_sources_debug_says_whether_it_holds_a_refresh_token() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(with_refresh("a", "r-secret"))
        .mount(&server)
        .await;
    let source = OAuth2Source::new(options(&server)).unwrap();
    let before = format!("{source:?}");
    assert!(before.starts_with("OAuth2Source") && before.contains("has_refresh_token: false"));
    source.fetch().await.unwrap();
    let after = format!("{source:?}");
    assert!(after.contains("has_refresh_token: true"), "{after}");
    assert!(
        !after.contains("r-secret") && !after.contains("\"secret\""),
        "{after}"
    );
}

#[tokio::test]
async fn unsupported_token_type() {
    fails_then_recovers(
        json(200, r#"{"access_token":"a","token_type":"mac"}"#),
        |e| assert!(e.to_string().contains("`mac`"), "{e}"),
    )
    .await;
}

#[tokio::test]
async fn timeout() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ok_token("late").set_delay(Duration::from_secs(10)))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ok_token("good"))
        .expect(1)
        .mount(&server)
        .await;
    let options = options(&server)
        .request_timeout(Duration::from_millis(300))
        .failure_cooldown(Duration::ZERO);
    let provider = SharedTokenProvider::new(options).unwrap();
    let started = std::time::Instant::now();
    let error = provider.token().await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        matches!(error, TokenError::Timeout(d) if d == Duration::from_millis(300)),
        "{error:?}"
    );
    assert_eq!(provider.token().await.unwrap().secret(), "good");
}

#[tokio::test]
async fn connection_refused() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let options =
        TokenOptions::client_credentials(format!("http://127.0.0.1:{port}/token"), "svc", "secret");
    let error = fetch(options).await.unwrap_err();
    assert!(error.is_transport(), "{error:?}");
    assert!(!format!("{error:?}").contains("secret"));
}

#[tokio::test]
async fn form_encoded_error_body_is_an_oauth_error() {
    fails_then_recovers(
        ResponseTemplate::new(400)
            .set_body_raw("error=invalid_client&error_description=bad", "text/plain"),
        |e| assert_eq!(e.oauth_error(), Some("invalid_client")),
    )
    .await;
}

#[tokio::test]
async fn unexpected_body_holding_a_token_is_redacted() {
    let body = ResponseTemplate::new(500)
        .set_body_raw(r#"oops {"access_token":"leaked-token"#, "text/plain");
    fails_then_recovers(body, |e| {
        assert!(!format!("{e} {e:?}").contains("leaked-token"), "{e:?}")
    })
    .await;
}

// ---- options ----

#[test]
fn plain_http_to_a_remote_host_is_refused_unless_opted_in() {
    let remote = TokenOptions::client_credentials("http://idp.example.com/token", "svc", "secret");
    let error = SharedTokenProvider::new(remote.clone()).unwrap_err();
    assert!(matches!(error, TokenError::InvalidOptions(_)));
    assert!(error.to_string().contains("allow_insecure_http"), "{error}");
    assert!(SharedTokenProvider::new(remote.allow_insecure_http(true)).is_ok());
    for host in ["localhost:8080", "127.0.0.1", "[::1]:9000"] {
        let local =
            TokenOptions::client_credentials(format!("http://{host}/token"), "svc", "secret");
        assert!(SharedTokenProvider::new(local).is_ok(), "{host}");
    }
}

#[test]
fn invalid_options_are_reported() {
    let cases = [
        TokenOptions::client_credentials("not a url", "svc", "secret"),
        TokenOptions::client_credentials("ftp://idp.example.com/token", "svc", "secret"),
        TokenOptions::client_credentials("https://idp.example.com/token", "", "secret"),
    ];
    for options in cases {
        assert!(matches!(
            SharedTokenProvider::new(options),
            Err(TokenError::InvalidOptions(_))
        ));
    }
}

#[test]
fn options_deserialize_from_configuration_keys() {
    let pascal: TokenOptions = serde_json::from_str(
        r#"{"TokenEndpoint":"https://idp/token","ClientId":"svc","ClientSecret":"s","Username":"u","Password":"p","Scope":"a b","ClientAuth":"body"}"#,
    )
    .unwrap();
    let snake: TokenOptions = serde_json::from_str(
        r#"{"token_endpoint":"https://idp/token","client_id":"svc","client_secret":"s","username":"u","password":"p","scope":"a b","client_auth":"RequestBody"}"#,
    )
    .unwrap();
    for options in [pascal, snake] {
        assert_eq!(options.token_endpoint(), "https://idp/token");
        assert_eq!(options.client_id(), "svc");
        let debug = format!("{options:?}");
        assert!(
            debug.contains("RequestBody") && debug.contains("a b"),
            "{debug}"
        );
    }
    let missing = serde_json::from_str::<TokenOptions>(r#"{"TokenEndpoint":"https://idp/token"}"#)
        .unwrap_err();
    assert!(missing.to_string().contains("ClientId"), "{missing}");
}

#[tokio::test]
async fn sends_the_password_grant_when_configured_from_keys() {
    let server = MockServer::start().await;
    Mock::given(body_string("grant_type=password&username=u&password=p"))
        .and(header_exists("authorization"))
        .respond_with(ok_token("abc"))
        .expect(1)
        .mount(&server)
        .await;
    let options: TokenOptions = serde_json::from_value(serde_json::json!({
        "TokenEndpoint": format!("{}/token", server.uri()),
        "ClientId": "svc", "ClientSecret": "secret", "Username": "u", "Password": "p",
    }))
    .unwrap();
    assert_eq!(fetch(options).await.unwrap().secret(), "abc");
}

// ---- hostile servers and configuration ----

/// Any number a server sends as `expires_in` is a lifetime: huge ones are clamped to the
/// longest believed (366 days) before they become a `Duration`, whose conversion panicked.
/// The smallest, one second, is a lifetime too.
#[tokio::test]
async fn any_expires_in_a_server_sends_is_a_lifetime() {
    let server = MockServer::start().await;
    let body = r#"{"access_token":"t","token_type":"Bearer","expires_in":1}"#;
    Mock::given(method("POST"))
        .respond_with(json(200, body))
        .mount(&server)
        .await;
    assert_eq!(lifetime(&fetch(options(&server)).await.unwrap()), 1);

    const MAX_DAYS: u64 = 366;
    let huge = [
        "1e20",
        "18446744073709551615",
        "1.7976931348623157e308",
        r#""1e300""#,
        r#""18446744073709551616""#,
    ];
    for expires_in in huge {
        let server = MockServer::start().await;
        let body =
            format!(r#"{{"access_token":"t","token_type":"Bearer","expires_in":{expires_in}}}"#);
        Mock::given(method("POST"))
            .respond_with(json(200, &body))
            .expect(1)
            .mount(&server)
            .await;
        let provider = SharedTokenProvider::new(options(&server)).unwrap();
        let token = provider.token().await.expect(expires_in);
        assert_eq!(lifetime(&token), MAX_DAYS * 24 * 3600, "{expires_in}");
        // Cached: a second call is the hot path, not another request (`.expect(1)`).
        assert_eq!(provider.token().await.unwrap().secret(), "t");
    }
}

/// A 307/308 would re-send the form (client secret, password, refresh token) to wherever
/// the server points, even over plain http: token requests never follow redirects, and
/// the error names the status and the host, nothing more.
#[tokio::test]
async fn token_requests_never_follow_a_redirect() {
    let elsewhere = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ok_token("from-the-redirect-target"))
        .expect(0)
        .mount(&elsewhere)
        .await;
    let port = elsewhere.address().port();
    for status in [301, 302, 303, 307, 308] {
        let server = MockServer::start().await;
        let location = format!("http://localhost:{port}/token?code=sensitive");
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(status).insert_header("location", location))
            .expect(1)
            .mount(&server)
            .await;
        let options = TokenOptions::password(
            format!("{}/token", server.uri()),
            "svc",
            "client-s3cret",
            "user",
            "user-passw0rd",
        );
        let error = fetch(options).await.unwrap_err();
        let TokenError::Redirect {
            status: got,
            location,
        } = &error
        else {
            panic!("{status}: {error:?}")
        };
        assert_eq!(got.as_u16(), status);
        assert_eq!(location.as_deref(), Some("localhost"));
        let text = format!("{error} {error:?}");
        assert!(
            text.contains(&status.to_string()) && text.contains("`localhost`"),
            "{text}"
        );
        assert!(!text.contains("sensitive"), "{text}");
    }
}

/// A server that echoes the request in its error (`...&password=...`) or puts it in an
/// `error_description`: every secret the request carried is scrubbed, raw, form-encoded,
/// percent-encoded and as the Basic header's base64, and a line break cannot forge a line.
#[tokio::test]
async fn errors_never_show_a_secret_the_request_carried() {
    let secret = "cl1ent s3cret+&";
    let password = "pa ss/w0rd=";
    let refresh = "refresh-t0ken-value";
    let echoed = [
        "client_secret=cl1ent+s3cret%2B%26&password=pa+ss%2Fw0rd%3D",
        "raw cl1ent s3cret+& and pa ss/w0rd=",
        "percent cl1ent%20s3cret%2B%26 pa%20ss%2Fw0rd%3D",
        // base64("svc:cl1ent+s3cret%2B%26"): the Basic header
        "header Basic c3ZjOmNsMWVudCtzM2NyZXQlMkIlMjY=",
        "refresh_token=refresh-t0ken-value",
    ];
    for echo in echoed {
        let server = MockServer::start().await;
        // First a refresh token, so the next request carries it.
        let first = format!(
            r#"{{"access_token":"a1","token_type":"Bearer","expires_in":3600,"refresh_token":"{refresh}"}}"#
        );
        let description =
            serde_json::to_string(&format!("bad request: {echo}\nFORGED log line")).unwrap();
        let oauth = format!(r#"{{"error":"invalid_grant_x","error_description":{description}}}"#);
        Mock::given(body_string_contains("grant_type=password"))
            .respond_with(json(200, &first))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(body_string_contains("grant_type=refresh_token"))
            .respond_with(json(400, &oauth))
            .expect(1)
            .mount(&server)
            .await;
        let options = TokenOptions::password(
            format!("{}/token", server.uri()),
            "svc",
            secret,
            "u",
            password,
        );
        let source = OAuth2Source::new(options).unwrap();
        source.fetch().await.unwrap();
        let error = source.fetch().await.unwrap_err();
        let text = format!("{error} {error:?}");
        for leaked in [
            "s3cret",
            "ss/w0rd",
            "ss%2Fw0rd",
            "c3ZjOmNsMWVudC",
            refresh,
            "\n",
        ] {
            assert!(!text.contains(leaked), "{leaked:?} in {text}");
        }
        assert!(text.contains("FORGED"), "the description is kept: {text}");

        let plain = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(500).set_body_raw(echo, "text/plain"))
            .mount(&plain)
            .await;
        let options = TokenOptions::password(
            format!("{}/token", plain.uri()),
            "svc",
            secret,
            "u",
            password,
        );
        let error = fetch(options).await.unwrap_err();
        let text = format!("{error} {error:?}");
        for leaked in ["s3cret", "ss/w0rd", "ss%2Fw0rd", "c3ZjOmNsMWVudC"] {
            assert!(!text.contains(leaked), "{leaked:?} in {text}");
        }
    }
}

/// `https://svc:secret@host/token` would put a password where `Debug` and errors show it.
#[test]
fn a_token_endpoint_holding_user_info_is_refused_and_never_shown() {
    let options = TokenOptions::client_credentials(
        "https://svc:hunter2@idp.example.com/token?k=v",
        "svc",
        "s",
    );
    let error = SharedTokenProvider::new(options.clone()).unwrap_err();
    assert!(matches!(error, TokenError::InvalidOptions(_)), "{error:?}");
    assert!(
        error.to_string().contains("user name or password"),
        "{error}"
    );
    let text = format!("{error} {error:?} {options:?}");
    assert!(!text.contains("hunter2"), "{text}");
    let garbled = TokenOptions::client_credentials("svc:hunter2@ not a url", "svc", "s");
    let error = SharedTokenProvider::new(garbled.clone()).unwrap_err();
    assert!(!format!("{error} {garbled:?}").contains("hunter2"));
}

/// A transport error names the token endpoint, but not its query.
#[tokio::test]
async fn a_transport_error_does_not_show_the_endpoints_query() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let endpoint = format!("http://127.0.0.1:{port}/token?p=b2c_1_signin&api_key=qu3ry-s3cret");
    let error = fetch(TokenOptions::client_credentials(endpoint, "svc", "s"))
        .await
        .unwrap_err();
    assert!(error.is_transport(), "{error:?}");
    let text = format!("{error} {error:?}");
    assert!(!text.contains("qu3ry-s3cret"), "{text}");
}

/// Durations as large as a `Duration` holds, or zero where zero makes no sense, are
/// refused where the options are checked, naming the option.
#[test]
fn out_of_range_durations_are_refused_naming_the_option() {
    let base = || TokenOptions::client_credentials("https://idp.example.com/token", "svc", "s");
    let cases = [
        ("failure_cooldown", base().failure_cooldown(Duration::MAX)),
        ("default_lifetime", base().default_lifetime(Duration::MAX)),
        ("early_refresh", base().early_refresh(Duration::MAX)),
        ("request_timeout", base().request_timeout(Duration::MAX)),
        ("default_lifetime", base().default_lifetime(Duration::ZERO)),
        ("request_timeout", base().request_timeout(Duration::ZERO)),
    ];
    for (name, options) in cases {
        let error = SharedTokenProvider::new(options).unwrap_err();
        assert!(matches!(error, TokenError::InvalidOptions(_)), "{error:?}");
        assert!(error.to_string().contains(name), "{name}: {error}");
    }
    let zero_is_fine = base()
        .failure_cooldown(Duration::ZERO)
        .early_refresh(Duration::ZERO);
    assert!(SharedTokenProvider::new(zero_is_fine).is_ok());
}

/// What the fuzzer found past the first scrubber: lowercase or partial percent-encoding,
/// a secret echoed as the `token_type`, and a secret straddling the cut of a long
/// `error_description`.
#[tokio::test]
async fn secrets_in_any_encoding_or_field_never_reach_an_error() {
    let secret = "cl1ent s3cret+/é\"x";
    let long = format!("{}{secret}", "x".repeat(494));
    let description = serde_json::to_string(&long).unwrap();
    let answers = [
        (200, "cl1ent%20s3cret%2b%2f%c3%a9%22x".to_owned()),
        (200, "cl1ent%20s3cret%2B/%C3%a9%22x".to_owned()),
        (500, r#"{"note":"cl1ent s3cret+\/\u00e9\"x"}"#.to_owned()),
        (
            200,
            format!(
                r#"{{"access_token":"a","token_type":"{}"}}"#,
                "cl1ent s3cret+/é\\\"x"
            ),
        ),
        (
            400,
            format!(r#"{{"error":"invalid_client","error_description":{description}}}"#),
        ),
        (
            400,
            format!(r#"{{"error":"invalid_client","error_uri":{description}}}"#),
        ),
    ];
    for (status, body) in answers {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(json(status, &body))
            .expect(1)
            .mount(&server)
            .await;
        let options =
            TokenOptions::client_credentials(format!("{}/token", server.uri()), "svc", secret);
        let error = fetch(options).await.unwrap_err();
        let text = format!("{error} {error:?}");
        for leaked in ["s3cret", "cl1ent…", "cl1ent%20", "cl1ent s"] {
            assert!(!text.contains(leaked), "{leaked:?} from {body:?} in {text}");
        }
    }
}
