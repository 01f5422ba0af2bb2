//! [`ClientCore`]: what every generated client holds; sends each call with a token and
//! retries once on 401.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, Method};
use reqwest::{Request, Response, Url};
use reqwest_middleware::ClientWithMiddleware;

use super::decode::Decode;
use super::path::check_dot_segments;
use super::request::RequestSpec;
use crate::{BuildError, Error, TokenProvider, auth};

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
    pub(super) http: ClientWithMiddleware,
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

    /// Sends `spec` (with a token unless it is `no_auth`; on 401, once more with a fresh
    /// token) and decodes the response with `D`.
    pub async fn execute<D: Decode>(&self, spec: RequestSpec) -> Result<D::Output, Error> {
        let no_auth = spec.no_auth;
        let request = self.build(spec)?;
        let response = if no_auth {
            self.transmit(request).await?
        } else {
            self.send_authorized(request).await?
        };
        D::decode(response).await
    }

    /// Turns `spec` into a request: base URL + path + query, headers, body, timeout.
    fn build(&self, mut spec: RequestSpec) -> Result<Request, Error> {
        if let Some(message) = spec.error.take() {
            return Err(Error::Request(message));
        }
        let url = self.url(&spec)?;
        let headers = spec.merged_headers(&self.inner.default_headers);
        let mut request = Request::new(spec.method, url);
        *request.headers_mut() = headers;
        *request.body_mut() = spec.body.map(|body| body.bytes.into());
        *request.timeout_mut() = self.inner.timeout;
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
        Url::parse(&url).map_err(|error| Error::Request(format!("invalid URL `{url}`: {error}")))
    }

    /// Sends with a token; on 401, drops that token and replays once with a fresh one
    /// (unless retries are off or the body cannot be replayed).
    async fn send_authorized(&self, mut request: Request) -> Result<Response, Error> {
        let provider = self.provider()?;
        let retry = self.inner.retry_on_unauthorized;
        let authorized = auth::authorize(provider, &mut request, retry).await?;
        let response = self.transmit(request).await?;
        let Some(authorized) = authorized else {
            return Ok(response);
        };
        match authorized.retry_after(provider, response.status()).await? {
            Some(replay) => self.transmit(replay).await,
            None => Ok(response),
        }
    }

    fn provider(&self) -> Result<&dyn TokenProvider, Error> {
        match &self.inner.provider {
            Some(provider) => Ok(&**provider),
            None => Err(Error::Build(BuildError(
                "this method sends an access token, but the client was built without \
                 `token_options` or `token_provider`"
                    .to_owned(),
            ))),
        }
    }

    async fn transmit(&self, request: Request) -> Result<Response, Error> {
        Ok(self.inner.http.execute(request).await?)
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
