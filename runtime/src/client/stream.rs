//! Streaming responses: [`ByteStream`] (the body as it arrives) and [`JsonLines`] (a
//! body of JSON lines, decoded one item at a time).

use std::fmt;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes, BytesMut};
use futures_core::Stream;
use http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

use crate::Error;
use crate::error::{EXCERPT_LEN, excerpt};

type Chunks = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

/// The body of a successful response as it arrives, chunk by chunk: a
/// `Stream<Item = Result<Bytes, Error>>`. A method returning `Result<ByteStream, E>` checks
/// the status first (a non-success is [`Error::Api`](crate::Error::Api), as for every
/// other return type), then hands the body over unread: nothing is buffered, and the
/// client's [`max_response_bytes`](crate::ClientBuilder::max_response_bytes) does not
/// apply (count what you keep).
///
/// A transport error while reading is the stream's last item. The client's
/// [`timeout`](crate::ClientBuilder::timeout) covers the whole exchange, reading
/// included: give long downloads a method `#[timeout]` of their own.
pub struct ByteStream {
    status: StatusCode,
    headers: HeaderMap,
    chunks: Chunks,
}

impl ByteStream {
    pub(super) fn new(response: reqwest::Response) -> Self {
        let status = response.status();
        let headers = response.headers().clone();
        Self {
            status,
            headers,
            chunks: Box::pin(response.bytes_stream()),
        }
    }

    /// The status of the response (a success).
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The headers of the response.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }
}

impl Stream for ByteStream {
    type Item = Result<Bytes, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let next = ready!(self.chunks.as_mut().poll_next(cx));
        Poll::Ready(next.map(|chunk| chunk.map_err(Error::from)))
    }
}

impl fmt::Debug for ByteStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ByteStream")
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// A body of JSON lines (NDJSON, JSON Lines: one JSON value per line), decoded item by
/// item as it arrives: a `Stream<Item = Result<T, Error>>`. The status is checked before
/// streaming, as for [`ByteStream`]; blank lines are skipped, `\r\n` is accepted, and the
/// last line needs no line break.
///
/// A line that does not decode is an [`Error::Decode`](crate::Error::Decode) item, and the
/// stream goes on with the next line. A line longer than the client's
/// [`max_response_bytes`](crate::ClientBuilder::max_response_bytes) is an
/// [`Error::ResponseTooLarge`](crate::Error::ResponseTooLarge) item, and the last one:
/// memory stays bounded by one line whatever the server sends.
pub struct JsonLines<T> {
    inner: ByteStream,
    buffer: BytesMut,
    /// Where the search for the next line break resumes in `buffer`.
    searched: usize,
    limit: Option<usize>,
    done: bool,
    item: PhantomData<fn() -> T>,
}

impl<T> JsonLines<T> {
    pub(super) fn new(response: reqwest::Response, limit: Option<usize>) -> Self {
        Self {
            inner: ByteStream::new(response),
            buffer: BytesMut::new(),
            searched: 0,
            limit,
            done: false,
            item: PhantomData,
        }
    }

    /// The status of the response (a success).
    pub fn status(&self) -> StatusCode {
        self.inner.status
    }

    /// The headers of the response.
    pub fn headers(&self) -> &HeaderMap {
        &self.inner.headers
    }

    /// The next complete line in the buffer, without its line break.
    fn next_line(&mut self) -> Option<Bytes> {
        let found = self.buffer[self.searched..]
            .iter()
            .position(|&b| b == b'\n');
        match found {
            Some(at) => {
                let line = self.buffer.split_to(self.searched + at + 1).freeze();
                self.searched = 0;
                Some(line.slice(..line.len() - 1))
            }
            None => {
                self.searched = self.buffer.len();
                None
            }
        }
    }

    fn too_large(&mut self, limit: usize) -> Error {
        self.done = true;
        self.buffer.clear();
        Error::ResponseTooLarge {
            status: self.inner.status,
            limit,
        }
    }
}

impl<T: DeserializeOwned> JsonLines<T> {
    /// Decodes `line`; `None` for a blank one.
    fn decode(&self, line: &[u8]) -> Option<Result<T, Error>> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            return None;
        }
        Some(serde_json::from_slice(line).map_err(|error| {
            Error::Decode(crate::DecodeError {
                status: self.inner.status,
                message: format!("a JSON line: {error}"),
                excerpt: excerpt(&String::from_utf8_lossy(line), EXCERPT_LEN),
            })
        }))
    }
}

impl<T: DeserializeOwned> Stream for JsonLines<T> {
    type Item = Result<T, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            while let Some(line) = this.next_line() {
                // A long line that arrived whole, its line break in the same chunk, is
                // refused too: the limit must not depend on how the body was cut.
                if let Some(limit) = this.limit
                    && line.len() > limit
                {
                    return Poll::Ready(Some(Err(this.too_large(limit))));
                }
                if let Some(item) = this.decode(&line) {
                    return Poll::Ready(Some(item));
                }
            }
            if let Some(limit) = this.limit
                && this.buffer.len() > limit
            {
                return Poll::Ready(Some(Err(this.too_large(limit))));
            }
            match ready!(Pin::new(&mut this.inner).poll_next(cx)) {
                Some(Ok(chunk)) => this.buffer.extend_from_slice(chunk.chunk()),
                Some(Err(error)) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(error)));
                }
                None => {
                    this.done = true;
                    let rest = std::mem::take(&mut this.buffer);
                    return Poll::Ready(this.decode(&rest));
                }
            }
        }
    }
}

impl<T> fmt::Debug for JsonLines<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsonLines")
            .field("status", &self.inner.status)
            .field("item", &std::any::type_name::<T>())
            .finish_non_exhaustive()
    }
}
