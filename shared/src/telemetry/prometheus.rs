//! The Prometheus text exposition (format 0.0.4) of the registry, in the names KrakenD's
//! exporters give: krakend-otel's (`telemetry/opentelemetry` `exporters.prometheus[]`, through
//! OpenTelemetry Go's Prometheus exporter: dots become underscores, counters end in `_total`,
//! every series carries `otel_scope_name`) and krakend-opencensus's (`telemetry/opencensus`
//! `exporters.prometheus`: `<namespace>_opencensus_io_http_...`, labels chosen by `tag_*`).

use super::metrics::{
    HistSnapshot, LATENCY_BOUNDS_NS, Metrics, OPENCENSUS_LATENCY_MS, OPENCENSUS_SIZE_BUCKETS, OtelOutput, SIZE_BOUNDS,
};
use super::otel::{Instrument, Points, SCOPE, Scale};
use crate::config::telemetry::OpencensusPrometheus;
use std::collections::BTreeMap;
use std::fmt::Write;

/// The Content-Type of the text exposition.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

type Labels = Vec<(&'static str, String)>;

const OC_BYTES: Scale = Scale { internal: SIZE_BOUNDS, wanted: OPENCENSUS_SIZE_BUCKETS, divisor: 1.0 };

enum Kind {
    Counter(BTreeMap<Labels, u64>),
    Histogram(Scale, BTreeMap<Labels, HistSnapshot>),
    /// Values read at scrape time, with their Prometheus type (`gauge`, or `counter`).
    Value(&'static str, BTreeMap<Labels, f64>),
}

struct Family {
    name: String,
    help: &'static str,
    kind: Kind,
    /// Labels every series of the family carries (configured static attributes).
    extra: Vec<(String, String)>,
}

impl Family {
    fn counter(name: String, help: &'static str) -> Family {
        Family { name, help, kind: Kind::Counter(BTreeMap::new()), extra: Vec::new() }
    }
    fn histogram(name: String, help: &'static str, scale: Scale) -> Family {
        Family { name, help, kind: Kind::Histogram(scale, BTreeMap::new()), extra: Vec::new() }
    }

    /// Adds configured static attributes to every series, their keys sanitized as
    /// OpenTelemetry's Prometheus exporter does (`deploy.region` → `deploy_region`).
    fn with(mut self, attributes: &[(String, String)]) -> Family {
        self.extra = attributes.iter().map(|(k, v)| (sanitize(k), v.clone())).collect();
        self
    }

    fn add(&mut self, labels: Labels, n: u64) {
        if let Kind::Counter(m) = &mut self.kind {
            *m.entry(labels).or_default() += n;
        }
    }

    /// An OpenTelemetry instrument as OpenTelemetry Go's Prometheus exporter shows it: dots
    /// become underscores, a declared unit is a suffix, counters end in `_total`, and every
    /// series names the instrumentation scope.
    fn from_instrument(i: Instrument) -> Family {
        let mut name = sanitize(i.name);
        match i.unit {
            "s" => name.push_str("_seconds"),
            "By" => name.push_str("_bytes"),
            _ => {}
        }
        let labels = |attrs: Vec<(&'static str, super::otel::AttrValue)>| -> Labels {
            let mut l: Labels = vec![("otel_scope_name", SCOPE.to_owned()), ("otel_scope_version", String::new())];
            l.extend(attrs.into_iter().map(|(k, v)| (label_key(k), v.label())));
            l
        };
        let kind = match i.points {
            Points::Histogram(scale, m) => Kind::Histogram(scale, m.into_iter().map(|(a, h)| (labels(a), h)).collect()),
            Points::Counter(m) => {
                name.push_str("_total");
                Kind::Counter(m.into_iter().map(|(a, n)| (labels(a), n)).collect())
            }
        };
        Family { name, help: i.description, kind, extra: Vec::new() }.with(&i.extra)
    }

    fn observe(&mut self, labels: Labels, h: &HistSnapshot) {
        if let Kind::Histogram(_, m) = &mut self.kind {
            m.entry(labels).or_default().merge(h);
        }
    }

    fn write(&self, out: &mut String) {
        let (kind, empty) = match &self.kind {
            Kind::Counter(m) => ("counter", m.is_empty()),
            Kind::Histogram(_, m) => ("histogram", m.is_empty()),
            Kind::Value(kind, m) => (*kind, m.is_empty()),
        };
        if empty {
            return;
        }
        let _ = writeln!(out, "# HELP {} {}", self.name, self.help);
        let _ = writeln!(out, "# TYPE {} {kind}", self.name);
        match &self.kind {
            Kind::Counter(m) => {
                for (labels, n) in m {
                    let _ = writeln!(out, "{}{} {n}", self.name, label_text(labels, &self.extra, None));
                }
            }
            Kind::Value(_, m) => {
                for (labels, v) in m {
                    let _ = writeln!(out, "{}{} {v}", self.name, label_text(labels, &self.extra, None));
                }
            }
            Kind::Histogram(scale, m) => {
                for (labels, h) in m {
                    let counts = h.cumulative(scale.internal, scale.wanted);
                    for (bound, n) in scale.wanted.iter().zip(&counts) {
                        let le = (*bound as f64 / scale.divisor).to_string();
                        let _ = writeln!(out, "{}_bucket{} {n}", self.name, label_text(labels, &self.extra, Some(&le)));
                    }
                    let _ = writeln!(
                        out,
                        "{}_bucket{} {}",
                        self.name,
                        label_text(labels, &self.extra, Some("+Inf")),
                        counts.last().copied().unwrap_or(0)
                    );
                    let _ = writeln!(
                        out,
                        "{}_sum{} {}",
                        self.name,
                        label_text(labels, &self.extra, None),
                        h.sum as f64 / scale.divisor
                    );
                    let _ = writeln!(out, "{}_count{} {}", self.name, label_text(labels, &self.extra, None), h.count());
                }
            }
        }
    }
}

fn label_text(labels: &Labels, extra: &[(String, String)], le: Option<&str>) -> String {
    let mut all: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
    for (k, v) in extra {
        if !all.iter().any(|(name, _)| name == k) {
            all.push((k, v));
        }
    }
    all.sort_by(|a, b| a.0.cmp(b.0));
    if let Some(le) = le {
        all.push(("le", le));
    }
    if all.is_empty() {
        return String::new();
    }
    let mut s = String::from("{");
    for (i, (k, v)) in all.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(k);
        s.push_str("=\"");
        for c in v.chars() {
            match c {
                '\\' => s.push_str("\\\\"),
                '"' => s.push_str("\\\""),
                '\n' => s.push_str("\\n"),
                c => s.push(c),
            }
        }
        s.push('"');
    }
    s.push('}');
    s
}

fn status_label(code: Option<u16>) -> String {
    code.map_or_else(|| "other".to_owned(), |c| c.to_string())
}

/// An attribute key as a Prometheus label name (`http.route` → `http_route`).
fn label_key(key: &'static str) -> &'static str {
    match key {
        "http.request.method" => "http_request_method",
        "http.response.status_code" => "http_response_status_code",
        "http.route" => "http_route",
        "url.scheme" => "url_scheme",
        "krakend.endpoint.method" => "krakend_endpoint_method",
        "krakend.endpoint.route" => "krakend_endpoint_route",
        other => other,
    }
}

impl Metrics {
    /// `/metrics` of a `telemetry/opentelemetry` Prometheus exporter, or `None` when none is
    /// configured; `process_metrics` adds the process' CPU, memory and file descriptors.
    pub fn render_otel_prometheus(&self, process_metrics: bool) -> Option<String> {
        let o = self.outputs.otel.as_ref()?;
        let mut fams: Vec<Family> = self.otel_instruments(o).into_iter().map(Family::from_instrument).collect();
        fams.push(target_info(o));
        if process_metrics {
            fams.extend(process_families());
        }
        fams.sort_by(|a, b| a.name.cmp(&b.name));
        let mut out = String::new();
        for f in &fams {
            f.write(&mut out);
        }
        Some(out)
    }

    /// `/metrics` of `telemetry/opencensus`'s Prometheus exporter, or `None` when it is not
    /// configured.
    pub fn render_opencensus_prometheus(&self) -> Option<String> {
        let p: &OpencensusPrometheus = self.outputs.opencensus.as_ref()?;
        let prefix = match p.namespace.as_deref() {
            Some(ns) if !ns.is_empty() => format!("{}_", sanitize(ns)),
            _ => String::new(),
        };
        let name = |view: &str| format!("{prefix}opencensus_io_http_{view}");
        let ms = Scale { internal: LATENCY_BOUNDS_NS, wanted: &OC_LATENCY_NS, divisor: 1e6 };
        let mut count = Family::counter(name("server_request_count"), "Count of HTTP requests started");
        let mut latency = Family::histogram(name("server_latency"), "Latency distribution of HTTP requests", ms);
        let mut bytes =
            Family::histogram(name("server_response_bytes"), "Size distribution of HTTP response body", OC_BYTES);
        let mut by_method =
            Family::counter(name("server_request_count_by_method"), "Server request count by HTTP method");
        let mut by_status =
            Family::counter(name("server_response_count_by_status_code"), "Server response count by status code");
        let mut rtt = Family::histogram(
            name("client_roundtrip_latency"),
            "End-to-end latency, by HTTP method and response status",
            ms,
        );
        let mut completed = Family::counter(
            name("client_completed_count"),
            "Count of completed requests, by HTTP method and response status",
        );
        for e in self.endpoints() {
            // krakend-opencensus's path aggregation: the endpoint pattern, `{param}`, lower case.
            let path = e.pattern.to_lowercase();
            for (code, s) in e.router.each() {
                let status = status_label(code);
                let mut tags: Labels = Vec::new();
                if p.tag_path {
                    tags.push(("http_path", path.clone()));
                }
                if p.tag_statuscode {
                    tags.push(("http_status", status.clone()));
                }
                let mut with_method = tags.clone();
                with_method.push(("http_method", e.method.to_string()));
                let tagged = if p.tag_method { with_method.clone() } else { tags.clone() };
                let total = s.latency.total();
                count.add(tagged.clone(), total.count());
                latency.observe(tagged.clone(), &total);
                bytes.observe(tagged.clone(), &s.size.total());
                by_method.add(with_method, total.count());
                let mut with_status: Labels = tagged.into_iter().filter(|(k, _)| *k != "http_status").collect();
                with_status.push(("http_status", status));
                by_status.add(with_status, total.count());
            }
            for b in e.backends.iter() {
                for (code, h) in b.by_status.each() {
                    let status = match code {
                        Some(0) => "error".to_owned(),
                        other => status_label(other),
                    };
                    let mut l: Labels =
                        vec![("http_client_method", b.method.to_string()), ("http_client_status", status)];
                    if p.tag_path {
                        l.push(("http_client_path", b.url_pattern.to_lowercase()));
                    }
                    let total = h.total();
                    rtt.observe(l.clone(), &total);
                    completed.add(l, total.count());
                }
            }
        }
        let mut fams = [count, latency, bytes, by_method, by_status, rtt, completed];
        fams.sort_by(|a, b| a.name.cmp(&b.name));
        let mut out = String::new();
        for f in &fams {
            f.write(&mut out);
        }
        Some(out)
    }
}

/// OpenCensus's latency buckets in nanoseconds.
static OC_LATENCY_NS: [u64; 34] = {
    let mut ns = [0u64; 34];
    let mut i = 0;
    while i < 34 {
        ns[i] = OPENCENSUS_LATENCY_MS[i] * 1_000_000;
        i += 1;
    }
    ns
};

/// OpenTelemetry's `target_info`: the resource's attributes.
fn target_info(o: &OtelOutput) -> Family {
    let mut l: Labels = vec![
        ("service_name", if o.service_name.is_empty() { "tributary".to_owned() } else { o.service_name.clone() }),
        ("telemetry_sdk_language", "rust".to_owned()),
        ("telemetry_sdk_name", "tributary".to_owned()),
    ];
    if !o.service_version.is_empty() {
        l.push(("service_version", o.service_version.clone()));
    }
    if !o.deploy_env.is_empty() {
        l.push(("deployment_environment", o.deploy_env.clone()));
    }
    let mut m = BTreeMap::new();
    m.insert(l, 1.0);
    Family { name: "target_info".into(), help: "Target metadata", kind: Kind::Value("gauge", m), extra: Vec::new() }
}

/// The Prometheus Go client's process collector, read from `/proc/self` (Linux; nothing
/// elsewhere). Clock ticks are taken as 100 a second, `USER_HZ` on every Linux architecture.
fn process_families() -> Vec<Family> {
    let mut out = Vec::new();
    let mut gauge = |name: &str, help: &'static str, v: f64| {
        let mut m = BTreeMap::new();
        m.insert(Vec::new(), v);
        out.push(Family { name: name.to_owned(), help, kind: Kind::Value("gauge", m), extra: Vec::new() });
    };
    let read = |p: &str| std::fs::read_to_string(p).ok();
    let status_kib = |status: &str, field: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
    };
    if let Some(status) = read("/proc/self/status") {
        if let Some(kib) = status_kib(&status, "VmRSS") {
            gauge("process_resident_memory_bytes", "Resident memory size in bytes.", kib * 1024.0);
        }
        if let Some(kib) = status_kib(&status, "VmSize") {
            gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", kib * 1024.0);
        }
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        gauge("process_open_fds", "Number of open file descriptors.", fds.count() as f64);
    }
    if let Some(max) = read("/proc/self/limits").and_then(|l| {
        l.lines().find(|l| l.starts_with("Max open files"))?.split_whitespace().nth(3)?.parse::<f64>().ok()
    }) {
        gauge("process_max_fds", "Maximum number of open file descriptors.", max);
    }
    // Fields after the command name (which may hold spaces) in /proc/self/stat.
    let stat = read("/proc/self/stat");
    let fields: Vec<&str> = stat
        .as_deref()
        .and_then(|s| s.rsplit_once(')'))
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<f64>().ok());
    let boot =
        read("/proc/stat").and_then(|s| s.lines().find_map(|l| l.strip_prefix("btime ")?.trim().parse::<f64>().ok()));
    if let (Some(start), Some(boot)) = (field(22), boot) {
        gauge(
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
            boot + start / 100.0,
        );
    }
    if let (Some(utime), Some(stime)) = (field(14), field(15)) {
        let mut m = BTreeMap::new();
        m.insert(Vec::new(), (utime + stime) / 100.0);
        out.push(Family {
            name: "process_cpu_seconds_total".into(),
            help: "Total user and system CPU time spent in seconds.",
            kind: Kind::Value("counter", m),
            extra: Vec::new(),
        });
    }
    out
}

/// OpenCensus's metric-name sanitizer: every character but letters, digits and `_` becomes `_`.
fn sanitize(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect()
}

#[cfg(test)]
mod tests {
    use crate::Gateway;
    use crate::telemetry::{EndpointId, Report};
    use http::{Method, StatusCode};
    use std::time::Duration;

    fn gateway(otel: &str) -> Gateway {
        Gateway::from_json(&format!(
            r#"{{"version": 3, "extra_config": {{"telemetry/opentelemetry": {otel}}},
                "endpoints": [{{"endpoint": "/users/{{id}}", "backend": [{{"host": ["http://127.0.0.1:8000"], "url_pattern": "/u/{{id}}"}}]}}]}}"#
        ))
        .expect("a valid config")
    }

    fn served(g: &Gateway, status: u16, n: usize) {
        let m = g.metrics().expect("metrics on");
        let report = Report {
            endpoint: Some(EndpointId { index: 0, method: Method::GET, pattern: "/users/{id}".into(), backends: 1 }),
            ..Report::default()
        };
        for _ in 0..n {
            m.record_request(
                &report,
                &Method::GET,
                false,
                StatusCode::from_u16(status).unwrap(),
                10,
                Duration::from_millis(15),
            );
        }
    }

    #[test]
    fn histograms_are_cumulative_in_seconds_with_krakend_otel_s_labels() {
        let g = gateway(r#"{"exporters": {"prometheus": [{"name": "p", "port": 9464}]}}"#);
        served(&g, 200, 3);
        served(&g, 502, 1);
        let text = g.metrics().unwrap().render_otel_prometheus(false).unwrap();
        let labels = r#"http_request_method="GET",http_response_status_code="200",http_route="/users/:id",otel_scope_name="io.krakend.krakend-otel",otel_scope_version="",url_scheme="http""#;
        assert!(text.contains("# TYPE http_server_duration histogram\n"), "{text}");
        assert!(text.contains(&format!("http_server_duration_bucket{{{labels},le=\"0.01\"}} 0\n")), "{text}");
        assert!(text.contains(&format!("http_server_duration_bucket{{{labels},le=\"0.02\"}} 3\n")), "{text}");
        assert!(text.contains(&format!("http_server_duration_bucket{{{labels},le=\"+Inf\"}} 3\n")), "{text}");
        assert!(text.contains(&format!("http_server_duration_count{{{labels}}} 3\n")), "{text}");
        assert!(text.contains(&format!("http_server_duration_sum{{{labels}}} 0.045\n")), "{text}");
        assert!(text.contains(r#"http_response_status_code="502""#), "{text}");
        assert!(!text.contains("process_"), "{text}");
    }

    #[test]
    fn static_attributes_and_the_1_27_names_follow_the_layers_config() {
        let g = gateway(
            r#"{"exporters": {"prometheus": [{"name": "p", "port": 9464}]},
                "layers": {"global": {"semantic_convention": "1.27",
                                      "metrics_static_attributes": [{"key": "deploy.region", "value": "eu \"west\""}]}}}"#,
        );
        served(&g, 200, 1);
        let text = g.metrics().unwrap().render_otel_prometheus(false).unwrap();
        assert!(text.contains("# TYPE http_server_request_duration_seconds histogram"), "{text}");
        assert!(text.contains("# TYPE http_server_response_body_size_bytes histogram"), "{text}");
        assert!(!text.contains("http_server_duration"), "{text}");
        // Sanitized key, escaped value.
        assert!(text.contains(r#"deploy_region="eu \"west\"""#), "{text}");
    }

    #[test]
    fn every_label_name_is_a_valid_prometheus_name() {
        let g = gateway(
            r#"{"exporters": {"prometheus": [{"name": "p", "port": 9464}]},
                "layers": {"backend": {"metrics": {"static_attributes": [{"key": "team.name", "value": "x"}]}}}}"#,
        );
        served(&g, 200, 1);
        let m = g.metrics().unwrap();
        let report = Report {
            endpoint: Some(EndpointId { index: 0, method: Method::GET, pattern: "/users/{id}".into(), backends: 1 }),
            calls: vec![crate::telemetry::CallRecord {
                backend: 0,
                url_pattern: "/u/{id}".into(),
                method: Method::GET,
                url: "http://127.0.0.1:8000/u/1".into(),
                start: std::time::SystemTime::now(),
                duration: Duration::from_millis(3),
                status: None,
                error: Some("connection refused".into()),
                span_id: None,
            }],
            ..Report::default()
        };
        m.record_pipe(0, Duration::from_millis(4), &report);
        let text = m.render_otel_prometheus(false).unwrap();
        for family in ["krakend_proxy_duration", "krakend_backend_duration", "http_client_request_failed_count_total"] {
            assert!(text.contains(&format!("# TYPE {family} ")), "{family}: {text}");
        }
        assert!(text.contains(r#"team_name="x""#), "{text}");
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let Some((_, labels)) = line.split_once('{') else { continue };
            let labels = labels.rsplit_once('}').map_or(labels, |(l, _)| l);
            for pair in labels.split("\",") {
                let name = pair.split('=').next().unwrap_or("");
                assert!(
                    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                    "label `{name}` in {line}"
                );
            }
        }
    }

    #[test]
    fn the_process_metrics_come_from_the_running_process() {
        let g = gateway(r#"{"exporters": {"prometheus": [{"name": "p", "port": 9464, "process_metrics": true}]}}"#);
        let text = g.metrics().unwrap().render_otel_prometheus(true).unwrap();
        let rss: f64 = text
            .lines()
            .find_map(|l| l.strip_prefix("process_resident_memory_bytes "))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{text}"));
        assert!(rss > 1e6, "{rss}");
        assert!(text.contains("# TYPE process_cpu_seconds_total counter"), "{text}");
    }
}
