//! [`ClientCore`]: what every generated client holds; sends each call with a token and
//! retries once on 401.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use super::builder::Http;
#[cfg(doc)]
use super::decode::Decode;
use super::path::check_dot_segments;
use super::request::{Body, RequestSpec};
use crate::options::check_transport;
use crate::redact::display_url;
use crate::{BuildError, Error, TokenProvider, auth};
use http::{Extensions, HeaderMap, Method, StatusCode};
use reqwest::{Request, Response, Url};

/// Implemented by generated clients: how [`ClientBuilder`](crate::ClientBuilder) makes one.
pub trait FromCore: Sized {
    /// Whether some method sends a token; `false` only when every method is `#[no_auth]`,
    /// and then the builder needs no token configuration.
    const REQUIRES_AUTH: bool = true;

    /// Wraps a configured core.
    fn from_core(core: ClientCore) -> Self;
}

/// The configured state of a generated client. Cheap to clone (one `Arc` inside).
#[derive(Clone)]
pub struct ClientCore {
    inner: Arc<Inner>,
}

pub(super) struct Inner {
    /// Absolute http(s) URL without a trailing `/`.
    pub(super) base_url: String,
    pub(super) http: Http,
    pub(super) provider: Option<Arc<dyn TokenProvider>>,
    pub(super) default_headers: HeaderMap,
    pub(super) timeout: Option<Duration>,
    pub(super) retry_on_unauthorized: bool,
    /// The most bytes a success body is read into memory; `None`: no limit.
    pub(super) max_response_bytes: Option<usize>,
    /// Whether a `#[url(any_origin)]` URL may be plain http to a host that is not loopback.
    pub(super) allow_insecure_http: bool,
}

impl ClientCore {
    pub(super) fn new(inner: Inner) -> Self {
        Self {
            inner: Arc::new(inner),
        }
    }

    /// Starts describing a call: `path` (the template's leading text) is appended to the
    /// base URL with exactly one `/` between.
    pub fn request(&self, method: Method, path: &str) -> RequestSpec {
        RequestSpec::new(method, &self.inner.base_url, path)
    }

    /// Sends `spec`: with a token (of its [`token_scope`](RequestSpec::token_scope), if it has
    /// one) unless it is `no_auth`; on 401, once more with a fresh
    /// token, the request built anew from `spec`. Generated code then decodes the response
    /// with a [`Decode`] marker, in a separate statement, so that the two futures share
    /// their room in the method's future.
    ///
    /// The request is a local, not an argument, so it takes no room in the future once
    /// handed to the client: every call's future is boxed by `async_trait`, and its size is
    /// paid on each call.
    pub async fn send(&self, spec: &mut RequestSpec) -> Result<Response, Error> {
        if let Some(message) = &spec.error {
            return Err(Error::Request(message.clone()));
        }
        let mut request = self.build(spec)?;
        if let Some(Body::Multipart(_)) = spec.body {
            // Rare: boxed, so that opening files does not grow every call's future.
            request = Box::pin(self.multipart(request, spec)).await?;
        }
        if spec.no_auth {
            return self.transmit(request, &spec.extensions).await;
        }
        let provider = self.provider()?;
        let scope = spec.token_scope.as_ref();
        let authorized = auth::authorize(provider, scope, &mut request).await?;
        let response = self.transmit(request, &spec.extensions).await?;
        let Some(authorized) = authorized else {
            return Ok(response);
        };
        if response.status() != StatusCode::UNAUTHORIZED {
            return Ok(authorized.mark(response));
        }
        // Rare: boxed, so that the retry does not grow every call's future.
        Box::pin(self.retry(authorized, response, spec)).await
    }

    /// Turns `spec` into a request: base URL + path + query, headers, body, timeout. Leaves
    /// `spec` whole, so a 401 can be replayed by building again (no copy up front), but
    /// for a streamed body, which it takes. A multipart body is added by [`Self::multipart`].
    fn build(&self, spec: &mut RequestSpec) -> Result<Request, Error> {
        let url = self.url(spec)?;
        let headers = spec.merged_headers(&self.inner.default_headers);
        let mut request = Request::new(spec.method.clone(), url);
        *request.headers_mut() = headers;
        *request.body_mut() = match &mut spec.body {
            Some(Body::Bytes { bytes, .. }) => Some(bytes.clone().into()),
            Some(Body::Stream { body, .. }) => match body.take() {
                Some(body) => Some(body),
                None => {
                    let message = "the streamed body was already sent".to_owned();
                    return Err(Error::Request(message));
                }
            },
            Some(Body::Multipart(_)) | None => None,
        };
        if let Some(timeout) = spec.timeout.or(self.inner.timeout) {
            *request.timeout_mut() = Some(timeout);
        }
        Ok(request)
    }

    /// `request` with the multipart body of `spec`: files opened, streams taken, encoded
    /// by reqwest (which sets `Content-Type` with its boundary, and `Content-Length` when
    /// every part's length is known).
    async fn multipart(&self, request: Request, spec: &mut RequestSpec) -> Result<Request, Error> {
        let Some(Body::Multipart(parts)) = &mut spec.body else {
            return Ok(request);
        };
        let mut form = reqwest::multipart::Form::new();
        for (name, part) in parts.iter_mut() {
            form = form.part(*name, part.for_send(name).await?);
        }
        let client = match &self.inner.http {
            Http::Plain(client) => client.clone(),
            Http::Middleware(client) => AsRef::<reqwest::Client>::as_ref(client).clone(),
        };
        let timeout = request.timeout().copied();
        let builder = reqwest::RequestBuilder::from_parts(client, request).multipart(form);
        let mut request = builder.build()?;
        *request.timeout_mut() = timeout;
        Ok(request)
    }

    /// Joins base URL and path with exactly one `/` (or takes a `#[url]`), then appends
    /// the query.
    fn url(&self, spec: &RequestSpec) -> Result<Url, Error> {
        let absolute;
        let written = match &spec.absolute {
            Some((url, any_origin)) => {
                absolute = self.absolute(url, *any_origin || spec.no_auth)?;
                absolute.as_str()
            }
            None => {
                check_dot_segments(spec.relative_path())?;
                spec.base_and_path()
            }
        };
        let invalid = |error: url::ParseError| {
            // The query may hold API keys: the message names the URL without it.
            let shown = written.split(['?', '#']).next().unwrap_or_default();
            Error::Request(format!("invalid URL `{shown}`: {error}"))
        };
        // Parsed from the string built as the request was described: no copy.
        let mut url = Url::parse(written).map_err(invalid)?;
        if !spec.query.is_empty() {
            // Already encoded: `set_query` leaves `%` escapes as they are.
            match url.query() {
                Some(own) if !own.is_empty() => {
                    let query = format!("{own}&{}", spec.query);
                    url.set_query(Some(&query));
                }
                _ => url.set_query(Some(&spec.query)),
            }
        }
        Ok(url)
    }

    /// A `#[url]` argument, checked: absolute http(s), no user name or password, and on the
    /// base URL's origin unless `any_origin` (then over https unless loopback or
    /// `allow_insecure_http`). Without its fragment.
    fn absolute(&self, raw: &str, any_origin: bool) -> Result<String, Error> {
        let refused =
            |why: &str| Error::Request(format!("the `#[url]` `{}` {why}", display_url(raw)));
        let mut url = Url::parse(raw).map_err(|_| refused("is not an absolute URL"))?;
        if !matches!(url.scheme(), "http" | "https") || !url.has_host() {
            return Err(refused("is not an http or https URL"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(refused("holds a user name or password"));
        }
        url.set_fragment(None);
        if any_origin {
            let insecure_ok = (self.inner.allow_insecure_http, "allow_insecure_http(true)");
            check_transport(&url, "the `#[url]`", insecure_ok).map_err(Error::Request)?;
        } else {
            let base = Url::parse(&self.inner.base_url).map_err(|_| refused("has no base"))?;
            if url.origin() != base.origin() {
                return Err(refused(
                    "is not on the base URL's origin, and the access token would go with it: \
                     mark the argument `#[url(any_origin)]` to allow it",
                ));
            }
        }
        Ok(url.into())
    }

    /// After a 401: the shared 401 logic, then the replay, built anew from `spec` (not
    /// when its body was a stream: then the 401 is the answer).
    async fn retry(
        &self,
        authorized: auth::Authorized,
        response: Response,
        spec: &mut RequestSpec,
    ) -> Result<Response, Error> {
        let provider = self.provider()?;
        // Called on a 401 only (`send`): no second look at the status.
        let replay = if self.inner.retry_on_unauthorized && spec.replayable() {
            match self.build(spec) {
                Ok(request) => self.multipart(request, spec).await.ok(),
                Err(_) => None,
            }
        } else {
            None
        };
        match authorized
            .retry_after(
                provider,
                spec.token_scope.as_ref(),
                response.status(),
                || replay,
            )
            .await?
        {
            Some((replay, fresh)) => Ok(fresh.mark(self.transmit(replay, &spec.extensions).await?)),
            None => Ok(authorized.mark(response)),
        }
    }

    /// The most bytes a success body is read into memory (`max_response_bytes`).
    pub fn response_limit(&self) -> Option<usize> {
        self.inner.max_response_bytes
    }

    fn provider(&self) -> Result<&dyn TokenProvider, Error> {
        match &self.inner.provider {
            Some(provider) => Ok(&**provider),
            None => Err(BuildError::MissingTokenConfiguration.into()),
        }
    }

    /// Hands `request` to the client at once (not from inside an `async fn`, which would
    /// keep a copy of it in its state): straight to `reqwest` when there is no middleware.
    /// `extensions` (`#[extension]` arguments) reach the middleware stack; a plain client
    /// has none to give them to.
    fn transmit(
        &self,
        request: Request,
        extensions: &Extensions,
    ) -> impl Future<Output = Result<Response, Error>> + Send {
        match &self.inner.http {
            Http::Plain(client) => Sent::Plain(client.execute(request)),
            Http::Middleware(client) => {
                let mut extensions = extensions.clone();
                Sent::Middleware(Box::pin(async move {
                    client
                        .execute_with_extensions(request, &mut extensions)
                        .await
                }))
            }
        }
    }
}

/// A request handed to `reqwest`, or to the middleware stack.
enum Sent<P, M> {
    Plain(P),
    Middleware(M),
}

impl<P, M> Future for Sent<P, M>
where
    P: Future<Output = reqwest::Result<Response>> + Unpin,
    M: Future<Output = reqwest_middleware::Result<Response>> + Unpin,
{
    type Output = Result<Response, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            Sent::Plain(sent) => Pin::new(sent).poll(cx).map_err(Error::from),
            Sent::Middleware(sent) => Pin::new(sent).poll(cx).map_err(Error::from),
        }
    }
}

impl fmt::Debug for ClientCore {
    /// No secrets: no token, no header values.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCore")
            .field("base_url", &self.inner.base_url)
            .field("auth", &self.inner.provider.is_some())
            .field("timeout", &self.inner.timeout)
            .field("retry_on_unauthorized", &self.inner.retry_on_unauthorized)
            .field("max_response_bytes", &self.inner.max_response_bytes)
            .finish_non_exhaustive()
    }
}
