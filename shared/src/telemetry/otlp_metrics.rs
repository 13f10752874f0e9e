//! The OTLP/HTTP metrics exporter: every `metric_reporting_period` (or an exporter's own
//! `custom_metric_reporting_period`) a background task reads the registry as krakend-otel's
//! instruments and POSTs them, cumulative, as OTLP's JSON (`ExportMetricsServiceRequest`) to
//! `http://host:port/v1/metrics` of every `exporters.otlp[]` entry with `use_http` and metrics
//! on. Requests never wait on it: the task reads the registry's atomics, and a collector that
//! is down or slow only delays that collector's next export (one body at a time, nothing
//! queued), with one warning per interval.
//!
//! Hand-written JSON for the same reason as the trace exporter's (see `otlp`): OTLP/HTTP
//! defines this encoding as first class, and an OpenTelemetry SDK would not fit the binary's
//! size budget. As OTLP's JSON requires, enums (aggregation temporality) are integers and
//! 64-bit integers (counts, times) are decimal strings.

use super::metrics::Metrics;
use super::otel::{AttrValue, Attrs, Instrument, Points, SCOPE};
use super::otlp::{self, Attr, JsonAnyValue, JsonKeyValue, JsonResource, Scope, nanos};
use crate::config::telemetry::{OtelConfig, OtlpExporter};
use bytes::Bytes;
use serde::Serialize;
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, SystemTime};

/// krakend-otel's `metric_reporting_period` when unset (seconds).
pub(crate) const DEFAULT_PERIOD_SECS: u64 = 30;

/// The longest period taken (a larger one would overflow the timer's clock; a year is already
/// "never" for a reporting period).
const MAX_PERIOD: Duration = Duration::from_secs(365 * 86_400);

/// OTLP's `AGGREGATION_TEMPORALITY_CUMULATIVE`: every export carries the totals since start,
/// as krakend-otel's exporters send them.
const CUMULATIVE: u8 = 2;

/// One collector and how often it gets the metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub url: String,
    pub period: Duration,
}

/// The metrics exporter of one gateway: its collectors, started once on the runtime that
/// serves the gateway.
#[derive(Debug)]
pub(crate) struct MetricsExporter {
    targets: Vec<Target>,
    resource: Arc<Vec<Attr>>,
    /// When the registry started counting: the start of every cumulative point.
    start: SystemTime,
    started: OnceLock<()>,
}

/// `http://host:port/v1/metrics` for an exporter.
fn metrics_url(e: &OtlpExporter) -> String {
    let traces = otlp::traces_url(e);
    format!("{}/v1/metrics", traces.strip_suffix("/v1/traces").unwrap_or(&traces))
}

impl MetricsExporter {
    /// The exporter for the config's OTLP/HTTP metric collectors; `None` when there are none.
    pub(crate) fn from_config(cfg: &OtelConfig) -> Option<MetricsExporter> {
        let list = cfg.otlp_exporters();
        let global = cfg.metric_reporting_period.filter(|p| *p > 0).unwrap_or(DEFAULT_PERIOD_SECS);
        let targets: Vec<Target> = list
            .iter()
            .filter(|e| e.use_http && !e.disable_metrics && e.port != 0)
            .map(|e| Target {
                url: metrics_url(e),
                period: Duration::from_secs(e.custom_metric_reporting_period.filter(|p| *p > 0).unwrap_or(global))
                    .min(MAX_PERIOD),
            })
            .collect();
        if targets.is_empty() {
            return None;
        }
        Some(MetricsExporter {
            targets,
            resource: Arc::new(otlp::resource(cfg)),
            start: SystemTime::now(),
            started: OnceLock::new(),
        })
    }

    /// Starts one export task per collector on the current runtime, once (a later call does
    /// nothing; without a runtime nothing starts and a later call tries again). The tasks hold
    /// the registry weakly: they end at their next tick once the gateway is dropped.
    pub(crate) fn start(&self, metrics: &Arc<Metrics>) {
        if self.started.get().is_some() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        if self.started.set(()).is_err() {
            return;
        }
        for target in &self.targets {
            let task = PushTask {
                target: target.clone(),
                metrics: Arc::downgrade(metrics),
                resource: self.resource.clone(),
                start: self.start,
            };
            runtime.spawn(task.run());
        }
    }

    #[cfg(test)]
    pub(crate) fn targets(&self) -> &[Target] {
        &self.targets
    }
}

struct PushTask {
    target: Target,
    metrics: Weak<Metrics>,
    resource: Arc<Vec<Attr>>,
    start: SystemTime,
}

impl PushTask {
    async fn run(self) {
        let client = otlp::client();
        let headers = otlp::json_headers();
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + self.target.period, self.target.period);
        // A slow collector delays the next export rather than causing a burst of them.
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failed = 0u64;
        let mut last_warning: Option<std::time::Instant> = None;
        loop {
            tick.tick().await;
            let body = {
                let Some(metrics) = self.metrics.upgrade() else { return };
                let Some(output) = metrics.outputs().otel.as_ref() else { return };
                let instruments = metrics.otel_instruments(output);
                encode(&self.resource, &instruments, self.start, SystemTime::now())
            };
            // OTLP senders should not send empty envelopes.
            let Some(body) = body else { continue };
            if let Err(e) = otlp::post(&client, &self.target.url, &headers, Bytes::from(body)).await {
                failed += 1;
                if last_warning.is_none_or(|t| t.elapsed() >= otlp::WARN_INTERVAL) {
                    tracing::warn!(
                        failed_exports = failed,
                        last_error = e.to_string().as_str(),
                        "OTLP metric export: collector unreachable or slow; metrics are not delivered (requests are not affected)"
                    );
                    last_warning = Some(std::time::Instant::now());
                    failed = 0;
                }
            }
        }
    }
}

/// An `ExportMetricsServiceRequest` in OTLP's JSON encoding: cumulative points from `start`
/// to `now`. `None` when no instrument has a point yet.
pub(crate) fn encode(
    resource: &[Attr],
    instruments: &[Instrument],
    start: SystemTime,
    now: SystemTime,
) -> Option<Vec<u8>> {
    let (start, now) = (nanos(start), nanos(now));
    let metrics: Vec<JsonMetric<'_>> =
        instruments.iter().filter(|i| !i.is_empty()).map(|i| JsonMetric::new(i, &start, &now)).collect();
    if metrics.is_empty() {
        return None;
    }
    let request = ExportRequest {
        resource_metrics: [ResourceMetrics {
            resource: JsonResource { attributes: resource.iter().map(JsonKeyValue::from).collect() },
            scope_metrics: [ScopeMetrics { scope: Scope { name: SCOPE, version: "" }, metrics }],
        }],
    };
    Some(serde_json::to_vec(&request).expect("plain structs serialize"))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExportRequest<'a> {
    resource_metrics: [ResourceMetrics<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResourceMetrics<'a> {
    resource: JsonResource<'a>,
    scope_metrics: [ScopeMetrics<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ScopeMetrics<'a> {
    scope: Scope,
    metrics: Vec<JsonMetric<'a>>,
}

#[derive(Serialize)]
struct JsonMetric<'a> {
    name: &'static str,
    description: &'static str,
    #[serde(skip_serializing_if = "str::is_empty")]
    unit: &'static str,
    #[serde(flatten)]
    data: JsonData<'a>,
}

#[derive(Serialize)]
enum JsonData<'a> {
    #[serde(rename = "histogram")]
    Histogram(JsonHistogram<'a>),
    #[serde(rename = "sum")]
    Sum(JsonSum<'a>),
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonHistogram<'a> {
    data_points: Vec<HistogramPoint<'a>>,
    aggregation_temporality: u8,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HistogramPoint<'a> {
    attributes: Vec<JsonKeyValue<'a>>,
    start_time_unix_nano: &'a str,
    time_unix_nano: &'a str,
    count: String,
    sum: f64,
    /// Per bucket (not cumulative), one more than the bounds.
    bucket_counts: Vec<String>,
    explicit_bounds: Vec<f64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonSum<'a> {
    data_points: Vec<NumberPoint<'a>>,
    aggregation_temporality: u8,
    is_monotonic: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NumberPoint<'a> {
    attributes: Vec<JsonKeyValue<'a>>,
    start_time_unix_nano: &'a str,
    time_unix_nano: &'a str,
    as_int: String,
}

impl<'a> JsonMetric<'a> {
    fn new(i: &'a Instrument, start: &'a str, now: &'a str) -> Self {
        let attributes = |attrs: &'a Attrs| -> Vec<JsonKeyValue<'a>> {
            let mut out: Vec<JsonKeyValue<'a>> =
                attrs.iter().map(|(k, v)| JsonKeyValue { key: k, value: any(v) }).collect();
            for (k, v) in &i.extra {
                if !attrs.iter().any(|(name, _)| name == k) {
                    out.push(JsonKeyValue { key: k, value: JsonAnyValue::String(v) });
                }
            }
            out
        };
        let data = match &i.points {
            Points::Histogram(scale, points) => JsonData::Histogram(JsonHistogram {
                data_points: points
                    .iter()
                    .map(|(attrs, h)| {
                        let cumulative = h.cumulative(scale.internal, scale.wanted);
                        let mut previous = 0;
                        let bucket_counts = cumulative
                            .iter()
                            .map(|c| {
                                let n = c - previous;
                                previous = *c;
                                n.to_string()
                            })
                            .collect();
                        HistogramPoint {
                            attributes: attributes(attrs),
                            start_time_unix_nano: start,
                            time_unix_nano: now,
                            count: h.count().to_string(),
                            sum: h.sum as f64 / scale.divisor,
                            bucket_counts,
                            explicit_bounds: scale.wanted.iter().map(|b| *b as f64 / scale.divisor).collect(),
                        }
                    })
                    .collect(),
                aggregation_temporality: CUMULATIVE,
            }),
            Points::Counter(points) => JsonData::Sum(JsonSum {
                data_points: points
                    .iter()
                    .map(|(attrs, n)| NumberPoint {
                        attributes: attributes(attrs),
                        start_time_unix_nano: start,
                        time_unix_nano: now,
                        as_int: n.to_string(),
                    })
                    .collect(),
                aggregation_temporality: CUMULATIVE,
                is_monotonic: true,
            }),
        };
        JsonMetric { name: i.name, description: i.description, unit: i.unit, data }
    }
}

fn any(v: &AttrValue) -> JsonAnyValue<'_> {
    match v {
        AttrValue::Str(s) => JsonAnyValue::String(s),
        AttrValue::Int(i) => JsonAnyValue::Int(i.to_string()),
        AttrValue::Bool(b) => JsonAnyValue::Bool(*b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Gateway;
    use crate::telemetry::{CallRecord, EndpointId, Report};
    use http::{Method, StatusCode};
    use serde_json::Value;
    use std::time::UNIX_EPOCH;

    fn gateway(otel: &str) -> Gateway {
        Gateway::from_json(&format!(
            r#"{{"version": 3, "extra_config": {{"telemetry/opentelemetry": {otel}}},
                "endpoints": [{{"endpoint": "/users/{{id}}", "backend": [{{"host": ["http://127.0.0.1:8000"], "url_pattern": "/u/{{id}}"}}]}}]}}"#
        ))
        .expect("a valid config")
    }

    const OTLP_ONLY: &str =
        r#"{"exporters": {"otlp": [{"name": "c", "host": "127.0.0.1", "port": 4318, "use_http": true}]}}"#;

    fn serve(g: &Gateway, status: u16, n: usize, latency: Duration) {
        let m = g.metrics().expect("an OTLP exporter alone turns the registry on");
        let report = Report {
            endpoint: Some(EndpointId { index: 0, method: Method::GET, pattern: "/users/{id}".into(), backends: 1 }),
            completed: Some(true),
            calls: vec![CallRecord {
                backend: 0,
                url_pattern: "/u/{id}".into(),
                method: Method::GET,
                url: "http://127.0.0.1:8000/u/1".into(),
                start: SystemTime::now(),
                duration: latency / 2,
                status: Some(StatusCode::OK),
                error: None,
                span_id: None,
            }],
            ..Report::default()
        };
        for _ in 0..n {
            m.record_request(&report, &Method::GET, false, StatusCode::from_u16(status).unwrap(), 10, latency);
            m.record_pipe(0, latency, &report);
        }
    }

    fn encoded(g: &Gateway) -> Value {
        let m = g.metrics().unwrap();
        let instruments = m.otel_instruments(m.outputs().otel.as_ref().unwrap());
        let start = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let body = encode(&[Attr::str("service.name", "KrakenD")], &instruments, start, start + Duration::from_secs(5))
            .expect("points to send");
        serde_json::from_slice(&body).expect("JSON")
    }

    fn metric<'a>(doc: &'a Value, name: &str) -> &'a Value {
        doc["resourceMetrics"][0]["scopeMetrics"][0]["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == name)
            .unwrap_or_else(|| panic!("no {name} in {doc:#}"))
    }

    fn attr<'a>(point: &'a Value, key: &str) -> &'a Value {
        &point["attributes"].as_array().unwrap().iter().find(|a| a["key"] == key).unwrap_or_else(|| panic!("{key}"))["value"]
    }

    #[test]
    fn an_otlp_exporter_alone_turns_the_registry_on_and_is_read_with_krakend_otel_s_period_keys() {
        let g = gateway(OTLP_ONLY);
        assert!(g.metrics().is_some());
        let cfg: OtelConfig = serde_json::from_str(
            r#"{"metric_reporting_period": 7, "exporters": {"otlp": [
                {"name": "a", "host": "127.0.0.1", "port": 4318, "use_http": true},
                {"name": "b", "host": "collector", "port": 4318, "use_http": true, "custom_metric_reporting_period": 2},
                {"name": "c", "host": "old", "port": 4318, "use_http": true, "custom_reporting_period": 3},
                {"name": "d", "host": "no", "port": 4318, "use_http": true, "disable_metrics": true},
                {"name": "e", "host": "grpc", "port": 4317}]}}"#,
        )
        .unwrap();
        let targets = MetricsExporter::from_config(&cfg).expect("metric collectors").targets().to_vec();
        let got: Vec<(&str, u64)> = targets.iter().map(|t| (t.url.as_str(), t.period.as_secs())).collect();
        assert_eq!(
            got,
            [
                ("http://127.0.0.1:4318/v1/metrics", 7),
                ("http://collector:4318/v1/metrics", 2),
                ("http://old:4318/v1/metrics", 3)
            ]
        );
        let huge: OtelConfig = serde_json::from_str(
            r#"{"metric_reporting_period": 18446744073709551615, "exporters": {"otlp": [{"name": "c", "host": "h", "port": 4318, "use_http": true}]}}"#,
        )
        .unwrap();
        assert_eq!(MetricsExporter::from_config(&huge).unwrap().targets()[0].period, MAX_PERIOD);
        let default: OtelConfig = serde_json::from_str(OTLP_ONLY).unwrap();
        assert_eq!(MetricsExporter::from_config(&default).unwrap().targets()[0].period, Duration::from_secs(30));
        let off: OtelConfig = serde_json::from_str(
            r#"{"exporters": {"otlp": [{"name": "c", "host": "h", "port": 4318, "use_http": true, "disable_metrics": true}]}}"#,
        )
        .unwrap();
        assert!(MetricsExporter::from_config(&off).is_none());
    }

    #[test]
    fn nothing_is_sent_before_anything_is_recorded() {
        let g = gateway(OTLP_ONLY);
        let m = g.metrics().unwrap();
        let instruments = m.otel_instruments(m.outputs().otel.as_ref().unwrap());
        assert_eq!(encode(&[], &instruments, UNIX_EPOCH, SystemTime::now()), None);
    }

    #[test]
    fn histograms_are_cumulative_with_per_bucket_counts_as_strings_and_krakend_otel_s_bounds() {
        let g = gateway(OTLP_ONLY);
        serve(&g, 200, 3, Duration::from_millis(15));
        serve(&g, 502, 1, Duration::from_secs(20));
        let doc = encoded(&g);
        let scope = &doc["resourceMetrics"][0]["scopeMetrics"][0]["scope"];
        assert_eq!(scope["name"], "io.krakend.krakend-otel");
        assert_eq!(doc["resourceMetrics"][0]["resource"]["attributes"][0]["value"]["stringValue"], "KrakenD");
        let server = metric(&doc, "http.server.duration");
        assert_eq!(server["histogram"]["aggregationTemporality"], 2);
        let points = server["histogram"]["dataPoints"].as_array().unwrap();
        assert_eq!(points.len(), 2, "one point per status");
        let ok = points.iter().find(|p| attr(p, "http.response.status_code")["intValue"] == "200").expect("200");
        assert_eq!(attr(ok, "http.route")["stringValue"], "/users/:id");
        assert_eq!(attr(ok, "http.request.method")["stringValue"], "GET");
        assert_eq!(attr(ok, "url.scheme")["stringValue"], "http");
        assert_eq!(ok["count"], "3");
        assert!((ok["sum"].as_f64().unwrap() - 0.045).abs() < 1e-9, "{ok}");
        assert_eq!(ok["startTimeUnixNano"], "1700000000000000000");
        assert_eq!(ok["timeUnixNano"], "1700000005000000000");
        let bounds: Vec<f64> = ok["explicitBounds"].as_array().unwrap().iter().map(|b| b.as_f64().unwrap()).collect();
        assert_eq!(bounds.len(), 20);
        assert_eq!((bounds[0], bounds[1], bounds[19]), (0.01, 0.02, 10.0));
        let buckets: Vec<&str> = ok["bucketCounts"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
        assert_eq!(buckets.len(), 21);
        assert_eq!(buckets[1], "3", "15 ms falls in (0.01, 0.02]: {buckets:?}");
        assert!(buckets.iter().enumerate().all(|(i, c)| i == 1 || *c == "0"), "{buckets:?}");
        let slow = points.iter().find(|p| attr(p, "http.response.status_code")["intValue"] == "502").expect("502");
        assert_eq!(slow["bucketCounts"][20], "1", "20 s is above the last bound");
        // The later layers, named and shaped as krakend-otel's.
        let proxy = &metric(&doc, "krakend.proxy.duration")["histogram"]["dataPoints"][0];
        assert_eq!(attr(proxy, "complete")["boolValue"], true);
        assert_eq!(attr(proxy, "error")["boolValue"], false);
        assert_eq!(proxy["count"], "4");
        let backend = &metric(&doc, "krakend.backend.duration")["histogram"]["dataPoints"][0];
        assert_eq!(attr(backend, "http.route")["stringValue"], "/u/:id");
        assert_eq!(attr(backend, "krakend.endpoint.route")["stringValue"], "/users/:id");
        let started = metric(&doc, "http.client.request.started.count");
        assert_eq!(started["sum"]["isMonotonic"], true);
        assert_eq!(started["sum"]["aggregationTemporality"], 2);
        assert_eq!(started["sum"]["dataPoints"][0]["asInt"], "4");
        assert_eq!(metric(&doc, "http.client.duration")["histogram"]["dataPoints"][0]["count"], "4");
        assert!(metric(&doc, "http.server.duration").get("unit").is_none(), "krakend-otel declares no unit");
    }

    #[test]
    fn the_1_27_names_carry_their_units_and_static_attributes_reach_every_point() {
        let g = gateway(
            r#"{"exporters": {"otlp": [{"name": "c", "host": "127.0.0.1", "port": 4318, "use_http": true}]},
                "layers": {"global": {"semantic_convention": "1.27",
                                      "metrics_static_attributes": [{"key": "deploy.region", "value": "eu"}]}}}"#,
        );
        serve(&g, 200, 1, Duration::from_millis(5));
        let doc = encoded(&g);
        let duration = metric(&doc, "http.server.request.duration");
        assert_eq!(duration["unit"], "s");
        assert_eq!(attr(&duration["histogram"]["dataPoints"][0], "deploy.region")["stringValue"], "eu");
        assert_eq!(metric(&doc, "http.server.response.body.size")["unit"], "By");
    }
}
