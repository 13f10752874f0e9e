//! The JSON transcoder (`codec::canonical`) and the tree decoder (`json`) against each other and
//! against serde_json, on arbitrary bytes: the same acceptance and the same canonical bytes.
#![no_main]

#[path = "../../shared/tests/checks/json.rs"]
mod json;
#[path = "../../shared/tests/oracle/mod.rs"]
mod oracle;

libfuzzer_sys::fuzz_target!(|data: &[u8]| json::check(data));
