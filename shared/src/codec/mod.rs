//! The body codecs: JSON the way KrakenD's Go engine reads and writes it, XML (`encoding: xml`
//! and `output_encoding: xml`) and YAML (`output_encoding: yaml`). Leaves: they know nothing of
//! the gateway.

pub(crate) mod json;
pub(crate) mod xml;
pub(crate) mod yaml;
