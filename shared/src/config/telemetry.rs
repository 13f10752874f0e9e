//! The `telemetry/*` namespaces (and Tributary's `tributary/emf`) as KrakenD CE reads them, and
//! their start-up checks: every bad value is an error naming its JSON path.

use super::{GoDuration, Problem};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// The dimensions an EMF dimension set may name.
pub const EMF_DIMENSIONS: &[&str] = &["Endpoint", "Method", "Status", "Backend"];

pub const LOGGING_NAMES: &[&str] = &["telemetry/logging", "github_com/devopsfaith/krakend-gologging"];
pub const METRICS_NAMES: &[&str] = &["telemetry/metrics", "github_com/devopsfaith/krakend-metrics"];
pub const OPENTELEMETRY_NAMES: &[&str] = &["telemetry/opentelemetry"];
pub const OPENCENSUS_NAMES: &[&str] = &["telemetry/opencensus", "github_com/devopsfaith/krakend-opencensus"];
pub const GELF_NAMES: &[&str] = &["telemetry/gelf", "github_com/devopsfaith/krakend-gelf"];
pub const LOGSTASH_NAMES: &[&str] = &["telemetry/logstash", "github_com/devopsfaith/krakend-logstash"];
/// Tributary's own namespace for CloudWatch Embedded Metric Format lines (Lambda).
pub const TRIBUTARY_EMF: &str = "tributary/emf";

/// The log levels KrakenD's `telemetry/logging` accepts (go-logging's names).
pub const LOG_LEVELS: &[&str] = &["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"];

/// `telemetry/logging` (krakend-gologging).
#[derive(Debug, Default, Clone, Deserialize)]
pub struct LoggingConfig {
    #[serde(default)]
    pub level: Option<String>,
    #[serde(default)]
    pub prefix: Option<String>,
    #[serde(default)]
    pub syslog: bool,
    #[serde(default)]
    pub stdout: bool,
    #[serde(default)]
    pub format: Option<String>,
    #[serde(default)]
    pub custom_format: Option<String>,
    #[serde(default)]
    pub syslog_facility: Option<String>,
    #[serde(default, rename = "@comment")]
    pub comment: Option<Value>,
}

/// `telemetry/metrics` (krakend-metrics: `/__stats`).
#[derive(Debug, Default, Clone, Deserialize)]
pub struct MetricsConfig {
    #[serde(default)]
    pub collection_time: Option<GoDuration>,
    #[serde(default)]
    pub listen_address: Option<String>,
    #[serde(default)]
    pub proxy_disabled: bool,
    #[serde(default)]
    pub router_disabled: bool,
    #[serde(default)]
    pub backend_disabled: bool,
    #[serde(default)]
    pub endpoint_disabled: bool,
    #[serde(default, rename = "@comment")]
    pub comment: Option<Value>,
}

/// `telemetry/opentelemetry` (krakend-otel).
#[derive(Debug, Default, Clone, Deserialize)]
pub struct OtelConfig {
    #[serde(default)]
    pub service_name: Option<String>,
    #[serde(default)]
    pub service_version: Option<String>,
    #[serde(default)]
    pub deploy_env: Option<String>,
    #[serde(default)]
    pub layers: Option<OtelLayers>,
    /// Exporter kinds by name (`otlp`, `prometheus`): kept as values so that an unknown kind is
    /// reported by name rather than dropped as an unknown key.
    #[serde(default)]
    pub exporters: BTreeMap<String, Value>,
    #[serde(default)]
    pub skip_paths: Option<Vec<String>>,
    #[serde(default)]
    pub metric_reporting_period: Option<u64>,
    #[serde(default)]
    pub trace_sample_rate: Option<f64>,
    #[serde(default, rename = "@comment")]
    pub comment: Option<Value>,
}

impl OtelConfig {
    /// The `exporters.otlp[]` entries (none when the list is absent or malformed: `check`
    /// reports a malformed one).
    pub fn otlp_exporters(&self) -> Vec<OtlpExporter> {
        exporters_of(&self.exporters, "otlp")
    }

    /// The `exporters.prometheus[]` entries, as [`OtelConfig::otlp_exporters`].
    pub fn prometheus_exporters(&self) -> Vec<PrometheusExporter> {
        exporters_of(&self.exporters, "prometheus")
    }
}

fn exporters_of<T: serde::de::DeserializeOwned>(exporters: &BTreeMap<String, Value>, kind: &str) -> Vec<T> {
    exporters.get(kind).and_then(|v| Vec::<T>::deserialize(v).ok()).unwrap_or_default()
}

/// An `exporters.otlp[]` entry.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct OtlpExporter {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub host: String,
    #[serde(default)]
    pub port: u16,
    #[serde(default)]
    pub use_http: bool,
    #[serde(default)]
    pub disable_metrics: bool,
    #[serde(default)]
    pub disable_traces: bool,
    /// Seconds between metric exports to this collector, instead of `metric_reporting_period`
    /// (krakend-otel's key; `custom_reporting_period` is accepted too).
    #[serde(default, alias = "custom_reporting_period")]
    pub custom_metric_reporting_period: Option<u64>,
}

/// krakend-otel's Prometheus port when an exporter names none (or 0).
pub const DEFAULT_PROMETHEUS_PORT: u16 = 9090;

/// An `exporters.prometheus[]` entry.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct PrometheusExporter {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub port: u16,
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default)]
    pub listen_ip: Option<String>,
    #[serde(default)]
    pub process_metrics: bool,
    #[serde(default)]
    pub go_metrics: bool,
    #[serde(default)]
    pub disable_metrics: bool,
}

impl PrometheusExporter {
    /// The port it listens on: `port`, or 9090 when that is unset or 0, as krakend-otel does.
    pub fn listen_port(&self) -> u16 {
        if self.port == 0 { DEFAULT_PROMETHEUS_PORT } else { self.port }
    }
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct OtelLayers {
    #[serde(default)]
    pub global: Option<OtelGlobalLayer>,
    #[serde(default)]
    pub proxy: Option<OtelProxyLayer>,
    #[serde(default)]
    pub backend: Option<OtelBackendLayer>,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct OtelGlobalLayer {
    #[serde(default)]
    pub disable_metrics: bool,
    #[serde(default)]
    pub disable_traces: bool,
    #[serde(default)]
    pub disable_propagation: bool,
    #[serde(default)]
    pub report_headers: bool,
    #[serde(default)]
    pub metrics_static_attributes: Vec<KeyValue>,
    #[serde(default)]
    pub traces_static_attributes: Vec<KeyValue>,
    #[serde(default)]
    pub semantic_convention: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct OtelProxyLayer {
    #[serde(default)]
    pub disable_metrics: bool,
    #[serde(default)]
    pub disable_traces: bool,
    #[serde(default)]
    pub report_headers: bool,
    #[serde(default)]
    pub metrics_static_attributes: Vec<KeyValue>,
    #[serde(default)]
    pub traces_static_attributes: Vec<KeyValue>,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct OtelBackendLayer {
    #[serde(default)]
    pub metrics: Option<OtelBackendOpts>,
    #[serde(default)]
    pub traces: Option<OtelBackendOpts>,
}

/// `layers.backend.metrics` and `layers.backend.traces` (same keys; `report_headers` only
/// means something for traces).
#[derive(Debug, Default, Clone, Deserialize)]
pub struct OtelBackendOpts {
    #[serde(default)]
    pub disable_stage: bool,
    #[serde(default)]
    pub round_trip: Option<bool>,
    #[serde(default)]
    pub read_payload: Option<bool>,
    #[serde(default)]
    pub detailed_connection: Option<bool>,
    #[serde(default)]
    pub static_attributes: Vec<KeyValue>,
    #[serde(default)]
    pub report_headers: bool,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

/// `telemetry/opencensus` (krakend-opencensus): only its `prometheus` exporter is served.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct OpencensusConfig {
    #[serde(default)]
    pub sample_rate: Option<f64>,
    #[serde(default)]
    pub reporting_period: Option<u64>,
    #[serde(default)]
    pub enabled_layers: Option<OpencensusLayers>,
    #[serde(default)]
    pub exporters: BTreeMap<String, Value>,
    #[serde(default, rename = "@comment")]
    pub comment: Option<Value>,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct OpencensusLayers {
    #[serde(default)]
    pub router: bool,
    #[serde(default)]
    pub pipe: bool,
    #[serde(default)]
    pub backend: bool,
}

/// `telemetry/opencensus` `exporters.prometheus`.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct OpencensusPrometheus {
    #[serde(default)]
    pub port: u16,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub tag_host: bool,
    #[serde(default)]
    pub tag_path: bool,
    #[serde(default)]
    pub tag_method: bool,
    #[serde(default)]
    pub tag_statuscode: bool,
}

impl OpencensusConfig {
    /// Its `exporters.prometheus`, when there is a well-formed one.
    pub fn prometheus(&self) -> Option<OpencensusPrometheus> {
        self.exporters.get("prometheus").and_then(|v| OpencensusPrometheus::deserialize(v).ok())
    }
}

/// The exporters krakend-opencensus knows besides `prometheus` (accepted, not served).
pub const OPENCENSUS_OTHER_EXPORTERS: &[&str] =
    &["jaeger", "zipkin", "influxdb", "xray", "stackdriver", "datadog", "ocagent", "logger"];

/// `telemetry/gelf` (krakend-gelf).
#[derive(Debug, Default, Clone, Deserialize)]
pub struct GelfConfig {
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub enable_tcp: bool,
    #[serde(default, rename = "@comment")]
    pub comment: Option<Value>,
}

/// `telemetry/logstash` (krakend-logstash).
#[derive(Debug, Default, Clone, Deserialize)]
pub struct LogstashConfig {
    #[serde(default)]
    pub enabled: bool,
    #[serde(default, rename = "@comment")]
    pub comment: Option<Value>,
}

/// `tributary/emf`: CloudWatch Embedded Metric Format lines written by the Lambda function.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct EmfConfig {
    /// Set to turn the lines off.
    #[serde(default)]
    pub disabled: bool,
    /// The CloudWatch namespace (default `Tributary`).
    #[serde(default)]
    pub namespace: Option<String>,
    /// Dimension sets, each a list of dimension names (default `[["Endpoint"]]`-like sets, see
    /// the metrics module).
    #[serde(default)]
    pub dimensions: Option<Vec<Vec<String>>>,
    #[serde(default, rename = "@comment")]
    pub comment: Option<Value>,
}

/// What the service's `extra_config` says about telemetry, parsed.
#[derive(Debug, Default, Clone)]
pub struct TelemetryConfig {
    pub logging: Option<LoggingConfig>,
    pub metrics: Option<MetricsConfig>,
    pub opentelemetry: Option<OtelConfig>,
    pub opencensus: Option<OpencensusConfig>,
    pub gelf: Option<GelfConfig>,
    pub logstash: Option<LogstashConfig>,
    pub emf: Option<EmfConfig>,
}

impl TelemetryConfig {
    pub fn is_empty(&self) -> bool {
        self.logging.is_none()
            && self.metrics.is_none()
            && self.opentelemetry.is_none()
            && self.opencensus.is_none()
            && self.gelf.is_none()
            && self.logstash.is_none()
            && self.emf.is_none()
    }
}

/// KrakenD's `/__stats` address when `telemetry/metrics` names none.
pub const DEFAULT_STATS_ADDRESS: &str = ":8090";

/// The port of a Go listen address (`:8090`, `0.0.0.0:8090`, `[::1]:8090`), if it is one.
pub fn listen_port(addr: &str) -> Option<u16> {
    let (host, port) = addr.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if !host.is_empty() && host.parse::<std::net::IpAddr>().is_err() && host != "localhost" {
        return None;
    }
    port.parse().ok()
}

/// Checks every telemetry key; `gateway_port` is the service's (8080 when unset) so that no
/// exporter takes it. Returns (errors, warnings).
pub fn validate(t: &TelemetryConfig, gateway_port: u16) -> (Vec<Problem>, Vec<Problem>) {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let at = |ns: &str, key: &str| {
        if key.is_empty() { format!("extra_config.{ns}") } else { format!("extra_config.{ns}.{key}") }
    };
    // Every port taken by a listener, with the key that takes it, to find clashes.
    let mut ports: Vec<(u16, String)> = vec![(gateway_port, "port".to_owned())];
    let mut take_port = |port: u16, path: String, errors: &mut Vec<Problem>| {
        if let Some((_, other)) = ports.iter().find(|(p, _)| *p == port) {
            errors.push(Problem::error(path, None, format!("port {port} is already taken by `{other}`")));
        } else {
            ports.push((port, path));
        }
    };

    if let Some(l) = &t.logging {
        let ns = LOGGING_NAMES[0];
        if let Some(level) = &l.level
            && !LOG_LEVELS.contains(&level.to_ascii_uppercase().as_str())
        {
            errors.push(Problem::error(
                at(ns, "level"),
                None,
                format!("unknown level `{level}` (want one of {})", LOG_LEVELS.join(", ")),
            ));
        }
        match l.format.as_deref().map(str::to_ascii_lowercase).as_deref() {
            None | Some("" | "default" | "logstash") => {}
            Some("custom") => {
                if l.custom_format.as_deref().is_none_or(str::is_empty) {
                    errors.push(Problem::error(
                        at(ns, "custom_format"),
                        None,
                        "`format: custom` needs a `custom_format` (e.g. \"%{time} %{level} %{message}\")",
                    ));
                }
            }
            Some(other) => errors.push(Problem::error(
                at(ns, "format"),
                None,
                format!("unknown format `{other}` (want default, logstash or custom)"),
            )),
        }
    }

    if let Some(m) = &t.metrics {
        let ns = METRICS_NAMES[0];
        let addr = m.listen_address.as_deref().unwrap_or(DEFAULT_STATS_ADDRESS);
        match listen_port(addr) {
            Some(port) => take_port(port, at(ns, "listen_address"), &mut errors),
            None => errors.push(Problem::error(
                at(ns, "listen_address"),
                None,
                format!("`{addr}` is not a listen address (e.g. \":8090\" or \"127.0.0.1:8090\")"),
            )),
        }
    }

    if let Some(o) = &t.opentelemetry {
        let ns = OPENTELEMETRY_NAMES[0];
        if let Some(rate) = o.trace_sample_rate
            && !(0.0..=1.0).contains(&rate)
        {
            errors.push(Problem::error(
                at(ns, "trace_sample_rate"),
                None,
                format!("{rate} is not a rate between 0 and 1"),
            ));
        }
        let mut names: Vec<String> = Vec::new();
        for (kind, value) in &o.exporters {
            let base = at(ns, &format!("exporters.{kind}"));
            match kind.as_str() {
                "otlp" => match Vec::<OtlpExporter>::deserialize(value) {
                    Ok(list) => {
                        for (i, e) in list.iter().enumerate() {
                            let here = format!("{base}[{i}]");
                            unique_name(&e.name, &here, &mut names, &mut errors);
                            if e.host.is_empty() {
                                errors.push(Problem::error(
                                    format!("{here}.host"),
                                    None,
                                    "an OTLP exporter needs a `host`",
                                ));
                            }
                            if e.port == 0 {
                                errors.push(Problem::error(
                                    format!("{here}.port"),
                                    None,
                                    "an OTLP exporter needs a `port`",
                                ));
                            }
                            if !e.use_http {
                                warnings.push(Problem::warning(
                                    format!("{here}.use_http"),
                                    None,
                                    "OTLP over gRPC is not supported by Tributary: this exporter is ignored; set `\"use_http\": true` and the collector's OTLP/HTTP port (usually 4318)",
                                ));
                            }
                        }
                    }
                    Err(e) => errors.push(Problem::error(base, None, format!("not a list of OTLP exporters: {e}"))),
                },
                "prometheus" => match Vec::<PrometheusExporter>::deserialize(value) {
                    Ok(list) => {
                        for (i, e) in list.iter().enumerate() {
                            let here = format!("{base}[{i}]");
                            unique_name(&e.name, &here, &mut names, &mut errors);
                            if !e.disable_metrics {
                                take_port(e.listen_port(), format!("{here}.port"), &mut errors);
                            }
                        }
                    }
                    Err(e) => {
                        errors.push(Problem::error(base, None, format!("not a list of Prometheus exporters: {e}")))
                    }
                },
                other => errors.push(Problem::error(
                    base,
                    None,
                    format!("unknown exporter `{other}` (telemetry/opentelemetry knows `otlp` and `prometheus`)"),
                )),
            }
        }
    }

    if let Some(oc) = &t.opencensus {
        let ns = OPENCENSUS_NAMES[0];
        for (kind, value) in &oc.exporters {
            let base = at(ns, &format!("exporters.{kind}"));
            if kind == "prometheus" {
                match OpencensusPrometheus::deserialize(value) {
                    Ok(p) if p.port == 0 => errors.push(Problem::error(
                        format!("{base}.port"),
                        None,
                        "the Prometheus exporter needs a `port`",
                    )),
                    Ok(p) => take_port(p.port, format!("{base}.port"), &mut errors),
                    Err(e) => errors.push(Problem::error(base, None, format!("not a Prometheus exporter: {e}"))),
                }
            } else if OPENCENSUS_OTHER_EXPORTERS.contains(&kind.as_str()) {
                warnings.push(Problem::warning(
                    base,
                    None,
                    format!("the OpenCensus `{kind}` exporter is not supported by Tributary: ignored (its `prometheus` exporter is, and `telemetry/opentelemetry` covers traces)"),
                ));
            } else {
                errors.push(Problem::error(base, None, format!("unknown OpenCensus exporter `{kind}`")));
            }
        }
    }

    if let Some(g) = &t.gelf
        && listen_port(&g.address).is_none()
        && g.address.rsplit_once(':').is_none_or(|(h, p)| h.is_empty() || p.parse::<u16>().is_err())
    {
        errors.push(Problem::error(
            at(GELF_NAMES[0], "address"),
            None,
            format!("`{}` is not a host:port address (e.g. \"graylog:12201\")", g.address),
        ));
    }

    if let Some(e) = &t.emf {
        if let Some(ns) = &e.namespace
            && (ns.is_empty() || ns.len() > 255)
        {
            errors.push(Problem::error(
                at(TRIBUTARY_EMF, "namespace"),
                None,
                "a CloudWatch namespace has 1 to 255 characters",
            ));
        }
        for (i, set) in e.dimensions.iter().flatten().enumerate() {
            if set.len() > 30 {
                errors.push(Problem::error(
                    format!("{}[{i}]", at(TRIBUTARY_EMF, "dimensions")),
                    None,
                    "a dimension set has at most 30 dimensions",
                ));
            }
            for (j, d) in set.iter().enumerate() {
                if !EMF_DIMENSIONS.contains(&d.as_str()) {
                    errors.push(Problem::error(
                        format!("{}[{i}][{j}]", at(TRIBUTARY_EMF, "dimensions")),
                        None,
                        format!("unknown dimension `{d}` (want one of {})", EMF_DIMENSIONS.join(", ")),
                    ));
                }
            }
        }
    }
    (errors, warnings)
}

fn unique_name(name: &str, here: &str, names: &mut Vec<String>, errors: &mut Vec<Problem>) {
    if names.iter().any(|n| n == name) {
        errors.push(Problem::error(
            format!("{here}.name"),
            None,
            format!("another exporter is already named `{name}`"),
        ));
    } else {
        names.push(name.to_owned());
    }
}
