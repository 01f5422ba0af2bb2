//! [`TokenProvider`] and [`SharedTokenProvider`]: caching with lock-free reads and
//! single-flight refresh.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::runtime::Handle;

use crate::flight::Shared;
use crate::future::BoxFuture;
use crate::store::fleet::Fleet;
use crate::{
    AccessToken, OAuth2Source, TokenError, TokenFuture, TokenOptions, TokenScope, TokenSource,
    TokenStore,
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

    /// A valid token of `scope` (another scope, other resources: a method's `#[scope]` or
    /// `#[resource]`, a `TokenScope` request extension); for the default scope, the token of
    /// [`token`](Self::token). The future may borrow `scope`.
    ///
    /// Default: [`token`](Self::token) for the default scope, and for any other
    /// [`TokenError::ScopeNotSupported`]: this provider has one kind of token.
    fn token_for<'a>(&'a self, scope: &'a TokenScope) -> TokenFuture<'a> {
        if scope.is_default() {
            self.token()
        } else {
            TokenFuture::ready(Err(TokenError::ScopeNotSupported))
        }
    }

    /// Tells the provider that `stale`, a token of `scope`, was rejected (a 401), as
    /// [`invalidate`](Self::invalidate) does for the default scope.
    ///
    /// Default: [`invalidate`](Self::invalidate) for the default scope, nothing for another
    /// (this provider has no token of it).
    fn invalidate_for(&self, scope: &TokenScope, stale: &AccessToken) {
        if scope.is_default() {
            self.invalidate(stale);
        }
    }
}

impl<P: TokenProvider + ?Sized> TokenProvider for Arc<P> {
    fn token(&self) -> TokenFuture<'_> {
        (**self).token()
    }

    fn invalidate(&self, stale: &AccessToken) {
        (**self).invalidate(stale)
    }

    fn token_for<'a>(&'a self, scope: &'a TokenScope) -> TokenFuture<'a> {
        (**self).token_for(scope)
    }

    fn invalidate_for(&self, scope: &TokenScope, stale: &AccessToken) {
        (**self).invalidate_for(scope, stale)
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
/// Cheap to clone (two `Arc`s inside): share one provider between clients.
///
/// # Scopes
///
/// Besides the token of its options (or source), a provider serves the tokens of other
/// [`TokenScope`]s ([`token_for`](TokenProvider::token_for)): each distinct scope gets a
/// cached token of its own, with its own single flight and cool-down, made on first use.
/// Over [`TokenOptions`] a scope's token is asked for with the scope's `scope` and
/// `resource`s in place of the options' ones (and, with a [store](ProviderBuilder::store),
/// shared under a store key of its own); over a custom source, with the source that its
/// [`for_scope`](TokenSource::for_scope) returns ([`TokenError::ScopeNotSupported`] when it
/// returns none). A valid token of a scope costs one more atomic load and one hash lookup
/// than the default token.
///
/// Scopes are meant to come from code (`#[scope]`, `#[resource]`) or from a small set a
/// caller puts in request extensions: a provider serves at most 1024 distinct scopes, and
/// fails a request for one more with [`TokenError::TooManyScopes`] rather than grow without
/// bound (a scope, once served, is kept as long as the provider).
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
    /// The default scope's flight: [`token`](TokenProvider::token) reads it directly.
    shared: Arc<Shared>,
    scopes: Arc<Scopes>,
}

/// The most distinct scopes one provider serves.
const MAX_SCOPES: usize = 1024;

/// The flights of the scopes other than the default one, and how to make a new one.
struct Scopes {
    /// Copy-on-write: read with one atomic load, replaced whole when a scope is added.
    flights: ArcSwap<ScopeMap>,
    make: MakeSource,
    runtime: Option<Handle>,
}

type ScopeMap = HashMap<TokenScope, Arc<Shared>, BuildHasherDefault<ScopeHasher>>;

/// Where the source of a new scope comes from.
enum MakeSource {
    /// A copy of the options' source with the scope's scope and resources (it never
    /// fetches itself), and the store, if any: each scope has a store key of its own.
    OAuth2 {
        template: Box<OAuth2Source>,
        store: Option<Arc<dyn TokenStore>>,
    },
    /// The default flight's source's [`TokenSource::for_scope`].
    ForScope,
}

/// The hasher of the scope map: a [`TokenScope`] hashes as one `u64` computed when it was
/// built, already spread by a keyed hash, so it is taken as it is.
#[derive(Default)]
struct ScopeHasher(u64);

impl Hasher for ScopeHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write_u64(&mut self, hash: u64) {
        self.0 = hash;
    }

    /// Not used by `TokenScope`; a plain FNV-1a, should anything else write.
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
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

    /// A provider over any token source, with the default [`RefreshPolicy`]. It serves the
    /// [`TokenScope`]s for which the source's [`for_scope`](TokenSource::for_scope) returns
    /// a source.
    pub fn from_source(source: impl TokenSource) -> Self {
        Self::from_source_with_policy(source, RefreshPolicy::default())
    }

    /// A provider over any token source, with the given refresh policy.
    ///
    /// It serves the [`TokenScope`]s for which the source's
    /// [`for_scope`](TokenSource::for_scope) returns a source.
    pub fn from_source_with_policy(source: impl TokenSource, policy: RefreshPolicy) -> Self {
        let shared = Shared::new(Box::new(source), policy, None, None);
        Self::with_scopes(shared, MakeSource::ForScope, None)
    }

    fn with_scopes(shared: Shared, make: MakeSource, runtime: Option<Handle>) -> Self {
        Self {
            shared: Arc::new(shared),
            scopes: Arc::new(Scopes {
                flights: ArcSwap::from_pointee(ScopeMap::default()),
                make,
                runtime,
            }),
        }
    }

    /// The refresh policy in force.
    pub fn policy(&self) -> RefreshPolicy {
        self.shared.policy()
    }

    /// The lookup of `scope` (not the default one), when its token future is first polled:
    /// one atomic load and one hash lookup to find its flight, then the lookup of
    /// [`token`](TokenProvider::token) in that flight. `Err`: the slow path, a future to poll.
    #[inline]
    pub(crate) fn lookup(&self, scope: &TokenScope) -> Result<AccessToken, BoxFuture<'static>> {
        if let Some(shared) = self.scopes.flights.load().get(scope) {
            return shared.lookup();
        }
        self.lookup_new(scope)
    }

    /// The first lookup of `scope`: makes its flight.
    #[cold]
    #[inline(never)]
    fn lookup_new(&self, scope: &TokenScope) -> Result<AccessToken, BoxFuture<'static>> {
        match self.add_flight(scope) {
            Ok(shared) => shared.lookup(),
            Err(error) => Err(Box::pin(std::future::ready(Err(error)))),
        }
    }

    /// Makes the flight of `scope` and adds it to the map, unless a racing caller added
    /// one first (then that one is used, and this one dropped).
    ///
    /// The source is made (user code, for a custom source) before the map is touched; the
    /// map is swapped with nothing but clones of `Arc`s inside; what a race leaves over is
    /// dropped after.
    fn add_flight(&self, scope: &TokenScope) -> Result<Arc<Shared>, TokenError> {
        let full = || TokenError::TooManyScopes { limit: MAX_SCOPES };
        if self.scopes.flights.load().len() >= MAX_SCOPES {
            return Err(full());
        }
        let candidate = Arc::new(self.make_flight(scope)?);
        // Set by the last run of the closure, the one whose map was stored.
        let mut found = None;
        let mut added = false;
        let replaced = self.scopes.flights.rcu(|flights| {
            found = flights.get(scope).cloned();
            added = found.is_none() && flights.len() < MAX_SCOPES;
            if !added {
                return Arc::clone(flights);
            }
            let mut next = ScopeMap::clone(flights);
            next.insert(scope.clone(), Arc::clone(&candidate));
            Arc::new(next)
        });
        drop(replaced);
        match found {
            // Lost the race: `candidate` (and its source) is dropped here, outside any lock.
            Some(existing) => Ok(existing),
            None if added => {
                tracing::debug!(?scope, "serving a new token scope");
                Ok(candidate)
            }
            None => Err(full()),
        }
    }

    /// A new flight for `scope`: its source, its store key; the policy and runtime of the
    /// default flight.
    fn make_flight(&self, scope: &TokenScope) -> Result<Shared, TokenError> {
        let (source, fleet): (Box<dyn TokenSource>, _) = match &self.scopes.make {
            MakeSource::OAuth2 { template, store } => {
                let source = template.scoped(scope);
                let fleet = store.as_ref().map(|store| {
                    let options = source.options();
                    let key = options.store_key();
                    Fleet::new(
                        Arc::clone(store),
                        key,
                        options.request_timeout,
                        self.policy(),
                    )
                });
                (Box::new(source), fleet)
            }
            MakeSource::ForScope => match self.shared.source().for_scope(scope) {
                Some(source) => (source, None),
                None => return Err(TokenError::ScopeNotSupported),
            },
        };
        let runtime = self.scopes.runtime.clone();
        Ok(Shared::new(source, self.policy(), runtime, fleet))
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
    ///
    /// The token of each [`TokenScope`] is shared under a key of its own: the key of
    /// options asking for that scope and those resources.
    pub fn store(mut self, store: impl TokenStore) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// Builds the provider. Fails when the options are invalid (see
    /// [`TokenOptions::validate`]), the HTTP client cannot be built, or the store is not
    /// fully configured.
    pub fn build(self) -> Result<SharedTokenProvider, TokenError> {
        let fleet = match &self.store {
            Some(store) => {
                store
                    .check()
                    .map_err(|error| TokenError::InvalidOptions(format!("token store: {error}")))?;
                let key = self.options.store_key();
                let timeout = self.options.request_timeout;
                Some(Fleet::new(Arc::clone(store), key, timeout, self.policy))
            }
            None => None,
        };
        let http = self.http.unwrap_or_else(reqwest::Client::builder);
        let source = OAuth2Source::with_client_builder(self.options, http)?;
        let make = MakeSource::OAuth2 {
            template: Box::new(source.scoped(&TokenScope::new())),
            store: self.store,
        };
        let runtime = self.runtime.clone();
        let shared = Shared::new(Box::new(source), self.policy, self.runtime, fleet);
        Ok(SharedTokenProvider::with_scopes(shared, make, runtime))
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

    /// Looks the cache of `scope` up when first polled: for a scope already served, one
    /// atomic load and one hash lookup more than [`token`](Self::token). The first poll for
    /// a scope makes its flight (for a custom source, calls its
    /// [`for_scope`](TokenSource::for_scope)).
    #[inline]
    fn token_for<'a>(&'a self, scope: &'a TokenScope) -> TokenFuture<'a> {
        if scope.is_default() {
            return self.token();
        }
        TokenFuture::scoped(self, scope)
    }

    fn invalidate_for(&self, scope: &TokenScope, stale: &AccessToken) {
        if scope.is_default() {
            return self.invalidate(stale);
        }
        if let Some(shared) = self.scopes.flights.load().get(scope) {
            shared.invalidate(stale);
        }
    }
}

impl fmt::Debug for SharedTokenProvider {
    /// The policy, the default token (its `Debug` shows no secret) and how many other
    /// scopes have a flight: not their tokens.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedTokenProvider")
            .field("policy", &self.shared.policy())
            .field("token", &self.shared.cached_token())
            .field("scoped_tokens", &self.scopes.flights.load().len())
            .finish_non_exhaustive()
    }
}
