//! Config parse, validate and compile: raw bytes, and structure-aware mutations of the real
//! KrakenD configs in `tests/fixtures/real-configs/` (values swapped for awkward ones, keys
//! dropped, parts copied between endpoints). Nothing may panic, and compiling is deterministic.
#![no_main]

#[path = "../../shared/tests/checks/config.rs"]
mod config;
#[path = "../../shared/tests/oracle/mod.rs"]
mod oracle;

libfuzzer_sys::fuzz_target!(|data: &[u8]| config::check(data));
