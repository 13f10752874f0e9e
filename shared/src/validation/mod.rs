//! Validation features: rules a request or a backend's answer must satisfy, under KrakenD's
//! `validation/*` namespaces (CEL expressions, the request body's JSON schema). Each compiles its
//! own config once and gives verdicts; the phases turn a verdict into KrakenD's answer.

pub(crate) mod cel;
pub(crate) mod schema;
