use token_client::token_client;

#[token_client]
#[timeout(minutes = 1)]
pub trait Foos {
    #[get("/foos")]
    async fn list(&self) -> Result<(), token_client::Error>;
}

fn main() {
    let _ = FoosClient::builder();
}
