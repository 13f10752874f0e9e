//! Codecs: the canonical JSON transcoder (backend JSON objects to Go's canonical bytes without a
//! tree).

pub(crate) mod canonical;
