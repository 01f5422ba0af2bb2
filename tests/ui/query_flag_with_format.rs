use token_client::token_client;

#[token_client]
pub trait Foos {
    #[get("/foos")]
    async fn list(&self, #[query(flag, format = "csv")] verbose: bool) -> Result<(), token_client::Error>;
}

fn main() {
    let _ = FoosClient::builder();
}
