use token_client::token_client;

pub type Outcome<T> = Result<T, token_client::Error>;

#[token_client]
pub trait Foos {
    #[get("/foos")]
    async fn list(&self) -> Outcome<Vec<String>>;
}

fn main() {
    let _ = FoosClient::builder();
}
