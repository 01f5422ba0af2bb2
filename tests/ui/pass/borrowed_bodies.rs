//! Text and bytes bodies may be borrowed: the request copies them.
#![deny(warnings)]
#![allow(clippy::ptr_arg)] // `&Vec<u8>` and `&String` are what this test is about

use token_client::token_client;

/// The blob store.
#[token_client]
pub trait Blobs {
    /// Bytes from a slice.
    #[put("/blobs/slice")]
    async fn slice(
        &self,
        #[body(bytes = "application/octet-stream")] data: &[u8],
    ) -> Result<(), token_client::Error>;

    /// Bytes from a borrowed `Vec`.
    #[put("/blobs/vec")]
    async fn vec(
        &self,
        #[body(bytes = "application/octet-stream")] data: &Vec<u8>,
    ) -> Result<(), token_client::Error>;

    /// Bytes from a borrowed array.
    #[put("/blobs/array")]
    async fn array(
        &self,
        #[body(bytes = "application/octet-stream")] data: &[u8; 4],
    ) -> Result<(), token_client::Error>;

    /// Bytes moved in, not copied.
    #[put("/blobs/owned")]
    async fn owned(
        &self,
        #[body(bytes = "application/octet-stream")] data: bytes::Bytes,
    ) -> Result<(), token_client::Error>;

    /// Text from a `&str`.
    #[post("/notes/str")]
    async fn note_str(
        &self,
        #[body(text = "text/plain")] text: &str,
    ) -> Result<(), token_client::Error>;

    /// Text from a borrowed `String`.
    #[post("/notes/string")]
    async fn note_string(
        &self,
        #[body(text = "text/plain")] text: &String,
    ) -> Result<(), token_client::Error>;
}

fn main() {
    let _ = BlobsClient::builder();
}
