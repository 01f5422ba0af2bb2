//! `#[scope]` and `#[resource]` on the trait and on methods: a method's replace the
//! trait's, `#[no_auth]` methods take none, and the expansion is warning-free.
#![deny(warnings)]

use token_client::token_client;

#[token_client]
#[scope("orders.read")]
#[resource("https://orders.example.com")]
pub trait Orders {
    /// The trait's scope and resource.
    #[get("/orders")]
    async fn list(&self) -> Result<(), token_client::Error>;

    /// Its own scope, the trait's resource.
    #[post("/orders")]
    #[scope("orders.write orders.read")]
    async fn create(&self, #[body] name: &str) -> Result<(), token_client::Error>;

    /// The trait's scope, its own resources.
    #[get("/archive")]
    #[resource("https://archive.example.com")]
    #[resource(r"urn:example:archive")]
    async fn archive(&self) -> Result<(), token_client::Error>;

    /// No token at all.
    #[get("/health")]
    #[no_auth]
    async fn health(&self) -> Result<(), token_client::Error>;
}

/// Only methods ask for a scope; the others send the options' token.
#[token_client]
pub trait Mixed {
    #[get("/a")]
    async fn plain(&self) -> Result<(), token_client::Error>;

    #[get("/b")]
    #[scope("b")]
    async fn scoped(&self) -> Result<(), token_client::Error>;

    #[cfg(all())]
    #[get("/c")]
    #[scope("c")]
    async fn gated(&self) -> Result<(), token_client::Error>;
}

fn main() {
    let _ = OrdersClient::builder();
    let _ = MixedClient::builder();
}
