//! [`TokenSource`]: where fresh tokens come from.

use crate::{AccessToken, RefreshToken, TokenError, TokenScope};

/// Fetches one fresh token from somewhere: a token endpoint ([`OAuth2Source`](crate::OAuth2Source)),
/// a cloud metadata server, a file, a closure...
///
/// A source does no caching: wrap it in a [`SharedTokenProvider`](crate::SharedTokenProvider)
/// (`SharedTokenProvider::from_source(source)`), which calls `fetch` only when a token is
/// needed, once however many callers ask.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a token source",
    label = "implement `token_client::TokenSource` for this type, with `#[token_client::async_trait]`"
)]
#[async_trait::async_trait]
pub trait TokenSource: Send + Sync + 'static {
    /// Fetches a fresh token. Its `expires_at` drives the provider's refresh schedule.
    async fn fetch(&self) -> Result<AccessToken, TokenError>;

    /// A source of the tokens of `scope` (another scope, other resources) in place of this
    /// source's own, for a provider that serves several scopes (per-method `#[scope]`s).
    /// Default: `None`, this source has one kind of token only.
    fn for_scope(&self, scope: &TokenScope) -> Option<Box<dyn TokenSource>> {
        let _ = scope;
        None
    }

    /// The refresh token the next `fetch` would use, if the source keeps one (an OAuth2
    /// server's, from its last answer). Default: none.
    fn refresh_token(&self) -> Option<RefreshToken> {
        None
    }

    /// Replaces the refresh token the next `fetch` uses (one that another instance rotated,
    /// read from a shared store), or forgets it (`None`). Default: ignored.
    fn set_refresh_token(&self, token: Option<RefreshToken>) {
        let _ = token;
    }
}

#[async_trait::async_trait]
impl<S: TokenSource + ?Sized> TokenSource for std::sync::Arc<S> {
    async fn fetch(&self) -> Result<AccessToken, TokenError> {
        (**self).fetch().await
    }

    fn for_scope(&self, scope: &TokenScope) -> Option<Box<dyn TokenSource>> {
        (**self).for_scope(scope)
    }

    fn refresh_token(&self) -> Option<RefreshToken> {
        (**self).refresh_token()
    }

    fn set_refresh_token(&self, token: Option<RefreshToken>) {
        (**self).set_refresh_token(token)
    }
}
