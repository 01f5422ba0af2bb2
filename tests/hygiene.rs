//! The expansion of `#[token_client]` names nothing through the user's scope: it compiles
//! in a module without the prelude, where `Result`, `Option`, `Ok`, `String`, `core`,
//! `std` and even `token_client` are the user's own items, and raw identifiers become
//! plain URL names (`r#type` is sent as `type`).

use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// What the service returns.
#[derive(Debug, PartialEq, serde::Deserialize, serde::Serialize)]
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
    // Names the attributes of multipart, streams, header maps, time limits, extensions
    // and absolute URLs could reach for.
    pub struct Into;
    pub struct Iterator;
    pub struct Default;
    pub struct Duration;
    pub struct HashMap;
    pub struct Part;
    pub struct Body;
    pub struct Bytes;
    pub struct ByteStream;
    pub struct JsonLines;
    pub struct Url;
    pub mod bytes {}
    pub mod http {}
    pub mod reqwest {}
    pub mod serde {}
    pub mod serde_json {}
    pub mod url {}

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

    /// The caller, for the middleware stack.
    #[derive(::core::clone::Clone)]
    pub struct Caller(pub &'static str);

    pub type ApiResult<T> = ::core::result::Result<T, ::token_client::Error>;

    // Every attribute and return type of multipart, streams, header maps, time limits,
    // extensions, absolute URLs and query formats (one method is called below).
    #[::token_client::token_client(query_format = "csv")]
    #[timeout(secs = 30)]
    pub trait Refit {
        #[get("/search")]
        #[no_auth]
        #[timeout(ms = 5000)]
        async fn search(
            &self,
            #[query("ids")] r#ref: &[u32],
            #[query(format = "multi")] r#type: &[&str],
            #[query(flag)] r#async: bool,
            #[query("quiet", flag)] quiet: bool,
            #[headers] extra: &::std::collections::HashMap<
                ::std::string::String,
                ::std::string::String,
            >,
            #[timeout] limit: ::core::option::Option<::core::time::Duration>,
        ) -> ApiResult<super::Thing>;

        #[get("/formats")]
        async fn formats(
            &self,
            #[query(format = "pipes")] pipes: &[u32],
            #[query(format = "ssv")] ssv: ::std::vec::Vec<u32>,
            #[timeout] limit: ::core::time::Duration,
            #[extension] caller: Caller,
        ) -> ApiResult<()>;

        #[post("/upload/{ref}")]
        #[multipart]
        async fn upload(
            &self,
            r#ref: &str,
            r#type: &str,
            #[part("count")] core: u32,
            data: ::std::vec::Vec<u8>,
            file: ::token_client::Part,
            #[part("meta", json)] r#static: &super::Thing,
        ) -> ApiResult<()>;

        #[put("/upload")]
        #[multipart]
        async fn upload_many(
            &self,
            files: ::std::vec::Vec<::token_client::Part>,
            note: ::core::option::Option<::std::string::String>,
            #[part(json)] meta: ::core::option::Option<super::Thing>,
        ) -> ApiResult<()>;

        #[put("/blob")]
        async fn put_blob(
            &self,
            #[body(stream = "application/octet-stream")] body: ::token_client::reqwest::Body,
        ) -> ApiResult<()>;

        #[get("/blob")]
        async fn get_blob(&self) -> ApiResult<::token_client::ByteStream>;

        #[get("/feed")]
        async fn feed(&self) -> ApiResult<::token_client::JsonLines<super::Thing>>;

        #[get]
        async fn follow(&self, #[url] next: &str) -> ApiResult<super::Thing>;

        #[delete]
        #[no_auth]
        async fn leave(
            &self,
            #[url(any_origin)] next: ::token_client::reqwest::Url,
        ) -> ApiResult<()>;
    }
}

use shadowed::ThingsClient;

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

#[tokio::test]
async fn new_attributes_ignore_shadowed_names_and_unraw_identifiers() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/search"))
        .and(query_param("ids", "1,2"))
        .and(query_param("type", "a b"))
        .and(query_param("async", ""))
        .and(wiremock::matchers::header("x-extra", "yes"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({ "name": "t" })))
        .expect(1)
        .mount(&server)
        .await;
    // `search` is `#[no_auth]`: the token endpoint is never asked.
    let token = token_client::TokenOptions::client_credentials("http://127.0.0.1:9/t", "id", "s");
    let client = shadowed::RefitClient::builder()
        .base_url(server.uri())
        .token_options(token)
        .build()
        .expect("client");
    let extra = std::collections::HashMap::from([("X-Extra".to_owned(), "yes".to_owned())]);
    let thing = shadowed::Refit::search(
        &client,
        &[1, 2],
        &["a b"],
        true,
        false,
        &extra,
        Some(std::time::Duration::from_secs(5)),
    )
    .await
    .expect("thing");
    assert_eq!(thing, Thing { name: "t".into() });
    let requests = server.received_requests().await.expect("recorded");
    let query = requests[0].url.query().unwrap_or_default().to_owned();
    assert!(
        !query.contains("quiet"),
        "a false flag is left out: {query}"
    );
}
