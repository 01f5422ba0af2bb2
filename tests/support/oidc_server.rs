//! The OpenID provider of `tests/oidc-server/` (a Node launcher around the npm package
//! `oidc-provider`, certified by the OpenID Foundation) as a child process of the test: its
//! packages installed with `npm ci` on first use, served over HTTPS on a free loopback port
//! with a certificate from a throwaway CA (made with the `openssl` command), killed when
//! dropped.
//!
//! The clients are the test's: [`OidcServer::start`] takes them as a JSON array of
//! oidc-provider client metadata (see `tests/oidc-server/server.js` and the builders in
//! [`clients`]). [`test_keys`] makes the keys and certificates they register.
//!
//! Node.js (20.18 or later), npm and openssl must be installed: without them every test
//! using this server fails and says so.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::process::{Child, ChildStdin, Command};

use super::node_server;
pub use super::node_server::json_body;
use super::pki::{openssl, test_pki};

/// For messages.
const NAME: &str = "the OpenID provider";

/// `node server.js` takes its settings from the environment only.
const NO_ARGS: [&str; 0] = [];

/// The scopes the server knows unless `SCOPES` says otherwise.
pub const SCOPES: [&str; 3] = ["orders.read", "orders.write", "foos.read"];

/// `grant_type` of RFC 7523 2.1, which the server also accepts.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// `client_assertion_type` of RFC 7523 2.2.
pub const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A running OpenID provider. Dropping it kills the process.
pub struct OidcServer {
    _child: Child,
    /// Held open: the server exits when it closes, so it never outlives the test process.
    _stdin: ChildStdin,
    port: u16,
    stderr: Arc<Mutex<String>>,
    http: reqwest::Client,
}

impl OidcServer {
    /// Starts a server knowing these clients (a JSON array of client metadata).
    pub async fn start(clients: Value) -> Self {
        Self::start_with(clients, &[]).await
    }

    /// Starts a server with these environment variables as well: `SCOPES`,
    /// `DEFAULT_RESOURCE`, `ACCESS_TOKEN_TTL` (seconds), `ACCESS_TOKEN_FORMAT`.
    pub async fn start_with(clients: Value, env: &[(&str, &str)]) -> Self {
        assert!(
            clients.is_array(),
            "the clients must be a JSON array, got {clients}"
        );
        ensure_installed();
        let pki = test_pki();
        let envs = [
            ("TLS_CERT", pki.server_cert_path().into_os_string()),
            ("TLS_KEY", pki.server_key_path().into_os_string()),
            ("TLS_CA", pki.ca_pem_path().into_os_string()),
            ("CLIENTS_JSON", clients.to_string().into()),
        ]
        .into_iter()
        .chain(env.iter().map(|&(name, value)| (name, value.into())));
        let spawned = node_server::spawn(&server_dir(), NO_ARGS, envs, NAME).await;
        Self {
            _child: spawned.child,
            _stdin: spawned.stdin,
            port: spawned.port,
            stderr: spawned.stderr,
            http: https_client(None),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `https://localhost:<port>`.
    pub fn issuer(&self) -> String {
        format!("https://localhost:{}", self.port)
    }

    /// `<issuer>/.well-known/openid-configuration`.
    pub fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.issuer())
    }

    /// The token endpoint (`<issuer>/token`, as discovery says).
    pub fn token_endpoint(&self) -> String {
        format!("{}/token", self.issuer())
    }

    /// The introspection endpoint (`<issuer>/token/introspection`).
    pub fn introspection_endpoint(&self) -> String {
        format!("{}/token/introspection", self.issuer())
    }

    /// The CA that signed the server's certificate (and [`TestKeys`]' mTLS client
    /// certificate), a PEM file.
    pub fn ca_pem_path(&self) -> PathBuf {
        test_pki().ca_pem_path()
    }

    /// The CA, PEM: for `reqwest::Certificate::from_pem`.
    pub fn ca_pem(&self) -> Vec<u8> {
        test_pki().ca_pem()
    }

    /// A client trusting the CA only, with this identity (PEM certificate and key, for
    /// `tls_client_auth` and `self_signed_tls_client_auth`) if given.
    pub fn http_client(&self, identity_pem: Option<&[u8]>) -> reqwest::Client {
        https_client(identity_pem)
    }

    /// The server's counters (`GET /__stats`):
    ///
    /// ```json
    /// { "token_requests": 3, "tokens_issued": 2,
    ///   "by_client":      { "<client_id>": { "requests": 2, "issued": 1, "errors": 1 } },
    ///   "by_grant_type":  { "client_credentials": { "requests": .., "issued": .., "errors": .. } },
    ///   "by_auth_method": { "client_secret_basic": { "requests": .., "issued": .., "errors": .. } },
    ///   "by_scope_resource": [ { "client_id": "..", "scope": "a b" (sorted, deduplicated),
    ///                            "resource": ["..", ..] (sorted), "requests": 1, "issued": 1, "errors": 0 } ],
    ///   "errors":      { "invalid_client": 1 },
    ///   "last_error":  { "<client_id>": { "error": "invalid_client", "error_description": "..",
    ///                    "error_detail": "invalid secret provided", "status": 401,
    ///                    "grant_type": "..", "auth_method": ".." } },
    ///   "introspections": 0 }
    /// ```
    ///
    /// The auth method is read off the request (Basic header, `client_secret` in the form,
    /// a client assertion's `alg`, a client certificate verified by the CA or not), not
    /// taken from the client's registration.
    pub async fn stats(&self) -> Value {
        let response = self
            .http
            .get(format!("{}/__stats", self.issuer()))
            .send()
            .await
            .unwrap_or_else(|error| panic!("GET /__stats failed: {error}; {}", self.stderr()));
        json_body(response).await
    }

    /// Sets the counters back to zero.
    pub async fn reset_stats(&self) {
        let response = self
            .http
            .post(format!("{}/__stats/reset", self.issuer()))
            .send()
            .await
            .unwrap_or_else(|error| panic!("POST /__stats/reset failed: {error}"));
        assert_eq!(response.status().as_u16(), 204, "POST /__stats/reset");
    }

    /// Token requests of `client_id` for this scope and resource set, answered or not
    /// (`scope` space-separated in any order, `resource` in any order).
    pub async fn requests_for(&self, client_id: &str, scope: &str, resource: &[&str]) -> u64 {
        let mut scope: Vec<&str> = scope.split_whitespace().collect();
        scope.sort_unstable();
        scope.dedup();
        let mut resource = resource.to_vec();
        resource.sort_unstable();
        resource.dedup();
        let stats = self.stats().await;
        stats["by_scope_resource"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|set| {
                set["client_id"] == client_id
                    && set["scope"] == scope.join(" ")
                    && set["resource"] == serde_json::json!(resource)
            })
            .map(|set| set["requests"].as_u64().unwrap_or(0))
            .sum()
    }

    /// The last failed token request of `client_id` (`null` if none): why it failed.
    pub async fn last_error(&self, client_id: &str) -> Value {
        self.stats().await["last_error"][client_id].clone()
    }

    /// Introspects `token` (RFC 7662) as `client_id`, authenticated with
    /// `client_secret_basic`: `active`, `aud`, `scope`, `client_id`, `exp`...
    pub async fn introspect(&self, token: &str, client_id: &str, secret: &str) -> Value {
        let response = self
            .http
            .post(self.introspection_endpoint())
            .basic_auth(form_encode(client_id), Some(form_encode(secret)))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[("token", token)]))
            .send()
            .await
            .unwrap_or_else(|error| panic!("introspection failed: {error}; {}", self.stderr()));
        let status = response.status().as_u16();
        let body = json_body(response).await;
        assert_eq!(status, 200, "introspection answered {status}: {body}");
        body
    }

    /// What the server wrote to stderr so far, for failure messages.
    pub fn stderr(&self) -> String {
        let stderr = self.stderr.lock().unwrap();
        if stderr.is_empty() {
            format!("{NAME} wrote nothing to stderr")
        } else {
            format!("{NAME}'s stderr:\n{stderr}")
        }
    }
}

/// A `reqwest` client trusting only the test CA, with `identity_pem` (certificate and
/// private key, PEM) as its client certificate if given.
pub fn https_client(identity_pem: Option<&[u8]>) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(&test_pki().ca_pem()).expect("the test CA");
    let mut builder = reqwest::Client::builder()
        .tls_certs_only([ca])
        .timeout(Duration::from_secs(30));
    if let Some(pem) = identity_pem {
        builder = builder.identity(reqwest::Identity::from_pem(pem).expect("a PEM identity"));
    }
    builder.build().expect("an HTTPS client")
}

/// `application/x-www-form-urlencoded` of one value (the facade's `reqwest` has no `form`
/// feature).
pub fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(byte as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// A form body of these pairs (a name may repeat, like `resource`).
pub fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(name, value)| format!("{}={}", form_encode(name), form_encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

// ---- client metadata ----

/// Client metadata for the server, one JSON object per client (collect them in
/// `Value::Array`). Every client gets `grant_types: ["client_credentials"]` unless it says
/// otherwise.
pub mod clients {
    use serde_json::{Value, json};

    /// `client_secret_basic`.
    pub fn secret_basic(client_id: &str, secret: &str) -> Value {
        json!({ "client_id": client_id, "client_secret": secret,
                "token_endpoint_auth_method": "client_secret_basic" })
    }

    /// `client_secret_post`.
    pub fn secret_post(client_id: &str, secret: &str) -> Value {
        json!({ "client_id": client_id, "client_secret": secret,
                "token_endpoint_auth_method": "client_secret_post" })
    }

    /// `client_secret_jwt` (HS256 assertions; the secret must be at least 32 bytes).
    pub fn secret_jwt(client_id: &str, secret: &str) -> Value {
        assert!(
            secret.len() >= 32,
            "HS256 needs a secret of 32 bytes or more"
        );
        json!({ "client_id": client_id, "client_secret": secret,
                "token_endpoint_auth_method": "client_secret_jwt" })
    }

    /// `private_key_jwt` with these public keys: `(public key PEM, kid, alg)`.
    pub fn private_key_jwt(client_id: &str, keys: &[(&str, &str, &str)]) -> Value {
        let jwks_pem: Vec<Value> = keys
            .iter()
            .map(|(pem, kid, alg)| json!({ "public_key_pem": pem, "kid": kid, "alg": alg }))
            .collect();
        json!({ "client_id": client_id, "token_endpoint_auth_method": "private_key_jwt",
                "jwks_pem": jwks_pem })
    }

    /// `tls_client_auth`: a certificate from the test CA with this subject DN
    /// (e.g. `CN=mtls-client`).
    pub fn tls_client_auth(client_id: &str, subject_dn: &str) -> Value {
        json!({ "client_id": client_id, "token_endpoint_auth_method": "tls_client_auth",
                "tls_client_auth_subject_dn": subject_dn })
    }

    /// `self_signed_tls_client_auth` with this (self-signed) certificate, PEM.
    pub fn self_signed_tls_client_auth(client_id: &str, certificate_pem: &str) -> Value {
        json!({ "client_id": client_id,
                "token_endpoint_auth_method": "self_signed_tls_client_auth",
                "jwks_pem": [{ "certificate_pem": certificate_pem }] })
    }

    /// `metadata` with `grant_types` set to `grants` (e.g. add `JWT_BEARER`).
    pub fn with_grants(mut metadata: Value, grants: &[&str]) -> Value {
        metadata["grant_types"] = json!(grants);
        metadata
    }

    /// `metadata` allowed only these scopes (space separated).
    pub fn with_scope(mut metadata: Value, scope: &str) -> Value {
        metadata["scope"] = json!(scope);
        metadata
    }
}

// ---- keys and certificates ----

/// Keys and certificates for test clients, PEM (private keys PKCS#8), made by [`test_keys`].
#[derive(Clone, Debug)]
pub struct TestKeys {
    pub dir: PathBuf,
    pub rsa_private_pem: String,
    pub rsa_public_pem: String,
    pub ec_private_pem: String,
    pub ec_public_pem: String,
    pub ed25519_private_pem: String,
    pub ed25519_public_pem: String,
    /// For `tls_client_auth`: signed by the test CA, subject [`TestKeys::MTLS_SUBJECT_DN`].
    pub mtls_cert_pem: String,
    pub mtls_key_pem: String,
    /// For `self_signed_tls_client_auth`: self-signed, subject `CN=self-signed-client`.
    pub self_signed_cert_pem: String,
    pub self_signed_key_pem: String,
}

impl TestKeys {
    /// The subject of [`TestKeys::mtls_cert_pem`].
    pub const MTLS_SUBJECT_DN: &str = "CN=mtls-client";

    /// The CA-signed certificate and its key, for `reqwest::Identity::from_pem`.
    pub fn mtls_identity_pem(&self) -> Vec<u8> {
        format!("{}{}", self.mtls_cert_pem, self.mtls_key_pem).into_bytes()
    }

    /// The self-signed certificate and its key, for `reqwest::Identity::from_pem`.
    pub fn self_signed_identity_pem(&self) -> Vec<u8> {
        format!("{}{}", self.self_signed_cert_pem, self.self_signed_key_pem).into_bytes()
    }
}

/// Makes, in `dir` (created if need be), an RSA 2048, an EC P-256 and an Ed25519 key pair,
/// a client certificate from the test CA and a self-signed one, with `openssl`.
pub fn test_keys(dir: &Path) -> TestKeys {
    std::fs::create_dir_all(dir)
        .unwrap_or_else(|error| panic!("cannot create {}: {error}", dir.display()));
    let openssl = |args: &[&str]| openssl(dir, args);
    let read = |name: &str| {
        std::fs::read_to_string(dir.join(name))
            .unwrap_or_else(|error| panic!("cannot read {name}: {error}"))
    };
    let pair = |name: &str, genpkey: &[&str]| {
        let key = format!("{name}.key");
        let public = format!("{name}.pub");
        let mut args = vec!["genpkey"];
        args.extend_from_slice(genpkey);
        args.extend_from_slice(&["-out", &key]);
        openssl(&args);
        openssl(&["pkey", "-in", &key, "-pubout", "-out", &public]);
        (read(&key), read(&public))
    };
    let (rsa_private_pem, rsa_public_pem) = pair(
        "rsa",
        &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
    );
    let (ec_private_pem, ec_public_pem) = pair(
        "ec",
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
    );
    let (ed25519_private_pem, ed25519_public_pem) = pair("ed25519", &["-algorithm", "ED25519"]);

    let ca = test_pki();
    let ca_pem = ca.ca_pem_path().display().to_string();
    let ca_key = ca.ca_key_path().display().to_string();
    openssl(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        "mtls-client.key",
    ]);
    openssl(&[
        "req",
        "-new",
        "-key",
        "mtls-client.key",
        "-subj",
        "/CN=mtls-client",
        "-out",
        "mtls-client.csr",
    ]);
    std::fs::write(
        dir.join("client.ext"),
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "mtls-client.csr",
        "-CA",
        &ca_pem,
        "-CAkey",
        &ca_key,
        "-CAcreateserial",
        "-CAserial",
        "ca.srl",
        "-days",
        "2",
        "-extfile",
        "client.ext",
        "-out",
        "mtls-client.pem",
    ]);
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "self-signed.key",
        "-out",
        "self-signed.pem",
        "-days",
        "2",
        "-subj",
        "/CN=self-signed-client",
        "-addext",
        "extendedKeyUsage=clientAuth",
    ]);
    TestKeys {
        dir: dir.to_owned(),
        rsa_private_pem,
        rsa_public_pem,
        ec_private_pem,
        ec_public_pem,
        ed25519_private_pem,
        ed25519_public_pem,
        mtls_cert_pem: read("mtls-client.pem"),
        mtls_key_pem: read("mtls-client.key"),
        self_signed_cert_pem: read("self-signed.pem"),
        self_signed_key_pem: read("self-signed.key"),
    }
}

/// A fresh directory under the system temp dir, for [`test_keys`] and the like.
pub fn scratch_dir(tag: &str) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!(
        "token-client-oidc-{tag}-{}-{n}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|error| panic!("cannot create {}: {error}", dir.display()));
    dir
}

/// The key [`sign_jwt`] signs with.
#[derive(Clone, Copy, Debug)]
pub enum JwtKey<'a> {
    /// A private key, PKCS#8 PEM (RS256, PS256, ES256, EdDSA...).
    Pem(&'a str),
    /// A client secret (HS256).
    Secret(&'a str),
}

/// Signs a JWT with `tests/oidc-server/sign-jwt.js` (jose). With `defaults`, `iat`, `exp`
/// (60 s) and `jti` are added when `claims` lacks them. For tests that need an assertion
/// the code under test did not make.
pub async fn sign_jwt(
    alg: &str,
    kid: Option<&str>,
    key: JwtKey<'_>,
    claims: Value,
    defaults: bool,
) -> String {
    ensure_installed();
    let mut input = serde_json::json!({ "alg": alg, "claims": claims, "defaults": defaults });
    match key {
        JwtKey::Pem(pem) => input["key_pem"] = pem.into(),
        JwtKey::Secret(secret) => input["secret"] = secret.into(),
    }
    if let Some(kid) = kid {
        input["kid"] = kid.into();
    }
    let mut child = Command::new("node")
        .arg("sign-jwt.js")
        .current_dir(server_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|error| panic!("could not run `node sign-jwt.js`: {error}"));
    let mut stdin = child.stdin.take().expect("piped stdin");
    stdin
        .write_all(input.to_string().as_bytes())
        .await
        .expect("writing to sign-jwt.js");
    drop(stdin);
    let output = child.wait_with_output().await.expect("sign-jwt.js");
    assert!(
        output.status.success(),
        "sign-jwt.js failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("a JWT")
}

// ---- npm ci ----

fn server_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc-server")
}

/// Checks for node (20.18 or later), and runs `npm ci` when the locked packages are not
/// installed.
fn ensure_installed() {
    node_server::ensure_installed(&server_dir(), NAME, (20, 18));
}
