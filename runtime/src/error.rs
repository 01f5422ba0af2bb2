//! Errors: [`TokenError`] when no token could be had, [`Error`] for a whole call.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, StatusCode};

/// Why no access token could be had.
///
/// `Clone`, because one failed refresh is delivered to every caller that waited on it.
/// No variant ever carries a client secret, a password or a token.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The token endpoint answered with an OAuth2 error body (RFC 6749 5.2).
    #[error("token endpoint returned `{error}`{}{}", status_suffix(*.status), description_suffix(.description))]
    OAuth {
        /// The HTTP status of the response (a few servers send errors with 200).
        status: StatusCode,
        /// The `error` code, e.g. `invalid_client`.
        error: String,
        /// The `error_description`, when present.
        description: Option<String>,
        /// The `error_uri`, when present.
        uri: Option<String>,
    },
    /// The response was not a token response: not JSON, or an unexpected shape.
    #[error("token endpoint answered {status} with an unreadable body ({reason}): \"{excerpt}\"")]
    UnexpectedResponse {
        /// The HTTP status of the response.
        status: StatusCode,
        /// What was wrong with it.
        reason: String,
        /// The start of the body (redacted if it looked like it held a token; cleaned of
        /// the request's secrets; control characters escaped).
        excerpt: String,
    },
    /// The token endpoint answered with a redirect. Token requests never follow one: the
    /// request carries the client's credentials, which must reach no other place.
    #[error(
        "token endpoint answered {status} redirecting to {}; token requests do not follow \
         redirects: configure the final token endpoint URL",
        location.as_deref().map_or_else(|| "nowhere".to_owned(), |host| format!("host `{host}`"))
    )]
    Redirect {
        /// The HTTP status of the response (3xx).
        status: StatusCode,
        /// The host of its `Location` header, when it had a readable one.
        location: Option<String>,
    },
    /// A success response lacked a required field.
    #[error("token response ({status}) is missing `{field}`")]
    MissingField {
        /// The HTTP status of the response.
        status: StatusCode,
        /// The missing field, e.g. `access_token`.
        field: &'static str,
    },
    /// The response body was larger than the limit.
    #[error("token endpoint answered {status} with a body larger than {limit} bytes")]
    ResponseTooLarge {
        /// The HTTP status of the response.
        status: StatusCode,
        /// The limit, in bytes.
        limit: usize,
    },
    /// The token endpoint did not answer in time.
    #[error("token endpoint did not answer within {0:?}")]
    Timeout(Duration),
    /// The token endpoint could not be reached or the connection broke.
    #[error("could not reach the token endpoint: {0}")]
    Transport(#[source] Arc<reqwest::Error>),
    /// The options are invalid (bad endpoint URL, plain `http://` to a remote host...).
    #[error("invalid token options: {0}")]
    InvalidOptions(String),
    /// The token endpoint could not be discovered from the issuer (OIDC Discovery 1.0,
    /// RFC 8414): the document could not be fetched or read, named another issuer, or
    /// gave an endpoint that cannot be used. Tried again on the next token request.
    #[error("discovery at `{url}` failed: {reason}")]
    Discovery {
        /// The discovery document's URL (without a query).
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// With a shared token store: the instance of the fleet that was refreshing the token
    /// failed (its error, as it reported it), and the fleet backs off together for the
    /// cool-down rather than have every instance try in turn.
    #[error("the instance refreshing the shared token failed: {0}")]
    SharedRefreshFailed(String),
    /// A custom [`TokenSource`](crate::TokenSource) failed.
    #[error("token source failed: {0}")]
    Source(#[source] Arc<dyn std::error::Error + Send + Sync>),
    /// The access token holds characters that cannot go in an HTTP header.
    #[error("the access token holds characters that cannot go in an HTTP header")]
    InvalidToken,
    /// The refresh task ended without a result: the token source panicked, or the
    /// runtime the refresh ran on shut down.
    #[error(
        "the token refresh ended without a result (the token source panicked, or the runtime \
         it ran on shut down)"
    )]
    RefreshAborted,
    /// Every token the source handed out had expired by the time it could be used (a
    /// source whose tokens expire on arrival, or a caller whose runtime stalled each time).
    #[error("the token source's tokens had expired by the time they could be used")]
    Expired,
    /// A token had to be fetched, but the caller is not inside a tokio runtime.
    #[error(
        "token-client needs a tokio runtime to fetch a token: await `token()` inside a tokio \
         runtime (e.g. in `#[tokio::main]`), not from another executor or a plain thread"
    )]
    NoRuntime,
    /// A token for a [`TokenScope`](crate::TokenScope) other than the default one (a
    /// method's `#[scope]` or `#[resource]`, a `TokenScope` request extension) was asked of
    /// a provider that has one kind of token only.
    #[error(
        "this token provider has one kind of token and cannot fetch one for another scope or \
         resource (a `#[scope]`/`#[resource]` method, or a `TokenScope` request extension): \
         use a `SharedTokenProvider` over `TokenOptions`, or over a `TokenSource` that \
         implements `for_scope`"
    )]
    ScopeNotSupported,
    /// A [`SharedTokenProvider`](crate::SharedTokenProvider) already serves `limit`
    /// distinct [`TokenScope`](crate::TokenScope)s, and was asked for one more.
    #[error(
        "this token provider already serves {limit} distinct token scopes, its limit: token \
         scopes are meant to come from code (`#[scope]`, `#[resource]`), not from request data"
    )]
    TooManyScopes {
        /// The most distinct scopes one provider serves.
        limit: usize,
    },
}

fn status_suffix(status: StatusCode) -> String {
    format!(" (HTTP {})", status.as_u16())
}

fn description_suffix(description: &Option<String>) -> String {
    description
        .as_deref()
        .map(|d| format!(": {d}"))
        .unwrap_or_default()
}

impl TokenError {
    /// A [`TokenError::Source`] from any error, for custom token sources. (Named after
    /// `serde::de::Error::custom`; not `source`, which would shadow
    /// [`std::error::Error::source`].)
    pub fn custom(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Source(Arc::new(error))
    }

    /// The OAuth2 `error` code (`invalid_client`, `invalid_grant`...), when the server sent one.
    pub fn oauth_error(&self) -> Option<&str> {
        match self {
            Self::OAuth { error, .. } => Some(error),
            _ => None,
        }
    }

    /// The HTTP status of the token endpoint's response, where there was one.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::OAuth { status, .. }
            | Self::UnexpectedResponse { status, .. }
            | Self::MissingField { status, .. }
            | Self::ResponseTooLarge { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether the token endpoint timed out.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout(_))
    }

    /// Whether the token endpoint could not be reached.
    pub fn is_transport(&self) -> bool {
        matches!(self, Self::Transport(_))
    }
}

/// The error of a call made through a generated client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No access token could be had.
    #[error("could not get an access token: {0}")]
    Token(#[from] TokenError),
    /// The server answered with a non-success status. Boxed: it carries the response
    /// headers, and a large variant would make every `Result<_, Error>` large.
    #[error(transparent)]
    Api(Box<ApiError>),
    /// The request could not be sent or the response not received.
    #[error("request failed: {0}")]
    Transport(#[source] reqwest_middleware::Error),
    /// The response body could not be decoded into the expected type.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The request could not be built: an argument could not be written as a header or
    /// query value, or made an empty or `.`/`..` path segment. Nothing was sent.
    #[error("invalid request: {0}")]
    Request(String),
    /// The success body was larger than the client's
    /// [`max_response_bytes`](crate::ClientBuilder::max_response_bytes) (for a
    /// [`JsonLines`](crate::JsonLines) stream: one line was). Reading stopped at the limit.
    #[error("the response ({status}) has a body larger than the limit of {limit} bytes")]
    ResponseTooLarge {
        /// The HTTP status of the response.
        status: StatusCode,
        /// The limit, in bytes.
        limit: usize,
    },
    /// The client could not be built.
    #[error(transparent)]
    Build(#[from] BuildError),
}

impl Error {
    /// The HTTP status of the response, where there was one.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::Api(e) => Some(e.status),
            Self::Decode(e) => Some(e.status),
            Self::ResponseTooLarge { status, .. } => Some(*status),
            Self::Transport(e) => match e {
                reqwest_middleware::Error::Reqwest(e) => e.status(),
                reqwest_middleware::Error::Middleware(_) => None,
            },
            Self::Token(_) | Self::Request(_) | Self::Build(_) => None,
        }
    }

    /// Whether no token could be had.
    pub fn is_token(&self) -> bool {
        matches!(self, Self::Token(_))
    }

    /// Whether the server answered with a non-success status.
    pub fn is_api(&self) -> bool {
        matches!(self, Self::Api(_))
    }

    /// Whether the body could not be decoded.
    pub fn is_decode(&self) -> bool {
        matches!(self, Self::Decode(_))
    }

    /// Whether the request could not be sent or the response not received.
    pub fn is_transport(&self) -> bool {
        matches!(self, Self::Transport(_))
    }
}

impl From<ApiError> for Error {
    fn from(error: ApiError) -> Self {
        Self::Api(Box::new(error))
    }
}

impl From<reqwest_middleware::Error> for Error {
    fn from(error: reqwest_middleware::Error) -> Self {
        match error {
            reqwest_middleware::Error::Reqwest(error) => error.into(),
            other => Self::Transport(other),
        }
    }
}

impl From<reqwest::Error> for Error {
    /// Keeps the URL of the request in the error, but not its query (API keys, signatures).
    fn from(error: reqwest::Error) -> Self {
        Self::Transport(reqwest_middleware::Error::Reqwest(without_query(error)))
    }
}

/// `error` whose URL, if it has one, lost its query, fragment and user info.
pub(crate) fn without_query(error: reqwest::Error) -> reqwest::Error {
    match error.url().map(crate::redact::url_without_secrets) {
        Some(url) => error.with_url(url),
        None => error,
    }
}

/// A non-success response: its status, headers and body text.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The response headers.
    pub headers: HeaderMap,
    /// The body, as text (lossy UTF-8); at most its first 64 KiB.
    pub body: String,
}

impl ApiError {
    /// An error for a response with `status`, `headers` and `body` (for mocks and tests).
    pub fn new(status: StatusCode, headers: HeaderMap, body: impl Into<String>) -> Self {
        Self {
            status,
            headers,
            body: body.into(),
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "server answered {}", self.status)?;
        if !self.body.is_empty() {
            write!(f, ": {:?}", excerpt(&self.body, EXCERPT_LEN))?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

/// A success response whose body could not be decoded.
#[derive(Debug, Clone, thiserror::Error)]
#[error("could not decode the response ({status}): {message}; body starts with {excerpt:?}")]
#[non_exhaustive]
pub struct DecodeError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What went wrong.
    pub message: String,
    /// The start of the body.
    pub excerpt: String,
}

impl DecodeError {
    /// An error for a body with `status` that did not decode (`message`), starting with
    /// `excerpt` (for mocks and tests).
    pub fn new(status: StatusCode, message: impl Into<String>, excerpt: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            excerpt: excerpt.into(),
        }
    }
}

/// Why a generated client could not be built: a required setting is missing or invalid.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// No [`base_url`](crate::ClientBuilder::base_url) was given.
    #[error("cannot build the client: `base_url` is required")]
    MissingBaseUrl,
    /// The base URL cannot be used: not an absolute http(s) URL; holding a user name,
    /// password, query or fragment; or plain http to a remote host without the opt-in.
    /// The message says which.
    #[error("cannot build the client: {0}")]
    InvalidBaseUrl(String),
    /// Some method sends a token, and neither
    /// [`token_options`](crate::ClientBuilder::token_options) nor
    /// [`token_provider`](crate::ClientBuilder::token_provider) was given.
    #[error(
        "cannot build the client: `token_options` or `token_provider` is required: the \
         client's methods send an access token (only a trait whose methods are all \
         `#[no_auth]` needs neither)"
    )]
    MissingTokenConfiguration,
    /// A [`default_header`](crate::ClientBuilder::default_header) name or value is invalid.
    #[error("cannot build the client: {0}")]
    InvalidDefaultHeader(String),
    /// The HTTP client could not be created (its TLS backend failed to start...).
    #[error("cannot build the client: cannot create the HTTP client: {0}")]
    HttpClient(#[source] Arc<reqwest::Error>),
    /// A [`token_store`](crate::ClientBuilder::token_store) was given with a
    /// [`token_provider`](crate::ClientBuilder::token_provider): the provider was built
    /// already, with or without a store of its own.
    #[error(
        "cannot build the client: `token_store` goes with `token_options`; give a \
         `token_provider` its store when building it: \
         `SharedTokenProvider::builder(options).store(store)`"
    )]
    StoreWithProvider,
    /// A [`token_store`](crate::ClientBuilder::token_store) was given without
    /// [`token_options`](crate::ClientBuilder::token_options): there are no tokens of the
    /// client's own to share.
    #[error(
        "cannot build the client: `token_store` goes with `token_options`, and no \
         `token_options` were given"
    )]
    StoreWithoutTokenOptions,
}

/// How many characters of a body an error keeps.
pub(crate) const EXCERPT_LEN: usize = 200;

/// The first `max` characters of `text`, on a character boundary, with `…` when cut.
pub(crate) fn excerpt(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}
