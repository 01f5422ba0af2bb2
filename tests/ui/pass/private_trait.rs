//! A private trait gives a private client; a trait without methods still expands.
#![deny(warnings)]

use token_client::token_client;

#[token_client]
trait Empty {}

#[token_client]
pub(crate) trait Crate {
    #[get("/x")]
    async fn x(&self) -> Result<(), token_client::Error>;
}

fn main() {
    let _ = EmptyClient::builder();
    let _ = CrateClient::builder();
}
