//! Transport: the pooled HTTP/1.1 client every backend call, key download and export uses, its
//! connection pool and connector (TLS set up on first use), and reading a whole body within a
//! size limit; AWS Lambda's Invoke API over that client (`lambda`). It knows nothing of the
//! gateway above it.

pub mod body;
mod client;
pub(crate) mod lambda;
mod pool;

pub(crate) use client::{ClientSettings, HttpClient, RawResponse, SendError};
pub use client::{DEFAULT_MAX_BODY, TlsError, https_connector};
