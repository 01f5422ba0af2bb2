use token_client::token_client;

#[token_client]
#[scope("orders\"read")]
pub trait Orders {
    #[get("/orders")]
    async fn list(&self) -> Result<(), token_client::Error>;
}

fn main() {
    let _ = OrdersClient::builder();
}
