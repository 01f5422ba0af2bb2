//! [`OAuth2Source`]: tokens from an RFC 6749 token endpoint.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use base64::Engine as _;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderValue, StatusCode};
use tokio::time::Instant;
use url::Url;

use self::assertion::Signer;
use self::discovery::Discovery;
use self::response::TokenResponse;
use crate::body::read_capped;
use crate::error::without_query;
use crate::options::{AssertionAudience, Grant, Pem, is_loopback};
use crate::redact::Redactor;
use crate::{AccessToken, ClientAuth, RefreshToken, TokenError, TokenOptions, TokenSource, time};

mod assertion;
mod discovery;
mod response;

/// `client_assertion_type` of a JWT client assertion (RFC 7523 2.2).
const JWT_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The largest token response read; a larger one is an error (a token response is a few KiB).
const MAX_BODY: usize = 64 * 1024;

/// Fetches tokens from the token endpoint of [`TokenOptions`]: client credentials or
/// password grant, then the `refresh_token` grant while the server hands out refresh
/// tokens (storing each rotated one, and falling back to the primary grant when the server
/// answers `invalid_grant`).
pub struct OAuth2Source {
    options: TokenOptions,
    target: Target,
    http: reqwest::Client,
    /// Signs client assertions (`private_key_jwt`, `client_secret_jwt`).
    client_signer: Option<Arc<Signer>>,
    /// Signs the JWT bearer grant's assertions.
    grant_signer: Option<Arc<Signer>>,
    refresh_token: Mutex<Option<RefreshToken>>,
}

/// Where token requests go.
#[derive(Clone)]
enum Target {
    /// The configured token endpoint.
    Fixed(Url),
    /// The one discovered from the issuer, on first use.
    Discovered(Arc<Discovery>),
}

/// What one token request asks with: the options' grant, or a refresh token.
enum Attempt {
    Primary,
    Refresh(RefreshToken),
}

impl OAuth2Source {
    /// A source for `options`, with an HTTP client of its own. Fails when the options are
    /// invalid.
    pub fn new(options: TokenOptions) -> Result<Self, TokenError> {
        Self::with_client_builder(options, reqwest::Client::builder())
    }

    /// A source for `options` whose HTTP client is built from `builder`: for custom root
    /// certificates, a proxy, a client certificate... The client is the token endpoint's
    /// alone (never give it headers meant for an API), and whatever `builder` says, token
    /// requests do not follow redirects (a 3xx is [`TokenError::Redirect`]: the request
    /// carries the client's credentials) and a loopback endpoint is reached directly, never
    /// through a proxy.
    ///
    /// There is no way to hand over a built `reqwest::Client`: its redirect policy could not
    /// be overridden, and a client shared with an API carries that API's default headers.
    pub fn with_client_builder(
        options: TokenOptions,
        builder: reqwest::ClientBuilder,
    ) -> Result<Self, TokenError> {
        let url = options.validate()?;
        let mut builder = builder.redirect(reqwest::redirect::Policy::none());
        if is_loopback(&url) {
            builder = builder.no_proxy();
        }
        if let Some((certificate, key)) = &options.client_certificate {
            builder = with_identity(builder, certificate, key)?;
        }
        let http = builder.build().map_err(transport)?;
        let target = if options.token_endpoint.is_empty() {
            Target::Discovered(Arc::new(Discovery::new(url, options.allow_insecure_http)))
        } else {
            Target::Fixed(url)
        };
        let private_key = || {
            let key = options.private_key.as_ref().ok_or_else(|| {
                TokenError::InvalidOptions("`PrivateKey` or `PrivateKeyPath` is required".into())
            })?;
            Signer::private_key(key, options.signing_algorithm, options.key_id.as_deref())
                .map(Arc::new)
        };
        let client_signer = match options.client_auth {
            ClientAuth::PrivateKeyJwt => Some(private_key()?),
            ClientAuth::ClientSecretJwt => Some(Arc::new(Signer::client_secret(
                options.client_secret.expose(),
                options.key_id.as_deref(),
            )?)),
            _ => None,
        };
        let grant_signer = match options.grant {
            Grant::JwtBearer { .. } => Some(private_key()?),
            Grant::ClientCredentials | Grant::Password { .. } => None,
        };
        Ok(Self {
            options,
            target,
            http,
            client_signer,
            grant_signer,
            refresh_token: Mutex::new(None),
        })
    }

    /// A source of the same client for the token of `scope` (another scope, other
    /// resources): it shares this one's HTTP client, and keeps its own refresh token.
    pub(crate) fn scoped(&self, scope: &crate::TokenScope) -> Self {
        let mut options = self.options.clone();
        if let Some(value) = scope.scope_value() {
            options.scope = Some(value.to_owned());
        }
        if !scope.resources().is_empty() {
            options.resources = scope.resources().to_vec();
        }
        Self {
            options,
            target: self.target.clone(),
            http: self.http.clone(),
            client_signer: self.client_signer.clone(),
            grant_signer: self.grant_signer.clone(),
            refresh_token: Mutex::new(None),
        }
    }

    /// The options it fetches with.
    pub(crate) fn options(&self) -> &TokenOptions {
        &self.options
    }

    /// The refresh policy its options ask for.
    pub(crate) fn policy(&self) -> crate::RefreshPolicy {
        self.options.refresh_policy()
    }

    fn take_refresh_token(&self) -> Option<RefreshToken> {
        self.refresh_token
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    fn store_refresh_token(&self, token: Option<RefreshToken>) {
        *self
            .refresh_token
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = token;
    }

    /// Sends one token request and reads its response, within the request timeout.
    async fn request(&self, attempt: &Attempt) -> Result<TokenResponse, TokenError> {
        let timeout = self.options.request_timeout;
        let started = Instant::now();
        let outcome = match tokio::time::timeout(timeout, self.exchange(attempt)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(TokenError::Timeout(timeout)),
        };
        self.trace(attempt, started, &outcome);
        outcome
    }

    async fn exchange(&self, attempt: &Attempt) -> Result<TokenResponse, TokenError> {
        let endpoint = self.endpoint().await?;
        let (request, redactor) = self.build_request(attempt, &endpoint)?;
        let response = self.http.execute(request).await.map_err(transport)?;
        let status = response.status();
        if status.is_redirection() {
            return Err(redirect(&endpoint, status, response.headers()));
        }
        let body = read_limited(response, status).await?;
        response::parse(status, &body, &redactor)
    }

    /// The token endpoint: configured, or discovered (its mutual-TLS alias for a client
    /// authenticating with a certificate, when the server has one).
    async fn endpoint(&self) -> Result<Url, TokenError> {
        match &self.target {
            Target::Fixed(url) => Ok(url.clone()),
            Target::Discovered(discovery) => {
                let endpoints = discovery
                    .endpoints(&self.http, self.options.request_timeout)
                    .await?;
                let alias = endpoints
                    .mtls_token
                    .as_ref()
                    .filter(|_| self.options.client_auth.is_mutual_tls());
                Ok(alias.unwrap_or(&endpoints.token).clone())
            }
        }
    }

    /// The host token requests go to, for logs (the issuer's while not discovered).
    fn host(&self) -> String {
        let url = match &self.target {
            Target::Fixed(url) => url.host_str(),
            Target::Discovered(_) => self.options.issuer.as_deref(),
        };
        let url = url.unwrap_or_default();
        Url::parse(url)
            .ok()
            .and_then(|url| url.host_str().map(str::to_owned))
            .unwrap_or_else(|| url.to_owned())
    }

    /// Every secret `attempt`'s request carries, for scrubbing the server's answer.
    fn redactor(&self, attempt: &Attempt) -> Redactor {
        let mut redactor = Redactor::default();
        redactor.secret(self.options.client_secret.expose());
        redactor.basic(&self.basic_credentials());
        if let Some(secret) = self.options.grant.secret() {
            redactor.secret(secret);
        }
        if let Attempt::Refresh(token) = attempt {
            redactor.secret(token.secret());
        }
        redactor
    }

    /// The request for `attempt` to `endpoint`, and a redactor of every secret it carries
    /// (signed assertions included) for scrubbing the answer.
    fn build_request(
        &self,
        attempt: &Attempt,
        endpoint: &Url,
    ) -> Result<(reqwest::Request, Redactor), TokenError> {
        let mut redactor = self.redactor(attempt);
        let body = self.form(attempt, endpoint, &mut redactor)?;
        let mut request = reqwest::Request::new(reqwest::Method::POST, endpoint.clone());
        let headers = request.headers_mut();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        if self.options.client_auth == ClientAuth::BasicAuth {
            headers.insert(AUTHORIZATION, self.basic_header()?);
        }
        *request.body_mut() = Some(body.into());
        Ok((request, redactor))
    }

    /// A signed assertion from `iss` (the client) about `sub`, for `endpoint` (or the
    /// issuer, as configured); noted in `redactor`: a server may echo it.
    fn assertion(
        &self,
        signer: &Signer,
        sub: &str,
        endpoint: &Url,
        redactor: &mut Redactor,
    ) -> Result<String, TokenError> {
        let audience = match (self.options.assertion_audience, &self.options.issuer) {
            (AssertionAudience::Issuer, Some(issuer)) => issuer.as_str(),
            _ => endpoint.as_str(),
        };
        let assertion = signer.sign(&self.options.client_id, sub, audience)?;
        redactor.secret(&assertion);
        Ok(assertion)
    }

    /// RFC 6749 2.3.1: id and secret are form-urlencoded, then joined and base64-encoded.
    fn basic_header(&self) -> Result<HeaderValue, TokenError> {
        let encoded = base64::engine::general_purpose::STANDARD.encode(self.basic_credentials());
        let mut value = HeaderValue::try_from(format!("Basic {encoded}")).map_err(|_| {
            TokenError::InvalidOptions("client credentials cannot form a header".to_owned())
        })?;
        value.set_sensitive(true);
        Ok(value)
    }

    /// `id:secret`, each form-urlencoded, before base64 (RFC 6749 2.3.1).
    fn basic_credentials(&self) -> String {
        let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let id = encode(&self.options.client_id);
        let secret = encode(self.options.client_secret.expose());
        format!("{id}:{secret}")
    }

    fn form(
        &self,
        attempt: &Attempt,
        endpoint: &Url,
        redactor: &mut Redactor,
    ) -> Result<String, TokenError> {
        let o = &self.options;
        let mut form = form_urlencoded::Serializer::new(String::new());
        match attempt {
            Attempt::Refresh(token) => {
                form.append_pair("grant_type", "refresh_token");
                form.append_pair("refresh_token", token.secret());
            }
            Attempt::Primary => {
                let assertion = match (&o.grant, &self.grant_signer) {
                    (Grant::JwtBearer { subject }, Some(signer)) => {
                        let sub = subject.as_deref().unwrap_or(&o.client_id);
                        Some(self.assertion(signer, sub, endpoint, redactor)?)
                    }
                    _ => None,
                };
                o.grant.append_to(&mut form, assertion.as_deref());
            }
        }
        match o.client_auth {
            ClientAuth::BasicAuth => {}
            ClientAuth::RequestBody => {
                form.append_pair("client_id", &o.client_id);
                form.append_pair("client_secret", o.client_secret.expose());
            }
            ClientAuth::ClientSecretJwt | ClientAuth::PrivateKeyJwt => {
                let signer = self.client_signer.as_deref().ok_or_else(|| {
                    TokenError::InvalidOptions("no key to sign the client assertion".into())
                })?;
                let assertion = self.assertion(signer, &o.client_id, endpoint, redactor)?;
                form.append_pair("client_id", &o.client_id);
                form.append_pair("client_assertion_type", JWT_ASSERTION);
                form.append_pair("client_assertion", &assertion);
            }
            ClientAuth::TlsClientAuth | ClientAuth::SelfSignedTlsClientAuth | ClientAuth::None => {
                form.append_pair("client_id", &o.client_id);
            }
        }
        let optional = [("scope", &o.scope), ("audience", &o.audience)];
        for (name, value) in optional {
            if let Some(value) = value {
                form.append_pair(name, value);
            }
        }
        for resource in &o.resources {
            form.append_pair("resource", resource);
        }
        for (name, value) in &o.extra_params {
            form.append_pair(name, value);
        }
        Ok(form.finish())
    }

    /// The token of a response; stores its refresh token, or keeps `used` (the one just
    /// sent) when the server did not rotate it.
    fn token_from(
        &self,
        response: TokenResponse,
        used: Option<RefreshToken>,
    ) -> Result<AccessToken, TokenError> {
        let (token, refresh_token) = self.issue(response)?;
        self.store_refresh_token(refresh_token.map(RefreshToken::new).or(used));
        Ok(token)
    }

    /// What the source makes of an answer to a request with its primary grant, or with
    /// `refresh_token`, without I/O: the body parsed and scrubbed, then the token issued.
    /// For the fuzz targets.
    pub(crate) fn answer(
        &self,
        status: StatusCode,
        body: &[u8],
        refresh_token: Option<&str>,
    ) -> Result<AccessToken, TokenError> {
        let attempt = match refresh_token {
            Some(token) => Attempt::Refresh(RefreshToken::new(token)),
            None => Attempt::Primary,
        };
        let response = response::parse(status, body, &self.redactor(&attempt))?;
        self.issue(response).map(|(token, _)| token)
    }

    /// The token of a response, with its expiry, and the refresh token it came with.
    fn issue(&self, response: TokenResponse) -> Result<(AccessToken, Option<String>), TokenError> {
        let lifetime = response.expires_in.unwrap_or(self.options.default_lifetime);
        let TokenResponse {
            access_token,
            token_type,
            refresh_token,
            scope,
            ..
        } = response;
        let expires_at = time::after(Instant::now(), lifetime);
        let token = AccessToken::with_details(access_token, token_type, expires_at, scope);
        // The token carries its `Authorization` value, built once: one that cannot be a
        // header value is refused here, not on every request.
        if token.bearer_header().is_none() {
            return Err(TokenError::InvalidToken);
        }
        Ok((token, refresh_token))
    }

    fn trace(
        &self,
        attempt: &Attempt,
        started: Instant,
        outcome: &Result<TokenResponse, TokenError>,
    ) {
        let grant = attempt.name(&self.options);
        let host = self.host();
        let host = host.as_str();
        let elapsed_ms = started.elapsed().as_millis() as u64;
        match outcome {
            Ok(_) => tracing::debug!(grant, host, elapsed_ms, "token request succeeded"),
            Err(error) => tracing::warn!(
                grant,
                host,
                elapsed_ms,
                error_code = error.oauth_error().unwrap_or_default(),
                %error,
                "token request failed"
            ),
        }
    }
}

impl Attempt {
    fn name(&self, options: &TokenOptions) -> &'static str {
        match self {
            Attempt::Refresh(_) => "refresh_token",
            Attempt::Primary => options.grant.name(),
        }
    }
}

#[async_trait::async_trait]
impl TokenSource for OAuth2Source {
    fn for_scope(&self, scope: &crate::TokenScope) -> Option<Box<dyn TokenSource>> {
        Some(Box::new(self.scoped(scope)))
    }

    fn refresh_token(&self) -> Option<RefreshToken> {
        self.refresh_token
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set_refresh_token(&self, token: Option<RefreshToken>) {
        self.store_refresh_token(token);
    }

    async fn fetch(&self) -> Result<AccessToken, TokenError> {
        if let Some(refresh) = self.take_refresh_token() {
            match self.request(&Attempt::Refresh(refresh.clone())).await {
                Ok(response) => return self.token_from(response, Some(refresh)),
                Err(error) if error.oauth_error() == Some("invalid_grant") => {
                    tracing::debug!("refresh token rejected; falling back to the primary grant");
                }
                Err(error) => {
                    // Not a verdict on the refresh token (a 500, a timeout): keep it.
                    self.store_refresh_token(Some(refresh));
                    return Err(error);
                }
            }
        }
        let response = self.request(&Attempt::Primary).await?;
        self.token_from(response, None)
    }
}

/// A transport error, without the query of the URL it names.
fn transport(error: reqwest::Error) -> TokenError {
    TokenError::Transport(std::sync::Arc::new(without_query(error)))
}

/// Reads the body, refusing more than [`MAX_BODY`] bytes (memory stays bounded whatever
/// the server sends).
async fn read_limited(
    mut response: reqwest::Response,
    status: StatusCode,
) -> Result<Vec<u8>, TokenError> {
    let too_large = TokenError::ResponseTooLarge {
        status,
        limit: MAX_BODY,
    };
    if response
        .content_length()
        .is_some_and(|len| len > MAX_BODY as u64)
    {
        return Err(too_large);
    }
    let mut body = Vec::new();
    let more = read_capped(&mut response, &mut body, MAX_BODY)
        .await
        .map_err(transport)?;
    if more {
        return Err(too_large);
    }
    Ok(body)
}

impl fmt::Debug for OAuth2Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuth2Source")
            .field("options", &self.options)
            .field(
                "has_refresh_token",
                &self
                    .refresh_token
                    .lock()
                    .map(|t| t.is_some())
                    .unwrap_or(false),
            )
            .finish_non_exhaustive()
    }
}

/// The error for a redirect from `endpoint`: its status and the host it pointed to (not
/// the whole `Location`, whose query may carry anything).
fn redirect(endpoint: &Url, status: StatusCode, headers: &http::HeaderMap) -> TokenError {
    let location = headers
        .get(http::header::LOCATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|location| endpoint.join(location).ok())
        .and_then(|url| url.host_str().map(str::to_owned));
    TokenError::Redirect { status, location }
}

/// `builder` presenting `certificate` and `key` (PEM) as its TLS client identity, for
/// mutual TLS.
fn with_identity(
    builder: reqwest::ClientBuilder,
    certificate: &Pem,
    key: &Pem,
) -> Result<reqwest::ClientBuilder, TokenError> {
    let certificate = certificate.load("ClientCertificate")?;
    let key = key.load("ClientCertificateKey")?;
    let invalid = |error: &dyn fmt::Display| {
        TokenError::InvalidOptions(format!(
            "`ClientCertificate` and `ClientCertificateKey` cannot be used: {error}"
        ))
    };
    #[cfg(feature = "default-tls")]
    let identity = {
        let mut pem = key;
        pem.push(b'\n');
        pem.extend_from_slice(&certificate);
        reqwest::Identity::from_pem(&pem)
    };
    #[cfg(all(feature = "native-tls", not(feature = "default-tls")))]
    let identity = reqwest::Identity::from_pkcs8_pem(&certificate, &key);
    #[cfg(any(feature = "default-tls", feature = "native-tls"))]
    return identity
        .map(|identity| builder.identity(identity))
        .map_err(|error| invalid(&error));
    #[cfg(not(any(feature = "default-tls", feature = "native-tls")))]
    {
        let _ = (builder, certificate, key);
        Err(invalid(
            &"a client certificate needs a TLS feature (`default-tls` or `native-tls`)",
        ))
    }
}
