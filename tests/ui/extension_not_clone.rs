use token_client::token_client;

pub struct RetryPolicy {
    pub attempts: u32,
}

#[token_client]
pub trait Foos {
    #[get("/foos")]
    async fn list(&self, #[extension] retry: RetryPolicy) -> Result<(), token_client::Error>;
}

fn main() {
    let _ = FoosClient::builder();
}
