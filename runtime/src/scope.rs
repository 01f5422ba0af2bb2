//! [`TokenScope`]: which token a request needs, when it is not the options' own.

use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::Arc;

/// The scope and resources (RFC 8707 resource indicators) of the token a request needs,
/// in place of those of the [`TokenOptions`](crate::TokenOptions): each distinct
/// `TokenScope` gets a cached token of its own, with its own single flight, behind the
/// same provider.
///
/// Set per method with `#[scope("orders.read")]` and `#[resource("https://orders.example")]`
/// in a `#[token_client]` trait, or per request on a middleware client by putting a
/// `TokenScope` in the request's extensions.
///
/// A scope given here replaces the options' scope; resources given here replace the
/// options' resources; what is not given is the options'.
///
/// Cheap to clone and to hash (the hash is computed once, when built).
#[derive(Clone)]
pub struct TokenScope {
    inner: Arc<Inner>,
}

#[derive(PartialEq, Eq)]
struct Inner {
    scope: Option<String>,
    resources: Vec<String>,
    hash: u64,
}

impl TokenScope {
    /// A scope set with nothing overridden (the options' own token).
    pub fn new() -> Self {
        Self::build(None, Vec::new())
    }

    /// Replaces the options' `scope` (space-separated scopes).
    pub fn scope(self, scope: impl Into<String>) -> Self {
        Self::build(Some(scope.into()), self.inner.resources.clone())
    }

    /// Adds a `resource` (an absolute URI); the options' resources are then not sent.
    pub fn resource(self, resource: impl Into<String>) -> Self {
        let mut resources = self.inner.resources.clone();
        resources.push(resource.into());
        Self::build(self.inner.scope.clone(), resources)
    }

    /// The scope asked for, if it replaces the options' one.
    pub fn scope_value(&self) -> Option<&str> {
        self.inner.scope.as_deref()
    }

    /// The resources asked for, if they replace the options' ones (empty: they do not).
    pub fn resources(&self) -> &[String] {
        &self.inner.resources
    }

    /// Whether nothing is overridden.
    pub fn is_default(&self) -> bool {
        self.inner.scope.is_none() && self.inner.resources.is_empty()
    }

    fn build(scope: Option<String>, resources: Vec<String>) -> Self {
        // A fixed hasher: the hash only serves maps inside this process.
        static STATE: std::sync::LazyLock<std::hash::RandomState> =
            std::sync::LazyLock::new(std::hash::RandomState::new);
        let hash = STATE.hash_one((&scope, &resources));
        Self {
            inner: Arc::new(Inner {
                scope,
                resources,
                hash,
            }),
        }
    }
}

impl Default for TokenScope {
    fn default() -> Self {
        Self::new()
    }
}

impl PartialEq for TokenScope {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner) || self.inner == other.inner
    }
}

impl Eq for TokenScope {}

impl Hash for TokenScope {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.inner.hash);
    }
}

impl fmt::Debug for TokenScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenScope")
            .field("scope", &self.inner.scope)
            .field("resources", &self.inner.resources)
            .finish()
    }
}
