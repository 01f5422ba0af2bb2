//! Interop: the runtime against a real OAuth2 server, `@node-oauth/oauth2-server` from npm
//! behind the small launcher of `tests/interop-server/`, one child process per test.
//! Every grant, both client authentications, refresh-token rotation, OAuth2 errors, 200
//! concurrent callers over three token lifetimes, and a server restart that forgets every
//! token. Needs node and npm; the first test runs `npm ci` when the package is missing.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Deserialize;
use support::interop_server::{
    CLIENT_ID, CLIENT_SECRET, InteropServer, PASSWORD, USERNAME, json_body,
};
use support::{middleware_client, within};
use token_client::{ClientAuth, SharedTokenProvider, TokenOptions, TokenProvider, token_client};
use tokio::task::JoinSet;
use tokio::time::Instant;

fn client_credentials(server: &InteropServer) -> TokenOptions {
    TokenOptions::client_credentials(server.token_endpoint(), CLIENT_ID, CLIENT_SECRET)
}

fn password(server: &InteropServer) -> TokenOptions {
    TokenOptions::password(
        server.token_endpoint(),
        CLIENT_ID,
        CLIENT_SECRET,
        USERNAME,
        PASSWORD,
    )
}

fn provider(options: TokenOptions) -> SharedTokenProvider {
    SharedTokenProvider::new(options).expect("valid options")
}

/// Whole seconds until the token expires, as the client computed it from `expires_in`.
fn seconds_left(token: &token_client::AccessToken) -> u64 {
    (token.expires_at() - Instant::now()).as_secs_f64().round() as u64
}

/// `GET /resource` through `http`: the grant of the token the server accepted, or why the
/// call failed.
async fn call(
    http: &reqwest_middleware::ClientWithMiddleware,
    url: &str,
) -> Result<String, String> {
    let response = http
        .get(url)
        .send()
        .await
        .map_err(|error| format!("GET /resource failed: {error}"))?;
    let status = response.status();
    let body = json_body(response).await;
    if status != 200 {
        return Err(format!("GET /resource answered {status}: {body}"));
    }
    Ok(body["grant"].as_str().unwrap_or_default().to_owned())
}

// ---- each grant, each client authentication ----

#[tokio::test]
async fn client_credentials_token_is_accepted_by_the_resource() {
    let server = InteropServer::start(60).await;
    let provider = provider(client_credentials(&server).scope("foos.read foos.write"));

    let token = provider.token().await.expect("a token");
    assert_eq!(token.scope(), Some("foos.read foos.write"));
    assert_eq!(
        seconds_left(&token),
        60,
        "expires_in read from the response"
    );
    let (status, body) = server.resource_with(token.secret()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["grant"], "client_credentials");
    assert_eq!(body["user"], format!("client:{CLIENT_ID}"));

    let stats = server.stats().await;
    assert_eq!(stats.requests("client_credentials"), 1, "{stats:?}");
    assert_eq!(stats.issued("client_credentials"), 1, "{stats:?}");
    assert_eq!(
        stats.client_auth("basic"),
        1,
        "Basic is the default: {stats:?}"
    );
}

#[tokio::test]
async fn password_token_is_accepted_by_the_resource() {
    let server = InteropServer::start(60).await;
    let provider = provider(password(&server));

    let token = provider.token().await.expect("a token");
    let (status, body) = server.resource_with(token.secret()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["grant"], "password");
    assert_eq!(body["user"], "user-1");

    let stats = server.stats().await;
    assert_eq!(stats.requests("password"), 1, "{stats:?}");
    assert_eq!(stats.issued("password"), 1, "{stats:?}");
    assert_eq!(stats.all_requests(), 1, "{stats:?}");
}

#[tokio::test]
async fn basic_and_body_client_authentication_are_both_accepted() {
    let server = InteropServer::start(60).await;
    let basic = provider(client_credentials(&server).client_auth(ClientAuth::BasicAuth));
    let body = provider(client_credentials(&server).client_auth(ClientAuth::RequestBody));

    for provider in [basic, body] {
        let token = provider.token().await.expect("a token");
        assert_eq!(server.resource_with(token.secret()).await.0, 200);
    }

    let stats = server.stats().await;
    assert_eq!(stats.client_auth("basic"), 1, "{stats:?}");
    assert_eq!(stats.client_auth("body"), 1, "{stats:?}");
    assert_eq!(stats.issued("client_credentials"), 2, "{stats:?}");
}

/// RFC 6749 2.3.1 has the client form-urlencode its id and secret before HTTP Basic; the
/// runtime does, and this server (the `basic-auth` package) does not decode them. A secret
/// with reserved characters therefore fails with Basic against it and works in the body.
/// Pinned here so a change on either side is noticed; secrets of `[A-Za-z0-9._-]` (or
/// `ClientAuth::RequestBody`) avoid the difference.
#[tokio::test]
async fn secret_with_reserved_characters_works_in_the_body_and_not_with_basic() {
    const SECRET: &str = "s3cr3t~/+=";
    let server = InteropServer::start_with(60, &[("INTEROP_CLIENT_SECRET", SECRET)]).await;
    let options = |auth| {
        client_credentials(&server)
            .client_secret(SECRET)
            .client_auth(auth)
    };

    let body = provider(options(ClientAuth::RequestBody)).token().await;
    assert!(body.is_ok(), "{body:?}");
    let basic = provider(options(ClientAuth::BasicAuth)).token().await;
    let error = basic.expect_err("the server compares the still-encoded secret");
    assert_eq!(error.oauth_error(), Some("invalid_client"), "{error}");
}

// ---- OAuth2 errors ----

#[tokio::test]
async fn wrong_client_secret_is_invalid_client() {
    let server = InteropServer::start(60).await;
    let cases = [(ClientAuth::BasicAuth, 401), (ClientAuth::RequestBody, 400)];
    for (auth, status) in cases {
        let options = client_credentials(&server)
            .client_secret("not-the-secret")
            .client_auth(auth);
        let error = provider(options).token().await.expect_err("a wrong secret");
        assert_eq!(
            error.oauth_error(),
            Some("invalid_client"),
            "{auth:?}: {error}"
        );
        // RFC 6749 5.2: 401 when the client tried HTTP Basic, 400 otherwise.
        assert_eq!(error.status().map(|s| s.as_u16()), Some(status), "{auth:?}");
        assert!(!format!("{error} {error:?}").contains("not-the-secret"));
    }
    let stats = server.stats().await;
    assert_eq!(stats.errors("invalid_client"), 2, "{stats:?}");
    assert_eq!(stats.issued("client_credentials"), 0, "{stats:?}");
}

#[tokio::test]
async fn wrong_password_is_invalid_grant() {
    let server = InteropServer::start(60).await;
    let options = TokenOptions::password(
        server.token_endpoint(),
        CLIENT_ID,
        CLIENT_SECRET,
        USERNAME,
        "not-the-password",
    );
    let error = provider(options)
        .token()
        .await
        .expect_err("a wrong password");
    assert_eq!(error.oauth_error(), Some("invalid_grant"), "{error}");
    assert_eq!(error.status().map(|s| s.as_u16()), Some(400));
    assert!(!format!("{error} {error:?}").contains("not-the-password"));
    assert_eq!(server.stats().await.errors("invalid_grant"), 1);
}

// ---- refresh tokens ----

/// The server rotates refresh tokens: each one works once. Across several 2 s expiries the
/// client keeps refreshing with the newest one, and the resource keeps accepting the tokens.
#[tokio::test]
async fn refresh_token_rotation_across_several_expiries() {
    let server = InteropServer::start(2).await;
    let http = middleware_client(provider(password(&server)));
    let url = server.resource_url();

    let started = Instant::now();
    let mut grants = Vec::new();
    while started.elapsed() < Duration::from_millis(5500) {
        grants.push(call(&http, &url).await.unwrap());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let elapsed = started.elapsed();

    let stats = server.stats().await;
    eprintln!("rotation: {} calls in {elapsed:?}; {stats:?}", grants.len());
    let refreshes = stats.requests("refresh_token");
    assert_eq!(stats.requests("password"), 1, "{stats:?}");
    assert!(
        refreshes >= 3,
        "a refresh per second of 2 s tokens: {stats:?}"
    );
    assert!(refreshes <= elapsed.as_secs() + 2, "{elapsed:?}: {stats:?}");
    assert_eq!(
        stats.issued("refresh_token"),
        refreshes,
        "every rotated token accepted: {stats:?}"
    );
    assert_eq!(
        stats.errors("invalid_grant"),
        0,
        "no refresh token used twice: {stats:?}"
    );
    assert_eq!(
        stats.resource_unauthorized(),
        0,
        "refreshed ahead of expiry: {stats:?}"
    );
    assert_eq!(grants.first().map(String::as_str), Some("password"));
    assert_eq!(grants.last().map(String::as_str), Some("refresh_token"));
}

// ---- load ----

/// 200 callers for three 2 s token lifetimes: no call fails, no call meets a 401, and the
/// token endpoint sees one request per refresh period (the early window of a 2 s token is
/// clamped to 1 s), not one per caller.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_callers_over_three_token_lifetimes() {
    const CALLERS: u64 = 200;
    const RUN: Duration = Duration::from_secs(6);
    let server = InteropServer::start(2).await;
    let http = middleware_client(provider(client_credentials(&server)));
    let url = server.resource_url();
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let first_failure = Arc::new(std::sync::Mutex::new(None));

    let started = Instant::now();
    let mut callers = JoinSet::new();
    for caller in 0..CALLERS {
        let (http, url) = (http.clone(), url.clone());
        let (ok, failed, first_failure) = (ok.clone(), failed.clone(), first_failure.clone());
        callers.spawn(async move {
            while started.elapsed() < RUN {
                match call(&http, &url).await {
                    Ok(_) => ok.fetch_add(1, Ordering::Relaxed),
                    Err(why) => {
                        first_failure.lock().unwrap().get_or_insert(why);
                        failed.fetch_add(1, Ordering::Relaxed)
                    }
                };
                tokio::time::sleep(Duration::from_millis(40 + caller % 20)).await;
            }
        });
    }
    within(RUN * 3, "the callers", callers.join_all()).await;
    let elapsed = started.elapsed();

    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    assert_eq!(
        failed,
        0,
        "first failure: {:?}",
        first_failure.lock().unwrap()
    );
    let stats = server.stats().await;
    let tokens = stats.requests("client_credentials");
    let bound = elapsed.as_secs_f64().ceil() as u64 + 2;
    eprintln!("{ok} calls in {elapsed:?}, {tokens} token requests (bound {bound})");
    assert!(ok >= CALLERS * 5, "{ok} calls only");
    assert!(
        (3..=bound).contains(&tokens),
        "{tokens} token requests in {elapsed:?}: {stats:?}"
    );
    assert_eq!(stats.resource_ok(), ok, "{stats:?}");
    assert_eq!(
        stats.resource_unauthorized(),
        0,
        "no caller met an expired token: {stats:?}"
    );
}

// ---- restart ----

/// The server restarts on the same port and forgets every token: the calls holding the old
/// token get a 401, the token is invalidated once, one new token is fetched, and every
/// call succeeds on its single retry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_restart_forgets_tokens_and_calls_recover_with_one_refresh() {
    let mut server = InteropServer::start(60).await;
    let http = middleware_client(provider(client_credentials(&server)));
    let url = server.resource_url();
    for _ in 0..5 {
        call(&http, &url).await.unwrap();
    }
    assert_eq!(server.stats().await.requests("client_credentials"), 1);

    server.restart().await;
    let outcomes = concurrent_calls(&http, &url, 50).await;

    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    let stats = server.stats().await;
    eprintln!("restart (client_credentials): {stats:?}");
    assert_eq!(
        stats.requests("client_credentials"),
        1,
        "one refresh: {stats:?}"
    );
    let rejected = stats.resource_unauthorized();
    assert!(
        (1..=50).contains(&rejected),
        "old token rejected: {stats:?}"
    );
    assert_eq!(stats.resource_ok(), 50, "{stats:?}");
}

/// After a restart the server has also forgotten the refresh token: the refresh grant gets
/// `invalid_grant`, and the client falls back to the password grant in the same refresh.
#[tokio::test]
async fn server_restart_forgets_the_refresh_token_and_the_client_falls_back_to_password() {
    let mut server = InteropServer::start(60).await;
    let http = middleware_client(provider(password(&server)));
    let url = server.resource_url();
    assert_eq!(call(&http, &url).await.unwrap(), "password");

    server.restart().await;
    let outcomes = concurrent_calls(&http, &url, 20).await;

    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    let stats = server.stats().await;
    eprintln!("restart (password): {stats:?}");
    assert_eq!(stats.requests("refresh_token"), 1, "{stats:?}");
    assert_eq!(stats.errors("invalid_grant"), 1, "{stats:?}");
    assert_eq!(stats.requests("password"), 1, "{stats:?}");
    assert_eq!(stats.issued("password"), 1, "{stats:?}");
    assert_eq!(stats.resource_ok(), 20, "{stats:?}");
}

/// `n` calls at once, each in its own task.
async fn concurrent_calls(
    http: &reqwest_middleware::ClientWithMiddleware,
    url: &str,
    n: usize,
) -> Vec<Result<String, String>> {
    let mut calls = JoinSet::new();
    for _ in 0..n {
        let (http, url) = (http.clone(), url.to_owned());
        calls.spawn(async move { call(&http, &url).await });
    }
    within(Duration::from_secs(20), "the calls", calls.join_all()).await
}

// ---- a client generated by #[token_client] ----

/// What `GET /resource` answers.
#[derive(Debug, Deserialize)]
struct Whoami {
    user: String,
    grant: String,
}

#[token_client]
trait Protected {
    #[get("/resource")]
    async fn whoami(&self) -> Result<Whoami, token_client::Error>;
}

/// A generated client against the real server: tokens across two expiries (password, then
/// rotated refresh tokens), then a restart that forgets them all.
#[tokio::test]
async fn generated_client_across_expiries_and_a_restart() {
    let mut server = InteropServer::start(2).await;
    let client = ProtectedClient::builder()
        .base_url(server.base_url())
        .token_options(password(&server))
        .build()
        .expect("a client");

    let started = Instant::now();
    let mut grants = Vec::new();
    while started.elapsed() < Duration::from_millis(3500) {
        let whoami = client.whoami().await.expect("a call");
        assert_eq!(whoami.user, "user-1");
        grants.push(whoami.grant);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(grants.first().map(String::as_str), Some("password"));
    assert_eq!(grants.last().map(String::as_str), Some("refresh_token"));
    let stats = server.stats().await;
    assert!(stats.requests("refresh_token") >= 2, "{stats:?}");
    assert_eq!(stats.resource_unauthorized(), 0, "{stats:?}");

    server.restart().await;
    let whoami = client.whoami().await.expect("a call after the restart");
    assert_eq!(
        whoami.grant, "password",
        "refresh token forgotten: fell back to password"
    );
    let stats = server.stats().await;
    assert_eq!(stats.resource_unauthorized(), 1, "{stats:?}");
    assert_eq!(stats.errors("invalid_grant"), 1, "{stats:?}");
}

#[tokio::test]
async fn generated_client_reports_invalid_client_as_a_token_error() {
    let server = InteropServer::start(60).await;
    let client = ProtectedClient::builder()
        .base_url(server.base_url())
        .token_options(client_credentials(&server).client_secret("not-the-secret"))
        .build()
        .expect("a client");

    let error = client.whoami().await.expect_err("a wrong secret");
    match &error {
        token_client::Error::Token(token) => {
            assert_eq!(token.oauth_error(), Some("invalid_client"), "{token}")
        }
        other => panic!("expected Error::Token, got {other:?}"),
    }
    let stats = server.stats().await;
    let sent = stats.resource_ok() + stats.resource_unauthorized();
    assert_eq!(sent, 0, "nothing sent without a token: {stats:?}");
}
