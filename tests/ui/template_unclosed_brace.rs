use token_client::token_client;

#[token_client]
pub trait Foos {
    #[get("/foos/{id")]
    async fn get(&self, id: u64) -> Result<(), token_client::Error>;
}

fn main() {
    let _ = FoosClient::builder();
}
