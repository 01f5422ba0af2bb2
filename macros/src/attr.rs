//! Our attributes: `#[get("/path")]` and the other verbs, `#[headers(..)]`, `#[no_auth]`,
//! `#[multipart]` on methods; `#[query]`, `#[body]`, `#[header(..)]`, `#[headers]`,
//! `#[part]`, `#[timeout]`, `#[extension]`, `#[url]` on arguments; `#[headers(..)]` on the
//! trait; `#[scope(..)]`, `#[resource(..)]` (parsed in `scope`) and `#[timeout(..)]` on
//! both; and the arguments of `#[token_client(..)]` itself.
//!
//! Rule for attributes that are not ours: they are kept and passed through to the
//! generated trait, except single-segment names that look like a misspelling of ours
//! (same name in another case, or within one edit for names of up to four letters and
//! two edits beyond, `doc`/`cfg`/`allow`/... excepted); those are reported with the
//! name we expected.

use proc_macro2::{Span, TokenStream};
use syn::punctuated::Punctuated;
use syn::{Attribute, Expr, Ident, Lit, LitStr, Meta, Token};

use crate::ctxt::Ctxt;
use crate::scope::TokenAttrs;

/// An HTTP method attribute.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verb {
    Get,
    Post,
    Put,
    Patch,
    Delete,
    Head,
    Options,
}

impl Verb {
    /// Every verb, in the order messages list them.
    pub(crate) const ALL: [Verb; 7] = [
        Verb::Get,
        Verb::Post,
        Verb::Put,
        Verb::Patch,
        Verb::Delete,
        Verb::Head,
        Verb::Options,
    ];

    /// The attribute name: `get`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::Post => "post",
            Verb::Put => "put",
            Verb::Patch => "patch",
            Verb::Delete => "delete",
            Verb::Head => "head",
            Verb::Options => "options",
        }
    }

    /// The constant of `http::Method`: `GET`.
    pub(crate) fn constant(self) -> Ident {
        Ident::new(&self.name().to_ascii_uppercase(), Span::call_site())
    }

    /// Whether requests of this method may carry a body.
    pub(crate) fn allows_body(self) -> bool {
        !matches!(self, Verb::Get | Verb::Head)
    }
}

/// `#[get("/foos/{id}")]`, or `#[get]` for a method with a `#[url]` argument.
pub(crate) struct Http {
    pub(crate) verb: Verb,
    /// The path template as written; `None` when bare or not a string.
    pub(crate) template: Option<LitStr>,
    /// `#[get]` without arguments: valid only with a `#[url]` argument (checked in `valid`).
    pub(crate) bare: Option<Attribute>,
}

/// One `"Name: value"` of `#[headers(..)]`.
pub(crate) struct StaticHeader {
    /// The header name, trimmed.
    pub(crate) name: String,
    /// The header value, trimmed.
    pub(crate) value: String,
    /// The literal, for spans.
    pub(crate) lit: LitStr,
}

/// How a `#[body]` argument is encoded.
pub(crate) enum BodyKind {
    /// `#[body]` or `#[body(json)]`.
    Json,
    /// `#[body(form)]`: `application/x-www-form-urlencoded`.
    Form,
    /// `#[body(text = "text/plain")]`.
    Text(LitStr),
    /// `#[body(bytes = "application/octet-stream")]`.
    Bytes(LitStr),
    /// `#[body(stream = "application/octet-stream")]`: an `Into<reqwest::Body>`, streamed.
    Stream(LitStr),
}

/// How a sequence is written in a query (OpenAPI's collection formats).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum QueryFormat {
    /// `a=1&a=2` (the default).
    Multi,
    /// `a=1,2`.
    Csv,
    /// `a=1%202`.
    Ssv,
    /// `a=1|2`.
    Pipes,
}

impl QueryFormat {
    const ALL: [(&'static str, QueryFormat); 4] = [
        ("multi", QueryFormat::Multi),
        ("csv", QueryFormat::Csv),
        ("ssv", QueryFormat::Ssv),
        ("pipes", QueryFormat::Pipes),
    ];

    /// The format named `lit`, or an error on it.
    fn parse(cx: &Ctxt, lit: &LitStr) -> Option<Self> {
        let value = lit.value();
        let found = Self::ALL.iter().find(|(name, _)| *name == value);
        if found.is_none() {
            let msg = format!(
                "unknown query format `{value}`; expected `multi` (`a=1&a=2`), `csv` (`a=1,2`), `ssv` (`a=1%202`) or `pipes` (`a=1|2`)"
            );
            cx.error_spanned_by(lit, msg);
        }
        found.map(|(_, format)| *format)
    }

    /// The separator of joined formats; `None` for `multi`.
    pub(crate) fn separator(self) -> Option<&'static str> {
        match self {
            QueryFormat::Multi => None,
            QueryFormat::Csv => Some(","),
            QueryFormat::Ssv => Some("%20"),
            QueryFormat::Pipes => Some("|"),
        }
    }
}

/// `#[timeout(secs = 5)]` or `#[timeout(ms = 500)]` on the trait or a method.
pub(crate) struct Timeout {
    pub(crate) millis: u64,
}

/// What an argument attribute says.
pub(crate) enum ArgRole {
    /// `#[query]`, `#[query("name")]`, `#[query("name", format = "csv")]`.
    Query {
        name: Option<LitStr>,
        format: Option<QueryFormat>,
    },
    /// `#[query(flag)]`, `#[query("name", flag)]`: a valueless `?name` when `true`.
    QueryFlag(Option<LitStr>),
    /// `#[query(flatten)]`: a struct whose fields become query parameters.
    QueryFlatten,
    /// `#[part]`, `#[part("name")]`, `#[part(json)]`, `#[part("name", json)]`.
    Part { name: Option<LitStr>, json: bool },
    /// `#[headers]`: a map of headers.
    HeaderMap,
    /// `#[timeout]`: a `Duration` for this call.
    Timeout,
    /// `#[extension]`: handed to the middleware stack.
    Extension,
    /// `#[url]`, `#[url(any_origin)]`: the whole URL.
    Url { any_origin: bool },
    /// `#[body]`, `#[body(form)]`, ...
    Body(BodyKind),
    /// `#[header("X-Tenant")]`.
    Header(LitStr),
}

impl ArgRole {
    /// The attribute that says it.
    pub(crate) fn ours(&self) -> Ours {
        match self {
            ArgRole::Query { .. } | ArgRole::QueryFlag(_) | ArgRole::QueryFlatten => Ours::Query,
            ArgRole::Body(_) => Ours::Body,
            ArgRole::Header(_) => Ours::Header,
            ArgRole::Part { .. } => Ours::Part,
            ArgRole::HeaderMap => Ours::Headers,
            ArgRole::Timeout => Ours::Timeout,
            ArgRole::Extension => Ours::Extension,
            ArgRole::Url { .. } => Ours::Url,
        }
    }
}

/// An argument attribute with the attribute itself, for spans.
pub(crate) struct ArgAttr {
    pub(crate) role: ArgRole,
    pub(crate) attr: Attribute,
}

/// Our attributes found on one method.
#[derive(Default)]
pub(crate) struct MethodAttrs {
    pub(crate) http: Option<Http>,
    pub(crate) headers: Vec<StaticHeader>,
    pub(crate) no_auth: bool,
    /// `#[scope(..)]` and `#[resource(..)]`.
    pub(crate) token: TokenAttrs,
    /// `#[multipart]`, as written.
    pub(crate) multipart: Option<Attribute>,
    pub(crate) timeout: Option<Timeout>,
}

/// Our attributes found on the trait.
#[derive(Default)]
pub(crate) struct TraitAttrs {
    pub(crate) headers: Vec<StaticHeader>,
    /// `#[scope(..)]` and `#[resource(..)]`.
    pub(crate) token: TokenAttrs,
    pub(crate) timeout: Option<Timeout>,
}

/// The arguments of `#[token_client(..)]`.
#[derive(Default)]
pub(crate) struct TraitArgs {
    /// `client = Name`.
    pub(crate) client: Option<Ident>,
    /// `base_path = "/api/v1"`.
    pub(crate) base_path: Option<LitStr>,
    /// `query_format = "csv"`: the format of every query parameter that names none.
    pub(crate) query_format: Option<QueryFormat>,
}

/// Where an attribute may appear.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    Trait,
    Method,
    Arg,
}

/// Our attributes. Every `match` on it is exhaustive, so a new attribute is one variant
/// here and the compiler lists each place to extend: its name, where it may stand, how
/// it is parsed there and what a misplaced one is told.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ours {
    Verb(Verb),
    Headers,
    NoAuth,
    Scope,
    Resource,
    Query,
    Body,
    Header,
    Multipart,
    Part,
    Timeout,
    Extension,
    Url,
}

impl Ours {
    /// The attributes that are not verbs, in the order misspellings are matched against
    /// them (after the verbs). The one list the compiler cannot check: a new variant
    /// goes here too, or it is never recognised (and passed through to rustc).
    const OTHERS: [Ours; 12] = [
        Ours::Headers,
        Ours::NoAuth,
        Ours::Scope,
        Ours::Resource,
        Ours::Query,
        Ours::Body,
        Ours::Header,
        Ours::Multipart,
        Ours::Part,
        Ours::Timeout,
        Ours::Extension,
        Ours::Url,
    ];

    fn all() -> impl Iterator<Item = Ours> {
        Verb::ALL.into_iter().map(Ours::Verb).chain(Self::OTHERS)
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Ours::Verb(verb) => verb.name(),
            Ours::Headers => "headers",
            Ours::NoAuth => "no_auth",
            Ours::Scope => "scope",
            Ours::Resource => "resource",
            Ours::Query => "query",
            Ours::Body => "body",
            Ours::Header => "header",
            Ours::Multipart => "multipart",
            Ours::Part => "part",
            Ours::Timeout => "timeout",
            Ours::Extension => "extension",
            Ours::Url => "url",
        }
    }

    fn places(self) -> &'static [Place] {
        match self {
            Ours::Verb(_) | Ours::NoAuth | Ours::Multipart => &[Place::Method],
            Ours::Scope | Ours::Resource => &[Place::Trait, Place::Method],
            Ours::Headers | Ours::Timeout => &[Place::Trait, Place::Method, Place::Arg],
            Ours::Query | Ours::Body | Ours::Header | Ours::Part | Ours::Extension | Ours::Url => {
                &[Place::Arg]
            }
        }
    }

    /// What a misplaced one is told.
    fn misplaced(self) -> String {
        let name = self.name();
        match self {
            Ours::Header => "`#[header]` belongs on an argument; for a fixed value write `#[headers(\"Name: value\")]`".into(),
            Ours::Headers | Ours::Timeout => format!("`#[{name}]` belongs on the trait, a method or an argument"),
            Ours::Scope | Ours::Resource => format!("`#[{name}]` belongs on the trait or a method"),
            Ours::Query | Ours::Body | Ours::Part | Ours::Extension | Ours::Url => {
                format!("`#[{name}]` belongs on an argument of a method")
            }
            Ours::Verb(_) | Ours::NoAuth | Ours::Multipart => {
                format!("`#[{name}]` belongs on a method of the trait")
            }
        }
    }
}

/// Attributes of Rust itself (and tools) that are never taken for a misspelling of ours.
const BUILTIN: [&str; 24] = [
    "allow",
    "automatically_derived",
    "cfg",
    "cfg_attr",
    "clippy",
    "cold",
    "deny",
    "deprecated",
    "diagnostic",
    "doc",
    "expect",
    "forbid",
    "ignore",
    "inline",
    "must_use",
    "no_mangle",
    "path",
    "repr",
    "rustfmt",
    "should_panic",
    "test",
    "track_caller",
    "used",
    "warn",
];

/// What an attribute is, as far as we are concerned.
enum Kind {
    Ours(Ours),
    /// Looks like a misspelling of this one of ours.
    Typo(Ours),
    /// Someone else's: passed through.
    Foreign,
}

/// Classifies an attribute by its name.
fn classify(attr: &Attribute) -> Kind {
    let Some(ident) = attr.path().get_ident() else {
        return Kind::Foreign;
    };
    let name = ident.to_string();
    if let Some(ours) = Ours::all().find(|ours| ours.name() == name) {
        return Kind::Ours(ours);
    }
    if BUILTIN.contains(&name.as_str()) {
        return Kind::Foreign;
    }
    let lower = name.to_ascii_lowercase();
    let near = Ours::all().find(|ours| {
        let limit = if ours.name().len() <= 4 { 1 } else { 2 };
        distance(&lower, ours.name()) <= limit
    });
    near.map_or(Kind::Foreign, Kind::Typo)
}

/// Whether an attribute is one we consume (ours or a reported misspelling).
pub(crate) fn is_ours(attr: &Attribute) -> bool {
    !matches!(classify(attr), Kind::Foreign)
}

/// Removes our attributes (and reported misspellings), keeping all others.
pub(crate) fn strip(attrs: &mut Vec<Attribute>) {
    attrs.retain(|attr| !is_ours(attr));
}

/// The attributes deciding whether an item exists: each `#[cfg(..)]`, and each
/// `#[cfg_attr(pred, ..)]` cut down to the `cfg`s it applies (nested ones included). A
/// method's generated impl carries them, so it exists exactly when the trait's method
/// does; what else a `cfg_attr` applies (`deprecated`, `doc`...) stays on the trait.
pub(crate) fn cfgs(attrs: &[Attribute]) -> Vec<Attribute> {
    let cfg = |attr: &Attribute| {
        let meta = cfg_meta(&attr.meta)?;
        Some(Attribute {
            meta,
            ..attr.clone()
        })
    };
    attrs.iter().filter_map(cfg).collect()
}

/// `cfg(..)` as is, `cfg_attr(pred, ..)` keeping only its `cfg`s; `None` when nothing is left.
fn cfg_meta(meta: &Meta) -> Option<Meta> {
    if meta.path().is_ident("cfg") {
        return Some(meta.clone());
    }
    let Meta::List(list) = meta else {
        return None;
    };
    if !list.path.is_ident("cfg_attr") {
        return None;
    }
    let parser = Punctuated::<Meta, Token![,]>::parse_terminated;
    let Ok(args) = list.parse_args_with(parser) else {
        return Some(meta.clone()); // not ours to judge: keep it whole, gates and all
    };
    let mut args = args.into_iter();
    let predicate = args.next()?;
    let kept: Vec<Meta> = args.filter_map(|arg| cfg_meta(&arg)).collect();
    (!kept.is_empty()).then(|| {
        let tokens = quote::quote!(#predicate, #(#kept),*);
        Meta::List(syn::MetaList {
            tokens,
            ..list.clone()
        })
    })
}

/// Reports an attribute that is ours but misplaced, or a misspelling; returns a
/// well-placed attribute of ours.
fn ours_here(cx: &Ctxt, attr: &Attribute, place: Place) -> Option<Ours> {
    let ours = match classify(attr) {
        Kind::Foreign => return None,
        Kind::Typo(ours) => {
            let msg = format!(
                "unknown attribute `#[{}]`; did you mean `#[{}]`?",
                attr_name(attr),
                ours.name()
            );
            cx.error_spanned_by(attr.path(), msg);
            return None;
        }
        Kind::Ours(ours) => ours,
    };
    if ours.places().contains(&place) {
        return Some(ours);
    }
    cx.error_spanned_by(attr.path(), ours.misplaced());
    None
}

/// The single-segment name of an attribute, as written.
fn attr_name(attr: &Attribute) -> String {
    attr.path()
        .get_ident()
        .map(Ident::to_string)
        .unwrap_or_default()
}

/// Optimal string alignment distance (edits, with adjacent transpositions).
fn distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0; b.len() + 1]; a.len() + 1];
    (0..=a.len()).for_each(|i| d[i][0] = i);
    (0..=b.len()).for_each(|j| d[0][j] = j);
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

/// Parses the arguments of `#[token_client(..)]`.
pub(crate) fn parse_trait_args(cx: &Ctxt, args: TokenStream) -> TraitArgs {
    let parser = Punctuated::<Meta, Token![,]>::parse_terminated;
    let metas = match syn::parse::Parser::parse2(parser, args) {
        Ok(metas) => metas,
        Err(err) => {
            cx.syn_error(err);
            return TraitArgs::default();
        }
    };
    let mut out = TraitArgs::default();
    metas.iter().for_each(|meta| trait_arg(cx, meta, &mut out));
    out
}

/// Parses one argument of `#[token_client(..)]`.
fn trait_arg(cx: &Ctxt, meta: &Meta, out: &mut TraitArgs) {
    const EXPECTED: &str =
        "expected `client = Name`, `base_path = \"/prefix\"` or `query_format = \"csv\"`";
    let Meta::NameValue(nv) = meta else {
        return cx.error_spanned_by(meta, format!("unexpected argument; {EXPECTED}"));
    };
    let duplicate = if nv.path.is_ident("client") {
        let Some(ident) = expr_ident(&nv.value) else {
            return cx.error_spanned_by(&nv.value, "expected a struct name: `client = FoosClient`");
        };
        out.client.replace(ident).is_some()
    } else if nv.path.is_ident("base_path") {
        let Some(lit) = lit_str(&nv.value) else {
            let msg = "expected a string literal: `base_path = \"/api/v1\"`";
            return cx.error_spanned_by(&nv.value, msg);
        };
        out.base_path.replace(lit.clone()).is_some()
    } else if nv.path.is_ident("query_format") {
        let Some(lit) = lit_str(&nv.value) else {
            let msg = "expected a string literal: `query_format = \"csv\"`";
            return cx.error_spanned_by(&nv.value, msg);
        };
        let Some(format) = QueryFormat::parse(cx, lit) else {
            return;
        };
        out.query_format.replace(format).is_some()
    } else {
        return cx.error_spanned_by(&nv.path, format!("unknown argument; {EXPECTED}"));
    };
    if duplicate {
        cx.error_spanned_by(&nv.path, "duplicate argument");
    }
}

/// The identifier an expression is, if it is a bare one.
fn expr_ident(expr: &Expr) -> Option<Ident> {
    match expr {
        Expr::Path(p) if p.qself.is_none() => p.path.get_ident().cloned(),
        _ => None,
    }
}

/// The string literal an expression is, if it is one.
fn lit_str(expr: &Expr) -> Option<&LitStr> {
    match expr {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Str(lit), ..
        }) => Some(lit),
        _ => None,
    }
}

/// Whether an attribute is `#[async_trait]` (which we apply ourselves).
pub(crate) fn is_async_trait(attr: &Attribute) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|s| s.ident == "async_trait")
}

/// Parses the trait's own attributes: `#[headers(..)]`, `#[scope(..)]`, `#[resource(..)]`.
pub(crate) fn parse_trait_attrs(cx: &Ctxt, attrs: &[Attribute]) -> TraitAttrs {
    let mut out = TraitAttrs::default();
    for attr in attrs {
        if is_async_trait(attr) {
            cx.error_spanned_by(
                attr,
                "`#[token_client]` already applies `#[async_trait]`; remove this attribute",
            );
        }
        match ours_here(cx, attr, Place::Trait) {
            Some(Ours::Headers) => out.headers.extend(parse_headers(cx, attr)),
            Some(Ours::Scope) => out.token.parse_scope(cx, attr, "trait"),
            Some(Ours::Resource) => out.token.parse_resource(cx, attr, "trait"),
            Some(Ours::Timeout) => parse_timeout(cx, attr, &mut out.timeout, "trait"),
            Some(
                Ours::Verb(_)
                | Ours::NoAuth
                | Ours::Query
                | Ours::Body
                | Ours::Header
                | Ours::Multipart
                | Ours::Part
                | Ours::Extension
                | Ours::Url,
            ) => {} // misplaced: reported
            None => {}
        }
    }
    out
}

pub(crate) fn parse_method_attrs(cx: &Ctxt, attrs: &[Attribute]) -> MethodAttrs {
    let mut out = MethodAttrs::default();
    for attr in attrs {
        match ours_here(cx, attr, Place::Method) {
            Some(Ours::Verb(verb)) => parse_http(cx, attr, verb, &mut out.http),
            Some(Ours::Headers) => out.headers.extend(parse_headers(cx, attr)),
            Some(Ours::NoAuth) => parse_no_auth(cx, attr, &mut out.no_auth),
            Some(Ours::Scope) => out.token.parse_scope(cx, attr, "method"),
            Some(Ours::Resource) => out.token.parse_resource(cx, attr, "method"),
            Some(Ours::Timeout) => parse_timeout(cx, attr, &mut out.timeout, "method"),
            Some(Ours::Multipart) => parse_multipart(cx, attr, &mut out.multipart),
            Some(
                Ours::Query | Ours::Body | Ours::Header | Ours::Part | Ours::Extension | Ours::Url,
            ) => {} // misplaced: reported
            None => {}
        }
    }
    out
}

/// Parses `#[no_auth]`; a repeated one is reported, as a sign of a copy-paste slip.
fn parse_no_auth(cx: &Ctxt, attr: &Attribute, out: &mut bool) {
    if attr.meta.require_path_only().is_err() {
        cx.error_spanned_by(&attr.meta, "expected `#[no_auth]` without arguments");
    }
    if *out {
        cx.error_spanned_by(
            attr.path(),
            "`#[no_auth]` is already given on this method; remove this one",
        );
    }
    *out = true;
}

/// Parses `#[multipart]`; a repeated one is reported.
fn parse_multipart(cx: &Ctxt, attr: &Attribute, out: &mut Option<Attribute>) {
    if attr.meta.require_path_only().is_err() {
        cx.error_spanned_by(&attr.meta, "expected `#[multipart]` without arguments");
    }
    if out.is_some() {
        let msg = "`#[multipart]` is already given on this method; remove this one";
        return cx.error_spanned_by(attr.path(), msg);
    }
    *out = Some(attr.clone());
}

/// Parses `#[timeout(secs = 5)]` or `#[timeout(ms = 500)]` on the trait or a method.
fn parse_timeout(cx: &Ctxt, attr: &Attribute, out: &mut Option<Timeout>, item: &str) {
    const EXPECTED_FORMS: &str = "`#[timeout(secs = 5)]` or `#[timeout(ms = 500)]`";
    const EXPECTED: &str = "expected `#[timeout(secs = 5)]` or `#[timeout(ms = 500)]`";
    if out.is_some() {
        let msg = format!("`#[timeout]` is already given on this {item}; remove this one");
        return cx.error_spanned_by(attr.path(), msg);
    }
    let Ok(nv) = attr.parse_args::<syn::MetaNameValue>() else {
        return cx.error_spanned_by(&attr.meta, EXPECTED);
    };
    let scale = if nv.path.is_ident("secs") {
        1000
    } else if nv.path.is_ident("ms") {
        1
    } else {
        let msg = format!("unknown unit; expected `secs` or `ms`: {EXPECTED_FORMS}");
        return cx.error_spanned_by(&nv.path, msg);
    };
    let value = match &nv.value {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Int(int), ..
        }) => int.base10_parse::<u64>().ok().map(|v| (v, int)),
        _ => None,
    };
    let Some((value, int)) = value else {
        let msg = format!(
            "expected a whole number (for a fraction of a second, use `ms`): {EXPECTED_FORMS}"
        );
        return cx.error_spanned_by(&nv.value, msg);
    };
    match value.checked_mul(scale) {
        Some(0) => cx.error_spanned_by(
            int,
            "a time limit of zero fails every call; expected a positive number",
        ),
        Some(millis) => *out = Some(Timeout { millis }),
        None => cx.error_spanned_by(int, "this time limit is too large"),
    }
}

/// Parses `#[get("/path")]` and the other verbs.
fn parse_http(cx: &Ctxt, attr: &Attribute, verb: Verb, out: &mut Option<Http>) {
    let name = verb.name();
    if let Some(first) = out {
        let msg = format!(
            "a method takes one HTTP attribute; `#[{}]` is already given",
            first.verb.name()
        );
        return cx.error_spanned_by(attr.path(), msg);
    }
    let template = match &attr.meta {
        Meta::List(list) if !list.tokens.is_empty() => {
            match syn::parse2::<Lit>(list.tokens.clone()) {
                Ok(Lit::Str(template)) => Some(template),
                _ => None,
            }
        }
        _ => None,
    };
    let bare = matches!(attr.meta, Meta::Path(_)).then(|| attr.clone());
    if template.is_none() && bare.is_none() {
        let msg = format!("expected a path template string: `#[{name}(\"/foos/{{id}}\")]`");
        match &attr.meta {
            Meta::List(list) if !list.tokens.is_empty() => cx.error_spanned_by(&list.tokens, msg),
            meta => cx.error_spanned_by(meta, msg),
        }
    }
    *out = Some(Http {
        verb,
        template,
        bare,
    });
}

/// Parses `#[headers("Name: value", ..)]`.
fn parse_headers(cx: &Ctxt, attr: &Attribute) -> Vec<StaticHeader> {
    let parsed = attr.parse_args_with(Punctuated::<LitStr, Token![,]>::parse_terminated);
    match parsed {
        Ok(lits) => lits
            .into_iter()
            .filter_map(|lit| static_header(cx, lit))
            .collect(),
        Err(_) => {
            cx.error_spanned_by(
                &attr.meta,
                "expected header strings: `#[headers(\"Accept: application/json\")]`",
            );
            Vec::new()
        }
    }
}

/// Parses and checks one `"Name: value"`.
fn static_header(cx: &Ctxt, lit: LitStr) -> Option<StaticHeader> {
    let text = lit.value();
    let Some((name, value)) = text.split_once(':') else {
        cx.error_spanned_by(
            &lit,
            format!("static header `{text}` has no `:`; expected `Name: value`"),
        );
        return None;
    };
    let (name, value) = (name.trim().to_owned(), value.trim().to_owned());
    let ok = check_header_name(cx, &lit, &name) & check_header_value(cx, &lit, &value);
    ok.then_some(StaticHeader { name, value, lit })
}

/// Checks an HTTP header name (an RFC 9110 token).
pub(crate) fn check_header_name(cx: &Ctxt, lit: &LitStr, name: &str) -> bool {
    let tchar = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    let ok = !name.is_empty() && name.chars().all(tchar);
    if !ok {
        cx.error_spanned_by(
            lit,
            format!(
                "invalid header name `{name}`; expected letters, digits and `-`, such as `X-Tenant`"
            ),
        );
    }
    ok
}

/// Checks a fixed header value (visible ASCII, spaces and tabs).
fn check_header_value(cx: &Ctxt, lit: &LitStr, value: &str) -> bool {
    let ok = value
        .chars()
        .all(|c| c == ' ' || c == '\t' || c.is_ascii_graphic());
    if !ok {
        cx.error_spanned_by(
            lit,
            format!(
                "invalid header value `{}`; expected visible ASCII",
                value.escape_debug()
            ),
        );
    }
    ok
}

/// Parses the attributes of one argument; returns ours, in order.
pub(crate) fn parse_arg_attrs(cx: &Ctxt, attrs: &[Attribute]) -> Vec<ArgAttr> {
    let mut out = Vec::new();
    for attr in attrs {
        let role = match ours_here(cx, attr, Place::Arg) {
            Some(Ours::Query) => parse_query(cx, attr),
            Some(Ours::Body) => parse_body(cx, attr),
            Some(Ours::Header) => parse_arg_header(cx, attr),
            Some(Ours::Headers) => bare(
                cx,
                attr,
                ArgRole::HeaderMap,
                "`#[headers]` on an argument takes no arguments: the argument is the map",
            ),
            Some(Ours::Timeout) => bare(
                cx,
                attr,
                ArgRole::Timeout,
                "`#[timeout]` on an argument takes no arguments: the argument is the `Duration`",
            ),
            Some(Ours::Extension) => bare(
                cx,
                attr,
                ArgRole::Extension,
                "expected `#[extension]` without arguments",
            ),
            Some(Ours::Part) => parse_part(cx, attr),
            Some(Ours::Url) => parse_url(cx, attr),
            Some(Ours::Verb(_) | Ours::NoAuth | Ours::Scope | Ours::Resource | Ours::Multipart) => {
                None // misplaced: reported
            }
            None => None,
        };
        out.extend(role.map(|role| ArgAttr {
            role,
            attr: attr.clone(),
        }));
    }
    out
}

/// An argument attribute without arguments: `role`, or `msg` on the arguments given.
fn bare(cx: &Ctxt, attr: &Attribute, role: ArgRole, msg: &str) -> Option<ArgRole> {
    if attr.meta.require_path_only().is_err() {
        cx.error_spanned_by(&attr.meta, msg);
        return None;
    }
    Some(role)
}

/// The comma-separated items of an attribute's arguments: a leading name string, and
/// the rest as metas.
fn name_and_metas(attr: &Attribute) -> syn::Result<(Option<LitStr>, Vec<Meta>)> {
    let Meta::List(list) = &attr.meta else {
        return Ok((None, Vec::new()));
    };
    list.parse_args_with(|input: syn::parse::ParseStream| {
        let name = if input.peek(LitStr) {
            let lit: LitStr = input.parse()?;
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
            Some(lit)
        } else {
            None
        };
        let metas = Punctuated::<Meta, Token![,]>::parse_terminated(input)?;
        Ok((name, metas.into_iter().collect()))
    })
}

/// Parses `#[query]`, `#[query("name")]`, `#[query(flatten)]`, `#[query(flag)]`,
/// `#[query(format = "csv")]`, and a name with `flag` or `format`.
fn parse_query(cx: &Ctxt, attr: &Attribute) -> Option<ArgRole> {
    const EXPECTED: &str = "expected `#[query]`, `#[query(\"name\")]`, `#[query(flatten)]`, `#[query(flag)]` or `#[query(format = \"csv\")]`";
    let Ok((name, metas)) = name_and_metas(attr) else {
        cx.error_spanned_by(&attr.meta, EXPECTED);
        return None;
    };
    if let Some(lit) = name.as_ref().filter(|lit| lit.value().is_empty()) {
        cx.error_spanned_by(lit, "a query parameter name cannot be empty");
        return None;
    }
    let (mut flatten, mut flag, mut format) = (false, false, None);
    for meta in &metas {
        match meta {
            Meta::Path(p) if p.is_ident("flatten") && name.is_none() => flatten = true,
            Meta::Path(p) if p.is_ident("flag") => flag = true,
            Meta::NameValue(nv) if nv.path.is_ident("format") => {
                let Some(lit) = lit_str(&nv.value) else {
                    cx.error_spanned_by(&nv.value, "expected a string: `format = \"csv\"`");
                    return None;
                };
                format = Some(QueryFormat::parse(cx, lit)?);
            }
            other => {
                cx.error_spanned_by(other, EXPECTED);
                return None;
            }
        }
    }
    match (flatten, flag, format) {
        (true, false, None) => Some(ArgRole::QueryFlatten),
        (false, true, None) => Some(ArgRole::QueryFlag(name)),
        (false, false, format) => Some(ArgRole::Query { name, format }),
        _ => {
            let msg = "`flatten`, `flag` and `format` do not go together; choose one";
            cx.error_spanned_by(&attr.meta, msg);
            None
        }
    }
}

/// Parses `#[part]`, `#[part("name")]`, `#[part(json)]` and `#[part("name", json)]`.
fn parse_part(cx: &Ctxt, attr: &Attribute) -> Option<ArgRole> {
    const EXPECTED: &str =
        "expected `#[part]`, `#[part(\"name\")]`, `#[part(json)]` or `#[part(\"name\", json)]`";
    let Ok((name, metas)) = name_and_metas(attr) else {
        cx.error_spanned_by(&attr.meta, EXPECTED);
        return None;
    };
    if let Some(lit) = &name
        && !part_name_ok(&lit.value())
    {
        let msg = "a part name must be non-empty, without `\"`, `\\` or control characters";
        cx.error_spanned_by(lit, msg);
        return None;
    }
    let mut json = false;
    for meta in &metas {
        match meta {
            Meta::Path(p) if p.is_ident("json") && !json => json = true,
            other => {
                cx.error_spanned_by(other, EXPECTED);
                return None;
            }
        }
    }
    Some(ArgRole::Part { name, json })
}

/// Whether a part name can stand in `Content-Disposition: form-data; name=".."` as is.
pub(crate) fn part_name_ok(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c.is_control() || c == '"' || c == '\\')
}

/// Parses `#[url]` and `#[url(any_origin)]`.
fn parse_url(cx: &Ctxt, attr: &Attribute) -> Option<ArgRole> {
    let Meta::List(list) = &attr.meta else {
        return Some(ArgRole::Url { any_origin: false });
    };
    match syn::parse2::<Ident>(list.tokens.clone()) {
        Ok(ident) if ident == "any_origin" => Some(ArgRole::Url { any_origin: true }),
        _ => {
            let msg = "expected `#[url]`, or `#[url(any_origin)]` to let the URL (and the token) leave the base URL's origin";
            cx.error_spanned_by(&list.tokens, msg);
            // Still the method's URL: a bare `#[get]` beside it is no second mistake.
            Some(ArgRole::Url { any_origin: false })
        }
    }
}

/// Parses `#[body]`, `#[body(json)]`, `#[body(form)]`, `#[body(text = "..")]`, `#[body(bytes = "..")]`.
fn parse_body(cx: &Ctxt, attr: &Attribute) -> Option<ArgRole> {
    let Meta::List(list) = &attr.meta else {
        return Some(ArgRole::Body(BodyKind::Json));
    };
    let kind = match syn::parse2::<Meta>(list.tokens.clone()) {
        Ok(Meta::Path(p)) if p.is_ident("json") => Some(BodyKind::Json),
        Ok(Meta::Path(p)) if p.is_ident("form") => Some(BodyKind::Form),
        Ok(Meta::NameValue(nv)) => body_with_type(cx, &nv),
        _ => None,
    };
    if kind.is_none() {
        let msg = "expected `#[body]`, `#[body(form)]`, `#[body(text = \"text/plain\")]`, `#[body(bytes = \"application/octet-stream\")]` or `#[body(stream = \"application/octet-stream\")]`";
        cx.error_spanned_by(&list.tokens, msg);
    }
    kind.map(ArgRole::Body)
}

/// Parses `text = "type/subtype"`, `bytes = "type/subtype"` or `stream = "type/subtype"`.
fn body_with_type(cx: &Ctxt, nv: &syn::MetaNameValue) -> Option<BodyKind> {
    let lit = lit_str(&nv.value)?.clone();
    let value = lit.value();
    let ok = value
        .split_once('/')
        .is_some_and(|(a, b)| !a.trim().is_empty() && !b.trim().is_empty());
    if !ok || !check_header_value(cx, &lit, &value) {
        cx.error_spanned_by(
            &lit,
            format!("invalid content type `{value}`; expected `type/subtype` such as `text/plain`"),
        );
    }
    if nv.path.is_ident("text") {
        Some(BodyKind::Text(lit))
    } else if nv.path.is_ident("bytes") {
        Some(BodyKind::Bytes(lit))
    } else if nv.path.is_ident("stream") {
        Some(BodyKind::Stream(lit))
    } else {
        None
    }
}

/// Parses `#[header("X-Tenant")]`.
fn parse_arg_header(cx: &Ctxt, attr: &Attribute) -> Option<ArgRole> {
    match attr.parse_args::<LitStr>() {
        Ok(lit) => check_header_name(cx, &lit, &lit.value()).then_some(ArgRole::Header(lit)),
        Err(_) => {
            cx.error_spanned_by(
                &attr.meta,
                "expected a header name: `#[header(\"X-Tenant\")]`",
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(src: &str) -> String {
        let attrs = Attribute::parse_outer.parse_str(src).expect("an attribute");
        match classify(&attrs[0]) {
            Kind::Ours(ours) => format!("ours {}", ours.name()),
            Kind::Typo(ours) => format!("typo {}", ours.name()),
            Kind::Foreign => "foreign".into(),
        }
    }

    use syn::parse::Parser;

    fn cfgs_of(src: &str) -> Vec<String> {
        let attrs = Attribute::parse_outer.parse_str(src).expect("attributes");
        let cfgs = super::cfgs(&attrs).into_iter();
        cfgs.map(|a| quote::quote!(#a).to_string().replace(' ', ""))
            .collect()
    }

    #[test]
    fn cfgs_keep_every_gate_and_nothing_else() {
        assert_eq!(
            cfgs_of("#[doc = \"x\"] #[cfg(test)] #[allow(unused)] #[cfg(any())]"),
            ["#[cfg(test)]", "#[cfg(any())]"]
        );
        assert_eq!(
            cfgs_of("#[cfg_attr(unix, deprecated, cfg(test), doc = \"x\")]"),
            ["#[cfg_attr(unix,cfg(test))]"]
        );
        assert_eq!(
            cfgs_of("#[cfg_attr(a, cfg_attr(b, cfg(c), must_use))]"),
            ["#[cfg_attr(a,cfg_attr(b,cfg(c)))]"]
        );
        assert!(cfgs_of("#[cfg_attr(unix, deprecated)]").is_empty());
    }

    #[test]
    fn each_of_ours_is_recognised_by_its_own_name() {
        for ours in Ours::all() {
            let attr = format!("#[{}]", ours.name());
            assert_eq!(kind(&attr), format!("ours {}", ours.name()));
        }
        let mut names: Vec<_> = Ours::all().map(Ours::name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Verb::ALL.len() + Ours::OTHERS.len());
    }

    #[test]
    fn misspellings_of_ours_are_caught_and_others_pass() {
        assert_eq!(kind("#[qeury]"), "typo query");
        assert_eq!(kind("#[GET(\"/\")]"), "typo get");
        assert_eq!(kind("#[hedaers]"), "typo headers");
        assert_eq!(kind("#[noauth]"), "typo no_auth");
        assert_eq!(kind("#[scopes(\"a\")]"), "typo scope");
        assert_eq!(kind("#[Scope(\"a\")]"), "typo scope");
        assert_eq!(kind("#[resources(\"a\")]"), "typo resource");
        assert_eq!(kind("#[resorce(\"a\")]"), "typo resource");
        assert_eq!(kind("#[serde(default)]"), "foreign");
        assert_eq!(kind("#[path = \"x\"]"), "foreign");
        assert_eq!(kind("#[allow(unused)]"), "foreign");
        assert_eq!(kind("#[doc = \"x\"]"), "foreign");
        assert_eq!(kind("#[cfg(test)]"), "foreign");
        assert_eq!(kind("#[serde(rename = \"x\")]"), "foreign");
        assert_eq!(kind("#[tracing::instrument]"), "foreign");
        assert_eq!(kind("#[body]"), "ours body");
    }
}
