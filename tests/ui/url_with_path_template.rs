use token_client::token_client;

#[token_client]
pub trait Foos {
    #[get("/foos")]
    async fn next_page(&self, #[url] next: &str) -> Result<(), token_client::Error>;
}

fn main() {
    let _ = FoosClient::builder();
}
