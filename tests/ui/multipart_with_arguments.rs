use token_client::token_client;

#[token_client]
pub trait Files {
    #[post("/files")]
    #[multipart(form_data)]
    async fn upload(&self, name: &str) -> Result<(), token_client::Error>;
}

fn main() {
    let _ = FilesClient::builder();
}
