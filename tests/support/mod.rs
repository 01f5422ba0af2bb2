//! Helpers shared by the facade's interop and fault suites.
// Each test binary uses only part of this module.
#![allow(dead_code)]

pub mod counting_idp;
pub mod interop_server;
pub mod node_server;
pub mod oidc_server;
pub mod pki;
pub mod redis_server;

use std::time::Duration;

use token_client::{SharedTokenProvider, TokenError, TokenMiddleware};

/// A `reqwest` client whose every request takes its bearer token from `provider`.
pub fn middleware_client(
    provider: SharedTokenProvider,
) -> reqwest_middleware::ClientWithMiddleware {
    reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(TokenMiddleware::new(provider))
        .build()
}

/// The [`TokenError`] inside an error of [`TokenMiddleware`], if that is what it is.
pub fn token_error(error: &reqwest_middleware::Error) -> Option<&TokenError> {
    match error {
        reqwest_middleware::Error::Middleware(inner) => inner.downcast_ref::<TokenError>(),
        reqwest_middleware::Error::Reqwest(_) => None,
    }
}

/// Awaits `future`, failing the test with `what` if it takes longer than `limit`: a hang
/// becomes a clear failure instead of a stuck test run.
pub async fn within<F: std::future::Future>(limit: Duration, what: &str, future: F) -> F::Output {
    match tokio::time::timeout(limit, future).await {
        Ok(output) => output,
        Err(_) => panic!("{what} did not finish within {limit:?}"),
    }
}

/// A small seeded PRNG (xorshift64*): the same seed gives the same run.
pub struct Prng(u64);

impl Prng {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// `true` once in `n` times on average.
    pub fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }
}
