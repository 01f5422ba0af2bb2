use token_client::token_client;

pub struct Tenant(pub String);

#[token_client]
pub trait Foos {
    #[get("/foos")]
    async fn list(&self, #[header("X-Tenant")] tenant: Option<&Tenant>) -> Result<(), token_client::Error>;
}

fn main() {
    let _ = FoosClient::builder();
}
