//! The body codecs: JSON the way KrakenD's Go engine reads and writes it, the canonical JSON
//! transcoder (backend JSON objects to Go's canonical bytes without a tree), XML (`encoding: xml`
//! and `output_encoding: xml`) and YAML (`output_encoding: yaml`). Leaves: they know nothing of
//! the gateway.

pub(crate) mod canonical;
pub(crate) mod json;
pub(crate) mod xml;
pub(crate) mod yaml;
