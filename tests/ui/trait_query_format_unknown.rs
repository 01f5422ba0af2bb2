use token_client::token_client;

#[token_client(query_format = "tsv")]
pub trait Foos {
    #[get("/foos")]
    async fn list(&self, ids: &[u64]) -> Result<(), token_client::Error>;
}

fn main() {
    let _ = FoosClient::builder();
}
