//! What the OAuth2 source sends for enterprise identity providers, checked request by
//! request against a local endpoint (wiremock): signed client assertions
//! (`private_key_jwt` with RS256, PS256, ES256, EdDSA; `client_secret_jwt`), the JWT
//! bearer grant, discovery from an issuer, mutual-TLS endpoint aliases, and the
//! configuration keys. The keys in `tests/fixtures/keys/` are test-only (made with
//! openssl). The same features against a certified OpenID provider: the facade's
//! `tests/oidc.rs`.

use std::collections::HashMap;
use std::path::PathBuf;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use token_client_runtime::{
    AssertionAudience, ClientAuth, OAuth2Source, SigningAlgorithm, TokenError, TokenOptions,
    TokenSource,
};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

fn key_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/keys/{name}"))
}

fn key(name: &str) -> String {
    std::fs::read_to_string(key_path(name)).unwrap()
}

fn ok_token() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(serde_json::json!({
        "access_token": "issued", "token_type": "Bearer", "expires_in": 300
    }))
}

/// A token endpoint at `/token` answering `ok_token`.
async fn endpoint() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ok_token())
        .mount(&server)
        .await;
    server
}

fn form(request: &Request) -> HashMap<String, String> {
    form_urlencoded::parse(&request.body).into_owned().collect()
}

async fn token_requests(server: &MockServer) -> Vec<Request> {
    let requests = server.received_requests().await.unwrap();
    requests
        .into_iter()
        .filter(|r| r.url.path() == "/token")
        .collect()
}

/// Verifies `assertion` with `key` for `alg` and audience `aud`; returns its header kid
/// and claims.
fn verify(
    assertion: &str,
    key: &DecodingKey,
    alg: Algorithm,
    aud: &str,
) -> (Option<String>, Value) {
    let mut validation = Validation::new(alg);
    validation.set_audience(&[aud]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "sub", "aud", "jti"]);
    let data = jsonwebtoken::decode::<Value>(assertion, key, &validation)
        .unwrap_or_else(|e| panic!("the assertion verifies with {alg:?}: {e}"));
    (data.header.kid, data.claims)
}

#[tokio::test]
async fn private_key_jwt_signs_a_fresh_assertion_with_each_algorithm() {
    let cases = [
        (
            "rsa.pem",
            "rsa.pub.pem",
            SigningAlgorithm::RS256,
            Algorithm::RS256,
        ),
        (
            "rsa.pem",
            "rsa.pub.pem",
            SigningAlgorithm::PS256,
            Algorithm::PS256,
        ),
        (
            "ec.pem",
            "ec.pub.pem",
            SigningAlgorithm::ES256,
            Algorithm::ES256,
        ),
        (
            "ed25519.pem",
            "ed25519.pub.pem",
            SigningAlgorithm::EdDSA,
            Algorithm::EdDSA,
        ),
    ];
    for (private, public, configured, alg) in cases {
        let server = endpoint().await;
        let endpoint_url = format!("{}/token", server.uri());
        let options = TokenOptions::client_credentials(&endpoint_url, "svc", "")
            .client_auth(ClientAuth::PrivateKeyJwt)
            .private_key_pem(key(private))
            .signing_algorithm(configured)
            .key_id("key-1");
        let source = OAuth2Source::new(options).unwrap();
        source.fetch().await.unwrap();
        source.fetch().await.unwrap();

        let requests = token_requests(&server).await;
        assert_eq!(requests.len(), 2);
        let decoding = match alg {
            Algorithm::RS256 | Algorithm::PS256 => {
                DecodingKey::from_rsa_pem(key(public).as_bytes())
            }
            Algorithm::ES256 => DecodingKey::from_ec_pem(key(public).as_bytes()),
            _ => DecodingKey::from_ed_pem(key(public).as_bytes()),
        }
        .unwrap();
        let mut jtis = Vec::new();
        for request in &requests {
            assert!(
                !request.headers.contains_key("authorization"),
                "no Basic header"
            );
            let form = form(request);
            assert_eq!(form["grant_type"], "client_credentials");
            assert_eq!(form["client_id"], "svc");
            assert_eq!(
                form["client_assertion_type"],
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
            );
            assert!(!form.contains_key("client_secret"));
            let (kid, claims) = verify(&form["client_assertion"], &decoding, alg, &endpoint_url);
            assert_eq!(kid.as_deref(), Some("key-1"));
            assert_eq!(claims["iss"], "svc");
            assert_eq!(claims["sub"], "svc");
            let lifetime = claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap();
            assert_eq!(lifetime, 60, "{alg:?}: a short-lived assertion");
            jtis.push(claims["jti"].as_str().unwrap().to_owned());
        }
        assert_ne!(jtis[0], jtis[1], "{alg:?}: each assertion has its own jti");
    }
}

#[tokio::test]
async fn client_secret_jwt_signs_with_the_secret_and_never_sends_it() {
    let server = endpoint().await;
    let endpoint_url = format!("{}/token", server.uri());
    let secret = "a-client-secret-of-at-least-32-bytes!!";
    let options = TokenOptions::client_credentials(&endpoint_url, "svc", secret)
        .client_auth(ClientAuth::ClientSecretJwt);
    OAuth2Source::new(options).unwrap().fetch().await.unwrap();

    let request = &token_requests(&server).await[0];
    let body = String::from_utf8_lossy(&request.body);
    assert!(!body.contains(secret), "the secret is not sent");
    assert!(!request.headers.contains_key("authorization"));
    let form = form(request);
    let key = DecodingKey::from_secret(secret.as_bytes()).unwrap();
    let (kid, claims) = verify(
        &form["client_assertion"],
        &key,
        Algorithm::HS256,
        &endpoint_url,
    );
    assert_eq!(kid, None);
    assert_eq!(claims["iss"], "svc");
}

#[tokio::test]
async fn the_assertion_audience_can_be_the_issuer() {
    let server = endpoint().await;
    let options = TokenOptions::client_credentials(format!("{}/token", server.uri()), "svc", "")
        .issuer("https://login.example/tenant")
        .assertion_audience(AssertionAudience::Issuer)
        .client_auth(ClientAuth::PrivateKeyJwt)
        .private_key_path(key_path("ec.pem"))
        .signing_algorithm(SigningAlgorithm::ES256);
    OAuth2Source::new(options).unwrap().fetch().await.unwrap();

    let form = form(&token_requests(&server).await[0]);
    let key = DecodingKey::from_ec_pem(key("ec.pub.pem").as_bytes()).unwrap();
    verify(
        &form["client_assertion"],
        &key,
        Algorithm::ES256,
        "https://login.example/tenant",
    );
}

#[tokio::test]
async fn the_jwt_bearer_grant_sends_a_signed_assertion_as_the_grant() {
    let server = endpoint().await;
    let endpoint_url = format!("{}/token", server.uri());
    let options = TokenOptions::jwt_bearer(&endpoint_url, "svc")
        .subject("reports@svc.example")
        .private_key_pem(key("rsa.pem"))
        .key_id("sa-key")
        .scope("reports.read");
    OAuth2Source::new(options).unwrap().fetch().await.unwrap();

    let request = &token_requests(&server).await[0];
    assert!(!request.headers.contains_key("authorization"));
    let form = form(request);
    assert_eq!(
        form["grant_type"],
        "urn:ietf:params:oauth:grant-type:jwt-bearer"
    );
    assert_eq!(form["client_id"], "svc");
    assert_eq!(form["scope"], "reports.read");
    assert!(
        !form.contains_key("client_assertion"),
        "no client authentication besides"
    );
    let key = DecodingKey::from_rsa_pem(key("rsa.pub.pem").as_bytes()).unwrap();
    let (kid, claims) = verify(&form["assertion"], &key, Algorithm::RS256, &endpoint_url);
    assert_eq!(kid.as_deref(), Some("sa-key"));
    assert_eq!(claims["iss"], "svc");
    assert_eq!(claims["sub"], "reports@svc.example");
}

#[tokio::test]
async fn an_assertion_a_server_echoes_is_scrubbed_from_its_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(|request: &Request| {
            let assertion = form(request)["client_assertion"].clone();
            ResponseTemplate::new(400).set_body_json(serde_json::json!({
                "error": "invalid_client",
                "error_description": format!("bad assertion {assertion}")
            }))
        })
        .mount(&server)
        .await;
    let options = TokenOptions::client_credentials(format!("{}/token", server.uri()), "svc", "")
        .client_auth(ClientAuth::PrivateKeyJwt)
        .private_key_pem(key("rsa.pem"));
    let error = OAuth2Source::new(options)
        .unwrap()
        .fetch()
        .await
        .unwrap_err();
    let shown = format!("{error} {error:?}");
    assert!(shown.contains("invalid_client"), "{shown}");
    assert!(!shown.contains("eyJ"), "no assertion in the error: {shown}");
}

#[test]
fn keys_that_cannot_sign_are_refused_when_the_source_is_built_naming_the_option() {
    let base = || {
        TokenOptions::client_credentials("https://login.example/token", "svc", "")
            .client_auth(ClientAuth::PrivateKeyJwt)
    };
    let error = |options: TokenOptions| match OAuth2Source::new(options) {
        Err(TokenError::InvalidOptions(message)) => message,
        Err(other) => panic!("not InvalidOptions: {other:?}"),
        Ok(_) => panic!("accepted"),
    };
    let missing = error(base());
    assert!(missing.contains("PrivateKey"), "{missing}");
    let wrong_kind = error(base().private_key_pem(key("ec.pem")));
    assert!(
        wrong_kind.contains("RSA") && wrong_kind.contains("RS256"),
        "{wrong_kind}"
    );
    let p384 = error(
        base()
            .private_key_pem(key("ec384.pem"))
            .signing_algorithm(SigningAlgorithm::ES256),
    );
    assert!(p384.contains("PrivateKey"), "{p384}");
    let garbage = error(base().private_key_pem("-----BEGIN PRIVATE KEY-----\nnope\n"));
    assert!(garbage.contains("PrivateKey"), "{garbage}");
    let unreadable = error(base().private_key_path("/nonexistent/key.pem"));
    assert!(
        unreadable.contains("`PrivateKeyPath` `/nonexistent/key.pem`"),
        "{unreadable}"
    );
    let hs_with_key = error(
        base()
            .private_key_pem(key("rsa.pem"))
            .signing_algorithm(SigningAlgorithm::HS256),
    );
    assert!(hs_with_key.contains("ClientSecretJwt"), "{hs_with_key}");
    let no_secret = error(
        TokenOptions::client_credentials("https://login.example/token", "svc", "")
            .client_auth(ClientAuth::ClientSecretJwt),
    );
    assert!(no_secret.contains("ClientSecret"), "{no_secret}");
    let no_certificate = error(
        TokenOptions::client_credentials("https://login.example/token", "svc", "")
            .client_auth(ClientAuth::TlsClientAuth),
    );
    assert!(
        no_certificate.contains("ClientCertificate"),
        "{no_certificate}"
    );
    let bad_certificate = error(
        TokenOptions::client_credentials("https://login.example/token", "svc", "")
            .client_auth(ClientAuth::TlsClientAuth)
            .client_certificate_pem("not a certificate", key("ec.pem")),
    );
    assert!(
        bad_certificate.contains("ClientCertificate"),
        "{bad_certificate}"
    );
    let no_issuer = error(
        base()
            .private_key_pem(key("rsa.pem"))
            .assertion_audience(AssertionAudience::Issuer),
    );
    assert!(no_issuer.contains("Issuer"), "{no_issuer}");

    // The keys never show.
    let shown = format!(
        "{:?}",
        base()
            .private_key_pem(key("rsa.pem"))
            .client_certificate_pem(key("client.crt"), key("ec.pem"))
    );
    assert!(
        !shown.contains("PRIVATE KEY") && !shown.contains("MII"),
        "{shown}"
    );
}

// ---- discovery ----

/// An issuer at the mock's root serving `document` at `at`.
async fn issuer_serving(at: &str, document: impl Fn(&str) -> Value) -> (MockServer, String) {
    let server = MockServer::start().await;
    let issuer = server.uri();
    Mock::given(method("GET"))
        .and(path(at))
        .respond_with(ResponseTemplate::new(200).set_body_json(document(&issuer)))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(ok_token())
        .mount(&server)
        .await;
    (server, issuer)
}

fn document(issuer: &str) -> Value {
    serde_json::json!({
        "issuer": issuer,
        "token_endpoint": format!("{issuer}/oauth/token"),
        "mtls_endpoint_aliases": {"token_endpoint": format!("{issuer}/oauth/token?mtls=1")},
    })
}

async fn discovery_requests(server: &MockServer) -> usize {
    let requests = server.received_requests().await.unwrap();
    requests
        .iter()
        .filter(|r| r.method == wiremock::http::Method::GET)
        .count()
}

#[tokio::test]
async fn the_token_endpoint_is_discovered_once_from_the_issuer() {
    let (server, issuer) = issuer_serving("/.well-known/openid-configuration", document).await;
    let source =
        OAuth2Source::new(TokenOptions::from_issuer(&issuer, "svc").client_secret("s")).unwrap();
    for _ in 0..3 {
        source.fetch().await.unwrap();
    }
    assert_eq!(
        discovery_requests(&server).await,
        1,
        "discovered once, not per token"
    );
    let tokens = token_requests(&server).await;
    assert!(
        tokens.is_empty(),
        "requests went to the discovered endpoint"
    );
    let requests = server.received_requests().await.unwrap();
    let posts: Vec<_> = requests
        .iter()
        .filter(|r| r.url.path() == "/oauth/token")
        .collect();
    assert_eq!(posts.len(), 3);
    assert_eq!(
        posts[0].url.query(),
        None,
        "not the mTLS alias for a secret-based client"
    );
}

#[tokio::test]
async fn discovery_falls_back_to_rfc_8414_and_uses_the_mtls_alias_for_certificate_clients() {
    let (server, issuer) = issuer_serving("/.well-known/oauth-authorization-server/tenant", |_| {
        Value::Null
    })
    .await;
    let tenant = format!("{issuer}/tenant");
    Mock::given(method("GET"))
        .and(path("/.well-known/oauth-authorization-server/tenant"))
        .respond_with(ResponseTemplate::new(200).set_body_json(document(&tenant)))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/tenant/oauth/token"))
        .respond_with(ok_token())
        .mount(&server)
        .await;
    let options = TokenOptions::from_issuer(&tenant, "svc")
        .client_auth(ClientAuth::SelfSignedTlsClientAuth)
        .client_certificate_path(key_path("client.crt"), key_path("ec.pem"));
    OAuth2Source::new(options).unwrap().fetch().await.unwrap();

    let requests = server.received_requests().await.unwrap();
    let gets: Vec<_> = requests
        .iter()
        .filter(|r| r.method == wiremock::http::Method::GET)
        .collect();
    assert_eq!(
        gets[0].url.path(),
        "/tenant/.well-known/openid-configuration"
    );
    assert_eq!(
        gets[1].url.path(),
        "/.well-known/oauth-authorization-server/tenant"
    );
    let post = requests
        .iter()
        .find(|r| r.method == wiremock::http::Method::POST)
        .unwrap();
    assert_eq!(post.url.query(), Some("mtls=1"), "the mutual-TLS alias");
    assert_eq!(form(post)["client_id"], "svc");
}

#[tokio::test]
async fn a_document_naming_another_issuer_or_an_http_endpoint_is_refused_and_retried_later() {
    let mismatch = |_: &str| serde_json::json!({"issuer": "https://evil.example", "token_endpoint": "https://evil.example/token"});
    let (server, issuer) = issuer_serving("/.well-known/openid-configuration", mismatch).await;
    let source =
        OAuth2Source::new(TokenOptions::from_issuer(&issuer, "svc").client_secret("s")).unwrap();
    for _ in 0..2 {
        match source.fetch().await.unwrap_err() {
            TokenError::Discovery { url, reason } => {
                assert_eq!(url, format!("{issuer}/.well-known/openid-configuration"));
                assert!(reason.contains("https://evil.example"), "{reason}");
            }
            other => panic!("not a discovery error: {other:?}"),
        }
    }
    assert_eq!(
        discovery_requests(&server).await,
        2,
        "a failure is not cached"
    );
    assert!(token_requests(&server).await.is_empty());

    let http = |issuer: &str| serde_json::json!({"issuer": issuer, "token_endpoint": "http://login.example/token"});
    let (_server, issuer) = issuer_serving("/.well-known/openid-configuration", http).await;
    let source =
        OAuth2Source::new(TokenOptions::from_issuer(&issuer, "svc").client_secret("s")).unwrap();
    let error = source.fetch().await.unwrap_err().to_string();
    assert!(
        error.contains("token_endpoint") && error.contains("http"),
        "{error}"
    );

    let server = MockServer::start().await;
    let source =
        OAuth2Source::new(TokenOptions::from_issuer(server.uri(), "svc").client_secret("s"))
            .unwrap();
    let error = source.fetch().await.unwrap_err().to_string();
    assert!(error.contains("404"), "both locations missing: {error}");
}

#[test]
fn an_issuer_must_be_https_and_one_of_endpoint_or_issuer_is_required() {
    let refused = |options: TokenOptions| OAuth2Source::new(options).err().unwrap().to_string();
    assert!(refused(TokenOptions::from_issuer("http://login.example", "svc")).contains("issuer"));
    assert!(
        refused(TokenOptions::from_issuer(
            "https://login.example?x=1",
            "svc"
        ))
        .contains("query")
    );
    assert!(refused(TokenOptions::client_credentials("", "svc", "s")).contains("issuer"));
}

// ---- configuration keys ----

#[test]
fn every_new_choice_is_reachable_from_configuration_in_both_spellings() {
    let pascal = serde_json::json!({
        "Issuer": "https://login.example/tenant",
        "ClientId": "svc",
        "ClientAuth": "PrivateKeyJwt",
        "PrivateKeyPath": key_path("ec.pem"),
        "KeyId": "k1",
        "SigningAlgorithm": "ES256",
        "AssertionAudience": "Issuer",
        "Resource": ["https://a.example", "https://b.example"],
    });
    let snake = serde_json::json!({
        "issuer": "https://login.example/tenant",
        "client_id": "svc",
        "client_auth": "private_key_jwt",
        "private_key": key("ec.pem"),
        "key_id": "k1",
        "signing_algorithm": "ES256",
        "assertion_audience": "issuer",
        "resource": "https://a.example",
    });
    for config in [pascal, snake] {
        let options: TokenOptions = serde_json::from_value(config).unwrap();
        OAuth2Source::new(options).expect("a usable configuration");
    }
    let mtls: TokenOptions = serde_json::from_value(serde_json::json!({
        "TokenEndpoint": "https://login.example/token",
        "ClientId": "svc",
        "ClientAuth": "tls_client_auth",
        "ClientCertificatePath": key_path("client.crt"),
        "ClientCertificateKeyPath": key_path("ec.pem"),
    }))
    .unwrap();
    OAuth2Source::new(mtls).expect("a certificate from files");
    let bearer: TokenOptions = serde_json::from_value(serde_json::json!({
        "TokenEndpoint": "https://login.example/token",
        "ClientId": "svc",
        "GrantType": "JwtBearer",
        "Subject": "someone",
        "PrivateKey": key("rsa.pem"),
    }))
    .unwrap();
    OAuth2Source::new(bearer).expect("a JWT bearer grant");

    let refused = |config: Value| {
        serde_json::from_value::<TokenOptions>(config)
            .err()
            .unwrap()
            .to_string()
    };
    let both = refused(
        serde_json::json!({"TokenEndpoint": "https://x", "ClientId": "a", "PrivateKey": "k", "PrivateKeyPath": "p"}),
    );
    assert!(both.contains("`PrivateKey` and `PrivateKeyPath`"), "{both}");
    let half = refused(
        serde_json::json!({"TokenEndpoint": "https://x", "ClientId": "a", "ClientCertificatePath": "c"}),
    );
    assert!(half.contains("ClientCertificateKey"), "{half}");
    let neither = refused(serde_json::json!({"ClientId": "a"}));
    assert!(
        neither.contains("`TokenEndpoint`") && neither.contains("`Issuer`"),
        "{neither}"
    );
    let subject =
        refused(serde_json::json!({"TokenEndpoint": "https://x", "ClientId": "a", "Subject": "s"}));
    assert!(subject.contains("Subject"), "{subject}");
    let algorithm = refused(
        serde_json::json!({"TokenEndpoint": "https://x", "ClientId": "a", "SigningAlgorithm": "none"}),
    );
    assert!(
        algorithm.contains("SigningAlgorithm") || algorithm.contains("unknown variant"),
        "{algorithm}"
    );
}

#[tokio::test]
async fn a_hostile_discovery_document_is_quoted_short_and_escaped() {
    let hostile = |_: &str| {
        serde_json::json!({
            "issuer": format!("https://x\nFORGED {}", "a".repeat(100_000)),
            "token_endpoint": "https://x/token",
        })
    };
    let (_server, issuer) = issuer_serving("/.well-known/openid-configuration", hostile).await;
    let source =
        OAuth2Source::new(TokenOptions::from_issuer(&issuer, "svc").client_secret("s")).unwrap();
    let error = source.fetch().await.unwrap_err().to_string();
    assert!(error.len() < 1000, "cut short: {} bytes", error.len());
    assert!(!error.contains('\n'), "no line break: {error}");
    assert!(error.contains("names the issuer"), "{error}");
}
