use token_client::token_client;

#[token_client]
pub trait Orders {
    #[get("/orders")]
    #[scope(orders.read)]
    async fn list(&self) -> Result<(), token_client::Error>;
}

fn main() {
    let _ = OrdersClient::builder();
}
