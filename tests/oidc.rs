//! Interop with a certified OpenID provider: the npm package `oidc-provider` behind
//! `tests/oidc-server/server.js` (pinned by its package-lock.json; `npm ci` on first use),
//! over HTTPS with a test CA made at test time, asking for client certificates. Every
//! token request below is checked by oidc-provider's own code: discovery, each client
//! authentication method, the JWT bearer grant, resource indicators (the token's `aud`,
//! read back by introspection), per-method scopes through a generated client, and the
//! failures a user meets (wrong key, wrong `kid`, an expired assertion, an issuer
//! mismatch), each a clear `TokenError`.

mod support;

use std::sync::OnceLock;

use serde_json::{Value, json};
use support::oidc_server::{JWT_BEARER, OidcServer, TestKeys, clients, scratch_dir, test_keys};
use token_client::{
    AccessToken, ClientAuth, SharedTokenProvider, SigningAlgorithm, TokenError, TokenOptions,
    TokenProvider,
};

const INTROSPECTOR: (&str, &str) = ("introspector", "introspector-secret");
const HS_SECRET: &str = "a-client-secret-of-at-least-thirty-two-bytes";

/// The test keys, made once per test binary.
fn keys() -> &'static TestKeys {
    static KEYS: OnceLock<TestKeys> = OnceLock::new();
    KEYS.get_or_init(|| test_keys(&scratch_dir("keys")))
}

/// Every client these tests use.
fn all_clients() -> Value {
    let k = keys();
    json!([
        clients::secret_basic(INTROSPECTOR.0, INTROSPECTOR.1),
        clients::secret_basic("basic", "basic-secret"),
        clients::secret_post("post", "post-secret"),
        clients::secret_jwt("hs256", HS_SECRET),
        clients::private_key_jwt("rs256", &[(&k.rsa_public_pem, "rsa-1", "RS256")]),
        clients::private_key_jwt("ps256", &[(&k.rsa_public_pem, "rsa-1", "PS256")]),
        clients::private_key_jwt("es256", &[(&k.ec_public_pem, "ec-1", "ES256")]),
        clients::private_key_jwt("eddsa", &[(&k.ed25519_public_pem, "ed-1", "EdDSA")]),
        clients::tls_client_auth("mtls", TestKeys::MTLS_SUBJECT_DN),
        clients::self_signed_tls_client_auth("self-signed", &k.self_signed_cert_pem),
        clients::with_grants(
            clients::private_key_jwt("bearer", &[(&k.rsa_public_pem, "rsa-1", "RS256")]),
            &[JWT_BEARER],
        ),
    ])
}

/// A provider for `options`, trusting the server's test CA.
fn provider(server: &OidcServer, options: TokenOptions) -> SharedTokenProvider {
    let ca = token_client::reqwest::Certificate::from_pem(&server.ca_pem()).unwrap();
    let http = token_client::reqwest::Client::builder().tls_certs_only([ca]);
    SharedTokenProvider::builder(options)
        .http_client_builder(http)
        .build()
        .unwrap_or_else(|error| panic!("the provider builds: {error}"))
}

async fn token(server: &OidcServer, options: TokenOptions) -> Result<AccessToken, TokenError> {
    provider(server, options).token().await
}

async fn introspect(server: &OidcServer, token: &AccessToken) -> Value {
    server
        .introspect(token.secret(), INTROSPECTOR.0, INTROSPECTOR.1)
        .await
}

/// Asserts `token` is active for `client_id`, and returns its introspection.
async fn active_for(server: &OidcServer, token: &AccessToken, client_id: &str) -> Value {
    let info = introspect(server, token).await;
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(info["client_id"], client_id, "{info}");
    info
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_client_authentication_method_gets_a_token_from_a_discovered_endpoint() {
    let server = OidcServer::start(all_clients()).await;
    let k = keys();
    let issuer = server.issuer();
    let from_issuer = |id: &str| TokenOptions::from_issuer(&issuer, id).scope("orders.read");
    let private_key = |id: &str, pem: &str, alg: SigningAlgorithm, kid: &str| {
        from_issuer(id)
            .client_auth(ClientAuth::PrivateKeyJwt)
            .private_key_pem(pem)
            .signing_algorithm(alg)
            .key_id(kid)
    };
    let cases = [
        (
            "basic",
            "client_secret_basic",
            from_issuer("basic").client_secret("basic-secret"),
        ),
        (
            "post",
            "client_secret_post",
            from_issuer("post")
                .client_secret("post-secret")
                .client_auth(ClientAuth::RequestBody),
        ),
        (
            "hs256",
            "client_secret_jwt",
            from_issuer("hs256")
                .client_secret(HS_SECRET)
                .client_auth(ClientAuth::ClientSecretJwt),
        ),
        (
            "rs256",
            "private_key_jwt",
            private_key(
                "rs256",
                &k.rsa_private_pem,
                SigningAlgorithm::RS256,
                "rsa-1",
            ),
        ),
        (
            "ps256",
            "private_key_jwt",
            private_key(
                "ps256",
                &k.rsa_private_pem,
                SigningAlgorithm::PS256,
                "rsa-1",
            ),
        ),
        (
            "es256",
            "private_key_jwt",
            private_key("es256", &k.ec_private_pem, SigningAlgorithm::ES256, "ec-1"),
        ),
        (
            "eddsa",
            "private_key_jwt",
            private_key(
                "eddsa",
                &k.ed25519_private_pem,
                SigningAlgorithm::EdDSA,
                "ed-1",
            ),
        ),
        (
            "mtls",
            "tls_client_auth",
            from_issuer("mtls")
                .client_auth(ClientAuth::TlsClientAuth)
                .client_certificate_pem(&k.mtls_cert_pem, &k.mtls_key_pem),
        ),
        (
            "self-signed",
            "self_signed_tls_client_auth",
            from_issuer("self-signed")
                .client_auth(ClientAuth::SelfSignedTlsClientAuth)
                .client_certificate_pem(&k.self_signed_cert_pem, &k.self_signed_key_pem),
        ),
    ];
    for (client_id, method, options) in cases {
        let token = token(&server, options)
            .await
            .unwrap_or_else(|error| panic!("{client_id}: {error}; {}", server.stderr()));
        let info = active_for(&server, &token, client_id).await;
        assert_eq!(info["scope"], "orders.read", "{client_id}: {info}");
        let stats = server.stats().await;
        assert_eq!(
            stats["by_client"][client_id]["issued"], 1,
            "{client_id}: one token request, answered: {stats}"
        );
        assert!(
            stats["by_auth_method"][method]["issued"].as_u64() >= Some(1),
            "{client_id} authenticated with {method}: {stats}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_jwt_bearer_grant_is_accepted_and_acts_for_its_subject() {
    let server = OidcServer::start(all_clients()).await;
    let options = TokenOptions::jwt_bearer(server.token_endpoint(), "bearer")
        .subject("reports-robot")
        .private_key_pem(&keys().rsa_private_pem)
        .key_id("rsa-1")
        .client_auth(ClientAuth::PrivateKeyJwt)
        .scope("orders.read");
    let token = token(&server, options)
        .await
        .unwrap_or_else(|error| panic!("{error}; {}", server.stderr()));
    let info = active_for(&server, &token, "bearer").await;
    assert_eq!(info["sub"], "reports-robot", "{info}");
    assert_eq!(
        server.stats().await["by_grant_type"][JWT_BEARER]["issued"],
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resource_indicator_becomes_the_token_audience() {
    let server = OidcServer::start(all_clients()).await;
    let options = TokenOptions::from_issuer(server.issuer(), "basic")
        .client_secret("basic-secret")
        .scope("orders.read")
        .resource("https://orders.example.test/");
    let token = token(&server, options).await.unwrap();
    let info = active_for(&server, &token, "basic").await;
    assert_eq!(info["aud"], "https://orders.example.test/", "{info}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_failures_a_user_meets_are_clear_token_errors() {
    let server = OidcServer::start(all_clients()).await;
    let k = keys();
    let rs256 = || {
        TokenOptions::from_issuer(server.issuer(), "rs256")
            .client_auth(ClientAuth::PrivateKeyJwt)
            .key_id("rsa-1")
            .private_key_pem(&k.rsa_private_pem)
    };
    let oauth_error = |error: TokenError| match error {
        TokenError::OAuth { error, status, .. } => (error, status.as_u16()),
        other => panic!("not an OAuth error: {other:?}"),
    };

    // A key the server does not know for this client.
    let wrong_key = rs256()
        .private_key_pem(&k.ec_private_pem)
        .signing_algorithm(SigningAlgorithm::ES256);
    let error = token(&server, wrong_key).await.unwrap_err();
    assert_eq!(oauth_error(error), ("invalid_client".to_owned(), 401));

    // The right key under a `kid` the client did not register.
    let error = token(&server, rs256().key_id("rsa-2")).await.unwrap_err();
    assert_eq!(oauth_error(error), ("invalid_client".to_owned(), 401));
    let why = server.last_error("rs256").await;
    assert!(
        why.to_string().contains("kid") || why.to_string().contains("key"),
        "{why}"
    );

    // A certificate client without its certificate's CA: refused.
    let error = token(
        &server,
        TokenOptions::from_issuer(server.issuer(), "mtls")
            .client_auth(ClientAuth::TlsClientAuth)
            .client_certificate_pem(&k.self_signed_cert_pem, &k.self_signed_key_pem),
    )
    .await
    .unwrap_err();
    assert_eq!(oauth_error(error), ("invalid_client".to_owned(), 401));

    // The issuer as configured must be the one the document names: 127.0.0.1 is the
    // same server, but not the same issuer (`https://localhost:<port>`).
    let elsewhere = server.issuer().replace("localhost", "127.0.0.1");
    let error = token(
        &server,
        TokenOptions::from_issuer(&elsewhere, "basic").client_secret("basic-secret"),
    )
    .await
    .unwrap_err();
    match error {
        TokenError::Discovery { url, reason } => {
            assert!(url.starts_with(&elsewhere), "{url}");
            assert!(reason.contains("names the issuer"), "{reason}");
        }
        other => panic!("not a discovery error: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_assertion_from_a_host_whose_clock_lags_is_refused_as_expired() {
    // The server's clock runs two minutes ahead: the client's one-minute assertion, signed
    // "now", has expired there.
    let server = OidcServer::start_with(all_clients(), &[("CLOCK_OFFSET", "120")]).await;
    let options = TokenOptions::from_issuer(server.issuer(), "rs256")
        .client_auth(ClientAuth::PrivateKeyJwt)
        .key_id("rsa-1")
        .private_key_pem(&keys().rsa_private_pem);
    let error = token(&server, options).await.unwrap_err();
    match &error {
        TokenError::OAuth { error: code, .. } => assert_eq!(code, "invalid_client"),
        other => panic!("not an OAuth error: {other:?}"),
    }
    let why = server.last_error("rs256").await.to_string();
    assert!(why.contains("exp") || why.contains("expired"), "{why}");
}

// ---- per-method scopes through a generated client ----

#[token_client::token_client]
#[scope("orders.read")]
pub trait Orders: Send + Sync {
    /// The trait's scope.
    #[get("/orders")]
    async fn list(&self) -> Result<(), token_client::Error>;

    /// Its own scope.
    #[post("/orders")]
    #[scope("orders.write")]
    async fn create(&self) -> Result<(), token_client::Error>;

    /// Its own scope and resource (the token's audience).
    #[get("/foos")]
    #[scope("foos.read")]
    #[resource("https://foos.example.test/")]
    async fn foos(&self) -> Result<(), token_client::Error>;
}

/// An API that accepts any bearer token and records which one each path got.
async fn recording_api() -> (
    String,
    std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>,
) {
    use std::sync::{Arc, Mutex};
    let seen: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let record = Arc::clone(&seen);
    let handler =
        move |method: axum::http::Method, uri: axum::http::Uri, headers: axum::http::HeaderMap| {
            let record = Arc::clone(&record);
            async move {
                let token = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer "))
                    .unwrap_or_default()
                    .to_owned();
                let route = format!("{method} {}", uri.path());
                record.lock().unwrap().push((route, token));
                axum::http::StatusCode::NO_CONTENT
            }
        };
    let app = axum::Router::new().fallback(handler);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_scope_set_of_a_generated_client_costs_one_token_request_however_many_calls() {
    let server = OidcServer::start(all_clients()).await;
    let (api, seen) = recording_api().await;
    let options = TokenOptions::from_issuer(server.issuer(), "basic").client_secret("basic-secret");
    let orders = OrdersClient::builder()
        .base_url(&api)
        .token_provider(provider(&server, options))
        .build()
        .unwrap();

    let mut calls = Vec::new();
    for _ in 0..30 {
        let orders = orders.clone();
        calls.push(tokio::spawn(async move {
            let (a, b, c) = tokio::join!(orders.list(), orders.create(), orders.foos());
            a.and(b).and(c)
        }));
    }
    for call in calls {
        call.await.unwrap().expect("every call succeeds");
    }

    assert_eq!(server.requests_for("basic", "orders.read", &[]).await, 1);
    assert_eq!(server.requests_for("basic", "orders.write", &[]).await, 1);
    assert_eq!(
        server
            .requests_for("basic", "foos.read", &["https://foos.example.test/"])
            .await,
        1
    );
    assert_eq!(
        server.stats().await["token_requests"],
        3,
        "3 sets, 90 calls"
    );

    // Each path carried its set's token, as the server issued it.
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 90);
    for (path, expected_scope, expected_aud) in [
        ("GET /orders", "orders.read", None),
        ("POST /orders", "orders.write", None),
        ("GET /foos", "foos.read", Some("https://foos.example.test/")),
    ] {
        let token = &seen.iter().find(|(p, _)| p == path).unwrap().1;
        let info = server
            .introspect(token, INTROSPECTOR.0, INTROSPECTOR.1)
            .await;
        assert_eq!(info["scope"], expected_scope, "{path}: {info}");
        if let Some(aud) = expected_aud {
            assert_eq!(info["aud"], aud, "{path}: {info}");
        }
    }
    let tokens: std::collections::HashSet<&String> = seen.iter().map(|(_, t)| t).collect();
    assert_eq!(tokens.len(), 3, "one token per set");
}
