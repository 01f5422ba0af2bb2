//! [`TokenProvider`] and [`SharedTokenProvider`]: caching with lock-free reads and
//! single-flight refresh.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::runtime::Handle;

use crate::flight::Shared;
use crate::store::fleet::Fleet;
use crate::{
    AccessToken, OAuth2Source, TokenError, TokenFuture, TokenOptions, TokenSource, TokenStore,
};

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

/// When a [`SharedTokenProvider`] refreshes: `RefreshPolicy::default()`, then the setters.
///
/// ```
/// # use std::time::Duration;
/// # use token_client_runtime::RefreshPolicy;
/// let policy = RefreshPolicy::default()
///     .early_refresh(Duration::from_secs(120))
///     .failure_cooldown(Duration::from_secs(5));
/// assert_eq!(policy.early_refresh, Duration::from_secs(120));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RefreshPolicy {
    /// How long before expiry a token is refreshed in the background (clamped to half
    /// the token's lifetime). Default 60 s.
    pub early_refresh: Duration,
    /// After a failed refresh, how long callers needing a token get that failure at once
    /// instead of a new request to the token endpoint. Default 1 s.
    pub failure_cooldown: Duration,
}

impl RefreshPolicy {
    /// How long before expiry a token is refreshed in the background (clamped to half
    /// the token's lifetime).
    pub fn early_refresh(mut self, window: Duration) -> Self {
        self.early_refresh = window;
        self
    }

    /// After a failed refresh, how long callers needing a token get that failure at once.
    pub fn failure_cooldown(mut self, cooldown: Duration) -> Self {
        self.failure_cooldown = cooldown;
        self
    }
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
/// is; a current-thread runtime only while a thread blocks on it), give each runtime a
/// provider of its own, or name the runtime refreshes run on with
/// [`ProviderBuilder::runtime`]. Without one, outside any runtime a cached token is still
/// handed out, but none can be fetched: the future fails with [`TokenError::NoRuntime`].
/// A refresh whose
/// runtime shuts down is reported to its waiters as [`TokenError::RefreshAborted`], and the
/// next caller starts a new one: a provider can outlive the runtime that first used it.
#[derive(Clone)]
pub struct SharedTokenProvider {
    shared: Arc<Shared>,
}

impl SharedTokenProvider {
    /// A provider fetching tokens from the token endpoint described by `options`:
    /// `SharedTokenProvider::builder(options).build()`.
    ///
    /// Fails when the options are invalid (see [`TokenOptions::validate`]).
    pub fn new(options: TokenOptions) -> Result<Self, TokenError> {
        Self::builder(options).build()
    }

    /// A builder of a provider for `options`, to set its refresh policy, the HTTP client
    /// of the token endpoint, or the runtime refreshes run on.
    pub fn builder(options: TokenOptions) -> ProviderBuilder {
        ProviderBuilder {
            policy: options.refresh_policy(),
            options,
            http: None,
            runtime: None,
            store: None,
        }
    }

    /// A provider over any token source, with the default [`RefreshPolicy`].
    pub fn from_source(source: impl TokenSource) -> Self {
        Self::from_source_with_policy(source, RefreshPolicy::default())
    }

    /// A provider over any token source, with the given refresh policy.
    pub fn from_source_with_policy(source: impl TokenSource, policy: RefreshPolicy) -> Self {
        Self {
            shared: Arc::new(Shared::new(Box::new(source), policy, None, None)),
        }
    }

    /// The refresh policy in force.
    pub fn policy(&self) -> RefreshPolicy {
        self.shared.policy()
    }
}

/// Builds a [`SharedTokenProvider`] for [`TokenOptions`]: `SharedTokenProvider::builder(options)`,
/// the setters, then [`build`](Self::build).
///
/// ```no_run
/// # use std::time::Duration;
/// # use token_client_runtime::{RefreshPolicy, SharedTokenProvider, TokenOptions};
/// # fn main() -> Result<(), token_client_runtime::TokenError> {
/// let options = TokenOptions::client_credentials("https://login.example/token", "id", "secret");
/// let refreshes = tokio::runtime::Runtime::new().unwrap();
/// let provider = SharedTokenProvider::builder(options)
///     .policy(RefreshPolicy::default().early_refresh(Duration::from_secs(120)))
///     .http_client_builder(reqwest::Client::builder().connect_timeout(Duration::from_secs(2)))
///     .runtime(refreshes.handle().clone())
///     .build()?;
/// # Ok(()) }
/// ```
#[must_use = "a builder does nothing until built"]
pub struct ProviderBuilder {
    options: TokenOptions,
    policy: RefreshPolicy,
    http: Option<reqwest::ClientBuilder>,
    runtime: Option<Handle>,
    store: Option<Arc<dyn TokenStore>>,
}

impl ProviderBuilder {
    /// When to refresh. Default: the options' [`refresh_policy`](TokenOptions::refresh_policy).
    pub fn policy(mut self, policy: RefreshPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Builds the token endpoint's HTTP client from `builder` (root certificates, a proxy,
    /// a client certificate...), with what
    /// [`OAuth2Source::with_client_builder`] enforces whatever it says: no redirects, no
    /// proxy for a loopback endpoint.
    pub fn http_client_builder(mut self, builder: reqwest::ClientBuilder) -> Self {
        self.http = Some(builder);
        self
    }

    /// Runs refreshes on `runtime` rather than on the runtime of the caller that needs
    /// one: for a provider shared between runtimes that are not always driven (a
    /// current-thread runtime), or used from threads outside any runtime.
    pub fn runtime(mut self, runtime: Handle) -> Self {
        self.runtime = Some(runtime);
        self
    }

    /// Shares tokens with the other instances of the service through `store` (a
    /// `RedisTokenStore`, feature `redis`), so the fleet makes one token request per
    /// token lifetime. The provider's own cache stays in front: the store is consulted
    /// only when the cached token is absent, due or rejected, and a store that fails
    /// never fails a call (the provider then fetches on its own).
    pub fn store(mut self, store: impl TokenStore) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// Builds the provider. Fails when the options are invalid (see
    /// [`TokenOptions::validate`]), the HTTP client cannot be built, or the store is not
    /// fully configured.
    pub fn build(self) -> Result<SharedTokenProvider, TokenError> {
        let fleet = match self.store {
            Some(store) => {
                store
                    .check()
                    .map_err(|error| TokenError::InvalidOptions(format!("token store: {error}")))?;
                let key = self.options.store_key();
                let timeout = self.options.request_timeout;
                Some(Fleet::new(store, key, timeout, self.policy))
            }
            None => None,
        };
        let http = self.http.unwrap_or_else(reqwest::Client::builder);
        let source = OAuth2Source::with_client_builder(self.options, http)?;
        let shared = Shared::new(Box::new(source), self.policy, self.runtime, fleet);
        Ok(SharedTokenProvider {
            shared: Arc::new(shared),
        })
    }
}

impl fmt::Debug for ProviderBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderBuilder")
            .field("options", &self.options)
            .field("policy", &self.policy)
            .field("http_client_builder", &self.http.is_some())
            .field("runtime", &self.runtime.is_some())
            .field("store", &self.store.is_some())
            .finish()
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
