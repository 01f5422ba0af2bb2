//! Compile-time behaviour of `#[token_client]`: each `tests/ui/*.rs` holds one mistake
//! and its `.stderr` the exact diagnostics (one error, pointing at the mistake, no
//! cascade); `tests/ui/pass/*.rs` must compile, under `#![deny(warnings)]`.
//! Regenerate with `TRYBUILD=overwrite cargo test --test compiletest`, then read the diff.
//!
//! The expected output is stable rustc's: nightly words and points some diagnostics
//! differently (and lets errors point inside string literals), so on a nightly, beta or
//! dev compiler the test is skipped, as thiserror's is.

use std::process::Command;

#[test]
fn ui() {
    if let Some(version) = unstable_rustc() {
        eprintln!(
            "skipping the UI tests: their expected output is stable rustc's, not `{version}`'s"
        );
        return;
    }
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    t.pass("tests/ui/pass/*.rs");
}

/// The version of the compiler trybuild will run (`$RUSTC`, else `rustc`), when it is
/// not a stable release; `None` for stable, and when it cannot be asked (trybuild
/// then reports that itself).
fn unstable_rustc() -> Option<String> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let output = Command::new(rustc).arg("--version").output().ok()?;
    let version = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let unstable = ["nightly", "beta", "dev"]
        .iter()
        .any(|channel| version.contains(channel));
    unstable.then_some(version)
}
