//! The `yaml` output encoding of arbitrary values: valid YAML that an independent reader
//! (yaml-rust2, YAML 1.2 core schema) reads back as the same data, one document.
#![no_main]

#[path = "../../shared/tests/oracle/mod.rs"]
mod oracle;
#[path = "../../shared/tests/checks/yaml.rs"]
mod yaml;

libfuzzer_sys::fuzz_target!(|data: yaml::Data| yaml::check(data));
