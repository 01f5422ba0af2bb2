//! The access token handed out by providers.

use std::fmt;
use std::sync::Arc;

use tokio::time::Instant;

/// An OAuth2 access token with its expiry.
///
/// Cheap to clone (one `Arc` inside). Its `Debug` output never shows the secret.
#[derive(Clone)]
pub struct AccessToken {
    inner: Arc<Inner>,
}

struct Inner {
    /// `Bearer <secret>`, built once: every request carries it.
    bearer: Option<http::HeaderValue>,
    secret: String,
    token_type: String,
    expires_at: Instant,
    scope: Option<String>,
}

impl AccessToken {
    /// A token whose secret is `secret`, valid until `expires_at`, of type `Bearer`.
    pub fn new(secret: impl Into<String>, expires_at: Instant) -> Self {
        Self::with_details(secret.into(), "Bearer".to_owned(), expires_at, None)
    }

    pub(crate) fn with_details(
        secret: String,
        token_type: String,
        expires_at: Instant,
        scope: Option<String>,
    ) -> Self {
        let bearer = http::HeaderValue::try_from(format!("Bearer {secret}"))
            .ok()
            .map(|mut value| {
                value.set_sensitive(true);
                value
            });
        let inner = Inner {
            bearer,
            secret,
            token_type,
            expires_at,
            scope,
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The token itself, to put in an `Authorization` header. Keep it out of logs.
    pub fn secret(&self) -> &str {
        &self.inner.secret
    }

    /// `Bearer <secret>` as a header value, if the secret can be one.
    pub(crate) fn bearer_header(&self) -> Option<&http::HeaderValue> {
        self.inner.bearer.as_ref()
    }

    /// The token type the server announced (`Bearer` in practice).
    pub fn token_type(&self) -> &str {
        &self.inner.token_type
    }

    /// When the token stops being valid, on the `tokio::time` clock.
    pub fn expires_at(&self) -> Instant {
        self.inner.expires_at
    }

    /// The scope the server granted, when it said.
    pub fn scope(&self) -> Option<&str> {
        self.inner.scope.as_deref()
    }

    /// Whether the token is expired at `now`.
    pub fn is_expired_at(&self, now: Instant) -> bool {
        now >= self.inner.expires_at
    }

    /// Whether `self` and `other` are the same token (same allocation or same secret).
    pub fn same_as(&self, other: &AccessToken) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner) || self.inner.secret == other.inner.secret
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("secret", &"<redacted>")
            .field("token_type", &self.inner.token_type)
            .field("expires_at", &self.inner.expires_at)
            .field("scope", &self.inner.scope)
            .finish()
    }
}
