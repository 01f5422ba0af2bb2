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
/// Cheap to clone: clones share one connection.
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
    timeout: Duration,
}

#[derive(Clone)]
enum Seal {
    Unset,
    Plain,
    Keys {
        current: Box<Aes256Gcm>,
        previous: Option<Box<Aes256Gcm>>,
    },
}

impl RedisTokenStore {
    /// A store on the Redis at `url` (`redis://[:password@]host:port/db`, or `rediss://`
    /// with the feature `redis-tls`). Does no I/O: the connection is made on first use, and
    /// remade whenever it breaks.
    pub fn new(url: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url)
            .map_err(|error| StoreError::new(format_args!("invalid Redis URL: {error}")))?;
        Ok(Self::on(
            Target::Single(Box::new(client)),
            without_password(url),
        ))
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
            .map(|url| without_password(url))
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
        self.with(|inner| {
            let previous = match std::mem::replace(&mut inner.seal, Seal::Unset) {
                Seal::Keys { previous, .. } => previous,
                _ => None,
            };
            inner.seal = Seal::Keys { current, previous };
        })
    }

    /// During a key rotation: values sealed under `key` still open (new ones are sealed
    /// under the [`encryption_key`](Self::encryption_key)). Needs an encryption key.
    pub fn previous_encryption_key(self, key: [u8; 32]) -> Self {
        let previous = Some(Box::new(Aes256Gcm::new(&key.into())));
        self.with(|inner| {
            if let Seal::Keys { previous: old, .. } = &mut inner.seal {
                *old = previous;
            }
        })
    }

    /// Stores tokens unencrypted: anyone who can read the Redis can use them.
    pub fn allow_plaintext(self) -> Self {
        self.with(|inner| {
            if matches!(inner.seal, Seal::Unset) {
                inner.seal = Seal::Plain;
            }
        })
    }

    /// How long one operation may take (default 500 ms) before the provider fetches
    /// without the store.
    pub fn timeout(self, timeout: Duration) -> Self {
        self.with(|inner| inner.timeout = timeout)
    }

    /// The Redis key of `part` (`token`, `lock`, `refresh`) for `key`.
    fn name(&self, key: &StoreKey, part: &str) -> String {
        format!("{}:{{{}}}:{part}", self.inner.namespace, key.as_str())
    }

    /// The connection, made on first use (inside a runtime, within the caller's timeout),
    /// then shared by clones; it reconnects on its own when broken.
    async fn connection(&self) -> Result<Connection, StoreError> {
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
            Seal::Keys { current, .. } => {
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
            (Seal::Keys { current, previous }, AES_256_GCM) if rest.len() > NONCE_LEN => {
                let (nonce, sealed) = rest.split_at(NONCE_LEN);
                let open = |cipher: &Aes256Gcm| {
                    let payload = Payload {
                        msg: sealed,
                        aad: name.as_bytes(),
                    };
                    cipher.decrypt(Nonce::from_slice(nonce), payload).ok()
                };
                open(current).or_else(|| previous.as_deref().and_then(open))
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

fn without_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("<redacted>"));
            }
            parsed.to_string()
        }
        Err(_) => "<unparsable URL>".to_owned(),
    }
}

static LOAD: std::sync::LazyLock<Script> = std::sync::LazyLock::new(|| {
    Script::new(
        r"return {redis.call('GET', KEYS[1]), redis.call('PTTL', KEYS[1]),
                 redis.call('EXISTS', KEYS[2]), redis.call('GET', KEYS[3])}",
    )
});

static SAVE: std::sync::LazyLock<Script> = std::sync::LazyLock::new(|| {
    Script::new(
        r"if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
          redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
          if ARGV[4] == '1' then redis.call('SET', KEYS[3], ARGV[5], 'PX', ARGV[6])
          else redis.call('DEL', KEYS[3]) end
          redis.call('DEL', KEYS[2])
          return 1",
    )
});

static HOLD: std::sync::LazyLock<Script> = std::sync::LazyLock::new(|| {
    Script::new(
        r"if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
          if ARGV[2] == '0' then redis.call('DEL', KEYS[1])
          else redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
          return 1",
    )
});

static REMOVE: std::sync::LazyLock<Script> = std::sync::LazyLock::new(|| {
    Script::new(
        r"if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
          return 0",
    )
});

#[async_trait::async_trait]
impl TokenStore for RedisTokenStore {
    fn check(&self) -> Result<(), StoreError> {
        if matches!(self.inner.seal, Seal::Unset) {
            return Err(not_configured());
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
        let (value, pttl, locked, refresh_value): (Option<Vec<u8>>, i64, i64, Option<Vec<u8>>) =
            LOAD.key(&token)
                .key(&lock)
                .key(&refresh)
                .invoke_async(&mut connection)
                .await
                .map_err(redis_error)?;
        let expires_in = Duration::from_millis(u64::try_from(pttl).unwrap_or(0));
        let token_value = value
            .and_then(|v| self.open(&token, &v))
            // A token without an expiry (PTTL -1) was not written by a provider.
            .filter(|_| pttl > 0);
        Ok(Loaded {
            token: token_value,
            expires_in,
            refresh_token: refresh_value.and_then(|v| self.open(&refresh, &v)),
            locked: locked > 0,
        })
    }

    async fn lock(&self, key: &StoreKey, ttl: Duration) -> Result<Option<StoreLock>, StoreError> {
        let mut random = [0u8; 16];
        getrandom::fill(&mut random)
            .map_err(|error| StoreError::new(format_args!("no randomness: {error}")))?;
        let lock = StoreLock::new(StoreKey::from_hash(&random).as_str());
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
        Ok(taken.map(|_| lock))
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
    ) -> Result<(), StoreError> {
        let hold = if hold.is_zero() { 0 } else { millis(hold) };
        let mut connection = self.connection().await?;
        let _: Value = HOLD
            .key(self.name(key, "lock"))
            .arg(lock.value())
            .arg(hold)
            .invoke_async(&mut connection)
            .await
            .map_err(redis_error)?;
        Ok(())
    }

    async fn remove(&self, key: &StoreKey, stale: &[u8]) -> Result<bool, StoreError> {
        let name = self.name(key, "token");
        let mut connection = self.connection().await?;
        let stored: Option<Vec<u8>> = redis::cmd("GET")
            .arg(&name)
            .query_async(&mut connection)
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
            Seal::Keys { previous: None, .. } => "AES-256-GCM",
            Seal::Keys { .. } => "AES-256-GCM, with a previous key",
        };
        f.debug_struct("RedisTokenStore")
            .field("url", &self.inner.shown)
            .field("namespace", &self.inner.namespace)
            .field("encryption", &seal)
            .field("timeout", &self.inner.timeout)
            .finish()
    }
}
