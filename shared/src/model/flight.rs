//! The values in flight between phases: what one backend call gives (a `Part` or a
//! `BackendError`), what the call phase hands to rendering (`Outcome`), and whether
//! `security/http`'s headers go on an answer (`Secured`).

use crate::codec::canonical::Data;
use bytes::Bytes;
use http::{HeaderValue, StatusCode};

/// A backend failure, as KrakenD reports it (text, and for `return_error_code` the status).
#[derive(Debug, Clone)]
pub(crate) struct BackendError {
    pub text: String,
    pub status: Option<StatusCode>,
    pub body: Bytes,
    pub content_type: Option<HeaderValue>,
}

impl BackendError {
    pub(crate) fn plain(text: impl Into<String>) -> Self {
        BackendError { text: text.into(), status: None, body: Bytes::new(), content_type: None }
    }

    pub(crate) fn deadline() -> Self {
        BackendError::plain("context deadline exceeded")
    }
}

/// One backend's contribution to the endpoint's answer.
#[derive(Debug)]
pub(crate) struct Part {
    /// `None` when the backend answered JSON `null` (no data).
    pub data: Option<Data>,
    pub complete: bool,
    /// Top-level keys holding `return_error_details` structs (rendered in struct order).
    pub detail_keys: Vec<String>,
}

/// What the call phase hands to rendering: lura's (response, error) pair.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub response: Option<Part>,
    pub error: Option<BackendError>,
}

/// Whether `security/http` applies to an answer (its headers are added), as KrakenD's middleware
/// order decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Secured {
    Yes,
    No,
}
