//! Traces: the W3C trace context (`traceparent`, `tracestate`) read from the client and sent to
//! every backend with the backend call as the parent span, the sampling decision
//! (`trace_sample_rate`), and the spans of one request handed to the OTLP exporter.
//!
//! Per request there is one server span (the whole request, KrakenD's `global` layer) and one
//! client span per backend exchange (KrakenD's backend `round_trip`), each with its own span id,
//! the one the backend receives as its parent.

use super::otlp::{self, Attr, Exporter, FinishedTrace, SpanData};
use super::xray::XrayTrace;
use super::{CallRecord, Report};
use crate::config::telemetry::OtelConfig;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
pub const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");
pub const X_AMZN_TRACE_ID: HeaderName = HeaderName::from_static("x-amzn-trace-id");

/// KrakenD's `skip_paths` when the config names none.
pub const DEFAULT_SKIP_PATHS: &[&str] = &["/__health", "/__debug/", "/__echo/", "/__stats/"];

/// The `tracestate` length the W3C recommendation asks to propagate at least; longer values are
/// cut by whole entries, as it prescribes.
const TRACESTATE_MAX: usize = 512;
/// Most `tracestate` list members the W3C recommendation allows.
const TRACESTATE_MEMBERS: usize = 32;

/// A parsed `traceparent` (version `00` fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceParent {
    pub trace_id: [u8; 16],
    pub parent_id: [u8; 8],
    pub sampled: bool,
}

impl TraceParent {
    /// Parses a `traceparent` value as the W3C recommendation says: lowercase hex only, version
    /// `ff` and all-zero ids invalid, version `00` exactly 55 characters, a higher version parsed
    /// by its first fields. `None` means "start a new trace".
    pub fn parse(v: &[u8]) -> Option<TraceParent> {
        if v.len() < 55 || v[2] != b'-' || v[35] != b'-' || v[52] != b'-' {
            return None;
        }
        let version = hex_byte(v[0], v[1])?;
        match version {
            0xff => return None,
            0 if v.len() != 55 => return None,
            _ if v.len() > 55 && v[55] != b'-' => return None,
            _ => {}
        }
        let mut trace_id = [0u8; 16];
        let mut parent_id = [0u8; 8];
        hex_decode(&v[3..35], &mut trace_id)?;
        hex_decode(&v[36..52], &mut parent_id)?;
        let flags = hex_byte(v[53], v[54])?;
        if trace_id == [0; 16] || parent_id == [0; 8] {
            return None;
        }
        Some(TraceParent { trace_id, parent_id, sampled: flags & 1 == 1 })
    }

    /// The header value (version `00`; the reserved flags are always sent as zero).
    pub fn header(&self) -> HeaderValue {
        let mut out = Vec::with_capacity(55);
        out.extend_from_slice(b"00-");
        hex_into(&self.trace_id, &mut out);
        out.push(b'-');
        hex_into(&self.parent_id, &mut out);
        out.extend_from_slice(if self.sampled { b"-01" } else { b"-00" });
        HeaderValue::from_bytes(&out).expect("hex and dashes are valid header bytes")
    }
}

/// The client's `tracestate`, to forward with a `traceparent` that was accepted: the header
/// fields joined (RFC 7230 list), dropped when malformed (an empty member list, a member without
/// `key=`, a bad key, more than 32 members) and cut to 512 bytes by whole entries (those over
/// 128 bytes first, then from the end).
pub fn tracestate(headers: &HeaderMap) -> Option<HeaderValue> {
    let mut members: Vec<&str> = Vec::new();
    for field in headers.get_all(TRACESTATE) {
        let text = field.to_str().ok()?;
        for m in text.split(',') {
            let m = m.trim_matches([' ', '\t']);
            if m.is_empty() {
                continue;
            }
            let (key, value) = m.split_once('=')?;
            let key_ok = !key.is_empty()
                && key.len() <= 256
                && key.bytes().next().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                && key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-*/@".contains(&b));
            let value_ok = !value.is_empty()
                && value.len() <= 256
                && value.bytes().all(|b| (0x20..=0x7e).contains(&b) && b != b',' && b != b'=');
            if !key_ok || !value_ok {
                return None;
            }
            members.push(m);
        }
    }
    if members.is_empty() || members.len() > TRACESTATE_MEMBERS {
        return None;
    }
    let joined_len = |ms: &[&str]| ms.iter().map(|m| m.len()).sum::<usize>() + ms.len().saturating_sub(1);
    if joined_len(&members) > TRACESTATE_MAX {
        members.retain(|m| m.len() <= 128);
        while joined_len(&members) > TRACESTATE_MAX {
            members.pop();
        }
    }
    if members.is_empty() {
        return None;
    }
    HeaderValue::from_str(&members.join(",")).ok()
}

/// Trace and span ids: random (never all zero, which the W3C recommendation reserves).
pub fn new_trace_id() -> [u8; 16] {
    fastrand::u128(1..).to_be_bytes()
}

pub fn new_span_id() -> [u8; 8] {
    fastrand::u64(1..).to_be_bytes()
}

/// The sampling decision for a trace this gateway starts: OpenTelemetry's `TraceIDRatioBased`
/// (the trace id's low 63 bits under `rate` × 2⁶³), so every service sampling by the same rule
/// keeps the same traces.
pub fn ratio_sampled(trace_id: &[u8; 16], rate: f64) -> bool {
    if rate >= 1.0 {
        return true;
    }
    if rate <= 0.0 || rate.is_nan() {
        return false;
    }
    let low = u64::from_be_bytes(trace_id[8..16].try_into().expect("8 bytes")) >> 1;
    (low as f64) < rate * (1u64 << 63) as f64
}

/// A request's trace as telemetry reports it (for log correlation): the trace, the server
/// span, and whether it is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpanContext {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    pub sampled: bool,
}

impl SpanContext {
    pub fn trace_id_hex(&self) -> String {
        hex(&self.trace_id)
    }
}

/// `telemetry/opentelemetry`'s trace settings, compiled once.
#[derive(Debug)]
pub(crate) struct Tracer {
    sample_rate: f64,
    /// Whether the client's `traceparent` is trusted (`layers.global.disable_propagation` off).
    extract: bool,
    skip_paths: Vec<String>,
    /// Whether the server span is exported (`layers.global.disable_traces` off).
    server_spans: bool,
    /// Whether each backend exchange gets its own span (`layers.backend.traces` not disabled).
    call_spans: bool,
    static_attributes: Vec<(String, String)>,
    /// Where sampled traces go; `None` when no OTLP/HTTP exporter takes traces.
    exporter: Option<Exporter>,
}

impl Tracer {
    /// Whether an OTLP exporter sends its traces somewhere.
    pub(crate) fn exports(&self) -> bool {
        self.exporter.is_some()
    }

    pub(crate) fn new(cfg: &OtelConfig) -> Tracer {
        let layers = cfg.layers.as_ref();
        let global = layers.and_then(|l| l.global.as_ref());
        let backend = layers.and_then(|l| l.backend.as_ref()).and_then(|b| b.traces.as_ref());
        let call_spans = backend.is_none_or(|b| !b.disable_stage && b.round_trip != Some(false));
        // KrakenD: an empty list means the defaults; a list holding only "" means none.
        let skip_paths = match &cfg.skip_paths {
            Some(list) if !list.is_empty() => list.iter().filter(|p| !p.is_empty()).cloned().collect(),
            _ => DEFAULT_SKIP_PATHS.iter().map(|p| (*p).to_owned()).collect(),
        };
        let static_attributes = global
            .map(|g| g.traces_static_attributes.iter().filter(|kv| !kv.key.is_empty() && !kv.value.is_empty()))
            .into_iter()
            .flatten()
            .map(|kv| (kv.key.clone(), kv.value.clone()))
            .collect();
        Tracer {
            sample_rate: cfg.trace_sample_rate.unwrap_or(1.0),
            extract: !global.is_some_and(|g| g.disable_propagation),
            skip_paths,
            server_spans: !global.is_some_and(|g| g.disable_traces),
            call_spans,
            static_attributes,
            exporter: Exporter::from_config(cfg),
        }
    }

    /// Whether a path (the raw request path, or an endpoint's pattern) is left untraced: equal
    /// to a `skip_paths` entry, or under one that ends with `/`.
    pub(crate) fn skips(&self, path: &str) -> bool {
        self.skip_paths.iter().any(|p| path == p || (p.ends_with('/') && path.starts_with(p.as_str())))
    }

    /// Opens a request's trace: the client's context when it sent a valid `traceparent` (and
    /// propagation is on), else a new trace sampled by `trace_sample_rate`.
    pub(crate) fn start(&self, method: &Method, path: &str, headers: &HeaderMap) -> Option<RequestTrace> {
        if self.skips(path) {
            return None;
        }
        let upstream = if self.extract {
            let mut values = headers.get_all(TRACEPARENT).iter();
            match (values.next(), values.next()) {
                (Some(v), None) => TraceParent::parse(v.as_bytes()),
                _ => None,
            }
        } else {
            None
        };
        let (trace_id, parent, sampled, state) = match upstream {
            Some(tp) => (tp.trace_id, Some(tp.parent_id), tp.sampled, tracestate(headers)),
            None => {
                let id = new_trace_id();
                (id, None, ratio_sampled(&id, self.sample_rate), None)
            }
        };
        let recorded = sampled && self.exporter.is_some();
        let span = SpanContext { trace_id, span_id: new_span_id(), sampled };
        Some(RequestTrace {
            span,
            parent,
            tracestate: state,
            call_spans: self.call_spans,
            skipped: AtomicBool::new(false),
            request: recorded.then(|| RequestInfo {
                start: SystemTime::now(),
                started: std::time::Instant::now(),
                method: method.clone(),
                path: path.to_owned(),
                host: headers.get(http::header::HOST).and_then(|h| h.to_str().ok()).map(str::to_owned),
                user_agent: headers.get(http::header::USER_AGENT).and_then(|h| h.to_str().ok()).map(str::to_owned),
            }),
        })
    }

    /// Closes a request's trace: hands its spans to the exporter when it is sampled (never
    /// waits: a full queue drops them).
    pub(crate) fn finish(&self, trace: RequestTrace, status: http::StatusCode, report: &mut Report) {
        if trace.skipped.load(Ordering::Relaxed) {
            return;
        }
        report.trace = Some(trace.span);
        let (Some(exporter), Some(req)) = (&self.exporter, trace.request) else {
            return;
        };
        let end = req.start + req.started.elapsed();
        let route = report.endpoint.as_ref().map(|e| (e.method.clone(), e.pattern.clone()));
        let calls_parent = if self.server_spans { Some(trace.span.span_id) } else { trace.parent };
        let mut spans = Vec::with_capacity(report.calls.len() + 1);
        if self.server_spans {
            let mut attrs = vec![
                Attr::method("http.request.method", &req.method),
                Attr::string("url.path", req.path.clone()),
                Attr::int("http.response.status_code", i64::from(status.as_u16())),
                Attr::str("krakend.stage", "global"),
            ];
            if let Some(host) = req.host {
                attrs.push(Attr::string("server.address", host));
            }
            if let Some(ua) = req.user_agent {
                attrs.push(Attr::string("user_agent.original", ua));
            }
            if let Some((_, pattern)) = &route {
                attrs.push(Attr::shared("http.route", pattern.clone()));
            }
            for (k, v) in &self.static_attributes {
                attrs.push(Attr::owned(k.clone(), v.clone()));
            }
            spans.push(SpanData {
                span_id: trace.span.span_id,
                parent_id: trace.parent,
                name: req.path,
                kind: otlp::KIND_SERVER,
                start: req.start,
                end,
                attributes: attrs,
                error: status.is_server_error().then(|| status.to_string()),
            });
        }
        if self.call_spans {
            for call in &report.calls {
                spans.push(call_span(call, calls_parent, route.as_ref()));
            }
        }
        if !spans.is_empty() {
            exporter.submit(FinishedTrace { trace_id: trace.span.trace_id, spans });
        }
    }

    /// Trace exports dropped so far (queue full, or no runtime to export from).
    pub(crate) fn dropped(&self) -> u64 {
        self.exporter.as_ref().map_or(0, Exporter::dropped)
    }
}

fn call_span(call: &CallRecord, parent: Option<[u8; 8]>, route: Option<&(Method, std::sync::Arc<str>)>) -> SpanData {
    let mut attrs = vec![
        Attr::method("http.request.method", &call.method),
        Attr::string("url.full", call.url.clone()),
        Attr::shared("http.route", call.url_pattern.clone()),
        Attr::str("krakend.stage", "backend-request"),
    ];
    if let Some(host) = call.url.parse::<http::Uri>().ok().and_then(|u| u.host().map(str::to_owned)) {
        attrs.push(Attr::string("server.address", host));
    }
    if let Some((method, pattern)) = route {
        attrs.push(Attr::shared("krakend.endpoint.route", pattern.clone()));
        attrs.push(Attr::method("krakend.endpoint.method", method));
    }
    if let Some(status) = call.status {
        attrs.push(Attr::int("http.response.status_code", i64::from(status.as_u16())));
    }
    SpanData {
        span_id: call.span_id.unwrap_or_else(new_span_id),
        parent_id: parent,
        name: call.url_pattern.to_string(),
        kind: otlp::KIND_CLIENT,
        start: call.start,
        end: call.start + call.duration,
        attributes: attrs,
        error: call.error.clone(),
    }
}

/// What the server span needs from the request (taken only when the trace is recorded).
#[derive(Debug)]
struct RequestInfo {
    start: SystemTime,
    started: std::time::Instant,
    method: Method,
    path: String,
    host: Option<String>,
    user_agent: Option<String>,
}

/// One request's open trace.
#[derive(Debug)]
pub(crate) struct RequestTrace {
    span: SpanContext,
    /// The client's span, when it sent one.
    parent: Option<[u8; 8]>,
    tracestate: Option<HeaderValue>,
    call_spans: bool,
    /// Set when the matched endpoint is in `skip_paths`: nothing is reported.
    skipped: AtomicBool,
    request: Option<RequestInfo>,
}

impl RequestTrace {
    pub(crate) fn skip(&self) {
        self.skipped.store(true, Ordering::Relaxed);
    }

    /// What every backend exchange of this request sends on.
    pub(crate) fn for_calls(&self) -> CallTrace {
        CallTrace {
            w3c: Some(W3cCalls {
                trace_id: self.span.trace_id,
                server_span: self.span.span_id,
                sampled: self.span.sampled,
                tracestate: self.tracestate.clone(),
                new_span_per_call: self.call_spans,
            }),
            xray: None,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct W3cCalls {
    trace_id: [u8; 16],
    server_span: [u8; 8],
    sampled: bool,
    tracestate: Option<HeaderValue>,
    new_span_per_call: bool,
}

/// The trace contexts a request's backend exchanges carry: W3C (`telemetry/opentelemetry`)
/// and X-Ray (a Lambda invocation with active tracing), either or both.
#[derive(Debug, Clone, Default)]
pub(crate) struct CallTrace {
    pub w3c: Option<W3cCalls>,
    pub xray: Option<XrayTrace>,
}

impl CallTrace {
    /// Adds the trace headers of one backend exchange and returns its span id (the parent the
    /// backend sees), replacing any the client sent through `input_headers`.
    pub(crate) fn inject(&self, headers: &mut HeaderMap) -> Option<[u8; 8]> {
        let call_span = new_span_id();
        let mut used = None;
        if let Some(w) = &self.w3c {
            let parent_id = if w.new_span_per_call { call_span } else { w.server_span };
            let tp = TraceParent { trace_id: w.trace_id, parent_id, sampled: w.sampled };
            headers.insert(TRACEPARENT, tp.header());
            match &w.tracestate {
                Some(state) => {
                    headers.insert(TRACESTATE, state.clone());
                }
                None => {
                    headers.remove(TRACESTATE);
                }
            }
            used = w.new_span_per_call.then_some(call_span);
        }
        if let Some(x) = &self.xray {
            headers.insert(X_AMZN_TRACE_ID, x.downstream_header(call_span));
            if x.records() {
                used = Some(call_span);
            }
        }
        used
    }
}

fn hex_nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

fn hex_byte(hi: u8, lo: u8) -> Option<u8> {
    Some(hex_nibble(hi)? << 4 | hex_nibble(lo)?)
}

/// Lowercase hex into `out` (which is `src.len() / 2` bytes); `None` on any other character.
pub(crate) fn hex_decode(src: &[u8], out: &mut [u8]) -> Option<()> {
    if src.len() != out.len() * 2 {
        return None;
    }
    for (i, pair) in src.chunks_exact(2).enumerate() {
        out[i] = hex_byte(pair[0], pair[1])?;
    }
    Some(())
}

pub(crate) fn hex_into(bytes: &[u8], out: &mut Vec<u8>) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)]);
        out.push(DIGITS[usize::from(b & 0xf)]);
    }
}

pub fn hex(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len() * 2);
    hex_into(bytes, &mut out);
    String::from_utf8(out).expect("hex digits are ASCII")
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_valid_traceparent_is_read_and_written_back_unchanged() {
        let tp = TraceParent::parse(VALID.as_bytes()).expect("valid");
        assert!(tp.sampled);
        assert_eq!(hex(&tp.trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(hex(&tp.parent_id), "00f067aa0ba902b7");
        assert_eq!(tp.header().to_str().unwrap(), VALID);
        let unsampled = TraceParent::parse(b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00").unwrap();
        assert!(!unsampled.sampled);
        // Only bit 0 means sampled; other flags are not echoed.
        let flags = TraceParent::parse(b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09").unwrap();
        assert!(flags.sampled);
        assert!(flags.header().to_str().unwrap().ends_with("-01"));
    }

    #[test]
    fn malformed_traceparents_are_refused() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", // uppercase
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01", // zero trace id
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", // zero parent id
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", // forbidden version
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", // 00 is exactly 55
            "0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0z",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
        ] {
            assert_eq!(TraceParent::parse(bad.as_bytes()), None, "{bad}");
        }
        // A higher version is read by its known fields, and written back as 00.
        let later =
            TraceParent::parse(b"cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds")
                .expect("a higher version parses");
        assert_eq!(later.header().to_str().unwrap(), VALID);
    }

    fn state(values: &[&str]) -> Option<String> {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(TRACESTATE, HeaderValue::from_str(v).unwrap());
        }
        tracestate(&h).map(|v| v.to_str().unwrap().to_owned())
    }

    #[test]
    fn tracestate_fields_are_joined_checked_and_cut_by_whole_entries() {
        assert_eq!(
            state(&["rojo=00f067aa0ba902b7", "congo=t61rcWkgMzE"]).as_deref(),
            Some("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE")
        );
        assert_eq!(state(&[" a=1 , ,b=2"]).as_deref(), Some("a=1,b=2"));
        assert_eq!(state(&[]), None);
        assert_eq!(state(&["novalue"]), None);
        assert_eq!(state(&["UPPER=1"]), None);
        let many: Vec<String> = (0..33).map(|i| format!("k{i}=v")).collect();
        assert_eq!(state(&[many.join(",").as_str()]), None, "more than 32 members");
        let long = format!("big={}", "x".repeat(200));
        let filler: Vec<String> = (0..30).map(|i| format!("k{i:02}={}", "y".repeat(12))).collect();
        let cut = state(&[&format!("{long},{}", filler.join(","))]).expect("cut, not dropped");
        assert!(cut.len() <= 512, "{}", cut.len());
        assert!(!cut.contains("big="), "the long entry goes first");
        assert!(cut.starts_with("k00="), "{cut}");
    }

    #[test]
    fn ratio_sampling_follows_the_trace_ids_low_bits() {
        let mut low = [0u8; 16];
        low[15] = 2;
        let mut high = [0u8; 16];
        high[8] = 0xff;
        assert!(ratio_sampled(&low, 0.01));
        assert!(!ratio_sampled(&high, 0.5));
        assert!(ratio_sampled(&high, 1.0));
        assert!(!ratio_sampled(&low, 0.0));
        let kept = (0..10_000).filter(|_| ratio_sampled(&new_trace_id(), 0.25)).count();
        assert!((2_000..3_000).contains(&kept), "{kept} of 10000 at 0.25");
    }

    #[test]
    fn skip_paths_match_exactly_or_under_a_trailing_slash() {
        let t = Tracer::new(&OtelConfig::default());
        assert!(t.skips("/__health"));
        assert!(t.skips("/__debug/"));
        assert!(t.skips("/__debug/anything"));
        assert!(!t.skips("/__healthy"));
        assert!(!t.skips("/users"));
        let none = Tracer::new(&OtelConfig { skip_paths: Some(vec![String::new()]), ..OtelConfig::default() });
        assert!(!none.skips("/__health"), "a list holding only \"\" turns the defaults off");
    }

    #[test]
    fn each_backend_exchange_gets_its_own_span_id_and_replaces_a_forwarded_traceparent() {
        let t = Tracer::new(&OtelConfig::default());
        let mut client = HeaderMap::new();
        client.insert(TRACEPARENT, HeaderValue::from_static(VALID));
        client.insert(TRACESTATE, HeaderValue::from_static("congo=t61rcWkgMzE"));
        let trace = t.start(&Method::GET, "/users", &client).expect("traced");
        let calls = trace.for_calls();
        let mut a = client.clone();
        let mut b = HeaderMap::new();
        let span_a = calls.inject(&mut a).expect("a span per call");
        let span_b = calls.inject(&mut b).expect("a span per call");
        assert_ne!(span_a, span_b);
        let sent = TraceParent::parse(a.get(TRACEPARENT).unwrap().as_bytes()).unwrap();
        assert_eq!(hex(&sent.trace_id), "4bf92f3577b34da6a3ce929d0e0e4736", "same trace");
        assert_eq!(sent.parent_id, span_a);
        assert!(sent.sampled);
        assert_eq!(a.get_all(TRACEPARENT).iter().count(), 1);
        assert_eq!(b.get(TRACESTATE).unwrap(), "congo=t61rcWkgMzE");
    }

    #[test]
    fn a_malformed_traceparent_starts_a_new_trace_without_its_tracestate() {
        let t = Tracer::new(&OtelConfig::default());
        let mut client = HeaderMap::new();
        client.insert(TRACEPARENT, HeaderValue::from_static("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"));
        client.insert(TRACESTATE, HeaderValue::from_static("congo=t61rcWkgMzE"));
        let trace = t.start(&Method::GET, "/users", &client).expect("traced");
        let mut out = client.clone();
        trace.for_calls().inject(&mut out);
        let sent = TraceParent::parse(out.get(TRACEPARENT).unwrap().as_bytes()).expect("a valid traceparent is sent");
        assert_ne!(hex(&sent.trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert!(sent.sampled, "new traces follow trace_sample_rate (1.0 by default)");
        assert!(out.get(TRACESTATE).is_none(), "a restarted trace drops the old tracestate");
    }

    #[test]
    fn with_propagation_disabled_the_clients_trace_is_not_continued() {
        let cfg: OtelConfig =
            serde_json::from_str(r#"{"layers": {"global": {"disable_propagation": true}}}"#).expect("config");
        let t = Tracer::new(&cfg);
        let mut client = HeaderMap::new();
        client.insert(TRACEPARENT, HeaderValue::from_static(VALID));
        let mut out = HeaderMap::new();
        t.start(&Method::GET, "/x", &client).unwrap().for_calls().inject(&mut out);
        let sent = TraceParent::parse(out.get(TRACEPARENT).unwrap().as_bytes()).unwrap();
        assert_ne!(hex(&sent.trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
    }
}
