//! [`ApiResponse`]: a response's status and headers beside its decoded body.

use http::{HeaderMap, StatusCode};

use crate::Error;

/// A response whose status, headers and body a method wants to see, whatever the status.
///
/// A method returning `Result<ApiResponse<T>, Error>` fails only when no response came
/// (no token, transport error). Any status is an `ApiResponse`: on success its body is the
/// decoded `T`; on a non-success status the body is an [`Error::Api`] with the response's
/// text; a success whose body cannot be decoded holds an [`Error::Decode`].
///
/// ```
/// # use token_client_runtime::{ApiResponse, Error};
/// fn describe(response: ApiResponse<String>) -> String {
///     match response.body() {
///         Ok(text) => format!("{}: {text}", response.status()),
///         Err(error) => format!("failed: {error}"),
///     }
/// }
/// ```
#[derive(Debug)]
pub struct ApiResponse<T> {
    status: StatusCode,
    headers: HeaderMap,
    body: Result<T, Error>,
}

impl<T> ApiResponse<T> {
    pub(crate) fn new(status: StatusCode, headers: HeaderMap, body: Result<T, Error>) -> Self {
        Self {
            status,
            headers,
            body,
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The response headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// Whether the status is a success (2xx).
    pub fn is_success(&self) -> bool {
        self.status.is_success()
    }

    /// The decoded body, or why there is none ([`Error::Api`] on a non-success status).
    pub fn body(&self) -> Result<&T, &Error> {
        self.body.as_ref()
    }

    /// The decoded body, or why there is none, dropping status and headers.
    pub fn into_result(self) -> Result<T, Error> {
        self.body
    }

    /// Status, headers and body, taken apart.
    pub fn into_parts(self) -> (StatusCode, HeaderMap, Result<T, Error>) {
        (self.status, self.headers, self.body)
    }
}
