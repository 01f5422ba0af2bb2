//! Every mistake of a trait is reported in one build, and the client still exists (a
//! stub), so code using it adds no error of its own.
use token_client::token_client;

#[token_client(client = Api)]
#[headers("Accept")]
pub trait Foos {
    #[get("/foos/{idd}")]
    async fn get(&self, id: u64) -> Result<(), token_client::Error>;

    #[get("/foos")]
    #[pots("/foos")]
    async fn create(&self, #[body] foo: &str) -> Result<(), token_client::Error>;

    fn count(&self) -> u64;

    #[get("/files")]
    #[multipart]
    #[timeout(secs = 0)]
    async fn upload(
        &self,
        data: Vec<u8>,
        #[query(format = "tsv")] ids: &[u64],
    ) -> Result<(), token_client::Error>;
}

struct Mock;

#[token_client::async_trait]
impl Foos for Mock {
    async fn get(&self, _id: u64) -> Result<(), token_client::Error> {
        Ok(())
    }
    async fn create(&self, _foo: &str) -> Result<(), token_client::Error> {
        Ok(())
    }
    fn count(&self) -> u64 {
        0
    }
    async fn upload(&self, _data: Vec<u8>, _ids: &[u64]) -> Result<(), token_client::Error> {
        Ok(())
    }
}

async fn use_it(api: Api) -> Result<(), token_client::Error> {
    api.get(1).await?;
    let _ = Mock.count();
    Ok(())
}

fn main() {
    let _ = Api::builder();
    let _ = use_it;
}
