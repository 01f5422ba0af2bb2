//! [`TokenOptions`]: how to reach a token endpoint and when to refresh.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use serde::Deserialize;
use url::Url;

use crate::redact::display_url;
use crate::{RefreshPolicy, TokenError};

/// How the client authenticates to the token endpoint (RFC 6749 2.3.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub enum ClientAuth {
    /// HTTP Basic: form-urlencoded id and secret, joined by `:`, base64-encoded. The default.
    #[default]
    #[serde(alias = "basic", alias = "Basic", alias = "client_secret_basic")]
    BasicAuth,
    /// `client_id` and `client_secret` as form parameters in the request body.
    #[serde(alias = "body", alias = "Body", alias = "client_secret_post")]
    RequestBody,
}

/// A secret string: never shown by `Debug`.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub(crate) struct Secret(String);

impl Secret {
    pub(crate) fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Everything needed to get tokens from an OAuth2 token endpoint, and when to refresh them.
///
/// Built in code with [`TokenOptions::client_credentials`] or [`TokenOptions::password`]
/// and the chained setters, or deserialized from configuration with the keys users
/// already have (`ClientId`, `ClientSecret`, `Username`, `Password`, `TokenEndpoint`,
/// `Scope`, `Audience`, `Resource`, `ClientAuth`, or their snake_case forms):
///
/// ```
/// # use token_client_runtime::TokenOptions;
/// let options: TokenOptions = serde_json::from_str(r#"{
///     "TokenEndpoint": "https://login.example.com/oauth2/token",
///     "ClientId": "my-service",
///     "ClientSecret": "s3cret",
///     "Scope": "foos.read"
/// }"#).unwrap();
/// assert!(!format!("{options:?}").contains("s3cret"));
/// ```
#[derive(Clone, Deserialize)]
#[serde(try_from = "Config")]
pub struct TokenOptions {
    pub(crate) token_endpoint: String,
    pub(crate) client_id: String,
    pub(crate) client_secret: Secret,
    pub(crate) grant: Grant,
    pub(crate) scope: Option<String>,
    pub(crate) audience: Option<String>,
    pub(crate) resources: Vec<String>,
    pub(crate) client_auth: ClientAuth,
    pub(crate) extra_params: Vec<(String, String)>,
    pub(crate) policy: RefreshPolicy,
    pub(crate) default_lifetime: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) allow_insecure_http: bool,
}

/// The grant a token is first obtained with. (A refresh token, when the server hands one
/// out, is used after it: see [`OAuth2Source`](crate::OAuth2Source).) A new grant (JWT
/// bearer, token exchange) is a new variant, and the compiler lists what to extend.
#[derive(Clone, Debug)]
pub(crate) enum Grant {
    /// RFC 6749 4.4: the client authenticates as itself.
    ClientCredentials,
    /// RFC 6749 4.3: the client acts for a user.
    Password { username: String, password: Secret },
}

impl Grant {
    /// The `grant_type` of the token request.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Self::ClientCredentials => "client_credentials",
            Self::Password { .. } => "password",
        }
    }

    /// The secret the grant adds to its requests, for scrubbing the answers (matched
    /// exhaustively: a new grant says what it sends).
    pub(crate) fn secret(&self) -> Option<&str> {
        match self {
            Self::ClientCredentials => None,
            Self::Password { password, .. } => Some(password.expose()),
        }
    }

    /// Appends `grant_type` and the grant's own parameters to a token request's form.
    pub(crate) fn append_to(&self, form: &mut form_urlencoded::Serializer<'_, String>) {
        form.append_pair("grant_type", self.name());
        match self {
            Self::ClientCredentials => {}
            Self::Password { username, password } => {
                form.append_pair("username", username);
                form.append_pair("password", password.expose());
            }
        }
    }
}

/// A configuration value given as one string or a list of them.
#[derive(Deserialize, Default)]
#[serde(untagged)]
enum OneOrMany {
    #[default]
    None,
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            Self::None => Vec::new(),
            Self::One(one) => vec![one],
            Self::Many(many) => many,
        }
    }
}

/// The configuration keys users already have (`appsettings.json` style, PascalCase, or
/// snake_case), as read from a file; turned into [`TokenOptions`] by `TryFrom`.
#[derive(Deserialize)]
struct Config {
    #[serde(rename = "TokenEndpoint", alias = "token_endpoint")]
    token_endpoint: String,
    #[serde(rename = "ClientId", alias = "client_id")]
    client_id: String,
    #[serde(rename = "ClientSecret", alias = "client_secret", default)]
    client_secret: Secret,
    #[serde(rename = "Username", alias = "username", alias = "UserName", default)]
    username: Option<String>,
    #[serde(rename = "Password", alias = "password", default)]
    password: Option<Secret>,
    #[serde(rename = "Scope", alias = "scope", default)]
    scope: Option<String>,
    #[serde(rename = "Audience", alias = "audience", default)]
    audience: Option<String>,
    /// One resource, or a list (RFC 8707 allows several).
    #[serde(rename = "Resource", alias = "resource", default)]
    resource: OneOrMany,
    #[serde(rename = "ClientAuth", alias = "client_auth", default)]
    client_auth: ClientAuth,
    #[serde(rename = "AllowInsecureHttp", alias = "allow_insecure_http", default)]
    allow_insecure_http: bool,
}

impl TryFrom<Config> for TokenOptions {
    type Error = String;

    fn try_from(config: Config) -> Result<Self, String> {
        let mut options = Self::client_credentials(
            config.token_endpoint,
            config.client_id,
            config.client_secret.0,
        );
        options.grant = match (config.username, config.password) {
            (Some(username), password) => Grant::Password {
                username,
                password: password.unwrap_or_default(),
            },
            (None, Some(_)) => return Err("a `Password` is set without a `Username`".to_owned()),
            (None, None) => Grant::ClientCredentials,
        };
        options.scope = config.scope;
        options.audience = config.audience;
        options.resources = config.resource.into_vec();
        options.client_auth = config.client_auth;
        options.allow_insecure_http = config.allow_insecure_http;
        Ok(options)
    }
}

/// The lifetime assumed when a response says none.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(300);
/// How long a token request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

impl TokenOptions {
    /// The client credentials grant: the service authenticates as itself.
    pub fn client_credentials(
        token_endpoint: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        Self {
            token_endpoint: token_endpoint.into(),
            client_id: client_id.into(),
            client_secret: Secret::new(client_secret),
            grant: Grant::ClientCredentials,
            scope: None,
            audience: None,
            resources: Vec::new(),
            client_auth: ClientAuth::default(),
            extra_params: Vec::new(),
            policy: RefreshPolicy::default(),
            default_lifetime: DEFAULT_LIFETIME,
            request_timeout: REQUEST_TIMEOUT,
            allow_insecure_http: false,
        }
    }

    /// The resource owner password grant: the client acts for `username`.
    pub fn password(
        token_endpoint: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
        username: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        let mut options = Self::client_credentials(token_endpoint, client_id, client_secret);
        options.grant = Grant::Password {
            username: username.into(),
            password: Secret::new(password),
        };
        options
    }

    /// The `scope` parameter (space-separated scopes).
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// The `audience` parameter (Auth0 and others).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// Adds a `resource` parameter (RFC 8707 resource indicators, Azure AD v1): call it
    /// once per resource; the token is then meant for those resources.
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.resources.push(resource.into());
        self
    }

    /// An extra form parameter sent with every token request.
    pub fn extra_param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra_params.push((name.into(), value.into()));
        self
    }

    /// The client secret (e.g. from an environment variable, over one read from a file).
    pub fn client_secret(mut self, secret: impl Into<String>) -> Self {
        self.client_secret = Secret::new(secret);
        self
    }

    /// How the client authenticates: HTTP Basic (default) or in the request body.
    pub fn client_auth(mut self, client_auth: ClientAuth) -> Self {
        self.client_auth = client_auth;
        self
    }

    /// How long before expiry to refresh in the background (default 60 s; clamped to half
    /// of each token's lifetime).
    pub fn early_refresh(mut self, window: Duration) -> Self {
        self.policy = self.policy.early_refresh(window);
        self
    }

    /// The lifetime assumed when a response has no `expires_in`, or 0 (default 5 min).
    pub fn default_lifetime(mut self, lifetime: Duration) -> Self {
        self.default_lifetime = lifetime;
        self
    }

    /// How long a token request may take, body included (default 30 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// How long a failure is served to new callers before the endpoint is tried again
    /// (default 1 s): shields a failing token endpoint from a storm of retries.
    pub fn failure_cooldown(mut self, cooldown: Duration) -> Self {
        self.policy = self.policy.failure_cooldown(cooldown);
        self
    }

    /// Allows a plain `http://` token endpoint on a host that is not loopback. Secrets then
    /// cross the network unencrypted: for tests and trusted networks only.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// The token endpoint URL as given.
    pub fn token_endpoint(&self) -> &str {
        &self.token_endpoint
    }

    /// The client id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The refresh policy these options ask for.
    pub fn refresh_policy(&self) -> RefreshPolicy {
        self.policy
    }

    /// The name of these options' tokens in a shared store: a SHA-256 hash of everything
    /// that makes two configurations' tokens differ, and of nothing secret (the client
    /// secret and the password stay out; so do the refresh policy and timeouts, which
    /// change when a token is fetched, not which token).
    pub(crate) fn store_key(&self) -> crate::StoreKey {
        use sha2::{Digest, Sha256};
        let mut hash = Sha256::new();
        // Each field length-prefixed: no two different lists of fields hash alike.
        let mut field = |value: Option<&str>| match value {
            None => hash.update([0]),
            Some(value) => {
                hash.update([1]);
                hash.update((value.len() as u64).to_le_bytes());
                hash.update(value.as_bytes());
            }
        };
        field(Some("token-client store key 1"));
        field(Some(&self.token_endpoint));
        field(Some(&self.client_id));
        field(Some(match self.client_auth {
            ClientAuth::BasicAuth => "client_secret_basic",
            ClientAuth::RequestBody => "client_secret_post",
        }));
        field(Some(self.grant.name()));
        match &self.grant {
            Grant::ClientCredentials => {}
            Grant::Password { username, .. } => field(Some(username)),
        }
        field(self.scope.as_deref());
        field(self.audience.as_deref());
        for resource in &self.resources {
            field(Some(resource));
        }
        field(None);
        for (name, value) in &self.extra_params {
            field(Some(name));
            field(Some(value));
        }
        crate::StoreKey::from_hash(&hash.finalize())
    }

    /// Checks the options and returns the parsed endpoint: an absolute `https` URL, or
    /// `http` on a loopback host (or anywhere with [`allow_insecure_http`](Self::allow_insecure_http)),
    /// without a user name or password in it; a non-empty client id; a password with a
    /// durations that are not zero where zero makes no sense, and at most a year.
    pub fn validate(&self) -> Result<Url, TokenError> {
        let invalid = |message: String| Err(TokenError::InvalidOptions(message));
        let shown = display_url(&self.token_endpoint);
        let Ok(url) = Url::parse(&self.token_endpoint) else {
            return invalid(format!("`token_endpoint` `{shown}` is not an absolute URL"));
        };
        if !url.username().is_empty() || url.password().is_some() {
            return invalid(format!(
                "`token_endpoint` `{shown}` must not hold a user name or password: give them \
                 as the client id and secret"
            ));
        }
        let insecure = (self.allow_insecure_http, "allow_insecure_http(true)");
        check_transport(&url, "token_endpoint", insecure).map_err(TokenError::InvalidOptions)?;
        if self.client_id.is_empty() {
            return invalid("`client_id` is empty".to_owned());
        }
        self.check_durations().map_err(TokenError::InvalidOptions)?;
        Ok(url)
    }

    /// Every duration at most [`MAX_DURATION`]; a request timeout and a default lifetime
    /// above zero.
    fn check_durations(&self) -> Result<(), String> {
        let durations = [
            ("early_refresh", self.policy.early_refresh, true),
            ("default_lifetime", self.default_lifetime, false),
            ("request_timeout", self.request_timeout, false),
            ("failure_cooldown", self.policy.failure_cooldown, true),
        ];
        for (name, value, zero_ok) in durations {
            if value > MAX_DURATION {
                return Err(format!(
                    "`{name}` is {value:?}, longer than the one year allowed"
                ));
            }
            if value.is_zero() && !zero_ok {
                return Err(format!("`{name}` is zero"));
            }
        }
        Ok(())
    }
}

/// The longest duration an option may hold: a year.
const MAX_DURATION: Duration = Duration::from_secs(366 * 24 * 3600);

/// The rule for any URL a token is sent to or fetched from: `https`, or `http` to a
/// loopback host, or `http` anywhere when the user opted in. The error says which URL
/// (`what`) broke it, and names the opt-in (`insecure`: whether the user opted in, and how).
pub(crate) fn check_transport(
    url: &Url,
    what: &str,
    (allowed, opt_in): (bool, &str),
) -> Result<(), String> {
    let shown = crate::redact::url_without_secrets(url);
    match url.scheme() {
        "https" => Ok(()),
        "http" if allowed || is_loopback(url) => Ok(()),
        "http" => Err(format!(
            "`{what}` `{shown}` uses plain http to a host that is not loopback, which would \
             send credentials unencrypted; use https, or opt in with `{opt_in}`"
        )),
        other => Err(format!("`{what}` scheme `{other}` is not http or https")),
    }
}

/// Whether `url` names this machine: `localhost` or a loopback address.
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

impl fmt::Debug for TokenOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let extra: Vec<&str> = self.extra_params.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("TokenOptions")
            .field("token_endpoint", &display_url(&self.token_endpoint))
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("grant", &self.grant)
            .field("scope", &self.scope)
            .field("audience", &self.audience)
            .field("resources", &self.resources)
            .field("client_auth", &self.client_auth)
            .field("extra_params", &extra)
            .field("policy", &self.policy)
            .field("default_lifetime", &self.default_lifetime)
            .field("request_timeout", &self.request_timeout)
            .field("allow_insecure_http", &self.allow_insecure_http)
            .finish()
    }
}
