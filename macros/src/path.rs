//! Path templates: `"/foos/{id}/files/{**rest}"`.
//!
//! A template is literal text with placeholders: `{name}` (one percent-encoded segment)
//! and `{**name}` (a catch-all that keeps `/`, allowed only at the very end). Errors
//! point inside the string literal where the compiler allows it (`Literal::subspan`
//! works on nightly only), and always name the offending placeholder.

use proc_macro2::Span;
use syn::LitStr;

use crate::ctxt::Ctxt;

pub(crate) struct Template {
    pub(crate) pieces: Vec<Piece>,
}

pub(crate) enum Piece {
    /// Literal text, sent as written.
    Lit(String),
    /// A placeholder bound to the argument `name`.
    Var(Var),
}

/// A placeholder: `{name}` or `{**name}`.
pub(crate) struct Var {
    /// The argument name (`type` for the argument `r#type`).
    pub(crate) name: String,
    /// `true` for the catch-all `{**name}`.
    pub(crate) rest: bool,
    /// Where the placeholder is written, as close as the compiler allows.
    pub(crate) span: Span,
}

impl Template {
    pub(crate) fn vars(&self) -> impl Iterator<Item = &Var> {
        self.pieces.iter().filter_map(|piece| match piece {
            Piece::Var(var) => Some(var),
            Piece::Lit(_) => None,
        })
    }

    /// The placeholder bound to `name`, if any.
    pub(crate) fn var(&self, name: &str) -> Option<&Var> {
        self.vars().find(|var| var.name == name)
    }
}

/// Parses a template, recording every mistake in `cx`.
pub(crate) fn parse(cx: &Ctxt, lit: &LitStr) -> Template {
    let text = lit.value();
    let spans = Spans::new(lit, &text);
    check_shape(cx, &spans, &text);
    let mut pieces = Vec::new();
    let mut rest = text.as_str();
    let mut offset = 0;
    while let Some(open) = rest.find(['{', '}']) {
        push_lit(&mut pieces, &rest[..open]);
        let start = offset + open;
        let consumed = parse_var(cx, &spans, &text, start, &mut pieces);
        offset = start + consumed;
        rest = &text[offset..];
    }
    push_lit(&mut pieces, rest);
    check_rest_last(cx, &pieces);
    Template { pieces }
}

/// Checks what the whole template must look like.
fn check_shape(cx: &Ctxt, spans: &Spans, text: &str) {
    if let Some(first) = text.chars().next().filter(|&c| c != '/') {
        cx.error_at(
            spans.at(0, first.len_utf8()),
            format!("path template `{text}` must start with `/`"),
        );
    }
    for bad in ['?', '#'] {
        if let Some(at) = text.find(bad) {
            cx.error_at(
                spans.at(at, at + 1),
                format!("path template must not contain `{bad}`; declare query parameters as method arguments"),
            );
        }
    }
}

/// Parses the placeholder starting at `text[start]` (a `{` or a stray `}`); returns the
/// number of bytes consumed.
fn parse_var(cx: &Ctxt, spans: &Spans, text: &str, start: usize, pieces: &mut Vec<Piece>) -> usize {
    let tail = &text[start..];
    if tail.starts_with('}') {
        cx.error_at(
            spans.at(start, start + 1),
            "unmatched `}` in path template; expected `{name}`",
        );
        return 1;
    }
    let Some(close) = tail[1..]
        .find(['{', '}'])
        .filter(|&i| tail[1 + i..].starts_with('}'))
    else {
        let msg = format!("unclosed `{{` in path template `{text}`; expected `{{name}}`");
        cx.error_at(spans.at(start, start + 1), msg);
        return 1;
    };
    let written = &tail[..close + 2];
    let span = spans.at(start, start + written.len());
    if let Some(var) = parse_name(cx, span, written) {
        pieces.push(Piece::Var(var));
    }
    written.len()
}

/// Parses the inside of `{...}`.
fn parse_name(cx: &Ctxt, span: Span, written: &str) -> Option<Var> {
    let inner = &written[1..written.len() - 1];
    let (rest, name) = match inner.strip_prefix("**") {
        Some(name) => (true, name),
        None => (false, inner),
    };
    if name.is_empty() {
        cx.error_at(
            span,
            format!(
                "empty path placeholder `{written}`; expected an argument name such as `{{id}}`"
            ),
        );
        return None;
    }
    if !is_ident(name) {
        cx.error_at(
            span,
            format!(
                "invalid path placeholder `{written}`; expected an argument name such as `{{id}}`"
            ),
        );
        return None;
    }
    let name = name.to_owned();
    Some(Var { name, rest, span })
}

/// Checks that a catch-all placeholder, if any, ends the template.
fn check_rest_last(cx: &Ctxt, pieces: &[Piece]) {
    let last = pieces.len().saturating_sub(1);
    for (i, piece) in pieces.iter().enumerate() {
        if let Piece::Var(var) = piece
            && var.rest
            && i != last
        {
            let msg = format!(
                "catch-all placeholder `{{**{}}}` must end the path template",
                var.name
            );
            cx.error_at(var.span, msg);
        }
    }
}

/// Appends literal text, merging nothing (pieces stay in template order).
fn push_lit(pieces: &mut Vec<Piece>, text: &str) {
    if !text.is_empty() {
        pieces.push(Piece::Lit(text.to_owned()));
    }
}

/// Whether `name` is a Rust identifier (keywords included: `{type}` names `r#type`), by
/// the rules rustc applies: `XID_Start` or `_`, then `XID_Continue`, and not `_` alone.
/// `char::is_alphanumeric` would accept `²` or a combining mark as a start, and the
/// placeholder would then be reported as missing its argument, not as malformed.
fn is_ident(name: &str) -> bool {
    let mut chars = name.chars();
    let first = chars
        .next()
        .is_some_and(|c| c == '_' || unicode_ident::is_xid_start(c));
    first && chars.all(unicode_ident::is_xid_continue) && name != "_"
}

/// Maps byte ranges of the template's value to spans inside the literal.
struct Spans {
    lit: Span,
    token: proc_macro2::Literal,
    value: String,
    /// Offset of the value inside the token, when the value is written verbatim.
    verbatim_at: Option<usize>,
}

impl Spans {
    fn new(lit: &LitStr, value: &str) -> Self {
        let token = lit.token();
        let repr = token.to_string();
        let verbatim_at =
            (repr.len() == value.len() + 2 && repr[1..].starts_with(value)).then_some(1);
        Spans {
            lit: lit.span(),
            token,
            value: value.to_owned(),
            verbatim_at,
        }
    }

    /// The span of `value[from..to]`, or the whole literal where subspans are unavailable.
    fn at(&self, from: usize, to: usize) -> Span {
        self.token_range(from, to)
            .and_then(|range| self.token.subspan(range))
            .unwrap_or(self.lit)
    }

    /// The bytes of the token that `value[from..to]` is written as, if it is written
    /// verbatim and the range falls on char boundaries: rustc's `Literal::subspan`
    /// panics (an internal compiler error) on a range that splits a char.
    fn token_range(&self, from: usize, to: usize) -> Option<std::ops::Range<usize>> {
        let at = self.verbatim_at?;
        let clean =
            from <= to && self.value.is_char_boundary(from) && self.value.is_char_boundary(to);
        clean.then_some(at + from..at + to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(text: &str) -> Template {
        let cx = Ctxt::new();
        let template = parse(&cx, &LitStr::new(text, Span::call_site()));
        cx.check().expect("template parses");
        template
    }

    fn errors(text: &str) -> Vec<String> {
        let cx = Ctxt::new();
        parse(&cx, &LitStr::new(text, Span::call_site()));
        match cx.check() {
            Ok(()) => Vec::new(),
            Err(err) => err.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn splits_literals_and_placeholders() {
        let t = parse_ok("/foos/{id}/files/{**rest}");
        let shape: Vec<String> = t
            .pieces
            .iter()
            .map(|p| match p {
                Piece::Lit(s) => s.clone(),
                Piece::Var(v) if v.rest => format!("**{}", v.name),
                Piece::Var(v) => format!("*{}", v.name),
            })
            .collect();
        assert_eq!(shape, ["/foos/", "*id", "/files/", "**rest"]);
    }

    #[test]
    fn keywords_are_placeholder_names() {
        assert_eq!(parse_ok("/{type}").vars().next().unwrap().name, "type");
    }

    #[test]
    fn malformed_templates_are_all_reported() {
        assert_eq!(errors("/a/{").len(), 1);
        assert_eq!(errors("/a/}").len(), 1);
        assert_eq!(errors("/a/{}").len(), 1);
        assert_eq!(errors("/a/{a b}").len(), 1);
        assert_eq!(errors("/a/{**x}/b").len(), 1);
        assert_eq!(errors("a/{}/{").len(), 3);
        assert_eq!(errors("/a?b=1").len(), 1);
    }

    #[test]
    fn placeholders_that_are_not_identifiers_are_invalid() {
        for text in [
            "/{\u{64d}}",
            "/{a\u{b2}}",
            "/{\u{b2}}",
            "/{1a}",
            "/{_}",
            "/{**\u{301}x}",
        ] {
            let errors = errors(text);
            assert_eq!(errors.len(), 1, "{text}");
            assert!(
                errors[0].starts_with("invalid path placeholder"),
                "{text}: {errors:?}"
            );
        }
        assert_eq!(parse_ok("/{_a}/{\u{e9}t\u{e9}}").vars().count(), 2);
    }

    #[test]
    fn subspans_never_split_a_char() {
        let text = "\u{e9}/{x}";
        let spans = Spans::new(&LitStr::new(text, Span::call_site()), text);
        assert_eq!(spans.token_range(0, 1), None);
        assert_eq!(spans.token_range(1, 2), None);
        assert_eq!(spans.token_range(0, 2), Some(1..3));
        assert_eq!(errors("\u{e9}/x").len(), 1);
    }
}
