//! [`TokenProvider`] and [`SharedTokenProvider`]: caching with lock-free reads and
//! single-flight refresh.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::flight::Shared;
use crate::{AccessToken, OAuth2Source, TokenError, TokenFuture, TokenOptions, TokenSource};

/// Hands out access tokens. Object-safe: `Arc<dyn TokenProvider>` is a provider too.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a token provider",
    label = "expected a `token_client::SharedTokenProvider` or another `token_client::TokenProvider`",
    note = "build one with `SharedTokenProvider::new(options)` or `SharedTokenProvider::from_source(source)`"
)]
pub trait TokenProvider: Send + Sync + 'static {
    /// A valid token: at once from the cache, or after a refresh.
    fn token(&self) -> TokenFuture<'_>;

    /// Tells the provider that `stale` was rejected (a 401). The cached token is dropped
    /// only if it is still `stale`, so a burst of 401s for one token causes one refresh.
    fn invalidate(&self, stale: &AccessToken);
}

impl<P: TokenProvider + ?Sized> TokenProvider for Arc<P> {
    fn token(&self) -> TokenFuture<'_> {
        (**self).token()
    }

    fn invalidate(&self, stale: &AccessToken) {
        (**self).invalidate(stale)
    }
}

/// When a [`SharedTokenProvider`] refreshes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshPolicy {
    /// How long before expiry a token is refreshed in the background (clamped to half
    /// the token's lifetime). Default 60 s.
    pub early_refresh: Duration,
    /// After a failed refresh, how long callers needing a token get that failure at once
    /// instead of a new request to the token endpoint. Default 1 s.
    pub failure_cooldown: Duration,
}

impl Default for RefreshPolicy {
    fn default() -> Self {
        Self {
            early_refresh: Duration::from_secs(60),
            failure_cooldown: Duration::from_secs(1),
        }
    }
}

/// Caches the token of a [`TokenSource`] and refreshes it, once, ahead of expiry.
///
/// - A caller that finds a valid token gets it after an atomic load and a clock read: no
///   lock, no waiting, no allocation.
/// - A token inside its early-refresh window is still handed out at once while one
///   background refresh runs; only an absent or expired token makes callers wait.
/// - However many callers need a refresh, one request reaches the source, and all of them
///   get its result, token or error. The refresh runs in its own task: dropping the caller
///   that started it cancels nothing.
///
/// Cheap to clone (one `Arc` inside): share one provider between clients.
///
/// # Runtimes
///
/// A refresh runs as a tokio task on the runtime of the caller that starts it, and every
/// caller that needs a token waits for that refresh, whichever runtime it is on. So share
/// a provider only between runtimes that keep being driven (a multi-thread runtime always
/// is; a current-thread runtime only while a thread blocks on it), or give each runtime a
/// provider of its own. Outside any runtime a cached token is still handed out, but none
/// can be fetched: the future fails with [`TokenError::NoRuntime`]. A refresh whose
/// runtime shuts down is reported to its waiters as [`TokenError::RefreshAborted`], and the
/// next caller starts a new one: a provider can outlive the runtime that first used it.
#[derive(Clone)]
pub struct SharedTokenProvider {
    shared: Arc<Shared>,
}

impl SharedTokenProvider {
    /// A provider fetching tokens from the token endpoint described by `options`.
    ///
    /// Fails when the options are invalid (see [`TokenOptions::validate`]).
    pub fn new(options: TokenOptions) -> Result<Self, TokenError> {
        let policy = options.refresh_policy();
        let source = OAuth2Source::new(options)?;
        Ok(Self::from_source_with_policy(source, policy))
    }

    /// A provider over any token source, with the default [`RefreshPolicy`].
    pub fn from_source(source: impl TokenSource) -> Self {
        Self::from_source_with_policy(source, RefreshPolicy::default())
    }

    /// A provider over any token source, with the given refresh policy.
    pub fn from_source_with_policy(source: impl TokenSource, policy: RefreshPolicy) -> Self {
        Self {
            shared: Arc::new(Shared::new(Box::new(source), policy)),
        }
    }

    /// The refresh policy in force.
    pub fn policy(&self) -> RefreshPolicy {
        self.shared.policy()
    }
}

impl TokenProvider for SharedTokenProvider {
    /// Looks the cache up when first polled: one atomic load and one clock read.
    #[inline]
    fn token(&self) -> TokenFuture<'_> {
        TokenFuture::lookup(&self.shared)
    }

    fn invalidate(&self, stale: &AccessToken) {
        self.shared.invalidate(stale);
    }
}

impl fmt::Debug for SharedTokenProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedTokenProvider")
            .field("policy", &self.shared.policy())
            .field("token", &self.shared.cached_token())
            .finish_non_exhaustive()
    }
}
