//! Go durations: the config's parser (`config/duration.rs`) and the HTTP cache's delta-seconds
//! (`cache/parse.rs`) against an independent port of Go's `time.ParseDuration`.
#![no_main]

#[path = "../../shared/tests/checks/go_duration.rs"]
mod go_duration;
#[path = "../../shared/tests/oracle/mod.rs"]
mod oracle;

libfuzzer_sys::fuzz_target!(|data: &[u8]| go_duration::check(data));
