use token_client::token_client;

#[token_client]
pub trait Foos {
    #[get("/foos")]
    #[query]
    async fn list(&self, page: u32) -> Result<(), token_client::Error>;
}

fn main() {
    let _ = FoosClient::builder();
}
