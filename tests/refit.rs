//! The rest of Refit (issue 13) end to end, against local servers (wiremock, and axum where
//! a body must be streamed or held back): multipart bodies parsed back by a multipart
//! parser, streamed request bodies and responses, header maps, timeouts, middleware
//! extensions, `#[url]`, query formats, `max_response_bytes`, `Result` aliases. The
//! memory bounds of 50 MB transfers are in `refit_memory.rs`, under a counting allocator.

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use bytes::Bytes;
use futures_util::{StreamExt, stream};
use serde::{Deserialize, Serialize};
use token_client::reqwest::Body;
use token_client::reqwest::header::{HeaderMap, HeaderValue};
use token_client::{
    ByteStream, Error, JsonLines, Part, SharedTokenProvider, async_trait, token_client,
};
use wiremock::matchers::{any, header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

// ---- helpers ----

/// A server answering every request with 204, expecting `times` of them.
async fn answering_204(times: impl Into<wiremock::Times>) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(204))
        .expect(times)
        .mount(&server)
        .await;
    server
}

/// Mounts one 401 for token `t1` and one 204 for `t2`: the first token is rejected.
async fn reject_the_first_token(server: &MockServer) {
    for (bearer, status) in [("Bearer t1", 401), ("Bearer t2", 204)] {
        Mock::given(header("authorization", bearer))
            .respond_with(ResponseTemplate::new(status))
            .expect(1)
            .mount(server)
            .await;
    }
}

#[path = "support/tokens.rs"]
mod tokens;
use tokens::Counting;

/// `$client::builder()` for `$base_url`, with a counting token source: `(builder, source)`.
macro_rules! builder {
    ($client:ty, $base_url:expr) => {{
        let source = Arc::new(Counting::default());
        let builder = <$client>::builder()
            .base_url($base_url)
            .token_provider(SharedTokenProvider::from_source(Arc::clone(&source)));
        (builder, source)
    }};
}

/// Serves `router` on a loopback port; its base URL.
async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{address}")
}

/// Awaits `future`, failing the test if it takes longer than `limit`.
async fn within<F: std::future::Future>(limit: Duration, what: &str, future: F) -> F::Output {
    match tokio::time::timeout(limit, future).await {
        Ok(output) => output,
        Err(_) => panic!("{what} did not finish within {limit:?}"),
    }
}

/// A body streamed from `chunks`, of unknown length.
fn streamed(chunks: &[&'static str]) -> Body {
    let chunks: Vec<Result<Bytes, Infallible>> = chunks
        .iter()
        .map(|c| Ok(Bytes::from_static(c.as_bytes())))
        .collect();
    Body::wrap_stream(stream::iter(chunks))
}

fn bearer(request: &Request) -> &str {
    request.headers["authorization"].to_str().unwrap()
}

fn queries(requests: &[Request]) -> Vec<Option<&str>> {
    requests.iter().map(|r| r.url.query()).collect()
}

/// One part of a multipart body, as a parser read it.
#[derive(Debug, PartialEq)]
struct Field {
    name: String,
    file_name: Option<String>,
    content_type: Option<String>,
    body: Vec<u8>,
}

impl Field {
    fn new(name: &str, file_name: Option<&str>, content_type: &str, body: &[u8]) -> Self {
        Self {
            name: name.into(),
            file_name: file_name.map(Into::into),
            content_type: Some(content_type.into()),
            body: body.into(),
        }
    }
}

/// The parts of a `multipart/form-data` request as `multer` parses them, with the boundary
/// its `Content-Type` gives.
async fn parts(request: &Request) -> Vec<Field> {
    let content_type = request.headers["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("multipart/form-data; boundary="),
        "{content_type}"
    );
    let boundary = multer::parse_boundary(content_type).unwrap();
    let body = Bytes::from(request.body.clone());
    let body = stream::once(async move { Ok::<_, Infallible>(body) });
    let mut multipart = multer::Multipart::new(body, boundary);
    let mut fields = Vec::new();
    while let Some(field) = multipart.next_field().await.unwrap() {
        let name = field.name().unwrap().to_owned();
        let file_name = field.file_name().map(str::to_owned);
        let content_type = field
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned());
        let body = field.bytes().await.unwrap().to_vec();
        fields.push(Field {
            name,
            file_name,
            content_type,
            body,
        });
    }
    fields
}

/// A file under the temp directory with a unique name, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(extension: &str, content: &[u8]) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let seq = SEQ.fetch_add(1, Ordering::SeqCst);
        let name = format!(
            "token-client-refit-{}-{nanos}-{seq}.{extension}",
            std::process::id()
        );
        let path = std::env::temp_dir().join(name);
        std::fs::write(&path, content).unwrap();
        Self(path)
    }

    fn name(&self) -> &str {
        self.0.file_name().unwrap().to_str().unwrap()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

// ---- multipart ----

#[derive(Debug, Serialize)]
pub struct Meta {
    pub title: String,
    pub pages: u32,
}

#[token_client(base_path = "/api")]
pub trait Uploads: Send + Sync {
    #[post("/docs/{folder}")]
    #[multipart]
    #[allow(clippy::too_many_arguments)]
    async fn upload(
        &self,
        folder: &str,
        title: &str,
        count: u32,
        raw: Vec<u8>,
        #[part(json)] meta: &Meta,
        #[part("extra", json)] extra: Option<Meta>,
        document: Part,
        tags: Vec<String>,
        note: Option<String>,
        #[part("renamed")] original: String,
    ) -> Result<(), Error>;

    #[put("/attachments")]
    #[multipart]
    async fn attach(&self, file: Part, label: &str) -> Result<(), Error>;
}

#[tokio::test]
async fn multipart_parts_arrive_with_their_names_file_names_types_and_bytes() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/docs/inbox"))
        .and(header("authorization", "Bearer t1"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let file = TempFile::new("txt", b"line one\nline two\n");
    let (builder, source) = builder!(UploadsClient, server.uri());
    let uploads = builder.build().unwrap();
    let meta = Meta {
        title: "Q3 \"report\"".into(),
        pages: 2,
    };
    uploads
        .upload(
            "inbox",
            "naïve title",
            3,
            vec![0, 0x9f, 0xff],
            &meta,
            None,
            Part::file(&file.0),
            vec!["a".into(), "b c".into()],
            None,
            "was original".into(),
        )
        .await
        .unwrap();

    let requests = server.received_requests().await.unwrap();
    let request = &requests[0];
    let length: usize = request.headers["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(length, request.body.len(), "every length is known");
    let text = "text/plain; charset=utf-8";
    let expected = vec![
        Field::new("title", None, text, "naïve title".as_bytes()),
        Field::new("count", None, text, b"3"),
        Field::new("raw", None, "application/octet-stream", &[0, 0x9f, 0xff]),
        Field::new(
            "meta",
            None,
            "application/json",
            br#"{"title":"Q3 \"report\"","pages":2}"#,
        ),
        Field::new(
            "document",
            Some(file.name()),
            "text/plain",
            b"line one\nline two\n",
        ),
        Field::new("tags", None, text, b"a"),
        Field::new("tags", None, text, b"b c"),
        Field::new("renamed", None, text, b"was original"),
    ];
    assert_eq!(parts(request).await, expected, "`None`s add no part");
    assert_eq!(source.fetches(), 1);
}

#[tokio::test]
async fn part_builders_set_file_name_and_content_type_and_a_json_some_is_sent() {
    let server = answering_204(1).await;
    let (builder, _) = builder!(UploadsClient, server.uri());
    let uploads = builder.build().unwrap();
    let report = Part::bytes(b"a,b\n1,2\n".to_vec())
        .file_name("report.csv")
        .content_type("text/csv");
    let extra = Meta {
        title: "x".into(),
        pages: 1,
    };
    let meta = Meta {
        title: "m".into(),
        pages: 0,
    };
    uploads
        .upload(
            "f",
            "t",
            0,
            Vec::new(),
            &meta,
            Some(extra),
            report,
            Vec::new(),
            Some("a note".into()),
            String::new(),
        )
        .await
        .unwrap();
    let requests = server.received_requests().await.unwrap();
    let fields = parts(&requests[0]).await;
    let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "title", "count", "raw", "meta", "extra", "document", "note", "renamed"
        ],
        "an empty Vec adds no part; empty bytes and text do"
    );
    assert_eq!(
        fields[4],
        Field::new(
            "extra",
            None,
            "application/json",
            br#"{"title":"x","pages":1}"#
        )
    );
    assert_eq!(
        fields[5],
        Field::new("document", Some("report.csv"), "text/csv", b"a,b\n1,2\n")
    );
    assert_eq!(fields[2].body, b"");
}

#[tokio::test]
async fn a_file_part_that_cannot_be_opened_is_a_request_error_and_nothing_is_sent() {
    let server = answering_204(0).await;
    let (builder, _) = builder!(UploadsClient, server.uri());
    let uploads = builder.build().unwrap();
    let missing = std::env::temp_dir().join(format!(
        "token-client-refit-missing-{}.bin",
        std::process::id()
    ));
    let error = uploads.attach(Part::file(&missing), "x").await.unwrap_err();
    let Error::Request(message) = &error else {
        panic!("{error:?}")
    };
    assert!(message.contains("part `file`"), "{message}");
}

#[tokio::test]
async fn a_multipart_request_with_a_file_is_replayed_after_a_401_with_the_same_parts() {
    let server = MockServer::start().await;
    for (bearer, status) in [("Bearer t1", 401), ("Bearer t2", 204)] {
        Mock::given(method("PUT"))
            .and(path("/api/attachments"))
            .and(header("authorization", bearer))
            .respond_with(ResponseTemplate::new(status))
            .expect(1)
            .mount(&server)
            .await;
    }
    let file = TempFile::new("json", br#"{"k":[1,2,3]}"#);
    let (builder, source) = builder!(UploadsClient, server.uri());
    let uploads = builder.build().unwrap();
    uploads.attach(Part::file(&file.0), "L").await.unwrap();
    assert_eq!(source.fetches(), 2);
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 2);
    let (first, second) = (parts(&requests[0]).await, parts(&requests[1]).await);
    let expected = vec![
        Field::new(
            "file",
            Some(file.name()),
            "application/json",
            br#"{"k":[1,2,3]}"#,
        ),
        Field::new("label", None, "text/plain; charset=utf-8", b"L"),
    ];
    assert_eq!(first, expected);
    assert_eq!(second, first, "the file was read again for the replay");
    // Byte for byte the same body, but for the boundary each encoding draws anew.
    let boundary =
        |r: &Request| multer::parse_boundary(r.headers["content-type"].to_str().unwrap()).unwrap();
    let first_body = String::from_utf8(requests[0].body.clone()).unwrap();
    let second_body = String::from_utf8(requests[1].body.clone()).unwrap();
    assert_eq!(
        first_body.replace(&boundary(&requests[0]), &boundary(&requests[1])),
        second_body
    );
    assert_eq!(
        requests[1].headers["content-length"],
        second_body.len().to_string().as_str()
    );
}

#[tokio::test]
async fn a_multipart_request_with_a_stream_is_not_replayed_and_the_next_call_has_a_fresh_token() {
    let server = MockServer::start().await;
    for (bearer, status) in [("Bearer t1", 401), ("Bearer t2", 204)] {
        Mock::given(method("PUT"))
            .and(path("/api/attachments"))
            .and(header("authorization", bearer))
            .respond_with(ResponseTemplate::new(status).set_body_string("who?"))
            .expect(1)
            .mount(&server)
            .await;
    }
    let (builder, source) = builder!(UploadsClient, server.uri());
    let uploads = builder.build().unwrap();
    let part = Part::stream(streamed(&["chunk-1;", "chunk-2"])).file_name("s.bin");
    let error = uploads.attach(part, "first").await.unwrap_err();
    let Error::Api(api) = &error else {
        panic!("{error:?}")
    };
    assert_eq!(api.status, 401);
    assert_eq!(api.body, "who?");
    assert_eq!(source.fetches(), 1, "no replay: no second token yet");
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    assert!(
        !requests[0].headers.contains_key("content-length"),
        "a stream part's length is unknown"
    );
    assert_eq!(
        parts(&requests[0]).await[0],
        Field {
            name: "file".into(),
            file_name: Some("s.bin".into()),
            content_type: Some("application/octet-stream".into()),
            body: b"chunk-1;chunk-2".to_vec(),
        },
        "the stream went out whole once"
    );

    uploads
        .attach(Part::bytes(&b"again"[..]), "second")
        .await
        .unwrap();
    assert_eq!(source.fetches(), 2, "the rejected token was dropped");
    let requests = server.received_requests().await.unwrap();
    assert_eq!(bearer(&requests[1]), "Bearer t2");
}

// ---- streamed request bodies ----

#[token_client(base_path = "/api")]
pub trait Blobs: Send + Sync {
    #[put("/blobs/{name}")]
    async fn put_blob(
        &self,
        name: &str,
        #[body(stream = "application/octet-stream")] body: Body,
    ) -> Result<(), Error>;
}

#[tokio::test]
async fn a_streamed_body_arrives_whole_with_its_content_type() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path("/api/blobs/b1"))
        .and(header("content-type", "application/octet-stream"))
        .and(header("authorization", "Bearer t1"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let (builder, _) = builder!(BlobsClient, server.uri());
    let blobs = builder.build().unwrap();
    blobs
        .put_blob("b1", streamed(&["ab", "", "cd", "ef"]))
        .await
        .unwrap();
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests[0].body, b"abcdef");
    assert!(!requests[0].headers.contains_key("content-length"));
}

#[tokio::test]
async fn a_streamed_body_is_not_replayed_after_a_401_and_the_token_is_dropped() {
    let server = MockServer::start().await;
    reject_the_first_token(&server).await;
    let (builder, source) = builder!(BlobsClient, server.uri());
    let blobs = builder.build().unwrap();
    let error = blobs
        .put_blob("b", streamed(&["x", "y"]))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::Api(api) if api.status == 401),
        "{error:?}"
    );
    assert_eq!(source.fetches(), 1);
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
    blobs.put_blob("b", streamed(&["z"])).await.unwrap();
    assert_eq!(source.fetches(), 2, "the next call fetched a fresh token");
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests[1].body, b"z");
}

#[tokio::test]
async fn a_buffered_body_given_as_a_stream_argument_is_replayed_after_a_401() {
    let server = MockServer::start().await;
    reject_the_first_token(&server).await;
    let (builder, source) = builder!(BlobsClient, server.uri());
    let blobs = builder.build().unwrap();
    blobs
        .put_blob("b", Body::from(b"buffered".to_vec()))
        .await
        .unwrap();
    assert_eq!(source.fetches(), 2);
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests[0].body, b"buffered");
    assert_eq!(requests[1].body, b"buffered");
}

// ---- streamed responses ----

#[derive(Debug, PartialEq, Deserialize)]
pub struct Event {
    pub id: u64,
}

#[token_client]
pub trait Feeds: Send + Sync {
    #[get("/download")]
    async fn download(&self) -> Result<ByteStream, Error>;

    #[get("/events")]
    async fn events(&self) -> Result<JsonLines<Event>, Error>;
}

#[tokio::test]
async fn a_byte_stream_yields_the_body_and_a_failure_status_is_an_api_error_first() {
    let server = MockServer::start().await;
    Mock::given(path("/download"))
        .and(header("authorization", "Bearer t1"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-etag", "e1")
                .set_body_bytes(vec![7_u8; 100_000]),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/download"))
        .respond_with(ResponseTemplate::new(503).set_body_string("later"))
        .expect(1)
        .mount(&server)
        .await;
    let (builder, _) = builder!(FeedsClient, server.uri());
    // The limit does not apply to a stream.
    let feeds = builder.max_response_bytes(10).build().unwrap();
    let mut body = feeds.download().await.unwrap();
    assert_eq!(body.status(), 200);
    assert_eq!(body.headers()["x-etag"], "e1");
    let mut received = Vec::new();
    while let Some(chunk) = body.next().await {
        received.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(received, vec![7_u8; 100_000]);

    let error = feeds.download().await.unwrap_err();
    let Error::Api(api) = &error else {
        panic!("{error:?}")
    };
    assert_eq!((api.status.as_u16(), api.body.as_str()), (503, "later"));
}

#[tokio::test]
async fn json_lines_yield_the_first_item_before_the_body_ends() {
    const ITEMS: u64 = 10_000;
    let gate = Arc::new(tokio::sync::Notify::new());
    let held = Arc::clone(&gate);
    let router = Router::new().route(
        "/events",
        get(move || {
            let gate = Arc::clone(&held);
            async move {
                let first =
                    stream::once(async { Ok::<_, Infallible>(Bytes::from("{\"id\":0}\n")) });
                let rest: String = (1..ITEMS).map(|id| format!("{{\"id\":{id}}}\n")).collect();
                // Chunks of 1000 bytes: lines are cut across chunk boundaries.
                let chunks: Vec<Result<Bytes, Infallible>> = rest
                    .as_bytes()
                    .chunks(1000)
                    .map(|c| Ok(Bytes::copy_from_slice(c)))
                    .collect();
                let rest = stream::once(async move {
                    gate.notified().await;
                    stream::iter(chunks)
                })
                .flatten();
                axum::body::Body::from_stream(first.chain(rest))
            }
        }),
    );
    let base = serve(router).await;
    let (builder, _) = builder!(FeedsClient, base);
    let feeds = builder.build().unwrap();
    let mut lines = within(Duration::from_secs(5), "the call", feeds.events())
        .await
        .unwrap();
    let first = within(Duration::from_secs(5), "the first item", lines.next()).await;
    assert_eq!(first.unwrap().unwrap(), Event { id: 0 });
    gate.notify_one();
    let rest: Vec<u64> = within(
        Duration::from_secs(5),
        "the rest",
        lines.collect::<Vec<_>>(),
    )
    .await
    .into_iter()
    .map(|item| item.unwrap().id)
    .collect();
    assert_eq!(rest, (1..ITEMS).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_bad_json_line_is_a_decode_item_and_decoding_goes_on() {
    let server = MockServer::start().await;
    let body = "{\"id\":1}\nnot json\n\r\n{\"id\":2}\r\n\n{\"id\":3}";
    Mock::given(path("/events"))
        .respond_with(ResponseTemplate::new(200).set_body_string(body))
        .expect(1)
        .mount(&server)
        .await;
    let (builder, _) = builder!(FeedsClient, server.uri());
    let feeds = builder.build().unwrap();
    let items: Vec<_> = feeds.events().await.unwrap().collect().await;
    assert_eq!(items.len(), 4, "{items:?}");
    assert_eq!(items[0].as_ref().unwrap(), &Event { id: 1 });
    let Err(Error::Decode(decode)) = &items[1] else {
        panic!("{:?}", items[1])
    };
    assert_eq!(decode.status, 200);
    assert_eq!(decode.excerpt, "not json");
    assert_eq!(items[2].as_ref().unwrap(), &Event { id: 2 });
    assert_eq!(
        items[3].as_ref().unwrap(),
        &Event { id: 3 },
        "no final newline"
    );
}

#[tokio::test]
async fn a_json_line_longer_than_the_limit_is_response_too_large_and_ends_the_stream() {
    let server = MockServer::start().await;
    let long = format!("{{\"id\":2,\"pad\":\"{}\"}}", "x".repeat(100));
    // One write: the long line arrives complete, its line break with it.
    let body = format!("{{\"id\":1}}\n{long}\n{{\"id\":3}}\n");
    Mock::given(path("/events"))
        .respond_with(ResponseTemplate::new(200).set_body_string(body))
        .expect(1)
        .mount(&server)
        .await;
    let (builder, _) = builder!(FeedsClient, server.uri());
    let feeds = builder.max_response_bytes(64).build().unwrap();
    let items: Vec<_> = feeds.events().await.unwrap().collect().await;
    assert_eq!(items.len(), 2, "{items:?}");
    assert_eq!(items[0].as_ref().unwrap(), &Event { id: 1 });
    assert!(
        matches!(
            items[1],
            Err(Error::ResponseTooLarge { status, limit: 64 }) if status == 200
        ),
        "{:?}",
        items[1]
    );
}

#[tokio::test]
async fn a_json_line_that_never_ends_is_refused_once_past_the_limit() {
    let router = Router::new().route(
        "/events",
        get(|| async {
            let first = stream::once(async { Ok::<_, Infallible>(Bytes::from("{\"id\":1}\n")) });
            // An endless line: the client must give up without reading it all.
            let endless = stream::repeat_with(|| Ok(Bytes::from_static(&[b' '; 1024])));
            axum::body::Body::from_stream(first.chain(endless))
        }),
    );
    let base = serve(router).await;
    let (builder, _) = builder!(FeedsClient, base);
    let feeds = builder.max_response_bytes(4096).build().unwrap();
    let lines = feeds.events().await.unwrap();
    let items: Vec<_> = within(Duration::from_secs(5), "the stream", lines.collect()).await;
    assert_eq!(items.len(), 2, "{items:?}");
    assert!(matches!(
        items[1],
        Err(Error::ResponseTooLarge { limit: 4096, .. })
    ));
}

// ---- header maps ----

#[token_client]
#[headers("X-B: trait", "X-C: trait", "X-D: trait", "X-E: trait")]
pub trait Headed: Send + Sync {
    #[get("/levels")]
    #[headers("X-C: method", "X-D: method", "X-E: method")]
    async fn levels(
        &self,
        #[headers] extra: &HashMap<String, String>,
        #[header("X-E")] e: &str,
    ) -> Result<(), Error>;

    #[get("/multi")]
    async fn multi(&self, #[headers] extra: &HeaderMap) -> Result<(), Error>;
}

#[tokio::test]
async fn header_precedence_is_default_trait_method_map_argument() {
    let server = MockServer::start().await;
    Mock::given(path("/levels"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let (builder, _) = builder!(HeadedClient, server.uri());
    let mut builder = builder;
    for name in ["X-A", "X-B", "X-C", "X-D", "X-E"] {
        builder = builder.default_header(name, "default");
    }
    let headed = builder.build().unwrap();
    let map: HashMap<String, String> = [("X-D", "map"), ("X-E", "map"), ("X-F", "map")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    headed.levels(&map, "argument").await.unwrap();
    let requests = server.received_requests().await.unwrap();
    let headers = &requests[0].headers;
    let got: Vec<Vec<&str>> = ["x-a", "x-b", "x-c", "x-d", "x-e", "x-f"]
        .iter()
        .map(|name| {
            headers
                .get_all(*name)
                .iter()
                .map(|v| v.to_str().unwrap())
                .collect()
        })
        .collect();
    assert_eq!(
        got,
        [
            ["default"],
            ["trait"],
            ["method"],
            ["map"],
            ["argument"],
            ["map"]
        ]
    );
}

#[tokio::test]
async fn a_header_map_with_a_repeated_name_sends_every_value() {
    let server = MockServer::start().await;
    Mock::given(path("/multi"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let (builder, _) = builder!(HeadedClient, server.uri());
    let headed = builder
        .default_header("X-Multi", "default")
        .build()
        .unwrap();
    let mut map = HeaderMap::new();
    map.append("x-multi", HeaderValue::from_static("one"));
    map.append("x-multi", HeaderValue::from_static("two"));
    headed.multi(&map).await.unwrap();
    let requests = server.received_requests().await.unwrap();
    let values: Vec<&str> = requests[0]
        .headers
        .get_all("x-multi")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(values, ["one", "two"], "both values, the default replaced");
}

#[tokio::test]
async fn an_invalid_header_map_value_is_a_request_error_naming_the_header_not_the_value() {
    let server = answering_204(0).await;
    let (builder, source) = builder!(HeadedClient, server.uri());
    let headed = builder.build().unwrap();
    let map = HashMap::from([("X-Secret".to_owned(), "hunter2\r\nX-Evil: 1".to_owned())]);
    let error = headed.levels(&map, "e").await.unwrap_err();
    let Error::Request(message) = &error else {
        panic!("{error:?}")
    };
    assert!(
        message.to_ascii_lowercase().contains("x-secret"),
        "{message}"
    );
    assert!(!message.contains("hunter2"), "{message}");
    assert!(!format!("{error:?}").contains("hunter2"));
    assert!(server.received_requests().await.unwrap().is_empty());
    assert_eq!(source.fetches(), 0);
}

// ---- timeouts ----

#[token_client]
pub trait Slow: Send + Sync {
    #[get("/slow")]
    #[timeout(ms = 200)]
    async fn quick(&self) -> Result<(), Error>;

    #[get("/slow")]
    #[timeout(ms = 400)]
    async fn per_call(&self, #[timeout] limit: Duration) -> Result<(), Error>;

    #[get("/slow")]
    #[timeout(ms = 400)]
    async fn maybe(&self, #[timeout] limit: Option<Duration>) -> Result<(), Error>;
}

#[token_client]
#[timeout(ms = 200)]
pub trait SlowTrait: Send + Sync {
    #[get("/slow")]
    async fn get(&self) -> Result<(), Error>;
}

async fn slow_server(delay: Duration) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(path("/slow"))
        .respond_with(ResponseTemplate::new(204).set_delay(delay))
        .mount(&server)
        .await;
    server
}

/// Asserts `error` is a reqwest timeout.
fn assert_timeout(error: &Error) {
    let Error::Transport(token_client::reqwest_middleware::Error::Reqwest(inner)) = error else {
        panic!("{error:?}")
    };
    assert!(inner.is_timeout(), "{inner:?}");
}

/// How long `call` took, and its error.
async fn timed<T: std::fmt::Debug>(
    call: impl std::future::Future<Output = Result<T, Error>>,
) -> (Duration, Error) {
    let started = Instant::now();
    let error = call.await.unwrap_err();
    (started.elapsed(), error)
}

#[tokio::test]
async fn a_method_timeout_beats_the_builders() {
    let server = slow_server(Duration::from_secs(2)).await;
    let (builder, _) = builder!(SlowClient, server.uri());
    let slow = builder.timeout(Duration::from_secs(10)).build().unwrap();
    let (took, error) = timed(slow.quick()).await;
    assert_timeout(&error);
    assert!(took >= Duration::from_millis(200), "{took:?}");
    assert!(took < Duration::from_millis(1500), "{took:?}");

    let (builder, _) = builder!(SlowTraitClient, server.uri());
    let slow = builder.timeout(Duration::from_secs(10)).build().unwrap();
    let (took, error) = timed(slow.get()).await;
    assert_timeout(&error);
    assert!(took < Duration::from_millis(1500), "the trait's: {took:?}");
}

#[tokio::test]
async fn a_timeout_argument_replaces_the_methods_and_none_falls_back_to_it() {
    // The server answers after 600 ms; the methods allow 400 ms.
    let server = slow_server(Duration::from_millis(600)).await;
    let (builder, _) = builder!(SlowClient, server.uri());
    let slow = builder.build().unwrap();
    slow.per_call(Duration::from_secs(5)).await.unwrap();
    slow.maybe(Some(Duration::from_secs(5))).await.unwrap();
    // Timed out, so a limit under 600 ms applied: the method's, no shorter.
    let (took, error) = timed(slow.maybe(None)).await;
    assert_timeout(&error);
    assert!(took >= Duration::from_millis(400), "{took:?}");
    let (took, error) = timed(slow.per_call(Duration::from_millis(50))).await;
    assert_timeout(&error);
    assert!(
        took < Duration::from_millis(350),
        "the argument's 50 ms: {took:?}"
    );
}

// ---- #[extension] ----

#[derive(Clone)]
pub struct Budget(pub u32);

#[token_client]
pub trait Extended: Send + Sync {
    #[get("/ext")]
    async fn get(&self, #[extension] budget: Budget) -> Result<(), Error>;
}

/// Copies the request's `Budget` extension into an `X-Budget` header.
struct CopyBudget;

#[async_trait]
impl token_client::reqwest_middleware::Middleware for CopyBudget {
    async fn handle(
        &self,
        mut request: token_client::reqwest::Request,
        extensions: &mut http::Extensions,
        next: token_client::reqwest_middleware::Next<'_>,
    ) -> token_client::reqwest_middleware::Result<token_client::reqwest::Response> {
        if let Some(Budget(n)) = extensions.get::<Budget>() {
            let value = HeaderValue::from_str(&n.to_string()).unwrap();
            request.headers_mut().insert("x-budget", value);
        }
        next.run(request, extensions).await
    }
}

#[tokio::test]
async fn an_extension_argument_reaches_the_middleware() {
    let server = MockServer::start().await;
    Mock::given(path("/ext"))
        .and(header("x-budget", "3"))
        .and(header("authorization", "Bearer t1"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/ext"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let middleware =
        token_client::reqwest_middleware::ClientBuilder::new(token_client::reqwest::Client::new())
            .with(CopyBudget)
            .build();
    let (builder, _) = builder!(ExtendedClient, server.uri());
    let extended = builder.middleware_client(middleware).build().unwrap();
    extended.get(Budget(3)).await.unwrap();
    // A plain client has no middleware: the extension goes nowhere.
    let (builder, _) = builder!(ExtendedClient, server.uri());
    builder.build().unwrap().get(Budget(4)).await.unwrap();
    let requests = server.received_requests().await.unwrap();
    assert!(!requests[1].headers.contains_key("x-budget"));
}

// ---- #[url] ----

#[token_client(base_path = "/api")]
pub trait Pages: Send + Sync {
    #[get]
    async fn next(&self, #[url] next: &str, limit: Option<u32>) -> Result<String, Error>;

    #[get]
    async fn anywhere(&self, #[url(any_origin)] next: String) -> Result<String, Error>;
}

#[tokio::test]
async fn a_same_origin_url_is_followed_with_query_arguments_appended() {
    let server = MockServer::start().await;
    Mock::given(path("/other/items"))
        .and(header("authorization", "Bearer t1"))
        .respond_with(ResponseTemplate::new(200).set_body_string("page 2"))
        .expect(2)
        .mount(&server)
        .await;
    let (builder, _) = builder!(PagesClient, format!("{}/api", server.uri()));
    let pages = builder.build().unwrap();
    let next = format!("{}/other/items?cursor=a%2Bb#frag", server.uri());
    assert_eq!(pages.next(&next, Some(5)).await.unwrap(), "page 2");
    let next = format!("{}/other/items", server.uri());
    assert_eq!(pages.next(&next, Some(6)).await.unwrap(), "page 2");
    let requests = server.received_requests().await.unwrap();
    assert_eq!(
        queries(&requests),
        [Some("cursor=a%2Bb&limit=5"), Some("limit=6")]
    );
}

#[tokio::test]
async fn a_url_on_another_origin_is_refused_before_a_token_is_fetched() {
    let api = MockServer::start().await;
    let elsewhere = MockServer::start().await;
    for server in [&api, &elsewhere] {
        Mock::given(any())
            .respond_with(ResponseTemplate::new(200))
            .expect(0)
            .mount(server)
            .await;
    }
    let (builder, source) = builder!(PagesClient, format!("{}/api", api.uri()));
    let pages = builder.build().unwrap();
    let error = pages
        .next(&format!("{}/steal", elsewhere.uri()), None)
        .await
        .unwrap_err();
    let Error::Request(message) = &error else {
        panic!("{error:?}")
    };
    assert!(message.contains("origin"), "{message}");
    // Another scheme on the same host and port is another origin too.
    let https = api.uri().replace("http://", "https://");
    let error = pages.next(&https, None).await.unwrap_err();
    assert!(matches!(error, Error::Request(_)), "{error:?}");
    assert_eq!(source.fetches(), 0, "no token was fetched to leak");
    assert!(api.received_requests().await.unwrap().is_empty());
    assert!(elsewhere.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn an_any_origin_url_goes_to_another_loopback_origin_with_the_token() {
    let api = MockServer::start().await;
    let elsewhere = MockServer::start().await;
    Mock::given(path("/cdn/file"))
        .and(header("authorization", "Bearer t1"))
        .respond_with(ResponseTemplate::new(200).set_body_string("there"))
        .expect(1)
        .mount(&elsewhere)
        .await;
    let (builder, _) = builder!(PagesClient, api.uri());
    let pages = builder.build().unwrap();
    let url = format!("{}/cdn/file", elsewhere.uri());
    assert_eq!(pages.anywhere(url).await.unwrap(), "there");
    assert!(api.received_requests().await.unwrap().is_empty());
}

// ---- query formats ----

#[token_client]
pub trait Formats: Send + Sync {
    #[get("/q")]
    async fn csv(&self, #[query(format = "csv")] ids: &[&str]) -> Result<(), Error>;

    #[get("/q")]
    async fn ssv(&self, #[query(format = "ssv")] ids: &[&str]) -> Result<(), Error>;

    #[get("/q")]
    async fn pipes(&self, #[query(format = "pipes")] ids: &[&str]) -> Result<(), Error>;

    #[get("/q")]
    async fn multi(&self, #[query(format = "multi")] ids: &[&str]) -> Result<(), Error>;

    #[get("/q")]
    async fn named(
        &self,
        #[query("id", format = "csv")] ids: Option<Vec<u32>>,
        page: u32,
    ) -> Result<(), Error>;

    #[get("/q")]
    async fn flags(
        &self,
        #[query(flag)] verbose: bool,
        #[query("dry-run", flag)] dry: bool,
        page: u32,
    ) -> Result<(), Error>;

    #[get("/q")]
    async fn flat(&self, #[query(flatten)] paging: &Paging) -> Result<(), Error>;
}

#[token_client(query_format = "csv")]
pub trait CsvByDefault: Send + Sync {
    #[get("/q")]
    async fn list(
        &self,
        ids: &[u32],
        #[query(format = "multi")] tags: &[&str],
        #[query("k", format = "pipes")] keys: &[&str],
    ) -> Result<(), Error>;
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Paging {
    pub page_size: u32,
    #[serde(rename = "q")]
    pub search_text: String,
    pub sort_order: Option<String>,
}

async fn any_ok() -> MockServer {
    answering_204(0..).await
}

#[tokio::test]
async fn query_formats_join_items_and_encode_separators_inside_them() {
    let server = any_ok().await;
    let (builder, _) = builder!(FormatsClient, server.uri());
    let formats = builder.build().unwrap();
    formats.csv(&["1", "a,b", "c d"]).await.unwrap();
    formats.ssv(&["1", "a b", "c,d"]).await.unwrap();
    formats.pipes(&["1", "a|b", "&"]).await.unwrap();
    formats.multi(&["1", "a,b"]).await.unwrap();
    formats.csv(&[]).await.unwrap();
    formats.named(Some(vec![4, 5]), 1).await.unwrap();
    formats.named(None, 2).await.unwrap();
    let requests = server.received_requests().await.unwrap();
    assert_eq!(
        queries(&requests),
        [
            Some("ids=1,a%2Cb,c+d"),
            Some("ids=1%20a+b%20c%2Cd"),
            Some("ids=1|a%7Cb|%26"),
            Some("ids=1&ids=a%2Cb"),
            None,
            Some("id=4,5&page=1"),
            Some("page=2"),
        ]
    );
}

#[tokio::test]
async fn a_trait_query_format_is_the_default_and_an_arguments_own_wins() {
    let server = any_ok().await;
    let (builder, _) = builder!(CsvByDefaultClient, server.uri());
    let client = builder.build().unwrap();
    client
        .list(&[1, 2, 3], &["x", "y"], &["p", "q"])
        .await
        .unwrap();
    let requests = server.received_requests().await.unwrap();
    assert_eq!(queries(&requests), [Some("ids=1,2,3&tags=x&tags=y&k=p|q")]);
}

#[tokio::test]
async fn query_flags_are_valueless_when_true_and_absent_when_false() {
    let server = any_ok().await;
    let (builder, _) = builder!(FormatsClient, server.uri());
    let formats = builder.build().unwrap();
    formats.flags(true, true, 1).await.unwrap();
    formats.flags(false, true, 2).await.unwrap();
    formats.flags(false, false, 3).await.unwrap();
    let requests = server.received_requests().await.unwrap();
    assert_eq!(
        queries(&requests),
        [
            Some("verbose&dry-run&page=1"),
            Some("dry-run&page=2"),
            Some("page=3")
        ]
    );
}

#[tokio::test]
async fn a_flattened_query_struct_honours_serde_renames() {
    let server = any_ok().await;
    let (builder, _) = builder!(FormatsClient, server.uri());
    let formats = builder.build().unwrap();
    let paging = Paging {
        page_size: 20,
        search_text: "a b&c".into(),
        sort_order: None,
    };
    formats.flat(&paging).await.unwrap();
    let paging = Paging {
        sort_order: Some("desc".into()),
        ..paging
    };
    formats.flat(&paging).await.unwrap();
    let requests = server.received_requests().await.unwrap();
    assert_eq!(
        queries(&requests),
        [
            Some("pageSize=20&q=a+b%26c"),
            Some("pageSize=20&q=a+b%26c&sortOrder=desc")
        ]
    );
}

// ---- max_response_bytes ----

#[token_client]
pub trait Sizes: Send + Sync {
    #[get("/body")]
    async fn json(&self) -> Result<Vec<u32>, Error>;

    #[get("/body")]
    async fn text(&self) -> Result<String, Error>;

    #[get("/body")]
    async fn bytes(&self) -> Result<bytes::Bytes, Error>;
}

/// A JSON array of `len` bytes: `[1,1,...,1]` (`len` odd, at least 3).
fn json_array(len: usize) -> String {
    assert!(len % 2 == 1 && len >= 3);
    let mut array = "1,".repeat((len - 1) / 2);
    array.pop();
    format!("[{array}]")
}

/// Asserts all three return types refuse the body with `ResponseTooLarge`.
async fn assert_all_too_large(sizes: &SizesClient, status: u16, limit: usize) {
    let results = [
        sizes.json().await.map(drop),
        sizes.text().await.map(drop),
        sizes.bytes().await.map(drop),
    ];
    for result in results {
        match result {
            Err(Error::ResponseTooLarge {
                status: s,
                limit: l,
            }) => {
                assert_eq!((s.as_u16(), l), (status, limit));
            }
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn a_content_length_over_the_limit_is_response_too_large_with_its_status() {
    let server = MockServer::start().await;
    Mock::given(path("/body"))
        .respond_with(ResponseTemplate::new(201).set_body_string(json_array(101)))
        .expect(3)
        .mount(&server)
        .await;
    let (builder, _) = builder!(SizesClient, server.uri());
    let sizes = builder.max_response_bytes(100).build().unwrap();
    assert_all_too_large(&sizes, 201, 100).await;
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_is_response_too_large_and_under_it_is_read() {
    let router = Router::new()
        .route(
            "/big/body",
            get(|| async {
                let chunks = [json_array(61), json_array(61), json_array(61)];
                let body = format!("[{},{},{}]", chunks[0], chunks[1], chunks[2]);
                let pieces: Vec<Result<Bytes, Infallible>> = body
                    .as_bytes()
                    .chunks(40)
                    .map(|c| Ok(Bytes::copy_from_slice(c)))
                    .collect();
                axum::body::Body::from_stream(stream::iter(pieces))
            }),
        )
        .route(
            "/small/body",
            get(|| async {
                let pieces: Vec<Result<Bytes, Infallible>> = vec![
                    Ok(Bytes::from_static(b"[1,2,")),
                    Ok(Bytes::from_static(b"3]")),
                ];
                axum::body::Body::from_stream(stream::iter(pieces))
            }),
        );
    let base = serve(router).await;
    let (builder, _) = builder!(SizesClient, format!("{base}/big"));
    let sizes = builder.max_response_bytes(100).build().unwrap();
    assert_all_too_large(&sizes, 200, 100).await;
    let (builder, _) = builder!(SizesClient, format!("{base}/small"));
    let sizes = builder.max_response_bytes(7).build().unwrap();
    assert_eq!(sizes.json().await.unwrap(), [1, 2, 3]);
    assert_eq!(sizes.text().await.unwrap(), "[1,2,3]");
    assert_eq!(&sizes.bytes().await.unwrap()[..], b"[1,2,3]");
}

static CHUNK: [u8; 64 * 1024] = [b'.'; 64 * 1024];

/// A body of `len` bytes of `.`, streamed in 64 KiB chunks, with a `Content-Length`.
/// `pulled` counts the chunks produced.
fn dots(len: usize, pulled: Option<Arc<AtomicUsize>>) -> axum::response::Response {
    let full = len / CHUNK.len();
    let rest = len % CHUNK.len();
    let chunks = (0..full)
        .map(move |_| {
            if let Some(pulled) = &pulled {
                pulled.fetch_add(1, Ordering::SeqCst);
            }
            Bytes::from_static(&CHUNK)
        })
        .chain((rest > 0).then(|| Bytes::from_static(&CHUNK[..rest])))
        .map(Ok::<_, Infallible>);
    axum::response::Response::builder()
        .header("content-length", len)
        .body(axum::body::Body::from_stream(stream::iter(chunks)))
        .unwrap()
}

const DEFAULT_LIMIT: usize = 64 * 1024 * 1024;

#[tokio::test]
async fn the_default_limit_allows_a_megabyte_refuses_past_64_mib_and_none_disables_it() {
    // How many chunks of the refused body the server produced.
    let pulled = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&pulled);
    let router = Router::new()
        .route("/mb/body", get(|| async { dots(1024 * 1024, None) }))
        .route(
            "/huge/body",
            get(|| async { dots(DEFAULT_LIMIT + 1, None) }),
        )
        .route(
            "/declared/body",
            get(move || {
                let counter = Arc::clone(&counter);
                async move { dots(DEFAULT_LIMIT + 1, Some(counter)) }
            }),
        );
    let base = serve(router).await;
    let (builder, _) = builder!(SizesClient, format!("{base}/mb"));
    let sizes = builder.build().unwrap();
    assert_eq!(sizes.bytes().await.unwrap().len(), 1024 * 1024);

    let (builder, _) = builder!(SizesClient, format!("{base}/declared"));
    let sizes = builder.build().unwrap();
    let error = sizes.bytes().await.unwrap_err();
    assert!(
        matches!(
            error,
            Error::ResponseTooLarge {
                limit: DEFAULT_LIMIT,
                ..
            }
        ),
        "{error:?}"
    );
    let pulled = pulled.load(Ordering::SeqCst);
    assert!(
        pulled < 256,
        "refused by its Content-Length, not read: {pulled} chunks of 1024 pulled"
    );

    let (builder, _) = builder!(SizesClient, format!("{base}/huge"));
    let sizes = builder.max_response_bytes(None).build().unwrap();
    let body = sizes.bytes().await.unwrap();
    assert_eq!(body.len(), DEFAULT_LIMIT + 1);
    assert!(body.iter().all(|&b| b == b'.'));
}

// ---- Result aliases ----

#[derive(Debug, PartialEq, Deserialize)]
pub struct Foo {
    pub id: u64,
}

#[derive(Debug)]
pub enum MyError {
    Client(Error),
}

impl From<Error> for MyError {
    fn from(error: Error) -> Self {
        Self::Client(error)
    }
}

pub type ApiResult<T> = Result<T, MyError>;

#[token_client]
pub trait Aliased: Send + Sync {
    #[get("/foos/{id}")]
    async fn get(&self, id: u64) -> ApiResult<Foo>;

    #[delete("/foos/{id}")]
    async fn delete(&self, id: u64) -> ApiResult<()>;
}

#[tokio::test]
async fn a_result_alias_with_the_users_error_works_end_to_end() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/foos/7"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({ "id": 7 })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/foos/8"))
        .respond_with(ResponseTemplate::new(404))
        .expect(1)
        .mount(&server)
        .await;
    let (builder, _) = builder!(AliasedClient, server.uri());
    let aliased = builder.build().unwrap();
    assert_eq!(aliased.get(7).await.unwrap(), Foo { id: 7 });
    let MyError::Client(error) = aliased.delete(8).await.unwrap_err();
    assert!(
        matches!(&error, Error::Api(api) if api.status == 404),
        "{error:?}"
    );
}
