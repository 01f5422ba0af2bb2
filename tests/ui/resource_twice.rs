use token_client::token_client;

#[token_client]
pub trait Orders {
    #[get("/orders")]
    #[resource("https://orders.example.com")]
    #[resource("https://orders.example.com")]
    async fn list(&self) -> Result<(), token_client::Error>;
}

fn main() {
    let _ = OrdersClient::builder();
}
