use token_client::token_client;

#[token_client]
pub trait Files {
    #[get("/files/{**path}/meta")]
    async fn meta(&self, path: &str) -> Result<(), token_client::Error>;
}

fn main() {
    let _ = FilesClient::builder();
}
