//! Tributary's core: a KrakenD v3 configuration turned into a running aggregation gateway,
//! transport-free (no Lambda, no server framework).
//!
//! The pipeline, run by [`Gateway::handle`] (module `gateway`) in this order, one module per
//! phase:
//! 1. `route`: method and path to an endpoint and its `{params}` (KrakenD's 404/405/redirects,
//!    the built-in endpoints);
//! 2. `guard`: CORS, `security/http`, parameter checks, the token, rate limits;
//! 3. `prepare`: each backend request: `url_pattern`, forwarded query strings and headers, body;
//! 4. `call`: all backends concurrently (or in order for the sequential proxy) under the
//!    deadline; it runs each backend's prepare, shape and merge steps as its answer arrives;
//! 5. `shape`: per backend: status check, decode, target, allow/deny, mapping, group, flatmap;
//! 6. `merge`: combine in arrival order, then the endpoint's flatmap and static data;
//! 7. `render`: `output_encoding`, status, `X-KrakenD-Completed`, `Cache-Control`.
//!
//! Everything derived from the config is compiled once by [`Gateway::from_json`] into the
//! `model` the phases read. Below the model sit the features (`qos`, `security`, `auth`,
//! `telemetry`), and below them the leaves (`config`, `codec`, `transport`,
//! `message`, `net`). A module imports only from layers below its own (gateway, phases, model,
//! features, leaves), `call` excepted as said; `scripts/check-imports` checks it, and
//! `docs/architecture.md` walks one request through.

// The gateway: building it, and running the phases in order.
mod gateway;

// The phases, in pipeline order (one per group, so that formatting keeps the order).
mod route;

mod guard;

mod prepare;

mod call;

mod shape;

mod merge;

mod render;

// The compiled model the phases read, and the values passed between them.
mod model;

// The features, under KrakenD's namespaces.
mod auth;
mod qos;
mod security;
pub mod telemetry;
mod validation;

// The leaves.
mod codec;
pub mod config;
mod message;
mod net;
mod transport;

// Test surfaces: the benchmarks' and the fuzz targets' doors into the crate, behind the `bench`
// and `fuzz` features (the crate's own benches, examples and tests turn them on).
#[cfg(feature = "bench")]
#[doc(hidden)]
pub mod bench_api;
#[cfg(feature = "fuzz")]
#[doc(hidden)]
pub mod fuzz_api;

pub use config::{ConfigError, Problem, Severity};
pub use gateway::{BuildTimings, Gateway};
pub use message::{GatewayRequest, GatewayResponse};
pub use model::{DEFAULT_TIMEOUT as DEFAULT_ENDPOINT_TIMEOUT, ServerSettings};
pub use telemetry::{Report, TelemetrySettings};
pub use transport::lambda::AwsSigner;
pub use transport::{DEFAULT_MAX_BODY as DEFAULT_MAX_BODY_BYTES, TlsError, body, https_connector};
