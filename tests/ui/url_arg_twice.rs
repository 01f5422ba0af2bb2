use token_client::token_client;

#[token_client]
pub trait Foos {
    #[get]
    async fn next_page(&self, #[url] next: &str, #[url] prev: &str) -> Result<(), token_client::Error>;
}

fn main() {
    let _ = FoosClient::builder();
}
