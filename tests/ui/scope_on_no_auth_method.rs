use token_client::token_client;

#[token_client]
pub trait Orders {
    #[get("/health")]
    #[no_auth]
    #[scope("orders.read")]
    async fn health(&self) -> Result<(), token_client::Error>;

    #[get("/orders")]
    async fn list(&self) -> Result<(), token_client::Error>;
}

fn main() {
    let _ = OrdersClient::builder();
}
