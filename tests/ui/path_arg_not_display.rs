use token_client::token_client;

pub struct FooId(pub u64);

#[token_client]
pub trait Foos {
    #[get("/foos/{id}")]
    async fn get(&self, id: FooId) -> Result<(), token_client::Error>;
}

fn main() {
    let _ = FoosClient::builder();
}
