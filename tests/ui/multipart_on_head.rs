use token_client::token_client;

#[token_client]
pub trait Files {
    #[multipart]
    #[head("/files")]
    async fn upload(&self, name: &str) -> Result<(), token_client::Error>;
}

fn main() {
    let _ = FilesClient::builder();
}
