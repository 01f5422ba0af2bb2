use token_client::token_client;

#[token_client]
pub trait Files {
    #[post("/files")]
    #[multipart]
    async fn upload(&self, name: &str, #[body] meta: &str) -> Result<(), token_client::Error>;
}

fn main() {
    let _ = FilesClient::builder();
}
