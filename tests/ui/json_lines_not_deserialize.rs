use token_client::{JsonLines, token_client};

pub struct Event {
    pub id: u64,
}

#[token_client]
pub trait Events {
    #[get("/events")]
    async fn follow(&self) -> Result<JsonLines<Event>, token_client::Error>;
}

fn main() {
    let _ = EventsClient::builder();
}
