use token_client::token_client;

#[token_client]
pub trait Files {
    #[get("/files/{name}")]
    async fn upload(
        &self,
        name: &str,
        #[body(stream = "application/octet-stream")] data: token_client::reqwest::Body,
    ) -> Result<(), token_client::Error>;
}

fn main() {
    let _ = FilesClient::builder();
}
