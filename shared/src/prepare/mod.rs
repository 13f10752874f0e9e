//! Phase 3, prepare: each backend request from the client's: the URL from the compiled
//! `url_pattern`, the forwarded query string and headers (deny by default), exactly as KrakenD
//! builds them. The headers and query every backend of the endpoint starts from are made once
//! per request; each backend's own are made by the call phase as it calls.

pub(crate) mod graphql;
pub(crate) mod lambda;

use crate::auth::jwt::Claims;
use crate::codec::json::Object;
use crate::message::escapes_its_segment;
use crate::model::{Backend, Endpoint, HeaderFilter, QueryFilter, UrlPart};
use http::header::{HeaderMap, HeaderName, HeaderValue, USER_AGENT};
use percent_encoding::{AsciiSet, CONTROLS, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;
use std::borrow::Cow;
use std::fmt::Write;

/// Characters escaped in a parameter substituted into a path: everything Go's URL serialiser
/// escapes in a path, plus `/` so that a value can never add a segment.
const PATH_VALUE: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}')
    .add(b'/');
/// A value substituted into the query part of a url_pattern.
const QUERY_VALUE: &AsciiSet = &PATH_VALUE.add(b'&').add(b'=').add(b'+').add(b';');
/// Go's `url.QueryEscape`: all but `A-Za-z0-9-_.~` escaped (space becomes `+` separately).
const GO_QUERY: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

pub(crate) const KRAKEND_UA: &str = concat!("KrakenD Version Tributary ", env!("CARGO_PKG_VERSION"));

/// The backend URL: host + url_pattern with its placeholders filled, + forwarded query. `Err`
/// names a placeholder whose value would step out of its path segment (`.` or `..`; the rest is
/// escaped), the rule path parameters get at the guard, here for values from tokens and responses.
pub(crate) fn backend_url(
    backend: &Backend,
    host: &str,
    params: &[String],
    responses: &[Option<Object>],
    claims: Option<&Claims>,
    query: Option<&str>,
) -> Result<String, UnsafeParam> {
    let mut url = String::with_capacity(host.len() + 64);
    url.push_str(host);
    for part in &backend.url {
        match part {
            UrlPart::Literal(s) => url.push_str(s),
            UrlPart::Param { index, in_query } => {
                let value = params.get(*index).map(String::as_str).unwrap_or("");
                let set = if *in_query { QUERY_VALUE } else { PATH_VALUE };
                let _ = write!(url, "{}", utf8_percent_encode(value, set));
            }
            UrlPart::Resp { backend, path, raw, in_query } => {
                match responses.get(*backend).and_then(Option::as_ref).and_then(|d| lookup(d, path)) {
                    Some(v) => fill(&mut url, &go_string(v), *in_query, raw)?,
                    None => {
                        let _ = write!(url, "{}", utf8_percent_encode(raw, PATH_VALUE));
                    }
                }
            }
            UrlPart::Jwt { claim, raw, in_query } => match claims.and_then(|c| c.get(claim)) {
                Some(v) => fill(&mut url, &v, *in_query, raw)?,
                None => {
                    let _ = write!(url, "{}", utf8_percent_encode(raw, PATH_VALUE));
                }
            },
            UrlPart::Unresolved(raw) => {
                let _ = write!(url, "{}", utf8_percent_encode(raw, PATH_VALUE));
            }
        }
    }
    if let Some(q) = query.filter(|q| !q.is_empty()) {
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(q);
    }
    Ok(url)
}

/// Writes a placeholder's value, escaped for where it stands; a dot segment in the path is refused.
fn fill(url: &mut String, value: &str, in_query: bool, placeholder: &str) -> Result<(), UnsafeParam> {
    if in_query {
        let _ = write!(url, "{}", utf8_percent_encode(value, QUERY_VALUE));
        return Ok(());
    }
    if escapes_its_segment(value) {
        return Err(UnsafeParam { placeholder: placeholder.to_owned(), value: value.to_owned() });
    }
    let _ = write!(url, "{}", utf8_percent_encode(value, PATH_VALUE));
    Ok(())
}

/// A placeholder whose value (from a token or an earlier response) would be a dot segment of
/// the backend path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid url params: `{placeholder}` would be `{}`", .value.escape_debug())]
pub(crate) struct UnsafeParam {
    pub(crate) placeholder: String,
    pub(crate) value: String,
}

fn lookup<'a>(data: &'a Object, path: &[String]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    let mut v = data.get(first)?;
    for seg in rest {
        v = v.as_object()?.get(seg)?;
    }
    Some(v)
}

/// A value as Go's `%v` prints it (what KrakenD puts in a URL for `{respN_x}`).
fn go_string(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(go_string).collect::<Vec<_>>().join(","),
        Value::Object(map) => {
            let inner: Vec<String> = map.iter().map(|(k, v)| format!("{k}:{}", go_string(v))).collect();
            format!("map[{}]", inner.join(" "))
        }
    }
}

/// The forwarded query string: filtered, keys sorted, values in order, Go's encoding.
pub(crate) fn forward_query(
    pairs: &[(String, String)],
    filter: &QueryFilter,
    backend_filter: Option<&[String]>,
) -> String {
    let keep = |k: &str| -> bool {
        let endpoint_ok = match filter {
            QueryFilter::None => false,
            QueryFilter::All => true,
            QueryFilter::Names(names) => names.iter().any(|n| n == k),
        };
        endpoint_ok && backend_filter.is_none_or(|names| names.iter().any(|n| n == k))
    };
    let mut selected: Vec<&(String, String)> = pairs.iter().filter(|(k, _)| keep(k)).collect();
    selected.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = String::new();
    for (k, v) in selected {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(&go_query_escape(k));
        out.push('=');
        out.push_str(&go_query_escape(v));
    }
    out
}

fn go_query_escape(s: &str) -> String {
    s.split(' ').map(|part| utf8_percent_encode(part, GO_QUERY).to_string()).collect::<Vec<_>>().join("+")
}

/// The headers every backend of the endpoint starts from, with the token's propagated claims
/// (`propagate_claims`) added as request headers first, so that `input_headers` decides which
/// of them pass.
pub(crate) fn request_headers(
    endpoint: &Endpoint,
    client: &HeaderMap,
    claims: Option<&Claims>,
    client_ip: Option<&str>,
) -> HeaderMap {
    match (&endpoint.jwt, claims) {
        (Some(jwt), Some(c)) => {
            let mut with_claims = client.clone();
            let pairs = jwt.propagated_headers(c);
            for (name, _) in &pairs {
                with_claims.remove(name);
            }
            for (name, value) in pairs {
                with_claims.append(name, value);
            }
            endpoint_headers(&with_claims, &endpoint.headers, client_ip)
        }
        _ => endpoint_headers(client, &endpoint.headers, client_ip),
    }
}

/// The headers every backend of the endpoint starts from: the client's that `input_headers`
/// lets through (less framing and hop-by-hop headers), then KrakenD's own `X-Forwarded-For`,
/// `X-Forwarded-Host` and `User-Agent` (the client's moving to `X-Forwarded-Via`).
pub(crate) fn endpoint_headers(client: &HeaderMap, filter: &HeaderFilter, client_ip: Option<&str>) -> HeaderMap {
    let mut out = HeaderMap::new();
    match filter {
        HeaderFilter::All => {
            for (k, v) in client {
                out.append(k.clone(), v.clone());
            }
        }
        HeaderFilter::Names(names) => {
            for name in names {
                for v in client.get_all(name) {
                    out.append(name.clone(), v.clone());
                }
            }
        }
    }
    strip_framing_and_hop_by_hop(client, &mut out);
    // Names, not strings: a `&str` key is parsed into a header name at every call.
    let forwarded_for = HeaderName::from_static("x-forwarded-for");
    let forwarded_host = HeaderName::from_static("x-forwarded-host");
    if let Some(ip) = client_ip.and_then(|ip| HeaderValue::from_str(ip).ok()) {
        out.insert(forwarded_for, ip);
    } else {
        out.remove(&forwarded_for);
    }
    match client.get(http::header::HOST) {
        Some(h) => {
            out.insert(forwarded_host, h.clone());
        }
        None => {
            out.remove(&forwarded_host);
        }
    }
    if out.contains_key(USER_AGENT) {
        out.insert(HeaderName::from_static("x-forwarded-via"), HeaderValue::from_static(KRAKEND_UA));
    } else {
        out.insert(USER_AGENT, HeaderValue::from_static(KRAKEND_UA));
    }
    out
}

/// What Go's client never writes from a request's header map (`Host`, `Content-Length`,
/// `Transfer-Encoding`, `Trailer`: the client frames the body and names the host itself), plus the
/// hop-by-hop headers: `Connection` and every header it names, which concern only the client's
/// connection to the gateway.
fn strip_framing_and_hop_by_hop(client: &HeaderMap, out: &mut HeaderMap) {
    for name in
        [http::header::HOST, http::header::CONTENT_LENGTH, http::header::TRANSFER_ENCODING, http::header::TRAILER]
    {
        out.remove(name);
    }
    for value in client.get_all(http::header::CONNECTION) {
        for token in value.as_bytes().split(|b| *b == b',') {
            if let Ok(name) = HeaderName::from_bytes(token.trim_ascii()) {
                out.remove(name);
            }
        }
    }
    out.remove(http::header::CONNECTION);
}

/// A backend's own `input_headers` keeps only the listed headers of the endpoint's set.
pub(crate) fn backend_headers<'a>(base: &'a HeaderMap, filter: Option<&[HeaderName]>) -> Cow<'a, HeaderMap> {
    match filter {
        None => Cow::Borrowed(base),
        Some(names) => {
            let mut out = HeaderMap::new();
            for name in names {
                for v in base.get_all(name) {
                    out.append(name.clone(), v.clone());
                }
            }
            Cow::Owned(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::parse_query;

    #[test]
    fn query_keys_are_sorted_and_values_kept_in_order() {
        let pairs = parse_query("b=2&a=1&b=3&c=x");
        let q = forward_query(&pairs, &QueryFilter::Names(vec!["a".into(), "b".into()]), None);
        assert_eq!(q, "a=1&b=2&b=3");
    }

    #[test]
    fn no_query_is_forwarded_by_default() {
        assert_eq!(forward_query(&parse_query("a=1"), &QueryFilter::None, None), "");
    }

    #[test]
    fn query_values_use_go_form_encoding() {
        let pairs = parse_query("q=a+b%21~*");
        assert_eq!(forward_query(&pairs, &QueryFilter::All, None), "q=a+b%21~%2A");
    }

    #[test]
    fn a_dot_segment_value_is_refused_and_named() {
        let mut url = String::new();
        let err = fill(&mut url, "..", false, "{JWT.sub}").unwrap_err();
        assert_eq!(err, UnsafeParam { placeholder: "{JWT.sub}".into(), value: "..".into() });
        assert_eq!(err.to_string(), "invalid url params: `{JWT.sub}` would be `..`");
        assert!(fill(&mut url, "..", true, "{JWT.sub}").is_ok(), "a query value is only escaped");
    }

    #[test]
    fn go_string_formats_like_percent_v() {
        let v: Value = serde_json::json!([1, "a", true]);
        assert_eq!(go_string(&v), "1,a,true");
        assert_eq!(go_string(&Value::Null), "<nil>");
    }
}
