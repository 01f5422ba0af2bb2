//! Reading a token endpoint's response: lenient where real servers differ, strict where it
//! matters, and never a secret in an error.

use std::time::Duration;

use http::StatusCode;
use serde_json::{Map, Value};

use crate::TokenError;
use crate::error::excerpt;
use crate::redact::Redactor;

/// A token response, parsed.
#[derive(Debug)]
pub(crate) struct TokenResponse {
    pub(crate) access_token: String,
    pub(crate) token_type: String,
    /// `None` when absent or 0: the caller applies its default lifetime.
    pub(crate) expires_in: Option<Duration>,
    pub(crate) refresh_token: Option<String>,
    pub(crate) scope: Option<String>,
}

/// The longest lifetime believed; longer ones are clamped (keeps `Instant` arithmetic safe).
const MAX_LIFETIME: Duration = Duration::from_secs(366 * 24 * 3600);

/// Parses the body of a token endpoint's response (JSON, or form-encoded as some servers
/// send without `Accept: application/json`). Text of the server's that reaches an error
/// goes through `redactor`: the secrets the request carried never come back in an error.
pub(crate) fn parse(
    status: StatusCode,
    body: &[u8],
    redactor: &Redactor,
) -> Result<TokenResponse, TokenError> {
    let Some(fields) = fields(body) else {
        return Err(unexpected(status, "not a JSON object", body, redactor));
    };
    if let Some(error) = fields.get("error") {
        return Err(oauth_error(status, error, &fields, redactor));
    }
    if !status.is_success() {
        return Err(unexpected(
            status,
            "error status without an OAuth2 `error`",
            body,
            redactor,
        ));
    }
    interpret(status, &fields, redactor)
}

/// The fields of a JSON object body, or of a form-encoded one.
fn fields(body: &[u8]) -> Option<Map<String, Value>> {
    if let Ok(Value::Object(map)) = serde_json::from_slice(body) {
        return Some(map);
    }
    let text = std::str::from_utf8(body).ok()?.trim();
    let looks_like_form = !text.is_empty()
        && !text.contains(char::is_whitespace)
        && (text.starts_with("access_token=")
            || text.contains("&access_token=")
            || text.starts_with("error="));
    looks_like_form.then(|| {
        form_urlencoded::parse(text.as_bytes())
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect()
    })
}

fn interpret(
    status: StatusCode,
    fields: &Map<String, Value>,
    redactor: &Redactor,
) -> Result<TokenResponse, TokenError> {
    let access_token = string_field(fields, "access_token")
        .filter(|t| !t.is_empty())
        .ok_or(TokenError::MissingField {
            status,
            field: "access_token",
        })?;
    let token_type = string_field(fields, "token_type").unwrap_or_else(|| "Bearer".to_owned());
    if !token_type.eq_ignore_ascii_case("bearer") {
        let reason = format!(
            "token_type `{}` is not supported (only Bearer)",
            excerpt(&redactor.clean(&token_type), 40)
        );
        return Err(TokenError::UnexpectedResponse {
            status,
            reason,
            excerpt: HOLDS_TOKEN.to_owned(),
        });
    }
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer".to_owned(),
        expires_in: fields.get("expires_in").and_then(lifetime),
        refresh_token: string_field(fields, "refresh_token").filter(|t| !t.is_empty()),
        scope: string_field(fields, "scope"),
    })
}

fn string_field(fields: &Map<String, Value>, name: &str) -> Option<String> {
    fields.get(name)?.as_str().map(str::to_owned)
}

/// `expires_in` as an integer, a float or a numeric string; 0, negative or unreadable
/// means unknown. Any number is an answer: one beyond [`MAX_LIFETIME`] (up to `1e300` or
/// `u64::MAX`) is clamped *before* it becomes a `Duration`, whose conversion would panic.
fn lifetime(value: &Value) -> Option<Duration> {
    let seconds = match value {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    if !seconds.is_finite() || seconds < 1.0 {
        return None;
    }
    if seconds >= MAX_LIFETIME.as_secs_f64() {
        return Some(MAX_LIFETIME);
    }
    Some(Duration::from_secs_f64(seconds))
}

/// How much of a server's `error`, `error_description` or `error_uri` an error keeps.
const FIELD_LEN: usize = 500;

fn oauth_error(
    status: StatusCode,
    error: &Value,
    fields: &Map<String, Value>,
    redactor: &Redactor,
) -> TokenError {
    // Cleaned, then cut: a secret straddling the cut leaves no prefix behind.
    let text = |value: &str| excerpt(&redactor.clean(value), FIELD_LEN);
    let error = error
        .as_str()
        .map_or_else(|| error.to_string(), str::to_owned);
    TokenError::OAuth {
        status,
        error: text(&error),
        description: string_field(fields, "error_description").map(|d| text(&d)),
        uri: string_field(fields, "error_uri").map(|u| text(&u)),
    }
}

const HOLDS_TOKEN: &str = "<redacted: the body looked like it held a token>";

/// An error for a body that is not a token response, with a short excerpt: redacted
/// entirely if the body mentions a token field, and cleaned of the request's secrets
/// (before it is cut, so no prefix of a secret survives at the cut).
pub(crate) fn unexpected(
    status: StatusCode,
    reason: &str,
    body: &[u8],
    redactor: &Redactor,
) -> TokenError {
    let text = String::from_utf8_lossy(body);
    let holds_token = ["access_token", "refresh_token", "id_token"]
        .iter()
        .any(|f| text.contains(f));
    let excerpt = if holds_token {
        HOLDS_TOKEN.to_owned()
    } else {
        excerpt(&redactor.clean(text.trim()), 120)
    };
    TokenError::UnexpectedResponse {
        status,
        reason: reason.to_owned(),
        excerpt,
    }
}
