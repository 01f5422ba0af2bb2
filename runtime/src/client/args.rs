//! The argument types of `#[headers]`, `#[timeout]`, `#[url]` and `#[query(flag)]` arguments.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;
use std::time::Duration;

/// A `#[headers]` argument: a map of header names to values.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be used as a map of headers",
    label = "this `#[headers]` argument is not a map of header names to values",
    note = "a `#[headers]` argument is a `HashMap` or `BTreeMap` of `impl AsRef<str>` to `impl AsRef<str>`, a `Vec` or slice of such pairs, or an `http::HeaderMap`"
)]
pub trait HeaderMapArg {
    /// Calls `each` with every name and value, in the map's order.
    fn for_each_header(&self, each: &mut dyn FnMut(&[u8], &[u8]));
}

impl<K: AsRef<str>, V: AsRef<str>, S: BuildHasher> HeaderMapArg for HashMap<K, V, S> {
    fn for_each_header(&self, each: &mut dyn FnMut(&[u8], &[u8])) {
        for (name, value) in self {
            each(name.as_ref().as_bytes(), value.as_ref().as_bytes());
        }
    }
}

impl<K: AsRef<str>, V: AsRef<str>> HeaderMapArg for BTreeMap<K, V> {
    fn for_each_header(&self, each: &mut dyn FnMut(&[u8], &[u8])) {
        for (name, value) in self {
            each(name.as_ref().as_bytes(), value.as_ref().as_bytes());
        }
    }
}

impl<K: AsRef<str>, V: AsRef<str>> HeaderMapArg for [(K, V)] {
    fn for_each_header(&self, each: &mut dyn FnMut(&[u8], &[u8])) {
        for (name, value) in self {
            each(name.as_ref().as_bytes(), value.as_ref().as_bytes());
        }
    }
}

impl<K: AsRef<str>, V: AsRef<str>> HeaderMapArg for Vec<(K, V)> {
    fn for_each_header(&self, each: &mut dyn FnMut(&[u8], &[u8])) {
        self.as_slice().for_each_header(each);
    }
}

impl HeaderMapArg for http::HeaderMap {
    fn for_each_header(&self, each: &mut dyn FnMut(&[u8], &[u8])) {
        for (name, value) in self {
            each(name.as_str().as_bytes(), value.as_bytes());
        }
    }
}

impl<T: ?Sized + HeaderMapArg> HeaderMapArg for &T {
    fn for_each_header(&self, each: &mut dyn FnMut(&[u8], &[u8])) {
        (**self).for_each_header(each);
    }
}

impl<T: HeaderMapArg> HeaderMapArg for Option<T> {
    fn for_each_header(&self, each: &mut dyn FnMut(&[u8], &[u8])) {
        if let Some(map) = self {
            map.for_each_header(each);
        }
    }
}

/// A `#[timeout]` argument: a `Duration`, or `Option<Duration>` (`None`: the method's or
/// the client's time limit).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be used as a time limit",
    label = "this `#[timeout]` argument is not a `Duration`",
    note = "a `#[timeout]` argument is a `std::time::Duration` or an `Option<Duration>`"
)]
pub trait TimeoutArg {
    /// The time limit, if any.
    fn timeout(&self) -> Option<Duration>;
}

impl TimeoutArg for Duration {
    fn timeout(&self) -> Option<Duration> {
        Some(*self)
    }
}

impl TimeoutArg for Option<Duration> {
    fn timeout(&self) -> Option<Duration> {
        *self
    }
}

/// A `#[url]` argument: an absolute URL as `&str`, `String` or `Url`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be used as a URL",
    label = "this `#[url]` argument is not a URL",
    note = "a `#[url]` argument is an absolute URL: `&str`, `String` or `url::Url` (`reqwest::Url`)"
)]
pub trait UrlArg {
    /// The URL as written.
    fn as_url_str(&self) -> &str;
}

impl UrlArg for str {
    fn as_url_str(&self) -> &str {
        self
    }
}

impl UrlArg for String {
    fn as_url_str(&self) -> &str {
        self
    }
}

impl UrlArg for url::Url {
    fn as_url_str(&self) -> &str {
        self.as_str()
    }
}

/// A `#[query(flag)]` argument: a `bool`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be used as a query flag",
    label = "this `#[query(flag)]` argument is not a `bool`",
    note = "a flag is sent without a value (`?verbose`) when `true`, and left out when `false`; to send a value, remove `flag`"
)]
pub trait FlagArg {
    /// Whether the flag is sent.
    fn is_on(&self) -> bool;
}

impl FlagArg for bool {
    fn is_on(&self) -> bool {
        *self
    }
}
