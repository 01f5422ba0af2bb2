use token_client::token_client;

pub struct Filter {
    pub name: String,
}

#[token_client]
pub trait Foos {
    #[get("/foos")]
    async fn list(&self, filter: Filter) -> Result<(), token_client::Error>;
}

fn main() {
    let _ = FoosClient::builder();
}
