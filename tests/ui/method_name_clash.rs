use token_client::token_client;

#[token_client]
pub trait Foos {
    #[post("/foos/{id}/clone")]
    async fn clone(&self, id: u64) -> Result<(), token_client::Error>;
}

fn main() {
    let _ = FoosClient::builder();
}
