//! `#[scope("..")]` and `#[resource("..")]`, on the trait or a method: the token its calls
//! send, when not the options' own. Each is checked against its grammar: a scope is
//! scope tokens separated by single spaces (RFC 6749 §3.3), a resource an absolute URI
//! without a fragment (RFC 8707 §2). Errors point at the string literal.

use syn::{Attribute, LitStr, Meta, Path};

use crate::ctxt::Ctxt;

/// The `#[scope]` and `#[resource]`s of the trait or of one method.
#[derive(Default)]
pub(crate) struct TokenAttrs {
    /// `#[scope("a b")]`, when valid.
    pub(crate) scope: Option<LitStr>,
    /// Each valid `#[resource("..")]`, in order.
    pub(crate) resources: Vec<LitStr>,
    /// The name of each `#[scope]` and `#[resource]` given, valid or not, for errors
    /// about the attribute itself.
    pub(crate) written: Vec<Path>,
}

impl TokenAttrs {
    /// Parses `#[scope("..")]`; `item` (`trait`, `method`) names where it stands. One per
    /// item: a second is reported, as all scopes go in one string.
    pub(crate) fn parse_scope(&mut self, cx: &Ctxt, attr: &Attribute, item: &str) {
        let repeated = self.written.iter().any(|p| p.is_ident("scope"));
        self.written.push(attr.path().clone());
        if repeated {
            let msg = format!(
                "`#[scope]` is already given on this {item}; write every scope in one, separated by spaces: `#[scope(\"a b\")]`"
            );
            return cx.error_spanned_by(attr.path(), msg);
        }
        let expected = "expected a scope string: `#[scope(\"orders.read\")]`";
        let Some(lit) = one_string(cx, attr, expected) else {
            return;
        };
        match scope_problem(&lit.value()) {
            Some(problem) => cx.error_spanned_by(&lit, problem),
            None => self.scope = Some(lit),
        }
    }

    /// Parses `#[resource("..")]`; it may be repeated, but not with the same URI.
    pub(crate) fn parse_resource(&mut self, cx: &Ctxt, attr: &Attribute, item: &str) {
        self.written.push(attr.path().clone());
        let expected = "expected one absolute URI: `#[resource(\"https://orders.example.com\")]`, repeated for several";
        let Some(lit) = one_string(cx, attr, expected) else {
            return;
        };
        let value = lit.value();
        if let Some(problem) = resource_problem(&value) {
            return cx.error_spanned_by(&lit, problem);
        }
        if self.resources.iter().any(|r| r.value() == value) {
            let msg =
                format!("resource `{value}` is already given on this {item}; remove this one");
            return cx.error_spanned_by(&lit, msg);
        }
        self.resources.push(lit);
    }
}

/// The one string literal an attribute takes; reported with `expected` otherwise.
fn one_string(cx: &Ctxt, attr: &Attribute, expected: &str) -> Option<LitStr> {
    match &attr.meta {
        Meta::List(list) if !list.tokens.is_empty() => {
            let lit = syn::parse2::<LitStr>(list.tokens.clone()).ok();
            if lit.is_none() {
                cx.error_spanned_by(&list.tokens, expected);
            }
            lit
        }
        meta => {
            cx.error_spanned_by(meta, expected);
            None
        }
    }
}

/// What is wrong with a scope, if anything (RFC 6749 §3.3: `scope-token *( SP
/// scope-token )`, a scope token being printable ASCII other than space, `"` and `\`).
fn scope_problem(scope: &str) -> Option<String> {
    const EXPECTED: &str =
        "expected scope tokens separated by single spaces, such as `orders.read orders.write`";
    let shown = show(scope);
    if scope.trim_start_matches(' ').is_empty() {
        return Some(format!("empty scope; {EXPECTED}"));
    }
    if let Some(c) = scope.chars().find(|&c| c != ' ' && !is_scope_char(c)) {
        return Some(format!(
            "invalid character `{}` in scope `{shown}`; a scope token is printable ASCII other than space, `\"` and `\\`",
            show_char(c)
        ));
    }
    if scope.starts_with(' ') || scope.ends_with(' ') {
        return Some(format!(
            "scope `{shown}` starts or ends with a space; {EXPECTED}"
        ));
    }
    if scope.contains("  ") {
        return Some(format!(
            "scope `{shown}` has two spaces in a row; {EXPECTED}"
        ));
    }
    None
}

/// `%x21 / %x23-5B / %x5D-7E`.
fn is_scope_char(c: char) -> bool {
    c.is_ascii_graphic() && c != '"' && c != '\\'
}

/// What is wrong with a resource indicator, if anything (RFC 8707 §2: an absolute URI,
/// without a fragment). The check is the URI's shape: a scheme, `:` and the rest.
fn resource_problem(uri: &str) -> Option<String> {
    const EXPECTED: &str = "expected an absolute URI such as `https://orders.example.com`";
    let shown = show(uri);
    if uri.is_empty() {
        return Some(format!("empty resource; {EXPECTED}"));
    }
    if let Some(c) = uri.chars().find(|&c| c.is_whitespace() || c.is_control()) {
        return Some(format!(
            "invalid character `{}` in resource `{shown}`; {EXPECTED}",
            show_char(c)
        ));
    }
    if let Some(missing) = not_absolute(uri) {
        return Some(format!("resource `{shown}` has {missing}; {EXPECTED}"));
    }
    if uri.contains('#') {
        return Some(format!(
            "resource `{shown}` has a fragment; expected an absolute URI without `#` (RFC 8707)"
        ));
    }
    None
}

/// What keeps `uri` from being absolute, if anything: it must start with a scheme
/// (`ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`), followed by `:` and something.
fn not_absolute(uri: &str) -> Option<&'static str> {
    let scheme = |s: &str| {
        let mut chars = s.chars();
        let first = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
        first && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    };
    match uri.split_once(':') {
        Some((name, rest)) if scheme(name) => rest.is_empty().then_some("nothing after its scheme"),
        _ => Some("no scheme"),
    }
}

/// A value as messages show it: invisible characters escaped.
fn show(value: &str) -> String {
    value.chars().map(show_char).collect()
}

/// A character as messages show it: `\t`, `\u{a0}` for invisible ones.
fn show_char(c: char) -> String {
    if c.is_control() || (c.is_whitespace() && c != ' ') {
        c.escape_default().to_string()
    } else {
        c.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_tokens_separated_by_single_spaces() {
        for ok in [
            "a",
            "orders.read orders.write",
            "urn:x:y!#$%&'()*+,-./[]^_`{|}~",
            "a b c",
        ] {
            assert_eq!(scope_problem(ok), None, "{ok}");
        }
        let problem = |s| scope_problem(s).unwrap_or_default();
        assert!(problem("").starts_with("empty scope"));
        assert!(problem("   ").starts_with("empty scope"));
        assert!(problem(" a").contains("starts or ends with a space"));
        assert!(problem("a ").contains("starts or ends with a space"));
        assert!(problem("a  b").contains("two spaces in a row"));
        assert!(problem("a\"b").starts_with("invalid character `\"` in scope `a\"b`"));
        assert!(problem("a\\b").starts_with("invalid character `\\`"));
        assert!(problem("a\tb").starts_with("invalid character `\\t` in scope `a\\tb`"));
        assert!(problem("a\u{a0}b").starts_with("invalid character `\\u{a0}`"));
        assert!(problem("caf\u{e9}").starts_with("invalid character `\u{e9}`"));
    }

    #[test]
    fn resources_are_absolute_uris_without_fragment() {
        for ok in [
            "https://orders.example.com",
            "https://orders.example.com/api?v=1",
            "urn:example:orders",
            "a+b-c.d:x",
        ] {
            assert_eq!(resource_problem(ok), None, "{ok}");
        }
        let problem = |s| resource_problem(s).unwrap_or_default();
        assert!(problem("").starts_with("empty resource"));
        assert!(problem("/orders").contains("has no scheme"));
        assert!(problem("https:").contains("has nothing after its scheme"));
        for relative in [
            "/orders",
            "orders.example.com",
            "https:",
            ":x",
            "1http://x",
            "ht tp://x",
        ] {
            let problem = problem(relative);
            assert!(
                problem.contains("scheme;") || problem.contains("invalid character"),
                "{relative}: {problem}"
            );
        }
        assert!(problem("https://x/#a").contains("has a fragment"));
        assert!(problem("https://x#").contains("has a fragment"));
        assert!(problem("https://x/a b").starts_with("invalid character ` `"));
        assert!(problem("https://x/\n").starts_with("invalid character `\\n`"));
    }
}
