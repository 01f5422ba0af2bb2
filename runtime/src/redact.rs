//! Keeping secrets and forged lines out of errors: every text a server sends, and every
//! URL a user configured, passes through here before it reaches an error or a log.

use std::fmt::Write as _;

use base64::Engine as _;
use url::Url;

/// What stands in place of a secret.
pub(crate) const REDACTED: &str = "<redacted>";

/// Removes known secrets from server-provided text, in whatever form a server might echo
/// them: as sent; percent-encoded in either case, whole or in part (`%2b`, `%2B`, a raw
/// `/` beside an encoded `+`); form-encoded (`+` for a space); JSON-escaped (`\"`, `\/`,
/// `\u00e9`); and the base64 of an HTTP Basic header.
///
/// Each character of a secret is matched in any of its encodings, rather than each
/// encoding of the whole secret listed: servers mix them (Python's `quote` leaves `/`).
#[derive(Default)]
pub(crate) struct Redactor {
    secrets: Vec<Vec<char>>,
}

impl Redactor {
    /// Adds `secret` (ignored when empty).
    pub(crate) fn secret(&mut self, secret: &str) {
        let chars: Vec<char> = secret.chars().collect();
        if !chars.is_empty() && !self.secrets.contains(&chars) {
            self.secrets.push(chars);
        }
    }

    /// Adds the credentials of an HTTP Basic header (`user:password`, base64-encoded).
    pub(crate) fn basic(&mut self, user_colon_password: &str) {
        let encoded = base64::engine::general_purpose::STANDARD.encode(user_colon_password);
        self.secret(&encoded);
    }

    /// `text` with every secret, in any encoding, replaced by [`REDACTED`] (the longest
    /// match at each place), and control characters escaped.
    pub(crate) fn clean(&self, text: &str) -> String {
        escape_controls(&self.scrub(text))
    }

    /// `text` with every secret, in any encoding, replaced by [`REDACTED`]; nothing else
    /// changed (for a body handed to the user as it came).
    pub(crate) fn scrub(&self, text: &str) -> String {
        let bytes = text.as_bytes();
        let mut cleaned = String::with_capacity(text.len());
        let (mut at, mut kept) = (0, 0);
        while at < bytes.len() {
            let end = text
                .is_char_boundary(at)
                .then(|| {
                    self.secrets
                        .iter()
                        .filter_map(|s| matches(bytes, at, s))
                        .max()
                })
                .flatten();
            match end {
                Some(end) => {
                    cleaned.push_str(&text[kept..at]);
                    cleaned.push_str(REDACTED);
                    (at, kept) = (end, end);
                }
                None => at += 1,
            }
        }
        cleaned.push_str(&text[kept..]);
        cleaned
    }
}

/// Where a match of `secret` starting at `at` in `text` ends, each character in any of
/// its encodings (backtracking where two encodings of one character both fit).
///
/// Depth-first with a stack of its own, not recursion: a secret from a configuration
/// file can be as long as anyone wrote it, and must not overflow the thread's stack.
fn matches(text: &[u8], at: usize, secret: &[char]) -> Option<usize> {
    let first = secret.first()?;
    // Cheap rejection: most places in a text start no encoding of the first character.
    let mut ends = encodings(text, at, *first).peekable();
    ends.peek()?;
    let mut stack: Vec<(usize, usize)> = ends.map(|end| (1, end)).collect();
    stack.reverse();
    while let Some((matched, end)) = stack.pop() {
        let Some(&c) = secret.get(matched) else {
            return Some(end);
        };
        let next: Vec<usize> = encodings(text, end, c).collect();
        stack.extend(next.into_iter().rev().map(|end| (matched + 1, end)));
    }
    None
}

/// Where `c` ends if it starts at `at` in `text`, for each encoding of it found there.
fn encodings(text: &[u8], at: usize, c: char) -> impl Iterator<Item = usize> {
    let mut utf8 = [0; 4];
    let raw = c.encode_utf8(&mut utf8).as_bytes();
    let tail = &text[at.min(text.len())..];
    let plain = tail.starts_with(raw).then_some(at + raw.len());
    let percent = percent_encoded(tail, raw).map(|len| at + len);
    let plus = (c == ' ' && tail.first() == Some(&b'+')).then_some(at + 1);
    let json = json_escaped(tail, c).map(|len| at + len);
    [plain, percent, plus, json].into_iter().flatten()
}

/// The length of `bytes` percent-encoded (`%XX` each, hex in either case) at the start of
/// `tail`.
fn percent_encoded(tail: &[u8], bytes: &[u8]) -> Option<usize> {
    let hex = |d: u8| (d as char).to_digit(16);
    for (i, &byte) in bytes.iter().enumerate() {
        match tail.get(3 * i..3 * i + 3)? {
            [b'%', high, low] if hex(*high)? * 16 + hex(*low)? == u32::from(byte) => {}
            _ => return None,
        }
    }
    Some(3 * bytes.len())
}

/// The length of `c` JSON-escaped (`\"`, `\\`, `\/`, `\uXXXX` in either case) at the
/// start of `tail`.
fn json_escaped(tail: &[u8], c: char) -> Option<usize> {
    let short = match c {
        '"' => Some(b'"'),
        '\\' => Some(b'\\'),
        '/' => Some(b'/'),
        _ => None,
    };
    if let Some(short) = short
        && tail.starts_with(&[b'\\', short])
    {
        return Some(2);
    }
    let unit = u16::try_from(u32::from(c)).ok()?;
    let digits = std::str::from_utf8(tail.get(2..6)?).ok()?;
    (tail.starts_with(b"\\u") && u16::from_str_radix(digits, 16).ok()? == unit).then_some(6)
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
        // Not a URL with a host (`svc:pass@...` parses as scheme `svc`): the text may be
        // a mistyped `user:pass@host`.
        _ if !raw.contains("//") && raw.contains('@') => REDACTED.to_owned(),
        Ok(url) => escape_controls(url_without_secrets(&url).as_str()),
        _ if raw.contains('@') => REDACTED.to_owned(),
        Err(_) => escape_controls(raw.split(['?', '#']).next().unwrap_or_default()),
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
                    json p@ss word+\\\"x basic aWQ6cEBzcyB3b3JkKyJ4 lower p%40ss%20word%2b%22x \
                    mixed p@ss%20word%2B\\u0022x";
        let cleaned = redactor.clean(text);
        assert!(!cleaned.contains("ss word"), "{cleaned}");
        assert!(!cleaned.contains("ss+word"), "{cleaned}");
        assert!(!cleaned.contains("ss%20word"), "{cleaned}");
        assert!(!cleaned.contains("aWQ6"), "{cleaned}");
        assert_eq!(cleaned.matches(REDACTED).count(), 7, "{cleaned}");
    }

    #[test]
    fn a_secret_as_long_as_a_config_file_holds_is_matched_without_recursion() {
        let secret = "s".repeat(200_000);
        let mut redactor = Redactor::default();
        redactor.secret(&secret);
        let text = format!("before {secret} after");
        assert_eq!(redactor.clean(&text), format!("before {REDACTED} after"));
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
        // A forgotten `https://`: parsed as scheme `login.example`, with no host.
        assert_eq!(
            display_url("login.example:443/token?api_key=k#f"),
            "login.example:443/token"
        );
        assert_eq!(display_url("not a url?api_key=k"), "not a url");
    }
}
