use token_client::token_client;

#[token_client]
pub trait Foos {
    #[get("/foos/search")]
    async fn search(&self, #[body] filter: &str) -> Result<(), token_client::Error>;
}

fn main() {
    let _ = FoosClient::builder();
}
