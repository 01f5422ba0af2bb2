use token_client::token_client;

#[token_client]
pub struct Foos;

fn main() {
    let _ = Foos;
}
