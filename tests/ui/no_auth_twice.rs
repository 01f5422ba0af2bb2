use token_client::token_client;

#[token_client]
pub trait Health {
    #[get("/health")]
    #[no_auth]
    #[no_auth]
    async fn health(&self) -> Result<(), token_client::Error>;
}

fn main() {
    let _ = HealthClient::builder();
}
