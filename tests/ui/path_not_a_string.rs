use token_client::token_client;

const FOOS: &str = "/foos";

#[token_client]
pub trait Foos {
    #[get(FOOS)]
    async fn list(&self) -> Result<(), token_client::Error>;
}

fn main() {
    let _ = FOOS;
    let _ = FoosClient::builder();
}
