//! `TokenOptions` from configuration: `cargo run --example config [path/to/appsettings.json]`
//!
//! Reads the `MyClient` section of a JSON file shaped like an ASP.NET `appsettings.json`
//! (the keys .NET services already use: `TokenEndpoint`, `ClientId`, `ClientSecret`,
//! `Scope`...), lets the environment variable `MyClient__ClientSecret` override the secret
//! (the ASP.NET convention, so the secret need not live in the file), and shows the errors
//! a missing or malformed field gives.

use serde::Deserialize;
use token_client::{SharedTokenProvider, TokenOptions};

/// The part of the file this client reads. Other keys (`Logging`, the section's `BaseUrl`)
/// are ignored.
#[derive(Debug, Deserialize)]
struct AppSettings {
    #[serde(rename = "MyClient")]
    my_client: TokenOptions,
}

/// Parses the file; an error names the offending field (`MyClient.ClientId: ...`).
fn load(json: &str) -> Result<TokenOptions, serde_path_to_error::Error<serde_json::Error>> {
    let mut deserializer = serde_json::Deserializer::from_str(json);
    let mut options =
        serde_path_to_error::deserialize::<_, AppSettings>(&mut deserializer)?.my_client;
    if let Ok(secret) = std::env::var("MyClient__ClientSecret") {
        options = options.client_secret(secret);
    }
    Ok(options)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).unwrap_or_else(|| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/examples/appsettings.json").to_owned()
    });
    let options = load(&std::fs::read_to_string(&path)?)?;
    // Debug output never shows the client secret.
    println!("loaded from {path}:\n{options:#?}");
    let provider = SharedTokenProvider::new(options)?;
    println!("provider ready: {provider:?}");

    println!("\nwhat goes wrong, and what it says:");
    let broken = [
        (
            "missing ClientId",
            r#"{"MyClient": {"TokenEndpoint": "https://idp/token", "BaseUrl": "x"}}"#,
        ),
        (
            "ClientId not a string",
            r#"{"MyClient": {"TokenEndpoint": "https://idp/token", "ClientId": 42, "BaseUrl": "x"}}"#,
        ),
        (
            "unknown ClientAuth",
            r#"{"MyClient": {"TokenEndpoint": "https://idp/token", "ClientId": "a", "ClientAuth": "mtls", "BaseUrl": "x"}}"#,
        ),
    ];
    for (what, json) in broken {
        println!("  {what}: {}", load(json).unwrap_err());
    }
    let insecure = load(
        r#"{"MyClient": {"TokenEndpoint": "http://idp.example.com/token", "ClientId": "a", "BaseUrl": "x"}}"#,
    )?;
    println!(
        "  plain http endpoint: {}",
        SharedTokenProvider::new(insecure).unwrap_err()
    );
    Ok(())
}
