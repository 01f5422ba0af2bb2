//! What the Node-backed test servers (`tests/interop-server/`, `tests/oidc-server/`) share:
//! their packages installed with `npm ci` on first use, `node server.js` started as a child
//! process that prints `LISTENING 127.0.0.1:<port>`, its stderr kept for failure messages.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};

/// How long `node server.js` may take to print its `LISTENING` line (a loaded machine).
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A started `node server.js`.
pub struct Spawned {
    /// Killed when dropped.
    pub child: Child,
    /// Held open: the server exits when it closes, so it never outlives the test process.
    pub stdin: ChildStdin,
    /// The port of its `LISTENING` line.
    pub port: u16,
    /// What it wrote to stderr so far.
    pub stderr: Arc<Mutex<String>>,
}

/// Runs `node server.js <args> --exit-with-stdin` in `dir` with these environment variables
/// and waits for its port; kills it and panics with its stderr if it does not start.
/// `name` (e.g. "the interop server") is for the messages.
pub async fn spawn<A, K, V>(
    dir: &Path,
    args: impl IntoIterator<Item = A>,
    envs: impl IntoIterator<Item = (K, V)>,
    name: &str,
) -> Spawned
where
    A: AsRef<OsStr>,
    K: AsRef<OsStr>,
    V: AsRef<OsStr>,
{
    let mut child = Command::new("node")
        .arg("server.js")
        .args(args)
        .arg("--exit-with-stdin")
        .envs(envs)
        .current_dir(dir)
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
            panic!("{name} did not start: {why}\nits stderr:\n{stderr}");
        }
    };
    Spawned {
        child,
        stdin,
        port,
        stderr,
    }
}

/// Reads stdout up to the `LISTENING 127.0.0.1:<port>` line (skipping any other line), then
/// keeps draining it so the server never blocks on a full pipe.
pub async fn read_port(child: &mut Child) -> Result<u16, String> {
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let deadline = tokio::time::Instant::now() + START_TIMEOUT;
    let port = loop {
        let line = match tokio::time::timeout_at(deadline, lines.next_line()).await {
            Err(_) => return Err(format!("no `LISTENING` line within {START_TIMEOUT:?}")),
            Ok(Err(error)) => return Err(format!("reading its stdout failed: {error}")),
            Ok(Ok(None)) => return Err("it exited before printing `LISTENING`".to_owned()),
            Ok(Ok(Some(line))) => line,
        };
        if let Some(port) = line.strip_prefix("LISTENING 127.0.0.1:") {
            break port
                .trim()
                .parse()
                .map_err(|_| format!("expected `LISTENING 127.0.0.1:<port>`, got {line:?}"))?;
        }
    };
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok(port)
}

/// Collects the child's stderr, line by line, as it comes.
pub fn collect_stderr(child: &mut Child) -> Arc<Mutex<String>> {
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

// ---- npm ci ----

/// Written into `node_modules` after a successful `npm ci`: the `package-lock.json` it
/// installed.
const MARKER: &str = "node_modules/.token-client-installed-lock.json";
/// Held (created) while one test binary checks or runs `npm ci`.
const LOCK: &str = "node_modules.lock";
/// A lock older than this is left over from a killed run.
const STALE_LOCK: Duration = Duration::from_secs(300);

/// Checks for node (`min_node` or later: major, minor), and runs `npm ci` in `dir` when its
/// locked packages are not installed; once per test binary and directory, and one binary at
/// a time (a lock directory). Panics with what is missing. `name` (e.g. "the interop
/// server") is for the messages.
pub fn ensure_installed(dir: &Path, name: &str, min_node: (u32, u32)) {
    static INSTALLED: Mutex<BTreeMap<PathBuf, Result<(), String>>> = Mutex::new(BTreeMap::new());
    let result = INSTALLED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .entry(dir.to_owned())
        .or_insert_with(|| install(dir, name, min_node))
        .clone();
    if let Err(message) = result {
        panic!("{message}");
    }
}

fn install(dir: &Path, name: &str, min_node: (u32, u32)) -> Result<(), String> {
    let node = version_of("node", name, min_node)?;
    let parts: Vec<u32> = node
        .trim_start_matches('v')
        .split('.')
        .map_while(|part| part.parse().ok())
        .collect();
    if parts.len() < 2 || (parts[0], parts[1]) < min_node {
        return Err(format!(
            "{name} needs Node.js {} or later, found {node}",
            version(min_node)
        ));
    }
    let lock = std::fs::read(dir.join("package-lock.json"))
        .map_err(|error| format!("cannot read {}/package-lock.json: {error}", dir.display()))?;
    let _guard = InstallLock::acquire(&dir.join(LOCK))?;
    if std::fs::read(dir.join(MARKER)).ok().as_deref() == Some(lock.as_slice()) {
        return Ok(());
    }
    version_of("npm", name, min_node)?;
    let tag = dir.file_name().unwrap_or(dir.as_os_str()).to_string_lossy();
    eprintln!("{tag}: running `npm ci` in {}", dir.display());
    let output = std::process::Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(dir)
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
    std::fs::write(dir.join(MARKER), &lock)
        .map_err(|error| format!("cannot write {MARKER}: {error}"))
}

/// `20.18`, or `18` for `(18, 0)`.
fn version((major, minor): (u32, u32)) -> String {
    if minor == 0 {
        major.to_string()
    } else {
        format!("{major}.{minor}")
    }
}

/// A directory created atomically: the holder may run `npm ci`; removed on drop.
struct InstallLock(PathBuf);

impl InstallLock {
    fn acquire(path: &Path) -> Result<Self, String> {
        let deadline = std::time::Instant::now() + STALE_LOCK + Duration::from_secs(60);
        loop {
            match std::fs::create_dir(path) {
                Ok(()) => return Ok(Self(path.to_owned())),
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                    let age = std::fs::metadata(path)
                        .and_then(|meta| meta.modified())
                        .ok()
                        .and_then(|modified| SystemTime::now().duration_since(modified).ok());
                    if age.is_some_and(|age| age > STALE_LOCK) {
                        let _ = std::fs::remove_dir(path);
                    } else if std::time::Instant::now() > deadline {
                        return Err(format!("{} is still held", path.display()));
                    } else {
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
                Err(error) => return Err(format!("cannot create {}: {error}", path.display())),
            }
        }
    }
}

impl Drop for InstallLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// `<tool> --version`, or why the tool cannot run.
fn version_of(tool: &str, name: &str, min_node: (u32, u32)) -> Result<String, String> {
    let missing = |why: String| {
        format!(
            "{name} needs Node.js ({} or later) and npm, and `{tool} --version` {why}; \
             install them and run the tests again",
            version(min_node)
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
