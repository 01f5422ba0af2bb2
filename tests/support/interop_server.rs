//! The interop server of `tests/interop-server/` (a Node launcher around the npm package
//! `@node-oauth/oauth2-server`) as a child process of the test: its packages installed with
//! `npm ci` on first use, started on a free loopback port, killed when dropped.
//!
//! Node.js and npm must be installed: without them every interop test fails and says so.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};

/// The one client the server knows.
pub const CLIENT_ID: &str = "interop-client";
/// Its secret.
pub const CLIENT_SECRET: &str = "interop-secret";
/// The one user the server knows.
pub const USERNAME: &str = "alice";
/// Her password.
pub const PASSWORD: &str = "wonderland";

/// How long `node server.js` may take to print its `LISTENING` line (a loaded machine).
const START_TIMEOUT: Duration = Duration::from_secs(30);

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
            "the interop server wrote nothing to stderr".to_owned()
        } else {
            format!("the interop server's stderr:\n{stderr}")
        }
    }

    async fn spawn(access_token_lifetime: u64, port: u16, env: Vec<(String, String)>) -> Self {
        ensure_installed();
        let mut child = Command::new("node")
            .arg("server.js")
            .arg(format!("--port={port}"))
            .arg(format!("--access-token-lifetime={access_token_lifetime}"))
            .arg("--exit-with-stdin")
            .envs(env.iter().map(|(name, value)| (name, value)))
            .current_dir(server_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|error| panic!("could not run `node server.js`: {error}"));
        let stdin = child.stdin.take().expect("piped stdin");
        let stderr = collect_stderr(&mut child);
        let port = match read_port(&mut child).await {
            Ok(port) => port,
            Err(why) => {
                let _ = child.kill().await;
                tokio::time::sleep(Duration::from_millis(100)).await;
                let stderr = stderr.lock().unwrap();
                panic!("the interop server did not start: {why}\nits stderr:\n{stderr}");
            }
        };
        Self {
            child,
            _stdin: stdin,
            port,
            access_token_lifetime,
            env,
            stderr,
            http: reqwest::Client::new(),
        }
    }
}

/// Reads the `LISTENING 127.0.0.1:<port>` line, then keeps draining stdout so the server
/// never blocks on a full pipe.
async fn read_port(child: &mut Child) -> Result<u16, String> {
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let first = match tokio::time::timeout(START_TIMEOUT, lines.next_line()).await {
        Err(_) => return Err(format!("no `LISTENING` line within {START_TIMEOUT:?}")),
        Ok(Err(error)) => return Err(format!("reading its stdout failed: {error}")),
        Ok(Ok(None)) => return Err("it exited before printing `LISTENING`".to_owned()),
        Ok(Ok(Some(line))) => line,
    };
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    first
        .strip_prefix("LISTENING 127.0.0.1:")
        .and_then(|port| port.trim().parse().ok())
        .ok_or_else(|| format!("expected `LISTENING 127.0.0.1:<port>`, got {first:?}"))
}

fn collect_stderr(child: &mut Child) -> Arc<Mutex<String>> {
    let collected = Arc::new(Mutex::new(String::new()));
    let stderr = child.stderr.take().expect("piped stderr");
    let sink = Arc::clone(&collected);
    tokio::spawn(async move {
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let mut sink = sink.lock().unwrap();
            sink.push_str(&line);
            sink.push('\n');
        }
    });
    collected
}

/// The body as JSON, or `null` (the facade's `reqwest` has no `json` feature).
pub async fn json_body(response: reqwest::Response) -> Value {
    let bytes = response.bytes().await.unwrap_or_default();
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
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

/// Checks for node, and runs `npm ci` when the locked server package is not installed;
/// once per test binary. Panics with what is missing.
fn ensure_installed() {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    if let Err(message) = INSTALLED.get_or_init(install) {
        panic!("{message}");
    }
}

fn install() -> Result<(), String> {
    let dir = server_dir();
    version_of("node")?;
    let locked = locked_version(&dir)?;
    if installed_version(&dir).as_deref() == Some(locked.as_str()) {
        return Ok(());
    }
    version_of("npm")?;
    eprintln!("interop: running `npm ci` in {}", dir.display());
    let output = std::process::Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&dir)
        .output()
        .map_err(|error| format!("could not run `npm ci`: {error}"))?;
    if !output.status.success() {
        return Err(format!(
            "`npm ci` in {} failed ({}):\n{}{}",
            dir.display(),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
        ));
    }
    match installed_version(&dir) {
        Some(installed) if installed == locked => Ok(()),
        other => Err(format!(
            "after `npm ci`, @node-oauth/oauth2-server is {other:?}, expected {locked}"
        )),
    }
}

/// `<tool> --version`, or why the tool cannot run.
fn version_of(tool: &str) -> Result<String, String> {
    let missing = |why: String| {
        format!(
            "the interop tests need Node.js and npm (node 18 or later), and `{tool} --version` \
             {why}; install them (the CI machine image has them) and run the tests again"
        )
    };
    let output = std::process::Command::new(tool)
        .arg("--version")
        .output()
        .map_err(|error| missing(format!("could not run: {error}")))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(missing(format!(
            "failed ({}): {}",
            output.status,
            stderr.trim()
        )));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

const PACKAGE: &str = "node_modules/@node-oauth/oauth2-server";

fn locked_version(dir: &Path) -> Result<String, String> {
    let lock = read_json(&dir.join("package-lock.json"))
        .ok_or_else(|| format!("cannot read {}/package-lock.json", dir.display()))?;
    lock["packages"][PACKAGE]["version"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("package-lock.json does not lock {PACKAGE}"))
}

fn installed_version(dir: &Path) -> Option<String> {
    let package = read_json(&dir.join(PACKAGE).join("package.json"))?;
    package["version"].as_str().map(str::to_owned)
}

fn read_json(path: &Path) -> Option<Value> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}
