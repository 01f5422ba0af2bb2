//! The path templates of `#[token_client]` (`macros/src/path.rs`, compiled in here: a
//! proc-macro crate cannot be linked into a fuzzer; proc-macro2 runs outside a macro).
//!
//! Input: UTF-8 text, parsed twice: as a template's value (`LitStr::new`, as a macro sees
//! `"..."`), and, when it is one, as a string literal token as written in source (raw
//! strings, escapes: what `Spans` maps error positions through).
//!
//! Must hold for any input: no panic; a rejected template has at least one error, each
//! with a message; an accepted template starts with `/` (or is empty), has no `?` or `#`,
//! and its pieces, joined back with `{name}` / `{**name}`, give the input; literal pieces
//! hold no brace and are never adjacent; each placeholder name is a Rust identifier (not
//! `_`); a catch-all ends the template.

#![no_main]

use libfuzzer_sys::fuzz_target;
use proc_macro2::Span;
use syn::LitStr;

#[allow(dead_code)]
#[path = "../../macros/src/ctxt.rs"]
mod ctxt;
#[allow(dead_code)]
#[path = "../../macros/src/path.rs"]
mod path;

use ctxt::Ctxt;
use path::{Piece, Template};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    check(&LitStr::new(text, Span::call_site()));
    if let Ok(lit) = syn::parse_str::<LitStr>(text) {
        check(&lit);
    }
});

fn check(lit: &LitStr) {
    let value = lit.value();
    let cx = Ctxt::new();
    let template = path::parse(&cx, lit);
    match cx.check() {
        Ok(()) => check_accepted(&value, &template),
        Err(errors) => {
            // What the macro emits for a rejected template: `compile_error!`s.
            assert!(!errors.to_compile_error().is_empty());
            let messages: Vec<String> = errors.into_iter().map(|e| e.to_string()).collect();
            assert!(!messages.is_empty());
            assert!(messages.iter().all(|m| !m.is_empty()));
        }
    }
}

fn check_accepted(value: &str, template: &Template) {
    assert!(
        value.is_empty() || value.starts_with('/'),
        "accepted {value:?}, which does not start with `/`"
    );
    assert!(
        !value.contains(['?', '#']),
        "accepted {value:?}, which has `?` or `#`"
    );

    let mut joined = String::new();
    let mut previous_lit = false;
    let last = template.pieces.len().saturating_sub(1);
    for (i, piece) in template.pieces.iter().enumerate() {
        match piece {
            Piece::Lit(text) => {
                assert!(!text.is_empty(), "empty literal piece in {value:?}");
                assert!(
                    !text.contains(['{', '}']),
                    "brace in literal piece {text:?} of {value:?}"
                );
                assert!(!previous_lit, "adjacent literal pieces in {value:?}");
                previous_lit = true;
                joined.push_str(text);
            }
            Piece::Var(var) => {
                previous_lit = false;
                assert!(
                    is_rust_identifier(&var.name),
                    "placeholder name {:?} of {value:?} is not a Rust identifier",
                    var.name
                );
                assert!(!var.rest || i == last, "catch-all not last in {value:?}");
                assert!(template.var(&var.name).is_some());
                joined.push_str(if var.rest { "{**" } else { "{" });
                joined.push_str(&var.name);
                joined.push('}');
            }
        }
    }
    assert_eq!(joined, value, "pieces do not give the template back");
}

/// Whether `name` is an identifier (keywords included: `{type}` names `r#type`): XID_Start
/// or `_`, then XID_Continue, as rustc and proc-macro2 decide; not `_` alone.
fn is_rust_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    (first == '_' || unicode_ident::is_xid_start(first))
        && chars.all(unicode_ident::is_xid_continue)
        && name != "_"
}
