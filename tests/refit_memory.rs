//! Memory bounds of streamed transfers: a 50 MB upload (`#[body(stream)]`) and a 50 MB
//! download (`ByteStream`) through a generated client, against a local axum server that
//! counts bytes as they stream, under a counting global allocator that records the peak
//! of live heap bytes. A binary of its own, so the allocator slows no other test.

use std::alloc::{GlobalAlloc, Layout, System};
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, put};
use bytes::Bytes;
use futures_util::{StreamExt, stream};
use token_client::reqwest::Body;
use token_client::{
    AccessToken, ByteStream, Error, SharedTokenProvider, TokenError, TokenSource, async_trait,
    token_client,
};

// ---- the counting allocator ----

/// The system allocator, counting live heap bytes and their peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(by: usize) {
    let live = LIVE.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

// SAFETY: every call is forwarded to `System` unchanged; only counters are updated.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, passed on as is.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with `layout` (the caller's contract).
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `dealloc`, and `new_size` is valid (the caller's contract).
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            grew(new_size);
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `work`, returning its output and the most the live heap grew above where it
/// stood at the start. One measurement at a time: the tests of this binary take `LOCK`.
async fn peak_growth<F: std::future::Future>(work: F) -> (F::Output, usize) {
    let start = LIVE.load(Ordering::SeqCst);
    PEAK.store(start, Ordering::SeqCst);
    let output = work.await;
    let peak = PEAK.load(Ordering::SeqCst);
    (output, peak.saturating_sub(start))
}

static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

// ---- the API and the server ----

#[token_client]
pub trait Blobs: Send + Sync {
    #[put("/blobs/{name}")]
    async fn put_blob(
        &self,
        name: &str,
        #[body(stream = "application/octet-stream")] body: Body,
    ) -> Result<String, Error>;

    #[get("/blobs/{name}")]
    async fn get_blob(&self, name: &str) -> Result<ByteStream, Error>;
}

#[derive(Default)]
struct Tokens(AtomicUsize);

#[async_trait]
impl TokenSource for Tokens {
    async fn fetch(&self) -> Result<AccessToken, TokenError> {
        let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
        let expires = tokio::time::Instant::now() + Duration::from_secs(3600);
        Ok(AccessToken::new(format!("t{n}"), expires))
    }
}

const MB_50: usize = 50 * 1024 * 1024;
/// Far below the 50 MB moved: what a buffered body would take.
const BOUND: usize = 8 * 1024 * 1024;

static CHUNK: [u8; 64 * 1024] = [b'.'; 64 * 1024];

/// 50 MB in 64 KiB chunks of one static buffer, made as they are asked for.
fn fifty_megabytes() -> impl futures_util::Stream<Item = Result<Bytes, Infallible>> + Send {
    stream::iter((0..MB_50 / CHUNK.len()).map(|_| Ok(Bytes::from_static(&CHUNK))))
}

/// A server whose `PUT` counts the bytes of the body as they stream (into `received`, and
/// answers the count), and whose `GET` streams 50 MB.
async fn server(received: Arc<AtomicUsize>) -> String {
    let router = Router::new()
        .route(
            "/blobs/{name}",
            put(move |body: axum::body::Body| async move {
                let mut chunks = body.into_data_stream();
                let mut count = 0;
                while let Some(chunk) = chunks.next().await {
                    count += chunk.unwrap().len();
                    received.store(count, Ordering::SeqCst);
                }
                count.to_string()
            }),
        )
        .route(
            "/blobs/{name}",
            get(|| async { axum::body::Body::from_stream(fifty_megabytes()) }),
        )
        .layer(DefaultBodyLimit::disable());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{address}")
}

async fn client() -> (BlobsClient, Arc<AtomicUsize>) {
    let received = Arc::new(AtomicUsize::new(0));
    let base_url = server(Arc::clone(&received)).await;
    let client = BlobsClient::builder()
        .base_url(base_url)
        .token_provider(SharedTokenProvider::from_source(Tokens::default()))
        .build()
        .unwrap();
    (client, received)
}

// ---- the tests ----

#[tokio::test]
async fn the_counting_allocator_sees_a_buffer_of_the_size_in_question() {
    let _one_at_a_time = LOCK.lock().await;
    let (buffer, growth) = peak_growth(async { vec![1_u8; MB_50] }).await;
    assert_eq!(buffer.len(), MB_50);
    // Other tests' background tasks may still be freeing memory while this one runs,
    // which lowers the growth seen; half is far above the 8 MB bound of the others.
    assert!(
        growth >= MB_50 / 2,
        "{growth}: the instrument would miss a buffered body"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_50_mb_streamed_upload_stays_within_a_few_megabytes() {
    let _one_at_a_time = LOCK.lock().await;
    let (blobs, received) = client().await;
    // A first call, so that connection and token exist before measuring.
    let small = Body::wrap_stream(stream::iter([Ok::<_, Infallible>(Bytes::from("x"))]));
    assert_eq!(blobs.put_blob("warm-up", small).await.unwrap(), "1");

    let upload = blobs.put_blob("big", Body::wrap_stream(fifty_megabytes()));
    let (answer, growth) = peak_growth(upload).await;
    assert_eq!(answer.unwrap(), MB_50.to_string());
    assert_eq!(received.load(Ordering::SeqCst), MB_50);
    println!("upload of {MB_50} bytes: peak live heap growth {growth} bytes");
    assert!(growth < BOUND, "peak growth {growth} bytes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_50_mb_byte_stream_download_stays_within_a_few_megabytes() {
    let _one_at_a_time = LOCK.lock().await;
    let (blobs, _) = client().await;
    let mut warm_up = blobs.get_blob("warm-up").await.unwrap();
    while warm_up.next().await.is_some() {}

    let download = async {
        let mut body = blobs.get_blob("big").await.unwrap();
        assert!(body.headers().get("content-length").is_none(), "chunked");
        let (mut total, mut all_dots) = (0, true);
        while let Some(chunk) = body.next().await {
            let chunk = chunk.unwrap();
            total += chunk.len();
            all_dots &= chunk.iter().all(|&b| b == b'.');
        }
        (total, all_dots)
    };
    let ((total, all_dots), growth) = peak_growth(download).await;
    assert_eq!(total, MB_50);
    assert!(all_dots);
    println!("download of {MB_50} bytes: peak live heap growth {growth} bytes");
    assert!(growth < BOUND, "peak growth {growth} bytes");
}
