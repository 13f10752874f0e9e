//! The checks the fuzz targets (`fuzz/fuzz_targets/`) run, one module per target: each holds its
//! structure-aware input (an `arbitrary` type) and its `check`, which panics on a finding. The
//! property tests in `differential.rs` run the same checks on stable.

pub mod cache_headers;
pub mod config;
pub mod go_duration;
pub mod json;
pub mod jwt;
pub mod router;
pub mod shape;
pub mod xml;
pub mod yaml;
