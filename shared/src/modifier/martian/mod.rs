//! `modifier/martian` at run time: a backend's modifier tree, compiled once at start-up, applied
//! to the backend request as it leaves (after lura-style preparation, before the HTTP cache) and
//! to the backend's HTTP answer as it arrives (before the status check and the decoding), as
//! krakend-martian wraps the HTTP exchange. An error is the backend's error, as in KrakenD.

mod url;

use crate::config::martian::{Cookie, Kind, Modifier, PortChange};
use crate::message::parse_query;
use crate::transport::RawResponse;
use bytes::Bytes;
use http::header::{CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, COOKIE, SET_COOKIE, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use std::collections::BTreeMap;
use url::Parts;

/// Go's `url.QueryEscape`: all but `A-Za-z0-9-_.~` escaped (space becomes `+` separately).
const GO_QUERY: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// A backend's compiled `modifier/martian`.
pub(crate) struct Martian {
    root: Node,
    /// Whether a response-phase modifier reads the request's headers (then they are kept).
    response_reads_request_headers: bool,
}

/// The backend request as martian sees it: the URL lura built, its headers and its body.
#[derive(Debug)]
pub(crate) struct Outgoing {
    pub url: String,
    pub headers: HeaderMap,
    pub body: Option<Bytes>,
}

/// A modifier's error (the backend's error text; several joined by line breaks, as martian's
/// `MultiError`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MartianError(pub String);

struct Node {
    request: bool,
    response: bool,
    op: Op,
}

/// A header name as martian's `proxyutil` treats it: three names are not map entries.
enum Name {
    Host,
    ContentLength,
    TransferEncoding,
    Map(HeaderName),
}

enum Op {
    /// Children in the order they run (a `priority.Group` is sorted at compile time); without
    /// `aggregate` the group stops at its first child's error.
    Fifo {
        aggregate: bool,
        children: Vec<Node>,
    },
    Set {
        name: Name,
        value: HeaderValue,
    },
    Append {
        name: Name,
        value: HeaderValue,
    },
    Remove {
        names: Vec<Name>,
    },
    Copy {
        from: Name,
        to: Name,
    },
    Id {
        name: HeaderName,
    },
    HeaderFilter {
        name: Name,
        value: String,
        then: Box<Node>,
        otherwise: Option<Box<Node>>,
    },
    HeaderRegex {
        name: HeaderName,
        regex: regex_lite::Regex,
        then: Box<Node>,
    },
    QueryFilter {
        name: String,
        value: String,
        then: Box<Node>,
        otherwise: Option<Box<Node>>,
    },
    QuerySet {
        name: String,
        value: String,
    },
    UrlFilter {
        scheme: String,
        host: String,
        path: String,
        query: String,
        then: Box<Node>,
        otherwise: Option<Box<Node>>,
    },
    UrlRegex {
        regex: regex_lite::Regex,
        then: Box<Node>,
        otherwise: Option<Box<Node>>,
    },
    UrlSet {
        scheme: String,
        host: String,
        path: String,
        query: String,
    },
    PortFilter {
        port: i64,
        then: Box<Node>,
    },
    PortSet(PortChange),
    Body {
        content_type: HeaderValue,
        body: Bytes,
    },
    /// `name=value` for the request's `Cookie`, and the whole `Set-Cookie` of a response.
    CookieSet {
        pair: String,
        set_cookie: HeaderValue,
    },
    CookieFilter {
        name: String,
        value: String,
        then: Box<Node>,
        otherwise: Option<Box<Node>>,
    },
    Stash {
        name: HeaderName,
    },
    Status(StatusCode),
    Nothing,
}

impl Martian {
    /// Compiles a parsed (error-free) modifier tree.
    pub(crate) fn compile(root: &Modifier) -> Martian {
        let root = compile(root);
        let response_reads_request_headers = root.response && reads_request_headers(&root);
        Martian { root, response_reads_request_headers }
    }

    /// Whether the response phase reads the request's headers: the caller keeps a copy.
    pub(crate) fn keeps_request_headers(&self) -> bool {
        self.response_reads_request_headers
    }

    /// Whether anything runs on the response.
    pub(crate) fn modifies_responses(&self) -> bool {
        self.root.response
    }

    /// Runs the request modifiers on the backend request about to be sent.
    pub(crate) fn modify_request(&self, req: &mut Outgoing) -> Result<(), MartianError> {
        let mut errors = Vec::new();
        on_request(&self.root, req, &mut errors);
        joined(errors)
    }

    /// Runs the response modifiers on the backend's answer; `req` is the request as sent (its
    /// headers only when [`Martian::keeps_request_headers`]).
    pub(crate) fn modify_response(
        &self,
        url: &str,
        req_headers: &HeaderMap,
        res: &mut RawResponse,
    ) -> Result<(), MartianError> {
        let mut errors = Vec::new();
        on_response(&self.root, &Sent { url, headers: req_headers }, res, &mut errors);
        joined(errors)
    }
}

fn joined(errors: Vec<String>) -> Result<(), MartianError> {
    if errors.is_empty() { Ok(()) } else { Err(MartianError(errors.join("\n"))) }
}

fn name(text: &str) -> Name {
    if text.eq_ignore_ascii_case("host") {
        Name::Host
    } else if text.eq_ignore_ascii_case("content-length") {
        Name::ContentLength
    } else if text.eq_ignore_ascii_case("transfer-encoding") {
        Name::TransferEncoding
    } else {
        // Checked by the config.
        Name::Map(HeaderName::from_bytes(text.as_bytes()).unwrap_or(HeaderName::from_static("x-invalid")))
    }
}

fn header_name(text: &str) -> HeaderName {
    HeaderName::from_bytes(text.as_bytes()).unwrap_or(HeaderName::from_static("x-invalid"))
}

fn header_value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or(HeaderValue::from_static(""))
}

fn compile(m: &Modifier) -> Node {
    let boxed = |m: &Modifier| Box::new(compile(m));
    let op = match &m.kind {
        Kind::Fifo { aggregate_errors, modifiers } => {
            Op::Fifo { aggregate: *aggregate_errors, children: modifiers.iter().map(compile).collect() }
        }
        Kind::Priority { modifiers } => {
            // Higher first; of equal priorities the later-listed runs first (martian inserts a
            // new entry before the existing ones of its priority).
            let mut order: Vec<(usize, &(i64, Modifier))> = modifiers.iter().enumerate().collect();
            order.sort_by(|(i, (p, _)), (j, (q, _))| q.cmp(p).then(j.cmp(i)));
            // A priority group stops at its first error, as a FIFO group without aggregateErrors.
            Op::Fifo { aggregate: false, children: order.into_iter().map(|(_, (_, m))| compile(m)).collect() }
        }
        Kind::HeaderSet { name: n, value } => Op::Set { name: name(n), value: header_value(value) },
        Kind::HeaderAppend { name: n, value } => Op::Append { name: name(n), value: header_value(value) },
        Kind::HeaderBlacklist { names } => Op::Remove { names: names.iter().map(|n| name(n)).collect() },
        Kind::HeaderCopy { from, to } => Op::Copy { from: name(from), to: name(to) },
        Kind::HeaderId { header } => Op::Id { name: header_name(header) },
        Kind::HeaderFilter { name: n, value, then, otherwise } => Op::HeaderFilter {
            name: name(n),
            value: value.clone(),
            then: boxed(then),
            otherwise: otherwise.as_deref().map(boxed),
        },
        Kind::HeaderRegexFilter { header, regex, then } => {
            Op::HeaderRegex { name: header_name(header), regex: regex.clone(), then: boxed(then) }
        }
        Kind::QueryFilter { name, value, then, otherwise } => Op::QueryFilter {
            name: name.clone(),
            value: value.clone(),
            then: boxed(then),
            otherwise: otherwise.as_deref().map(boxed),
        },
        Kind::QueryModifier { name, value } => Op::QuerySet { name: name.clone(), value: value.clone() },
        Kind::UrlFilter { scheme, host, path, query, then, otherwise } => Op::UrlFilter {
            scheme: scheme.clone(),
            host: host.clone(),
            path: path.clone(),
            query: query.clone(),
            then: boxed(then),
            otherwise: otherwise.as_deref().map(boxed),
        },
        Kind::UrlRegexFilter { regex, then, otherwise } => {
            Op::UrlRegex { regex: regex.clone(), then: boxed(then), otherwise: otherwise.as_deref().map(boxed) }
        }
        Kind::UrlModifier { scheme, host, path, query } => Op::UrlSet {
            scheme: scheme.clone(),
            host: host.clone(),
            path: if path.is_empty() { String::new() } else { url::escape_path(path) },
            query: query.clone(),
        },
        Kind::PortFilter { port, then } => Op::PortFilter { port: *port, then: boxed(then) },
        Kind::PortModifier(change) => Op::PortSet(*change),
        Kind::Body { content_type, body } => {
            Op::Body { content_type: header_value(content_type), body: Bytes::from(body.clone()) }
        }
        Kind::CookieModifier(c) => Op::CookieSet {
            pair: format!("{}={}", c.name, cookie_value(&c.value)),
            set_cookie: header_value(&set_cookie(c)),
        },
        Kind::CookieFilter { name, value, then, otherwise } => Op::CookieFilter {
            name: name.clone(),
            value: value.clone(),
            then: boxed(then),
            otherwise: otherwise.as_deref().map(boxed),
        },
        Kind::Stash { header } => Op::Stash { name: header_name(header) },
        Kind::Status { code } => Op::Status(StatusCode::from_u16(*code).unwrap_or(StatusCode::OK)),
        Kind::Verifier => Op::Nothing,
    };
    Node { request: m.phases.request, response: m.phases.response, op }
}

/// Whether a node's response part reads the request's headers.
fn reads_request_headers(node: &Node) -> bool {
    if !node.response {
        return false;
    }
    let either =
        |a: &Node, b: &Option<Box<Node>>| reads_request_headers(a) || b.as_deref().is_some_and(reads_request_headers);
    match &node.op {
        Op::HeaderRegex { .. } | Op::Stash { .. } => true,
        Op::Fifo { children, .. } => children.iter().any(reads_request_headers),
        Op::HeaderFilter { then, otherwise, .. }
        | Op::QueryFilter { then, otherwise, .. }
        | Op::UrlFilter { then, otherwise, .. }
        | Op::UrlRegex { then, otherwise, .. }
        | Op::CookieFilter { then, otherwise, .. } => either(then, otherwise),
        Op::PortFilter { then, .. } => reads_request_headers(then),
        _ => false,
    }
}

/// Go's `sanitizeCookieValue`: invalid bytes dropped, quoted when it holds a space or a comma.
fn cookie_value(v: &str) -> String {
    let kept: String = v.chars().filter(|c| matches!(*c, ' '..='~') && !matches!(*c, '"' | ';' | '\\')).collect();
    if kept.contains([' ', ',']) { format!("\"{kept}\"") } else { kept }
}

/// Go's `http.Cookie.String()` for a `Set-Cookie` header, attributes in its order.
fn set_cookie(c: &Cookie) -> String {
    let mut out = format!("{}={}", c.name, cookie_value(&c.value));
    if !c.path.is_empty() {
        let path: String = c.path.chars().filter(|ch| matches!(*ch, ' '..='~') && *ch != ';').collect();
        out.push_str("; Path=");
        out.push_str(&path);
    }
    let domain = c.domain.strip_prefix('.').unwrap_or(&c.domain);
    if !domain.is_empty() && domain.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-') {
        out.push_str("; Domain=");
        out.push_str(domain);
    }
    // Go writes `Expires` only for years from 1601 (11_644_473_600 s before 1970).
    if let Some(t) = c.expires.filter(|t| *t >= -11_644_473_600) {
        out.push_str("; Expires=");
        out.push_str(&http_date(t));
    }
    if c.max_age > 0 {
        out.push_str(&format!("; Max-Age={}", c.max_age));
    } else if c.max_age < 0 {
        out.push_str("; Max-Age=0");
    }
    if c.http_only {
        out.push_str("; HttpOnly");
    }
    if c.secure {
        out.push_str("; Secure");
    }
    out
}

/// An IMF-fixdate (`Fri, 02 Jan 2026 15:04:05 GMT`) of seconds since the Unix epoch. By hand
/// rather than with `httpdate`, which panics on times before 1970 or after 9999, while a cookie's
/// `expires` may be any RFC 3339 time.
fn http_date(t: i64) -> String {
    let days = t.div_euclid(86400);
    let secs = t.rem_euclid(86400);
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    format!(
        "{}, {day:02} {} {year:04} {:02}:{:02}:{:02} GMT",
        WEEKDAYS[days.rem_euclid(7) as usize],
        MONTHS[(month - 1) as usize],
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Go's `url.Values.Encode` of the pairs: keys sorted, values in order.
fn encode_query(values: &BTreeMap<String, Vec<String>>) -> String {
    let escape =
        |s: &str| s.split(' ').map(|p| utf8_percent_encode(p, GO_QUERY).to_string()).collect::<Vec<_>>().join("+");
    let mut out = String::new();
    for (k, vs) in values {
        for v in vs {
            if !out.is_empty() {
                out.push('&');
            }
            out.push_str(&escape(k));
            out.push('=');
            out.push_str(&escape(v));
        }
    }
    out
}

fn has_query(query: &str, name: &str, value: &str) -> bool {
    parse_query(query).iter().any(|(k, v)| k == name && (value.is_empty() || v == value))
}

fn url_matches(parts: &Parts<'_>, scheme: &str, host: &str, path: &str, query: &str) -> bool {
    (scheme.is_empty() || scheme == parts.scheme)
        && (host.is_empty() || url::match_host(parts.host, host))
        && (path.is_empty() || path == parts.decoded_path())
        && (query.is_empty() || query == parts.query)
}

/// `port.Filter`'s test of the request URL (an error when the host has no usable port).
fn port_matches(parts: &Parts<'_>, port: i64) -> Result<bool, String> {
    let default = match parts.scheme {
        "http" => 80,
        "https" => 443,
        _ => 0,
    };
    if !parts.host.contains(':') && port == default {
        return Ok(true);
    }
    let (_, p) = url::split_host_port(parts.host)?;
    let p: i64 = p.parse().map_err(|_| format!("strconv.Atoi: parsing \"{p}\": invalid syntax"))?;
    Ok(p == port)
}

fn parse_content_length(v: &HeaderValue) -> Result<i64, String> {
    let text = String::from_utf8_lossy(v.as_bytes());
    text.parse::<i64>().map_err(|_| format!("strconv.ParseInt: parsing \"{text}\": invalid syntax"))
}

/// A 16-byte random UUID v4 in its text form (KrakenD's `header.Id`).
fn uuid_v4() -> String {
    let mut b = [0u8; 16];
    if ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b).is_err() {
        b = fastrand::u128(..).to_le_bytes();
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

/// Runs `then` or `otherwise` for the request.
fn branch_request(matched: bool, then: &Node, otherwise: Option<&Node>, req: &mut Outgoing, errors: &mut Vec<String>) {
    if matched {
        on_request(then, req, errors);
    } else if let Some(e) = otherwise {
        on_request(e, req, errors);
    }
}

/// A node's request part. Errors are pushed; a group without `aggregateErrors` stops at its
/// first one.
fn on_request(node: &Node, req: &mut Outgoing, errors: &mut Vec<String>) {
    if !node.request {
        return;
    }
    match &node.op {
        Op::Fifo { aggregate, children } => {
            for child in children {
                let before = errors.len();
                on_request(child, req, errors);
                if !aggregate && errors.len() > before {
                    return;
                }
            }
        }
        Op::Set { name, value } => match name {
            Name::Map(n) => {
                req.headers.insert(n.clone(), value.clone());
            }
            // The client frames the body and names the host itself; a length must still parse.
            Name::ContentLength => {
                if let Err(e) = parse_content_length(value) {
                    errors.push(e);
                }
            }
            Name::Host | Name::TransferEncoding => {}
        },
        Op::Append { name, value } => match name {
            Name::Map(n) => {
                req.headers.append(n.clone(), value.clone());
            }
            // lura always sets the request's host, so a second one is always refused.
            Name::Host => errors.push("proxyutil: illegal header multiple: Host".to_owned()),
            Name::ContentLength => {
                if req.body.as_ref().is_some_and(|b| !b.is_empty()) {
                    errors.push("proxyutil: illegal header multiple: Content-Length".to_owned());
                } else if let Err(e) = parse_content_length(value) {
                    errors.push(e);
                }
            }
            Name::TransferEncoding => {}
        },
        Op::Remove { names } => {
            for n in names {
                if let Name::Map(n) = n {
                    req.headers.remove(n);
                }
            }
        }
        Op::Copy { from, to } => {
            let value = match from {
                Name::Map(n) => req.headers.get(n).cloned(),
                Name::Host => HeaderValue::from_str(Parts::of(&req.url).host).ok(),
                Name::ContentLength => req.body.as_ref().map(|b| HeaderValue::from(b.len())),
                Name::TransferEncoding => None,
            }
            .unwrap_or(HeaderValue::from_static(""));
            match to {
                Name::Map(n) => {
                    req.headers.insert(n.clone(), value);
                }
                Name::ContentLength => {
                    if let Err(e) = parse_content_length(&value) {
                        errors.push(e);
                    }
                }
                Name::Host | Name::TransferEncoding => {}
            }
        }
        Op::Id { name } => {
            if req.headers.get(name).is_none_or(|v| v.is_empty())
                && let Ok(v) = HeaderValue::from_str(&uuid_v4())
            {
                req.headers.insert(name.clone(), v);
            }
        }
        Op::HeaderFilter { name, value, then, otherwise } => {
            let matched = match name {
                Name::Map(n) => req.headers.get_all(n).iter().any(|v| v.as_bytes() == value.as_bytes()),
                Name::Host => Parts::of(&req.url).host == value,
                Name::ContentLength => req.body.as_ref().is_some_and(|b| b.len().to_string() == *value),
                Name::TransferEncoding => false,
            };
            branch_request(matched, then, otherwise.as_deref(), req, errors);
        }
        Op::HeaderRegex { name, regex, then } => {
            let matched = req
                .headers
                .get(name)
                .filter(|v| !v.is_empty())
                .is_some_and(|v| regex.is_match(&String::from_utf8_lossy(v.as_bytes())));
            branch_request(matched, then, None, req, errors);
        }
        Op::QueryFilter { name, value, then, otherwise } => {
            let matched = has_query(Parts::of(&req.url).query, name, value);
            branch_request(matched, then, otherwise.as_deref(), req, errors);
        }
        Op::QuerySet { name, value } => {
            let parts = Parts::of(&req.url);
            let mut values: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for (k, v) in parse_query(parts.query) {
                values.entry(k).or_default().push(v);
            }
            values.insert(name.clone(), vec![value.clone()]);
            let query = encode_query(&values);
            req.url = Parts { query: &query, ..parts }.text();
        }
        Op::UrlFilter { scheme, host, path, query, then, otherwise } => {
            let matched = url_matches(&Parts::of(&req.url), scheme, host, path, query);
            branch_request(matched, then, otherwise.as_deref(), req, errors);
        }
        Op::UrlRegex { regex, then, otherwise } => {
            let matched = regex.is_match(&req.url);
            branch_request(matched, then, otherwise.as_deref(), req, errors);
        }
        Op::UrlSet { scheme, host, path, query } => {
            let parts = Parts::of(&req.url);
            let new = Parts {
                scheme: if scheme.is_empty() { parts.scheme } else { scheme },
                host: if host.is_empty() { parts.host } else { host },
                path: if path.is_empty() { parts.path } else { path },
                query: if query.is_empty() { parts.query } else { query },
            };
            req.url = new.text();
        }
        Op::PortFilter { port, then } => match port_matches(&Parts::of(&req.url), *port) {
            Ok(matched) => branch_request(matched, then, None, req, errors),
            Err(e) => errors.push(e),
        },
        Op::PortSet(change) => {
            let parts = Parts::of(&req.url);
            let host = if parts.host.contains(':') {
                match url::split_host_port(parts.host) {
                    Ok((h, _)) => h,
                    Err(e) => {
                        errors.push(e);
                        return;
                    }
                }
            } else {
                parts.host
            };
            let new_host = match change {
                PortChange::Remove => host.to_owned(),
                PortChange::DefaultForScheme => {
                    url::join_host_port(host, if parts.scheme == "https" { "443" } else { "80" })
                }
                PortChange::To(p) => url::join_host_port(host, &p.to_string()),
            };
            req.url = Parts { host: &new_host, ..parts }.text();
        }
        Op::Body { content_type, body } => {
            req.headers.insert(CONTENT_TYPE, content_type.clone());
            req.headers.remove(CONTENT_ENCODING);
            req.body = Some(body.clone());
        }
        Op::CookieSet { pair, .. } => {
            let value = match req.headers.get(COOKIE).filter(|v| !v.is_empty()) {
                Some(old) => format!("{}; {pair}", String::from_utf8_lossy(old.as_bytes())),
                None => pair.clone(),
            };
            if let Ok(v) = HeaderValue::from_str(&value) {
                req.headers.insert(COOKIE, v);
            }
        }
        Op::CookieFilter { name, value, then, otherwise } => {
            let matched = req
                .headers
                .get_all(COOKIE)
                .iter()
                .any(|h| String::from_utf8_lossy(h.as_bytes()).split(';').any(|c| cookie_matches(c, name, value)));
            branch_request(matched, then, otherwise.as_deref(), req, errors);
        }
        Op::Stash { name } => {
            if let Ok(v) = HeaderValue::from_str(&req.url) {
                req.headers.insert(name.clone(), v);
            }
        }
        Op::Status(_) | Op::Nothing => {}
    }
}

/// One `name=value` of a `Cookie` header (or the first of a `Set-Cookie`) against a filter.
fn cookie_matches(pair: &str, name: &str, value: &str) -> bool {
    let (n, v) = pair.trim().split_once('=').unwrap_or((pair.trim(), ""));
    let v = v.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(v);
    n == name && (value.is_empty() || v == value)
}

/// The request as it was sent, for the response phase.
struct Sent<'a> {
    url: &'a str,
    headers: &'a HeaderMap,
}

fn branch_response(
    matched: bool,
    then: &Node,
    otherwise: Option<&Node>,
    sent: &Sent<'_>,
    res: &mut RawResponse,
    errors: &mut Vec<String>,
) {
    if matched {
        on_response(then, sent, res, errors);
    } else if let Some(e) = otherwise {
        on_response(e, sent, res, errors);
    }
}

/// A node's response part.
fn on_response(node: &Node, sent: &Sent<'_>, res: &mut RawResponse, errors: &mut Vec<String>) {
    if !node.response {
        return;
    }
    match &node.op {
        Op::Fifo { aggregate, children } => {
            for child in children {
                let before = errors.len();
                on_response(child, sent, res, errors);
                if !aggregate && errors.len() > before {
                    return;
                }
            }
        }
        Op::Set { name, value } => match name {
            Name::Map(n) => {
                res.headers.insert(n.clone(), value.clone());
            }
            Name::ContentLength => {
                if let Err(e) = parse_content_length(value) {
                    errors.push(e);
                }
            }
            Name::Host | Name::TransferEncoding => {}
        },
        Op::Append { name, value } => match name {
            Name::Map(n) => {
                res.headers.append(n.clone(), value.clone());
            }
            Name::ContentLength => {
                if !res.body.is_empty() {
                    errors.push("proxyutil: illegal header multiple: Content-Length".to_owned());
                } else if let Err(e) = parse_content_length(value) {
                    errors.push(e);
                }
            }
            Name::Host | Name::TransferEncoding => {}
        },
        Op::Remove { names } => {
            for n in names {
                if let Name::Map(n) = n {
                    res.headers.remove(n);
                }
            }
        }
        Op::Copy { from, to } => {
            let value = match from {
                Name::Map(n) => res.headers.get(n).cloned(),
                Name::ContentLength => Some(HeaderValue::from(res.body.len())),
                Name::Host | Name::TransferEncoding => None,
            }
            .unwrap_or(HeaderValue::from_static(""));
            match to {
                Name::Map(n) => {
                    res.headers.insert(n.clone(), value);
                }
                Name::ContentLength => {
                    if let Err(e) = parse_content_length(&value) {
                        errors.push(e);
                    }
                }
                Name::Host | Name::TransferEncoding => {}
            }
        }
        Op::HeaderFilter { name, value, then, otherwise } => {
            let matched = match name {
                Name::Map(n) => res.headers.get_all(n).iter().any(|v| v.as_bytes() == value.as_bytes()),
                Name::ContentLength => res.body.len().to_string() == *value,
                Name::Host | Name::TransferEncoding => false,
            };
            branch_response(matched, then, otherwise.as_deref(), sent, res, errors);
        }
        // Martian tests the request's header, also on the response.
        Op::HeaderRegex { name, regex, then } => {
            let matched = sent
                .headers
                .get(name)
                .filter(|v| !v.is_empty())
                .is_some_and(|v| regex.is_match(&String::from_utf8_lossy(v.as_bytes())));
            branch_response(matched, then, None, sent, res, errors);
        }
        Op::QueryFilter { name, value, then, otherwise } => {
            let matched = has_query(Parts::of(sent.url).query, name, value);
            branch_response(matched, then, otherwise.as_deref(), sent, res, errors);
        }
        Op::UrlFilter { scheme, host, path, query, then, otherwise } => {
            let matched = url_matches(&Parts::of(sent.url), scheme, host, path, query);
            branch_response(matched, then, otherwise.as_deref(), sent, res, errors);
        }
        Op::UrlRegex { regex, then, otherwise } => {
            let matched = regex.is_match(sent.url);
            branch_response(matched, then, otherwise.as_deref(), sent, res, errors);
        }
        Op::PortFilter { port, then } => match port_matches(&Parts::of(sent.url), *port) {
            Ok(matched) => branch_response(matched, then, None, sent, res, errors),
            Err(e) => errors.push(e),
        },
        Op::Body { content_type, body } => {
            res.headers.insert(CONTENT_TYPE, content_type.clone());
            res.headers.remove(CONTENT_ENCODING);
            res.headers.remove(CONTENT_LENGTH);
            res.headers.remove(TRANSFER_ENCODING);
            res.body = body.clone();
        }
        Op::CookieSet { set_cookie, .. } => {
            res.headers.append(SET_COOKIE, set_cookie.clone());
        }
        Op::CookieFilter { name, value, then, otherwise } => {
            let matched = res.headers.get_all(SET_COOKIE).iter().any(|h| {
                let text = String::from_utf8_lossy(h.as_bytes());
                cookie_matches(text.split(';').next().unwrap_or(""), name, value)
            });
            branch_response(matched, then, otherwise.as_deref(), sent, res, errors);
        }
        Op::Stash { name } => {
            let value = sent.headers.get(name).cloned().unwrap_or(HeaderValue::from_static(""));
            res.headers.insert(name.clone(), value);
        }
        Op::Status(code) => res.status = *code,
        Op::Id { .. } | Op::QuerySet { .. } | Op::UrlSet { .. } | Op::PortSet(_) | Op::Nothing => {}
    }
}

#[cfg(test)]
mod tests;
