//! The registry read as krakend-otel's instruments: their OpenTelemetry names, units,
//! attributes and buckets. The Prometheus exposition and the OTLP metrics exporter both render
//! this one reading, so the two can never disagree on what a series is called.

use super::metrics::{
    HistSnapshot, LATENCY_BOUNDS_NS, Metrics, OTEL_SIZE_BUCKETS, OTEL_TIME_BUCKETS_NS, OtelOutput, RouterSeries,
    SIZE_BOUNDS, colon_route, otel_backend_route,
};
use http::StatusCode;
use std::collections::BTreeMap;

/// krakend-otel's instrumentation scope (its meter's name).
pub(crate) const SCOPE: &str = "io.krakend.krakend-otel";

/// How a histogram's values are shown: the internal bounds, the exporter's bounds, and the
/// divisor from internal units (ns, bytes) to the exporter's (s, ms, bytes).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Scale {
    pub internal: &'static [u64],
    pub wanted: &'static [u64],
    pub divisor: f64,
}

pub(crate) const SECONDS: Scale = Scale { internal: LATENCY_BOUNDS_NS, wanted: OTEL_TIME_BUCKETS_NS, divisor: 1e9 };
pub(crate) const OTEL_BYTES: Scale = Scale { internal: SIZE_BOUNDS, wanted: OTEL_SIZE_BUCKETS, divisor: 1.0 };

/// An attribute's value, typed as krakend-otel records it (the status code is an integer,
/// `error`/`complete`/`canceled` are booleans).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum AttrValue {
    Str(String),
    Int(i64),
    Bool(bool),
}

impl AttrValue {
    /// The value as a Prometheus label value.
    pub(crate) fn label(&self) -> String {
        match self {
            AttrValue::Str(s) => s.clone(),
            AttrValue::Int(i) => i.to_string(),
            AttrValue::Bool(b) => b.to_string(),
        }
    }
}

pub(crate) type Attrs = Vec<(&'static str, AttrValue)>;

/// An instrument's data points, by attribute set.
#[derive(Debug)]
pub(crate) enum Points {
    /// Cumulative histograms.
    Histogram(Scale, BTreeMap<Attrs, HistSnapshot>),
    /// Cumulative monotonic counters.
    Counter(BTreeMap<Attrs, u64>),
}

/// One instrument of krakend-otel's meter.
#[derive(Debug)]
pub(crate) struct Instrument {
    /// The OpenTelemetry name (`http.server.duration`).
    pub name: &'static str,
    /// The declared unit (`s`, `By`), empty when krakend-otel declares none.
    pub unit: &'static str,
    pub description: &'static str,
    pub points: Points,
    /// The layer's configured static attributes, on every point.
    pub extra: Vec<(String, String)>,
}

impl Instrument {
    fn histogram(name: &'static str, unit: &'static str, description: &'static str, scale: Scale) -> Self {
        Instrument { name, unit, description, points: Points::Histogram(scale, BTreeMap::new()), extra: Vec::new() }
    }
    fn counter(name: &'static str, description: &'static str) -> Self {
        Instrument { name, unit: "", description, points: Points::Counter(BTreeMap::new()), extra: Vec::new() }
    }
    fn with(mut self, attributes: &[(String, String)]) -> Self {
        self.extra = attributes.to_vec();
        self
    }
    fn observe(&mut self, attrs: Attrs, h: &HistSnapshot) {
        if let Points::Histogram(_, m) = &mut self.points {
            m.entry(attrs).or_default().merge(h);
        }
    }
    fn add(&mut self, attrs: Attrs, n: u64) {
        if let Points::Counter(m) = &mut self.points {
            *m.entry(attrs).or_default() += n;
        }
    }
    pub(crate) fn is_empty(&self) -> bool {
        match &self.points {
            Points::Histogram(_, m) => m.is_empty(),
            Points::Counter(m) => m.is_empty(),
        }
    }
}

fn s(v: impl Into<String>) -> AttrValue {
    AttrValue::Str(v.into())
}

/// A status code attribute: the code, or `other` for the series that pools codes beyond the
/// status table's slots.
fn status(code: Option<u16>) -> AttrValue {
    code.map_or_else(|| s("other"), |c| AttrValue::Int(i64::from(c)))
}

impl Metrics {
    /// Everything recorded since start, as krakend-otel's instruments (the layers `o` turns on).
    pub(crate) fn otel_instruments(&self, o: &OtelOutput) -> Vec<Instrument> {
        let mut out = Vec::new();
        if o.global {
            let (mut duration, mut size) = if o.semconv_1_27 {
                (
                    Instrument::histogram("http.server.request.duration", "s", "Time to serve a request", SECONDS),
                    Instrument::histogram("http.server.response.body.size", "By", "Response body size", OTEL_BYTES),
                )
            } else {
                (
                    Instrument::histogram("http.server.duration", "", "Time to serve a request, in seconds", SECONDS),
                    Instrument::histogram("http.server.response.size", "", "Response body size, in bytes", OTEL_BYTES),
                )
            };
            duration = duration.with(&o.global_attributes);
            size = size.with(&o.global_attributes);
            let mut add = |method: &str, route: String, code: AttrValue, series: &RouterSeries| {
                let attrs: Attrs = vec![
                    ("http.request.method", s(method)),
                    ("http.response.status_code", code),
                    ("http.route", s(route)),
                    ("url.scheme", s("http")),
                ];
                duration.observe(attrs.clone(), &series.latency.total());
                size.observe(attrs, &series.size.total());
            };
            for e in self.endpoints() {
                let route = colon_route(&e.pattern);
                if self.skips(&e.pattern) || self.skips(&route) {
                    continue;
                }
                for (code, series) in e.router.each() {
                    add(e.method.as_str(), route.clone(), status(code), series);
                }
            }
            for (key, series) in self.unmatched() {
                let (route, code, method) = match key {
                    Some((code, method)) => {
                        let reason = StatusCode::from_u16(code).ok().and_then(|s| s.canonical_reason()).unwrap_or("");
                        (format!("{code} {reason}"), AttrValue::Int(i64::from(code)), method)
                    }
                    None => ("other".to_owned(), s("other"), "_OTHER"),
                };
                add(method, route, code, series);
            }
            out.extend([duration, size]);
        }
        if o.proxy {
            let mut f = Instrument::histogram(
                "krakend.proxy.duration",
                "",
                "Time in the endpoint's pipeline, in seconds",
                SECONDS,
            )
            .with(&o.proxy_attributes);
            for e in self.endpoints() {
                let route = colon_route(&e.pattern);
                for (complete, error, h) in e.pipe() {
                    let Some(h) = h else { continue };
                    let attrs: Attrs = vec![
                        ("canceled", AttrValue::Bool(false)),
                        ("complete", AttrValue::Bool(complete)),
                        ("error", AttrValue::Bool(error)),
                        ("http.request.method", s(e.method.as_str())),
                        ("http.route", s(route.clone())),
                    ];
                    f.observe(attrs, &h.total());
                }
            }
            out.push(f);
        }
        if o.backend_stage || o.round_trip {
            let mut stage =
                Instrument::histogram("krakend.backend.duration", "", "Time in the backend stage, in seconds", SECONDS)
                    .with(&o.backend_attributes);
            let mut client = if o.semconv_1_27 {
                Instrument::histogram("http.client.request.duration", "s", "Backend round trip", SECONDS)
            } else {
                Instrument::histogram("http.client.duration", "", "Backend round trip, in seconds", SECONDS)
            }
            .with(&o.backend_attributes);
            let mut started = Instrument::counter("http.client.request.started.count", "Backend requests started")
                .with(&o.backend_attributes);
            let mut failed =
                Instrument::counter("http.client.request.failed.count", "Backend requests that got no answer")
                    .with(&o.backend_attributes);
            for e in self.endpoints() {
                let endpoint_route = colon_route(&e.pattern);
                for b in e.backends.iter() {
                    let base = || -> Attrs {
                        vec![
                            ("http.request.method", s(b.method.as_str())),
                            ("http.route", s(otel_backend_route(&b.url_pattern))),
                            ("krakend.endpoint.method", s(e.method.as_str())),
                            ("krakend.endpoint.route", s(endpoint_route.clone())),
                        ]
                    };
                    if o.backend_stage {
                        for (complete, error, canceled, h) in b.outcomes() {
                            let Some(h) = h else { continue };
                            let mut attrs = base();
                            attrs.extend([
                                ("canceled", AttrValue::Bool(canceled)),
                                ("complete", AttrValue::Bool(complete)),
                                ("error", AttrValue::Bool(error)),
                            ]);
                            stage.observe(attrs, &h.total());
                        }
                    }
                    if o.round_trip {
                        for (code, h) in b.by_status.each() {
                            let mut attrs = base();
                            attrs.push(("http.response.status_code", status(code)));
                            let total = h.total();
                            started.add(attrs.clone(), total.count());
                            if code == Some(0) {
                                failed.add(attrs.clone(), total.count());
                            }
                            client.observe(attrs, &total);
                        }
                    }
                }
            }
            out.extend([stage, client, started, failed]);
        }
        out
    }
}
