//! Typed, token-authenticated HTTP clients.
//!
//! `token-client` gives every request an OAuth2 access token from a shared provider that
//! caches it, refreshes it ahead of expiry in the background, and sends exactly one request
//! to the token endpoint however many callers need a new one; a caller holding a valid
//! token never waits on a lock.
//!
//! ```no_run
//! use token_client::{SharedTokenProvider, TokenMiddleware, TokenOptions};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let options = TokenOptions::client_credentials(
//!     "https://login.example.com/oauth2/token",
//!     "my-service",
//!     std::env::var("CLIENT_SECRET")?,
//! )
//! .scope("foos.read");
//! let provider = SharedTokenProvider::new(options)?;
//! let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
//!     .with(TokenMiddleware::new(provider))
//!     .build();
//! let foos = http.get("https://api.example.com/foos").send().await?;
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

pub use token_client_macros::token_client;
pub use token_client_runtime::*;

/// What generated code calls. Not public API: no semver guarantees.
#[doc(hidden)]
pub mod __private {
    pub use token_client_runtime::__private::*;
}
