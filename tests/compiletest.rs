//! Compile-time behaviour of `#[token_client]`: each `tests/ui/*.rs` holds one mistake
//! and its `.stderr` the exact diagnostics (one error, pointing at the mistake, no
//! cascade); `tests/ui/pass/*.rs` must compile, under `#![deny(warnings)]`.
//! Regenerate with `TRYBUILD=overwrite cargo test --test compiletest`, then read the diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
