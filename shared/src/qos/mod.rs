//! Per-instance traffic control: token-bucket rate limits (endpoint, per client, per backend) and
//! circuit breakers. State lives in this process only; on Lambda every execution environment
//! has its own.

pub(crate) mod breaker;
pub(crate) mod ratelimit;
