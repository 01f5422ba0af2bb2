//! The access token handed out by providers.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

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
    /// `expires_at` on the wall clock, as of the token's creation.
    expires_at_system: SystemTime,
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
        let lifetime = expires_at.saturating_duration_since(Instant::now());
        let now = SystemTime::now();
        let expires_at_system = now.checked_add(lifetime).unwrap_or(now);
        let inner = Inner {
            bearer,
            secret,
            token_type,
            expires_at,
            expires_at_system,
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

    /// How long the token stays valid from now (zero once expired): the time to live to
    /// give it in a store shared with other processes, whose clocks are not this one's.
    pub fn expires_in(&self) -> Duration {
        self.inner
            .expires_at
            .saturating_duration_since(Instant::now())
    }

    /// When the token expires on the wall clock (`SystemTime` when it was created, plus
    /// its lifetime then): for logs, and for stores that keep an absolute expiry.
    pub fn expires_at_system(&self) -> SystemTime {
        self.inner.expires_at_system
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

/// A refresh token: opaque, and never shown by `Debug`.
///
/// Reached through [`TokenSource::refresh_token`](crate::TokenSource::refresh_token), so
/// that instances sharing a token (through a store) can share the refresh token too: a
/// rotated one, used by one instance, is revoked for the others.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshToken(Arc<str>);

impl RefreshToken {
    /// A refresh token whose value is `secret`.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(Arc::from(secret.into()))
    }

    /// The token itself, to send or to store. Keep it out of logs.
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RefreshToken(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn expiry_reads_as_a_time_to_live_and_as_a_wall_clock_instant() {
        let lifetime = Duration::from_secs(300);
        let created = SystemTime::now();
        let token = AccessToken::new("t", Instant::now() + lifetime);
        assert_eq!(token.expires_in(), lifetime);
        let wall = token.expires_at_system().duration_since(created).unwrap();
        assert!(
            wall >= lifetime && wall < lifetime + Duration::from_secs(5),
            "{wall:?}"
        );
        tokio::time::advance(Duration::from_secs(100)).await;
        assert_eq!(token.expires_in(), Duration::from_secs(200));
        tokio::time::advance(Duration::from_secs(1000)).await;
        assert_eq!(token.expires_in(), Duration::ZERO);
        let far = AccessToken::new("t", Instant::now() + Duration::from_secs(u32::MAX.into()));
        assert!(far.expires_at_system() > created);
    }
}
