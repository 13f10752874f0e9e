//! The end-to-end tests as one test binary (one link step, not one per area): a module per area.
//! One area: `cargo test -p tributary-e2e --test e2e lambda_watch::`. `tests/ratelimit_memory.rs`
//! stays a binary of its own, since it reads its own process's memory.

mod cli;
mod conformance;
mod demo;
mod hardening;
mod hardening_server;
mod harness;
mod jwt;
mod lambda_backend;
mod lambda_deadline;
mod lambda_events;
mod lambda_streaming;
mod lambda_watch;
mod ratelimit_load;
mod real_configs;
mod robustness_backends;
mod robustness_clients;
mod rules;
mod ssm;
mod telemetry_logs;
mod telemetry_metrics;
mod telemetry_traces;
