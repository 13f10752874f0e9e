//! The core's own request and response types: what every door converts to and from.
//! They carry only `http` crate types and plain data, never a transport's types.

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use std::net::IpAddr;

/// A client request as a door hands it to [`crate::Gateway::handle`].
#[derive(Debug, Clone)]
pub struct GatewayRequest {
    pub method: Method,
    /// The path as it arrived on the wire, still percent-encoded, without the query.
    pub path: String,
    /// The raw query string, without the `?` (empty when none).
    pub query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The peer address seen by the door (TCP peer, or the Lambda request context's source IP).
    pub peer_ip: Option<IpAddr>,
    /// When the answer must be out (a Lambda invocation's deadline): every endpoint timeout is
    /// cut short to answer before it. `None`: only the endpoint's `timeout` counts.
    pub deadline: Option<tokio::time::Instant>,
}

impl GatewayRequest {
    /// A request with no headers, body or peer: handy for tests and the demo.
    pub fn new(method: Method, path_and_query: &str) -> Self {
        let (path, query) = match path_and_query.split_once('?') {
            Some((p, q)) => (p.to_owned(), q.to_owned()),
            None => (path_and_query.to_owned(), String::new()),
        };
        GatewayRequest {
            method,
            path,
            query,
            headers: HeaderMap::new(),
            body: Bytes::new(),
            peer_ip: None,
            deadline: None,
        }
    }
}

/// The gateway's answer, fully buffered.
#[derive(Debug, Clone)]
pub struct GatewayResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl GatewayResponse {
    pub(crate) fn new(status: StatusCode) -> Self {
        GatewayResponse { status, headers: HeaderMap::new(), body: Bytes::new() }
    }
}

/// Our own guard (KrakenD lacks it): a value filling a path segment (a path parameter, a
/// `{JWT.x}` claim, a `{respN_x}` field) must not move the backend path outside its
/// `url_pattern` (`.`, `..`) nor smuggle control characters (NUL, CR, LF).
pub(crate) fn escapes_its_segment(v: &str) -> bool {
    v == "." || v == ".." || v.contains('/') || v.contains('\\') || v.chars().any(char::is_control)
}
