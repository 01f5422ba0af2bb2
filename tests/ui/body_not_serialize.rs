use token_client::token_client;

pub struct NewFoo {
    pub name: String,
}

#[token_client]
pub trait Foos {
    #[post("/foos")]
    async fn create(&self, #[body] foo: &NewFoo) -> Result<(), token_client::Error>;
}

fn main() {
    let _ = FoosClient::builder();
}
