//! The store over TLS (`rediss://`, feature `redis-tls`) against a real redis-server with
//! TLS on, its certificate from a throwaway CA made with the `openssl` command. A test
//! binary of its own: it points `SSL_CERT_FILE` (read by rustls-native-certs) at that CA.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::counting_idp::CountingIdp;
use support::redis_server::RedisServer;
use token_client::{RedisTokenStore, SharedTokenProvider, TokenOptions, TokenProvider};

/// A CA and a certificate for `localhost` signed by it, in `dir`.
fn certificates(dir: &Path) {
    let openssl = |args: &[&str]| {
        let output = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("the openssl command (Debian's openssl package)");
        assert!(
            output.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "1",
        "-subj",
        "/CN=token-client test CA",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
    ]);
    std::fs::write(dir.join("san.ext"), "subjectAltName=DNS:localhost\n").unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "1",
        "-extfile",
        "san.ext",
    ]);
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_shares_one_token_through_redis_over_tls() {
    let dir = std::env::temp_dir().join(format!("token-client-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    certificates(&dir);
    // Before any TLS client is built: the roots rustls-native-certs loads.
    // SAFETY: set once, before any thread of this binary (one test) reads the environment.
    unsafe { std::env::set_var("SSL_CERT_FILE", dir.join("ca.pem")) };
    let tls_port = free_port();
    let file = |name: &str| dir.join(name).display().to_string();
    let server = RedisServer::start_with(vec![
        "--tls-port".into(),
        tls_port.to_string(),
        "--tls-cert-file".into(),
        file("server.pem"),
        "--tls-key-file".into(),
        file("server.key"),
        "--tls-ca-cert-file".into(),
        file("ca.pem"),
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
    let _ = std::fs::remove_dir_all(&dir);
}
