//! CloudWatch Embedded Metric Format lines: what the Lambda function writes on stdout after each
//! invocation (CloudWatch Logs extracts the metrics; no agent, no API call). One line for the
//! request, one per backend exchange. Settings from `tributary/emf`; on by default whenever a
//! metrics output is configured (`telemetry/metrics`, a Prometheus exporter), since nothing can
//! scrape a function.

use super::metrics::Outputs;
use super::{EMF_DIMENSIONS, Report};
use crate::config::telemetry::TelemetryConfig;
use http::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;

/// The CloudWatch namespace when `tributary/emf` names none.
pub const DEFAULT_NAMESPACE: &str = "Tributary";
/// The dimension sets when `tributary/emf` names none: per endpoint and status.
pub const DEFAULT_DIMENSIONS: &[&[&str]] = &[&["Endpoint", "Status"]];

/// The metric names and units of the request line.
pub const REQUEST_METRICS: &[(&str, &str)] =
    &[("Requests", "Count"), ("Latency", "Milliseconds"), ("Incomplete", "Count")];
/// The metric names and units of a backend line.
pub const BACKEND_METRICS: &[(&str, &str)] =
    &[("BackendRequests", "Count"), ("BackendLatency", "Milliseconds"), ("BackendErrors", "Count")];

/// The compiled `tributary/emf` settings.
#[derive(Debug, Clone)]
pub struct Emf {
    pub namespace: String,
    /// The request line's dimension sets (the configured ones without `Backend`).
    pub request_sets: Vec<Vec<String>>,
    /// A backend line's dimension sets (the configured ones with `Backend`).
    pub backend_sets: Vec<Vec<String>>,
}

/// One invocation, as the Lambda door saw it.
#[derive(Debug)]
pub struct Invocation<'a> {
    pub report: &'a Report,
    /// The request's method (used when no endpoint answered).
    pub method: &'a Method,
    pub status: StatusCode,
    pub latency: Duration,
    /// When the invocation ended, in milliseconds since the epoch.
    pub timestamp_ms: u64,
    /// Lambda's request id, written beside the metrics (not a dimension: it would make one
    /// metric per request).
    pub request_id: Option<&'a str>,
}

impl Emf {
    /// The settings, or `None` when no line is to be written.
    pub fn from_config(t: &TelemetryConfig) -> Option<Emf> {
        let configured = match &t.emf {
            Some(e) if e.disabled => return None,
            Some(e) => e,
            None => {
                let o = Outputs::from_config(t);
                if o.stats.is_none() && o.otel.is_none() && o.opencensus.is_none() {
                    return None;
                }
                return Some(Emf::new(DEFAULT_NAMESPACE, None));
            }
        };
        Some(Emf::new(configured.namespace.as_deref().unwrap_or(DEFAULT_NAMESPACE), configured.dimensions.as_deref()))
    }

    fn new(namespace: &str, sets: Option<&[Vec<String>]>) -> Emf {
        let sets: Vec<Vec<String>> = match sets {
            Some(s) => s.to_vec(),
            None => DEFAULT_DIMENSIONS.iter().map(|s| s.iter().map(|d| (*d).to_owned()).collect()).collect(),
        };
        let known = |d: &String| EMF_DIMENSIONS.contains(&d.as_str());
        let mut request_sets: Vec<Vec<String>> = Vec::new();
        let mut backend_sets: Vec<Vec<String>> = Vec::new();
        for set in &sets {
            let mut plain: Vec<String> = Vec::new();
            for d in set.iter().filter(|d| known(d) && *d != "Backend") {
                if !plain.contains(d) {
                    plain.push(d.clone());
                }
            }
            let mut with_backend = plain.clone();
            with_backend.push("Backend".to_owned());
            if !request_sets.contains(&plain) {
                request_sets.push(plain);
            }
            if !backend_sets.contains(&with_backend) {
                backend_sets.push(with_backend);
            }
        }
        Emf { namespace: namespace.to_owned(), request_sets, backend_sets }
    }

    /// The invocation's lines, each ending in `\n`: the request's, then one per backend exchange.
    pub fn lines(&self, inv: &Invocation<'_>) -> String {
        let report = inv.report;
        let (endpoint, method) = match &report.endpoint {
            Some(id) => (id.pattern.to_string(), id.method.to_string()),
            None => {
                let reason = inv.status.canonical_reason().unwrap_or("");
                (format!("{} {reason}", inv.status.as_u16()), inv.method.to_string())
            }
        };
        let mut out = String::new();
        let mut line = self.document(&self.request_sets, REQUEST_METRICS, inv);
        line["Endpoint"] = json!(endpoint);
        line["Method"] = json!(method);
        line["Status"] = json!(inv.status.as_u16().to_string());
        line["Requests"] = json!(1);
        line["Latency"] = json!(millis(inv.latency));
        line["Incomplete"] = json!(u8::from(report.completed == Some(false)));
        out.push_str(&line.to_string());
        out.push('\n');
        for call in &report.calls {
            let error = call.error.is_some() || report.failed.iter().any(|f| f.backend == call.backend);
            let mut line = self.document(&self.backend_sets, BACKEND_METRICS, inv);
            line["Endpoint"] = json!(endpoint);
            line["Method"] = json!(method);
            line["Status"] = json!(call.status.map_or(0, |s| s.as_u16()).to_string());
            line["Backend"] = json!(call.url_pattern.as_ref());
            line["BackendRequests"] = json!(1);
            line["BackendLatency"] = json!(millis(call.duration));
            line["BackendErrors"] = json!(u8::from(error));
            out.push_str(&line.to_string());
            out.push('\n');
        }
        out
    }

    fn document(&self, sets: &[Vec<String>], metrics: &[(&str, &str)], inv: &Invocation<'_>) -> Value {
        let metrics: Vec<Value> = metrics.iter().map(|(n, u)| json!({"Name": n, "Unit": u})).collect();
        let mut doc = json!({
            "_aws": {
                "Timestamp": inv.timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": self.namespace,
                    "Dimensions": sets,
                    "Metrics": metrics,
                }],
            },
        });
        if let Some(id) = inv.request_id {
            doc["requestId"] = json!(id);
        }
        doc
    }
}

fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backend_dimension_goes_to_backend_lines_only() {
        let e = Emf::new(
            "N",
            Some(&[
                vec!["Endpoint".into(), "Backend".into()],
                vec!["Endpoint".into(), "Status".into(), "Status".into()],
            ]),
        );
        assert_eq!(e.request_sets, vec![vec!["Endpoint".to_owned()], vec!["Endpoint".to_owned(), "Status".to_owned()]]);
        assert_eq!(
            e.backend_sets,
            vec![
                vec!["Endpoint".to_owned(), "Backend".to_owned()],
                vec!["Endpoint".to_owned(), "Status".to_owned(), "Backend".to_owned()]
            ]
        );
    }
}
