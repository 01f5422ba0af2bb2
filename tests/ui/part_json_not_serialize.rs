use token_client::token_client;

pub struct Meta {
    pub title: String,
}

#[token_client]
pub trait Files {
    #[post("/files")]
    #[multipart]
    async fn upload(
        &self,
        file: token_client::Part,
        #[part(json)] meta: &Meta,
    ) -> Result<(), token_client::Error>;
}

fn main() {
    let _ = FilesClient::builder();
}
