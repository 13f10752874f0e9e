//! `tributary check --lambda`: what a config means once it runs as the Lambda function: endpoint
//! timeouts that cannot finish within the function's, settings Lambda never reads, per-instance
//! limits multiplied by the number of execution environments, and whether the config fits an SSM
//! parameter. Warnings with JSON paths, in `check`'s format; nothing here changes a config.

use base64::Engine;
use serde_json::Value;
use std::io::Write;
use std::time::Duration;
use tributary_core::config::parse_go_duration;
use tributary_core::{DEFAULT_ENDPOINT_TIMEOUT, DEFAULT_MAX_BODY_BYTES, Problem, Severity};

/// The function as deployed (defaults: `infra/template.yaml`'s).
#[derive(Debug, Clone, Copy)]
pub struct Function {
    pub timeout: Duration,
    pub memory_mb: u32,
    /// Reserved concurrency; `None` when unreserved.
    pub reserved_concurrency: Option<u32>,
}

/// SSM's value limits: standard and advanced parameters.
const SSM_STANDARD: usize = 4 * 1024;
const SSM_ADVANCED: usize = 8 * 1024;

/// Server settings of the local server that Lambda never reads.
const SERVER_ONLY: &[&str] = &[
    "port",
    "listen_ip",
    "read_timeout",
    "write_timeout",
    "idle_timeout",
    "read_header_timeout",
    "max_header_bytes",
    "tls",
    "use_h2c",
];

/// Telemetry that serves or sends from its own listener: what the function does instead.
const LISTENERS: &[(&str, &str)] = &[
    (
        "telemetry/metrics",
        "`/__stats` is not served in Lambda (nothing can reach a function's port): the function writes its metrics as CloudWatch EMF lines instead (`tributary/emf`)",
    ),
    (
        "telemetry/opentelemetry/exporters/prometheus",
        "Prometheus exporters are not served in Lambda (nothing can scrape a function): the function writes its metrics as CloudWatch EMF lines instead (`tributary/emf`); OTLP exporters work",
    ),
    (
        "telemetry/opencensus",
        "the Prometheus exporter is not served in Lambda (nothing can scrape a function): the function writes its metrics as CloudWatch EMF lines instead (`tributary/emf`)",
    ),
];

/// The problems of `text` (a config that parses) for `function`.
pub fn check(text: &str, function: Function) -> Vec<Problem> {
    let Ok(root) = serde_json::from_str::<Value>(text) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let warn = |path: String, endpoint: Option<String>, message: String| Problem {
        severity: Severity::Warning,
        path,
        endpoint,
        line_col: None,
        message,
    };
    for key in SERVER_ONLY {
        if root.get(key).is_some() {
            out.push(warn(
                (*key).to_owned(),
                None,
                "has no effect in Lambda: the function URL (or API Gateway, or the load balancer) is the HTTP server"
                    .into(),
            ));
        }
    }
    for (key, message) in LISTENERS {
        // The namespace is the first two segments; what follows are keys inside it.
        let (ns, inner) = match key.match_indices('/').nth(1) {
            Some((at, _)) => (&key[..at], &key[at + 1..]),
            None => (*key, ""),
        };
        let mut pointer = format!("/extra_config/{}", ns.replace('/', "~1"));
        let mut path = format!("extra_config.{ns}");
        for part in inner.split('/').filter(|p| !p.is_empty()) {
            pointer.push('/');
            pointer.push_str(part);
            path.push('.');
            path.push_str(part);
        }
        if root.pointer(&pointer).is_some() {
            out.push(warn(path, None, (*message).to_owned()));
        }
    }
    let service_timeout = duration(root.get("timeout")).unwrap_or(DEFAULT_ENDPOINT_TIMEOUT);
    let budget = function.timeout;
    if service_timeout >= budget {
        out.push(warn(
            "timeout".into(),
            None,
            format!(
                "the default endpoint timeout ({}) does not fit the function's timeout ({}): the invocation's deadline cuts every endpoint short first (KrakenD's timeout answer, a margin before the deadline), so this timeout never applies in full; raise the function's `Timeout` or lower this",
                show(service_timeout),
                show(budget)
            ),
        ));
    }
    let environments = match function.reserved_concurrency {
        Some(n) => format!("{n} (the reserved concurrency)"),
        None => "the number of execution environments (no reserved concurrency bounds it)".to_owned(),
    };
    for (i, e) in root.get("endpoints").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let label = format!(
            "{} {}",
            e.get("method").and_then(Value::as_str).unwrap_or("GET").to_ascii_uppercase(),
            e.get("endpoint").and_then(Value::as_str).unwrap_or("")
        );
        if let Some(t) = duration(e.get("timeout"))
            && t >= budget
        {
            out.push(warn(
                format!("endpoints[{i}].timeout"),
                Some(label.clone()),
                format!(
                    "{} does not fit the function's timeout ({}): the invocation's deadline cuts it short first (KrakenD's timeout answer, a margin before the deadline), so it never applies in full",
                    show(t),
                    show(budget)
                ),
            ));
        }
        if let Some(rl) = e.pointer("/extra_config/qos~1ratelimit~1router") {
            for key in ["max_rate", "client_max_rate"] {
                if rl.get(key).and_then(Value::as_f64).is_some_and(|r| r > 0.0) {
                    out.push(warn(
                        format!("endpoints[{i}].extra_config.qos/ratelimit/router.{key}"),
                        Some(label.clone()),
                        format!(
                            "counted per execution environment: the limit the backends see is {environments} this rate"
                        ),
                    ));
                }
            }
        }
        for (j, b) in e.get("backend").and_then(Value::as_array).into_iter().flatten().enumerate() {
            if b.pointer("/extra_config/qos~1ratelimit~1proxy/max_rate")
                .and_then(Value::as_f64)
                .is_some_and(|r| r > 0.0)
            {
                out.push(warn(
                    format!("endpoints[{i}].backend[{j}].extra_config.qos/ratelimit/proxy.max_rate"),
                    Some(label.clone()),
                    format!("counted per execution environment: the backend sees up to {environments} times this rate"),
                ));
            }
        }
    }
    // A body at the limit is held whole (and its shaped copy beside it), on top of what the
    // function needs anyway (a 32 MiB allowance, above its resident memory in BENCHMARKS.md).
    let max_body = root
        .pointer("/extra_config/tributary~1backend/max_body_bytes")
        .and_then(Value::as_u64)
        .filter(|n| *n > 0)
        .unwrap_or(DEFAULT_MAX_BODY_BYTES as u64);
    let memory = u64::from(function.memory_mb) * 1024 * 1024;
    if 2 * max_body + 32 * 1024 * 1024 > memory {
        out.push(warn(
            "extra_config.tributary/backend.max_body_bytes".into(),
            None,
            format!(
                "a backend body at the limit ({} MiB) and its shaped copy may not fit the function's {} MB: lower the limit or raise `MemorySize`",
                max_body / (1024 * 1024),
                function.memory_mb
            ),
        ));
    }
    if let Some(p) = ssm_fit(text) {
        out.push(warn(String::new(), None, p));
    }
    out
}

/// How the config fits an SSM parameter, when it does not fit a standard one as written.
fn ssm_fit(text: &str) -> Option<String> {
    let compact = serde_json::from_str::<Value>(text).ok()?.to_string();
    let packed = gzip_base64(compact.as_bytes());
    let sizes = format!("{} bytes as compact JSON, {} as gzip+base64", compact.len(), packed.len());
    if compact.len() <= SSM_STANDARD {
        return None;
    }
    Some(if packed.len() <= SSM_STANDARD {
        format!("for SSM ({sizes}): fits a standard parameter only as gzip+base64")
    } else if compact.len() <= SSM_ADVANCED {
        format!("for SSM ({sizes}): needs an advanced parameter (8 KB), or gzip+base64 in one")
    } else if packed.len() <= SSM_ADVANCED {
        format!("for SSM ({sizes}): fits an advanced parameter (8 KB) only as gzip+base64")
    } else {
        format!("for SSM ({sizes}): too large for one parameter: split it under a path (`ssm:PATH/`)")
    })
}

fn gzip_base64(bytes: &[u8]) -> String {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    // Writing to a Vec cannot fail.
    let _ = enc.write_all(bytes);
    let gz = enc.finish().unwrap_or_default();
    base64::engine::general_purpose::STANDARD.encode(gz)
}

fn duration(v: Option<&Value>) -> Option<Duration> {
    match v? {
        Value::String(s) => parse_go_duration(s).ok().filter(|d| !d.is_zero()),
        // A bare number is nanoseconds, as KrakenD reads it.
        Value::Number(n) => n.as_u64().map(Duration::from_nanos).filter(|d| !d.is_zero()),
        _ => None,
    }
}

fn show(d: Duration) -> String {
    format!("{}s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn function() -> Function {
        Function { timeout: Duration::from_secs(30), memory_mb: 256, reserved_concurrency: Some(5) }
    }

    fn paths(problems: &[Problem]) -> Vec<&str> {
        problems.iter().map(|p| p.path.as_str()).collect()
    }

    #[test]
    fn endpoint_timeouts_that_cannot_fit_the_function_are_named() {
        let config = json!({"version": 3, "timeout": "3s", "endpoints": [
            {"endpoint": "/ok", "backend": []},
            {"endpoint": "/slow", "timeout": "45s", "backend": []}]});
        let p = check(&config.to_string(), function());
        assert_eq!(paths(&p), ["endpoints[1].timeout"]);
        assert_eq!(p[0].endpoint.as_deref(), Some("GET /slow"));
        let long_default = json!({"version": 3, "timeout": "1m", "endpoints": []});
        assert_eq!(paths(&check(&long_default.to_string(), function())), ["timeout"]);
    }

    #[test]
    fn server_settings_and_per_instance_limits_are_explained() {
        let config = json!({"version": 3, "port": 8080, "read_timeout": "5s", "endpoints": [
            {"endpoint": "/r", "extra_config": {"qos/ratelimit/router": {"max_rate": 10}},
             "backend": [{"url_pattern": "/", "extra_config": {"qos/ratelimit/proxy": {"max_rate": 5}}}]}]});
        let p = check(&config.to_string(), function());
        assert_eq!(
            paths(&p),
            [
                "port",
                "read_timeout",
                "endpoints[0].extra_config.qos/ratelimit/router.max_rate",
                "endpoints[0].backend[0].extra_config.qos/ratelimit/proxy.max_rate"
            ]
        );
        assert!(p[2].message.contains("5 (the reserved concurrency)"), "{}", p[2].message);
    }

    #[test]
    fn telemetry_listeners_are_named_with_what_the_function_does_instead() {
        let config = json!({"version": 3, "extra_config": {
            "telemetry/metrics": {"listen_address": ":8090"},
            "telemetry/opentelemetry": {"exporters": {
                "prometheus": [{"name": "p", "port": 9090}],
                "otlp": [{"name": "o", "host": "c", "port": 4318, "use_http": true}]}},
            "telemetry/logging": {"level": "INFO"}}, "endpoints": []});
        let p = check(&config.to_string(), function());
        assert_eq!(
            paths(&p),
            ["extra_config.telemetry/metrics", "extra_config.telemetry/opentelemetry.exporters.prometheus"]
        );
        assert!(p.iter().all(|p| p.message.contains("EMF")), "{p:?}");
    }

    #[test]
    fn the_ssm_fit_is_reported_for_configs_over_a_standard_parameter() {
        let small = json!({"version": 3, "endpoints": []}).to_string();
        assert!(ssm_fit(&small).is_none());
        let endpoints: Vec<Value> = (0..60)
            .map(|i| json!({"endpoint": format!("/e{i}"), "backend": [{"host": ["http://users:8080"], "url_pattern": format!("/u/{i}")}]}))
            .collect();
        let big = json!({"version": 3, "endpoints": endpoints}).to_string();
        let fit = ssm_fit(&big).expect("over 4 KB");
        assert!(fit.contains("gzip+base64"), "{fit}");
    }

    #[test]
    fn a_body_limit_the_function_memory_cannot_hold_is_named() {
        let config = json!({"version": 3, "endpoints": []}).to_string();
        let small = Function { memory_mb: 128, ..function() };
        assert_eq!(paths(&check(&config, small)), ["extra_config.tributary/backend.max_body_bytes"]);
        assert!(check(&config, function()).is_empty(), "256 MB holds the 64 MiB default");
        let lowered = json!({"version": 3, "extra_config": {"tributary/backend": {"max_body_bytes": 8388608}},
                             "endpoints": []});
        assert!(check(&lowered.to_string(), small).is_empty());
    }
}
