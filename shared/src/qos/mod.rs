//! The `qos/*` features: token-bucket rate limits (endpoint, per client, per backend), circuit
//! breakers and the backend HTTP cache. State lives in this process only; on Lambda every
//! execution environment has its own.

pub(crate) mod breaker;
pub(crate) mod cache;
pub(crate) mod ratelimit;
