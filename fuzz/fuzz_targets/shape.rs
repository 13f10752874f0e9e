//! Shaping (target, allow, deny, mapping, group, flatmap_filter) of arbitrary bodies with
//! arbitrary rules: the tree path and the byte path (transcoder) against the independent oracle
//! written from KrakenD's semantics (`shared/tests/oracle`), and against each other.
#![no_main]

#[path = "../../shared/tests/oracle/mod.rs"]
mod oracle;
#[path = "../../shared/tests/checks/shape.rs"]
mod shape;

libfuzzer_sys::fuzz_target!(|case: shape::Case| shape::check(case));
