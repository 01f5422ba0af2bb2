use token_client::token_client;

#[token_client]
pub trait Foos {
    #[get("/foos/{id}")]
    async fn get<T: std::fmt::Display + Send + Sync>(&self, id: T) -> Result<(), token_client::Error>;
}

fn main() {
    let _ = FoosClient::builder();
}
