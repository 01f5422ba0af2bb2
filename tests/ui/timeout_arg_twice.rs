use std::time::Duration;

use token_client::token_client;

#[token_client]
pub trait Foos {
    #[get("/foos")]
    async fn list(
        &self,
        #[timeout] connect: Duration,
        #[timeout] total: Duration,
    ) -> Result<(), token_client::Error>;
}

fn main() {
    let _ = FoosClient::builder();
}
