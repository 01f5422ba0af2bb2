//! `Response` written bare is a JSON model, whatever it was imported as: the macro sees
//! how a type is written, not what it names. reqwest's response is `reqwest::Response`.
use token_client::reqwest::Response;
use token_client::token_client;

#[token_client]
pub trait Foos {
    #[head("/foos")]
    async fn exists(&self) -> Result<Response, token_client::Error>;
}

fn main() {
    let _ = FoosClient::builder();
}
