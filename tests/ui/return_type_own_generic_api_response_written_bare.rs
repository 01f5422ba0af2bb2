//! `ApiResponse<T>` written bare is token_client's; a generic model of the user's named
//! `ApiResponse` is written through its path (`models::ApiResponse<T>`).
use token_client::token_client;

#[derive(serde::Deserialize)]
pub struct ApiResponse<T> {
    pub data: T,
}

#[token_client]
pub trait Foos {
    #[get("/foos")]
    async fn list(&self) -> Result<ApiResponse<Vec<u64>>, token_client::Error>;
}

fn main() {
    let _ = FoosClient::builder();
}
