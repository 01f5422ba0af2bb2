//! Putting a token on a request and retrying once on 401: the logic shared by
//! [`TokenMiddleware`](crate::TokenMiddleware) and the generated clients.

use http::{HeaderValue, StatusCode, header::AUTHORIZATION};
use reqwest::Request;

use crate::{AccessToken, TokenError, TokenProvider};

/// A request that carries a token from a provider, ready for a possible 401 retry.
pub(crate) struct Authorized {
    token: AccessToken,
    replay: Option<Request>,
}

/// Adds `Authorization: Bearer <token>` to `request`, unless it already has an
/// `Authorization` header (then `None` comes back: the caller owns authentication).
///
/// With `retry`, a copy of the request is kept for one replay after a 401; requests whose
/// body cannot be cloned (streams) are never replayed.
pub(crate) async fn authorize(
    provider: &dyn TokenProvider,
    request: &mut Request,
    retry: bool,
) -> Result<Option<Authorized>, TokenError> {
    if request.headers().contains_key(AUTHORIZATION) {
        return Ok(None);
    }
    let token = provider.token().await?;
    let replay = if retry { request.try_clone() } else { None };
    set_bearer(request, &token)?;
    Ok(Some(Authorized { token, replay }))
}

impl Authorized {
    /// Called with the status of the response to the authorized request. On 401, drops
    /// the token it used from the provider (compare-and-invalidate: concurrent 401s for
    /// one token cause one refresh) and returns the replay with a fresh token, if any.
    pub(crate) async fn retry_after(
        self,
        provider: &dyn TokenProvider,
        status: StatusCode,
    ) -> Result<Option<Request>, TokenError> {
        if status != StatusCode::UNAUTHORIZED {
            return Ok(None);
        }
        provider.invalidate(&self.token);
        let Some(mut replay) = self.replay else {
            return Ok(None);
        };
        let token = provider.token().await?;
        set_bearer(&mut replay, &token)?;
        tracing::debug!("retrying once after 401 with a fresh token");
        Ok(Some(replay))
    }
}

fn set_bearer(request: &mut Request, token: &AccessToken) -> Result<(), TokenError> {
    let mut value = HeaderValue::try_from(format!("Bearer {}", token.secret()))
        .map_err(|_| TokenError::InvalidToken)?;
    value.set_sensitive(true);
    request.headers_mut().insert(AUTHORIZATION, value);
    Ok(())
}
