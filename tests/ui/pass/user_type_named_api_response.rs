//! A type of the user's named `ApiResponse` is a JSON model like any other: bare and
//! without type argument (ours has one), or generic and written through its own path.
#![deny(warnings)]

use serde::Deserialize;
use token_client::token_client;

/// The service's answer, decoded from JSON.
#[derive(Debug, Deserialize)]
pub struct ApiResponse {
    /// Its code.
    pub code: u16,
}

/// A generic envelope, as many services wrap their answers.
pub mod envelope {
    /// `{ "data": .. }`, decoded from JSON.
    #[derive(Debug, serde::Deserialize)]
    pub struct ApiResponse<T> {
        /// What it wraps.
        pub data: T,
    }
}

/// A foo.
#[derive(Debug, Deserialize)]
pub struct Foo {
    /// Its id.
    pub id: u64,
}

/// The service.
#[token_client]
pub trait Service {
    /// Asks it.
    #[get("/ask")]
    async fn ask(&self) -> Result<ApiResponse, token_client::Error>;

    /// A foo in an envelope.
    #[get("/foo")]
    async fn foo(&self) -> Result<envelope::ApiResponse<Foo>, token_client::Error>;

    /// Status and headers beside the body, written in full.
    #[get("/foo")]
    async fn foo_with_status(&self) -> Result<token_client::ApiResponse<Foo>, token_client::Error>;
}

fn main() {
    let _ = ServiceClient::builder();
}
