use token_client::token_client;

pub struct Upload {
    pub chunks: Vec<Vec<u8>>,
}

#[token_client]
pub trait Files {
    #[put("/files/{name}")]
    async fn upload(
        &self,
        name: &str,
        #[body(stream = "application/octet-stream")] data: Upload,
    ) -> Result<(), token_client::Error>;
}

fn main() {
    let _ = FilesClient::builder();
}
