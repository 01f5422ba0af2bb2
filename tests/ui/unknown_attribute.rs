use token_client::token_client;

#[token_client]
pub trait Foos {
    /// Docs, `#[allow]` and `#[cfg]` pass through untouched.
    #[get("/foos")]
    #[allow(clippy::needless_lifetimes)]
    async fn list(&self, #[qeury] page: u32) -> Result<(), token_client::Error>;
}

fn main() {
    let _ = FoosClient::builder();
}
