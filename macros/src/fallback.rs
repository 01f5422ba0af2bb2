//! What is emitted when the input is wrong (thiserror's fallback): beside the
//! `compile_error!`s, the trait and a stub client with the same items, method bodies
//! `unimplemented!()`, so users see only their mistakes, not a cascade of "cannot find
//! type `FoosClient`" or "not all trait items implemented".

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::quote;
use syn::spanned::Spanned;

use crate::ast::Client;
use crate::attr;
use crate::expand::{client_items, impl_block, impl_sig};

/// The errors, with the client's items and a stub impl.
pub(crate) fn expand(client: &Client, err: &syn::Error) -> TokenStream {
    let errors = err.to_compile_error();
    let items = client_items(client, stub_impl(client));
    quote!(#errors #items)
}

/// The error for anything but a trait; the input is passed through untouched.
pub(crate) fn not_a_trait(input: TokenStream) -> TokenStream {
    let span = syn::parse2::<syn::Item>(input.clone())
        .map_or_else(|err| err.span(), |item| item_span(&item));
    let msg = "`#[token_client]` expects a trait: `#[token_client] pub trait Foos { .. }`";
    let error = syn::Error::new(span, msg).to_compile_error();
    quote!(#error #input)
}

/// The span of an item's keyword, where the "expects a trait" error points.
fn item_span(item: &syn::Item) -> Span {
    let mut tokens = quote!(#item)
        .into_iter()
        .skip_while(|t| matches!(t, TokenTree::Punct(_)));
    tokens
        .find(|t| matches!(t, TokenTree::Ident(_)))
        .map_or_else(|| item.span(), |t| t.span())
}

/// The stub impl: same signatures and `cfg`s, bodies `unimplemented!()`.
fn stub_impl(client: &Client) -> TokenStream {
    if !client.others.is_empty() || !client.item.generics.params.is_empty() {
        return TokenStream::new(); // the impl could not match the trait: better none
    }
    let methods = client.generated().map(|m| {
        let (cfgs, sig) = (attr::cfgs(&m.item.attrs), impl_sig(m));
        quote!(#(#cfgs)* #sig { ::core::unimplemented!() })
    });
    impl_block(
        client,
        quote!(#(#methods)*),
        quote!(#[allow(unused_variables)]),
    )
}
