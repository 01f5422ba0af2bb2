//! Reading a response body with a cap on its size, so memory stays bounded whatever a
//! server sends.

/// Appends up to `limit` bytes of `response`'s body to `body` (empty on entry) and says
/// whether there was more, which is left unread. On a transport error, `body` keeps what
/// arrived before it.
pub(crate) async fn read_capped(
    response: &mut reqwest::Response,
    body: &mut Vec<u8>,
    limit: usize,
) -> reqwest::Result<bool> {
    while let Some(chunk) = response.chunk().await? {
        let room = limit - body.len();
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            return Ok(true);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(false)
}
