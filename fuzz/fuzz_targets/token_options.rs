//! `TokenOptions` as read from configuration: `serde_json`, then `validate()`, then the
//! `Debug` of the options and the `Display`/`Debug` of any error.
//!
//! Input: bytes handed to `serde_json::from_slice::<TokenOptions>`.
//!
//! Must hold for any input: no panic; and no secret shows: not the client secret or the
//! password, nor the user info, query or fragment of an endpoint URL, in the options'
//! `Debug` or in a validation error. A secret is checked when it is one a human could not
//! mistake: 8 characters or more, and not also written in another field (the endpoint may
//! legitimately contain the client id, say) or in the fixed text of a `Debug`.

#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use token_client_runtime::{ClientAuth, TokenOptions};

fuzz_target!(|data: &[u8]| {
    let Ok(options) = serde_json::from_slice::<TokenOptions>(data) else {
        return;
    };
    let debug = format!("{options:?}");
    let _ = (
        options.refresh_policy(),
        options.token_endpoint(),
        options.client_id(),
    );
    let error = options
        .validate()
        .err()
        .map(|e| (e.to_string(), format!("{e:?}")));
    if let Some((display, _)) = &error {
        assert!(
            !display.chars().any(char::is_control),
            "a control character reached a validation error: {display:?}"
        );
    }

    // An ignored field is skipped unchecked (a lone surrogate in it, say): then the input
    // is no `Value`, and the secrets cannot be told apart. Rare, and nothing shows them.
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let (secrets, others) = split_fields(&value, options.token_endpoint());
    for secret in secrets.iter().filter(|s| s.chars().count() >= 8) {
        let shown = escaped(secret);
        if others
            .iter()
            .any(|o| o.contains(secret) || o.contains(&shown))
            || SKELETONS.contains(&shown)
        {
            continue;
        }
        assert!(
            !debug.contains(&shown),
            "secret {secret:?} is in the Debug: {debug}"
        );
        if let Some((display, debug)) = &error {
            for text in [display, debug] {
                assert!(
                    !text.contains(secret.as_str()) && !text.contains(&shown),
                    "secret {secret:?} is in a validation error: {text}"
                );
            }
        }
    }
});

/// The secret values of the input (as `TokenOptions` reads them: by name in an object,
/// by position in an array) and every other string in it, as written and as `Debug`
/// shows it.
fn split_fields(value: &Value, endpoint: &str) -> (Vec<String>, Vec<String>) {
    let mut secrets = Vec::new();
    let mut others = Vec::new();
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                match key.as_str() {
                    "ClientSecret" | "client_secret" | "Password" | "password" => {
                        strings(value, &mut secrets);
                    }
                    "TokenEndpoint" | "token_endpoint" => {}
                    _ => strings(value, &mut others),
                }
            }
        }
        Value::Array(items) => {
            // Field order of `TokenOptions`: endpoint, id, secret, username, password...
            for (i, value) in items.iter().enumerate() {
                match i {
                    0 => {}
                    2 | 4 => strings(value, &mut secrets),
                    _ => strings(value, &mut others),
                }
            }
        }
        _ => {}
    }
    // What a user could put in an endpoint URL's user info, query or fragment is secret;
    // the rest of the URL (shown in errors and `Debug`) is not, nor is an endpoint that
    // is no URL.
    let Ok(url) = url::Url::parse(endpoint) else {
        others.push(endpoint.to_owned());
        return with_escaped(secrets, others);
    };
    let parts = [
        Some(url.username()),
        url.password(),
        url.query(),
        url.fragment(),
    ];
    secrets.extend(parts.into_iter().flatten().map(str::to_owned));
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.set_fragment(None);
    others.push(shown.to_string());
    with_escaped(secrets, others)
}

fn with_escaped(secrets: Vec<String>, mut others: Vec<String>) -> (Vec<String>, Vec<String>) {
    let shown: Vec<String> = others.iter().map(|o| escaped(o)).collect();
    others.extend(shown);
    (secrets, others)
}

fn strings(value: &Value, into: &mut Vec<String>) {
    match value {
        Value::String(s) => into.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| strings(v, into)),
        Value::Object(map) => map.values().for_each(|v| strings(v, into)),
        _ => {}
    }
}

/// The fixed text of every `Debug` of options the input can produce.
static SKELETONS: LazyLock<String> = LazyLock::new(|| {
    let mut all = String::new();
    for auth in [ClientAuth::BasicAuth, ClientAuth::RequestBody] {
        for insecure in [false, true] {
            let options = TokenOptions::client_credentials("", "", "")
                .client_auth(auth)
                .allow_insecure_http(insecure);
            all += &format!("{options:?}\n");
        }
    }
    all
});

/// `s` as `Debug` shows it inside quotes.
fn escaped(s: &str) -> String {
    let debug = format!("{s:?}");
    debug[1..debug.len() - 1].to_owned()
}
