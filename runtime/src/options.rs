//! [`TokenOptions`]: how to reach a token endpoint and when to refresh.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use url::Url;

use crate::redact::display_url;
use crate::{RefreshPolicy, TokenError};

/// How the client authenticates to the token endpoint (RFC 6749 2.3.1, RFC 7523, RFC 8705).
///
/// In configuration (`ClientAuth`): the variant's name, or the name the standards and
/// the identity providers use (`client_secret_basic`, `private_key_jwt`...).
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
    /// `client_secret_jwt`: a short-lived JWT assertion signed with the client secret
    /// (HS256); the secret itself is never sent.
    #[serde(alias = "client_secret_jwt")]
    ClientSecretJwt,
    /// `private_key_jwt`: a short-lived JWT assertion signed with the client's private key
    /// ([`TokenOptions::private_key_pem`]); no shared secret at all.
    #[serde(alias = "private_key_jwt")]
    PrivateKeyJwt,
    /// `tls_client_auth` (RFC 8705): mutual TLS with a certificate issued by a CA the
    /// server trusts ([`TokenOptions::client_certificate_pem`]); `client_id` in the body.
    #[serde(alias = "tls_client_auth")]
    TlsClientAuth,
    /// `self_signed_tls_client_auth` (RFC 8705): mutual TLS with a self-signed
    /// certificate registered with the server; `client_id` in the body.
    #[serde(alias = "self_signed_tls_client_auth")]
    SelfSignedTlsClientAuth,
    /// `none`: a public client, `client_id` in the body and nothing else (with a grant that
    /// carries its own proof, such as the JWT bearer grant).
    #[serde(alias = "none")]
    None,
}

impl ClientAuth {
    /// The method's name in the standards (`token_endpoint_auth_method`).
    pub fn name(self) -> &'static str {
        match self {
            Self::BasicAuth => "client_secret_basic",
            Self::RequestBody => "client_secret_post",
            Self::ClientSecretJwt => "client_secret_jwt",
            Self::PrivateKeyJwt => "private_key_jwt",
            Self::TlsClientAuth => "tls_client_auth",
            Self::SelfSignedTlsClientAuth => "self_signed_tls_client_auth",
            Self::None => "none",
        }
    }

    /// Whether the client authenticates with a TLS client certificate.
    pub fn is_mutual_tls(self) -> bool {
        matches!(self, Self::TlsClientAuth | Self::SelfSignedTlsClientAuth)
    }
}

/// The algorithm a client assertion (or a JWT bearer grant's assertion) is signed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub enum SigningAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256, an RSA key. The default for `private_key_jwt`.
    RS256,
    /// RSASSA-PSS with SHA-256, an RSA key.
    PS256,
    /// ECDSA on P-256 with SHA-256, an EC key.
    ES256,
    /// EdDSA, an Ed25519 key.
    EdDSA,
    /// HMAC with SHA-256 and the client secret: `client_secret_jwt`'s algorithm.
    HS256,
}

/// What a client assertion names as its audience (`aud`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub enum AssertionAudience {
    /// The token endpoint's URL (RFC 7523; what most servers expect). The default.
    #[default]
    #[serde(alias = "token_endpoint")]
    TokenEndpoint,
    /// The issuer's identifier (some servers want it; OIDC Core 9 allows both).
    #[serde(alias = "issuer")]
    Issuer,
}

/// A PEM given inline (a secret: never shown) or as a file path, read when the source is
/// built.
#[derive(Clone, Debug)]
pub(crate) enum Pem {
    Inline(Secret),
    Path(PathBuf),
}

impl Pem {
    /// The PEM's bytes; `what` names the option for the error.
    pub(crate) fn load(&self, what: &str) -> Result<Vec<u8>, TokenError> {
        match self {
            Self::Inline(pem) => Ok(pem.expose().as_bytes().to_vec()),
            Self::Path(path) => std::fs::read(path).map_err(|error| {
                TokenError::InvalidOptions(format!(
                    "`{what}Path` `{}` cannot be read: {error}",
                    path.display()
                ))
            }),
        }
    }
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
    /// The issuer to discover the token endpoint from (when `token_endpoint` is empty),
    /// and the audience of assertions that name the issuer.
    pub(crate) issuer: Option<String>,
    /// The private key signing assertions (`private_key_jwt`, the JWT bearer grant).
    pub(crate) private_key: Option<Pem>,
    pub(crate) key_id: Option<String>,
    pub(crate) signing_algorithm: Option<SigningAlgorithm>,
    pub(crate) assertion_audience: AssertionAudience,
    /// The TLS client certificate and its key (mutual TLS).
    pub(crate) client_certificate: Option<(Pem, Pem)>,
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
    /// RFC 7523 2.1: an assertion signed with the client's key is the grant (the "service
    /// account" pattern); `subject` is its `sub` (default: the client id).
    JwtBearer { subject: Option<String> },
}

impl Grant {
    /// The `grant_type` of the token request.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Self::ClientCredentials => "client_credentials",
            Self::Password { .. } => "password",
            Self::JwtBearer { .. } => JWT_BEARER,
        }
    }

    /// The secret the grant adds to its requests, for scrubbing the answers (matched
    /// exhaustively: a new grant says what it sends).
    pub(crate) fn secret(&self) -> Option<&str> {
        match self {
            Self::ClientCredentials | Self::JwtBearer { .. } => None,
            Self::Password { password, .. } => Some(password.expose()),
        }
    }

    /// Appends `grant_type` and the grant's own parameters to a token request's form;
    /// `assertion`: the signed assertion of a JWT bearer grant.
    pub(crate) fn append_to(
        &self,
        form: &mut form_urlencoded::Serializer<'_, String>,
        assertion: Option<&str>,
    ) {
        form.append_pair("grant_type", self.name());
        match self {
            Self::ClientCredentials => {}
            Self::Password { username, password } => {
                form.append_pair("username", username);
                form.append_pair("password", password.expose());
            }
            Self::JwtBearer { .. } => {
                form.append_pair("assertion", assertion.unwrap_or_default());
            }
        }
    }
}

/// The `grant_type` of the JWT bearer grant (RFC 7523 2.1).
pub(crate) const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

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
    #[serde(rename = "TokenEndpoint", alias = "token_endpoint", default)]
    token_endpoint: Option<String>,
    #[serde(rename = "Issuer", alias = "issuer", default)]
    issuer: Option<String>,
    #[serde(rename = "GrantType", alias = "grant_type", default)]
    grant_type: Option<GrantType>,
    #[serde(rename = "Subject", alias = "subject", default)]
    subject: Option<String>,
    #[serde(rename = "PrivateKey", alias = "private_key", default)]
    private_key: Option<Secret>,
    #[serde(rename = "PrivateKeyPath", alias = "private_key_path", default)]
    private_key_path: Option<PathBuf>,
    #[serde(rename = "KeyId", alias = "key_id", default)]
    key_id: Option<String>,
    #[serde(rename = "SigningAlgorithm", alias = "signing_algorithm", default)]
    signing_algorithm: Option<SigningAlgorithm>,
    #[serde(rename = "AssertionAudience", alias = "assertion_audience", default)]
    assertion_audience: AssertionAudience,
    #[serde(rename = "ClientCertificate", alias = "client_certificate", default)]
    client_certificate: Option<Secret>,
    #[serde(
        rename = "ClientCertificatePath",
        alias = "client_certificate_path",
        default
    )]
    client_certificate_path: Option<PathBuf>,
    #[serde(
        rename = "ClientCertificateKey",
        alias = "client_certificate_key",
        default
    )]
    client_certificate_key: Option<Secret>,
    #[serde(
        rename = "ClientCertificateKeyPath",
        alias = "client_certificate_key_path",
        default
    )]
    client_certificate_key_path: Option<PathBuf>,
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

/// The configuration key `GrantType`; without it, the password grant when a `Username`
/// is set, else client credentials.
#[derive(Clone, Copy, Deserialize)]
enum GrantType {
    #[serde(alias = "client_credentials")]
    ClientCredentials,
    #[serde(alias = "password")]
    Password,
    #[serde(
        alias = "jwt_bearer",
        alias = "urn:ietf:params:oauth:grant-type:jwt-bearer"
    )]
    JwtBearer,
}

/// One of an inline PEM and a path to one; both is an error naming the keys.
fn pem(inline: Option<Secret>, path: Option<PathBuf>, key: &str) -> Result<Option<Pem>, String> {
    match (inline, path) {
        (Some(_), Some(_)) => Err(format!("set one of `{key}` and `{key}Path`, not both")),
        (Some(pem), None) => Ok(Some(Pem::Inline(pem))),
        (None, Some(path)) => Ok(Some(Pem::Path(path))),
        (None, None) => Ok(None),
    }
}

impl TryFrom<Config> for TokenOptions {
    type Error = String;

    fn try_from(config: Config) -> Result<Self, String> {
        let endpoint = match (config.token_endpoint, &config.issuer) {
            (Some(endpoint), _) => endpoint,
            (None, Some(_)) => String::new(),
            (None, None) => {
                return Err("one of `TokenEndpoint` and `Issuer` is required".to_owned());
            }
        };
        let mut options =
            Self::client_credentials(endpoint, config.client_id, config.client_secret.0);
        options.issuer = config.issuer;
        if config.subject.is_some() && !matches!(config.grant_type, Some(GrantType::JwtBearer)) {
            return Err("`Subject` goes with `GrantType` `JwtBearer` only".to_owned());
        }
        options.grant = match (config.grant_type, config.username, config.password) {
            (Some(GrantType::JwtBearer), None, None) => Grant::JwtBearer {
                subject: config.subject,
            },
            (Some(GrantType::ClientCredentials), None, None) | (None, None, None) => {
                Grant::ClientCredentials
            }
            (Some(GrantType::Password) | None, Some(username), password) => Grant::Password {
                username,
                password: password.unwrap_or_default(),
            },
            (Some(GrantType::Password), None, _) => {
                return Err("`GrantType` `Password` needs a `Username`".to_owned());
            }
            (None, None, Some(_)) => {
                return Err("a `Password` is set without a `Username`".to_owned());
            }
            (Some(_), _, _) => {
                return Err(
                    "`Username` and `Password` go with `GrantType` `Password` only".to_owned(),
                );
            }
        };
        options.private_key = pem(config.private_key, config.private_key_path, "PrivateKey")?;
        options.key_id = config.key_id;
        options.signing_algorithm = config.signing_algorithm;
        options.assertion_audience = config.assertion_audience;
        let certificate = pem(
            config.client_certificate,
            config.client_certificate_path,
            "ClientCertificate",
        )?;
        let key = pem(
            config.client_certificate_key,
            config.client_certificate_key_path,
            "ClientCertificateKey",
        )?;
        options.client_certificate = match (certificate, key) {
            (Some(certificate), Some(key)) => Some((certificate, key)),
            (None, None) => None,
            _ => {
                return Err(
                    "`ClientCertificate(Path)` and `ClientCertificateKey(Path)` go together"
                        .to_owned(),
                );
            }
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
            issuer: None,
            private_key: None,
            key_id: None,
            signing_algorithm: None,
            assertion_audience: AssertionAudience::default(),
            client_certificate: None,
        }
    }

    /// Client credentials, with the token endpoint discovered from `issuer` (OIDC
    /// Discovery / RFC 8414) on first use. Set how the client authenticates next: a
    /// [`client_secret`](Self::client_secret), a [`private_key_pem`](Self::private_key_pem)
    /// with [`ClientAuth::PrivateKeyJwt`], a [certificate](Self::client_certificate_pem)...
    pub fn from_issuer(issuer: impl Into<String>, client_id: impl Into<String>) -> Self {
        let mut options = Self::client_credentials(String::new(), client_id, String::new());
        options.issuer = Some(issuer.into());
        options
    }

    /// The JWT bearer grant (RFC 7523 2.1): an assertion signed with the client's
    /// [private key](Self::private_key_pem) is the grant; the client authenticates with
    /// nothing else ([`ClientAuth::None`]) unless told otherwise. Its subject is the
    /// client id unless [`subject`](Self::subject) says another.
    pub fn jwt_bearer(token_endpoint: impl Into<String>, client_id: impl Into<String>) -> Self {
        let mut options = Self::client_credentials(token_endpoint, client_id, String::new());
        options.grant = Grant::JwtBearer { subject: None };
        options.client_auth = ClientAuth::None;
        options
    }

    /// The `sub` of the JWT bearer grant's assertion (a user or service account the
    /// client acts as). Only for [`jwt_bearer`](Self::jwt_bearer) options.
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        if let Grant::JwtBearer { subject: current } = &mut self.grant {
            *current = Some(subject.into());
        }
        self
    }

    /// The issuer (its identifier URL): with an empty token endpoint, the token endpoint
    /// is discovered from it; it is also the audience of assertions when
    /// [`AssertionAudience::Issuer`] is chosen.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// The private key (PEM: PKCS#8, or PKCS#1 for RSA, SEC1 for EC) signing client
    /// assertions (`private_key_jwt`) and JWT bearer grants. Never shown by `Debug`.
    pub fn private_key_pem(mut self, pem: impl Into<String>) -> Self {
        self.private_key = Some(Pem::Inline(Secret::new(pem)));
        self
    }

    /// The private key, as a PEM file read when the provider is built.
    pub fn private_key_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.private_key = Some(Pem::Path(path.into()));
        self
    }

    /// The `kid` header of signed assertions: which of the client's registered keys.
    pub fn key_id(mut self, key_id: impl Into<String>) -> Self {
        self.key_id = Some(key_id.into());
        self
    }

    /// The algorithm of signed assertions (default RS256 with a private key, HS256 for
    /// `client_secret_jwt`).
    pub fn signing_algorithm(mut self, algorithm: SigningAlgorithm) -> Self {
        self.signing_algorithm = Some(algorithm);
        self
    }

    /// What assertions name as their audience (default: the token endpoint).
    pub fn assertion_audience(mut self, audience: AssertionAudience) -> Self {
        self.assertion_audience = audience;
        self
    }

    /// The TLS client certificate (PEM, with any chain) and its private key (PEM), for
    /// mutual-TLS client authentication (RFC 8705), on the token endpoint's own client.
    pub fn client_certificate_pem(
        mut self,
        certificate: impl Into<String>,
        key: impl Into<String>,
    ) -> Self {
        let certificate = Pem::Inline(Secret::new(certificate));
        self.client_certificate = Some((certificate, Pem::Inline(Secret::new(key))));
        self
    }

    /// The TLS client certificate and its key, as PEM files read when the provider is built.
    pub fn client_certificate_path(
        mut self,
        certificate: impl Into<PathBuf>,
        key: impl Into<PathBuf>,
    ) -> Self {
        self.client_certificate = Some((Pem::Path(certificate.into()), Pem::Path(key.into())));
        self
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
        field(self.issuer.as_deref());
        field(Some(&self.client_id));
        field(Some(self.client_auth.name()));
        field(Some(self.grant.name()));
        match &self.grant {
            Grant::ClientCredentials => {}
            Grant::Password { username, .. } => field(Some(username)),
            Grant::JwtBearer { subject } => field(subject.as_deref()),
        }
        // Sets are hashed in a fixed order: `a b` and `b a` ask for the same token.
        let scope = self.scope.as_deref().map(|scope| {
            let mut scopes: Vec<&str> = scope.split_whitespace().collect();
            scopes.sort_unstable();
            scopes.dedup();
            scopes.join(" ")
        });
        field(scope.as_deref());
        field(self.audience.as_deref());
        let mut resources: Vec<&String> = self.resources.iter().collect();
        resources.sort_unstable();
        for resource in resources {
            field(Some(resource));
        }
        field(None);
        let mut extra: Vec<&(String, String)> = self.extra_params.iter().collect();
        extra.sort_unstable();
        for (name, value) in extra {
            field(Some(name));
            field(Some(value));
        }
        crate::StoreKey::from_hash(&hash.finalize())
    }

    /// Checks the options and returns the parsed token endpoint (or, when it is to be
    /// discovered, the issuer): an absolute `https` URL, or `http` on a loopback host (or
    /// anywhere with [`allow_insecure_http`](Self::allow_insecure_http)), without a user
    /// name or password in it; a non-empty client id; what the client authentication and
    /// the grant need (a private key, a certificate, an issuer); durations that are not
    /// zero where zero makes no sense, and at most a year.
    pub fn validate(&self) -> Result<Url, TokenError> {
        let invalid = |message: String| Err(TokenError::InvalidOptions(message));
        let issuer = match &self.issuer {
            Some(issuer) => Some(self.checked_url(issuer, "issuer")?),
            None => None,
        };
        let url = match (self.token_endpoint.as_str(), issuer) {
            ("", Some(issuer)) => {
                if issuer.query().is_some() || issuer.fragment().is_some() {
                    return invalid(format!(
                        "`issuer` `{}` must not have a query or fragment",
                        display_url(issuer.as_str())
                    ));
                }
                issuer
            }
            ("", None) => return invalid("`token_endpoint` or `issuer` is required".to_owned()),
            (endpoint, _) => self.checked_url(endpoint, "token_endpoint")?,
        };
        if self.client_id.is_empty() {
            return invalid("`client_id` is empty".to_owned());
        }
        let needs_key = self.client_auth == ClientAuth::PrivateKeyJwt
            || matches!(self.grant, Grant::JwtBearer { .. });
        if needs_key && self.private_key.is_none() {
            return invalid(format!(
                "{} needs a `PrivateKey` or `PrivateKeyPath`",
                if self.client_auth == ClientAuth::PrivateKeyJwt {
                    "`ClientAuth` `PrivateKeyJwt`"
                } else {
                    "the JWT bearer grant"
                }
            ));
        }
        if self.client_auth.is_mutual_tls() && self.client_certificate.is_none() {
            return invalid(format!(
                "`ClientAuth` `{:?}` needs a `ClientCertificate(Path)` and its \
                 `ClientCertificateKey(Path)`",
                self.client_auth
            ));
        }
        if self.assertion_audience == AssertionAudience::Issuer && self.issuer.is_none() {
            return invalid("`AssertionAudience` `Issuer` needs an `Issuer`".to_owned());
        }
        self.check_durations().map_err(TokenError::InvalidOptions)?;
        Ok(url)
    }

    /// `raw` (the option `what`) as an absolute URL without user info, over https unless
    /// allowed otherwise.
    fn checked_url(&self, raw: &str, what: &str) -> Result<Url, TokenError> {
        let invalid = |message: String| Err(TokenError::InvalidOptions(message));
        let shown = display_url(raw);
        let Ok(url) = Url::parse(raw) else {
            return invalid(format!("`{what}` `{shown}` is not an absolute URL"));
        };
        if !url.username().is_empty() || url.password().is_some() {
            return invalid(format!(
                "`{what}` `{shown}` must not hold a user name or password: give them \
                 as the client id and secret"
            ));
        }
        let insecure = (self.allow_insecure_http, "allow_insecure_http(true)");
        check_transport(&url, what, insecure).map_err(TokenError::InvalidOptions)?;
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
            .field("issuer", &self.issuer.as_deref().map(display_url))
            .field("private_key", &self.private_key)
            .field("key_id", &self.key_id)
            .field("signing_algorithm", &self.signing_algorithm)
            .field("assertion_audience", &self.assertion_audience)
            .field("client_certificate", &self.client_certificate)
            .finish()
    }
}
