//! A type of the user's named `Response` is a JSON model like any other: only the
//! written path `reqwest::Response` asks for the response itself.
#![deny(warnings)]

use serde::Deserialize;
use token_client::token_client;

/// The service's answer, decoded from JSON.
#[derive(Debug, Deserialize)]
pub struct Response {
    /// Whether it worked.
    pub ok: bool,
}

/// Models under a module, named as the service names them.
pub mod models {
    /// Another answer, decoded from JSON.
    #[derive(Debug, serde::Deserialize)]
    pub struct Response {
        /// Its code.
        pub code: u16,
    }
}

/// The service.
#[token_client]
pub trait Service {
    /// Asks it.
    #[get("/ask")]
    async fn ask(&self) -> Result<Response, token_client::Error>;

    /// Asks it, with the model written through its module.
    #[get("/ask")]
    async fn ask_models(&self) -> Result<models::Response, token_client::Error>;

    /// Asks it, with the model written through `crate`.
    #[get("/ask")]
    async fn ask_crate(&self) -> Result<crate::Response, token_client::Error>;

    /// The response itself, written in full.
    #[get("/raw")]
    async fn raw(&self) -> Result<token_client::reqwest::Response, token_client::Error>;
}

fn main() {
    let _ = ServiceClient::builder();
}
