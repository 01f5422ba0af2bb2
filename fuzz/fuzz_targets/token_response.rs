//! A token endpoint's answer, as the server's bytes reach `OAuth2Source`: parsed, scrubbed
//! of the request's secrets, turned into a token with an expiry and a refresh time.
//!
//! Input: `NNN\n` + body (NNN: the HTTP status, three digits), or just a body (status 200).
//!
//! Must hold for any input: no panic (no `Duration`/`Instant` overflow included); an
//! error's `Display` and `Debug` hold none of the request's secrets (raw, percent- or
//! form-encoded in any case, JSON-escaped), no prefix of one cut at an excerpt's `…`, and
//! no control character from the server in `Display`; a token's `Debug` never shows the
//! access token; the expiry lies between now and now + a year and a day.

#![no_main]

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use token_client_runtime::{AccessToken, OAuth2Source, TokenOptions};

/// The request's secrets: distinct, long, and with characters that every encoding changes.
const CLIENT_ID: &str = "fuzz-client";
const CLIENT_SECRET: &str = "cl1ent s3cret+/é\"x";
const PASSWORD: &str = "pa55-w0rd-Zq9";
const REFRESH_TOKEN: &str = "rt-8c1f0e4d2b";

/// Built once: what is fuzzed is the server's answer, not the source's construction.
static SOURCE: LazyLock<OAuth2Source> = LazyLock::new(|| {
    let options = TokenOptions::password(
        "https://login.example/token",
        CLIENT_ID,
        CLIENT_SECRET,
        "fuzz-user",
        PASSWORD,
    );
    OAuth2Source::new(options).expect("valid options")
});

/// A year and a day (the runtime's longest believed lifetime), plus slack for the clock.
const MAX_LIFETIME: Duration = Duration::from_secs(366 * 24 * 3600 + 60);

fuzz_target!(|data: &[u8]| {
    let (status, body) = split(data);
    let before = Instant::now();
    let Some(outcome) =
        token_client_runtime::__fuzz::token_response(&SOURCE, status, body, Some(REFRESH_TOKEN))
    else {
        return;
    };
    let after = Instant::now();
    match outcome {
        Ok(token) => check_token(&token, before, after),
        Err(error) => {
            let display = error.to_string();
            let debug = format!("{error:?}");
            let _ = (error.status(), error.oauth_error(), error.is_timeout());
            let body = String::from_utf8_lossy(body);
            for secret in [CLIENT_SECRET, PASSWORD, REFRESH_TOKEN] {
                check_no_secret(&display, secret, &body, "Display", &error);
                check_no_secret(&debug, secret, &body, "Debug", &error);
            }
            assert!(
                !display.chars().any(char::is_control),
                "a control character reached an error's Display: {display:?}"
            );
        }
    }
});

/// `NNN\n` + body, or a body answered with 200.
fn split(data: &[u8]) -> (u16, &[u8]) {
    if let [a, b, c, b'\n', body @ ..] = data
        && [a, b, c].iter().all(|d| d.is_ascii_digit())
    {
        let status = [a, b, c]
            .iter()
            .fold(0u16, |n, &&d| n * 10 + u16::from(d - b'0'));
        return (status, body);
    }
    (200, data)
}

fn check_token(token: &AccessToken, before: Instant, after: Instant) {
    assert!(!token.secret().is_empty());
    assert_eq!(token.token_type(), "Bearer");
    // tokio's `Instant` is std's clock (the runtime does not enable tokio's `test-util`).
    let expires_at = token.expires_at().into_std();
    assert!(expires_at >= before, "expiry in the past");
    assert!(
        expires_at <= after + MAX_LIFETIME,
        "expiry beyond the longest lifetime: {:?}",
        expires_at - after
    );
    let _ = token.is_expired_at(token.expires_at());
    // Debug shows no secret: look for the access token where only it could come from.
    let secret = token.secret();
    let debug = format!("{token:?}");
    let shown = escaped(secret);
    let elsewhere = format!(
        "{:?} {:?}",
        token.scope(),
        AccessToken::new("", token.expires_at())
    );
    if secret.chars().count() >= 8 && !elsewhere.contains(&shown) {
        assert!(
            !debug.contains(&shown),
            "the access token {secret:?} is in the token's Debug: {debug}"
        );
    }
}

/// Fails when `text` (an error's `Display` or `Debug`) holds `secret` in a form the server
/// could echo, or a long prefix of it where an excerpt was cut (`body`: the server's text,
/// which may hold `…` itself).
fn check_no_secret(text: &str, secret: &str, body: &str, what: &str, error: &dyn std::fmt::Debug) {
    let percent = percent_decode(text);
    let form = percent_decode(&text.replace('+', " "));
    let json_escaped = escaped(secret);
    for (encoding, haystack, needle) in [
        ("raw", text, secret),
        ("Debug-escaped", text, json_escaped.as_str()),
        ("percent-encoded", percent.as_str(), secret),
        ("form-encoded", form.as_str(), secret),
    ] {
        assert!(
            !haystack.contains(needle),
            "the secret {secret:?} ({encoding}) is in an error's {what}: {error:?}"
        );
    }
    // A cut excerpt ends with `…`: no prefix of a secret (6 characters or more) may end
    // there when it was cut from the whole secret, that is when each place the server
    // wrote that prefix starts the whole secret (as sent or in an encoding).
    for (end, _) in secret.char_indices().skip(6) {
        let prefix = &secret[..end];
        if text.contains(&format!("{prefix}…")) && only_whole(body, prefix, secret) {
            panic!(
                "a prefix of the secret {secret:?} survives at a cut in an error's {what}: \
                 {error:?}"
            );
        }
    }
}

/// Whether `body` holds `prefix` (as sent or in an encoding), and each time as the start
/// of the whole `secret` (in some encoding).
fn only_whole(body: &str, prefix: &str, secret: &str) -> bool {
    let forms = [
        (prefix.to_owned(), secret.to_owned()),
        (escaped(prefix), escaped(secret)),
        (form_encode(prefix), form_encode(secret)),
        (percent_encode(prefix), percent_encode(secret)),
    ];
    let mut found = false;
    for (encoded_prefix, _) in &forms {
        for (at, _) in body.match_indices(encoded_prefix.as_str()) {
            if !forms
                .iter()
                .any(|(_, whole)| body[at..].starts_with(whole.as_str()))
            {
                return false;
            }
            found = true;
        }
    }
    found
}

fn form_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b' ' => out.push('+'),
            b'*' | b'-' | b'.' | b'_' => out.push(b as char),
            b if b.is_ascii_alphanumeric() => out.push(b as char),
            b => out += &format!("%{b:02X}"),
        }
    }
    out
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// `s` as `Debug` shows it inside quotes.
fn escaped(s: &str) -> String {
    let debug = format!("{s:?}");
    debug[1..debug.len() - 1].to_owned()
}

/// `%XX` (either case) decoded; invalid sequences and invalid UTF-8 kept as they are.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).and_then(|&b| hex(b)),
                bytes.get(i + 2).and_then(|&b| hex(b)),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
