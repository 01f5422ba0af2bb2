//! A method gated by `#[cfg]` (or `#[cfg_attr(.., cfg(..))]`) stays gated in the stub
//! client emitted beside an error: the one mistake below is the only error.
use token_client::token_client;

#[token_client]
pub trait Foos {
    #[get("/foos/{idd}")]
    async fn get(&self, id: u64) -> Result<(), token_client::Error>;

    #[cfg(any())]
    #[get("/foos")]
    async fn list(&self) -> Result<(), token_client::Error>;

    #[cfg_attr(all(), cfg(any()))]
    #[get("/bars")]
    async fn bars(&self) -> Result<(), token_client::Error>;
}

fn main() {
    let _ = FoosClient::builder();
}
