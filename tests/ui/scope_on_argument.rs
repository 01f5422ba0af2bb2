use token_client::token_client;

#[token_client]
pub trait Orders {
    #[get("/orders")]
    async fn list(&self, #[scope("orders.read")] page: u32) -> Result<(), token_client::Error>;
}

fn main() {
    let _ = OrdersClient::builder();
}
