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

/// Fails to compile unless `T` can fill a path placeholder.
pub fn assert_path_arg<T: ?Sized + PathArg>() {}

/// Fails to compile unless `T` can be a query value.
pub fn assert_query_arg<T: ?Sized + QueryArg>() {}

/// Fails to compile unless `T` can be a header value.
pub fn assert_header_arg<T: ?Sized + HeaderArg>() {}

/// Fails to compile unless `T` can be a request body.
pub fn assert_body_arg<T: ?Sized + BodyArg>() {}
