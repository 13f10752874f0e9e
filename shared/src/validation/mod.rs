//! Validation features: rules a request or a backend's answer must satisfy, under KrakenD's
//! `validation/*` namespaces. Each compiles its own config and gives verdicts; the phases turn a
//! verdict into KrakenD's answer.

pub(crate) mod cel;
