use token_client::token_client;

#[token_client]
pub trait Foos {
    #[get("/foos")]
    #[timeout(secs = 0)]
    async fn list(&self) -> Result<(), token_client::Error>;
}

fn main() {
    let _ = FoosClient::builder();
}
