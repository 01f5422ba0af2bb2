//! Typed, token-authenticated HTTP clients.
//!
//! `token-client` puts an OAuth2 access token on every request. One shared provider
//! fetches tokens, caches them, and refreshes them ahead of expiry with exactly one request
//! to the token endpoint, while callers holding a valid token never wait on a lock. Use
//! it through `#[token_client]` (declare a trait, get a typed client, in the style of
//! .NET's Refit) or as a `reqwest-middleware` middleware on any client.
//!
//! # Contents
//!
//! - [Quick start](#quick-start)
//! - [What `#[token_client]` generates](#what-token_client-generates)
//! - [Attribute reference](#attribute-reference)
//! - [Return types](#return-types)
//! - [Uploads, downloads and request options](#uploads-downloads-and-request-options)
//! - [Errors](#errors)
//! - [How the provider works](#how-the-provider-works)
//! - [Sharing one provider between clients](#sharing-one-provider-between-clients)
//! - [Running many instances](#running-many-instances)
//! - [Enterprise identity providers](#enterprise-identity-providers)
//! - [The middleware without the macro](#the-middleware-without-the-macro)
//! - [A token source of your own](#a-token-source-of-your-own)
//! - [Testing code that uses a generated client](#testing-code-that-uses-a-generated-client)
//! - [Logs](#logs)
//!
//! # Quick start
//!
//! ```no_run
//! use serde::{Deserialize, Serialize};
//! use token_client::{TokenOptions, token_client};
//!
//! #[derive(Debug, Deserialize)]
//! pub struct Foo {
//!     pub id: u64,
//!     pub name: String,
//! }
//!
//! #[derive(Serialize)]
//! pub struct NewFoo {
//!     pub name: String,
//! }
//!
//! #[token_client(base_path = "/api/v1")]
//! #[headers("Accept: application/json")]
//! pub trait Foos {
//!     #[get("/foos")]
//!     async fn list(&self, page: Option<u32>) -> Result<Vec<Foo>, token_client::Error>;
//!
//!     #[get("/foos/{id}")]
//!     async fn get(&self, id: u64) -> Result<Foo, token_client::Error>;
//!
//!     #[post("/foos")]
//!     async fn create(&self, #[body] foo: &NewFoo) -> Result<Foo, token_client::Error>;
//! }
//!
//! # async fn run() -> Result<(), token_client::Error> {
//! let options = TokenOptions::client_credentials(
//!     "https://login.example.com/oauth2/token",
//!     "my-service",
//!     std::env::var("CLIENT_SECRET").unwrap_or_default(),
//! )
//! .scope("foos.read foos.write");
//!
//! let foos = FoosClient::builder()
//!     .base_url("https://foos.example.com")
//!     .token_options(options)
//!     .build()?;
//!
//! let first_page = foos.list(Some(1)).await?;          // GET /api/v1/foos?page=1
//! let one = foos.get(42).await?;                       // GET /api/v1/foos/42
//! let new = foos.create(&NewFoo { name: "x".into() }).await?;
//! # Ok(()) }
//! ```
//!
//! `cargo run --example quickstart` runs a complete version against an identity provider
//! and an API started in-process.
//!
//! # What `#[token_client]` generates
//!
//! For `#[token_client] pub trait Foos { .. }`, in the trait's module:
//!
//! - **The trait**, yours, without our attributes, under [`async_trait`]: its methods
//!   return boxed futures, so `Arc<dyn Foos>` works and tests can implement it with a
//!   mock (see [Testing](#testing-code-that-uses-a-generated-client)).
//! - **`pub struct FoosClient`** (same visibility as the trait; renamed with
//!   `#[token_client(client = Name)]`): `Clone + Send + Sync + Debug`, one `Arc` inside,
//!   so clones share the HTTP client and the token provider.
//! - **`FoosClient::builder()`**, a [`ClientBuilder<FoosClient>`](ClientBuilder): the base
//!   URL, `token_options` or `token_provider`, then `build()`.
//! - **`impl Foos for FoosClient`**: each method, on a call,
//!   1. checks and writes its arguments: the path (each `{name}` percent-encoded as one
//!      segment; an empty or `.`/`..` segment is an error, nothing is sent), the query,
//!      headers, the body;
//!   2. takes a token from the provider (a cached one, lock-free, in steady state) and
//!      sends the request with `Authorization: Bearer ..`, unless `#[no_auth]`;
//!   3. on a 401, tells the provider the token was rejected and sends once more with a
//!      fresh one (the request is built again from the arguments, nothing is buffered);
//!   4. turns the response into the return type (see [Return types](#return-types)).
//!
//! Every mistake in the trait is a compile error, and the trait and a stub client are still
//! generated beside it, so the errors shown are yours, not a cascade about a missing
//! `FoosClient`.
//!
//! # Attribute reference
//!
//! | attribute | where | what it does |
//! |---|---|---|
//! | `#[token_client]` | trait | generates `<Trait>Client` and keeps the trait (made object-safe with [`async_trait`]) |
//! | `#[token_client(client = Name)]` | trait | names the generated client `Name` |
//! | `#[token_client(base_path = "/api/v1")]` | trait | prefixes every method's path |
//! | `#[token_client(query_format = "csv")]` | trait | the collection format of every query parameter that names none (default `multi`) |
//! | `#[headers("Name: value", ...)]` | trait | static headers sent by every method |
//! | `#[get("/path")]`, `#[post]`, `#[put]`, `#[patch]`, `#[delete]`, `#[head]`, `#[options]` | method | HTTP method and path template (exactly one per method); written without a path (`#[get]`) when a `#[url]` argument holds the whole URL |
//! | `{name}` in a path | path template | the argument `name`, percent-encoded as one segment (`a/b` → `a%2Fb`) |
//! | `{**name}` in a path | path template, last segment | the argument `name`, percent-encoded but keeping `/`; may be empty (the root of the subtree) |
//! | `#[headers("Name: value", ...)]` | method | static headers for this method (override the trait's) |
//! | `#[no_auth]` | method | sends no token (and needs no token configuration if every method has it) |
//! | `#[timeout(secs = 5)]`, `#[timeout(ms = 500)]` | trait, method | the time limit of each call, in place of the client's; a method's replaces the trait's |
//! | `#[multipart]` | method | a `multipart/form-data` body (RFC 7578): every argument that is neither in the path nor marked otherwise is a part named after it |
//! | `#[scope("orders.read orders.write")]` | trait, method | the scope of the token the calls send, in place of the options' scope; a method's replaces the trait's |
//! | `#[resource("https://orders.example.com")]`, repeatable | trait, method | a resource indicator (RFC 8707: an absolute URI, no `#`) of the token the calls send, in place of the options' resources; a method's resources replace the trait's |
//! | `#[query]`, `#[query("name")]` | argument | a query parameter: scalars, `Option` (left out when `None`), sequences (key repeated) |
//! | `#[query(format = "csv")]`, `#[query("name", format = "ssv")]` | argument | a sequence in one parameter: `csv` `a=1,2`, `ssv` `a=1%202`, `pipes` `a=1\|2`, or `multi` `a=1&a=2` (the default); a separator inside an item is percent-encoded |
//! | `#[query(flag)]`, `#[query("name", flag)]` | argument | a `bool`: the valueless `?name` when `true`, nothing when `false` |
//! | `#[query(flatten)]` | argument | every field of a `Serialize` struct as a query parameter (serde's `rename`s honoured) |
//! | *(none)* | argument not in the path | a query parameter named after the argument (Refit's rule; `r#type` becomes `type`) |
//! | `#[body]` | argument | JSON body (`Content-Type: application/json`) |
//! | `#[body(form)]` | argument | `application/x-www-form-urlencoded` body |
//! | `#[body(text = "text/plain")]` | argument | the argument (`impl Into<String>`) as a text body with that content type |
//! | `#[body(bytes = "application/octet-stream")]` | argument | the argument as a raw body with that content type: owned `impl Into<Bytes>` (moved) or `&impl AsRef<[u8]>` (copied) |
//! | `#[body(stream = "application/octet-stream")]` | argument | an `Into<reqwest::Body>` (`reqwest::Body::wrap_stream(stream)`, a file) sent as it comes, unbuffered; not replayed after a 401 |
//! | `#[part]`, `#[part("name")]`, `#[part(json)]` | argument of a `#[multipart]` method | names the part, or sends any `Serialize` as a JSON part |
//! | `#[header("X-Name")]` | argument | a header from the argument's `Display` (`Option`: left out when `None`); overrides method and trait headers |
//! | `#[headers]` | argument | a map of headers (`HashMap`/`BTreeMap` of strings, `Vec<(K, V)>`, `http::HeaderMap`), at most one; overrides method and trait headers, `#[header]` arguments override it |
//! | `#[timeout]` | argument | a `Duration` (or `Option<Duration>`) for this call, in place of the method's, the trait's and the client's |
//! | `#[extension]` | argument | a `Clone + Send + Sync + 'static` value handed to the `reqwest-middleware` stack with the request (Refit's `[Property]`) |
//! | `#[url]`, `#[url(any_origin)]` | argument | the whole URL (`&str`, `String`, `Url`), e.g. a pagination link; refused unless on the base URL's origin, as the token goes with it, or marked `any_origin` |
//!
//! Trait-level `#[headers]`, `#[scope]` and `#[resource]` go *below* `#[token_client]`
//! (attributes above it are not seen by the macro, and rustc rejects them there as
//! unknown). Attributes that are not ours (`#[doc]`, `#[allow]`, `#[cfg]`...) pass through
//! to the trait; a name that looks like a misspelling of ours (`#[qeury]`) is an error that
//! names the one meant.
//!
//! Each distinct set of scope and resources gets a token of its own, cached and refreshed
//! apart from the others, from the same token endpoint and credentials: what a method's set
//! does not name (no `#[scope]` anywhere, or no `#[resource]`) is the options'. A scope is
//! checked at compile time as scope tokens separated by single spaces (RFC 6749 §3.3), a
//! resource as an absolute URI without a fragment; `#[scope]` or `#[resource]` on a
//! `#[no_auth]` method is an error.
//!
//! Every mistake in an annotated trait is reported at compile time, all in one build,
//! pointing at the offending token: a placeholder without an argument, two bodies, a
//! body on `GET`, a header without `:`, a method that is not `async` or has no `&self`,
//! an argument type that cannot be a query value...
//!
//! # Return types
//!
//! Methods return `Result<T, E>` where `E: From<token_client::Error>` (normally
//! [`Error`] itself), or an alias of it whose name ends in `Result` (`type ApiResult<T> =
//! Result<T, MyError>;` then `ApiResult<Foo>`), and `T` is:
//!
//! | `T` | the method returns | on a non-success status |
//! |---|---|---|
//! | any `DeserializeOwned` type | the JSON body, decoded | `Err(Error::Api)` |
//! | `()` | nothing (the body is ignored) | `Err(Error::Api)` |
//! | `String` | the body as text | `Err(Error::Api)` |
//! | `bytes::Bytes` | the raw body | `Err(Error::Api)` |
//! | `reqwest::Response` | the response itself | `Ok(response)`: status not checked |
//! | [`ApiResponse<U>`](ApiResponse) | status, headers, and the body decoded as `U` or the error | `Ok(api_response)`, holding `Err(Error::Api)` |
//! | [`ByteStream`] | the body as it arrives, chunk by chunk, unbuffered | `Err(Error::Api)` |
//! | [`JsonLines<U>`](JsonLines) | a body of JSON lines (NDJSON), decoded item by item as it arrives | `Err(Error::Api)` |
//!
//! A JSON, `String` or `Bytes` body is read into memory up to the client's
//! [`max_response_bytes`](ClientBuilder::max_response_bytes) (64 MiB unless set): a larger
//! one is [`Error::ResponseTooLarge`], refused before reading when its `Content-Length`
//! says so. Streams are exempt; for `JsonLines` the limit bounds each line.
//!
//! The macro sees how a type is written, not what it is, so the special types are
//! recognised by their written path: `String` (or `std::string::String`), `bytes::Bytes`,
//! `reqwest::Response` (or `token_client::reqwest::Response`), `ApiResponse<U>` (or
//! `token_client::ApiResponse<U>`), `ByteStream` and `JsonLines<U>` (or through
//! `token_client::`). Anything else is decoded from JSON, so a model of
//! yours named `Response` or `Bytes` is yours; a bare `Response` imported from reqwest is
//! refused at compile time with a note to write `reqwest::Response` in full.
//!
//! # Uploads, downloads and request options
//!
//! ```no_run
//! use std::collections::HashMap;
//! use std::time::Duration;
//! use serde::{Deserialize, Serialize};
//! use token_client::reqwest::Body;
//! use token_client::{ByteStream, Error, JsonLines, Part, token_client};
//!
//! #[derive(Serialize)]
//! pub struct Meta { pub title: String }
//! #[derive(Deserialize)]
//! pub struct Event { pub id: u64 }
//! #[derive(Deserialize)]
//! pub struct Page { pub items: Vec<u64>, pub next: Option<String> }
//! #[derive(Clone)]
//! pub struct RetryBudget(pub u32);
//!
//! #[token_client(base_path = "/api")]
//! #[timeout(secs = 10)]
//! pub trait Files {
//!     /// `file` is streamed from disk as the request goes; `meta` is a JSON part.
//!     #[post("/files")]
//!     #[multipart]
//!     async fn upload(&self, file: Part, #[part(json)] meta: &Meta, tags: Vec<String>) -> Result<(), Error>;
//!
//!     #[put("/blobs/{name}")]
//!     #[timeout(secs = 300)]
//!     async fn put_blob(&self, name: &str, #[body(stream = "application/octet-stream")] body: Body) -> Result<(), Error>;
//!
//!     #[get("/blobs/{name}")]
//!     async fn get_blob(&self, name: &str, #[timeout] limit: Option<Duration>) -> Result<ByteStream, Error>;
//!
//!     #[get("/events")]
//!     async fn events(&self, #[query(format = "csv")] kinds: &[&str], #[query(flag)] follow: bool) -> Result<JsonLines<Event>, Error>;
//!
//!     #[get("/items")]
//!     async fn first_page(&self, #[headers] extra: &HashMap<String, String>, #[extension] budget: RetryBudget) -> Result<Page, Error>;
//!
//!     /// The `next` link of a page: an absolute URL on the API's own origin.
//!     #[get]
//!     async fn next_page(&self, #[url] next: &str) -> Result<Page, Error>;
//! }
//! ```
//!
//! - **Multipart** parts are text (`String`, `&str`, numbers, `bool`), bytes (`Bytes`,
//!   `Vec<u8>`, `&[u8]`), a [`Part`] (a file opened as the request is sent, with its file
//!   name and a content type guessed from its extension; bytes or a stream with a file name
//!   and content type of your choice), `#[part(json)]` any `Serialize`; a `Vec` or slice
//!   repeats the part, `None` leaves it out.
//! - **After a 401**, a request is built again from the arguments and sent once more with
//!   a fresh token. A body that was streamed (`#[body(stream)]`, a [`Part::stream`]) is gone
//!   by then: such a call returns the 401 as [`Error::Api`], and the rejected token is still
//!   dropped, so the next call carries a fresh one. Files are read again.
//! - **Precedence**: headers, from weakest: the builder's defaults, the trait's
//!   `#[headers]`, the method's, a `#[headers]` map argument, `#[header]` arguments. A map
//!   that sets `Authorization` takes the place of the token. Time limits: the builder's, the
//!   trait's, the method's, a `#[timeout]` argument.
//! - **`#[url]`** must be absolute, http(s), without a user name, and on the base URL's
//!   scheme, host and port: the access token goes with it, and a link from a response is
//!   data from a server. `#[url(any_origin)]` lifts that (https unless loopback or
//!   `allow_insecure_http`); a `#[no_auth]` method sends no token and may go anywhere.
//!   Query arguments are added to the URL's own query.
//! - **`#[extension]`** values reach the middleware of a client built with
//!   [`middleware_client`](ClientBuilder::middleware_client) (a retry policy's context, a
//!   tracing span's fields); a plain client has no middleware to give them to.
//!
//! # Errors
//!
//! Every call returns [`Error`]:
//!
//! - [`Error::Token`]: no token could be had ([`TokenError`]: the token endpoint refused
//!   (`oauth_error()` gives `invalid_client`, `invalid_grant`...), timed out, was
//!   unreachable, or answered something that is not a token);
//! - [`Error::Api`]: the server answered a non-success status; [`ApiError`] carries the
//!   status, the headers and the body text;
//! - [`Error::Decode`]: the body did not decode into `T` ([`DecodeError`] keeps a short
//!   excerpt of it);
//! - [`Error::Transport`]: the request could not be sent or the response not received;
//! - [`Error::Request`]: an argument could not be written (a header value with a line
//!   break, an empty or `..` path segment, a `#[url]` off the base URL's origin, a file part
//!   that cannot be opened): nothing was sent;
//! - [`Error::ResponseTooLarge`]: a success body larger than
//!   [`max_response_bytes`](ClientBuilder::max_response_bytes);
//! - [`Error::Build`]: the client could not be built (see [`ClientBuilder::build`]).
//!
//! [`Error::status`] gives the HTTP status wherever there is one. No error, and no
//! `Debug` output of options, tokens or providers, ever shows a secret the client holds:
//! the token endpoint's answers are cleaned of every secret the request carried, and an
//! API's error page of the token it refused (see [Where credentials go](#where-credentials-go)).
//! One thing is shown as the server sent it: the excerpt in a [`DecodeError`], the start
//! of a *successful* response that did not decode (the API's own data).
//!
//! ```
//! # use token_client::{Error, TokenError};
//! fn describe(error: &Error) -> String {
//!     match error {
//!         Error::Api(api) if api.status == 404 => "not found".to_owned(),
//!         Error::Api(api) => format!("server said {}: {}", api.status, api.body),
//!         Error::Token(token) if token.oauth_error() == Some("invalid_client") => {
//!             "check the client id and secret".to_owned()
//!         }
//!         other => other.to_string(),
//!     }
//! }
//! ```
//!
//! # How the provider works
//!
//! [`SharedTokenProvider`] wraps a [`TokenSource`] ([`OAuth2Source`] for a token endpoint
//! described by [`TokenOptions`]) and guarantees:
//!
//! 1. **The hot path takes no lock.** A caller that finds a valid token gets it after an
//!    atomic load and a clock read, on the future's first poll: no mutex, no allocation,
//!    no waiting on a refresh in progress. The cache is looked up when the future is
//!    polled, not when it is created, so a future awaited late never yields a token that
//!    expired in between.
//! 2. **Single flight.** However many callers need a refresh, one request goes to the
//!    token endpoint; the others await that attempt and all receive its result.
//! 3. **Refresh ahead, without waiting.** A token in its early-refresh window (60 s
//!    before expiry, at most half its lifetime) is still handed out at once while one
//!    background refresh runs. Only an absent or expired token makes callers wait.
//! 4. **Cancellation safe.** The refresh runs in its own task: dropping the caller that
//!    started it (a timeout, `select!`) cancels nothing.
//! 5. **Failures are not cached forever.** A failure goes to its waiters, and to new
//!    callers for a one-second cool-down that shields a failing endpoint from a storm;
//!    then the next caller tries again. A still-valid token keeps being served while a
//!    background refresh fails.
//! 6. **Invalidate compares.** After a 401, `invalidate(&token)` drops the token only if
//!    it is still the cached one: a thousand concurrent 401s cause one refresh.
//! 7. **Time is `tokio::time`**, so all of this is tested with paused time.
//!
//! A token's life with a 300 s lifetime:
//!
//! ```text
//!  0 s         fetched ─────────────── served from the cache, lock-free ───────────┐
//!  240 s       early window: served at once ║ one background refresh ║             │
//!  240.2 s     new token stored ─────────── served from the cache ... ◄─────────────┘
//!  (300 s)     old token would have expired: nobody ever waited for it
//! ```
//!
//! Without refresh-ahead (as in a `Mutex` around a cache), every caller arriving
//! between the expiry and the end of the refresh would wait for the token endpoint.
//!
//! ## Runtimes
//!
//! A refresh runs as a tokio task on the runtime of the caller that starts it, and every
//! caller that needs a token waits for it, on whatever runtime. Share a provider only
//! between runtimes that keep being driven (a multi-thread runtime always is; a
//! current-thread runtime only while a thread blocks on it), give each runtime a
//! provider of its own, or name the runtime refreshes run on:
//! `SharedTokenProvider::builder(options).runtime(handle)` ([`ProviderBuilder::runtime`]).
//! Without one, outside any tokio runtime a cached token is still handed out, but none
//! can be fetched: the call fails with [`TokenError::NoRuntime`] instead of hanging. A refresh cut off by its runtime's shutdown fails its waiters with
//! [`TokenError::RefreshAborted`], and the next caller starts a new one.
//!
//! # Where credentials go
//!
//! - The token endpoint is reached by an HTTP client of its own, never the API's: the
//!   API's default headers (an API key) do not reach it. Token requests do not follow
//!   redirects (a 3xx is [`TokenError::Redirect`], naming the status and the host): a
//!   redirect would re-send the client secret, the password or the refresh token
//!   elsewhere. A loopback token endpoint is reached directly, never through a proxy set
//!   in the environment. To give that client root certificates or a proxy:
//!   `SharedTokenProvider::builder(options).http_client_builder(reqwest::Client::builder()...)`
//!   ([`ProviderBuilder::http_client_builder`]).
//! - A token endpoint and a base URL must be `https`, or `http` on a loopback host, unless
//!   the user opts in (`allow_insecure_http(true)` on [`TokenOptions`] and on the client
//!   builder); neither may hold a user name or password.
//! - Errors carry no secret: text from the token endpoint is cleaned of every secret the
//!   request carried (client secret, password, refresh token; raw, form- and
//!   percent-encoded, and the Basic header's base64; signed assertions too), control
//!   characters are escaped so
//!   a server cannot forge a log line, and URLs in errors lose their query. An API's
//!   error page that echoes the access token it refused keeps its text in
//!   [`ApiError::body`] with the token cut out.
//!
//! # Enterprise identity providers
//!
//! What Entra ID, Okta, Keycloak, Auth0, Ping or Curity require or recommend beyond a
//! client secret, each in code and in configuration (the keys below go next to `ClientId`,
//! in PascalCase or snake_case; an error names the key that is wrong).
//!
//! ## Discovery
//!
//! Name the issuer instead of the token endpoint: on first use the source reads
//! `<issuer>/.well-known/openid-configuration` (OIDC Discovery 1.0), or RFC 8414's
//! `/.well-known/oauth-authorization-server`, checks that the document names that issuer,
//! and sends token requests to its `token_endpoint` (to its mutual-TLS alias for a client
//! authenticating with a certificate). Every discovered URL must be `https` (or loopback).
//! The document is read once, and again only after a failure, which is a
//! [`TokenError::Discovery`] naming the URL and why.
//!
//! ```json
//! { "Issuer": "https://login.example.com/tenant", "ClientId": "orders-service", "ClientSecret": "..." }
//! ```
//! ```
//! # use token_client::TokenOptions;
//! let options = TokenOptions::from_issuer("https://login.example.com/tenant", "orders-service")
//!     .client_secret("...");
//! ```
//!
//! ## Client authentication by signed JWT
//!
//! `private_key_jwt` (RFC 7523, OIDC Core 9): no shared secret; each token request carries
//! a one-minute assertion (`iss` = `sub` = the client id, `aud` = the token endpoint, a
//! unique `jti`) signed with the client's key: RS256 (the default), PS256, ES256 or EdDSA,
//! from a PEM given inline or as a file; `KeyId` names the registered key. With
//! `client_secret_jwt` the assertion is signed (HS256) with the client secret, which is
//! never sent. `AssertionAudience: "Issuer"` for servers that want the issuer as `aud`.
//! Keys never appear in `Debug`, errors or logs; assertions a server echoes are cut out.
//!
//! ```json
//! { "Issuer": "https://login.example.com", "ClientId": "orders-service",
//!   "ClientAuth": "PrivateKeyJwt", "PrivateKeyPath": "/run/secrets/orders.pem",
//!   "KeyId": "2026-11", "SigningAlgorithm": "ES256" }
//! ```
//! ```no_run
//! # use token_client::{ClientAuth, SigningAlgorithm, TokenOptions};
//! let options = TokenOptions::from_issuer("https://login.example.com", "orders-service")
//!     .client_auth(ClientAuth::PrivateKeyJwt)
//!     .private_key_path("/run/secrets/orders.pem")
//!     .key_id("2026-11")
//!     .signing_algorithm(SigningAlgorithm::ES256);
//! ```
//!
//! ## Mutual TLS
//!
//! `tls_client_auth` (a certificate from a CA the server trusts) and
//! `self_signed_tls_client_auth` (RFC 8705): the token endpoint's own HTTP client presents
//! the certificate; the request carries the client id and nothing secret.
//!
//! ```json
//! { "TokenEndpoint": "https://mtls.login.example.com/token", "ClientId": "orders-service",
//!   "ClientAuth": "TlsClientAuth", "ClientCertificatePath": "/run/secrets/client.crt",
//!   "ClientCertificateKeyPath": "/run/secrets/client.key" }
//! ```
//!
//! ## The JWT bearer grant
//!
//! RFC 7523 2.1, the "service account" pattern: the assertion signed with the client's
//! key is the grant itself (`GrantType: "JwtBearer"`, `Subject` for whom it acts, the client
//! id by default); [`TokenOptions::jwt_bearer`] in code.
//!
//! ## Resource indicators and per-method scopes
//!
//! `Resource` may be a list (RFC 8707): the token is then meant for those resources. A
//! trait or a method may ask for its own: `#[scope("orders.read")]`,
//! `#[resource("https://orders.example.com")]` (a method's replace the trait's). Each
//! distinct set gets a token of its own, with its own single flight, behind the same
//! provider: one [`SharedTokenProvider`] serves them all, and a method's call still costs
//! one map lookup plus the lock-free read. With the middleware, put a [`TokenScope`] in
//! a request's extensions.
//!
//! # Sharing one provider between clients
//!
//! Clients built with [`token_options`](ClientBuilder::token_options) get a provider of
//! their own. To make several clients (or a client and a middleware) use one token, build
//! the provider once and pass clones: they share the cache.
//!
//! ```no_run
//! # use token_client::{SharedTokenProvider, TokenOptions, token_client};
//! # #[token_client] pub trait Foos { #[get("/foos")] async fn list(&self) -> Result<String, token_client::Error>; }
//! # #[token_client] pub trait Bars { #[get("/bars")] async fn list(&self) -> Result<String, token_client::Error>; }
//! # fn run(options: TokenOptions) -> Result<(), token_client::Error> {
//! let provider = SharedTokenProvider::new(options)?;
//! let foos = FoosClient::builder()
//!     .base_url("https://foos.example.com")
//!     .token_provider(provider.clone())
//!     .build()?;
//! let bars = BarsClient::builder()
//!     .base_url("https://bars.example.com")
//!     .token_provider(provider)
//!     .build()?;
//! # Ok(()) }
//! ```
//!
//! # Running many instances
//!
//! One provider makes one token request per token lifetime; a service deployed as N
//! instances makes N, all at once at every deploy. With the feature `redis`, the instances
//! share one token through a Redis (or Valkey) they already run, and take turns refreshing
//! it: the fleet makes one request per lifetime, and a deploy of any size makes one.
//! Worth it when the identity provider rate-limits or bills per token, or when instances
//! are many; not for a handful of instances of a generous identity provider, where it adds
//! a moving part for little.
//!
//! ```no_run
//! # #[cfg(feature = "redis")]
//! # fn run(options: token_client::TokenOptions, key: [u8; 32]) -> Result<(), Box<dyn std::error::Error>> {
//! use token_client::{RedisTokenStore, SharedTokenProvider};
//!
//! let store = RedisTokenStore::new("redis://cache:6379")? // no I/O: connects on first use
//!     .namespace("orders-service") // one per application
//!     .encryption_key(key); // [u8; 32] from a secret manager, the same on every instance
//! let provider = SharedTokenProvider::builder(options).store(store).build()?;
//! // or, per client: FoosClient::builder().token_options(options).token_store(store)
//! # Ok(()) }
//! ```
//!
//! - **The hot path is unchanged.** Each instance keeps its own cache in front: a valid
//!   token is still an atomic load away, and the store is consulted only when the local
//!   token is absent, due for refresh, or rejected with a 401. A store's token is adopted
//!   when it is not yet due (its time left is read with `PTTL`, never by comparing the
//!   clocks of two hosts).
//! - **One refresh across the fleet.** The instance that needs a refresh takes a lock
//!   (`SET NX PX` with a random value, living twice the token request's timeout plus
//!   twice the store's, plus a second), reads the store again, fetches, then writes the
//!   token and releases the lock in one script, only if it still holds the lock: a holder
//!   that stalled past its lock writes nothing. The others poll briefly, with jitter, and
//!   adopt the new token; if the holder crashed, its lock expires and the next instance
//!   takes over. A failed fetch turns the lock into a failure marker for the cool-down:
//!   the waiting instances fail at once with [`TokenError::SharedRefreshFailed`] (the
//!   holder's error), and the whole fleet backs off together.
//! - **Refresh tokens** (password grant) are shared too: a rotated refresh token, used by
//!   one instance, is revoked for the others, so each refresh uses the one in the store. A
//!   refused one (`invalid_grant`) still falls back to the password grant.
//! - **401**: the rejected token is removed from the store only if it is still the stored
//!   one, so a newer token another instance wrote survives; eight instances rejected at
//!   once make one request.
//!
//! **Engines.** `RedisTokenStore::new("redis://...")` for one Redis or Valkey,
//! `rediss://` with the feature `redis-tls`, and
//! `RedisTokenStore::cluster(["redis://node-1:6379", ...])` for a Redis Cluster with the
//! feature `redis-cluster`.
//!
//! **Keys.** Per token configuration, three keys with one hash tag (so one Redis Cluster
//! slot): `<namespace>:{<hash>}:token`, `:lock` and `:refresh`. The hash covers what makes
//! tokens differ (token endpoint, client id, client authentication, grant and user name,
//! scope, audience, resource, extra parameters) and nothing secret: not the client secret,
//! not the password. Two configurations, or two namespaces, never share a token. Extra
//! parameters are hashed with the rest: keep secrets out of them.
//!
//! **Encryption and rotation.** With [`encryption_key`](RedisTokenStore::encryption_key)
//! every value is sealed with AES-256-GCM, under a random nonce, with the Redis key's name
//! as associated data: a value that does not open (another key, a flipped byte, a value
//! copied under another name) is a miss, fetched again and overwritten, never read as
//! plaintext. To rotate, deploy the new key with the old one as
//! [`previous_encryption_key`](RedisTokenStore::previous_encryption_key) until values
//! written under the old key have expired (at most a token lifetime; 30 days for a refresh
//! token). [`allow_plaintext`](RedisTokenStore::allow_plaintext) stores tokens readable by
//! anyone who can read the Redis; one of the two is required, and `build()` says so.
//!
//! **When Redis is down** (refused, slow, restarted, paused, or holding garbage), no call
//! fails: every store operation has its own timeout (500 ms by default,
//! [`RedisTokenStore::timeout`]), after which the instance fetches on its own, as without a
//! store (at worst one request per instance), logs one warning for the outage (through
//! `tracing`), and tries the store again a second later. The connection is remade on its
//! own when Redis returns, and sharing resumes. `cargo run --example fleet` runs six
//! instances against a local Redis and prints requests per lifetime with and without the
//! store. Other engines implement [`TokenStore`]: bytes with a time to live, a lock, and
//! compare-and-set, nothing more.
//!
//! # The middleware without the macro
//!
//! [`TokenMiddleware`] adds the token to any `reqwest_middleware` client, with the same
//! 401 handling as the generated clients (invalidate, refresh, replay once):
//!
//! ```no_run
//! use token_client::{SharedTokenProvider, TokenMiddleware, TokenOptions};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let options = TokenOptions::client_credentials(
//!     "https://login.example.com/oauth2/token",
//!     "my-service",
//!     std::env::var("CLIENT_SECRET")?,
//! );
//! let provider = SharedTokenProvider::new(options)?;
//! let http = token_client::reqwest_middleware::ClientBuilder::new(token_client::reqwest::Client::new())
//!     .with(TokenMiddleware::new(provider))
//!     .build();
//! let response = http.get("https://foos.example.com/api/v1/foos").send().await?;
//! # Ok(()) }
//! ```
//!
//! `cargo run --example middleware` composes it with `reqwest-retry` (the Rust
//! counterpart of a token `DelegatingHandler` plus Polly) and explains their order.
//!
//! # A token source of your own
//!
//! Tokens that come from somewhere else than an OAuth2 token endpoint (a static token, a
//! file a sidecar rewrites, a cloud metadata endpoint) get the same caching, single
//! flight and refresh-ahead: implement [`TokenSource`] and wrap it in a
//! [`SharedTokenProvider`].
//!
//! ```
//! use std::time::Duration;
//! use token_client::{AccessToken, SharedTokenProvider, TokenError, TokenSource, async_trait};
//!
//! /// Reads the token a sidecar keeps fresh in a file; each token lasts 5 minutes.
//! struct FileToken(std::path::PathBuf);
//!
//! #[async_trait]
//! impl TokenSource for FileToken {
//!     async fn fetch(&self) -> Result<AccessToken, TokenError> {
//!         let secret = tokio::fs::read_to_string(&self.0).await.map_err(TokenError::custom)?;
//!         let expires_at = tokio::time::Instant::now() + Duration::from_secs(300);
//!         Ok(AccessToken::new(secret.trim(), expires_at))
//!     }
//! }
//!
//! let provider = SharedTokenProvider::from_source(FileToken("/run/secrets/token".into()));
//! // `provider` goes to `FoosClient::builder().token_provider(provider)`, or to a
//! // `TokenMiddleware`.
//! ```
//!
//! A source only fetches; the provider decides when. To replace the provider itself
//! (a cache of your own), implement [`TokenProvider`]: its `token` returns a
//! [`TokenFuture`], either [`TokenFuture::ready`] when the token is at hand (no
//! allocation: the hot path of every call) or [`TokenFuture::new`] around a future when it
//! must wait. That enum, rather than `async fn` or `async_trait`, keeps the trait usable
//! as `dyn TokenProvider` without boxing a future on every call.
//!
//! # Testing code that uses a generated client
//!
//! The trait stays yours: code that depends on `Arc<dyn Foos>` (or `impl Foos`) can be
//! given a mock in tests, implemented with [`async_trait`]:
//!
//! ```
//! use std::sync::Arc;
//! use token_client::{async_trait, token_client};
//!
//! #[token_client]
//! pub trait Greeter: Send + Sync {
//!     #[get("/greeting/{name}")]
//!     async fn greet(&self, name: &str) -> Result<String, token_client::Error>;
//! }
//!
//! async fn welcome(greeter: &dyn Greeter) -> String {
//!     greeter.greet("ada").await.unwrap_or_else(|_| "hello".to_owned())
//! }
//!
//! struct FakeGreeter;
//!
//! #[async_trait]
//! impl Greeter for FakeGreeter {
//!     async fn greet(&self, name: &str) -> Result<String, token_client::Error> {
//!         Ok(format!("hi {name}"))
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let greeter: Arc<dyn Greeter> = Arc::new(FakeGreeter);
//! assert_eq!(welcome(&*greeter).await, "hi ada");
//! # }
//! ```
//!
//! # Logs
//!
//! The runtime emits [`tracing`](https://docs.rs/tracing) events: token requests (grant,
//! endpoint host, duration, outcome, OAuth2 error code), refresh-ahead, cool-down, 401
//! retries. Never a token or a secret. Nothing is printed unless the application installs
//! a subscriber.

#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

pub use token_client_macros::token_client;
#[cfg(feature = "redis")]
pub use token_client_runtime::RedisTokenStore;
pub use token_client_runtime::{
    AccessToken, ApiError, ApiResponse, AssertionAudience, BuildError, ByteStream, ClientAuth,
    ClientBuilder, DecodeError, Error, JsonLines, OAuth2Source, Part, ProviderBuilder,
    RefreshPolicy, RefreshToken, SharedTokenProvider, SigningAlgorithm, TokenError, TokenFuture,
    TokenMiddleware, TokenOptions, TokenProvider, TokenScope, TokenSource, async_trait,
};
pub use token_client_runtime::{Loaded, StoreError, StoreKey, StoreLock, TokenStore};

/// The `reqwest` this crate is built on, so users need not match its version.
pub use token_client_runtime::reqwest;
/// The `reqwest-middleware` this crate is built on, so users need not match its version.
pub use token_client_runtime::reqwest_middleware;

/// What generated code calls. Not public API: no semver guarantees.
#[doc(hidden)]
pub mod __private {
    pub use token_client_runtime::__private::*;
}

/// The README's examples, compiled as doctests so they cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
