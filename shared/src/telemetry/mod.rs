//! Telemetry: what the gateway tells about each request (to logs, metrics and traces), compiled
//! from the `telemetry/*` namespaces. It observes the pipeline and never changes an answer.
//!
//! The pipeline reports through one `Observer` per request: the call phase opens a `CallGuard`
//! around every backend exchange and notes every backend that failed. The doors get the
//! request's [`Report`] from [`crate::Gateway::handle_reported`] for their log lines; the sinks
//! that live in the core (metrics, traces) read the same records.

pub mod emf;
pub mod metrics;
mod otel;
mod otlp;
mod otlp_metrics;
pub mod prometheus;
mod stats;
pub mod trace;
pub mod xray;

pub use crate::config::telemetry::{EMF_DIMENSIONS, TelemetryConfig};
pub use metrics::Metrics;

use http::{HeaderMap, Method, StatusCode};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// What the doors read to set up their sinks (log format and destinations, listeners).
#[derive(Debug, Default, Clone)]
pub struct TelemetrySettings {
    /// The parsed `telemetry/*` namespaces.
    pub config: TelemetryConfig,
    /// Whether the local server writes gin's access-log line (`router.disable_access_log`).
    pub access_log: bool,
    /// Paths the access log skips (`router.logger_skip_paths`), as gin compares them: the raw
    /// request path, exactly.
    pub logger_skip_paths: Vec<String>,
}

/// What happened to one request, for the doors' log lines.
#[derive(Debug, Default, Clone)]
pub struct Report {
    /// The endpoint that answered: its method and pattern as written (`/users/{id}`). `None`
    /// when no endpoint did (not found, health, a preflight, a redirect).
    pub endpoint: Option<EndpointId>,
    /// Whether every backend answered in full (`X-KrakenD-Completed`), when an endpoint answered.
    pub completed: Option<bool>,
    /// The backends that failed, in the order their failures were seen.
    pub failed: Vec<FailedBackend>,
    /// Every backend exchange, when a sink needs them (metrics, traces); empty otherwise.
    pub calls: Vec<CallRecord>,
    /// The request's trace (W3C), when `telemetry/opentelemetry` traces it.
    pub trace: Option<trace::SpanContext>,
}

/// An endpoint's identity in reports: cheap to clone, never the raw request path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointId {
    /// Index among the compiled endpoints (for per-endpoint metric slots).
    pub index: usize,
    pub method: Method,
    pub pattern: Arc<str>,
    /// How many backends it has (lura reports the failures of several as a list).
    pub backends: usize,
}

/// A backend that failed, with the error text KrakenD would log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedBackend {
    /// Index among the endpoint's backends.
    pub backend: usize,
    /// The backend's `url_pattern`, as written.
    pub url_pattern: Arc<str>,
    pub error: String,
}

/// One backend exchange (one HTTP request to a backend host).
#[derive(Debug, Clone)]
pub struct CallRecord {
    /// Index among the endpoint's backends.
    pub backend: usize,
    pub url_pattern: Arc<str>,
    pub method: Method,
    /// The URL called (scheme, host, path and query), when the call is traced (empty otherwise).
    pub url: String,
    /// When the call started, when it is traced (the epoch otherwise).
    pub start: SystemTime,
    pub duration: Duration,
    /// The backend's status, when it answered.
    pub status: Option<StatusCode>,
    /// Why the exchange failed (no answer, or the answer could not be read), when it did.
    pub error: Option<String>,
    /// The span id this call carried to the backend, when traces are on.
    pub span_id: Option<[u8; 8]>,
}

/// Compiled telemetry, shared by every request.
#[derive(Debug, Default)]
pub(crate) struct Telemetry {
    pub settings: TelemetrySettings,
    /// Whether backend exchanges are recorded (a sink reads them).
    pub record_calls: bool,
    /// The metrics registry, when an output reads it (shared with the OTLP metrics exporter's
    /// tasks, which hold it weakly).
    pub metrics: Option<Arc<Metrics>>,
    /// `telemetry/opentelemetry`'s OTLP/HTTP metric collectors, when configured.
    pub otlp_metrics: Option<otlp_metrics::MetricsExporter>,
    /// The EMF lines the Lambda function writes, when on.
    pub emf: Option<emf::Emf>,
    /// `telemetry/opentelemetry`'s traces, when configured.
    pub tracer: Option<trace::Tracer>,
}

impl Telemetry {
    pub(crate) fn new(config: TelemetryConfig, access_log: bool, logger_skip_paths: Vec<String>) -> Self {
        let emf = emf::Emf::from_config(&config);
        let record_calls =
            config.metrics.is_some() || config.opentelemetry.is_some() || config.opencensus.is_some() || emf.is_some();
        // Without a collector for them, traces are neither made nor propagated: a trace context
        // nobody records costs every backend call a copied header map for nothing.
        let tracer = config.opentelemetry.as_ref().map(trace::Tracer::new).filter(trace::Tracer::exports);
        let otlp_metrics = config.opentelemetry.as_ref().and_then(otlp_metrics::MetricsExporter::from_config);
        Telemetry {
            settings: TelemetrySettings { config, access_log, logger_skip_paths },
            record_calls,
            metrics: None,
            otlp_metrics,
            emf,
            tracer,
        }
    }

    /// Starts the OTLP metrics export tasks on the current runtime, once.
    pub(crate) fn start_exporters(&self) {
        if let (Some(exporter), Some(metrics)) = (&self.otlp_metrics, &self.metrics) {
            exporter.start(metrics);
        }
    }

    /// The observer for one request; `trace`: the trace contexts its backend calls carry.
    pub(crate) fn observer(&self, trace: Option<Box<trace::CallTrace>>) -> Observer {
        Observer {
            record_calls: self.record_calls || trace.is_some(),
            failed: Mutex::new(Vec::new()),
            calls: Mutex::new(Vec::new()),
            trace,
        }
    }
}

/// One request's observations, filled by the call phase while backends are called (concurrently,
/// hence the locks: uncontended, and taken only when there is something to note).
#[derive(Debug)]
pub(crate) struct Observer {
    record_calls: bool,
    failed: Mutex<Vec<FailedBackend>>,
    calls: Mutex<Vec<CallRecord>>,
    /// Boxed: the observer lives in the request's future, which stays small with tracing off.
    trace: Option<Box<trace::CallTrace>>,
}

impl Observer {
    /// Notes a backend that failed (its error text as KrakenD logs it).
    pub(crate) fn backend_failed(&self, backend: usize, url_pattern: &Arc<str>, error: &str) {
        lock(&self.failed).push(FailedBackend { backend, url_pattern: url_pattern.clone(), error: error.to_owned() });
    }

    /// Opens the record of one backend exchange; `headers` are the ones about to be sent (a
    /// trace context is added to them when traces are on). Finish it with [`CallGuard::finish`];
    /// one dropped unfinished (the deadline passed, another copy won) is recorded as cancelled.
    pub(crate) fn begin_call<'a>(
        &'a self,
        backend: usize,
        url_pattern: &Arc<str>,
        method: &Method,
        url: &str,
        headers: &mut std::borrow::Cow<'_, HeaderMap>,
    ) -> Option<CallGuard<'a>> {
        if !self.record_calls {
            return None;
        }
        // The request's headers are copied only when a trace context is added to them.
        let span_id = self.trace.as_ref().and_then(|t| t.inject(headers.to_mut()));
        Some(CallGuard {
            observer: self,
            record: Some(CallRecord {
                backend,
                url_pattern: url_pattern.clone(),
                method: method.clone(),
                // Only spans and subsegments read the URL and the wall-clock start.
                url: if self.trace.is_some() { url.to_owned() } else { String::new() },
                start: if self.trace.is_some() { SystemTime::now() } else { SystemTime::UNIX_EPOCH },
                duration: Duration::ZERO,
                status: None,
                error: None,
                span_id,
            }),
            started: std::time::Instant::now(),
        })
    }

    /// Whether backend exchanges are recorded: callers skip building what only a record needs.
    pub(crate) fn records_calls(&self) -> bool {
        self.record_calls
    }

    /// The report's lists, taken out at the end of the request.
    pub(crate) fn into_report(self, report: &mut Report) {
        report.failed = self.failed.into_inner().unwrap_or_else(|e| e.into_inner());
        report.calls = self.calls.into_inner().unwrap_or_else(|e| e.into_inner());
    }
}

/// An open backend exchange: records its outcome when finished or dropped.
pub(crate) struct CallGuard<'a> {
    observer: &'a Observer,
    record: Option<CallRecord>,
    started: std::time::Instant,
}

impl CallGuard<'_> {
    /// The exchange ended: with the backend's status, or with the error that stopped it.
    pub(crate) fn finish(mut self, status: Option<StatusCode>, error: Option<&str>) {
        if let Some(mut r) = self.record.take() {
            r.duration = self.started.elapsed();
            r.status = status;
            r.error = error.map(str::to_owned);
            lock(&self.observer.calls).push(r);
        }
    }
}

impl Drop for CallGuard<'_> {
    fn drop(&mut self) {
        if let Some(mut r) = self.record.take() {
            r.duration = self.started.elapsed();
            r.error = Some("context canceled".to_owned());
            lock(&self.observer.calls).push(r);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests;
