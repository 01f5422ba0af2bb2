use token_client::token_client;

#[token_client]
pub trait Foos {
    #[get("/foos")]
    async fn list(&self, #[timeout] secs: u64) -> Result<(), token_client::Error>;
}

fn main() {
    let _ = FoosClient::builder();
}
