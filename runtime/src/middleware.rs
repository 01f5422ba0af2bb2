//! [`TokenMiddleware`]: bearer tokens for any `reqwest_middleware` client.

use std::fmt;
use std::sync::Arc;

use http::Extensions;
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next};

use crate::{TokenProvider, TokenScope, auth};

/// Adds `Authorization: Bearer <token>` from a [`TokenProvider`] to every request that has
/// no `Authorization` header yet; on a 401, invalidates the token it used and replays the
/// request once with a fresh token (when the body can be cloned). A second 401 is returned
/// as it is.
///
/// The Rust counterpart of .NET's token-refreshing `DelegatingHandler`:
///
/// ```no_run
/// # use token_client_runtime::{SharedTokenProvider, TokenMiddleware, TokenOptions};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let options = TokenOptions::client_credentials("https://login.example.com/token", "id", "secret");
/// let provider = SharedTokenProvider::new(options)?;
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(TokenMiddleware::new(provider))
///     .build();
/// # Ok(()) }
/// ```
///
/// A request whose `reqwest_middleware` extensions hold a [`TokenScope`] gets a token of
/// that scope (another scope, other resources: one cached token per distinct scope, see
/// [`SharedTokenProvider`](crate::SharedTokenProvider)); without one, the provider's
/// default token. Set it with `reqwest_middleware::RequestBuilder::with_extension`:
///
/// ```no_run
/// # use token_client_runtime::TokenScope;
/// # async fn run(client: reqwest_middleware::ClientWithMiddleware) -> reqwest_middleware::Result<()> {
/// let orders = TokenScope::new()
///     .scope("orders.read")
///     .resource("https://orders.example");
/// let response = client
///     .get("https://orders.example/orders")
///     .with_extension(orders)
///     .send()
///     .await?;
/// # Ok(()) }
/// ```
///
/// A token that cannot be had fails the request with
/// `reqwest_middleware::Error::Middleware`, whose inner error downcasts to
/// [`TokenError`](crate::TokenError).
#[derive(Clone)]
pub struct TokenMiddleware {
    provider: Arc<dyn TokenProvider>,
    retry_on_unauthorized: bool,
}

impl TokenMiddleware {
    /// A middleware taking its tokens from `provider`.
    pub fn new(provider: impl TokenProvider) -> Self {
        Self {
            provider: Arc::new(provider),
            retry_on_unauthorized: true,
        }
    }

    /// Whether to replay a request once after a 401 (default `true`). The token is
    /// invalidated on a 401 either way.
    pub fn retry_on_unauthorized(mut self, retry: bool) -> Self {
        self.retry_on_unauthorized = retry;
        self
    }
}

#[async_trait::async_trait]
impl Middleware for TokenMiddleware {
    async fn handle(
        &self,
        mut request: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let provider = &*self.provider;
        // A clone (a reference count): the extensions go on to the next middleware.
        let scope = extensions.get::<TokenScope>().cloned();
        let scope = scope.as_ref();
        let authorized = auth::authorize(provider, scope, &mut request)
            .await
            .map_err(reqwest_middleware::Error::middleware)?;
        let Some(authorized) = authorized else {
            return next.run(request, extensions).await;
        };
        // A streaming body cannot be cloned: such a request is never replayed.
        let replay = self
            .retry_on_unauthorized
            .then(|| request.try_clone())
            .flatten();
        let response = next.clone().run(request, extensions).await?;
        match authorized
            .retry_after(provider, scope, response.status(), || replay)
            .await
        {
            Ok(Some((replay, _))) => next.run(replay, extensions).await,
            Ok(None) => Ok(response),
            Err(error) => Err(reqwest_middleware::Error::middleware(error)),
        }
    }
}

impl fmt::Debug for TokenMiddleware {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenMiddleware")
            .field("retry_on_unauthorized", &self.retry_on_unauthorized)
            .finish_non_exhaustive()
    }
}
