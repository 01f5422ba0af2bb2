//! Keeping secrets and forged lines out of errors: every text a server sends, and every
//! URL a user configured, passes through here before it reaches an error or a log.

use std::fmt::Write as _;

use base64::Engine as _;
use url::Url;

/// What stands in place of a secret.
pub(crate) const REDACTED: &str = "<redacted>";

/// Removes known secrets from server-provided text, in every form a server might echo
/// them: as sent, form-urlencoded (`+` for space), percent-encoded, JSON-escaped, and the
/// base64 of an HTTP Basic header.
#[derive(Default)]
pub(crate) struct Redactor {
    needles: Vec<String>,
}

impl Redactor {
    /// Adds `secret` (ignored when empty).
    pub(crate) fn secret(&mut self, secret: &str) {
        if secret.is_empty() {
            return;
        }
        let form: String = form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        let percent =
            percent_encoding::utf8_percent_encode(secret, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        let json = serde_json::to_string(secret).unwrap_or_default();
        let json = json.trim_matches('"').to_owned();
        for needle in [secret.to_owned(), form, percent, json] {
            if !self.needles.contains(&needle) {
                self.needles.push(needle);
            }
        }
    }

    /// Adds the credentials of an HTTP Basic header (`user:password`, base64-encoded).
    pub(crate) fn basic(&mut self, user_colon_password: &str) {
        let encoded = base64::engine::general_purpose::STANDARD.encode(user_colon_password);
        self.secret(&encoded);
    }

    /// `text` without the secrets (longest first, so a secret containing another is
    /// removed whole), with control characters escaped.
    pub(crate) fn clean(&self, text: &str) -> String {
        let mut needles: Vec<&str> = self.needles.iter().map(String::as_str).collect();
        needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
        let mut text = text.to_owned();
        for needle in needles {
            if text.contains(needle) {
                text = text.replace(needle, REDACTED);
            }
        }
        escape_controls(&text)
    }
}

/// `text` with control characters (line breaks, ANSI escapes...) escaped as `\n`,
/// `\u{1b}`: server text cannot forge a log line or repaint a terminal.
pub(crate) fn escape_controls(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_owned();
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            let _ = write!(escaped, "{}", c.escape_debug());
        } else {
            escaped.push(c);
        }
    }
    escaped
}

/// A configured URL as it may be shown in an error or `Debug`: without user info, query
/// or fragment (which may hold credentials or API keys). Text that is not a URL is shown
/// escaped, or not at all when it holds an `@` (it may be a mistyped `user:pass@host`).
pub(crate) fn display_url(raw: &str) -> String {
    match Url::parse(raw) {
        Ok(url) if url.has_host() && url == url_without_secrets(&url) => escape_controls(raw),
        Ok(url) if url.has_host() => url_without_secrets(&url).to_string(),
        // Not a URL with a host (`svc:pass@...` parses as scheme `svc`).
        _ if raw.contains('@') => REDACTED.to_owned(),
        _ => escape_controls(raw),
    }
}

/// `url` without user info, query and fragment.
pub(crate) fn url_without_secrets(url: &Url) -> Url {
    let mut url = url.clone();
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_query(None);
    url.set_fragment(None);
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_echoed_form_of_a_secret_is_removed() {
        let mut redactor = Redactor::default();
        redactor.secret("p@ss word+\"x");
        redactor.basic("id:p@ss word+\"x");
        let text = "raw p@ss word+\"x form p%40ss+word%2B%22x pct p%40ss%20word%2B%22x \
                    json p@ss word+\\\"x basic aWQ6cEBzcyB3b3JkKyJ4";
        let cleaned = redactor.clean(text);
        assert!(!cleaned.contains("ss word"), "{cleaned}");
        assert!(!cleaned.contains("ss+word"), "{cleaned}");
        assert!(!cleaned.contains("aWQ6"), "{cleaned}");
        assert_eq!(cleaned.matches(REDACTED).count(), 5, "{cleaned}");
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape_controls("a\nb\r\u{1b}[31m"), "a\\nb\\r\\u{1b}[31m");
        assert_eq!(Redactor::default().clean("line\nforged"), "line\\nforged");
    }

    #[test]
    fn displayed_urls_lose_credentials_and_query() {
        assert_eq!(
            display_url("https://svc:secret@login.example/token?api_key=k#f"),
            "https://login.example/token"
        );
        assert_eq!(display_url("not a url with svc:secret@host"), REDACTED);
        assert_eq!(display_url("svc:secret@ no host"), REDACTED);
        assert_eq!(display_url("https://host/a@b"), "https://host/a@b");
        assert_eq!(display_url("not\na url"), "not\\na url");
    }
}
