//! Writing path arguments into a request path, percent-encoded.

use std::fmt::{self, Display, Write as _};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::Error;

/// Everything but the RFC 3986 unreserved characters (`A-Z a-z 0-9 - . _ ~`).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// As [`SEGMENT`], but keeping `/` so a value can span several segments.
const REST: &AsciiSet = &SEGMENT.remove(b'/');

/// Appends `value` to `path` as one path segment: every character but the RFC 3986
/// unreserved ones is percent-encoded, so `a/b` becomes `a%2Fb` and a space `%20`.
///
/// Generated code goes through
/// [`RequestSpec::path_segment`](super::request::RequestSpec::path_segment), which also
/// refuses a value that renders empty.
pub(super) fn push_segment<T: ?Sized + Display>(path: &mut String, value: &T) {
    push_encoded(path, value, SEGMENT);
}

/// Appends `value` to `path` as the rest of the path (a `{**rest}` placeholder): encoded as
/// by [`push_segment`], except that `/` is kept.
pub(super) fn push_rest<T: ?Sized + Display>(path: &mut String, value: &T) {
    push_encoded(path, value, REST);
}

/// Writes `value` straight into `path`, encoding each piece `Display` hands over: no
/// intermediate `String`. Pieces are whole `&str`s, so no UTF-8 sequence is split.
fn push_encoded<T: ?Sized + Display>(path: &mut String, value: &T, set: &'static AsciiSet) {
    struct Encoder<'a>(&'a mut String, &'static AsciiSet);

    impl fmt::Write for Encoder<'_> {
        fn write_str(&mut self, piece: &str) -> fmt::Result {
            self.0.extend(utf8_percent_encode(piece, self.1));
            Ok(())
        }
    }

    // Writing to a `String` cannot fail; a `Display` impl that errors writes what it wrote.
    let _ = write!(Encoder(path, set), "{value}");
}

/// Refuses a path holding a `.` or `..` segment (also written `%2e`): URL parsing would
/// resolve it, so an argument `..` would silently reach another resource.
pub(super) fn check_dot_segments(path: &str) -> Result<(), Error> {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    match path.split('/').find(|segment| is_dot_segment(segment)) {
        Some(segment) => Err(Error::Request(format!(
            "path `{path}` holds the segment `{segment}`, which would be resolved away"
        ))),
        None => Ok(()),
    }
}

fn is_dot_segment(segment: &str) -> bool {
    // At most two dots, each written `.` or `%2e`: six bytes. Checked without allocating.
    if segment.len() > 6 {
        return false;
    }
    let one = |s: &str| s == "." || s.eq_ignore_ascii_case("%2e");
    one(segment)
        || (1..segment.len())
            .any(|i| segment.is_char_boundary(i) && one(&segment[..i]) && one(&segment[i..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(value: &str) -> String {
        let mut path = String::from("/x/");
        push_segment(&mut path, value);
        path
    }

    #[test]
    fn segment_encodes_all_but_unreserved() {
        assert_eq!(segment("a/b"), "/x/a%2Fb");
        assert_eq!(segment("a b?c#d%e"), "/x/a%20b%3Fc%23d%25e");
        assert_eq!(segment("Az09-._~"), "/x/Az09-._~");
        assert_eq!(segment("é"), "/x/%C3%A9");
    }

    #[test]
    fn rest_keeps_slashes() {
        let mut path = String::from("/files/");
        push_rest(&mut path, "a/b c/d");
        assert_eq!(path, "/files/a/b%20c/d");
    }

    #[test]
    fn dot_segments_are_refused() {
        assert!(check_dot_segments("/x/../y").is_err());
        assert!(check_dot_segments("/x/%2E%2e").is_err());
        assert!(check_dot_segments("/x/./y").is_err());
        assert!(check_dot_segments("/x/..a/y.z?q=..").is_ok());
    }
}
