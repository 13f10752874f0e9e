//! The telemetry namespaces' start-up checks and the per-request report.

use crate::{Gateway, GatewayRequest};
use http::Method;

/// Every problem (errors, then warnings) for a config whose root `extra_config` is `extra`.
fn problems(extra: &str) -> Vec<String> {
    let text = format!(
        r#"{{"version": 3, "extra_config": {extra}, "endpoints": [{{"endpoint": "/a", "backend": [{{"host": ["http://127.0.0.1:8000"], "url_pattern": "/a"}}]}}]}}"#
    );
    match Gateway::from_json(&text) {
        Ok(g) => g.warnings().iter().map(ToString::to_string).collect(),
        Err(e) => e.errors.iter().chain(&e.warnings).map(ToString::to_string).collect(),
    }
}

fn is_error_at(problems: &[String], path: &str) -> bool {
    problems.iter().any(|p| p.starts_with(&format!("error: `{path}`")))
}

#[test]
fn telemetry_namespaces_are_no_longer_reported_as_unsupported() {
    let p = problems(
        r#"{"telemetry/logging": {"level": "WARNING", "prefix": "[KRAKEND]", "stdout": true},
            "telemetry/metrics": {"collection_time": "60s", "listen_address": ":8090"},
            "telemetry/gelf": {"address": "127.0.0.1:12201", "enable_tcp": false},
            "telemetry/logstash": {"enabled": true},
            "telemetry/opentelemetry": {"exporters": {"prometheus": [{"name": "p", "port": 9090}]}}}"#,
    );
    assert!(p.iter().all(|w| !w.contains("not supported by Tributary yet")), "{p:#?}");
}

#[test]
fn a_bad_log_level_is_an_error_naming_its_path() {
    let p = problems(r#"{"telemetry/logging": {"level": "LOUD"}}"#);
    assert!(is_error_at(&p, "extra_config.telemetry/logging.level"), "{p:#?}");
}

#[test]
fn log_levels_are_read_case_insensitively() {
    let p = problems(r#"{"telemetry/logging": {"level": "debug"}}"#);
    assert!(p.iter().all(|w| !w.starts_with("error")), "{p:#?}");
}

#[test]
fn a_custom_format_without_its_pattern_is_an_error() {
    let p = problems(r#"{"telemetry/logging": {"format": "custom"}}"#);
    assert!(is_error_at(&p, "extra_config.telemetry/logging.custom_format"), "{p:#?}");
}

#[test]
fn an_unknown_opentelemetry_exporter_is_an_error_naming_it() {
    let p = problems(r#"{"telemetry/opentelemetry": {"exporters": {"jaeger": [{"name": "j"}]}}}"#);
    assert!(is_error_at(&p, "extra_config.telemetry/opentelemetry.exporters.jaeger"), "{p:#?}");
}

#[test]
fn an_exporter_on_the_gateway_port_is_an_error() {
    let p = problems(r#"{"telemetry/opentelemetry": {"exporters": {"prometheus": [{"name": "p", "port": 8080}]}}}"#);
    assert!(is_error_at(&p, "extra_config.telemetry/opentelemetry.exporters.prometheus[0].port"), "{p:#?}");
    assert!(p.iter().any(|e| e.contains("already taken by `port`")), "{p:#?}");
}

#[test]
fn two_listeners_on_one_port_are_an_error_naming_both() {
    let p = problems(
        r#"{"telemetry/metrics": {"listen_address": "127.0.0.1:9100"},
            "telemetry/opencensus": {"exporters": {"prometheus": {"port": 9100}}}}"#,
    );
    let clash =
        p.iter().find(|e| e.starts_with("error: `extra_config.telemetry/opencensus.exporters.prometheus.port`"));
    assert!(clash.is_some_and(|e| e.contains("extra_config.telemetry/metrics.listen_address")), "{p:#?}");
}

#[test]
fn a_prometheus_exporter_without_a_port_takes_9090_as_krakend_does() {
    let p = problems(r#"{"telemetry/opentelemetry": {"exporters": {"prometheus": [{"name": "p"}]}}}"#);
    assert!(p.iter().all(|w| !w.starts_with("error")), "{p:#?}");
    let clash = problems(
        r#"{"telemetry/metrics": {"listen_address": ":9090"},
            "telemetry/opentelemetry": {"exporters": {"prometheus": [{"name": "p", "port": 0}]}}}"#,
    );
    assert!(is_error_at(&clash, "extra_config.telemetry/opentelemetry.exporters.prometheus[0].port"), "{clash:#?}");
}

#[test]
fn duplicate_exporter_names_are_an_error() {
    let p = problems(
        r#"{"telemetry/opentelemetry": {"exporters": {
            "otlp": [{"name": "x", "host": "127.0.0.1", "port": 4318, "use_http": true}],
            "prometheus": [{"name": "x", "port": 9090}]}}}"#,
    );
    assert!(is_error_at(&p, "extra_config.telemetry/opentelemetry.exporters.prometheus[0].name"), "{p:#?}");
}

#[test]
fn otlp_over_grpc_is_a_warning_that_the_exporter_is_ignored() {
    let p =
        problems(r#"{"telemetry/opentelemetry": {"exporters": {"otlp": [{"name": "o", "host": "c", "port": 4317}]}}}"#);
    assert!(
        p.iter().any(|w| w.starts_with("warning: `extra_config.telemetry/opentelemetry.exporters.otlp[0].use_http`"))
    );
    assert!(!p.iter().any(|w| w.starts_with("error")), "{p:#?}");
}

#[test]
fn a_sample_rate_outside_zero_to_one_is_an_error() {
    let p = problems(r#"{"telemetry/opentelemetry": {"trace_sample_rate": 2.5}}"#);
    assert!(is_error_at(&p, "extra_config.telemetry/opentelemetry.trace_sample_rate"), "{p:#?}");
}

#[test]
fn a_bad_stats_listen_address_is_an_error() {
    let p = problems(r#"{"telemetry/metrics": {"listen_address": "nowhere"}}"#);
    assert!(is_error_at(&p, "extra_config.telemetry/metrics.listen_address"), "{p:#?}");
}

#[test]
fn a_gelf_address_without_a_port_is_an_error() {
    let p = problems(r#"{"telemetry/gelf": {"address": "graylog"}}"#);
    assert!(is_error_at(&p, "extra_config.telemetry/gelf.address"), "{p:#?}");
}

#[test]
fn opencensus_exporters_other_than_prometheus_are_warned_about() {
    let p = problems(r#"{"telemetry/opencensus": {"exporters": {"jaeger": {"endpoint": "http://j:14268"}}}}"#);
    assert!(p.iter().any(|w| w.starts_with("warning: `extra_config.telemetry/opencensus.exporters.jaeger`")), "{p:#?}");
}

#[test]
fn an_unknown_emf_dimension_is_an_error() {
    let p = problems(r#"{"tributary/emf": {"dimensions": [["Endpoint", "Path"]]}}"#);
    assert!(is_error_at(&p, "extra_config.tributary/emf.dimensions[0][1]"), "{p:#?}");
}

#[test]
fn telemetry_written_on_an_endpoint_is_warned_as_service_only() {
    let text = r#"{"version": 3, "endpoints": [{"endpoint": "/a", "extra_config": {"telemetry/logging": {"level": "INFO"}},
        "backend": [{"host": ["http://127.0.0.1:8000"], "url_pattern": "/a"}]}]}"#;
    let g = Gateway::from_json(text).unwrap();
    let w: Vec<String> = g.warnings().iter().map(ToString::to_string).collect();
    assert!(
        w.iter().any(|w| w.contains("endpoints[0].extra_config.telemetry/logging") && w.contains("service level")),
        "{w:#?}"
    );
}

#[test]
fn the_access_log_settings_come_from_the_router() {
    let text = r#"{"version": 3, "extra_config": {"router": {"disable_access_log": true, "logger_skip_paths": ["/__health"]}},
        "endpoints": [{"endpoint": "/a", "backend": [{"host": ["http://127.0.0.1:8000"], "url_pattern": "/a"}]}]}"#;
    let g = Gateway::from_json(text).unwrap();
    assert!(!g.telemetry().access_log);
    assert_eq!(g.telemetry().logger_skip_paths, ["/__health"]);
    let g = Gateway::from_json(&text.replace("true", "false")).unwrap();
    assert!(g.telemetry().access_log);
}

/// A port on 127.0.0.1 where nothing listens (bound, then released).
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A backend on 127.0.0.1 that answers every request with `{"ok": true}`.
async fn ok_backend() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                let body = br#"{"ok": true}"#;
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = s.write_all(head.as_bytes()).await;
                let _ = s.write_all(body).await;
            });
        }
    });
    port
}

#[tokio::test]
async fn the_report_names_the_endpoint_pattern_completeness_and_the_backend_that_failed() {
    let ok = ok_backend().await;
    let closed = closed_port();
    let text = format!(
        r#"{{"version": 3, "endpoints": [{{"endpoint": "/users/{{id}}", "backend": [
            {{"host": ["http://127.0.0.1:{ok}"], "url_pattern": "/ok/{{id}}"}},
            {{"host": ["http://127.0.0.1:{closed}"], "url_pattern": "/down/{{id}}", "group": "down"}}]}}]}}"#
    );
    let g = Gateway::from_json(&text).unwrap();
    let (resp, report) = g.handle_reported(GatewayRequest::new(Method::GET, "/users/7")).await;
    assert_eq!(resp.status, 200);
    let endpoint = report.endpoint.expect("an endpoint answered");
    assert_eq!(&*endpoint.pattern, "/users/{id}");
    assert_eq!(endpoint.method, Method::GET);
    assert_eq!(report.completed, Some(false));
    assert_eq!(report.failed.len(), 1, "{:?}", report.failed);
    assert_eq!(report.failed[0].backend, 1);
    assert_eq!(&*report.failed[0].url_pattern, "/down/{id}");
    assert!(!report.failed[0].error.is_empty());
    // No sink reads backend exchanges here: none are recorded.
    assert!(report.calls.is_empty());
}

#[tokio::test]
async fn with_metrics_on_every_backend_exchange_is_recorded_with_its_status() {
    let ok = ok_backend().await;
    let closed = closed_port();
    let text = format!(
        r#"{{"version": 3, "extra_config": {{"telemetry/metrics": {{"listen_address": "127.0.0.1:{closed}"}}}},
            "endpoints": [{{"endpoint": "/both", "backend": [
            {{"host": ["http://127.0.0.1:{ok}"], "url_pattern": "/ok"}},
            {{"host": ["http://127.0.0.1:{closed}"], "url_pattern": "/down"}}]}}]}}"#
    );
    let g = Gateway::from_json(&text).unwrap();
    let (_, report) = g.handle_reported(GatewayRequest::new(Method::GET, "/both")).await;
    let mut calls = report.calls.clone();
    calls.sort_by_key(|c| c.backend);
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(calls[0].status, Some(http::StatusCode::OK));
    // Metrics read no URL: it is kept for traces only.
    assert!(calls[0].url.is_empty(), "{}", calls[0].url);
    assert_eq!(calls[1].status, None);
    assert!(calls[1].error.is_some());
}

#[tokio::test]
async fn a_request_no_endpoint_answers_has_no_endpoint_in_its_report() {
    let g = Gateway::from_json(
        r#"{"version": 3, "endpoints": [{"endpoint": "/a", "backend": [{"host": ["http://127.0.0.1:8000"], "url_pattern": "/a"}]}]}"#,
    )
    .unwrap();
    let (resp, report) = g.handle_reported(GatewayRequest::new(Method::GET, "/nothing")).await;
    assert_eq!(resp.status, 404);
    assert!(report.endpoint.is_none());
    assert!(report.completed.is_none());
}
