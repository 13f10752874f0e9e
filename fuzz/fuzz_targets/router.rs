//! Route lookup and path decoding: arbitrary route tables (compiled from a generated config, as
//! the gateway compiles them) and arbitrary request paths. Checks the decoding and `path.Clean`
//! against independent versions (`shared/tests/oracle`), and every lookup result against the
//! table: a match fits its pattern, a redirect leads to a route, a 405 lists methods that route.
#![no_main]

#[path = "../../shared/tests/oracle/mod.rs"]
mod oracle;
#[path = "../../shared/tests/checks/router.rs"]
mod router;

libfuzzer_sys::fuzz_target!(|case: router::Case| router::check(case));
