//! Cross-checks of the model: what no single attribute can tell. Every mistake is
//! recorded; nothing stops at the first.

use syn::{FnArg, GenericParam, Type};

use crate::ast::{Arg, Binding, BoundArg, Client, Method, PathPiece, Request};
use crate::attr::{ArgAttr, Verb};
use crate::ctxt::Ctxt;
use crate::path::Piece;

/// Names the generated client already uses, with what uses them.
const GENERATED: [(&str, &str); 5] = [
    ("builder", "the generated `builder()`"),
    ("clone", "`Clone::clone` of the generated client"),
    ("clone_from", "`Clone::clone_from` of the generated client"),
    ("fmt", "`Debug::fmt` of the generated client"),
    ("from_core", "`FromCore::from_core` of the generated client"),
];

/// Checks the whole trait; returns the requests of the generated methods, complete
/// when nothing was reported.
pub(crate) fn check<'m>(cx: &Ctxt, client: &'m Client<'m>) -> Vec<Request<'m>> {
    check_trait(cx, client);
    for method in &client.methods {
        check_method(cx, method);
    }
    client
        .generated()
        .filter_map(|method| request(client, method))
        .collect()
}

/// The request of a generated method; `None` only where a check above has reported why.
fn request<'m>(client: &'m Client<'m>, method: &'m Method<'m>) -> Option<Request<'m>> {
    let verb = method.http.as_ref()?.verb;
    let ok = method.ok_type()?;
    let bind = |arg: &'m Arg<'m>| {
        let binding = method.binding(arg);
        Some(BoundArg {
            ident: arg.ident.as_ref()?,
            ty: arg.ty,
            binding,
        })
    };
    let args = method.args.iter().map(bind).collect::<Option<_>>()?;
    let pieces = method.template.as_ref().map_or(&[][..], |t| &t.pieces[..]);
    let path = pieces.iter().map(|piece| path_piece(method, piece));
    let path = path.collect::<Option<_>>()?;
    Some(Request {
        method,
        verb,
        ok,
        args,
        path,
        token_scope: client.token_scope(method),
    })
}

/// A template piece with its placeholder resolved to its argument.
fn path_piece<'m>(method: &'m Method<'m>, piece: &'m Piece) -> Option<PathPiece<'m>> {
    match piece {
        Piece::Lit(text) => Some(PathPiece::Lit(text)),
        Piece::Var(var) => {
            let arg = method.arg(&var.name)?;
            Some(PathPiece::Var {
                name: &var.name,
                rest: var.rest,
                ident: arg.ident.as_ref()?,
                ty: arg.ty,
            })
        }
    }
}

fn check_trait(cx: &Ctxt, client: &Client) {
    let generics = &client.item.generics;
    if let Some(param) = generics.params.first() {
        cx.error_spanned_by(
            param,
            "generic traits are not supported by `#[token_client]`",
        );
    }
    for other in &client.others {
        cx.error_spanned_by(
            other,
            "only methods are supported in a `#[token_client]` trait",
        );
    }
    if client.generated().next().is_some() && !client.requires_auth() {
        for path in &client.token.written {
            let msg = format!(
                "`#[{}]` on the trait means nothing here: every method is `#[no_auth]` and sends no token",
                path_name(path)
            );
            cx.error_spanned_by(path, msg);
        }
    }
}

fn check_method(cx: &Ctxt, method: &Method) {
    if method.http.is_none() && method.item.default.is_some() {
        return; // a provided helper method of the user's: left alone
    }
    check_http(cx, method);
    check_token(cx, method);
    check_signature(cx, method);
    check_args(cx, method);
    check_placeholders(cx, method);
    check_bodies(cx, method);
    check_multipart(cx, method);
    check_url(cx, method);
    check_single_args(cx, method);
}

/// Checks `#[multipart]` against the verb and the arguments: no `#[body]` beside it, no
/// `#[part]` without it.
fn check_multipart(cx: &Ctxt, method: &Method) {
    let Some(multipart) = &method.multipart else {
        for arg in &method.args {
            if let Binding::Part { .. } = method.binding(arg) {
                let msg = format!(
                    "`#[part]` needs `#[multipart]` on the method; without it, send `{}` as the `#[body]`",
                    arg.name
                );
                cx.error_spanned_by(arg.attrs[0].attr.path(), msg);
            }
        }
        return;
    };
    if let Some(http) = method.http.as_ref().filter(|h| !h.verb.allows_body()) {
        let msg = format!(
            "`#[{}]` requests cannot have a body; a `#[multipart]` method is `#[post]`, `#[put]` or `#[patch]`",
            http.verb.name()
        );
        cx.error_spanned_by(multipart.path(), msg);
    }
    for arg in &method.args {
        if let Binding::Body(_) = method.binding(arg) {
            let msg = format!(
                "`#[body]` cannot go with `#[multipart]`, whose arguments are the parts of the body; mark `{}` `#[part]`, or remove `#[multipart]`",
                arg.name
            );
            cx.error_spanned_by(arg.attrs[0].attr.path(), msg);
        }
    }
}

/// Checks that a method has a path template, or a `#[url]` argument and none.
fn check_url(cx: &Ctxt, method: &Method) {
    let Some(http) = &method.http else {
        return;
    };
    let url = method
        .args
        .iter()
        .find(|arg| matches!(method.binding(arg), Binding::Url { .. }));
    let name = http.verb.name();
    match (url, &http.template, &http.bare) {
        (Some(arg), Some(template), _) => {
            let msg = format!(
                "a method with a `#[url]` argument takes its whole URL from `{}`; write `#[{name}]` without a path",
                arg.name
            );
            cx.error_spanned_by(template, msg);
        }
        (None, None, Some(bare)) => {
            let msg = format!(
                "expected a path template string: `#[{name}(\"/foos/{{id}}\")]` (or a `#[url]` argument holding the whole URL)"
            );
            cx.error_spanned_by(&bare.meta, msg);
        }
        _ => {}
    }
}

/// Checks that each argument role that can be taken once is: `#[headers]`, `#[timeout]`,
/// `#[url]`.
fn check_single_args(cx: &Ctxt, method: &Method) {
    type Role = (&'static str, fn(&Binding) -> bool);
    const ONCE: [Role; 3] = [
        ("headers", |b| matches!(b, Binding::HeaderMap)),
        ("timeout", |b| matches!(b, Binding::Timeout)),
        ("url", |b| matches!(b, Binding::Url { .. })),
    ];
    for (name, is) in ONCE {
        let args: Vec<&Arg> = method
            .args
            .iter()
            .filter(|arg| is(&method.binding(arg)))
            .collect();
        if let [first, rest @ ..] = args.as_slice() {
            for arg in rest {
                let msg = format!(
                    "a method takes at most one `#[{name}]` argument; `{}` is already the one",
                    first.name
                );
                cx.error_spanned_by(arg.attrs[0].attr.path(), msg);
            }
        }
    }
}

/// Checks the HTTP attribute and the absence of a default body.
fn check_http(cx: &Ctxt, method: &Method) {
    let Some(http) = &method.http else {
        let msg = format!(
            "method `{}` has no HTTP attribute; expected one of {}",
            method.ident(),
            verb_list()
        );
        return cx.error_spanned_by(method.ident(), msg);
    };
    if let Some(block) = &method.item.default {
        let msg = format!(
            "`#[{}]` methods are generated; remove this default body",
            http.verb.name()
        );
        cx.error_spanned_by(block, msg);
    }
}

/// Checks that a `#[no_auth]` method asks nothing of the token it does not send.
fn check_token(cx: &Ctxt, method: &Method) {
    if !method.no_auth {
        return;
    }
    for path in &method.token.written {
        let msg = format!(
            "`#[{}]` means nothing on a `#[no_auth]` method, which sends no token; remove one of them",
            path_name(path)
        );
        cx.error_spanned_by(path, msg);
    }
}

/// The name of a single-segment attribute path, for messages.
fn path_name(path: &syn::Path) -> String {
    path.get_ident()
        .map(ToString::to_string)
        .unwrap_or_default()
}

/// `` `#[get("/path")]`, `#[post(..)]`, ..`` for every verb.
fn verb_list() -> String {
    let each = Verb::ALL.iter().enumerate().map(|(i, verb)| {
        let args = if i == 0 { "(\"/path\")" } else { "(..)" };
        format!("`#[{}{args}]`", verb.name())
    });
    each.collect::<Vec<_>>().join(", ")
}

/// Checks `async`, `&self`, generics, the return type and the name.
fn check_signature(cx: &Ctxt, method: &Method) {
    let sig = &method.item.sig;
    if sig.asyncness.is_none() {
        cx.error_spanned_by(sig.fn_token, format!("expected `async fn {}`", sig.ident));
    }
    check_receiver(cx, method);
    let type_param = sig
        .generics
        .params
        .iter()
        .find(|p| !matches!(p, GenericParam::Lifetime(_)));
    if let Some(param) = type_param {
        cx.error_spanned_by(
            param,
            "generic methods are not supported; expected concrete argument types",
        );
    }
    if method.ok_type().is_none() {
        let msg = "expected the return type `Result<T, E>`, with `E: From<token_client::Error>`, or an alias of it whose name ends in `Result` (`type ApiResult<T> = Result<T, MyError>;` then `ApiResult<T>`)";
        match &sig.output {
            syn::ReturnType::Type(_, ty) => cx.error_spanned_by(ty, msg),
            syn::ReturnType::Default => cx.error_spanned_by(&sig.ident, msg),
        }
    }
    if let Some((_, what)) = GENERATED.iter().find(|(name, _)| sig.ident == name) {
        let msg = format!(
            "method name `{}` clashes with {what}; rename the method",
            sig.ident
        );
        cx.error_spanned_by(&sig.ident, msg);
    }
}

/// Checks that the method takes `&self`.
fn check_receiver(cx: &Ctxt, method: &Method) {
    let sig = &method.item.sig;
    let Some(FnArg::Receiver(receiver)) = sig.inputs.first() else {
        let msg = format!(
            "method `{}` has no receiver; expected `&self` as its first argument",
            sig.ident
        );
        return cx.error_spanned_by(&sig.ident, msg);
    };
    let shared_ref = receiver.colon_token.is_none()
        && receiver.reference.is_some()
        && receiver.mutability.is_none();
    if !shared_ref {
        cx.error_spanned_by(
            receiver,
            "expected `&self`; the client is shared, so methods take it by shared reference",
        );
    }
    for attr in &method.receiver_attrs {
        cx.error_spanned_by(attr.attr.path(), "`self` cannot be bound to the request");
    }
}

/// Checks each argument on its own: a plain name, a concrete type, one role.
fn check_args(cx: &Ctxt, method: &Method) {
    for arg in &method.args {
        match &arg.ident {
            None => cx.error_spanned_by(
                &arg.pat.pat,
                "expected an argument name; patterns cannot be bound to the request",
            ),
            Some(ident) if is_reserved(&arg.name) => cx.error_spanned_by(
                ident,
                "argument names starting with `__tc_`, in any case, are reserved for generated code",
            ),
            Some(_) => {}
        }
        if let Binding::Extension = method.binding(arg)
            && borrows(arg.ty)
        {
            let msg = format!(
                "`#[extension]` argument `{}` borrows: request extensions travel with the request into the middleware stack, so they must be owned (`'static`); pass an owned value (`String`, an `Arc<..>`, a struct that owns its data)",
                arg.name
            );
            cx.error_spanned_by(arg.ty, msg);
        }
        if is_impl_trait(arg.ty) {
            cx.error_spanned_by(
                arg.ty,
                "`impl Trait` arguments are not supported; expected a concrete type",
            );
        }
        for extra in arg.attrs.iter().skip(1) {
            let msg = format!(
                "argument `{}` is bound twice: by `#[{}]` and by `#[{}]`",
                arg.name,
                role(&arg.attrs[0]),
                role(extra)
            );
            cx.error_spanned_by(extra.attr.path(), msg);
        }
    }
}

/// Whether a name is reserved for generated code: `__tc_` in any case (`__TC_TOKEN_SCOPE`
/// is a generated static).
fn is_reserved(name: &str) -> bool {
    name.get(..5)
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case("__tc_"))
}

/// Checks the template's placeholders against the arguments.
fn check_placeholders(cx: &Ctxt, method: &Method) {
    let Some(template) = &method.template else {
        return;
    };
    for var in template.vars() {
        let written = if var.rest {
            format!("{{**{}}}", var.name)
        } else {
            format!("{{{}}}", var.name)
        };
        let Some(arg) = method.arg(&var.name) else {
            cx.error_at(
                var.span,
                format!("path placeholder `{written}` has no matching argument"),
            );
            continue;
        };
        if let Some(attr) = arg.attrs.first() {
            let msg = format!(
                "argument `{}` is bound twice: to the path placeholder `{written}` and by `#[{}]`",
                arg.name,
                role(attr)
            );
            cx.error_spanned_by(attr.attr.path(), msg);
        }
    }
}

/// Checks that there is at most one body, and none on `GET` or `HEAD`.
fn check_bodies(cx: &Ctxt, method: &Method) {
    let bodies: Vec<&Arg> = method
        .args
        .iter()
        .filter(|a| matches!(method.binding(a), Binding::Body(_)))
        .collect();
    if let [first, rest @ ..] = bodies.as_slice() {
        for arg in rest {
            let msg = format!(
                "a method takes at most one `#[body]`; `{}` is already the body",
                first.name
            );
            cx.error_spanned_by(arg.attrs[0].attr.path(), msg);
        }
    }
    let Some(http) = method.http.as_ref().filter(|h| !h.verb.allows_body()) else {
        return;
    };
    for arg in &bodies {
        let msg = format!(
            "`#[{}]` requests cannot have a body; send `{}` with `#[post]`, `#[put]` or `#[patch]`, or as `#[query]`",
            http.verb.name(),
            arg.name
        );
        cx.error_spanned_by(arg.attrs[0].attr.path(), msg);
    }
}

/// The attribute name of a role, for messages.
fn role(attr: &ArgAttr) -> &'static str {
    attr.role.ours().name()
}

/// Whether a type, as written, borrows: a reference or a lifetime other than `'static`
/// (elided ones included), anywhere in it.
fn borrows(ty: &Type) -> bool {
    let not_static = |lifetime: &syn::Lifetime| lifetime.ident != "static";
    match ty {
        Type::Reference(r) => r.lifetime.as_ref().is_none_or(not_static) || borrows(&r.elem),
        Type::Path(p) => {
            let qself = p.qself.as_ref().is_some_and(|q| borrows(&q.ty));
            let args = p
                .path
                .segments
                .iter()
                .flat_map(|segment| match &segment.arguments {
                    syn::PathArguments::AngleBracketed(args) => args.args.iter().collect(),
                    _ => Vec::new(),
                });
            qself
                || args.into_iter().any(|arg| match arg {
                    syn::GenericArgument::Lifetime(lifetime) => not_static(lifetime),
                    syn::GenericArgument::Type(ty) => borrows(ty),
                    _ => false,
                })
        }
        Type::Tuple(t) => t.elems.iter().any(borrows),
        Type::Array(a) => borrows(&a.elem),
        Type::Slice(s) => borrows(&s.elem),
        Type::Group(g) => borrows(&g.elem),
        Type::Paren(p) => borrows(&p.elem),
        _ => false,
    }
}

/// Whether a type is `impl Trait` (possibly behind a reference).
fn is_impl_trait(ty: &Type) -> bool {
    match ty {
        Type::ImplTrait(_) => true,
        Type::Reference(r) => is_impl_trait(&r.elem),
        Type::Group(g) => is_impl_trait(&g.elem),
        Type::Paren(p) => is_impl_trait(&p.elem),
        _ => false,
    }
}
