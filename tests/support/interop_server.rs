//! The interop server of `tests/interop-server/` (a Node launcher around the npm package
//! `@node-oauth/oauth2-server`) as a child process of the test: its packages installed with
//! `npm ci` on first use, started on a free loopback port, killed when dropped.
//!
//! Node.js (18 or later) and npm must be installed: without them every interop test fails
//! and says so.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::process::{Child, ChildStdin};

use super::node_server;
pub use super::node_server::json_body;

/// The one client the server knows.
pub const CLIENT_ID: &str = "interop-client";
/// Its secret.
pub const CLIENT_SECRET: &str = "interop-secret";
/// The one user the server knows.
pub const USERNAME: &str = "alice";
/// Her password.
pub const PASSWORD: &str = "wonderland";

/// For messages.
const NAME: &str = "the interop server";

/// A running interop server. Dropping it kills the process.
pub struct InteropServer {
    child: Child,
    /// Held open: the server exits when it closes, so it never outlives the test process.
    _stdin: ChildStdin,
    port: u16,
    access_token_lifetime: u64,
    env: Vec<(String, String)>,
    stderr: Arc<Mutex<String>>,
    http: reqwest::Client,
}

impl InteropServer {
    /// Starts a server issuing access tokens valid for `access_token_lifetime` seconds.
    pub async fn start(access_token_lifetime: u64) -> Self {
        Self::start_with(access_token_lifetime, &[]).await
    }

    /// Starts a server with these environment variables (`INTEROP_CLIENT_SECRET`...).
    pub async fn start_with(access_token_lifetime: u64, env: &[(&str, &str)]) -> Self {
        let env = env
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        Self::spawn(access_token_lifetime, 0, env).await
    }

    /// Kills the server and starts a new process on the same port: every token issued so
    /// far is forgotten, and the counters start again from zero.
    pub async fn restart(&mut self) {
        if let Err(error) = self.child.kill().await {
            panic!("could not kill the interop server: {error}");
        }
        let env = std::mem::take(&mut self.env);
        *self = Self::spawn(self.access_token_lifetime, self.port, env).await;
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The token endpoint.
    pub fn token_endpoint(&self) -> String {
        format!("{}/token", self.base_url())
    }

    /// The protected resource.
    pub fn resource_url(&self) -> String {
        format!("{}/resource", self.base_url())
    }

    /// `GET /resource` with `token`, without any middleware: the status and the JSON body.
    pub async fn resource_with(&self, token: &str) -> (u16, Value) {
        let response = self
            .http
            .get(self.resource_url())
            .bearer_auth(token)
            .send()
            .await
            .unwrap_or_else(|error| panic!("GET /resource failed: {error}"));
        let status = response.status().as_u16();
        (status, json_body(response).await)
    }

    /// The server's counters (`GET /stats`).
    pub async fn stats(&self) -> Stats {
        let response = self
            .http
            .get(format!("{}/stats", self.base_url()))
            .send()
            .await
            .unwrap_or_else(|error| panic!("GET /stats failed: {error}; {}", self.stderr()));
        Stats(json_body(response).await)
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

    async fn spawn(access_token_lifetime: u64, port: u16, env: Vec<(String, String)>) -> Self {
        let dir = server_dir();
        node_server::ensure_installed(&dir, NAME, (18, 0));
        let args = [
            format!("--port={port}"),
            format!("--access-token-lifetime={access_token_lifetime}"),
        ];
        let spawned = node_server::spawn(&dir, args, env.iter().cloned(), NAME).await;
        Self {
            child: spawned.child,
            _stdin: spawned.stdin,
            port: spawned.port,
            access_token_lifetime,
            env,
            stderr: spawned.stderr,
            http: reqwest::Client::new(),
        }
    }
}

/// The counters of `GET /stats`; `Debug` shows them as compact JSON.
pub struct Stats(pub Value);

impl std::fmt::Debug for Stats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl Stats {
    fn count(&self, group: &str, key: &str) -> u64 {
        self.0[group][key].as_u64().unwrap_or(0)
    }

    /// Token requests with this `grant_type`, answered or not.
    pub fn requests(&self, grant: &str) -> u64 {
        self.count("token_requests", grant)
    }

    /// Token requests of all grants.
    pub fn all_requests(&self) -> u64 {
        ["client_credentials", "password", "refresh_token", "other"]
            .iter()
            .map(|grant| self.requests(grant))
            .sum()
    }

    /// Tokens issued for this `grant_type`.
    pub fn issued(&self, grant: &str) -> u64 {
        self.count("tokens_issued", grant)
    }

    /// Token requests refused with this OAuth2 error code.
    pub fn errors(&self, code: &str) -> u64 {
        self.count("token_errors", code)
    }

    /// Token requests whose client authenticated this way: `basic`, `body` or `none`.
    pub fn client_auth(&self, how: &str) -> u64 {
        self.count("client_auth", how)
    }

    /// `GET /resource` answered 200.
    pub fn resource_ok(&self) -> u64 {
        self.count("resource", "ok")
    }

    /// `GET /resource` answered 401.
    pub fn resource_unauthorized(&self) -> u64 {
        self.count("resource", "unauthorized")
    }
}

fn server_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop-server")
}
