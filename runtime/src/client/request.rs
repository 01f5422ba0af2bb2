//! [`RequestSpec`]: what one call of a generated method sends, filled in by generated code.

use std::fmt::{self, Display};
use std::time::Duration;

use http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use http::{Extensions, HeaderMap, Method};
use serde::Serialize;

use super::args::{FlagArg, HeaderMapArg, TimeoutArg, UrlArg};
use super::multipart::{MultipartArg, Part};
use super::path::{push_rest, push_segment};

/// The request one call sends: method, path, query, headers, body.
///
/// Every method is infallible: a value that cannot be written (an empty path segment, a
/// header value with a line break, a query value serde cannot encode) is remembered, and
/// [`ClientCore::send`](super::core::ClientCore::send) returns it as
/// [`Error::Request`](crate::Error::Request) without sending anything.
pub struct RequestSpec {
    pub(super) method: Method,
    /// The base URL, `/`, and the path as far as written: the URL without its query,
    /// built in one string (no joining, no copy, when the request is sent).
    pub(super) path: String,
    /// Where the path starts in `path`, after the base URL and its `/`.
    pub(super) path_start: usize,
    pub(super) query: String,
    pub(super) headers: HeaderMap,
    pub(super) body: Option<Body>,
    pub(super) no_auth: bool,
    /// The token this request needs, when not the options' own (`#[scope]`, `#[resource]`).
    pub(super) token_scope: Option<crate::TokenScope>,
    /// `#[timeout]`: replaces the client's.
    pub(super) timeout: Option<Duration>,
    /// `#[extension]` arguments, for the middleware stack.
    pub(super) extensions: Extensions,
    /// `#[url]`: the whole URL (the path is empty), and whether it may leave the base
    /// URL's origin.
    pub(super) absolute: Option<(String, bool)>,
    pub(super) error: Option<String>,
}

/// A request body.
pub(super) enum Body {
    /// Serialized (JSON, form, text, bytes): sent again as it is after a 401.
    Bytes {
        bytes: bytes::Bytes,
        content_type: HeaderValue,
    },
    /// Streamed: taken by the first send, so never replayed.
    Stream {
        body: Option<reqwest::Body>,
        content_type: HeaderValue,
    },
    /// `#[multipart]`: the parts, encoded as the request is sent.
    Multipart(Vec<(&'static str, Part)>),
}

impl Body {
    fn content_type(&self) -> Option<&HeaderValue> {
        match self {
            Body::Bytes { content_type, .. } | Body::Stream { content_type, .. } => {
                Some(content_type)
            }
            Body::Multipart(_) => None,
        }
    }
}

impl RequestSpec {
    /// A request to `base` (an absolute URL without a trailing `/`) joined with exactly one
    /// `/` to `first`, the template's leading text (its own leading `/`s dropped).
    pub(super) fn new(method: Method, base: &str, first: &str) -> Self {
        let first = first.trim_start_matches('/');
        // Room for a few path arguments without growing.
        let mut path = String::with_capacity(base.len() + 1 + first.len() + 32);
        path.push_str(base);
        path.push('/');
        let path_start = path.len();
        path.push_str(first);
        Self {
            method,
            path,
            path_start,
            query: String::new(),
            headers: HeaderMap::new(),
            body: None,
            no_auth: false,
            token_scope: None,
            timeout: None,
            extensions: Extensions::new(),
            absolute: None,
            error: None,
        }
    }

    /// Whether the request can be built again after a 401: not once a stream was sent.
    pub(super) fn replayable(&self) -> bool {
        match &self.body {
            Some(Body::Stream { .. }) => false,
            Some(Body::Multipart(parts)) => parts.iter().all(|(_, part)| part.replayable()),
            Some(Body::Bytes { .. }) | None => true,
        }
    }

    /// The path as written so far, after the base URL.
    pub(super) fn relative_path(&self) -> &str {
        &self.path[self.path_start..]
    }

    /// The URL without its query: base and path, with no `/` after the base when the
    /// path is empty.
    pub(super) fn base_and_path(&self) -> &str {
        if self.path.len() == self.path_start {
            &self.path[..self.path_start - 1]
        } else {
            &self.path
        }
    }

    /// Drops `/`s at the start of the path: the base and the path are joined by exactly one.
    fn trim_leading_slashes(&mut self) {
        let slashes =
            self.relative_path().len() - self.relative_path().trim_start_matches('/').len();
        if slashes > 0 {
            self.path.drain(self.path_start..self.path_start + slashes);
        }
    }

    /// Appends literal text of the path template.
    pub fn path_text(&mut self, text: &str) {
        self.path.push_str(text);
        self.trim_leading_slashes();
    }

    /// Appends `value` as one path segment, percent-encoded as by [`push_segment`].
    ///
    /// A value that renders empty is an error naming its `{placeholder}`: `/foos/{id}` with
    /// an empty `id` would address `/foos/`, another resource, as `..` would. The template's
    /// own text (a trailing `/`, a `//`) is the author's choice and is sent as written.
    pub fn path_segment<T: ?Sized + Display>(&mut self, placeholder: &str, value: &T) {
        let before = self.path.len();
        push_segment(&mut self.path, value);
        if self.path.len() == before {
            self.fail(format!(
                "path placeholder `{{{placeholder}}}` is empty: an empty segment would send the request to another resource"
            ));
        }
    }

    /// Appends `value` as the rest of the path (a `{**rest}` placeholder), as by
    /// [`push_rest`]. It may be empty: no segment at all is a rest too (the root of a file
    /// tree, `/files/` for `/files/{**path}`).
    pub fn path_rest<T: ?Sized + Display>(&mut self, value: &T) {
        push_rest(&mut self.path, value);
        self.trim_leading_slashes();
    }

    /// Adds `name=value` to the query. `None` adds nothing; a sequence repeats the key.
    pub fn query<T: ?Sized + Serialize>(&mut self, name: &str, value: &T) {
        let encoded = serde_html_form::to_string([(name, value)]);
        self.push_query(encoded, || format!("query parameter `{name}`"));
    }

    /// Adds `name=a<sep>b<sep>c` for a sequence `value` (`,` for `csv`, `%20` for `ssv`,
    /// `|` for `pipes`), each item percent-encoded so that a separator inside an item
    /// stays apart (`a,b` is sent `a%2Cb`). An empty sequence or `None` adds nothing.
    pub fn query_joined<T: ?Sized + Serialize>(
        &mut self,
        name: &str,
        value: &T,
        separator: &'static str,
    ) {
        let encoded = serde_html_form::to_string([(name, value)]).map(|pairs| {
            let mut pairs = pairs.split('&').filter(|pair| !pair.is_empty());
            let Some(first) = pairs.next() else {
                return String::new();
            };
            let key_len = first.find('=').map_or(first.len(), |at| at + 1);
            let mut joined = first.to_owned();
            for pair in pairs {
                joined.push_str(separator);
                joined.push_str(pair.get(key_len..).unwrap_or_default());
            }
            joined
        });
        self.push_query(encoded, || format!("query parameter `{name}`"));
    }

    /// Adds the valueless flag `name` (`?verbose`) when `on`.
    pub fn query_flag<T: ?Sized + FlagArg>(&mut self, name: &str, on: &T) {
        if on.is_on() {
            let name: String = form_urlencoded::byte_serialize(name.as_bytes()).collect();
            self.push_query(Ok(name), || unreachable!("a flag always encodes"));
        }
    }

    /// Adds every field of `value` (a struct or a map) to the query; `None` fields are left out.
    pub fn query_struct<T: ?Sized + Serialize>(&mut self, value: &T) {
        let encoded = serde_html_form::to_string(value);
        self.push_query(encoded, || "query".to_owned());
    }

    fn push_query(
        &mut self,
        encoded: Result<String, serde_html_form::ser::Error>,
        what: impl FnOnce() -> String,
    ) {
        match encoded {
            Ok(pairs) if pairs.is_empty() => {}
            Ok(pairs) => {
                if !self.query.is_empty() {
                    self.query.push('&');
                }
                self.query.push_str(&pairs);
            }
            Err(error) => self.fail(format!("{} cannot be encoded: {error}", what())),
        }
    }

    /// Sets header `name` to `value` (written with `Display`), replacing any earlier value.
    pub fn header<T: ?Sized + Display>(&mut self, name: &'static str, value: &T) {
        self.insert_header(name, &value.to_string());
    }

    /// Sets header `name` to the literal `value`, replacing any earlier value.
    pub fn static_header(&mut self, name: &'static str, value: &'static str) {
        self.insert_header(name, value);
    }

    /// Sets every header of `map` (`#[headers]` argument), replacing earlier values of the
    /// same names; a name repeated within the map (an `http::HeaderMap`) keeps every value.
    /// An invalid name or value fails the call, naming the header but never its value.
    pub fn header_map<T: ?Sized + HeaderMapArg>(&mut self, map: &T) {
        let mut seen: Vec<HeaderName> = Vec::new();
        map.for_each_header(&mut |name, value| {
            let Ok(name) = HeaderName::from_bytes(name) else {
                let shown = crate::error::excerpt(&String::from_utf8_lossy(name), 60);
                return self.fail(format!(
                    "`{shown}` in the `#[headers]` argument is not a valid header name"
                ));
            };
            let Ok(value) = HeaderValue::from_bytes(value) else {
                return self.fail(format!(
                    "the value of header `{name}` in the `#[headers]` argument is not a valid header value"
                ));
            };
            if seen.contains(&name) {
                self.headers.append(name, value);
            } else {
                self.headers.insert(name.clone(), value);
                seen.push(name);
            }
        });
    }

    /// Sets the time limit of this call (`#[timeout]`), in place of the client's; a
    /// `None` argument leaves the method's or the client's.
    pub fn timeout<T: ?Sized + TimeoutArg>(&mut self, timeout: &T) {
        if let Some(timeout) = timeout.timeout() {
            self.timeout = Some(timeout);
        }
    }

    /// Hands `value` (`#[extension]`) to the middleware stack with the request, as
    /// `reqwest_middleware::RequestBuilder::with_extension` does.
    pub fn extension<T: Clone + Send + Sync + 'static>(&mut self, value: T) {
        self.extensions.insert(value);
    }

    /// Sends the request to `url` (`#[url]`), an absolute URL, in place of the base URL and
    /// path: on the base URL's origin unless `any_origin`, as the token goes with it.
    pub fn url<T: ?Sized + UrlArg>(&mut self, url: &T, any_origin: bool) {
        self.absolute = Some((url.as_url_str().to_owned(), any_origin));
    }

    fn insert_header(&mut self, name: &str, value: &str) {
        let Ok(header) = HeaderName::from_bytes(name.as_bytes()) else {
            return self.fail(format!("`{name}` is not a valid header name"));
        };
        match HeaderValue::from_str(value) {
            Ok(value) => {
                self.headers.insert(header, value);
            }
            Err(_) => self.fail(format!(
                "the value of header `{name}` is not a valid header value"
            )),
        }
    }

    /// Sends `value` as JSON, with `Content-Type: application/json`.
    pub fn json<T: ?Sized + Serialize>(&mut self, value: &T) {
        match serde_json::to_vec(value) {
            Ok(json) => self.set_body(json.into(), "application/json"),
            Err(error) => self.fail(format!("the body cannot be written as JSON: {error}")),
        }
    }

    /// Sends `value` form-urlencoded, with `Content-Type: application/x-www-form-urlencoded`.
    pub fn form<T: ?Sized + Serialize>(&mut self, value: &T) {
        match serde_html_form::to_string(value) {
            Ok(form) => self.set_body(form.into(), "application/x-www-form-urlencoded"),
            Err(error) => self.fail(format!("the body cannot be form-encoded: {error}")),
        }
    }

    /// Sends `text` with the given content type.
    pub fn text(&mut self, text: impl Into<String>, content_type: &'static str) {
        self.set_body(text.into().into(), content_type);
    }

    /// Sends `bytes` with the given content type, moved in without a copy.
    pub fn bytes(&mut self, bytes: impl Into<bytes::Bytes>, content_type: &'static str) {
        self.set_body(bytes.into(), content_type);
    }

    /// Sends a copy of borrowed `bytes` (`&[u8]`, `&Vec<u8>`, `&str`...) with the given
    /// content type: a body owns its bytes, whose borrow ends with the call.
    pub fn copy_bytes<T: ?Sized + AsRef<[u8]>>(&mut self, bytes: &T, content_type: &'static str) {
        let bytes = bytes::Bytes::copy_from_slice(bytes.as_ref());
        self.set_body(bytes, content_type);
    }

    /// Sends `body` with the given content type: streamed (`reqwest::Body::wrap_stream`, a
    /// file), without buffering, so not replayed after a 401. A buffered `reqwest::Body`
    /// is sent as bytes, and replayed.
    pub fn stream(&mut self, body: impl Into<reqwest::Body>, content_type: &'static str) {
        let body = body.into();
        if let Some(bytes) = body.as_bytes() {
            return self.set_body(bytes::Bytes::copy_from_slice(bytes), content_type);
        }
        match HeaderValue::from_str(content_type) {
            Ok(content_type) => {
                self.body = Some(Body::Stream {
                    body: Some(body),
                    content_type,
                })
            }
            Err(_) => self.fail(format!("`{content_type}` is not a valid content type")),
        }
    }

    /// Makes the body `multipart/form-data` (`#[multipart]`), with no part yet.
    pub fn multipart(&mut self) {
        self.body = Some(Body::Multipart(Vec::new()));
    }

    /// Adds the parts of `value` under `name`: one, none (`None`), or one per item.
    pub fn part<T: MultipartArg>(&mut self, name: &'static str, value: T) {
        let mut parts = Vec::new();
        value.into_parts(&mut |part| parts.push((name, part)));
        self.push_parts(parts);
    }

    /// Adds `value` as a JSON part (`#[part(json)]`, `application/json`); `None` adds nothing.
    pub fn json_part<T: ?Sized + Serialize>(&mut self, name: &'static str, value: &T) {
        match serde_json::to_vec(value) {
            Ok(json) if json == b"null" => {}
            Ok(json) => {
                let part = Part::bytes(json).content_type("application/json");
                self.push_parts(vec![(name, part)]);
            }
            Err(error) => self.fail(format!("part `{name}` cannot be written as JSON: {error}")),
        }
    }

    fn push_parts(&mut self, new: Vec<(&'static str, Part)>) {
        match &mut self.body {
            Some(Body::Multipart(parts)) => parts.extend(new),
            _ => self.body = Some(Body::Multipart(new)),
        }
    }

    fn set_body(&mut self, bytes: bytes::Bytes, content_type: &str) {
        match HeaderValue::from_str(content_type) {
            Ok(content_type) => {
                self.body = Some(Body::Bytes {
                    bytes,
                    content_type,
                })
            }
            Err(_) => self.fail(format!("`{content_type}` is not a valid content type")),
        }
    }

    /// Sends the request without an access token.
    pub fn no_auth(&mut self) {
        self.no_auth = true;
    }

    /// Sends the token of `scope` (a method's `#[scope]`/`#[resource]`), not the options' own.
    pub fn token_scope(&mut self, scope: &crate::TokenScope) {
        self.token_scope = Some(scope.clone());
    }

    /// Keeps the first error: it is the one the user's code caused first.
    fn fail(&mut self, message: String) {
        self.error.get_or_insert(message);
    }

    /// The headers to send, in order of precedence: the client's defaults, then the body's
    /// content type, then this request's own headers.
    pub(super) fn merged_headers(&self, defaults: &HeaderMap) -> HeaderMap {
        let mut headers = defaults.clone();
        if let Some(content_type) = self.body.as_ref().and_then(Body::content_type) {
            headers.insert(CONTENT_TYPE, content_type.clone());
        }
        // A name of this request's replaces the defaults' (all values: a `#[headers]` map
        // may repeat a name).
        for name in self.headers.keys() {
            headers.remove(name);
        }
        for (name, value) in &self.headers {
            headers.append(name, value.clone());
        }
        if let Some(Body::Multipart(_)) = self.body {
            // The encoder sets it, with its boundary.
            headers.remove(CONTENT_TYPE);
        }
        headers
    }
}

impl fmt::Debug for RequestSpec {
    /// Method and path only: headers and query may hold secrets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestSpec")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("no_auth", &self.no_auth)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> RequestSpec {
        RequestSpec::new(Method::DELETE, "http://x/api", "/foos/")
    }

    #[test]
    fn path_pieces_are_appended_in_order() {
        let mut spec = spec();
        spec.path_segment("id", &"a/b");
        spec.path_text("/files/");
        spec.path_rest(&"dir/x y");
        assert_eq!(spec.path, "http://x/api/foos/a%2Fb/files/dir/x%20y");
        assert_eq!(spec.relative_path(), "foos/a%2Fb/files/dir/x%20y");
        assert_eq!(spec.error, None);
    }

    #[test]
    fn base_and_path_are_joined_by_exactly_one_slash() {
        let url = |first: &str| {
            let spec = RequestSpec::new(Method::GET, "https://x/api", first);
            spec.base_and_path().to_owned()
        };
        assert_eq!(url("/foos"), "https://x/api/foos");
        assert_eq!(url("foos"), "https://x/api/foos");
        assert_eq!(url("//foos/1"), "https://x/api/foos/1");
        assert_eq!(url(""), "https://x/api");
        assert_eq!(url("/"), "https://x/api");
        let mut spec = RequestSpec::new(Method::GET, "https://x", "/");
        spec.path_rest(&"/a/b");
        assert_eq!(spec.base_and_path(), "https://x/a/b");
    }

    #[test]
    fn an_empty_segment_is_an_error_naming_its_placeholder() {
        let mut spec = spec();
        spec.path_segment("id", &"");
        let error = spec.error.expect("refused");
        assert!(error.contains("`{id}` is empty"), "{error}");
    }

    #[test]
    fn a_placeholder_inside_a_segment_must_not_be_empty_either() {
        let mut spec = spec();
        spec.path_text("v");
        spec.path_segment("version", &String::new());
        assert!(spec.error.is_some(), "`/foos/v` is another resource too");
    }

    #[test]
    fn an_empty_rest_is_no_segment_at_all() {
        let mut spec = spec();
        spec.path_rest(&"");
        assert_eq!(spec.relative_path(), "foos/");
        assert_eq!(spec.error, None);
    }

    #[test]
    fn borrowed_bytes_are_copied_into_the_body() {
        let mut spec = spec();
        let data = vec![0_u8, 255];
        spec.copy_bytes(&data, "application/octet-stream");
        drop(data);
        let Some(Body::Bytes {
            bytes,
            content_type,
        }) = spec.body
        else {
            panic!("a bytes body");
        };
        assert_eq!(&bytes[..], &[0, 255]);
        assert_eq!(content_type, "application/octet-stream");
    }
}
