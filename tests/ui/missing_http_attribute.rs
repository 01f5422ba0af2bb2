use token_client::token_client;

#[token_client]
pub trait Foos {
    #[get("/foos")]
    async fn list(&self) -> Result<(), token_client::Error>;
    async fn count(&self) -> Result<u64, token_client::Error>;
}

fn main() {
    let _ = FoosClient::builder();
}
