use token_client::token_client;

#[token_client]
pub trait Foos {
    #[get("/foos")]
    async fn list(&self) -> Vec<String>;
}

fn main() {
    let _ = FoosClient::builder();
}
