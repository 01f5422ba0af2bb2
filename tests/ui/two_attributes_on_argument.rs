use token_client::token_client;

#[token_client]
pub trait Foos {
    #[get("/foos")]
    async fn list(&self, #[query] #[header("X-Page")] page: u32) -> Result<(), token_client::Error>;
}

fn main() {
    let _ = FoosClient::builder();
}
