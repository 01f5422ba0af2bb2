//! Decoders: marker types, chosen by the macro from a method's return type, that turn a
//! response into that method's output.

use std::future::Future;
use std::marker::PhantomData;

use http::StatusCode;
use reqwest::Response;
use serde::de::DeserializeOwned;

use super::api_response::ApiResponse;
use super::stream::{ByteStream, JsonLines};
use crate::auth::SentToken;
use crate::body::read_capped;
use crate::error::{EXCERPT_LEN, excerpt};
use crate::redact::Redactor;
use crate::{ApiError, DecodeError, Error};

/// How much of a non-success body is kept in [`ApiError::body`]: an error page is for
/// reading, and a misbehaving server should not make the client buffer gigabytes.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// Turns a response into the output of a generated method.
pub trait Decode {
    /// What the method returns on success.
    type Output;

    /// Decodes `response`, reading at most `limit` bytes of a success body into memory
    /// (the client's `max_response_bytes`); a non-success status is an [`Error::Api`]
    /// unless the decoder says otherwise.
    fn decode(
        response: Response,
        limit: Option<usize>,
    ) -> impl Future<Output = Result<Self::Output, Error>> + Send;
}

/// The body as JSON, decoded into `T`.
pub struct Json<T>(PhantomData<fn() -> T>);

/// No output: the body is ignored.
pub struct Unit;

/// The body as text (decoded with the charset of its `Content-Type`, UTF-8 by default).
pub struct Text;

/// The body as raw bytes.
pub struct Bytes;

/// The response itself, whatever its status.
pub struct Raw;

/// An [`ApiResponse`] holding status, headers and the output of `M`; never fails on status.
pub struct WithResponse<M>(PhantomData<fn() -> M>);

/// The body as a [`ByteStream`], unread.
pub struct Stream;

/// The body as [`JsonLines<T>`], decoded line by line.
pub struct Lines<T>(PhantomData<fn() -> T>);

/// A method output decoded from JSON: any [`DeserializeOwned`] type. Its message names the
/// types the macro decodes otherwise, which it recognises by how they are written.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be decoded from JSON",
    label = "this return type does not implement `serde::Deserialize`",
    note = "a return type is decoded from JSON unless written `()`, `String`, `bytes::Bytes`, `reqwest::Response` or `ApiResponse<T>`: for the response itself, write `reqwest::Response` in full"
)]
pub(crate) trait JsonOutput: DeserializeOwned {}

impl<T: DeserializeOwned> JsonOutput for T {}

impl<T: JsonOutput> Decode for Json<T> {
    type Output = T;

    async fn decode(response: Response, limit: Option<usize>) -> Result<T, Error> {
        let response = success(response).await?;
        let status = response.status();
        let body = body(response, limit).await?;
        parse_json(status, &body)
    }
}

impl Decode for Unit {
    type Output = ();

    async fn decode(response: Response, _: Option<usize>) -> Result<(), Error> {
        success(response).await.map(drop)
    }
}

impl Decode for Text {
    type Output = String;

    async fn decode(response: Response, limit: Option<usize>) -> Result<String, Error> {
        let response = success(response).await?;
        if declared_within(&response, limit)? {
            return Ok(response.text().await?);
        }
        // Read capped, then decoded by reqwest with the charset of its `Content-Type`.
        let mut head = http::Response::builder().status(response.status());
        if let Some(headers) = head.headers_mut() {
            headers.clone_from(response.headers());
        }
        let bytes = body(response, limit).await?;
        let capped = head
            .body(bytes)
            .map_err(|e| Error::Request(e.to_string()))?;
        Ok(Response::from(capped).text().await?)
    }
}

impl Decode for Bytes {
    type Output = bytes::Bytes;

    async fn decode(response: Response, limit: Option<usize>) -> Result<bytes::Bytes, Error> {
        body(success(response).await?, limit).await
    }
}

impl Decode for Raw {
    type Output = Response;

    async fn decode(response: Response, _: Option<usize>) -> Result<Response, Error> {
        Ok(response)
    }
}

impl<M: Decode> Decode for WithResponse<M> {
    type Output = ApiResponse<M::Output>;

    async fn decode(response: Response, limit: Option<usize>) -> Result<Self::Output, Error> {
        let status = response.status();
        let headers = response.headers().clone();
        let body = M::decode(response, limit).await;
        Ok(ApiResponse::new(status, headers, body))
    }
}

impl Decode for Stream {
    type Output = ByteStream;

    async fn decode(response: Response, _: Option<usize>) -> Result<ByteStream, Error> {
        Ok(ByteStream::new(success(response).await?))
    }
}

/// A JSON-lines item: any [`DeserializeOwned`] type.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be decoded from a JSON line",
    label = "the item type of this `JsonLines` does not implement `serde::Deserialize`",
    note = "`JsonLines<T>` decodes each line of the body into `T`: `T` must implement `serde::Deserialize`"
)]
pub(crate) trait LineItem: DeserializeOwned {}

impl<T: DeserializeOwned> LineItem for T {}

impl<T: LineItem> Decode for Lines<T> {
    type Output = JsonLines<T>;

    async fn decode(response: Response, limit: Option<usize>) -> Result<JsonLines<T>, Error> {
        Ok(JsonLines::new(success(response).await?, limit))
    }
}

/// The whole body of a success `response`, refused as soon as it is known to exceed
/// `limit`: by its `Content-Length`, before reading, or by what arrived.
async fn body(mut response: Response, limit: Option<usize>) -> Result<bytes::Bytes, Error> {
    if declared_within(&response, limit)? {
        return Ok(response.bytes().await?);
    }
    let limit = limit.unwrap_or(usize::MAX);
    let mut body = Vec::new();
    if read_capped(&mut response, &mut body, limit).await? {
        let status = response.status();
        return Err(Error::ResponseTooLarge { status, limit });
    }
    Ok(body.into())
}

/// Whether the body may be read whole: no limit, or a `Content-Length` within it (the
/// HTTP layer fails a body longer than it declared). A declared length over the limit is
/// the error at once, before reading; `false`: unknown length, read it capped.
fn declared_within(response: &Response, limit: Option<usize>) -> Result<bool, Error> {
    let Some(limit) = limit else {
        return Ok(true);
    };
    match response.content_length() {
        Some(declared) if declared > limit as u64 => Err(Error::ResponseTooLarge {
            status: response.status(),
            limit,
        }),
        Some(_) => Ok(true),
        None => Ok(false),
    }
}

/// The response if its status is a success, else an [`Error::Api`] with its (capped) body.
async fn success(response: Response) -> Result<Response, Error> {
    if response.status().is_success() {
        return Ok(response);
    }
    // Rare: boxed, so that reading an error body does not grow every call's future.
    Err(Box::pin(api_error(response)).await)
}

async fn api_error(mut response: Response) -> Error {
    let status = response.status();
    let headers = response.headers().clone();
    let sent = response.extensions_mut().remove::<SentToken>();
    let mut body = Vec::new();
    // An error page is kept as far as it arrived: cut at the limit, or where it broke off.
    let _ = read_capped(&mut response, &mut body, ERROR_BODY_LIMIT).await;
    let mut body = String::from_utf8_lossy(&body).into_owned();
    if let Some(SentToken(token)) = sent {
        // An API that echoes the token it refused ("invalid token eyJ...") does not put
        // it in an error: the body is kept, the token cut out.
        let mut redactor = Redactor::default();
        redactor.secret(token.secret());
        body = redactor.scrub(&body);
    }
    ApiError {
        status,
        headers,
        body,
    }
    .into()
}

fn parse_json<T: DeserializeOwned>(status: StatusCode, body: &[u8]) -> Result<T, Error> {
    if body.iter().all(u8::is_ascii_whitespace) {
        let message = format!(
            "the body is empty, but JSON was expected for `{}`",
            std::any::type_name::<T>()
        );
        return Err(decode_error(status, message, body));
    }
    serde_json::from_slice(body).map_err(|error| decode_error(status, error.to_string(), body))
}

fn decode_error(status: StatusCode, message: String, body: &[u8]) -> Error {
    let excerpt = excerpt(&String::from_utf8_lossy(body), EXCERPT_LEN);
    Error::Decode(DecodeError {
        status,
        message,
        excerpt,
    })
}
