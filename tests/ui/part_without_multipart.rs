use token_client::token_client;

#[token_client]
pub trait Files {
    #[post("/files")]
    async fn upload(&self, #[part("file")] data: Vec<u8>) -> Result<(), token_client::Error>;
}

fn main() {
    let _ = FilesClient::builder();
}
