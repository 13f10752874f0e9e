//! `backend/lambda` end to end: the test functions `lambda_probe` and `lambda_probe_twin` (this
//! crate's binaries) served by `cargo lambda watch`, whose Invoke API on 127.0.0.1 is the
//! backends' `endpoint`; the gateway in process (with the door's SigV4 signer) and the
//! `tributary run` binary (credentials and region from its environment) call them. A success is
//! shaped as any backend's answer; a function error, a function cut by the endpoint's timeout,
//! invalid JSON, a payload over Lambda's 6 MB, a JSON array and an unknown function each get the
//! answer a failing HTTP backend gets (KrakenD's backend error), never a panic.

use crate::lambda_watch::Watch;
use http::Method;
use serde_json::{Value, json};
use std::net::{Ipv4Addr, SocketAddr};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tributary_core::{Gateway, GatewayRequest, GatewayResponse};
use tributary_e2e::chaos;
use tributary_e2e::client::{self, OutRequest};
use tributary_e2e::process::{GatewayProcess, TempDir, free_port};
use tributary_e2e::run::run_bounded;
use tributary_functions::aws_sign::EnvSigner;

/// The first invocation of each function builds it (debug) when it is not built yet.
const BUILD_TIMEOUT: Duration = Duration::from_secs(600);
/// Every gateway request.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// The slow endpoint's `timeout`, and how long its function sleeps.
const SLOW_TIMEOUT_MS: u64 = 1000;
const SLEEP_MS: u64 = 8000;

fn lambda(function: Value, watch: u16, extra: Value) -> Value {
    let mut l = json!({ "endpoint": format!("http://127.0.0.1:{watch}"), "max_retries": 0 });
    l.as_object_mut().unwrap().extend(function.as_object().unwrap().clone());
    l.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    json!({ "backend/lambda": l })
}

/// The gateway's config: every endpoint calls a test function, but `/reference`, whose HTTP
/// backend answers `500`: the backend error every failed invocation must match.
fn config(watch: u16, failing: &str, region: Option<&str>) -> String {
    let region = region.map_or(json!({}), |r| json!({ "region": r }));
    let named = |name: &str| lambda(json!({ "function_name": name }), watch, region.clone());
    json!({
        "version": 3,
        "timeout": "30s",
        "endpoints": [
            { "endpoint": "/probe/{mode}", "backend": [{ "url_pattern": "/", "extra_config": named("lambda_probe") }] },
            { "endpoint": "/shaped/{mode}", "backend": [{
                "url_pattern": "/", "deny": ["received"], "mapping": { "function": "name" }, "group": "probe",
                "extra_config": named("lambda_probe") }] },
            { "endpoint": "/by-name/{function}", "backend": [{ "url_pattern": "/",
                "extra_config": lambda(json!({ "function_param_name": "Function" }), watch, region.clone()) }] },
            { "endpoint": "/body", "method": "POST", "backend": [{ "url_pattern": "/", "extra_config": named("lambda_probe_twin") }] },
            { "endpoint": "/slow", "method": "POST", "timeout": format!("{SLOW_TIMEOUT_MS}ms"),
              "backend": [{ "url_pattern": "/", "extra_config": named("lambda_probe_twin") }] },
            { "endpoint": "/reference", "backend": [{ "host": [failing], "url_pattern": "/fail" }] }
        ]
    })
    .to_string()
}

/// Status, `X-KrakenD-Completed` and body of an answer: what two answers are compared by.
#[derive(Debug, PartialEq)]
struct Seen {
    status: u16,
    completed: Option<String>,
    body: String,
}

impl From<GatewayResponse> for Seen {
    fn from(r: GatewayResponse) -> Seen {
        Seen {
            status: r.status.as_u16(),
            completed: r.headers.get("x-krakend-completed").and_then(|v| v.to_str().ok()).map(str::to_owned),
            body: String::from_utf8_lossy(&r.body).into_owned(),
        }
    }
}

impl From<tributary_e2e::Response> for Seen {
    fn from(r: tributary_e2e::Response) -> Seen {
        Seen {
            status: r.status,
            completed: r.header_values("x-krakend-completed").map(|v| v.join(",")),
            body: String::from_utf8_lossy(&r.body).into_owned(),
        }
    }
}

fn start_watch(scratch: &TempDir) -> (Watch, u16) {
    let mut version = Command::new("cargo");
    version.args(["lambda", "--version"]);
    assert!(
        run_bounded(version, Duration::from_secs(60)).code() == Some(0),
        "`cargo lambda` is not installed (or does not run): install it with `pip install cargo-lambda`; \
         this test needs its `watch` subcommand"
    );
    let port = free_port();
    let watch = Watch::start(port, None, scratch.path().join("watch.log"));
    (watch, port)
}

/// One direct invocation through the emulator's Invoke API (no gateway): builds the function
/// on its first call.
async fn invoke_directly(port: u16, function: &str) -> Result<String, String> {
    let body = br#"{"mode":"echo"}"#.to_vec();
    let request = OutRequest {
        method: "POST".to_owned(),
        target: format!("/2015-03-31/functions/{function}/invocations"),
        headers: vec![
            ("Host".to_owned(), format!("127.0.0.1:{port}")),
            ("Content-Length".to_owned(), body.len().to_string()),
        ],
        body: Some(body),
    };
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let response = tokio::time::timeout(BUILD_TIMEOUT, client::send(addr, &request))
        .await
        .map_err(|_| format!("no answer within {BUILD_TIMEOUT:?}"))??;
    let text = String::from_utf8_lossy(&response.body).into_owned();
    if response.status == 200 { Ok(text) } else { Err(format!("status {}: {text}", response.status)) }
}

/// The gateway's answer, and the error texts of the backends that failed (as logged).
async fn handle(gateway: &Gateway, method: Method, target: &str, body: Option<&str>) -> (Seen, String) {
    let mut request = GatewayRequest::new(method, target);
    if let Some(body) = body {
        request.headers.insert("content-type", "application/json".parse().unwrap());
        request.body = bytes::Bytes::from(body.to_owned());
    }
    let answer = tokio::time::timeout(CALL_TIMEOUT, gateway.handle_reported(request)).await;
    let (response, report) = answer.unwrap_or_else(|_| panic!("no answer to {target} within {CALL_TIMEOUT:?}"));
    let errors: Vec<String> = report.failed.into_iter().map(|f| f.error).collect();
    (response.into(), errors.join("; "))
}

fn ok(body: Value) -> Seen {
    Seen { status: 200, completed: Some("true".to_owned()), body: body.to_string() }
}

#[test]
fn lambda_backends_answer_through_cargo_lambda_watch_and_failures_are_backend_errors() {
    let scratch = TempDir::new("lambda-backend");
    let (mut watch, port) = start_watch(&scratch);
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a tokio runtime");
    let mut failures: Vec<String> = Vec::new();

    // Both functions built and answering before the gateway calls them.
    for function in ["lambda_probe", "lambda_probe_twin"] {
        let started = Instant::now();
        let result = runtime.block_on(invoke_directly(port, function));
        println!("first invocation of {function}: {:.1}s: {result:?}", started.elapsed().as_secs_f64());
        if let Err(e) = result {
            let log = watch.log_text();
            let _ = watch.stop();
            panic!("the emulator does not run {function}: {e}\n--- watch log ---\n{log}");
        }
    }

    let failing = runtime.block_on(chaos::Backend::fixed(chaos::response(
        "HTTP/1.1 500 Internal Server Error",
        &[("Content-Type", "application/json")],
        br#"{"error":"backend down"}"#,
    )));
    let signer = Arc::new(EnvSigner::new("AKIDTESTONLY", "not-a-secret", Some("session"), None));
    let gateway = Gateway::from_json_with(&config(port, &failing.url(), Some("us-east-1")), Some(signer))
        .expect("a valid config");

    let mut check = |what: &str, (seen, error): (Seen, String), want: &Seen, cause: &str| {
        println!("{what}: {seen:?} {error}");
        if seen != *want || !error.contains(cause) {
            failures.push(format!(
                "{what}:\n    expected {want:?}, failure {cause:?}\n    observed {seen:?}, failure {error:?}"
            ));
        }
    };
    let (backend_error, _) = runtime.block_on(handle(&gateway, Method::GET, "/reference", None));
    assert_eq!(backend_error.status, 500, "the reference backend error: {backend_error:?}");

    // Successes, shaped as any backend's answer.
    let seen = runtime.block_on(handle(&gateway, Method::GET, "/probe/echo", None));
    check("GET /probe/echo", seen, &ok(json!({ "function": "lambda_probe", "received": { "mode": "echo" } })), "");
    let seen = runtime.block_on(handle(&gateway, Method::GET, "/shaped/echo", None));
    check("GET /shaped/echo (deny, mapping, group)", seen, &ok(json!({ "probe": { "name": "lambda_probe" } })), "");
    let seen = runtime.block_on(handle(&gateway, Method::POST, "/body", Some(r#"{"hello":"world"}"#)));
    check(
        "POST /body (the body is the payload)",
        seen,
        &ok(json!({ "function": "lambda_probe_twin", "received": { "hello": "world" } })),
        "",
    );
    // `function_param_name` picks the function from the path.
    for function in ["lambda_probe", "lambda_probe_twin"] {
        let seen = runtime.block_on(handle(&gateway, Method::GET, &format!("/by-name/{function}"), None));
        check(
            &format!("GET /by-name/{function}"),
            seen,
            &ok(json!({ "function": function, "received": { "function": function } })),
            "",
        );
    }

    // Failures: the answer of a failing HTTP backend.
    for (what, target, cause) in [
        ("a function error", "/probe/error", "failed on demand"),
        ("invalid JSON", "/probe/invalid", "EOF"),
        ("a payload over 6 MB", "/probe/large", "larger than 6291456 bytes"),
        ("a JSON array", "/probe/list", "cannot unmarshal array"),
        ("an unknown function", "/by-name/no_such_function", "bad status code 404"),
    ] {
        let seen = runtime.block_on(handle(&gateway, Method::GET, target, None));
        check(&format!("{what}: GET {target}"), seen, &backend_error, cause);
    }

    // The `tributary run` door: credentials and region from its environment.
    let process = GatewayProcess::start_with_env(
        &config(port, &failing.url(), None),
        &[
            ("AWS_ACCESS_KEY_ID", "AKIDTESTONLY"),
            ("AWS_SECRET_ACCESS_KEY", "not-a-secret"),
            ("AWS_REGION", "us-east-1"),
        ],
    );
    let over_http = |target: &str| -> Seen {
        let request = OutRequest {
            method: "GET".to_owned(),
            target: target.to_owned(),
            headers: vec![("Host".to_owned(), process.addr.to_string())],
            body: None,
        };
        let response = runtime
            .block_on(async { tokio::time::timeout(CALL_TIMEOUT, client::send(process.addr, &request)).await })
            .unwrap_or_else(|_| Err(format!("no answer within {CALL_TIMEOUT:?}")))
            .unwrap_or_else(|e| panic!("tributary run, GET {target}: {e}"));
        response.into()
    };
    let reference = over_http("/reference");
    check(
        "tributary run: GET /probe/echo",
        (over_http("/probe/echo"), String::new()),
        &ok(json!({ "function": "lambda_probe", "received": { "mode": "echo" } })),
        "",
    );
    check("tributary run: a function error", (over_http("/probe/error"), String::new()), &reference, "");
    drop(process);

    // Last, as it keeps `lambda_probe_twin` busy: the endpoint's timeout cuts a slow function.
    let started = Instant::now();
    let body = format!(r#"{{"mode":"sleep","ms":{SLEEP_MS}}}"#);
    let seen = runtime.block_on(handle(&gateway, Method::POST, "/slow", Some(&body)));
    let took = started.elapsed();
    check("a function slower than the endpoint's timeout", seen, &backend_error, "context deadline exceeded");
    if took >= Duration::from_millis(SLEEP_MS - 1000) {
        failures
            .push(format!("the slow function was not cut by the endpoint's {SLOW_TIMEOUT_MS} ms timeout: {took:?}"));
    }

    let log = watch.log_text();
    let left = watch.stop();
    assert!(
        failures.is_empty(),
        "{} check(s) failed:\n{}\n--- watch log ---\n{log}",
        failures.len(),
        failures.join("\n")
    );
    assert!(left.is_empty(), "processes of `cargo lambda watch` still alive: {left:?}");
}
