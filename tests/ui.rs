//! Compile-time behaviour of `#[task]` and `scenario!`: every accepted form
//! compiles and runs (`ui/pass/`), every misuse fails with the message and
//! caret recorded in its `.stderr` snapshot (`ui/`).
//!
//! Regenerate snapshots with `TRYBUILD=overwrite cargo test -p pipeline-tests --test ui`,
//! then read each changed one: it must point at the user's token and say what to do.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("ui/pass/*.rs");
    cases.compile_fail("ui/*.rs");
}
