//! Every attribute and return type of issue 13 at once: multipart (all part kinds),
//! streamed bodies, streamed responses, header maps, time limits on the trait, a method
//! and an argument, request extensions, absolute URLs, query formats and flags, and a
//! `Result` alias. The expansion compiles without a warning.
#![deny(warnings, clippy::all)]
#![warn(missing_docs)]

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use token_client::reqwest::header::HeaderMap;
use token_client::reqwest::{Body, Url};
use token_client::{ByteStream, JsonLines, Part, token_client};

/// The error of this service's methods.
#[derive(Debug)]
pub struct MyError(pub token_client::Error);

impl From<token_client::Error> for MyError {
    fn from(error: token_client::Error) -> Self {
        Self(error)
    }
}

/// The result of this service's methods.
pub type ApiResult<T> = Result<T, MyError>;

/// The same, under the name `Result`, as `std::io::Result` is.
pub mod api {
    /// The result of this service's methods.
    pub type Result<T> = std::result::Result<T, super::MyError>;
}

/// An event of the feed.
#[derive(Debug, Deserialize)]
pub struct Event {
    /// Its id.
    pub id: u64,
}

/// The metadata of an upload, sent as a JSON part.
#[derive(Serialize)]
pub struct Meta {
    /// Its title.
    pub title: String,
}

/// Search filters, flattened into the query.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Filter {
    /// Text to look for.
    pub full_text: String,
}

/// What the middleware stack is told about a call.
#[derive(Clone, Debug)]
pub struct CallContext {
    /// The caller.
    pub caller: &'static str,
}

/// The files service.
#[token_client(base_path = "/api", query_format = "csv")]
#[headers("Accept: application/json")]
#[timeout(secs = 30)]
pub trait Files: Send + Sync {
    /// Uploads with every kind of part.
    #[post("/files/{folder}")]
    #[multipart]
    #[timeout(ms = 1500)]
    async fn upload(
        &self,
        folder: &str,
        title: &str,
        owner: String,
        #[part("desc")] description: Cow<'static, str>,
        size: u64,
        public: bool,
        grade: char,
        raw: Bytes,
        more: &Bytes,
        blob: Vec<u8>,
        borrowed_blob: &[u8],
        file: Part,
        #[part("attachments")] files: Vec<Part>,
        tags: &[String],
        labels: &Vec<String>,
        note: Option<String>,
        #[part(json)] meta: &Meta,
        #[part("extra", json)] extra: Option<Meta>,
        #[query] overwrite: bool,
        #[header("X-Trace")] trace: &str,
    ) -> ApiResult<()>;

    /// Uploads a stream, not buffered.
    #[put("/files/{name}")]
    async fn put_stream(
        &self,
        name: &str,
        #[body(stream = "application/octet-stream")] data: Body,
        #[timeout] limit: Option<Duration>,
    ) -> ApiResult<()>;

    /// Downloads a file as a stream.
    #[get("/files/{name}")]
    async fn download(&self, name: &str, #[timeout] limit: Duration) -> ApiResult<ByteStream>;

    /// Follows the event feed (NDJSON).
    #[get("/events")]
    async fn events(
        &self,
        #[extension] context: CallContext,
    ) -> Result<token_client::JsonLines<Event>, token_client::Error>;

    /// Follows the event feed, with the headers of the caller.
    #[get("/events")]
    async fn events_as(
        &self,
        #[headers] headers: &HashMap<String, String>,
    ) -> ApiResult<JsonLines<Event>>;

    /// Headers from an ordered map.
    #[get("/ordered")]
    async fn ordered(&self, #[headers] headers: BTreeMap<&'static str, String>) -> ApiResult<()>;

    /// Headers from pairs.
    #[get("/pairs")]
    async fn pairs(&self, #[headers] headers: &[(&str, &str)]) -> ApiResult<()>;

    /// Headers from an `http::HeaderMap`, maybe.
    #[get("/header-map")]
    async fn header_map(&self, #[headers] headers: Option<&HeaderMap>) -> ApiResult<()>;

    /// Follows a pagination link on the base URL's origin.
    #[get]
    async fn next_page(&self, #[url] next: &str, page_size: u32) -> ApiResult<Vec<u64>>;

    /// Follows a link anywhere.
    #[get]
    #[no_auth]
    async fn elsewhere(&self, #[url(any_origin)] link: Url) -> ApiResult<String>;

    /// Deletes by an owned link.
    #[delete]
    async fn delete_link(&self, #[url] link: String) -> ApiResult<()>;

    /// Searches with every query format and flags.
    #[get("/search")]
    async fn search(
        &self,
        #[query(flatten)] filter: &Filter,
        ids: &[u64],
        #[query(format = "multi")] tags: Vec<String>,
        #[query("kinds", format = "ssv")] kinds: &[&str],
        #[query(format = "pipes")] owners: Option<Vec<String>>,
        #[query("sort", format = "csv")] sort: &[String],
        #[query(flag)] verbose: bool,
        #[query("deleted", flag)] include_deleted: bool,
    ) -> api::Result<Vec<u64>>;
}

fn main() {
    let _ = FilesClient::builder();
    let _: Option<std::sync::Arc<dyn Files>> = None;
}
