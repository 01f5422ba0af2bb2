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

/// The metadata of an upload, sent as a JSON part.
#[derive(Serialize)]
pub struct Meta {
    /// Its title.
    pub title: String,
}

/// A line of the event feed.
#[derive(Debug, Deserialize)]
pub struct Event {
    /// Its id.
    pub id: u64,
}

/// What the middleware stack is told about a call.
#[derive(Clone, Debug)]
pub struct Caller(pub &'static str);

/// The result of the files service.
pub type ApiResult<T> = Result<T, token_client::Error>;

/// The files service: multipart, streams, header maps, time limits, extensions, absolute
/// URLs, query formats and flags.
#[token_client(base_path = "/files", query_format = "csv")]
#[timeout(secs = 30)]
pub trait Files: Send + Sync {
    /// Uploads with every kind of part.
    #[post("/{folder}")]
    #[multipart]
    #[timeout(ms = 2500)]
    async fn upload(
        &self,
        folder: &str,
        title: &str,
        owner: String,
        size: u64,
        #[part(json)] meta: &Meta,
        #[part("extra", json)] extra: Option<Meta>,
    ) -> ApiResult<()>;

    /// Uploads bytes.
    #[put("/{folder}")]
    #[multipart]
    async fn upload_bytes(
        &self,
        folder: &str,
        raw: bytes::Bytes,
        blob: Vec<u8>,
        borrowed: &[u8],
        note: Option<String>,
    ) -> ApiResult<()>;

    /// Uploads files.
    #[patch("/{folder}")]
    #[multipart]
    async fn upload_files(
        &self,
        folder: &str,
        #[part("document")] file: token_client::Part,
        #[part("attachment")] files: Vec<token_client::Part>,
        tags: &[String],
    ) -> ApiResult<()>;

    /// Uploads a stream, not buffered.
    #[put("/{name}")]
    async fn put_stream(
        &self,
        name: &str,
        #[body(stream = "application/octet-stream")] data: reqwest::Body,
        #[timeout] limit: std::time::Duration,
    ) -> ApiResult<()>;

    /// Downloads a file as a stream.
    #[get("/{name}")]
    async fn download(
        &self,
        name: &str,
        #[timeout] limit: Option<std::time::Duration>,
    ) -> ApiResult<token_client::ByteStream>;

    /// Follows the event feed.
    #[get("/events")]
    async fn events(
        &self,
        #[headers] headers: &std::collections::HashMap<String, String>,
        #[extension] caller: Caller,
    ) -> ApiResult<token_client::JsonLines<Event>>;

    /// Events with the headers of an `http::HeaderMap`.
    #[get("/events")]
    async fn events_with(
        &self,
        #[headers] headers: Option<&reqwest::header::HeaderMap>,
    ) -> Result<token_client::JsonLines<Event>, token_client::Error>;

    /// Follows a pagination link.
    #[get]
    async fn next(&self, #[url] link: &str) -> ApiResult<Vec<u64>>;

    /// Follows a link anywhere.
    #[get]
    #[no_auth]
    async fn elsewhere(&self, #[url(any_origin)] link: reqwest::Url) -> ApiResult<String>;

    /// Searches with every query format and flags.
    #[get("/search")]
    async fn search(
        &self,
        ids: &[u64],
        #[query(format = "multi")] tags: &[String],
        #[query("kinds", format = "ssv")] kinds: Vec<String>,
        #[query(format = "pipes")] owners: Option<Vec<String>>,
        #[query(flag)] verbose: bool,
        #[query("deleted", flag)] include_deleted: bool,
    ) -> ApiResult<Vec<u64>>;
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
    assert_traits::<FilesClient>();
    let files: Option<std::sync::Arc<dyn Files>> = None;
    drop(files);
}
