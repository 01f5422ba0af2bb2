use std::collections::HashMap;

use token_client::token_client;

#[token_client]
pub trait Foos {
    #[get("/foos")]
    async fn list(
        &self,
        #[headers] common: &HashMap<String, String>,
        #[headers] extra: &HashMap<String, String>,
    ) -> Result<(), token_client::Error>;
}

fn main() {
    let _ = FoosClient::builder();
}
