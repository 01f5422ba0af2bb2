use token_client::token_client;

#[token_client]
pub trait Foos<T> {
    #[get("/foos")]
    async fn list(&self) -> Result<Vec<T>, token_client::Error>;
}

fn main() {
    let _ = FoosClient::builder();
}
