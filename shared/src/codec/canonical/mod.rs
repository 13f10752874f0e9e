//! The canonical JSON transcoder: backend objects kept as Go's canonical bytes.

mod transcoder;

#[cfg(test)]
pub(crate) use transcoder::tests;
pub(crate) use transcoder::{Data, KeyOrderHint, RawObject, RawValue};
