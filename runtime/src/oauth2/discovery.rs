//! The token endpoint discovered from an issuer: OIDC Discovery 1.0, then RFC 8414.

use serde::Deserialize;
use tokio::sync::OnceCell;
use url::Url;

use crate::TokenError;
use crate::body::read_capped;
use crate::options::check_transport;
use crate::redact::url_without_secrets;

/// The largest discovery document read (real ones are a few KiB).
const MAX_DOCUMENT: usize = 256 * 1024;

/// An issuer's endpoints, read once (and again after a failure, never per token).
pub(crate) struct Discovery {
    issuer: Url,
    allow_insecure_http: bool,
    endpoints: OnceCell<Endpoints>,
}

/// What the token requests need from the discovery document.
#[derive(Debug, Clone)]
pub(crate) struct Endpoints {
    pub(crate) token: Url,
    /// `mtls_endpoint_aliases.token_endpoint` (RFC 8705 5): for mutual-TLS clients.
    pub(crate) mtls_token: Option<Url>,
}

#[derive(Deserialize)]
struct Document {
    issuer: String,
    token_endpoint: Option<String>,
    #[serde(default)]
    mtls_endpoint_aliases: Option<Aliases>,
}

#[derive(Deserialize)]
struct Aliases {
    token_endpoint: Option<String>,
}

impl Discovery {
    pub(crate) fn new(issuer: Url, allow_insecure_http: bool) -> Self {
        Self {
            issuer,
            allow_insecure_http,
            endpoints: OnceCell::new(),
        }
    }

    /// The endpoints, discovered on first use with `http` (the token endpoint's own client:
    /// no redirects), within `timeout`.
    pub(crate) async fn endpoints(
        &self,
        http: &reqwest::Client,
        timeout: std::time::Duration,
    ) -> Result<&Endpoints, TokenError> {
        self.endpoints
            .get_or_try_init(|| async {
                match tokio::time::timeout(timeout, self.discover(http)).await {
                    Ok(outcome) => outcome,
                    Err(_) => {
                        Err(self.failure(&self.oidc_url(), format!("no answer within {timeout:?}")))
                    }
                }
            })
            .await
    }

    /// OIDC's location first; RFC 8414's when that one is not found.
    async fn discover(&self, http: &reqwest::Client) -> Result<Endpoints, TokenError> {
        let oidc = self.oidc_url();
        match self.fetch(http, &oidc).await {
            Err(Missing::NotFound) => {}
            Err(Missing::Failed(error)) => return Err(error),
            Ok(endpoints) => return Ok(endpoints),
        }
        let oauth = self.oauth_url();
        match self.fetch(http, &oauth).await {
            Ok(endpoints) => Ok(endpoints),
            Err(Missing::Failed(error)) => Err(error),
            Err(Missing::NotFound) => Err(self.failure(
                &oidc,
                format!("not found (404), nor at `{}`", url_without_secrets(&oauth)),
            )),
        }
    }

    /// `<issuer>/.well-known/openid-configuration` (OIDC Discovery 1.0 4).
    fn oidc_url(&self) -> Url {
        let mut url = self.issuer.clone();
        let path = format!(
            "{}/.well-known/openid-configuration",
            self.issuer.path().trim_end_matches('/')
        );
        url.set_path(&path);
        url
    }

    /// `<origin>/.well-known/oauth-authorization-server<issuer path>` (RFC 8414 3).
    fn oauth_url(&self) -> Url {
        let mut url = self.issuer.clone();
        let rest = self.issuer.path().trim_end_matches('/');
        url.set_path(&format!("/.well-known/oauth-authorization-server{rest}"));
        url
    }

    async fn fetch(&self, http: &reqwest::Client, url: &Url) -> Result<Endpoints, Missing> {
        let fail = |reason: String| Missing::Failed(self.failure(url, reason));
        let mut response = http
            .get(url.clone())
            .header(http::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|error| fail(format!("cannot be fetched: {}", without_url(error))))?;
        let status = response.status();
        if status == http::StatusCode::NOT_FOUND {
            return Err(Missing::NotFound);
        }
        if !status.is_success() {
            return Err(fail(format!("answered {status}")));
        }
        let mut body = Vec::new();
        let more = read_capped(&mut response, &mut body, MAX_DOCUMENT)
            .await
            .map_err(|error| fail(format!("cannot be read: {}", without_url(error))))?;
        if more {
            return Err(fail(format!("is larger than {MAX_DOCUMENT} bytes")));
        }
        let document: Document = serde_json::from_slice(&body)
            .map_err(|error| fail(format!("is not a discovery document: {error}")))?;
        self.endpoints_of(document).map_err(fail)
    }

    fn endpoints_of(&self, document: Document) -> Result<Endpoints, String> {
        // OIDC Discovery 4.3, RFC 8414 3.3: the document names the issuer it was asked
        // for, exactly (a trailing `/` aside), or it is not to be used.
        let trim = |s: &str| s.trim_end_matches('/').to_owned();
        if trim(&document.issuer) != trim(self.issuer.as_str()) {
            return Err(format!(
                "names the issuer `{}`, not `{}`",
                crate::redact::escape_controls(&document.issuer),
                self.issuer
            ));
        }
        let token = document.token_endpoint.ok_or("has no `token_endpoint`")?;
        let token = self.checked(&token, "token_endpoint")?;
        let mtls_token = document
            .mtls_endpoint_aliases
            .and_then(|aliases| aliases.token_endpoint)
            .map(|url| self.checked(&url, "mtls_endpoint_aliases.token_endpoint"))
            .transpose()?;
        Ok(Endpoints { token, mtls_token })
    }

    /// A URL from the document: absolute, and `https` unless loopback or allowed.
    fn checked(&self, raw: &str, field: &str) -> Result<Url, String> {
        let url = Url::parse(raw).map_err(|_| {
            format!(
                "`{field}` `{}` is not an absolute URL",
                crate::redact::escape_controls(raw)
            )
        })?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(format!("`{field}` holds a user name or password"));
        }
        let opt_in = (self.allow_insecure_http, "allow_insecure_http(true)");
        check_transport(&url, field, opt_in)?;
        Ok(url)
    }

    /// The error for `url`; `reason` may quote the document (a server's text): cut short
    /// and its control characters escaped.
    fn failure(&self, url: &Url, reason: String) -> TokenError {
        TokenError::Discovery {
            url: url_without_secrets(url).to_string(),
            reason: crate::redact::escape_controls(&crate::error::excerpt(&reason, 300)),
        }
    }
}

enum Missing {
    NotFound,
    Failed(TokenError),
}

/// A transport error's text without the URL (which the error names already).
fn without_url(error: reqwest::Error) -> String {
    let error = crate::error::without_query(error).without_url();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    // reqwest's own text is terse ("error sending request"); the cause says why.
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
