//! The core's own request and response types: what every door converts to and from.
//! They carry only `http` crate types and plain data, never a transport's types. Also the
//! header names and values every answer uses, Go's header-name and query-string readings, and
//! the rule a value filling a path segment must keep.

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Method, StatusCode};
use std::net::IpAddr;

pub(crate) const X_KRAKEND: HeaderName = HeaderName::from_static("x-krakend");
pub(crate) const X_KRAKEND_COMPLETED: HeaderName = HeaderName::from_static("x-krakend-completed");
pub(crate) const JSON_UTF8: HeaderValue = HeaderValue::from_static("application/json; charset=utf-8");
pub(crate) const TEXT_UTF8: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");

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

/// A `text/plain` answer with a fixed text.
pub(crate) fn plain(status: StatusCode, text: &'static str) -> GatewayResponse {
    let mut r = GatewayResponse::new(status);
    r.headers.insert(http::header::CONTENT_TYPE, TEXT_UTF8);
    r.body = Bytes::from_static(text.as_bytes());
    r
}

/// Our own guard (KrakenD lacks it): a value filling a path segment (a path parameter, a
/// `{JWT.x}` claim, a `{respN_x}` field) must not move the backend path outside its
/// `url_pattern` (`.`, `..`) nor smuggle control characters (NUL, CR, LF).
pub(crate) fn escapes_its_segment(v: &str) -> bool {
    v == "." || v == ".." || v.contains('/') || v.contains('\\') || v.chars().any(char::is_control)
}

/// Parsed client query: (key, value) pairs in order, with Go's `url.ParseQuery` rules.
pub(crate) fn parse_query(raw: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for pair in raw.split('&') {
        if pair.is_empty() || pair.contains(';') {
            continue;
        }
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if let (Some(k), Some(v)) = (unescape_query(k), unescape_query(v)) {
            out.push((k, v));
        }
    }
    out
}

fn unescape_query(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let h = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(h, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Go's canonical header form: `x-user-id` -> `X-User-Id`.
pub(crate) fn canonical(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        out.push(if upper { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() });
        upper = c == '-';
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semicolon_pairs_and_bad_escapes_are_dropped() {
        assert_eq!(parse_query("a=1;b=2&c=%zz&d=4"), vec![("d".to_owned(), "4".to_owned())]);
    }

    #[test]
    fn canonical_header_names_match_go() {
        assert_eq!(canonical("x-user-id"), "X-User-Id");
        assert_eq!(canonical("content-TYPE"), "Content-Type");
    }
}
