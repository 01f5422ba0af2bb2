//! Putting a token on a request and retrying once on 401: the logic shared by
//! [`TokenMiddleware`](crate::TokenMiddleware) and the generated clients.

use http::{StatusCode, header::AUTHORIZATION};
use reqwest::{Request, Response};

use crate::{AccessToken, TokenError, TokenFuture, TokenProvider, TokenScope};

/// A request that carries a token from a provider, ready for a possible 401 retry.
pub(crate) struct Authorized {
    token: AccessToken,
}

/// The access token a request carried, kept on its non-success response: the
/// [`ApiError`](crate::ApiError) built from that response cleans it from the body, where
/// an API may echo it ("invalid token eyJ...").
#[derive(Clone)]
pub(crate) struct SentToken(pub(crate) AccessToken);

/// Adds `Authorization: Bearer <token>` to `request`, with a token of `scope` (`None`: the
/// default one), unless it already has an `Authorization` header (then `None` comes back:
/// the caller owns authentication).
pub(crate) async fn authorize(
    provider: &dyn TokenProvider,
    scope: Option<&TokenScope>,
    request: &mut Request,
) -> Result<Option<Authorized>, TokenError> {
    if request.headers().contains_key(AUTHORIZATION) {
        return Ok(None);
    }
    let token = token(provider, scope).await?;
    set_bearer(request, &token)?;
    Ok(Some(Authorized { token }))
}

impl Authorized {
    /// `response` to the authorized request, carrying its token when the status is not a
    /// success (the rare path: nothing is added to a successful call).
    pub(crate) fn mark(&self, mut response: Response) -> Response {
        if !response.status().is_success() {
            response
                .extensions_mut()
                .insert(SentToken(self.token.clone()));
        }
        response
    }

    /// Called with the status of the response to the authorized request, and the `scope`
    /// it was authorized for. On 401, drops the token it used from the provider (compare-and-invalidate: concurrent 401s for
    /// one token cause one refresh), then asks `replay` for the request to send again
    /// (`None`: retries are off, or the body cannot be replayed) and returns it carrying a
    /// fresh token, with that token's `Authorized`.
    ///
    /// `replay` is only called on a 401: the middleware hands over a copy it took before
    /// sending; the generated clients build the request again, so they copy nothing on
    /// the common path.
    pub(crate) async fn retry_after(
        &self,
        provider: &dyn TokenProvider,
        scope: Option<&TokenScope>,
        status: StatusCode,
        replay: impl FnOnce() -> Option<Request>,
    ) -> Result<Option<(Request, Authorized)>, TokenError> {
        if status != StatusCode::UNAUTHORIZED {
            return Ok(None);
        }
        match scope {
            Some(scope) => provider.invalidate_for(scope, &self.token),
            None => provider.invalidate(&self.token),
        }
        let Some(mut replay) = replay() else {
            return Ok(None);
        };
        let token = token(provider, scope).await?;
        set_bearer(&mut replay, &token)?;
        tracing::debug!("retrying once after 401 with a fresh token");
        Ok(Some((replay, Authorized { token })))
    }
}

/// A token of `scope`, or of the default scope.
fn token<'a>(provider: &'a dyn TokenProvider, scope: Option<&'a TokenScope>) -> TokenFuture<'a> {
    match scope {
        Some(scope) => provider.token_for(scope),
        None => provider.token(),
    }
}

fn set_bearer(request: &mut Request, token: &AccessToken) -> Result<(), TokenError> {
    let value = token
        .bearer_header()
        .ok_or(TokenError::InvalidToken)?
        .clone();
    request.headers_mut().insert(AUTHORIZATION, value);
    Ok(())
}
