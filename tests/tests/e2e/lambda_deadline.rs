//! Deadline-aware answers in Lambda: an invocation's deadline bounds every endpoint's timeout, so
//! a slow backend gets KrakenD's answer (the single-backend error, or a partial merge with
//! `X-KrakenD-Completed: false`) a margin before the deadline instead of the function being
//! stopped. In process with an invocation context, and through a Runtime API emulator
//! (`scripts/fake_runtime.py`) running the `gateway` binary.

use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::io::AsyncWriteExt;
use tributary_core::Gateway;
use tributary_e2e::chaos::{Backend, finish, response};
use tributary_e2e::doors::function_url_get;
use tributary_e2e::lambda::{answers_and_logs, emulator};
use tributary_e2e::process::TempDir;

/// The endpoint timeout: far beyond every deadline of these tests.
const ENDPOINT_TIMEOUT: &str = "20s";

/// A backend that answers after 10 s (well past every deadline here).
async fn slow() -> Backend {
    Backend::start(|mut stream, _head| async move {
        tokio::time::sleep(Duration::from_secs(10)).await;
        let answer = response("HTTP/1.1 200 OK", &[("Content-Type", "application/json")], br#"{"slow":true}"#);
        if stream.write_all(&answer).await.is_ok() {
            finish(stream).await;
        }
    })
    .await
}

fn config(slow: &Backend, fast: &Backend) -> String {
    json!({
        "version": 3, "timeout": ENDPOINT_TIMEOUT,
        "extra_config": {"tributary/lambda": {"deadline_margin": "200ms"}},
        "endpoints": [
            {"endpoint": "/one", "backend": [{"host": [slow.url()], "url_pattern": "/"}]},
            {"endpoint": "/two", "backend": [
                {"host": [fast.url()], "url_pattern": "/", "group": "fast"},
                {"host": [slow.url()], "url_pattern": "/", "group": "slow"}]}
        ]
    })
    .to_string()
}

fn epoch_ms() -> u64 {
    u64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).expect("a clock after 1970").as_millis())
        .expect("milliseconds fit")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_a_slow_backend_is_answered_before_the_invocations_deadline() {
    let (slow, fast) = (slow().await, Backend::json(r#"{"fast":true}"#).await);
    let gateway = Gateway::from_json(&config(&slow, &fast)).expect("config");
    for (path, status, completed) in [("/one", 500, "false"), ("/two", 200, "false")] {
        let budget = Duration::from_millis(1500);
        let mut context = lambda_http::Context::default();
        context.deadline = epoch_ms() + u64::try_from(budget.as_millis()).expect("fits");
        let request = lambda_http::request::from_str(&function_url_get(path)).expect("lambda_http reads the event");
        let request = lambda_http::RequestExt::with_lambda_context(request, context);
        let started = Instant::now();
        let Ok(resp) = tributary_functions::lambda::handle(&gateway, request).await;
        let took = started.elapsed();
        assert_eq!(resp.status(), status, "{path}");
        assert_eq!(
            resp.headers().get("x-krakend-completed").map(|v| v.as_bytes()),
            Some(completed.as_bytes()),
            "{path}"
        );
        assert!(took < budget, "{path}: answered after {took:?}, past the invocation's {budget:?}");
        if path == "/two" {
            let body: Value = match resp.body() {
                lambda_http::Body::Text(t) => serde_json::from_str(t).expect("JSON"),
                other => panic!("unexpected body {other:?}"),
            };
            assert_eq!(body, json!({"fast": {"fast": true}}));
        }
    }
}

/// Runs the `gateway` binary under the Runtime API emulator with a 1.5 s deadline per
/// invocation, `GET /one` then `GET /two`, and `env`: the answers, and the other stdout lines
/// (the function's logs).
fn emulate(env: &[(&str, &str)]) -> (Vec<Value>, Vec<String>) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("a runtime");
    let (slow, fast) = rt.block_on(async { (slow().await, Backend::json(r#"{"fast":true}"#).await) });
    let dir = TempDir::new("deadline");
    let config_path = dir.write("krakend.json", config(&slow, &fast));
    let events: Vec<PathBuf> = ["/one", "/two"]
        .iter()
        .map(|path| dir.write(&format!("{}.json", path.trim_start_matches('/')), function_url_get(path)))
        .collect();
    let mut cmd = emulator(&config_path, &["--deadline-ms", "1500", "--timeout", "15"], &events);
    cmd.env_remove("AWS_LAMBDA_LOG_LEVEL").env_remove("AWS_LAMBDA_LOG_FORMAT");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run the Runtime API emulator");
    drop(rt);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "emulator failed: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    // The function's own log lines share the emulator's stdout: the answers carry a request id.
    let (answers, logs) = answers_and_logs(&stdout);
    (answers, logs.into_iter().map(str::to_owned).collect())
}

#[test]
fn through_the_runtime_api_the_gateway_answers_before_the_deadline() {
    let (answers, logs) = emulate(&[("RUST_LOG", "warn")]);
    assert_eq!(answers.len(), 2, "{answers:?}");
    for (line, (status, completed)) in answers.iter().zip([(500, "false"), (200, "false")]) {
        assert_eq!(line["kind"], "response", "{line}");
        assert_eq!(line["answer"]["statusCode"], status, "{line}");
        assert_eq!(line["answer"]["headers"]["x-krakend-completed"], completed, "{line}");
        let seconds = line["seconds"].as_f64().expect("seconds");
        assert!(seconds < 1.5, "answered {seconds} s after the invocation started, past its 1.5 s: {line}");
    }
    // Logged, as one flat JSON object per line carrying the invocation's request id.
    let warning: Value = logs
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["message"].as_str().is_some_and(|m| m.contains("the invocation's deadline comes before")))
        .unwrap_or_else(|| panic!("not logged: {logs:?}"));
    assert_eq!(warning["level"], "WARN", "{warning}");
    assert_eq!(warning["endpoint"], "GET /one", "{warning}");
    assert_eq!(warning["requestId"], answers[0]["request_id"], "{warning}");
    assert!(warning["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')), "{warning}");
    assert!(warning["xrayTraceId"].as_str().is_some_and(|t| t.starts_with("Root=")), "{warning}");
}

#[test]
fn lambdas_log_level_and_format_controls_are_honoured() {
    // AWS_LAMBDA_LOG_LEVEL wins over RUST_LOG: at ERROR the deadline warning is not written.
    let (answers, logs) = emulate(&[("RUST_LOG", "warn"), ("AWS_LAMBDA_LOG_LEVEL", "ERROR")]);
    assert_eq!(answers.len(), 2);
    assert!(!logs.iter().any(|l| l.contains("the invocation's deadline")), "{logs:?}");
    // AWS_LAMBDA_LOG_FORMAT=Text: plain lines, no JSON, no colour codes.
    let (_, logs) = emulate(&[("RUST_LOG", "info"), ("AWS_LAMBDA_LOG_FORMAT", "Text")]);
    let loaded = logs.iter().find(|l| l.contains("config loaded")).unwrap_or_else(|| panic!("{logs:?}"));
    assert!(!loaded.starts_with('{') && !loaded.contains('\u{1b}'), "{loaded}");
}
