//! Every feature of `#[token_client]` at once: the expansion compiles without a warning.
#![deny(warnings, clippy::all)]
#![warn(missing_docs)]

use serde::{Deserialize, Serialize};
use token_client::{ApiResponse, token_client};

/// A foo.
#[derive(Debug, Deserialize)]
pub struct Foo {
    /// Its id.
    pub id: u64,
}

/// A new foo.
#[derive(Serialize)]
pub struct NewFoo {
    /// Its name.
    pub name: String,
}

/// Search filters, flattened into the query.
#[derive(Serialize)]
pub struct Filter {
    /// Text to look for.
    pub q: String,
}

/// The foos service.
#[token_client(base_path = "/api/v1/")]
#[headers("Accept: application/json", "X-Client: ui-test")]
pub trait Foos: Send + Sync {
    /// Lists foos.
    #[get("/foos")]
    async fn list(
        &self,
        #[query(flatten)] filter: &Filter,
        page: Option<u32>,
        #[query("tag")] tags: &[String],
    ) -> Result<Vec<Foo>, token_client::Error>;

    /// Gets one foo.
    #[get("/foos/{id}")]
    #[headers("Accept: application/vnd.foo+json")]
    async fn get(
        &self,
        id: u64,
        #[header("X-Tenant")] tenant: Option<&str>,
        #[header("X-Trace")] trace: u128,
        r#type: &str,
    ) -> Result<Foo, token_client::Error>;

    /// Creates a foo.
    #[post("/foos")]
    async fn create(&self, #[body] foo: &NewFoo) -> Result<ApiResponse<Foo>, token_client::Error>;

    /// Replaces a foo from a form.
    #[put("/foos/{id}")]
    async fn replace(&self, id: u64, #[body(form)] foo: &NewFoo) -> Result<(), token_client::Error>;

    /// Writes a file.
    #[patch("/files/{**path}")]
    async fn write(
        &self,
        path: &str,
        #[body(text = "text/plain; charset=utf-8")] text: String,
    ) -> Result<String, token_client::Error>;

    /// Uploads bytes, without a token.
    #[delete("/blobs")]
    #[no_auth]
    async fn upload(
        &self,
        #[body(bytes = "application/octet-stream")] data: Vec<u8>,
    ) -> Result<bytes::Bytes, token_client::Error>;

    /// Checks the service.
    #[head("/")]
    async fn ping(&self) -> Result<reqwest::Response, token_client::Error>;

    /// Asks what is allowed.
    #[options("")]
    async fn allowed(&self) -> Result<ApiResponse<()>, token_client::Error>;

    /// A helper of the user's, not generated.
    async fn first(&self) -> Result<Option<Foo>, token_client::Error> {
        let filter = Filter { q: String::new() };
        Ok(self.list(&filter, None, &[]).await?.into_iter().next())
    }
}

/// A client for the part of a service that needs no token.
#[token_client(client = PublicApi)]
pub trait Public {
    /// Health check.
    #[get("/health")]
    #[no_auth]
    async fn health(&self) -> Result<String, token_client::Error>;
}

fn main() {
    let _ = FoosClient::builder();
    let public: Result<PublicApi, _> = PublicApi::builder().base_url("http://127.0.0.1:1").build();
    assert!(public.is_ok());
    let _: Option<std::sync::Arc<dyn Foos>> = None;
}
