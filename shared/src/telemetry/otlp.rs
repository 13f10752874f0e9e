//! The OTLP/HTTP trace exporter: finished traces go into a bounded queue (never waited on: a
//! full queue drops and counts), and one background task batches them, encodes them as OTLP's
//! JSON (`ExportTraceServiceRequest`) and POSTs them to `http://host:port/v1/traces` of every
//! `exporters.otlp[]` entry with `use_http` and traces on.
//!
//! The JSON is written by hand (serde structs below) rather than with an OpenTelemetry SDK and
//! its protobuf stack: the exporter needs five message types, OTLP/HTTP defines this JSON
//! encoding as first class, and the SDK (with prost and tonic) would add megabytes to a binary
//! whose size and cold start are budgeted. OTLP's JSON differs from proto3's standard mapping in
//! two ways kept here: ids are lowercase hex (not base64) and enums are integers; 64-bit
//! integers are decimal strings, as proto3 maps them.

use super::trace::hex;
use crate::config::telemetry::{OtelConfig, OtlpExporter};
use crate::transport::HttpClient;
use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use serde::Serialize;
use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;

pub(crate) const KIND_SERVER: u8 = 2;
pub(crate) const KIND_CLIENT: u8 = 3;
const STATUS_OK: u8 = 1;
const STATUS_ERROR: u8 = 2;

/// Traces waiting for the exporter, at most (each is one request's spans).
const QUEUE: usize = 1024;
/// Traces per export request, at most.
const MAX_BATCH: usize = 256;
/// How long the first trace of a batch waits for others before the batch is sent.
const BATCH_DELAY: Duration = Duration::from_secs(1);
/// One export request's limit (connect, send, answer): a collector slower than this loses the
/// batch; meanwhile the queue fills and drops, so requests never wait on it.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);
/// At most one warning about failed or dropped exports per interval.
pub(crate) const WARN_INTERVAL: Duration = Duration::from_secs(60);
/// Largest collector answer read (the answer is not used).
const MAX_ANSWER: usize = 64 * 1024;

/// One attribute of a span.
#[derive(Debug, Clone)]
pub(crate) struct Attr {
    key: Cow<'static, str>,
    value: AttrValue,
}

#[derive(Debug, Clone)]
enum AttrValue {
    Str(Cow<'static, str>),
    Shared(Arc<str>),
    Int(i64),
}

impl Attr {
    pub(crate) fn str(key: &'static str, value: &'static str) -> Attr {
        Attr { key: Cow::Borrowed(key), value: AttrValue::Str(Cow::Borrowed(value)) }
    }
    pub(crate) fn string(key: &'static str, value: String) -> Attr {
        Attr { key: Cow::Borrowed(key), value: AttrValue::Str(Cow::Owned(value)) }
    }
    pub(crate) fn shared(key: &'static str, value: Arc<str>) -> Attr {
        Attr { key: Cow::Borrowed(key), value: AttrValue::Shared(value) }
    }
    pub(crate) fn owned(key: String, value: String) -> Attr {
        Attr { key: Cow::Owned(key), value: AttrValue::Str(Cow::Owned(value)) }
    }
    pub(crate) fn method(key: &'static str, m: &http::Method) -> Attr {
        let value = match *m {
            http::Method::GET => Cow::Borrowed("GET"),
            http::Method::POST => Cow::Borrowed("POST"),
            http::Method::PUT => Cow::Borrowed("PUT"),
            http::Method::DELETE => Cow::Borrowed("DELETE"),
            http::Method::PATCH => Cow::Borrowed("PATCH"),
            _ => Cow::Owned(m.as_str().to_owned()),
        };
        Attr { key: Cow::Borrowed(key), value: AttrValue::Str(value) }
    }
    pub(crate) fn int(key: &'static str, value: i64) -> Attr {
        Attr { key: Cow::Borrowed(key), value: AttrValue::Int(value) }
    }
}

/// One finished span.
#[derive(Debug)]
pub(crate) struct SpanData {
    pub span_id: [u8; 8],
    pub parent_id: Option<[u8; 8]>,
    pub name: String,
    pub kind: u8,
    pub start: SystemTime,
    pub end: SystemTime,
    pub attributes: Vec<Attr>,
    /// The error, when the span failed (status ERROR with this message; else OK).
    pub error: Option<String>,
}

/// One request's spans, queued for export.
#[derive(Debug)]
pub(crate) struct FinishedTrace {
    pub trace_id: [u8; 16],
    pub spans: Vec<SpanData>,
}

/// The exporter of one gateway: its collectors, its queue (started with the first trace, on the
/// runtime serving requests) and its drop count.
pub(crate) struct Exporter {
    targets: Arc<[String]>,
    resource: Arc<Vec<Attr>>,
    queue: OnceLock<Option<mpsc::Sender<FinishedTrace>>>,
    dropped: Arc<AtomicU64>,
}

impl std::fmt::Debug for Exporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exporter").field("targets", &self.targets).finish_non_exhaustive()
    }
}

/// `http://host:port/v1/traces` for an exporter (`host` may carry its own `http://` or
/// `https://`, as krakend-otel allows).
pub(crate) fn traces_url(e: &OtlpExporter) -> String {
    let host = e.host.trim_end_matches('/');
    let (scheme, host) = match host.split_once("://") {
        Some((s, h)) => (s, h),
        None => ("http", host),
    };
    let host = if host.contains(':') && !host.starts_with('[') { format!("[{host}]") } else { host.to_owned() };
    format!("{scheme}://{host}:{}/v1/traces", e.port)
}

/// The resource every export names (krakend-otel's: the service, its version, its
/// environment).
pub(crate) fn resource(cfg: &OtelConfig) -> Vec<Attr> {
    let mut resource = vec![
        Attr::owned("service.name".into(), cfg.service_name.clone().unwrap_or_else(|| "KrakenD".into())),
        Attr::owned(
            "service.version".into(),
            cfg.service_version.clone().unwrap_or_else(|| env!("CARGO_PKG_VERSION").into()),
        ),
        Attr::str("telemetry.sdk.name", "tributary"),
    ];
    if let Some(env) = cfg.deploy_env.as_ref().filter(|e| !e.is_empty()) {
        resource.push(Attr::owned("deployment.environment".into(), env.clone()));
    }
    resource
}

/// POSTs one export body to a collector, within [`EXPORT_TIMEOUT`]; the error names the
/// collector.
pub(crate) async fn post(client: &HttpClient, url: &str, headers: &HeaderMap, body: Bytes) -> Result<(), ExportError> {
    let send = client.send_limited(&http::Method::POST, url, headers, Some(body), MAX_ANSWER);
    match tokio::time::timeout(EXPORT_TIMEOUT, send).await {
        Ok(Ok(answer)) if answer.status.is_success() => Ok(()),
        Ok(Ok(answer)) => Err(ExportError::Status { url: url.to_owned(), status: answer.status }),
        Ok(Err(crate::transport::SendError::Failed(e))) => Err(ExportError::Failed(e)),
        Ok(Err(crate::transport::SendError::TooLarge)) => Ok(()),
        Err(_) => Err(ExportError::Timeout { url: url.to_owned() }),
    }
}

/// Why an export did not reach its collector (logged, rate-limited).
#[derive(Debug, thiserror::Error)]
pub(crate) enum ExportError {
    /// The collector answered with a status other than 2xx.
    #[error("{url}: {status}")]
    Status { url: String, status: http::StatusCode },
    /// The client's error, in Go's words (it names the collector's URL).
    #[error("{0}")]
    Failed(String),
    #[error("{url}: no answer within {EXPORT_TIMEOUT:?}")]
    Timeout { url: String },
}

/// The export client: a short connect timeout, so that a collector that is down fails fast.
pub(crate) fn client() -> HttpClient {
    let settings = crate::transport::ClientSettings {
        connect_timeout: Some(Duration::from_secs(2)),
        ..crate::transport::ClientSettings::default()
    };
    HttpClient::new(&settings)
}

/// The headers of every export.
pub(crate) fn json_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers
}

impl Exporter {
    /// The exporter for the config's OTLP/HTTP trace collectors; `None` when there are none
    /// (gRPC entries are warned about at start and left out).
    pub(crate) fn from_config(cfg: &OtelConfig) -> Option<Exporter> {
        let list = cfg.otlp_exporters();
        let targets: Vec<String> =
            list.iter().filter(|e| e.use_http && !e.disable_traces && e.port != 0).map(traces_url).collect();
        if targets.is_empty() {
            return None;
        }
        Some(Exporter {
            targets: targets.into(),
            resource: Arc::new(resource(cfg)),
            queue: OnceLock::new(),
            dropped: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Queues a finished trace. Never waits: when the queue is full (the collectors are slow or
    /// down) the trace is dropped and counted.
    pub(crate) fn submit(&self, trace: FinishedTrace) {
        let queue = self.queue.get_or_init(|| self.start());
        let sent = queue.as_ref().is_some_and(|q| q.try_send(trace).is_ok());
        if !sent {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Starts the export task on the runtime serving this request (none: nothing is exported).
    fn start(&self) -> Option<mpsc::Sender<FinishedTrace>> {
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let (tx, rx) = mpsc::channel(QUEUE);
        let task = ExportTask {
            targets: self.targets.clone(),
            resource: self.resource.clone(),
            client: client(),
            dropped: self.dropped.clone(),
        };
        runtime.spawn(task.run(rx));
        Some(tx)
    }
}

struct ExportTask {
    targets: Arc<[String]>,
    resource: Arc<Vec<Attr>>,
    client: HttpClient,
    dropped: Arc<AtomicU64>,
}

impl ExportTask {
    async fn run(self, mut rx: mpsc::Receiver<FinishedTrace>) {
        let headers = json_headers();
        let mut failed = 0u64;
        let mut reported_drops = 0u64;
        let mut last_warning: Option<std::time::Instant> = None;
        let mut batch = Vec::with_capacity(MAX_BATCH);
        loop {
            let Some(first) = rx.recv().await else { return };
            batch.push(first);
            let flush_at = tokio::time::Instant::now() + BATCH_DELAY;
            while batch.len() < MAX_BATCH {
                match tokio::time::timeout_at(flush_at, rx.recv()).await {
                    Ok(Some(t)) => batch.push(t),
                    Ok(None) | Err(_) => break,
                }
            }
            let body = Bytes::from(encode(&self.resource, &batch));
            batch.clear();
            let (client, headers) = (&self.client, &headers);
            let sends = self.targets.iter().map(|url| post(client, url, headers, body.clone()));
            let mut last_error = None;
            for result in futures_util::future::join_all(sends).await {
                if let Err(e) = result {
                    failed += 1;
                    last_error = Some(e);
                }
            }
            let dropped = self.dropped.load(Ordering::Relaxed);
            let due = last_warning.is_none_or(|t| t.elapsed() >= WARN_INTERVAL);
            if due && (last_error.is_some() || dropped > reported_drops) {
                tracing::warn!(
                    failed_exports = failed,
                    dropped_traces = dropped - reported_drops,
                    last_error = last_error.as_ref().map(ToString::to_string).as_deref().unwrap_or(""),
                    "OTLP trace export: collector unreachable or slow; traces are being dropped (requests are not affected)"
                );
                last_warning = Some(std::time::Instant::now());
                reported_drops = dropped;
                failed = 0;
            }
        }
    }
}

/// An `ExportTraceServiceRequest` in OTLP's JSON encoding.
pub(crate) fn encode(resource: &[Attr], traces: &[FinishedTrace]) -> Vec<u8> {
    let spans: Vec<JsonSpan<'_>> =
        traces.iter().flat_map(|t| t.spans.iter().map(move |s| JsonSpan::new(&t.trace_id, s))).collect();
    let request = ExportRequest {
        resource_spans: [ResourceSpans {
            resource: JsonResource { attributes: resource.iter().map(JsonKeyValue::from).collect() },
            scope_spans: [ScopeSpans { scope: Scope { name: "tributary", version: env!("CARGO_PKG_VERSION") }, spans }],
        }],
    };
    serde_json::to_vec(&request).expect("plain structs serialize")
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExportRequest<'a> {
    resource_spans: [ResourceSpans<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResourceSpans<'a> {
    resource: JsonResource<'a>,
    scope_spans: [ScopeSpans<'a>; 1],
}

#[derive(Serialize)]
pub(crate) struct JsonResource<'a> {
    pub attributes: Vec<JsonKeyValue<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ScopeSpans<'a> {
    scope: Scope,
    spans: Vec<JsonSpan<'a>>,
}

#[derive(Serialize)]
pub(crate) struct Scope {
    pub name: &'static str,
    pub version: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonSpan<'a> {
    trace_id: String,
    span_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    parent_span_id: Option<String>,
    name: &'a str,
    kind: u8,
    start_time_unix_nano: String,
    end_time_unix_nano: String,
    attributes: Vec<JsonKeyValue<'a>>,
    status: JsonStatus<'a>,
}

impl<'a> JsonSpan<'a> {
    fn new(trace_id: &[u8; 16], s: &'a SpanData) -> Self {
        JsonSpan {
            trace_id: hex(trace_id),
            span_id: hex(&s.span_id),
            parent_span_id: s.parent_id.as_ref().map(|p| hex(p)),
            name: &s.name,
            kind: s.kind,
            start_time_unix_nano: nanos(s.start),
            end_time_unix_nano: nanos(s.end.max(s.start)),
            attributes: s.attributes.iter().map(JsonKeyValue::from).collect(),
            status: match &s.error {
                Some(message) => JsonStatus { code: STATUS_ERROR, message: Some(message) },
                None => JsonStatus { code: STATUS_OK, message: None },
            },
        }
    }
}

#[derive(Serialize)]
struct JsonStatus<'a> {
    code: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
}

#[derive(Serialize)]
pub(crate) struct JsonKeyValue<'a> {
    pub key: &'a str,
    pub value: JsonAnyValue<'a>,
}

#[derive(Serialize)]
pub(crate) enum JsonAnyValue<'a> {
    #[serde(rename = "stringValue")]
    String(&'a str),
    /// proto3 maps int64 to a decimal string.
    #[serde(rename = "intValue")]
    Int(String),
    #[serde(rename = "boolValue")]
    Bool(bool),
}

impl<'a> From<&'a Attr> for JsonKeyValue<'a> {
    fn from(a: &'a Attr) -> Self {
        let value = match &a.value {
            AttrValue::Str(s) => JsonAnyValue::String(s),
            AttrValue::Shared(s) => JsonAnyValue::String(s),
            AttrValue::Int(i) => JsonAnyValue::Int(i.to_string()),
        };
        JsonKeyValue { key: &a.key, value }
    }
}

pub(crate) fn nanos(t: SystemTime) -> String {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_are_encoded_with_hex_ids_integer_enums_and_string_nanos() {
        let start = UNIX_EPOCH + Duration::from_nanos(1_700_000_000_123_456_789);
        let trace = FinishedTrace {
            trace_id: [0xab; 16],
            spans: vec![SpanData {
                span_id: [1, 2, 3, 4, 5, 6, 7, 8],
                parent_id: None,
                name: "/users".into(),
                kind: KIND_SERVER,
                start,
                end: start + Duration::from_millis(2),
                attributes: vec![Attr::str("krakend.stage", "global"), Attr::int("http.response.status_code", 200)],
                error: None,
            }],
        };
        let json: serde_json::Value =
            serde_json::from_slice(&encode(&[Attr::str("service.name", "KrakenD")], &[trace])).unwrap();
        let span = &json["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
        assert_eq!(span["traceId"], "abababababababababababababababab");
        assert_eq!(span["spanId"], "0102030405060708");
        assert!(span.get("parentSpanId").is_none());
        assert_eq!(span["kind"], 2);
        assert_eq!(span["startTimeUnixNano"], "1700000000123456789");
        assert_eq!(span["endTimeUnixNano"], "1700000000125456789");
        assert_eq!(
            span["attributes"][1],
            serde_json::json!({"key": "http.response.status_code", "value": {"intValue": "200"}})
        );
        assert_eq!(span["status"], serde_json::json!({"code": 1}));
        assert_eq!(json["resourceSpans"][0]["resource"]["attributes"][0]["value"]["stringValue"], "KrakenD");
    }

    #[test]
    fn collector_urls_take_the_hosts_scheme_when_it_has_one() {
        let e = |host: &str| OtlpExporter { host: host.into(), port: 4318, use_http: true, ..Default::default() };
        assert_eq!(traces_url(&e("collector")), "http://collector:4318/v1/traces");
        assert_eq!(traces_url(&e("https://collector/")), "https://collector:4318/v1/traces");
        assert_eq!(traces_url(&e("::1")), "http://[::1]:4318/v1/traces");
    }
}
