use token_client::token_client;

#[token_client]
pub trait Foos {
    #[get("/foos")]
    async fn list(&self, #[extension] trace_id: &str) -> Result<(), token_client::Error>;
}

fn main() {
    let _ = FoosClient::builder();
}
