//! [`OAuth2Source`]: tokens from an RFC 6749 token endpoint.

use std::fmt;
use std::sync::{Mutex, PoisonError};

use base64::Engine as _;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderValue, StatusCode};
use tokio::time::Instant;
use url::Url;

use self::response::TokenResponse;
use crate::body::read_capped;
use crate::error::without_query;
use crate::options::is_loopback;
use crate::redact::Redactor;
use crate::{AccessToken, ClientAuth, RefreshToken, TokenError, TokenOptions, TokenSource, time};

mod response;

/// The largest token response read; a larger one is an error (a token response is a few KiB).
const MAX_BODY: usize = 64 * 1024;

/// Fetches tokens from the token endpoint of [`TokenOptions`]: client credentials or
/// password grant, then the `refresh_token` grant while the server hands out refresh
/// tokens (storing each rotated one, and falling back to the primary grant when the server
/// answers `invalid_grant`).
pub struct OAuth2Source {
    options: TokenOptions,
    endpoint: Url,
    http: reqwest::Client,
    refresh_token: Mutex<Option<RefreshToken>>,
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
        let endpoint = options.validate()?;
        let mut builder = builder.redirect(reqwest::redirect::Policy::none());
        if is_loopback(&endpoint) {
            builder = builder.no_proxy();
        }
        let http = builder.build().map_err(transport)?;
        Ok(Self {
            options,
            endpoint,
            http,
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
            endpoint: self.endpoint.clone(),
            http: self.http.clone(),
            refresh_token: Mutex::new(None),
        }
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
        let request = self.build_request(attempt)?;
        let response = self.http.execute(request).await.map_err(transport)?;
        let status = response.status();
        if status.is_redirection() {
            return Err(self.redirect(status, response.headers()));
        }
        let body = read_limited(response, status).await?;
        response::parse(status, &body, &self.redactor(attempt))
    }

    /// The error for a redirect: its status and the host it pointed to (not the whole
    /// `Location`, whose query may carry anything).
    fn redirect(&self, status: StatusCode, headers: &http::HeaderMap) -> TokenError {
        let location = headers
            .get(http::header::LOCATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|location| self.endpoint.join(location).ok())
            .and_then(|url| url.host_str().map(str::to_owned));
        TokenError::Redirect { status, location }
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

    fn build_request(&self, attempt: &Attempt) -> Result<reqwest::Request, TokenError> {
        let mut request = reqwest::Request::new(reqwest::Method::POST, self.endpoint.clone());
        let headers = request.headers_mut();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        if self.options.client_auth == ClientAuth::BasicAuth {
            headers.insert(AUTHORIZATION, self.basic_header()?);
        }
        *request.body_mut() = Some(self.form(attempt).into());
        Ok(request)
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

    fn form(&self, attempt: &Attempt) -> String {
        let o = &self.options;
        let mut form = form_urlencoded::Serializer::new(String::new());
        match attempt {
            Attempt::Refresh(token) => {
                form.append_pair("grant_type", "refresh_token");
                form.append_pair("refresh_token", token.secret());
            }
            Attempt::Primary => o.grant.append_to(&mut form),
        }
        if o.client_auth == ClientAuth::RequestBody {
            form.append_pair("client_id", &o.client_id);
            form.append_pair("client_secret", o.client_secret.expose());
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
        form.finish()
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
        let host = self.endpoint.host_str().unwrap_or_default();
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
