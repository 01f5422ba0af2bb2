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
use super::request::RequestSpec;
use crate::{BuildError, Error, TokenProvider, auth};
use http::{HeaderMap, Method, StatusCode};
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
}

impl ClientCore {
    pub(super) fn new(inner: Inner) -> Self {
        Self {
            inner: Arc::new(inner),
        }
    }

    /// Starts describing a call: `path` is appended to the base URL.
    pub fn request(&self, method: Method, path: String) -> RequestSpec {
        RequestSpec::new(method, path)
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
    pub async fn send(&self, spec: &RequestSpec) -> Result<Response, Error> {
        if let Some(message) = &spec.error {
            return Err(Error::Request(message.clone()));
        }
        let mut request = self.build(spec)?;
        if spec.no_auth {
            return self.transmit(request).await;
        }
        let provider = self.provider()?;
        let scope = spec.token_scope.as_ref();
        let authorized = auth::authorize(provider, scope, &mut request).await?;
        let response = self.transmit(request).await?;
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
    /// `spec` whole, so a 401 can be replayed by building again (no copy up front).
    fn build(&self, spec: &RequestSpec) -> Result<Request, Error> {
        let url = self.url(spec)?;
        let headers = spec.merged_headers(&self.inner.default_headers);
        let mut request = Request::new(spec.method.clone(), url);
        *request.headers_mut() = headers;
        *request.body_mut() = spec.body.as_ref().map(|body| body.bytes.clone().into());
        if let Some(timeout) = self.inner.timeout {
            *request.timeout_mut() = Some(timeout);
        }
        Ok(request)
    }

    /// Joins base URL and path with exactly one `/`, then appends the query.
    fn url(&self, spec: &RequestSpec) -> Result<Url, Error> {
        check_dot_segments(&spec.path)?;
        let mut url = join(&self.inner.base_url, &spec.path);
        if !spec.query.is_empty() {
            url.push(if url.contains('?') { '&' } else { '?' });
            url.push_str(&spec.query);
        }
        Url::parse(&url).map_err(|error| {
            // The query may hold API keys: the message names the URL without it.
            let shown = url.split(['?', '#']).next().unwrap_or_default();
            Error::Request(format!("invalid URL `{shown}`: {error}"))
        })
    }

    /// After a 401: the shared 401 logic, then the replay, built anew from `spec`.
    async fn retry(
        &self,
        authorized: auth::Authorized,
        response: Response,
        spec: &RequestSpec,
    ) -> Result<Response, Error> {
        let provider = self.provider()?;
        let retry = self.inner.retry_on_unauthorized;
        let rebuild = || retry.then(|| self.build(spec).ok()).flatten();
        match authorized
            .retry_after(
                provider,
                spec.token_scope.as_ref(),
                response.status(),
                rebuild,
            )
            .await?
        {
            Some((replay, fresh)) => Ok(fresh.mark(self.transmit(replay).await?)),
            None => Ok(authorized.mark(response)),
        }
    }

    fn provider(&self) -> Result<&dyn TokenProvider, Error> {
        match &self.inner.provider {
            Some(provider) => Ok(&**provider),
            None => Err(BuildError::MissingTokenConfiguration.into()),
        }
    }

    /// Hands `request` to the client at once (not from inside an `async fn`, which would
    /// keep a copy of it in its state): straight to `reqwest` when there is no middleware.
    fn transmit(&self, request: Request) -> impl Future<Output = Result<Response, Error>> + Send {
        match &self.inner.http {
            Http::Plain(client) => Sent::Plain(client.execute(request)),
            Http::Middleware(client) => Sent::Middleware(Box::pin(client.execute(request))),
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

/// `base` (no trailing `/`) and `path` joined with exactly one `/`; an empty path adds nothing.
fn join(base: &str, path: &str) -> String {
    let path = path.trim_start_matches('/');
    if path.is_empty() {
        return base.to_owned();
    }
    format!("{base}/{path}")
}

impl fmt::Debug for ClientCore {
    /// No secrets: no token, no header values.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCore")
            .field("base_url", &self.inner.base_url)
            .field("auth", &self.inner.provider.is_some())
            .field("timeout", &self.inner.timeout)
            .field("retry_on_unauthorized", &self.inner.retry_on_unauthorized)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::join;

    #[test]
    fn join_keeps_the_base_path_with_one_slash() {
        assert_eq!(join("https://x/api", "/foos"), "https://x/api/foos");
        assert_eq!(join("https://x/api", "foos"), "https://x/api/foos");
        assert_eq!(join("https://x", "//foos/1"), "https://x/foos/1");
        assert_eq!(join("https://x/api", ""), "https://x/api");
    }
}
