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
pub struct TokenOptions {
    #[serde(rename = "TokenEndpoint", alias = "token_endpoint")]
    pub(crate) token_endpoint: String,
    #[serde(rename = "ClientId", alias = "client_id")]
    pub(crate) client_id: String,
    #[serde(rename = "ClientSecret", alias = "client_secret", default)]
    pub(crate) client_secret: Secret,
    #[serde(rename = "Username", alias = "username", alias = "UserName", default)]
    pub(crate) username: Option<String>,
    #[serde(rename = "Password", alias = "password", default)]
    pub(crate) password: Option<Secret>,
    #[serde(rename = "Scope", alias = "scope", default)]
    pub(crate) scope: Option<String>,
    #[serde(rename = "Audience", alias = "audience", default)]
    pub(crate) audience: Option<String>,
    #[serde(rename = "Resource", alias = "resource", default)]
    pub(crate) resource: Option<String>,
    #[serde(rename = "ClientAuth", alias = "client_auth", default)]
    pub(crate) client_auth: ClientAuth,
    #[serde(skip)]
    pub(crate) extra_params: Vec<(String, String)>,
    #[serde(skip, default = "defaults::early_refresh")]
    pub(crate) early_refresh: Duration,
    #[serde(skip, default = "defaults::default_lifetime")]
    pub(crate) default_lifetime: Duration,
    #[serde(skip, default = "defaults::request_timeout")]
    pub(crate) request_timeout: Duration,
    #[serde(skip, default = "defaults::failure_cooldown")]
    pub(crate) failure_cooldown: Duration,
    #[serde(rename = "AllowInsecureHttp", alias = "allow_insecure_http", default)]
    pub(crate) allow_insecure_http: bool,
}

mod defaults {
    use std::time::Duration;

    pub(super) fn early_refresh() -> Duration {
        Duration::from_secs(60)
    }
    pub(super) fn default_lifetime() -> Duration {
        Duration::from_secs(300)
    }
    pub(super) fn request_timeout() -> Duration {
        Duration::from_secs(30)
    }
    pub(super) fn failure_cooldown() -> Duration {
        Duration::from_secs(1)
    }
}

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
            username: None,
            password: None,
            scope: None,
            audience: None,
            resource: None,
            client_auth: ClientAuth::default(),
            extra_params: Vec::new(),
            early_refresh: defaults::early_refresh(),
            default_lifetime: defaults::default_lifetime(),
            request_timeout: defaults::request_timeout(),
            failure_cooldown: defaults::failure_cooldown(),
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
        options.username = Some(username.into());
        options.password = Some(Secret::new(password));
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

    /// The `resource` parameter (RFC 8707, Azure AD v1).
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.resource = Some(resource.into());
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
        self.early_refresh = window;
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
        self.failure_cooldown = cooldown;
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
        RefreshPolicy {
            early_refresh: self.early_refresh,
            failure_cooldown: self.failure_cooldown,
        }
    }

    /// Checks the options and returns the parsed endpoint: an absolute `https` URL, or
    /// `http` on a loopback host (or anywhere with [`allow_insecure_http`](Self::allow_insecure_http)),
    /// without a user name or password in it; a non-empty client id; a password with a
    /// username; durations that are not zero where zero makes no sense, and at most a year.
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
        if self.password.is_some() && self.username.is_none() {
            return invalid("a `password` is set without a `username`".to_owned());
        }
        self.check_durations().map_err(TokenError::InvalidOptions)?;
        Ok(url)
    }

    /// Every duration at most [`MAX_DURATION`]; a request timeout and a default lifetime
    /// above zero.
    fn check_durations(&self) -> Result<(), String> {
        let durations = [
            ("early_refresh", self.early_refresh, true),
            ("default_lifetime", self.default_lifetime, false),
            ("request_timeout", self.request_timeout, false),
            ("failure_cooldown", self.failure_cooldown, true),
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
            .field("username", &self.username)
            .field("password", &self.password)
            .field("scope", &self.scope)
            .field("audience", &self.audience)
            .field("resource", &self.resource)
            .field("client_auth", &self.client_auth)
            .field("extra_params", &extra)
            .field("early_refresh", &self.early_refresh)
            .field("default_lifetime", &self.default_lifetime)
            .field("request_timeout", &self.request_timeout)
            .field("failure_cooldown", &self.failure_cooldown)
            .field("allow_insecure_http", &self.allow_insecure_http)
            .finish()
    }
}
