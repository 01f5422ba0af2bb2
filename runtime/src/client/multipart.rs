//! Multipart bodies (`#[multipart]`, RFC 7578): [`Part`], and the traits that say which
//! argument types make parts. The encoding itself is reqwest's.

use std::fmt;
use std::path::PathBuf;

use bytes::Bytes;

use crate::Error;

/// One part of a `#[multipart]` request with its file name and content type: a file read
/// from disk as the request is sent, bytes, text or a stream.
///
/// Arguments of other types make parts too (see the guide's `#[multipart]` section): text
/// from `String`/`&str` and numbers, bytes from `Bytes`/`Vec<u8>`/`&[u8]`. A `Part` is
/// for what those cannot say: a file name, a content type, a file or a stream.
///
/// ```
/// # use token_client_runtime::Part;
/// let avatar = Part::file("avatar.png"); // file name `avatar.png`, `image/png`
/// let report = Part::bytes(b"a,b\n1,2\n".to_vec())
///     .file_name("report.csv")
///     .content_type("text/csv");
/// ```
///
/// A request whose parts are all files, bytes or text is sent again after a 401 (a file
/// is read again); one with a [`stream`](Self::stream) part cannot be, see the guide.
pub struct Part {
    pub(super) content: Content,
    pub(super) file_name: Option<String>,
    pub(super) content_type: Option<String>,
}

pub(super) enum Content {
    Bytes(Bytes),
    /// Opened and read as the request is sent, again for a replay.
    File(PathBuf),
    /// Sent once: taken by the first send.
    Stream(Option<reqwest::Body>),
}

impl Part {
    /// A part holding `bytes` (`application/octet-stream` unless set otherwise).
    pub fn bytes(bytes: impl Into<Bytes>) -> Self {
        Self::new(Content::Bytes(bytes.into()), None)
    }

    /// A part holding `text` (`text/plain; charset=utf-8` unless set otherwise).
    pub fn text(text: impl Into<String>) -> Self {
        let part = Self::new(Content::Bytes(text.into().into()), None);
        part.content_type("text/plain; charset=utf-8")
    }

    /// The file at `path`, opened and streamed when the request is sent (not read into
    /// memory), with its file name and a content type guessed from its extension
    /// (`application/octet-stream` when unknown). A file that cannot be opened fails the
    /// call with [`Error::Request`](crate::Error::Request) before anything is sent.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let content_type = mime_guess::from_path(&path)
            .first_or_octet_stream()
            .to_string();
        Self {
            content: Content::File(path),
            file_name,
            content_type: Some(content_type),
        }
    }

    /// A part streamed from `body` (`application/octet-stream` unless set otherwise):
    /// `reqwest::Body::wrap_stream(stream)` for any
    /// `Stream<Item = Result<Bytes, E>>`, or a `tokio::fs::File`. Sent without buffering,
    /// so it cannot be sent twice: a request with a stream part is not replayed after a 401.
    pub fn stream(body: impl Into<reqwest::Body>) -> Self {
        let body = body.into();
        match body.as_bytes() {
            // Buffered after all: a plain bytes part, which can be replayed.
            Some(bytes) => Self::bytes(Bytes::copy_from_slice(bytes)),
            None => Self::new(Content::Stream(Some(body)), None),
        }
    }

    fn new(content: Content, content_type: Option<String>) -> Self {
        Self {
            content,
            file_name: None,
            content_type,
        }
    }

    /// Sets the part's file name (`filename` in its `Content-Disposition`).
    #[must_use]
    pub fn file_name(mut self, name: impl Into<String>) -> Self {
        self.file_name = Some(name.into());
        self
    }

    /// Sets the part's content type. One that is not a valid MIME type fails the call
    /// with [`Error::Request`](crate::Error::Request).
    #[must_use]
    pub fn content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = Some(content_type.into());
        self
    }

    /// Whether the part can be sent again (not a stream).
    pub(super) fn replayable(&self) -> bool {
        !matches!(self.content, Content::Stream(_))
    }

    /// The reqwest part for one send: a file is opened, a stream taken.
    pub(super) async fn for_send(&mut self, name: &str) -> Result<reqwest::multipart::Part, Error> {
        let part = match &mut self.content {
            Content::Bytes(bytes) => reqwest::multipart::Part::stream_with_length(
                reqwest::Body::from(bytes.clone()),
                bytes.len() as u64,
            ),
            Content::File(path) => {
                let file = tokio::fs::File::open(&*path).await;
                let file = file.map_err(|error| file_error(name, path, &error))?;
                let length = file.metadata().await.map(|m| m.len());
                let length = length.map_err(|error| file_error(name, path, &error))?;
                reqwest::multipart::Part::stream_with_length(file, length)
            }
            Content::Stream(body) => match body.take() {
                Some(body) => reqwest::multipart::Part::stream(body),
                None => {
                    let message = format!("multipart part `{name}` is a stream, already sent");
                    return Err(Error::Request(message));
                }
            },
        };
        let part = match &self.file_name {
            Some(file_name) => part.file_name(file_name.clone()),
            None => part,
        };
        // RFC 7578 4.4: data of no known type is `application/octet-stream`.
        let content_type = match &self.content_type {
            Some(content_type) => content_type.as_str(),
            None => "application/octet-stream",
        };
        part.mime_str(content_type).map_err(|_| {
            Error::Request(format!(
                "multipart part `{name}`: `{}` is not a valid content type",
                content_type.escape_debug()
            ))
        })
    }
}

fn file_error(name: &str, path: &std::path::Path, error: &std::io::Error) -> Error {
    Error::Request(format!(
        "multipart part `{name}`: cannot read `{}`: {error}",
        path.display()
    ))
}

impl fmt::Debug for Part {
    /// The kind of content and its metadata, never the content.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.content {
            Content::Bytes(bytes) => format!("{} bytes", bytes.len()),
            Content::File(path) => format!("file {}", path.display()),
            Content::Stream(_) => "stream".to_owned(),
        };
        f.debug_struct("Part")
            .field("content", &kind)
            .field("file_name", &self.file_name)
            .field("content_type", &self.content_type)
            .finish()
    }
}

/// A value that makes one multipart part. Sequences and `Option` of these make
/// [`MultipartArg`]s.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a multipart part",
    label = "this argument of a `#[multipart]` method cannot be a part",
    note = "parts are text (`String`, `&str`, numbers, `bool`, `char`), bytes (`Bytes`, `Vec<u8>`, `&[u8]`), a `token_client::Part` (a file, a stream, a file name or content type), a `Vec`, slice or `Option` of those, or any `Serialize` type marked `#[part(json)]`"
)]
pub trait PartValue {
    /// The part.
    fn into_part(self) -> Part;
}

/// An argument of a `#[multipart]` method: one part, none (`None`), or one part per item
/// of a sequence, all under the argument's name.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a multipart part",
    label = "this argument of a `#[multipart]` method cannot be a part",
    note = "parts are text (`String`, `&str`, numbers, `bool`, `char`), bytes (`Bytes`, `Vec<u8>`, `&[u8]`), a `token_client::Part` (a file, a stream, a file name or content type), a `Vec`, slice or `Option` of those, or any `Serialize` type marked `#[part(json)]`"
)]
pub trait MultipartArg {
    /// Calls `push` with each part.
    fn into_parts(self, push: &mut dyn FnMut(Part));
}

macro_rules! single {
    ($($ty:ty => |$v:ident| $part:expr;)*) => {$(
        impl PartValue for $ty {
            fn into_part(self) -> Part {
                let $v = self;
                $part
            }
        }
        impl MultipartArg for $ty {
            fn into_parts(self, push: &mut dyn FnMut(Part)) {
                push(self.into_part());
            }
        }
    )*};
}

single! {
    Part => |p| p;
    String => |s| Part::text(s);
    &str => |s| Part::text(s);
    &String => |s| Part::text(s.as_str());
    std::borrow::Cow<'_, str> => |s| Part::text(s.into_owned());
    Bytes => |b| Part::bytes(b);
    &Bytes => |b| Part::bytes(b.clone());
    Vec<u8> => |b| Part::bytes(b);
    &Vec<u8> => |b| Part::bytes(Bytes::copy_from_slice(b));
    &[u8] => |b| Part::bytes(Bytes::copy_from_slice(b));
}

// `u8` is left out: `Vec<u8>` and `&[u8]` are bytes, not a sequence of numbers.
macro_rules! display {
    ($($ty:ty),*) => {$(
        single! { $ty => |v| Part::text(v.to_string()); }
        single! { &$ty => |v| Part::text(v.to_string()); }
    )*};
}

display!(
    i8, i16, i32, i64, i128, isize, u16, u32, u64, u128, usize, f32, f64, bool, char
);

impl<T: PartValue> MultipartArg for Option<T> {
    fn into_parts(self, push: &mut dyn FnMut(Part)) {
        if let Some(value) = self {
            push(value.into_part());
        }
    }
}

impl<T: PartValue> MultipartArg for Vec<T> {
    fn into_parts(self, push: &mut dyn FnMut(Part)) {
        self.into_iter().for_each(|value| push(value.into_part()));
    }
}

impl<'a, T> MultipartArg for &'a [T]
where
    &'a T: PartValue,
{
    fn into_parts(self, push: &mut dyn FnMut(Part)) {
        self.iter().for_each(|value| push(value.into_part()));
    }
}

impl<'a, T> MultipartArg for &'a Vec<T>
where
    &'a T: PartValue,
{
    fn into_parts(self, push: &mut dyn FnMut(Part)) {
        self.as_slice().into_parts(push);
    }
}
