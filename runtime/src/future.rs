//! [`TokenFuture`]: the future returned by [`TokenProvider::token`](crate::TokenProvider::token).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::flight::Shared;
use crate::{AccessToken, SharedTokenProvider, TokenError, TokenScope};

/// The future returned by [`TokenProvider::token`](crate::TokenProvider::token) and
/// [`TokenProvider::token_for`](crate::TokenProvider::token_for).
///
/// Either already complete, which costs no allocation, or a boxed future for the slow
/// path. This keeps [`TokenProvider`](crate::TokenProvider) object-safe without boxing
/// every call, as `async_trait` would. The future of
/// [`SharedTokenProvider`](crate::SharedTokenProvider) looks its cache up when first
/// polled, not when created: a future awaited late judges the token at that time, and
/// one never awaited does nothing.
#[must_use = "futures do nothing unless awaited"]
pub struct TokenFuture<'a> {
    state: State<'a>,
}

pub(crate) type BoxFuture<'a> =
    Pin<Box<dyn Future<Output = Result<AccessToken, TokenError>> + Send + 'a>>;

enum State<'a> {
    Ready(Option<AccessToken>),
    /// A [`SharedTokenProvider`](crate::SharedTokenProvider)'s cache, not looked up yet.
    Lookup(&'a Arc<Shared>),
    /// The cache of one of its other scopes, not looked up yet (nor made, on first use).
    Scoped(&'a SharedTokenProvider, &'a TokenScope),
    Pending(BoxFuture<'a>),
}

impl<'a> TokenFuture<'a> {
    /// A future that is already complete: what a custom [`TokenProvider`](crate::TokenProvider)
    /// returns when it has a token at hand (no allocation).
    #[inline]
    pub fn ready(result: Result<AccessToken, TokenError>) -> Self {
        match result {
            Ok(token) => Self {
                state: State::Ready(Some(token)),
            },
            Err(error) => Self::new(std::future::ready(Err(error))),
        }
    }

    /// The cache lookup of a shared provider, done when first polled.
    #[inline]
    pub(crate) fn lookup(shared: &'a Arc<Shared>) -> Self {
        Self {
            state: State::Lookup(shared),
        }
    }

    /// The cache lookup of a shared provider's other scope, done when first polled.
    #[inline]
    pub(crate) fn scoped(provider: &'a SharedTokenProvider, scope: &'a TokenScope) -> Self {
        Self {
            state: State::Scoped(provider, scope),
        }
    }

    /// A future that runs `future` (boxed): what a custom
    /// [`TokenProvider`](crate::TokenProvider) returns when it must wait for a token.
    pub fn new(future: impl Future<Output = Result<AccessToken, TokenError>> + Send + 'a) -> Self {
        Self {
            state: State::Pending(Box::pin(future)),
        }
    }
}

impl Future for TokenFuture<'_> {
    type Output = Result<AccessToken, TokenError>;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.state {
            State::Ready(result) => Poll::Ready(Ok(result
                .take()
                .expect("TokenFuture polled after completion"))),
            State::Lookup(shared) => match shared.lookup() {
                Ok(token) => Poll::Ready(Ok(token)),
                Err(slow) => {
                    self.state = State::Pending(slow);
                    self.poll(cx)
                }
            },
            State::Scoped(provider, scope) => match provider.lookup(scope) {
                Ok(token) => Poll::Ready(Ok(token)),
                Err(slow) => {
                    self.state = State::Pending(slow);
                    self.poll(cx)
                }
            },
            State::Pending(future) => future.as_mut().poll(cx),
        }
    }
}

impl fmt::Debug for TokenFuture<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Ready(_) => "ready",
            State::Lookup(_) | State::Scoped(..) => "lookup",
            State::Pending(_) => "pending",
        };
        f.debug_struct("TokenFuture")
            .field("state", &state)
            .finish()
    }
}
