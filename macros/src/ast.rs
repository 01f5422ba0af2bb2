//! Our model of the annotated trait: what each method and argument means, keeping the
//! original syn nodes for spans and for re-emitting the trait.

use proc_macro2::TokenStream;
use quote::format_ident;
use syn::{FnArg, GenericArgument, Ident, ItemTrait, Pat, PatType, PathArguments, ReturnType};
use syn::{LitStr, TraitItem, TraitItemFn, Type, TypePath};

use crate::attr::Verb;
use crate::attr::{self, ArgAttr, ArgRole, BodyKind, Http, QueryFormat, StaticHeader, Timeout};
use crate::ctxt::Ctxt;
use crate::path::{self, Template};
use crate::scope::TokenAttrs;

/// The annotated trait.
pub(crate) struct Client<'a> {
    /// The trait as written.
    pub(crate) item: &'a ItemTrait,
    /// The name of the generated struct: `FoosClient` or `client = Name`.
    pub(crate) name: Ident,
    /// `base_path = ".."`, without a trailing `/`.
    pub(crate) base_path: String,
    /// Trait-level `#[headers(..)]`.
    pub(crate) headers: Vec<StaticHeader>,
    /// Trait-level `#[scope(..)]` and `#[resource(..)]`.
    pub(crate) token: TokenAttrs,
    /// Trait-level `#[timeout(..)]`.
    pub(crate) timeout: Option<Timeout>,
    /// `query_format = ".."`: the format of query parameters that name none.
    pub(crate) query_format: Option<QueryFormat>,
    pub(crate) methods: Vec<Method<'a>>,
    /// Items other than methods (not supported; reported).
    pub(crate) others: Vec<&'a TraitItem>,
}

pub(crate) struct Method<'a> {
    /// The method as written.
    pub(crate) item: &'a TraitItemFn,
    /// `#[get("..")]` or another verb.
    pub(crate) http: Option<Http>,
    pub(crate) template: Option<Template>,
    /// Method-level `#[headers(..)]`.
    pub(crate) headers: Vec<StaticHeader>,
    pub(crate) no_auth: bool,
    /// Method-level `#[scope(..)]` and `#[resource(..)]`.
    pub(crate) token: TokenAttrs,
    /// `#[multipart]`, as written.
    pub(crate) multipart: Option<syn::Attribute>,
    /// Method-level `#[timeout(..)]`.
    pub(crate) timeout: Option<Timeout>,
    /// Our attributes on the receiver (not supported; reported).
    pub(crate) receiver_attrs: Vec<ArgAttr>,
    /// The typed arguments, receiver excluded.
    pub(crate) args: Vec<Arg<'a>>,
}

pub(crate) struct Arg<'a> {
    /// The argument as written.
    pub(crate) pat: &'a PatType,
    /// Its name, when the pattern is a plain identifier.
    pub(crate) ident: Option<Ident>,
    /// Its name as used in URLs: `r#type` becomes `type`.
    pub(crate) name: String,
    pub(crate) ty: &'a Type,
    /// Our attributes on it, in order.
    pub(crate) attrs: Vec<ArgAttr>,
}

/// Where an argument goes in the request.
pub(crate) enum Binding<'a> {
    /// A path placeholder.
    Path,
    /// A query parameter of this name, in this format (`None`: the trait's default).
    Query {
        name: String,
        format: Option<QueryFormat>,
    },
    /// A valueless query flag of this name.
    QueryFlag(String),
    /// A struct flattened into query parameters.
    QueryStruct,
    Body(&'a BodyKind),
    /// Parts of a `#[multipart]` body under this name; `json`: one JSON part.
    Part {
        name: String,
        json: bool,
    },
    /// `#[headers]`: a map of headers.
    HeaderMap,
    /// `#[timeout]`: this call's time limit.
    Timeout,
    /// `#[extension]`: for the middleware stack.
    Extension,
    /// `#[url]`: the whole URL.
    Url {
        any_origin: bool,
    },
    /// A header; `Option` arguments are skipped when `None`.
    Header {
        name: String,
        /// `T` when the argument is `Option<T>`.
        inner: Option<&'a Type>,
    },
}

/// A generated method that passed every check, holding what the checks found, so that
/// expansion needs no second guess: its verb, its `T`, and each argument's name.
pub(crate) struct Request<'m> {
    pub(crate) method: &'m Method<'m>,
    pub(crate) verb: Verb,
    /// `T` of `Result<T, E>`.
    pub(crate) ok: &'m Type,
    pub(crate) args: Vec<BoundArg<'m>>,
    /// The template, each placeholder resolved to its argument.
    pub(crate) path: Vec<PathPiece<'m>>,
    /// The token it sends, when not the options' own.
    pub(crate) token_scope: Option<TokenScope<'m>>,
}

/// What a method asks of its token in place of the options' scope and resources.
pub(crate) struct TokenScope<'m> {
    /// `#[scope(..)]`, the method's or else the trait's.
    pub(crate) scope: Option<&'m LitStr>,
    /// `#[resource(..)]`s, the method's if it has any, else the trait's.
    pub(crate) resources: &'m [LitStr],
}

/// A checked argument: a plain name, and where it goes.
pub(crate) struct BoundArg<'m> {
    pub(crate) ident: &'m Ident,
    pub(crate) ty: &'m Type,
    pub(crate) binding: Binding<'m>,
}

/// A piece of a checked template.
pub(crate) enum PathPiece<'m> {
    Lit(&'m str),
    /// `{name}`, or `{**name}` when `rest`, bound to the argument `ident: ty`.
    Var {
        name: &'m str,
        rest: bool,
        ident: &'m Ident,
        ty: &'m Type,
    },
}

impl<'a> Client<'a> {
    /// Builds the model, recording every mistake in `cx`.
    pub(crate) fn from_syn(cx: &Ctxt, item: &'a ItemTrait, args: TokenStream) -> Self {
        let args = attr::parse_trait_args(cx, args);
        let name = args
            .client
            .unwrap_or_else(|| format_ident!("{}Client", item.ident));
        let base_path = args
            .base_path
            .map(|lit| base_path(cx, &lit))
            .unwrap_or_default();
        let attr::TraitAttrs {
            headers,
            token,
            timeout,
        } = attr::parse_trait_attrs(cx, &item.attrs);
        let (mut methods, mut others) = (Vec::new(), Vec::new());
        for trait_item in &item.items {
            match trait_item {
                TraitItem::Fn(f) => methods.push(Method::from_syn(cx, f)),
                other => others.push(other),
            }
        }
        Client {
            item,
            name,
            base_path,
            headers,
            token,
            timeout,
            query_format: args.query_format,
            methods,
            others,
        }
    }

    /// The methods the client implements (those without a default body).
    pub(crate) fn generated(&self) -> impl Iterator<Item = &Method<'a>> {
        self.methods.iter().filter(|m| m.item.default.is_none())
    }

    /// Whether any generated method needs a token.
    pub(crate) fn requires_auth(&self) -> bool {
        self.generated().any(|m| !m.no_auth)
    }

    /// What `method` asks of its token: its own `#[scope]` and `#[resource]`s, each in
    /// place of the trait's; `None` for the options' own token (nothing given anywhere, or
    /// `#[no_auth]`).
    pub(crate) fn token_scope<'m>(&'m self, method: &'m Method<'a>) -> Option<TokenScope<'m>> {
        if method.no_auth {
            return None;
        }
        let scope = method.token.scope.as_ref().or(self.token.scope.as_ref());
        let own = &method.token.resources;
        let resources = if own.is_empty() {
            &self.token.resources
        } else {
            own
        };
        (scope.is_some() || !resources.is_empty()).then_some(TokenScope { scope, resources })
    }
}

/// Checks `base_path` and removes its trailing `/`.
fn base_path(cx: &Ctxt, lit: &syn::LitStr) -> String {
    let value = lit.value();
    let ok = value.is_empty() || (value.starts_with('/') && !value.contains(['{', '}', '?', '#']));
    if !ok {
        cx.error_spanned_by(lit, format!("invalid base path `{value}`; expected fixed text starting with `/`, such as `/api/v1`"));
    }
    value.trim_end_matches('/').to_owned()
}

impl<'a> Method<'a> {
    fn from_syn(cx: &Ctxt, item: &'a TraitItemFn) -> Self {
        let attrs = attr::parse_method_attrs(cx, &item.attrs);
        let template = attrs
            .http
            .as_ref()
            .and_then(|h| h.template.as_ref())
            .map(|lit| path::parse(cx, lit));
        let receiver_attrs = item
            .sig
            .receiver()
            .map(|r| attr::parse_arg_attrs(cx, &r.attrs))
            .unwrap_or_default();
        let args = item.sig.inputs.iter().filter_map(|input| match input {
            FnArg::Typed(pat) => Some(Arg::from_syn(cx, pat)),
            FnArg::Receiver(_) => None,
        });
        let args = args.collect();
        let attr::MethodAttrs {
            http,
            headers,
            no_auth,
            token,
            multipart,
            timeout,
        } = attrs;
        Method {
            item,
            http,
            template,
            headers,
            no_auth,
            token,
            multipart,
            timeout,
            receiver_attrs,
            args,
        }
    }

    pub(crate) fn ident(&self) -> &Ident {
        &self.item.sig.ident
    }

    /// `T` of the return type `Result<T, E>`, if the method returns a `Result`, or an
    /// alias of one whose name ends in `Result` (`ApiResult<T>`, `io::Result<T>`): rustc
    /// then checks that it is one.
    pub(crate) fn ok_type(&self) -> Option<&'a Type> {
        let ReturnType::Type(_, ty) = &self.item.sig.output else {
            return None;
        };
        let Type::Path(path) = peel(ty) else {
            return None;
        };
        let last = path.path.segments.last()?;
        last.ident.to_string().ends_with("Result").then_some(())?;
        let args = match &last.arguments {
            PathArguments::AngleBracketed(args) => args.args.iter().collect::<Vec<_>>(),
            _ => return None,
        };
        (1..=2).contains(&args.len()).then_some(())?;
        match args.first()? {
            GenericArgument::Type(ok) => Some(ok),
            _ => None,
        }
    }

    /// The argument whose URL name is `name`.
    pub(crate) fn arg(&self, name: &str) -> Option<&Arg<'a>> {
        self.args.iter().find(|arg| arg.name == name)
    }

    /// Where `arg` goes: its first attribute of ours, else its path placeholder, else a
    /// part of a `#[multipart]` method or a query parameter, named after it.
    pub(crate) fn binding<'m>(&'m self, arg: &'m Arg<'a>) -> Binding<'m> {
        let named = |rename: &Option<LitStr>| {
            rename
                .as_ref()
                .map_or_else(|| arg.name.clone(), LitStr::value)
        };
        match arg.attrs.first().map(|a| &a.role) {
            Some(ArgRole::Query { name, format }) => Binding::Query {
                name: named(name),
                format: *format,
            },
            Some(ArgRole::QueryFlag(name)) => Binding::QueryFlag(named(name)),
            Some(ArgRole::Part { name, json }) => Binding::Part {
                name: named(name),
                json: *json,
            },
            Some(ArgRole::HeaderMap) => Binding::HeaderMap,
            Some(ArgRole::Timeout) => Binding::Timeout,
            Some(ArgRole::Extension) => Binding::Extension,
            Some(ArgRole::Url { any_origin }) => Binding::Url {
                any_origin: *any_origin,
            },
            Some(ArgRole::QueryFlatten) => Binding::QueryStruct,
            Some(ArgRole::Body(kind)) => Binding::Body(kind),
            Some(ArgRole::Header(lit)) => Binding::Header {
                name: lit.value(),
                inner: option_inner(arg.ty),
            },
            None if self
                .template
                .as_ref()
                .is_some_and(|t| t.var(&arg.name).is_some()) =>
            {
                Binding::Path
            }
            None if self.multipart.is_some() => Binding::Part {
                name: arg.name.clone(),
                json: false,
            },
            None => Binding::Query {
                name: arg.name.clone(),
                format: None,
            },
        }
    }
}

impl<'a> Arg<'a> {
    fn from_syn(cx: &Ctxt, pat: &'a PatType) -> Self {
        let ident = match &*pat.pat {
            Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => Some(p.ident.clone()),
            _ => None,
        };
        let name = ident.as_ref().map(unraw).unwrap_or_default();
        let attrs = attr::parse_arg_attrs(cx, &pat.attrs);
        Arg {
            pat,
            ident,
            name,
            ty: &pat.ty,
            attrs,
        }
    }
}

/// The name of an identifier without `r#`.
pub(crate) fn unraw(ident: &Ident) -> String {
    let name = ident.to_string();
    name.strip_prefix("r#").map(str::to_owned).unwrap_or(name)
}

/// The generic arguments of `ty` when its last path segment is `name`.
pub(crate) fn generic_args<'t>(ty: &'t Type, name: &str) -> Option<Vec<&'t GenericArgument>> {
    let Type::Path(path) = peel(ty) else {
        return None;
    };
    let last = path.path.segments.last().filter(|s| s.ident == name)?;
    match &last.arguments {
        PathArguments::AngleBracketed(args) => Some(args.args.iter().collect()),
        _ => Some(Vec::new()),
    }
}

/// The generic arguments of `ty` when it is written as one of `paths` (a leading `::`
/// allowed), arguments on the last segment only.
pub(crate) fn path_args<'t>(ty: &'t Type, paths: &[&[&str]]) -> Option<Vec<&'t GenericArgument>> {
    let Type::Path(TypePath { qself: None, path }) = peel(ty) else {
        return None;
    };
    let segments = &path.segments;
    let last = segments.last()?;
    let init = segments.iter().take(segments.len() - 1);
    let plain = init.into_iter().all(|s| s.arguments.is_none());
    let written = segments.iter().map(|s| &s.ident);
    let known = paths.iter().any(|p| written.clone().eq(p.iter().copied()));
    (plain && known).then_some(())?;
    match &last.arguments {
        PathArguments::AngleBracketed(args) => Some(args.args.iter().collect()),
        PathArguments::None => Some(Vec::new()),
        PathArguments::Parenthesized(_) => None,
    }
}

/// `T` when `ty` is written `Option<T>` (by its last path segment).
pub(crate) fn option_inner(ty: &Type) -> Option<&Type> {
    match generic_args(ty, "Option")?.as_slice() {
        [GenericArgument::Type(inner)] => Some(inner),
        _ => None,
    }
}

/// `U` for `&U`, `&&U`... with the number of references removed.
pub(crate) fn strip_refs(ty: &Type) -> (&Type, usize) {
    match peel(ty) {
        Type::Reference(r) => {
            let (inner, depth) = strip_refs(&r.elem);
            (inner, depth + 1)
        }
        _ => (ty, 0),
    }
}

/// Removes invisible groups and parentheses around a type.
pub(crate) fn peel(ty: &Type) -> &Type {
    match ty {
        Type::Group(group) => peel(&group.elem),
        Type::Paren(paren) => peel(&paren.elem),
        other => other,
    }
}
