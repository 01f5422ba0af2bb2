//! The store over TLS (`rediss://`, feature `redis-tls`) against a real redis-server with
//! TLS on, its certificate from the throwaway CA of `support::pki` (made with the `openssl`
//! command). A test binary of its own: it points `SSL_CERT_FILE` (read by
//! rustls-native-certs) at that CA.

mod support;

use std::time::Duration;

use support::counting_idp::CountingIdp;
use support::pki::test_pki;
use support::redis_server::RedisServer;
use token_client::{RedisTokenStore, SharedTokenProvider, TokenOptions, TokenProvider};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_shares_one_token_through_redis_over_tls() {
    let pki = test_pki();
    // Before any TLS client is built: the roots rustls-native-certs loads.
    // SAFETY: set once, before any thread of this binary (one test) reads the environment.
    unsafe { std::env::set_var("SSL_CERT_FILE", pki.ca_pem_path()) };
    let tls_port = free_port();
    let file = |path: std::path::PathBuf| path.display().to_string();
    let server = RedisServer::start_with(vec![
        "--tls-port".into(),
        tls_port.to_string(),
        "--tls-cert-file".into(),
        file(pki.server_cert_path()),
        "--tls-key-file".into(),
        file(pki.server_key_path()),
        "--tls-ca-cert-file".into(),
        file(pki.ca_pem_path()),
        "--tls-auth-clients".into(),
        "no".into(),
    ])
    .await;
    let idp = CountingIdp::start(Duration::from_secs(300), Duration::from_millis(50)).await;
    let url = format!("rediss://localhost:{tls_port}/");
    let options =
        TokenOptions::client_credentials(idp.token_endpoint(), "fleet-client", "fleet-secret");
    let instances: Vec<_> = (0..4)
        .map(|_| {
            let store = RedisTokenStore::new(&url)
                .unwrap()
                .namespace("tls")
                .encryption_key([7; 32]);
            SharedTokenProvider::builder(options.clone())
                .store(store)
                .build()
                .unwrap()
        })
        .collect();

    for provider in &instances {
        provider.token().await.unwrap();
    }

    assert_eq!(idp.requests(), 1, "the instances shared the token over TLS");
    assert_eq!(server.keys("tls:*:token").await.len(), 1);
}
