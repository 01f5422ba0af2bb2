//! The expansion of `#[token_client]` names nothing through the user's scope: it compiles
//! in a module without the prelude, where `Result`, `Option`, `Ok`, `String`, `core`,
//! `std` and even `token_client` are the user's own items, and raw identifiers become
//! plain URL names (`r#type` is sent as `type`).

use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// What the service returns.
#[derive(Debug, PartialEq, serde::Deserialize)]
pub struct Thing {
    name: std::string::String,
}

#[allow(dead_code, non_camel_case_types)]
mod shadowed {
    #![no_implicit_prelude]

    // async-trait, which `#[token_client]` applies, writes `Box` unqualified in its own
    // expansion (dtolnay/async-trait#132, kept upstream): the one name a module without
    // the prelude must bring.
    use ::std::boxed::Box;

    pub struct Result;
    pub struct Option;
    pub struct Ok;
    pub struct Err;
    pub struct Some;
    pub struct None;
    pub struct String;
    pub struct Vec;
    pub struct From;
    pub struct Clone;
    pub struct Debug;
    pub struct Send;
    pub struct Sync;
    pub mod core {}
    pub mod std {}
    pub mod token_client {}

    #[::token_client::token_client(base_path = "/v1")]
    #[headers("Accept: application/json")]
    pub trait Things {
        #[get("/things/{ref}")]
        #[no_auth]
        async fn get(
            &self,
            r#ref: &str,
            r#type: &str,
            core: u32,
            #[header("X-Tenant")] tenant: ::core::option::Option<&str>,
        ) -> ::core::result::Result<super::Thing, ::token_client::Error>;
    }

    // Scoped methods add a `static` and a `LazyLock` of their own (compiled, not called).
    #[::token_client::token_client]
    #[scope("things.read")]
    #[resource("https://things.example.com")]
    pub trait ScopedThings {
        #[get("/things")]
        async fn list(&self) -> ::core::result::Result<(), ::token_client::Error>;

        #[post("/things/{ref}")]
        #[scope("things.write")]
        #[resource("urn:example:things")]
        async fn create(
            &self,
            r#ref: &str,
            r#static: u32,
        ) -> ::core::result::Result<(), ::token_client::Error>;
    }
}

use shadowed::{Things, ThingsClient};

#[tokio::test]
async fn expansion_ignores_shadowed_names_and_unraws_identifiers() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/things/a%2Fb"))
        .and(query_param("type", "x y"))
        .and(query_param("core", "7"))
        .and(wiremock::matchers::header("x-tenant", "acme"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({ "name": "t" })))
        .expect(1)
        .mount(&server)
        .await;
    let client = ThingsClient::builder()
        .base_url(server.uri())
        .build()
        .expect("client");
    let thing = client
        .get("a/b", "x y", 7, Some("acme"))
        .await
        .expect("thing");
    assert_eq!(thing, Thing { name: "t".into() });
}
