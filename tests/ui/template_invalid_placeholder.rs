use token_client::token_client;

#[token_client]
pub trait Foos {
    #[get("/foos/{a b}")]
    async fn get(&self, a: u64) -> Result<(), token_client::Error>;
}

fn main() {
    let _ = FoosClient::builder();
}
