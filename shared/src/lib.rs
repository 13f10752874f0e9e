//! Tributary's core: a KrakenD v3 configuration turned into a running aggregation gateway,
//! transport-free (no Lambda, no server framework).
//!
//! The pipeline, run by [`Gateway::handle`] in this order:
//! 1. **route**: method and path to an endpoint and its `{params}` (KrakenD's 404/405/redirects);
//! 2. **guard**: parameter checks (later CORS, rate limits, JWT);
//! 3. **prepare**: each backend request: `url_pattern`, forwarded query strings and headers, body;
//! 4. **call**: all backends concurrently (or in order for the sequential proxy) under the deadline;
//! 5. **shape**: per backend: status check, decode, target, allow/deny, mapping, group, flatmap;
//! 6. **merge**: combine in arrival order, mark completeness, apply the static proxy;
//! 7. **render**: `output_encoding`, status, `X-KrakenD-Completed`, `Cache-Control`.
//!
//! Everything derived from the config is compiled once by [`Gateway::from_json`].

mod backend;
#[doc(hidden)]
pub mod bench_api;
pub mod body;
mod builtin;
mod cache;
mod client;
mod codec;
mod compile;
pub mod config;
mod cors;
#[doc(hidden)]
pub mod fuzz_api;
mod gateway;
mod json;
mod jwt;
mod pool;
mod prepare;
mod proxy;
mod qos;
mod render;
mod request;
mod router;
mod security;
mod shape;
pub mod telemetry;
mod xml;
mod yaml;

pub use client::{DEFAULT_MAX_BODY as DEFAULT_MAX_BODY_BYTES, https_connector};
pub use compile::{DEFAULT_TIMEOUT as DEFAULT_ENDPOINT_TIMEOUT, ServerSettings};
pub use config::{ConfigError, Problem, Severity};
pub use gateway::{BuildTimings, Gateway};
pub use request::{GatewayRequest, GatewayResponse};
pub use telemetry::{Report, TelemetrySettings};
