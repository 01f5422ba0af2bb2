use token_client::token_client;

#[token_client]
#[scope("status.read")]
pub trait Status {
    #[get("/health")]
    #[no_auth]
    async fn health(&self) -> Result<(), token_client::Error>;
}

fn main() {
    let _ = StatusClient::builder();
}
