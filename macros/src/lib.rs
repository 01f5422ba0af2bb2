//! Procedural macros of `token-client`: `#[token_client]` turns an annotated trait into a
//! typed HTTP client. Users depend on the `token-client` facade, which re-exports this
//! macro and documents it; the stages live in one module each: `attr` (our attributes),
//! `path` (templates), `scope` (`#[scope]` and `#[resource]`), `ast` (our model of the
//! trait), `valid` (cross-checks) and `expand` (code generation), with `ctxt` collecting
//! every error of one build and `fallback` emitting what stands beside the errors.

#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

mod ast;
mod attr;
mod ctxt;
mod expand;
mod fallback;
mod path;
mod scope;
mod valid;

/// Turns an annotated trait into a typed HTTP client; see the `token_client` crate docs.
///
/// # How return types are read
///
/// A macro sees how a type is written, not what it names. In `Result<T, E>`, `T` is
/// decoded from JSON unless it is written as one of these paths (a leading `::` allowed):
///
/// | `T` written | the method returns |
/// |---|---|
/// | `()` | nothing |
/// | `String`, `std::string::String` | the body as text |
/// | `bytes::Bytes` | the raw body |
/// | `reqwest::Response`, `token_client::reqwest::Response` | the response itself |
/// | `ApiResponse<U>`, `token_client::ApiResponse<U>` | status, headers and the body as `U` |
///
/// So a model of yours named `Response` or `Bytes` is decoded from JSON, and so is
/// `Response` imported from reqwest and written bare: write `reqwest::Response` in full.
/// `ApiResponse<U>` written bare is this crate's (as imported from `token_client`); a
/// generic model of yours with that name is written through its path
/// (`models::ApiResponse<T>`), a non-generic one may be written bare.
///
/// # Path arguments
///
/// A `{name}` placeholder must not render empty: `/foos/{id}` with an empty `id` would
/// address `/foos/`, another resource, so the call returns `Error::Request` and sends
/// nothing (as for a `.` or `..` segment). A `{**rest}` may be empty (`/files/` for
/// `/files/{**path}`: the root of the tree); the template's own text, a trailing `/` or
/// a `//`, is sent as written.
///
/// # Text and bytes bodies
///
/// `#[body(text = "..")]` takes an `impl Into<String>` (`String`, `&str`, `&String`);
/// `#[body(bytes = "..")]` takes an owned `impl Into<Bytes>` (`Vec<u8>`, `Bytes`), moved
/// in, or a reference to `impl AsRef<[u8]>` (`&[u8]`, `&Vec<u8>`), copied.
#[proc_macro_attribute]
pub fn token_client(
    args: proc_macro::TokenStream,
    input: proc_macro::TokenStream,
) -> proc_macro::TokenStream {
    expand::token_client(args.into(), input.into()).into()
}
