//! Request validation under KrakenD's `validation/*` namespaces: each compiles its rules once
//! and gives a verdict on a request; the pipeline turns a refusal into KrakenD's answer.

pub(crate) mod schema;
