//! Procedural macros of `token-client` (in progress: `#[token_client]` is being built).

/// Turns an annotated trait into a typed HTTP client (not implemented yet: passes the
/// item through unchanged).
#[proc_macro_attribute]
pub fn token_client(
    _args: proc_macro::TokenStream,
    input: proc_macro::TokenStream,
) -> proc_macro::TokenStream {
    input
}
