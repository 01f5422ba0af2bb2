use token_client::token_client;

#[token_client]
pub trait Foos {
    #[post("/foos")]
    async fn create(&self, #[body] name: &str, #[body] tag: &str) -> Result<(), token_client::Error>;
}

fn main() {
    let _ = FoosClient::builder();
}
