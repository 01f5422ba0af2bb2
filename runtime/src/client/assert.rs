//! Compile-time checks of argument types. Generated code calls `assert_*::<T>()` with the
//! argument's span, so a type that does not fit is reported on the user's own code with
//! the messages below.

use std::fmt::Display;

use serde::Serialize;

/// A type that can fill a path placeholder: anything [`Display`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be used as a path segment",
    label = "this path argument does not implement `std::fmt::Display`",
    note = "path arguments are written with `Display`, then percent-encoded"
)]
pub trait PathArg {}

impl<T: ?Sized + Display> PathArg for T {}

/// A type that can be sent as a query value: anything [`Serialize`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be used as a query value",
    label = "this query argument does not implement `serde::Serialize`",
    note = "query arguments must implement `serde::Serialize` (scalars, `Option`, sequences, or structs with `#[query]`)"
)]
pub trait QueryArg {}

impl<T: ?Sized + Serialize> QueryArg for T {}

/// A type that can be sent as a header value: anything [`Display`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be used as a header value",
    label = "this header argument does not implement `std::fmt::Display`",
    note = "header arguments are written with `Display`; wrap an optional header in `Option`"
)]
pub trait HeaderArg {}

impl<T: ?Sized + Display> HeaderArg for T {}

/// A type that can be sent as a request body: anything [`Serialize`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be used as a request body",
    label = "this body argument does not implement `serde::Serialize`",
    note = "`#[body]` and `#[body(form)]` arguments must implement `serde::Serialize`"
)]
pub trait BodyArg {}

impl<T: ?Sized + Serialize> BodyArg for T {}

/// A type that can be sent as a JSON part (`#[part(json)]`): anything [`Serialize`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be sent as a JSON part",
    label = "this `#[part(json)]` argument does not implement `serde::Serialize`",
    note = "`#[part(json)]` writes the argument as an `application/json` part: it must implement `serde::Serialize`"
)]
pub trait JsonPartArg {}

impl<T: ?Sized + Serialize> JsonPartArg for T {}

/// Fails to compile unless `T` can fill a path placeholder.
pub fn assert_path_arg<T: ?Sized + PathArg>() {}

/// Fails to compile unless `T` can be a query value.
pub fn assert_query_arg<T: ?Sized + QueryArg>() {}

/// Fails to compile unless `T` can be a header value.
pub fn assert_header_arg<T: ?Sized + HeaderArg>() {}

/// Fails to compile unless `T` can be a request body.
pub fn assert_body_arg<T: ?Sized + BodyArg>() {}

/// Fails to compile unless `T` can be a JSON part.
pub fn assert_json_part_arg<T: ?Sized + JsonPartArg>() {}

/// A type that can be sent as a streamed body: anything `Into<reqwest::Body>`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be used as a streamed body",
    label = "this `#[body(stream = ..)]` argument does not convert into `reqwest::Body`",
    note = "a streamed body is a `reqwest::Body`: `reqwest::Body::wrap_stream(stream)` for a `Stream<Item = Result<Bytes, E>>`, or `reqwest::Body::from(tokio_file)`"
)]
pub trait StreamArg: Into<reqwest::Body> {}

impl<T: Into<reqwest::Body>> StreamArg for T {}

/// A type that can travel with the request to the middleware stack.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be used as a request extension",
    label = "this `#[extension]` argument is not `Clone + Send + Sync + 'static`",
    note = "request extensions are cloned for a replay after a 401 and read by middleware: they must be `Clone + Send + Sync + 'static` (owned, no borrowed data)"
)]
pub trait ExtensionArg: Clone + Send + Sync + 'static {}

impl<T: Clone + Send + Sync + 'static> ExtensionArg for T {}

/// Fails to compile unless `T` can be a streamed body.
pub fn assert_stream_arg<T: StreamArg>() {}

/// Fails to compile unless `T` can be a request extension.
pub fn assert_extension_arg<T: ExtensionArg>() {}

/// Fails to compile unless `T` can be a map of headers.
pub fn assert_header_map_arg<T: ?Sized + super::args::HeaderMapArg>() {}

/// Fails to compile unless `T` can be a time limit.
pub fn assert_timeout_arg<T: ?Sized + super::args::TimeoutArg>() {}

/// Fails to compile unless `T` can be a query flag.
pub fn assert_flag_arg<T: ?Sized + super::args::FlagArg>() {}

/// Fails to compile unless `T` can be a URL.
pub fn assert_url_arg<T: ?Sized + super::args::UrlArg>() {}

/// Fails to compile unless `T` can make multipart parts.
pub fn assert_part_arg<T: super::multipart::MultipartArg>() {}
