//! The expansion of `#[token_client]` is lint-clean: this file uses every feature of the
//! macro under `#![deny(warnings, clippy::all, clippy::pedantic)]`, and is checked by
//! `cargo clippy --all-targets -- -D warnings` (clippy does not run inside trybuild).
#![deny(warnings, clippy::all, clippy::pedantic)]

use serde::{Deserialize, Serialize};
use token_client::{ApiResponse, TokenOptions, token_client};

/// A widget.
#[derive(Debug, Deserialize)]
pub struct Widget {
    /// Its id.
    pub id: u64,
}

/// A new widget.
#[derive(Serialize)]
pub struct NewWidget {
    /// Its name.
    pub name: String,
}

/// Search filters, flattened into the query.
#[derive(Serialize)]
pub struct Search {
    /// Text to look for.
    pub text: String,
}

/// The widgets service.
#[token_client(base_path = "/api")]
#[headers("Accept: application/json")]
pub trait Widgets: Send + Sync {
    /// Lists widgets.
    #[get("/widgets")]
    async fn list(
        &self,
        #[query(flatten)] search: &Search,
        page: Option<u32>,
        #[query("tag")] tags: Vec<String>,
    ) -> Result<Vec<Widget>, token_client::Error>;

    /// Gets one widget.
    #[get("/widgets/{id}")]
    #[headers("Cache-Control: no-cache")]
    async fn get(
        &self,
        id: u64,
        #[header("X-Tenant")] tenant: Option<&str>,
        #[header("X-Request-Id")] request_id: &str,
        r#type: &str,
    ) -> Result<Widget, token_client::Error>;

    /// Creates a widget.
    #[post("/widgets")]
    async fn create(
        &self,
        #[body] widget: &NewWidget,
    ) -> Result<ApiResponse<Widget>, token_client::Error>;

    /// Replaces a widget from a form.
    #[put("/widgets/{id}")]
    async fn replace(
        &self,
        id: u64,
        #[body(form)] widget: NewWidget,
    ) -> Result<(), token_client::Error>;

    /// Writes a file.
    #[patch("/files/{**path}")]
    async fn write(
        &self,
        path: &str,
        #[body(text = "text/plain")] text: &'static str,
    ) -> Result<String, token_client::Error>;

    /// Deletes blobs.
    #[delete("/blobs")]
    async fn purge(
        &self,
        #[body(bytes = "application/octet-stream")] data: Vec<u8>,
    ) -> Result<bytes::Bytes, token_client::Error>;

    /// Stores borrowed bytes under a name.
    #[put("/blobs/{name}.bin")]
    async fn store(
        &self,
        name: &str,
        #[body(bytes = "application/octet-stream")] data: &[u8],
    ) -> Result<(), token_client::Error>;

    /// Only where the configuration says so.
    #[cfg_attr(all(), cfg(all()))]
    #[get("/gated")]
    async fn gated(&self) -> Result<(), token_client::Error>;

    /// Pings.
    #[head("/")]
    #[no_auth]
    async fn ping(&self) -> Result<reqwest::Response, token_client::Error>;

    /// Asks what is allowed.
    #[options("")]
    async fn allowed(&self) -> Result<ApiResponse<String>, token_client::Error>;
}

#[test]
fn generated_client_builds_and_is_shareable() {
    fn assert_traits<T: Clone + Send + Sync + std::fmt::Debug + 'static>() {}
    assert_traits::<WidgetsClient>();
    let options = TokenOptions::client_credentials("http://127.0.0.1:9/token", "id", "secret");
    let client = WidgetsClient::builder()
        .base_url("http://127.0.0.1:9")
        .token_options(options)
        .build()
        .expect("a client");
    let shared: std::sync::Arc<dyn Widgets> = std::sync::Arc::new(client);
    drop(shared);
}
