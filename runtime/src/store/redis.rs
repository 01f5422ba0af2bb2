//! [`RedisTokenStore`]: the [`TokenStore`] on Redis or Valkey.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Cmd, Pipeline, RedisFuture, Script, Value};
use tokio::sync::OnceCell;

use super::{DEFAULT_TIMEOUT, Loaded, StoreError, StoreKey, StoreLock, TokenStore};

/// The namespace when none is set.
const DEFAULT_NAMESPACE: &str = "token-client";
/// How long a stored refresh token lives without being written again.
const REFRESH_TTL: Duration = Duration::from_secs(30 * 24 * 3600);
/// The first byte of a stored value: how the rest is to be read.
const PLAIN: u8 = 0;
const AES_256_GCM: u8 = 1;
const NONCE_LEN: usize = 12;
/// The largest stored value read: a bigger one (not written by a provider) is a miss.
const MAX_VALUE: usize = 64 * 1024;
/// What a failure marker's value starts with, followed by the holder's error (lock values
/// are hex digits: never this).
const FAILED: &str = "failed:";
/// The most bytes of a failure marker read back.
const MAX_FAILURE: usize = 4096;

/// A [`TokenStore`] on Redis or Valkey (feature `redis`): a fleet of instances shares one
/// token, and one instance at a time refreshes it.
///
/// ```no_run
/// # use token_client_runtime::{RedisTokenStore, SharedTokenProvider, TokenOptions};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let options = TokenOptions::client_credentials("https://login.example/token", "id", "secret");
/// let key: [u8; 32] = *b"0123456789abcdef0123456789abcdef"; // from your secret manager
/// let store = RedisTokenStore::new("redis://cache:6379")? // no I/O: connects on first use
///     .namespace("orders-service")
///     .encryption_key(key);
/// let provider = SharedTokenProvider::builder(options).store(store).build()?;
/// # Ok(()) }
/// ```
///
/// # Keys
///
/// For each token configuration ([`StoreKey`]), three keys sharing one hash tag, hence one
/// cluster slot: `<namespace>:{<key>}:token` (the token, expiring with it),
/// `<namespace>:{<key>}:lock` (the refresh lock) and `<namespace>:{<key>}:refresh` (the
/// refresh token, kept 30 days after its last write).
///
/// # Encryption
///
/// With [`encryption_key`](Self::encryption_key), values are sealed with AES-256-GCM: a
/// random nonce per write, the Redis key's name as associated data (a value copied under
/// another key does not open). A value that does not open, or does not parse, is treated
/// as absent and overwritten by the next refresh: never read as plaintext. To rotate, set
/// the new key and pass the old one to [`previous_encryption_key`](Self::previous_encryption_key)
/// until the old values have expired. [`allow_plaintext`](Self::allow_plaintext) stores
/// tokens as they are, readable by anyone who can read the Redis; one of the two is
/// required, and building a provider says so.
///
/// # Connection
///
/// Cheap to clone: clones share one connection. It is made on first use, by the tokio
/// runtime of that use, and lives on that runtime: its I/O runs there, and it dies with
/// that runtime (give every provider sharing a store the same long-lived runtime, or a
/// store of its own). An operation called outside a tokio runtime fails (and the provider
/// fetches without the store). [`timeout`](Self::timeout) gives the store a connection of
/// its own, with that timeout.
///
/// # Limits
///
/// A stored value over 64 KiB, or a key of another type than a string, is treated as
/// absent (and overwritten by the next refresh); a lock without a time to live, or of
/// another type, is removed.
#[derive(Clone)]
pub struct RedisTokenStore {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    target: Target,
    /// The URL(s) without password, for `Debug`.
    shown: String,
    connection: Arc<OnceCell<Connection>>,
    namespace: String,
    seal: Seal,
    /// The key values sealed before a rotation still open with (used with [`Seal::Key`]
    /// only; kept when set before the current key).
    previous: Option<Box<Aes256Gcm>>,
    timeout: Duration,
}

#[derive(Clone)]
enum Seal {
    Unset,
    Plain,
    Key(Box<Aes256Gcm>),
}

impl RedisTokenStore {
    /// A store on the Redis at `url` (`redis://[:password@]host:port/db`, or `rediss://`
    /// with the feature `redis-tls`). Does no I/O: the connection is made on first use, and
    /// remade whenever it breaks.
    pub fn new(url: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url)
            .map_err(|error| StoreError::new(format_args!("invalid Redis URL: {error}")))?;
        Ok(Self::on(Target::Single(Box::new(client)), shown_url(url)))
    }

    /// A store on the Redis Cluster reached through `nodes` (any of its nodes' URLs;
    /// feature `redis-cluster`). Does no I/O: the cluster is reached on first use. The
    /// keys of one token share a hash tag, so its scripts run on one node.
    #[cfg(feature = "redis-cluster")]
    pub fn cluster<'a>(nodes: impl IntoIterator<Item = &'a str>) -> Result<Self, StoreError> {
        let nodes: Vec<String> = nodes.into_iter().map(str::to_owned).collect();
        // Checks the URLs (and that they share credentials), without connecting.
        redis::cluster::ClusterClient::new(nodes.iter().map(String::as_str)).map_err(|error| {
            StoreError::new(format_args!("invalid Redis Cluster URLs: {error}"))
        })?;
        let shown = nodes
            .iter()
            .map(|url| shown_url(url))
            .collect::<Vec<_>>()
            .join(", ");
        Ok(Self::on(Target::Cluster(nodes), shown))
    }

    fn on(target: Target, shown: String) -> Self {
        let inner = Inner {
            target,
            shown,
            connection: Arc::new(OnceCell::new()),
            namespace: DEFAULT_NAMESPACE.to_owned(),
            seal: Seal::Unset,
            previous: None,
            timeout: DEFAULT_TIMEOUT,
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    fn with(self, change: impl FnOnce(&mut Inner)) -> Self {
        let mut inner = Arc::unwrap_or_clone(self.inner);
        change(&mut inner);
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The prefix of every key (default `token-client`): one per application, so two that
    /// share a Redis never share tokens. No braces, spaces or control characters.
    pub fn namespace(self, namespace: impl Into<String>) -> Self {
        let namespace = namespace.into();
        self.with(|inner| inner.namespace = namespace)
    }

    /// Seals every stored value with AES-256-GCM under `key` (32 bytes from a secret
    /// manager, the same on every instance).
    pub fn encryption_key(self, key: [u8; 32]) -> Self {
        let current = Box::new(Aes256Gcm::new(&key.into()));
        self.with(|inner| inner.seal = Seal::Key(current))
    }

    /// During a key rotation: values sealed under `key` still open (new ones are sealed
    /// under the [`encryption_key`](Self::encryption_key)). Needs an encryption key, given
    /// before or after.
    pub fn previous_encryption_key(self, key: [u8; 32]) -> Self {
        let previous = Box::new(Aes256Gcm::new(&key.into()));
        self.with(|inner| inner.previous = Some(previous))
    }

    /// Stores tokens unencrypted: anyone who can read the Redis can use them.
    pub fn allow_plaintext(self) -> Self {
        self.with(|inner| {
            if matches!(inner.seal, Seal::Unset) {
                inner.seal = Seal::Plain;
            }
        })
    }

    /// How long one operation may take (default 500 ms, more than zero) before the
    /// provider fetches without the store. Also the connection's connect and response
    /// timeouts: the store gets a connection of its own (clones made before keep theirs).
    pub fn timeout(self, timeout: Duration) -> Self {
        self.with(|inner| {
            inner.timeout = timeout;
            inner.connection = Arc::new(OnceCell::new());
        })
    }

    /// The Redis key of `part` (`token`, `lock`, `refresh`) for `key`.
    fn name(&self, key: &StoreKey, part: &str) -> String {
        format!("{}:{{{}}}:{part}", self.inner.namespace, key.as_str())
    }

    /// The connection, made on first use (inside a runtime, within the caller's timeout),
    /// then shared by clones; it reconnects on its own when broken.
    async fn connection(&self) -> Result<Connection, StoreError> {
        // The connection spawns its driver on the current runtime: without one, it panics.
        tokio::runtime::Handle::try_current()
            .map_err(|_| StoreError::new("RedisTokenStore is used from outside a tokio runtime"))?;
        let inner = &self.inner;
        let connection = inner
            .connection
            .get_or_try_init(|| inner.target.connect(inner.timeout))
            .await
            .map_err(redis_error)?;
        Ok(connection.clone())
    }

    fn seal(&self, name: &str, plain: &[u8]) -> Result<Vec<u8>, StoreError> {
        match &self.inner.seal {
            Seal::Unset => Err(not_configured()),
            Seal::Plain => Ok([&[PLAIN], plain].concat()),
            Seal::Key(current) => {
                let mut nonce = [0u8; NONCE_LEN];
                getrandom::fill(&mut nonce)
                    .map_err(|error| StoreError::new(format_args!("no randomness: {error}")))?;
                let payload = Payload {
                    msg: plain,
                    aad: name.as_bytes(),
                };
                let sealed = current
                    .encrypt(Nonce::from_slice(&nonce), payload)
                    .map_err(|_| StoreError::new("encryption failed"))?;
                Ok([&[AES_256_GCM], &nonce[..], &sealed].concat())
            }
        }
    }

    /// The plaintext of a value stored under `name`; `None` for one this store cannot
    /// read (sealed another way, under another key or name, or tampered with).
    fn open(&self, name: &str, stored: &[u8]) -> Option<Vec<u8>> {
        let (&kind, rest) = stored.split_first()?;
        match (&self.inner.seal, kind) {
            (Seal::Plain, PLAIN) => Some(rest.to_vec()),
            (Seal::Key(current), AES_256_GCM) if rest.len() > NONCE_LEN => {
                let (nonce, sealed) = rest.split_at(NONCE_LEN);
                let open = |cipher: &Aes256Gcm| {
                    let payload = Payload {
                        msg: sealed,
                        aad: name.as_bytes(),
                    };
                    cipher.decrypt(Nonce::from_slice(nonce), payload).ok()
                };
                open(current).or_else(|| self.inner.previous.as_deref().and_then(open))
            }
            _ => None,
        }
    }
}

/// Where the store's Redis is.
#[derive(Clone)]
enum Target {
    Single(Box<redis::Client>),
    #[cfg(feature = "redis-cluster")]
    Cluster(Vec<String>),
}

impl Target {
    async fn connect(&self, timeout: Duration) -> redis::RedisResult<Connection> {
        match self {
            Self::Single(client) => {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(timeout))
                    .set_response_timeout(Some(timeout))
                    .set_number_of_retries(2)
                    .set_max_delay(Duration::from_secs(1));
                ConnectionManager::new_lazy_with_config((**client).clone(), config)
                    .map(Connection::Single)
            }
            #[cfg(feature = "redis-cluster")]
            Self::Cluster(nodes) => {
                let client =
                    redis::cluster::ClusterClient::builder(nodes.iter().map(String::as_str))
                        .connection_timeout(timeout)
                        .response_timeout(timeout)
                        .retries(1)
                        .build()?;
                client
                    .get_async_connection()
                    .await
                    .map(|connection| Connection::Cluster(Box::new(connection)))
            }
        }
    }
}

/// A connection to a single Redis or to a cluster: both run the same commands and scripts.
#[derive(Clone)]
enum Connection {
    Single(ConnectionManager),
    #[cfg(feature = "redis-cluster")]
    Cluster(Box<redis::cluster_async::ClusterConnection>),
}

impl redis::aio::ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(connection) => connection.req_packed_command(cmd),
            #[cfg(feature = "redis-cluster")]
            Self::Cluster(connection) => connection.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(connection) => connection.req_packed_commands(pipeline, offset, count),
            #[cfg(feature = "redis-cluster")]
            Self::Cluster(connection) => connection.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(connection) => connection.get_db(),
            #[cfg(feature = "redis-cluster")]
            Self::Cluster(connection) => connection.get_db(),
        }
    }
}

fn not_configured() -> StoreError {
    StoreError::new(
        "RedisTokenStore needs `.encryption_key(key)` (tokens sealed with AES-256-GCM) or \
         `.allow_plaintext()` (tokens readable by anyone who can read the Redis)",
    )
}

fn redis_error(error: redis::RedisError) -> StoreError {
    StoreError::new(format_args!("Redis: {error}"))
}

/// The milliseconds of `duration`, at least 1 (Redis refuses `PX 0`).
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .clamp(1, i64::MAX as u64)
}

/// `url` as `Debug` shows it: without its password (`<redacted>` in its place), query
/// (`?pass=` of a `redis+unix` URL) or fragment.
fn shown_url(url: &str) -> String {
    let Ok(parsed) = url::Url::parse(url) else {
        return "<unparsable URL>".to_owned();
    };
    let user = parsed.username().to_owned();
    let password = parsed.password().is_some();
    let shown = crate::redact::url_without_secrets(&parsed).to_string();
    let credentials = match (user.is_empty(), password) {
        (true, false) => return shown,
        (false, false) => format!("{user}@"),
        (true, true) => format!(":{}@", crate::redact::REDACTED),
        (false, true) => format!("{user}:{}@", crate::redact::REDACTED),
    };
    match shown.split_once("://") {
        Some((scheme, rest)) => format!("{scheme}://{credentials}{rest}"),
        None => shown,
    }
}

/// A holder's error as a failure marker's value: at most `MAX_FAILURE` bytes in all.
fn failure_marker(failure: &str) -> String {
    let mut end = failure.len().min(MAX_FAILURE - FAILED.len());
    while !failure.is_char_boundary(end) {
        end -= 1;
    }
    format!("{FAILED}{}", &failure[..end])
}

// Every script reads a key only when it is a string (`GET` on another type fails with
// WRONGTYPE): a token or refresh key of another type, or over `MAX_VALUE` bytes, is absent
// (the next `SET` overwrites it, whatever its type); a lock of another type, or without a
// TTL, which nobody would ever release, is removed.

/// KEYS: token, lock, refresh. ARGV: `MAX_VALUE`, `FAILED`, `MAX_FAILURE`.
/// Returns: token or false, its PTTL, the lock's PTTL (-2: free), the failure marker's
/// text or false, refresh token or false.
static LOAD: std::sync::LazyLock<Script> = std::sync::LazyLock::new(|| {
    Script::new(
        r"local function value(key)
            if redis.call('TYPE', key).ok ~= 'string' then return false end
            if redis.call('STRLEN', key) > tonumber(ARGV[1]) then return false end
            return redis.call('GET', key)
          end
          local token = value(KEYS[1])
          local pttl = -2
          if token then pttl = redis.call('PTTL', KEYS[1]) end
          local lock_pttl, failure = -2, false
          local kind = redis.call('TYPE', KEYS[2]).ok
          if kind ~= 'none' then
            lock_pttl = redis.call('PTTL', KEYS[2])
            if kind ~= 'string' or lock_pttl < 0 then
              redis.call('DEL', KEYS[2])
              lock_pttl = -2
            else
              local head = redis.call('GETRANGE', KEYS[2], 0, tonumber(ARGV[3]) - 1)
              if string.sub(head, 1, string.len(ARGV[2])) == ARGV[2] then
                failure = string.sub(head, string.len(ARGV[2]) + 1)
              end
            end
          end
          return {token, pttl, lock_pttl, failure, value(KEYS[3])}",
    )
});

/// KEYS: token, lock, refresh. ARGV: lock value, token, its TTL, whether a refresh token
/// follows (`1`), refresh token, its TTL.
static SAVE: std::sync::LazyLock<Script> = std::sync::LazyLock::new(|| {
    Script::new(
        r"if redis.call('TYPE', KEYS[2]).ok ~= 'string'
             or redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
          redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
          if ARGV[4] == '1' then redis.call('SET', KEYS[3], ARGV[5], 'PX', ARGV[6])
          else redis.call('DEL', KEYS[3]) end
          redis.call('DEL', KEYS[2])
          return 1",
    )
});

/// KEYS: lock. ARGV: lock value, milliseconds (`0`: release), failure marker or empty.
static HOLD: std::sync::LazyLock<Script> = std::sync::LazyLock::new(|| {
    Script::new(
        r"if redis.call('TYPE', KEYS[1]).ok ~= 'string'
             or redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
          if ARGV[2] == '0' then redis.call('DEL', KEYS[1])
          elseif ARGV[3] ~= '' then redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[2])
          else redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
          return 1",
    )
});

/// KEYS: token. Returns its value, or false when it is not a string.
static GET: std::sync::LazyLock<Script> = std::sync::LazyLock::new(|| {
    Script::new(
        r"if redis.call('TYPE', KEYS[1]).ok ~= 'string' then return false end
          return redis.call('GET', KEYS[1])",
    )
});

/// KEYS: token. ARGV: its value as read.
static REMOVE: std::sync::LazyLock<Script> = std::sync::LazyLock::new(|| {
    Script::new(
        r"if redis.call('TYPE', KEYS[1]).ok ~= 'string' then return 0 end
          if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
          return 0",
    )
});

#[async_trait::async_trait]
impl TokenStore for RedisTokenStore {
    fn check(&self) -> Result<(), StoreError> {
        if matches!(self.inner.seal, Seal::Unset) {
            return Err(not_configured());
        }
        if self.inner.timeout.is_zero() {
            return Err(StoreError::new(
                "RedisTokenStore timeout must be more than zero",
            ));
        }
        let namespace = &self.inner.namespace;
        if namespace.is_empty()
            || namespace.len() > 128
            || namespace
                .chars()
                .any(|c| c == '{' || c == '}' || c.is_whitespace() || c.is_control())
        {
            return Err(StoreError::new(
                "RedisTokenStore namespace must be 1 to 128 characters, without braces, \
                 spaces or control characters",
            ));
        }
        Ok(())
    }

    fn timeout(&self) -> Duration {
        self.inner.timeout
    }

    async fn load(&self, key: &StoreKey) -> Result<Loaded, StoreError> {
        let [token, lock, refresh] = ["token", "lock", "refresh"].map(|part| self.name(key, part));
        let mut connection = self.connection().await?;
        type Reply = (Option<Vec<u8>>, i64, i64, Option<Vec<u8>>, Option<Vec<u8>>);
        let (value, pttl, lock_pttl, failure, refresh_value): Reply = LOAD
            .key(&token)
            .key(&lock)
            .key(&refresh)
            .arg(MAX_VALUE)
            .arg(FAILED)
            .arg(MAX_FAILURE)
            .invoke_async(&mut connection)
            .await
            .map_err(redis_error)?;
        let millis = |pttl: i64| Duration::from_millis(u64::try_from(pttl).unwrap_or(0));
        let mut loaded = Loaded::default();
        loaded.token = value
            .and_then(|v| self.open(&token, &v))
            // A token without an expiry (PTTL -1) was not written by a provider.
            .filter(|_| pttl > 0);
        loaded.expires_in = millis(pttl);
        loaded.refresh_token = refresh_value.and_then(|v| self.open(&refresh, &v));
        loaded.locked = lock_pttl >= 0;
        loaded.lock_expires_in = loaded.locked.then(|| millis(lock_pttl));
        loaded.failure = failure.map(|text| String::from_utf8_lossy(&text).into_owned());
        Ok(loaded)
    }

    async fn lock(
        &self,
        key: &StoreKey,
        lock: &StoreLock,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let mut connection = self.connection().await?;
        let taken: Option<String> = redis::cmd("SET")
            .arg(self.name(key, "lock"))
            .arg(lock.value())
            .arg("NX")
            .arg("PX")
            .arg(millis(ttl))
            .query_async(&mut connection)
            .await
            .map_err(redis_error)?;
        Ok(taken.is_some())
    }

    async fn save(
        &self,
        key: &StoreKey,
        lock: &StoreLock,
        token: &[u8],
        ttl: Duration,
        refresh_token: Option<&[u8]>,
    ) -> Result<bool, StoreError> {
        let [token_name, lock_name, refresh_name] =
            ["token", "lock", "refresh"].map(|part| self.name(key, part));
        let sealed = self.seal(&token_name, token)?;
        let refresh = refresh_token
            .map(|plain| self.seal(&refresh_name, plain))
            .transpose()?;
        let mut connection = self.connection().await?;
        if sealed.len() > MAX_VALUE || refresh.as_ref().is_some_and(|r| r.len() > MAX_VALUE) {
            // Readers would take it for garbage: not shared (and the lock let go).
            let _: Value = HOLD
                .key(&lock_name)
                .arg(lock.value())
                .arg(0)
                .arg("")
                .invoke_async(&mut connection)
                .await
                .map_err(redis_error)?;
            return Err(StoreError::new(format_args!(
                "a token of {} bytes is over the {MAX_VALUE} bytes a RedisTokenStore keeps",
                sealed.len().max(refresh.as_ref().map_or(0, Vec::len))
            )));
        }
        let saved: i64 = SAVE
            .key(&token_name)
            .key(&lock_name)
            .key(&refresh_name)
            .arg(lock.value())
            .arg(sealed)
            .arg(millis(ttl))
            .arg(if refresh.is_some() { "1" } else { "0" })
            .arg(refresh.unwrap_or_default())
            .arg(millis(REFRESH_TTL))
            .invoke_async(&mut connection)
            .await
            .map_err(redis_error)?;
        Ok(saved == 1)
    }

    async fn hold(
        &self,
        key: &StoreKey,
        lock: &StoreLock,
        hold: Duration,
        failure: Option<&str>,
    ) -> Result<(), StoreError> {
        let hold = if hold.is_zero() { 0 } else { millis(hold) };
        let marker = failure.map(failure_marker).unwrap_or_default();
        let mut connection = self.connection().await?;
        let _: Value = HOLD
            .key(self.name(key, "lock"))
            .arg(lock.value())
            .arg(hold)
            .arg(marker)
            .invoke_async(&mut connection)
            .await
            .map_err(redis_error)?;
        Ok(())
    }

    async fn remove(&self, key: &StoreKey, stale: &[u8]) -> Result<bool, StoreError> {
        let name = self.name(key, "token");
        let mut connection = self.connection().await?;
        let stored: Option<Vec<u8>> = GET
            .key(&name)
            .invoke_async(&mut connection)
            .await
            .map_err(redis_error)?;
        // Sealed values differ at every write (random nonces): compare what they hold,
        // then delete by the exact stored bytes, so a newer token written meanwhile stays.
        let Some(stored) = stored.filter(|v| self.open(&name, v).as_deref() == Some(stale)) else {
            return Ok(false);
        };
        let removed: i64 = REMOVE
            .key(&name)
            .arg(stored)
            .invoke_async(&mut connection)
            .await
            .map_err(redis_error)?;
        Ok(removed == 1)
    }
}

impl fmt::Debug for RedisTokenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seal = match &self.inner.seal {
            Seal::Unset => "unset",
            Seal::Plain => "plaintext",
            Seal::Key(_) if self.inner.previous.is_none() => "AES-256-GCM",
            Seal::Key(_) => "AES-256-GCM, with a previous key",
        };
        f.debug_struct("RedisTokenStore")
            .field("url", &self.inner.shown)
            .field("namespace", &self.inner.namespace)
            .field("encryption", &seal)
            .field("timeout", &self.inner.timeout)
            .finish()
    }
}
