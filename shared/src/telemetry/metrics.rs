//! The metrics registry: request counts and latency histograms per endpoint, per backend and per
//! status code, fed by the pipeline when an output reads them (`/__stats`, a Prometheus
//! exporter, an OTLP/HTTP exporter, OpenCensus's Prometheus exporter). Series are slots fixed by the config (endpoint
//! and backend indexes, a bounded table of status codes), never keyed by a request's path: no
//! client input can add series. Recording is a few relaxed atomic adds, no lock.

use super::Report;
use crate::config::telemetry::{
    DEFAULT_STATS_ADDRESS, METRICS_NAMES, OPENCENSUS_NAMES, OPENTELEMETRY_NAMES, OpencensusPrometheus,
    PrometheusExporter, TelemetryConfig,
};
use http::{Method, StatusCode};
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// Latency bucket bounds in nanoseconds: every bound of OpenTelemetry's time buckets (KrakenD's
/// `TimeBucketsOpt`) and of OpenCensus's latency distribution, so that each exporter's own
/// buckets add up exactly, plus a few under a millisecond for `/__stats`' percentiles.
pub(crate) const LATENCY_BOUNDS_NS: &[u64] = &{
    const US: [u64; 46] = [
        50,
        100,
        250,
        500,
        1_000,
        2_000,
        3_000,
        4_000,
        5_000,
        6_000,
        8_000,
        10_000,
        13_000,
        16_000,
        20_000,
        25_000,
        30_000,
        40_000,
        50_000,
        65_000,
        75_000,
        80_000,
        100_000,
        125_000,
        130_000,
        150_000,
        160_000,
        175_000,
        200_000,
        250_000,
        300_000,
        350_000,
        400_000,
        500_000,
        650_000,
        750_000,
        800_000,
        1_000_000,
        1_500_000,
        2_000_000,
        3_500_000,
        5_000_000,
        10_000_000,
        20_000_000,
        50_000_000,
        100_000_000,
    ];
    let mut ns = [0u64; 46];
    let mut i = 0;
    while i < US.len() {
        ns[i] = US[i] * 1_000;
        i += 1;
    }
    ns
};

/// OpenTelemetry's time buckets (seconds), as KrakenD declares them.
pub(crate) const OTEL_TIME_BUCKETS_NS: &[u64] = &[
    10_000_000,
    20_000_000,
    50_000_000,
    75_000_000,
    100_000_000,
    125_000_000,
    150_000_000,
    175_000_000,
    200_000_000,
    250_000_000,
    300_000_000,
    350_000_000,
    500_000_000,
    750_000_000,
    1_000_000_000,
    1_500_000_000,
    2_000_000_000,
    3_500_000_000,
    5_000_000_000,
    10_000_000_000,
];

/// OpenCensus's `DefaultLatencyDistribution` (milliseconds).
pub(crate) const OPENCENSUS_LATENCY_MS: &[u64] = &[
    1, 2, 3, 4, 5, 6, 8, 10, 13, 16, 20, 25, 30, 40, 50, 65, 80, 100, 130, 160, 200, 250, 300, 400, 500, 650, 800,
    1000, 2000, 5000, 10000, 20000, 50000, 100000,
];

/// Size bucket bounds in bytes: OpenTelemetry's size buckets and OpenCensus's size distribution.
pub(crate) const SIZE_BOUNDS: &[u64] = &[
    128,
    256,
    512,
    1024,
    2048,
    4096,
    8192,
    16384,
    32768,
    65536,
    262_144,
    524_288,
    1_048_576,
    4_194_304,
    16_777_216,
    67_108_864,
    268_435_456,
    1_073_741_824,
    4_294_967_296,
];

/// OpenTelemetry's size buckets, as KrakenD declares them.
pub(crate) const OTEL_SIZE_BUCKETS: &[u64] = &[
    128, 256, 512, 1024, 4096, 8192, 16384, 32768, 65536, 262_144, 524_288, 1_048_576, 4_194_304, 16_777_216,
    67_108_864,
];

/// OpenCensus's `DefaultSizeDistribution`.
pub(crate) const OPENCENSUS_SIZE_BUCKETS: &[u64] = &[
    1024,
    2048,
    4096,
    16384,
    65536,
    262_144,
    1_048_576,
    4_194_304,
    16_777_216,
    67_108_864,
    268_435_456,
    1_073_741_824,
    4_294_967_296,
];

/// Distinct status codes kept apart per endpoint or backend; more are counted together under
/// "other" (a status table must stay bounded whatever the backends answer).
pub const STATUS_SLOTS: usize = 16;

/// The methods OpenTelemetry names; any other is `_OTHER` (a client inventing methods must not
/// add series).
pub(crate) const OTEL_METHODS: &[&str] =
    &["_OTHER", "CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE"];

fn method_index(m: &Method) -> u16 {
    OTEL_METHODS.iter().position(|n| *n == m.as_str()).unwrap_or(0) as u16
}

// ---------------------------------------------------------------------------------------------
// Histograms
// ---------------------------------------------------------------------------------------------

/// A fixed-bucket histogram of u64 values (nanoseconds or bytes). Its cells count the values up
/// to each bound (one more cell for the values above the last). The smallest and largest values
/// and a baseline are kept per `/__stats` collection window.
pub(crate) struct Histogram {
    bounds: &'static [u64],
    cells: Box<[AtomicU64]>,
    sum: AtomicU64,
    min: AtomicU64,
    max: AtomicU64,
    /// The histogram at the last window roll, subtracted for `/__stats`.
    baseline: Mutex<Option<HistSnapshot>>,
}

/// A histogram's values at one moment (cells are per bucket, not cumulative).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistSnapshot {
    pub cells: Vec<u64>,
    pub sum: u64,
    /// Smallest and largest value seen in the current window (`u64::MAX` and 0 when none).
    pub min: u64,
    pub max: u64,
}

impl HistSnapshot {
    pub fn count(&self) -> u64 {
        self.cells.iter().sum()
    }

    /// Adds `other` (same bounds) into `self`.
    pub fn merge(&mut self, other: &HistSnapshot) {
        if self.cells.len() < other.cells.len() {
            self.cells.resize(other.cells.len(), 0);
        }
        for (a, b) in self.cells.iter_mut().zip(&other.cells) {
            *a += b;
        }
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    /// Cumulative counts at each of `wanted` (each a bound of `bounds`), then the total.
    pub fn cumulative(&self, bounds: &[u64], wanted: &[u64]) -> Vec<u64> {
        let mut out = Vec::with_capacity(wanted.len() + 1);
        let mut acc = 0;
        let mut cell = 0;
        for w in wanted {
            while cell < bounds.len() && bounds[cell] <= *w {
                acc += self.cells.get(cell).copied().unwrap_or(0);
                cell += 1;
            }
            out.push(acc);
        }
        out.push(self.count());
        out
    }

    /// The value under which `q` (0..1) of the values fall, interpolated inside its bucket (the
    /// window's smallest and largest values bound the first and last buckets).
    pub fn quantile(&self, bounds: &[u64], q: f64) -> f64 {
        let count = self.count();
        if count == 0 {
            return 0.0;
        }
        let rank = q * count as f64;
        let mut seen = 0.0;
        for (i, c) in self.cells.iter().enumerate() {
            let c = *c as f64;
            if c > 0.0 && seen + c >= rank {
                let lower = if i == 0 { 0 } else { bounds[i - 1] };
                let upper = bounds.get(i).copied().unwrap_or(self.max.max(lower));
                let lower = (lower as f64).max(self.min as f64).min(upper as f64);
                let upper = (upper as f64).min(self.max as f64).max(lower);
                return lower + (upper - lower) * ((rank - seen) / c).clamp(0.0, 1.0);
            }
            seen += c;
        }
        self.max as f64
    }

    /// Standard deviation estimated from the bucket midpoints.
    pub fn std_dev(&self, bounds: &[u64]) -> f64 {
        let count = self.count();
        if count < 2 {
            return 0.0;
        }
        let mean = self.sum as f64 / count as f64;
        let mut var = 0.0;
        for (i, c) in self.cells.iter().enumerate() {
            if *c == 0 {
                continue;
            }
            let lower = if i == 0 { self.min } else { bounds[i - 1].max(self.min) };
            let upper = bounds.get(i).copied().unwrap_or(self.max).min(self.max).max(lower);
            let mid = (lower as f64 + upper as f64) / 2.0;
            var += *c as f64 * (mid - mean) * (mid - mean);
        }
        (var / count as f64).sqrt()
    }
}

impl Histogram {
    fn new(bounds: &'static [u64]) -> Histogram {
        Histogram {
            bounds,
            cells: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0),
            min: AtomicU64::new(u64::MAX),
            max: AtomicU64::new(0),
            baseline: Mutex::new(None),
        }
    }

    pub(crate) fn record(&self, value: u64) {
        let cell = self.bounds.partition_point(|b| *b < value);
        self.cells[cell].fetch_add(1, Relaxed);
        self.sum.fetch_add(value, Relaxed);
        self.min.fetch_min(value, Relaxed);
        self.max.fetch_max(value, Relaxed);
    }

    /// Everything recorded since start.
    pub(crate) fn total(&self) -> HistSnapshot {
        HistSnapshot {
            cells: self.cells.iter().map(|c| c.load(Relaxed)).collect(),
            sum: self.sum.load(Relaxed),
            min: self.min.load(Relaxed),
            max: self.max.load(Relaxed),
        }
    }

    /// What was recorded in the current collection window.
    pub(crate) fn window(&self) -> HistSnapshot {
        let mut now = self.total();
        if let Some(base) = lock(&self.baseline).as_ref() {
            for (a, b) in now.cells.iter_mut().zip(&base.cells) {
                *a = a.saturating_sub(*b);
            }
            now.sum = now.sum.saturating_sub(base.sum);
        }
        now
    }

    /// Starts a new collection window.
    fn roll(&self) {
        let now = self.total();
        self.min.store(u64::MAX, Relaxed);
        self.max.store(0, Relaxed);
        *lock(&self.baseline) = Some(now);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A slot filled on first use (most series of a config never see a request).
struct Lazy<T>(OnceLock<Box<T>>);

impl<T> Lazy<T> {
    fn new() -> Self {
        Lazy(OnceLock::new())
    }
    fn get_or(&self, init: impl FnOnce() -> T) -> &T {
        self.0.get_or_init(|| Box::new(init()))
    }
    fn get(&self) -> Option<&T> {
        self.0.get().map(|b| &**b)
    }
}

/// Series keyed by a small number (a status code, or status and method), claimed lock-free on
/// first use, at most [`STATUS_SLOTS`]; the rest share the overflow series.
pub(crate) struct Keyed<T> {
    /// Each slot's key plus one (0: free).
    keys: [AtomicU16; STATUS_SLOTS],
    series: [Lazy<T>; STATUS_SLOTS],
    other: Lazy<T>,
}

impl<T> Keyed<T> {
    fn new() -> Self {
        Keyed {
            keys: std::array::from_fn(|_| AtomicU16::new(0)),
            series: std::array::from_fn(|_| Lazy::new()),
            other: Lazy::new(),
        }
    }

    fn get(&self, key: u16, init: impl FnOnce() -> T) -> &T {
        let tag = key.saturating_add(1);
        for (k, s) in self.keys.iter().zip(&self.series) {
            let mut current = k.load(Relaxed);
            if current == 0 {
                current = match k.compare_exchange(0, tag, Relaxed, Relaxed) {
                    Ok(_) => tag,
                    Err(actual) => actual,
                };
            }
            if current == tag {
                return s.get_or(init);
            }
        }
        self.other.get_or(init)
    }

    /// Every used series: `Some(key)`, or `None` for the overflow series.
    pub(crate) fn each(&self) -> impl Iterator<Item = (Option<u16>, &T)> {
        self.keys
            .iter()
            .zip(&self.series)
            .filter_map(|(k, s)| {
                let tag = k.load(Relaxed);
                (tag != 0).then(|| s.get().map(|t| (Some(tag - 1), t))).flatten()
            })
            .chain(self.other.get().map(|t| (None, t)))
    }
}

// ---------------------------------------------------------------------------------------------
// The registry
// ---------------------------------------------------------------------------------------------

/// What each layer records (a layer no output reads costs nothing).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Layers {
    /// Per endpoint and status: latency and response size (KrakenD's router / global layer).
    pub router: bool,
    /// Per endpoint: the pipeline's latency by completeness and error (the proxy / pipe layer).
    pub pipe: bool,
    /// Per backend: each exchange's latency by status, and by completeness and error.
    pub backend: bool,
}

/// The router (global) layer's series for one status.
pub(crate) struct RouterSeries {
    pub latency: Histogram,
    pub size: Histogram,
}

impl RouterSeries {
    fn new() -> Self {
        RouterSeries { latency: Histogram::new(LATENCY_BOUNDS_NS), size: Histogram::new(SIZE_BOUNDS) }
    }
}

pub(crate) struct EndpointSeries {
    pub method: Method,
    pub pattern: Arc<str>,
    /// By status code.
    pub router: Keyed<RouterSeries>,
    /// By `complete` (bit 0) and `error` (bit 1).
    pipe: [Lazy<Histogram>; 4],
    pub backends: Box<[BackendSeries]>,
}

pub(crate) struct BackendSeries {
    pub method: Method,
    pub url_pattern: Arc<str>,
    /// Each exchange's latency by the backend's status (0: no answer).
    pub by_status: Keyed<Histogram>,
    /// By `complete` (bit 0), `error` (bit 1) and `canceled` (bit 2).
    outcome: [Lazy<Histogram>; 8],
}

/// The registry. Built at start from the compiled endpoints when an output needs it.
pub struct Metrics {
    layers: Layers,
    /// What each output shows.
    pub(crate) outputs: Outputs,
    endpoints: Box<[EndpointSeries]>,
    /// Requests no endpoint answered (not found, redirects, health, preflights), by status and
    /// method; only OpenTelemetry's global layer shows them, as KrakenD's does.
    unmatched: Keyed<RouterSeries>,
    skip_paths: Vec<String>,
    /// Requests started and finished since start (KrakenD's connected / disconnected).
    started: AtomicU64,
    finished: AtomicU64,
    window: Mutex<Window>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").field("layers", &self.layers).field("endpoints", &self.endpoints.len()).finish()
    }
}

/// The connection counters as of the last window roll.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Window {
    pub started_at_roll: u64,
    pub finished_at_roll: u64,
    pub started_gauge: u64,
    pub finished_gauge: u64,
}

/// Which outputs are configured, with what they show.
#[derive(Debug, Clone, Default)]
pub struct Outputs {
    /// `telemetry/metrics`: `/__stats` with its layers.
    pub stats: Option<StatsOutput>,
    /// `telemetry/opentelemetry` with at least one Prometheus exporter, or an OTLP/HTTP exporter
    /// that sends metrics.
    pub otel: Option<OtelOutput>,
    /// `telemetry/opencensus` with its Prometheus exporter.
    pub opencensus: Option<OpencensusPrometheus>,
}

#[derive(Debug, Clone, Copy)]
pub struct StatsOutput {
    pub router: bool,
    pub pipe: bool,
    pub backend: bool,
    pub collection_time: Duration,
}

#[derive(Debug, Clone)]
pub struct OtelOutput {
    pub global: bool,
    pub proxy: bool,
    /// `krakend.backend.duration`.
    pub backend_stage: bool,
    /// `http.client.*` (round trip).
    pub round_trip: bool,
    pub service_name: String,
    pub service_version: String,
    pub deploy_env: String,
    /// `layers.global.semantic_convention: "1.27"`: OpenTelemetry's stable HTTP metric names.
    pub semconv_1_27: bool,
    /// `metrics_static_attributes` of the global and proxy layers, and the backend layer's
    /// `static_attributes`: labels added to every series of the layer.
    pub global_attributes: Vec<(String, String)>,
    pub proxy_attributes: Vec<(String, String)>,
    pub backend_attributes: Vec<(String, String)>,
}

/// KrakenD's default `collection_time`.
pub const DEFAULT_COLLECTION_TIME: Duration = Duration::from_secs(60);

/// A listener a door opens for a metrics output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsListener {
    /// The config key that asks for it, as a JSON path (for errors: "port in use").
    pub key: String,
    /// `host:port` to bind (`0.0.0.0` when the config names no host).
    pub addr: String,
    pub kind: ListenerKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenerKind {
    /// `GET /__stats`.
    Stats,
    /// `GET /metrics` in OpenTelemetry's Prometheus names (with the process' own metrics when
    /// the exporter sets `process_metrics`).
    OtelPrometheus { process_metrics: bool },
    /// `GET /metrics` in OpenCensus's Prometheus names.
    OpencensusPrometheus,
}

impl Outputs {
    pub fn from_config(t: &TelemetryConfig) -> Outputs {
        let stats = t.metrics.as_ref().map(|m| StatsOutput {
            router: !m.router_disabled,
            pipe: !m.proxy_disabled,
            backend: !m.backend_disabled,
            collection_time: m
                .collection_time
                .map(|d| d.value)
                .filter(|d| !d.is_zero())
                .unwrap_or(DEFAULT_COLLECTION_TIME),
        });
        let otel = t.opentelemetry.as_ref().filter(|_| !otel_exporters(t).is_empty() || otlp_metrics(t)).map(|o| {
            let layers = o.layers.clone().unwrap_or_default();
            let backend = layers.backend.and_then(|b| b.metrics).unwrap_or_default();
            let pairs = |kv: &[crate::config::telemetry::KeyValue]| -> Vec<(String, String)> {
                kv.iter()
                    .filter(|a| !a.key.is_empty() && !a.value.is_empty())
                    .map(|a| (a.key.clone(), a.value.clone()))
                    .collect()
            };
            OtelOutput {
                global: !layers.global.as_ref().is_some_and(|g| g.disable_metrics),
                proxy: !layers.proxy.as_ref().is_some_and(|p| p.disable_metrics),
                semconv_1_27: layers.global.as_ref().and_then(|g| g.semantic_convention.as_deref()) == Some("1.27"),
                global_attributes: layers
                    .global
                    .as_ref()
                    .map(|g| pairs(&g.metrics_static_attributes))
                    .unwrap_or_default(),
                proxy_attributes: layers
                    .proxy
                    .as_ref()
                    .map(|p| pairs(&p.metrics_static_attributes))
                    .unwrap_or_default(),
                backend_attributes: pairs(&backend.static_attributes),
                backend_stage: !backend.disable_stage,
                round_trip: backend.round_trip.unwrap_or(true),
                service_name: o.service_name.clone().unwrap_or_default(),
                service_version: o.service_version.clone().unwrap_or_default(),
                deploy_env: o.deploy_env.clone().unwrap_or_default(),
            }
        });
        let opencensus = opencensus_prometheus(t);
        Outputs { stats, otel, opencensus }
    }

    fn layers(&self) -> Layers {
        let s = self.stats;
        let o = self.otel.as_ref();
        let oc = self.opencensus.is_some();
        Layers {
            router: s.is_some_and(|s| s.router) || o.is_some_and(|o| o.global) || oc,
            pipe: s.is_some_and(|s| s.pipe) || o.is_some_and(|o| o.proxy),
            backend: s.is_some_and(|s| s.backend) || o.is_some_and(|o| o.backend_stage || o.round_trip) || oc,
        }
    }
}

/// The enabled `exporters.prometheus[]` of `telemetry/opentelemetry`, with their indexes.
fn otel_exporters(t: &TelemetryConfig) -> Vec<(usize, PrometheusExporter)> {
    t.opentelemetry
        .as_ref()
        .map(|o| o.prometheus_exporters())
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .filter(|(_, e)| !e.disable_metrics)
        .collect()
}

/// Whether an `exporters.otlp[]` entry of `telemetry/opentelemetry` sends metrics (over HTTP,
/// the only OTLP transport served): the OTLP exporter reads this registry too.
fn otlp_metrics(t: &TelemetryConfig) -> bool {
    t.opentelemetry.as_ref().is_some_and(|o| o.otlp_exporters().iter().any(|e| e.use_http && !e.disable_metrics))
}

fn opencensus_prometheus(t: &TelemetryConfig) -> Option<OpencensusPrometheus> {
    t.opencensus.as_ref()?.prometheus().filter(|p| p.port != 0)
}

/// Go's `host:port` listen address as a bindable one (`:8090` → `0.0.0.0:8090`).
fn bindable(addr: &str) -> String {
    match addr.strip_prefix(':') {
        Some(port) => format!("0.0.0.0:{port}"),
        None => addr.to_owned(),
    }
}

fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') { format!("[{host}]:{port}") } else { format!("{host}:{port}") }
}

/// The listeners the metrics outputs of `t` ask for.
pub fn listeners(t: &TelemetryConfig) -> Vec<MetricsListener> {
    let mut out = Vec::new();
    if let Some(m) = t.metrics.as_ref().filter(|m| !m.endpoint_disabled) {
        out.push(MetricsListener {
            key: format!("extra_config.{}.listen_address", METRICS_NAMES[0]),
            addr: bindable(m.listen_address.as_deref().unwrap_or(DEFAULT_STATS_ADDRESS)),
            kind: ListenerKind::Stats,
        });
    }
    for (i, e) in otel_exporters(t) {
        let host = e.listen_ip.as_deref().or(e.host.as_deref()).filter(|h| !h.is_empty()).unwrap_or("0.0.0.0");
        out.push(MetricsListener {
            key: format!("extra_config.{}.exporters.prometheus[{i}].port", OPENTELEMETRY_NAMES[0]),
            addr: host_port(host, e.listen_port()),
            kind: ListenerKind::OtelPrometheus { process_metrics: e.process_metrics },
        });
    }
    if let Some(p) = opencensus_prometheus(t) {
        out.push(MetricsListener {
            key: format!("extra_config.{}.exporters.prometheus.port", OPENCENSUS_NAMES[0]),
            addr: format!("0.0.0.0:{}", p.port),
            kind: ListenerKind::OpencensusPrometheus,
        });
    }
    out
}

/// A compiled endpoint as the registry sees it: its identity and its backends' methods and
/// `url_pattern`s.
pub(crate) struct EndpointShape<'a> {
    pub method: &'a Method,
    pub pattern: &'a Arc<str>,
    pub backends: Vec<(&'a Method, &'a Arc<str>)>,
}

impl Metrics {
    /// The registry for `endpoints`, or `None` when no output reads metrics.
    pub(crate) fn new<'a>(t: &TelemetryConfig, endpoints: impl Iterator<Item = EndpointShape<'a>>) -> Option<Metrics> {
        let outputs = Outputs::from_config(t);
        if outputs.stats.is_none() && outputs.otel.is_none() && outputs.opencensus.is_none() {
            return None;
        }
        let skip_paths = match t.opentelemetry.as_ref().map(|o| o.skip_paths.clone()) {
            Some(Some(paths)) if !paths.is_empty() => paths.into_iter().filter(|p| !p.is_empty()).collect(),
            // krakend-otel's defaults when none are given.
            _ => ["/__health", "/__debug/", "/__echo/", "/__stats/"].map(str::to_owned).to_vec(),
        };
        let endpoints = endpoints
            .map(|e| EndpointSeries {
                method: e.method.clone(),
                pattern: e.pattern.clone(),
                router: Keyed::new(),
                pipe: std::array::from_fn(|_| Lazy::new()),
                backends: e
                    .backends
                    .into_iter()
                    .map(|(m, p)| BackendSeries {
                        method: m.clone(),
                        url_pattern: p.clone(),
                        by_status: Keyed::new(),
                        outcome: std::array::from_fn(|_| Lazy::new()),
                    })
                    .collect(),
            })
            .collect();
        Some(Metrics {
            layers: outputs.layers(),
            outputs,
            endpoints,
            unmatched: Keyed::new(),
            skip_paths,
            started: AtomicU64::new(0),
            finished: AtomicU64::new(0),
            window: Mutex::new(Window::default()),
        })
    }

    /// What each layer records.
    pub fn layers(&self) -> Layers {
        self.layers
    }

    /// What each output shows.
    pub fn outputs(&self) -> &Outputs {
        &self.outputs
    }

    /// A request starts (KrakenD's `connected`).
    pub(crate) fn request_started(&self) {
        self.started.fetch_add(1, Relaxed);
    }

    /// A request was answered: the router layer (per endpoint, or unmatched by status and
    /// method; `skipped` when its path is one of `skip_paths`), and the `disconnected` count.
    pub(crate) fn record_request(
        &self,
        report: &Report,
        method: &Method,
        skipped: bool,
        status: StatusCode,
        size: usize,
        latency: Duration,
    ) {
        self.finished.fetch_add(1, Relaxed);
        if !self.layers.router {
            return;
        }
        let series = match &report.endpoint {
            Some(id) => match self.endpoints.get(id.index) {
                Some(e) => e.router.get(status.as_u16(), RouterSeries::new),
                None => return,
            },
            None => {
                if skipped {
                    return;
                }
                self.unmatched.get(status.as_u16() * 16 + method_index(method), RouterSeries::new)
            }
        };
        series.latency.record(nanos(latency));
        series.size.record(size as u64);
    }

    /// An endpoint's pipeline ended: the pipe layer, and the backend layer from the report's
    /// exchanges.
    pub(crate) fn record_pipe(&self, index: usize, latency: Duration, report: &Report) {
        let Some(e) = self.endpoints.get(index) else { return };
        if self.layers.pipe {
            let complete = report.completed == Some(true);
            let error = !report.failed.is_empty();
            let slot = usize::from(complete) | usize::from(error) << 1;
            e.pipe[slot].get_or(|| Histogram::new(LATENCY_BOUNDS_NS)).record(nanos(latency));
        }
        if self.layers.backend {
            for call in &report.calls {
                let Some(b) = e.backends.get(call.backend) else { continue };
                let canceled = call.error.as_deref() == Some("context canceled");
                let error = call.error.is_some() || report.failed.iter().any(|f| f.backend == call.backend);
                let complete = !error;
                let ns = nanos(call.duration);
                let code = call.status.map_or(0, |s| s.as_u16());
                b.by_status.get(code, || Histogram::new(LATENCY_BOUNDS_NS)).record(ns);
                let slot = usize::from(complete) | usize::from(error) << 1 | usize::from(canceled) << 2;
                b.outcome[slot].get_or(|| Histogram::new(LATENCY_BOUNDS_NS)).record(ns);
            }
        }
    }

    /// Whether a request that no endpoint answers is left out (OpenTelemetry's `skip_paths`,
    /// compared as krakend-otel does: the whole path, exactly).
    pub(crate) fn skips(&self, path: &str) -> bool {
        self.skip_paths.iter().any(|p| p == path)
    }

    /// Starts a new `/__stats` collection window (the door calls it every `collection_time`):
    /// histograms then show the new window only, and the connection gauges the last one.
    pub fn roll(&self) {
        let started = self.started.load(Relaxed);
        let finished = self.finished.load(Relaxed);
        {
            let mut w = lock(&self.window);
            w.started_gauge = started - w.started_at_roll;
            w.finished_gauge = finished - w.finished_at_roll;
            w.started_at_roll = started;
            w.finished_at_roll = finished;
        }
        self.each_histogram(&mut |h| h.roll());
    }

    fn each_histogram(&self, f: &mut dyn FnMut(&Histogram)) {
        let router = |t: &Keyed<RouterSeries>, f: &mut dyn FnMut(&Histogram)| {
            for (_, s) in t.each() {
                f(&s.latency);
                f(&s.size);
            }
        };
        router(&self.unmatched, f);
        for e in self.endpoints.iter() {
            router(&e.router, f);
            e.pipe.iter().filter_map(Lazy::get).for_each(&mut *f);
            for b in e.backends.iter() {
                b.by_status.each().for_each(|(_, h)| f(h));
                b.outcome.iter().filter_map(Lazy::get).for_each(&mut *f);
            }
        }
    }

    pub(crate) fn endpoints(&self) -> &[EndpointSeries] {
        &self.endpoints
    }

    /// Unmatched requests: (status, method) and their series.
    pub(crate) fn unmatched(&self) -> impl Iterator<Item = (Option<(u16, &'static str)>, &RouterSeries)> {
        self.unmatched.each().map(|(k, s)| (k.map(|k| (k / 16, OTEL_METHODS[usize::from(k % 16)])), s))
    }

    pub(crate) fn connections(&self) -> (u64, u64, Window) {
        (self.started.load(Relaxed), self.finished.load(Relaxed), *lock(&self.window))
    }
}

impl EndpointSeries {
    /// The pipe layer's histograms: (complete, error, histogram).
    pub(crate) fn pipe(&self) -> impl Iterator<Item = (bool, bool, Option<&Histogram>)> {
        self.pipe.iter().enumerate().map(|(i, h)| (i & 1 != 0, i & 2 != 0, h.get()))
    }
}

impl BackendSeries {
    /// (complete, error, canceled, histogram) for every outcome seen.
    pub(crate) fn outcomes(&self) -> impl Iterator<Item = (bool, bool, bool, Option<&Histogram>)> {
        self.outcome.iter().enumerate().map(|(i, h)| (i & 1 != 0, i & 2 != 0, i & 4 != 0, h.get()))
    }
}

/// An endpoint pattern as lura hands it to gin, and so as KrakenD names it in metrics:
/// `/users/{id}` → `/users/:id`.
pub(crate) fn colon_route(pattern: &str) -> String {
    replace_params(pattern, |name, out| {
        out.push(':');
        out.push_str(name);
    })
}

/// A backend `url_pattern` as lura rewrites it (`/users/{id}` → `/users/{{.Id}}`), the name
/// krakend-metrics gives the backend.
pub(crate) fn lura_backend_pattern(pattern: &str) -> String {
    replace_params(pattern, |name, out| {
        out.push_str("{{.");
        let mut chars = name.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.push_str(chars.as_str());
        }
        out.push_str("}}");
    })
}

/// A backend `url_pattern` as krakend-otel names its route: lura's `{{.Id}}` → `:id`.
pub(crate) fn otel_backend_route(pattern: &str) -> String {
    replace_params(pattern, |name, out| {
        out.push(':');
        out.push_str(&name.to_lowercase());
    })
}

/// Rewrites every `{name}` of a pattern's path (not its query) with `f`.
fn replace_params(pattern: &str, f: impl Fn(&str, &mut String)) -> String {
    let (path, query) = match pattern.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (pattern, None),
    };
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else { break };
        out.push_str(&rest[..open]);
        f(&rest[open + 1..open + close], &mut out);
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_puts_a_value_on_its_bound_in_that_bound_s_bucket() {
        let h = Histogram::new(OTEL_TIME_BUCKETS_NS);
        h.record(10_000_000); // exactly 10 ms: le="0.01"
        h.record(10_000_001);
        h.record(20_000_000_000); // above the last bound
        let s = h.total();
        assert_eq!(s.count(), 3);
        assert_eq!(s.cumulative(OTEL_TIME_BUCKETS_NS, &[10_000_000, 20_000_000]), vec![1, 2, 3]);
        assert_eq!((s.min, s.max), (10_000_000, 20_000_000_000));
    }

    #[test]
    fn every_exporter_bound_is_an_internal_bound() {
        for b in OTEL_TIME_BUCKETS_NS {
            assert!(LATENCY_BOUNDS_NS.contains(b), "{b}");
        }
        for b in OPENCENSUS_LATENCY_MS {
            assert!(LATENCY_BOUNDS_NS.contains(&(b * 1_000_000)), "{b}");
        }
        for b in OTEL_SIZE_BUCKETS.iter().chain(OPENCENSUS_SIZE_BUCKETS) {
            assert!(SIZE_BOUNDS.contains(b), "{b}");
        }
        assert!(LATENCY_BOUNDS_NS.windows(2).all(|w| w[0] < w[1]));
        assert!(SIZE_BOUNDS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn cumulative_counts_at_coarser_bounds_add_up_the_finer_cells() {
        let h = Histogram::new(LATENCY_BOUNDS_NS);
        for ms in [1, 3, 12, 12, 60, 400, 900, 30_000] {
            h.record(ms * 1_000_000);
        }
        let c = h.total().cumulative(LATENCY_BOUNDS_NS, OTEL_TIME_BUCKETS_NS);
        // le 10ms: 1, 3; le 20ms: +12, 12; le 75ms: +60; le 500ms: +400; le 1s: +900; +Inf: +30s.
        assert_eq!(c[0], 2);
        assert_eq!(c[1], 4);
        assert_eq!(c[3], 5);
        assert_eq!(c[12], 6);
        assert_eq!(c[14], 7);
        assert_eq!(c[19], 7);
        assert_eq!(c[20], 8);
    }

    #[test]
    fn the_window_holds_what_came_after_the_last_roll() {
        let h = Histogram::new(LATENCY_BOUNDS_NS);
        h.record(5_000_000);
        h.roll();
        h.record(7_000_000);
        h.record(9_000_000);
        let w = h.window();
        assert_eq!(w.count(), 2);
        assert_eq!(w.sum, 16_000_000);
        assert_eq!((w.min, w.max), (7_000_000, 9_000_000));
        assert_eq!(h.total().count(), 3);
    }

    #[test]
    fn quantiles_stay_inside_the_window_s_extremes() {
        let h = Histogram::new(LATENCY_BOUNDS_NS);
        for i in 1..=100u64 {
            h.record(i * 1_000_000);
        }
        let s = h.total();
        let p50 = s.quantile(LATENCY_BOUNDS_NS, 0.5);
        assert!((40_000_000.0..=60_000_000.0).contains(&p50), "{p50}");
        assert!(s.quantile(LATENCY_BOUNDS_NS, 0.999) <= 100_000_000.0);
        assert!(s.quantile(LATENCY_BOUNDS_NS, 0.0) >= 1_000_000.0);
        let sd = s.std_dev(LATENCY_BOUNDS_NS);
        assert!((20_000_000.0..=40_000_000.0).contains(&sd), "{sd}");
    }

    #[test]
    fn patterns_are_spelled_as_krakend_spells_them_in_metric_names() {
        assert_eq!(colon_route("/users/{id}/posts/{postId}"), "/users/:id/posts/:postId");
        assert_eq!(lura_backend_pattern("/users/{id}?x={id}"), "/users/{{.Id}}?x={id}");
        assert_eq!(otel_backend_route("/u/{userId}"), "/u/:userid");
        assert_eq!(colon_route("/plain"), "/plain");
    }

    #[test]
    fn a_status_table_keeps_sixteen_codes_apart_and_pools_the_rest() {
        let t: Keyed<AtomicU64> = Keyed::new();
        for code in 200..240u16 {
            t.get(code, || AtomicU64::new(0)).fetch_add(1, Relaxed);
        }
        t.get(200, || AtomicU64::new(0)).fetch_add(1, Relaxed);
        let seen: Vec<(Option<u16>, u64)> = t.each().map(|(k, v)| (k, v.load(Relaxed))).collect();
        assert_eq!(seen.len(), STATUS_SLOTS + 1);
        assert_eq!(seen[0], (Some(200), 2));
        assert_eq!(seen[STATUS_SLOTS], (None, 40 - STATUS_SLOTS as u64));
    }
}
