//! `#[scope]` and `#[resource]` end to end: each distinct (scope, resources) set of a
//! trait gets a token of its own, asked for once however many calls run at once, with
//! that scope and those resources in the token request (what a method does not set is the
//! options'); each method's requests carry its set's token, `#[no_auth]` ones none.
//!
//! Also compiled under `clippy::pedantic` (by `cargo clippy --all-targets`): the
//! expansion of scoped methods is lint-clean.
#![deny(warnings, clippy::all, clippy::pedantic)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use token_client::{Error, TokenOptions, token_client};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// The service under test.
#[token_client(base_path = "/api")]
#[scope("foos.read")]
pub trait Foos: Send + Sync {
    /// The trait's scope, the options' resource.
    #[get("/foos")]
    async fn list(&self) -> Result<(), Error>;

    /// A scope of its own, the options' resource.
    #[post("/foos")]
    #[scope("foos.write")]
    async fn create(&self) -> Result<(), Error>;

    /// The trait's scope, resources of its own.
    #[get("/reports")]
    #[resource("https://reports.example.com")]
    #[resource("https://archive.example.com")]
    async fn reports(&self) -> Result<(), Error>;

    /// No token.
    #[get("/health")]
    #[no_auth]
    async fn health(&self) -> Result<(), Error>;
}

/// What one token request asked for.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Asked {
    scope: Option<String>,
    resources: Vec<String>,
}

impl Asked {
    fn new(scope: &str, resources: &[&str]) -> Self {
        Self {
            scope: Some(scope.to_owned()),
            resources: resources.iter().map(|r| (*r).to_owned()).collect(),
        }
    }

    /// The token issued for it, naming what was asked: `tok|foos.read|https://..`.
    fn token(&self) -> String {
        let scope = self.scope.as_deref().unwrap_or("-").replace(' ', "+");
        let parts = std::iter::once(scope).chain(self.resources.iter().cloned());
        parts.fold("tok".to_owned(), |token, part| format!("{token}|{part}"))
    }
}

/// A token endpoint recording the `scope` and `resource`s of each request, and answering
/// (slowly, so that concurrent calls pile up behind the first) a token naming them.
#[derive(Clone, Default)]
struct TokenEndpoint(Arc<Mutex<Vec<Asked>>>);

impl TokenEndpoint {
    fn asked(&self) -> Vec<Asked> {
        let mut asked = self.0.lock().unwrap().clone();
        asked.sort();
        asked
    }
}

impl Respond for TokenEndpoint {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body = String::from_utf8_lossy(&request.body);
        let form = reqwest::Url::parse(&format!("http://form/?{body}")).expect("a form body");
        let mut asked = Asked {
            scope: None,
            resources: Vec::new(),
        };
        for (name, value) in form.query_pairs() {
            match &*name {
                "scope" => asked.scope = Some(value.into_owned()),
                "resource" => asked.resources.push(value.into_owned()),
                _ => {}
            }
        }
        let token = asked.token();
        self.0.lock().unwrap().push(asked);
        ResponseTemplate::new(200)
            .set_body_json(serde_json::json!({
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": 3600,
            }))
            .set_delay(Duration::from_millis(200))
    }
}

const CALLS: u64 = 20;
const DEFAULT_RESOURCE: &str = "https://default.example.com";

/// The API answering each path only with the token of its set (anything else is a 404).
async fn mount_api(server: &MockServer, verb: &str, route: &str, asked: &Asked) {
    let bearer = format!("Bearer {}", asked.token());
    Mock::given(method(verb))
        .and(path(route))
        .and(header("authorization", bearer.as_str()))
        .respond_with(ResponseTemplate::new(204))
        .expect(CALLS)
        .named(format!("{verb} {route} with {bearer}"))
        .mount(server)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_scope_and_resource_set_gets_one_token_of_its_own() {
    let server = MockServer::start().await;
    let endpoint = TokenEndpoint::default();
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(endpoint.clone())
        .mount(&server)
        .await;
    let list = Asked::new("foos.read", &[DEFAULT_RESOURCE]);
    let create = Asked::new("foos.write", &[DEFAULT_RESOURCE]);
    let reports = Asked::new(
        "foos.read",
        &["https://reports.example.com", "https://archive.example.com"],
    );
    mount_api(&server, "GET", "/api/foos", &list).await;
    mount_api(&server, "POST", "/api/foos", &create).await;
    mount_api(&server, "GET", "/api/reports", &reports).await;
    Mock::given(method("GET"))
        .and(path("/api/health"))
        .and(|request: &Request| !request.headers.contains_key("authorization"))
        .respond_with(ResponseTemplate::new(204))
        .expect(CALLS)
        .mount(&server)
        .await;

    let options = TokenOptions::client_credentials(format!("{}/token", server.uri()), "id", "s")
        .scope("options.scope")
        .resource(DEFAULT_RESOURCE);
    let foos = FoosClient::builder()
        .base_url(server.uri())
        .token_options(options)
        .build()
        .expect("a client");

    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..CALLS {
        for which in 0..4 {
            let foos = foos.clone();
            calls.spawn(async move {
                match which {
                    0 => foos.list().await,
                    1 => foos.create().await,
                    2 => foos.reports().await,
                    _ => foos.health().await,
                }
            });
        }
    }
    let results = calls.join_all().await;

    let mut expected = vec![list, create, reports];
    expected.sort();
    assert_eq!(
        endpoint.asked(),
        expected,
        "one token request per (scope, resources) set, none for the options' own"
    );
    let failed: Vec<_> = results.into_iter().filter_map(Result::err).collect();
    assert!(failed.is_empty(), "calls failed: {failed:?}");
}
