//! A token source for the generated-client suites: tokens `t1`, `t2`... valid for an
//! hour, and a count of its fetches. Included with `#[path]` by the suites that need only
//! this, so they do not build the whole `support` module.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use token_client::{AccessToken, TokenError, TokenSource, async_trait};

/// A token source answering `t1`, `t2`... and counting its fetches.
#[derive(Default)]
pub struct Counting(AtomicUsize);

impl Counting {
    /// How many tokens it has handed out.
    pub fn fetches(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl TokenSource for Counting {
    async fn fetch(&self) -> Result<AccessToken, TokenError> {
        let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
        let expires = tokio::time::Instant::now() + Duration::from_secs(3600);
        Ok(AccessToken::new(format!("t{n}"), expires))
    }
}
