//! The test Lambda function of `backend/lambda` (binaries `lambda_probe` and
//! `lambda_probe_twin`, served by `cargo lambda watch`): it answers each invocation as its
//! payload's `mode` asks: `echo` (default: `{"function", "received"}`), `error` (a function
//! error), `sleep` (`ms` milliseconds, then echo), `invalid` (a body that is not JSON), `large`
//! (a JSON object of `bytes` bytes, 7 MB by default) or `list` (a JSON array).
//!
//! It speaks the Runtime API itself rather than through `lambda_runtime`: that crate serialises
//! every answer with serde, so it could never send a body that is not JSON.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use std::time::Duration;

type Http = Client<HttpConnector, Full<Bytes>>;

/// What one invocation answers: the Runtime API path's last segment and the body.
struct Answer {
    kind: &'static str,
    body: Vec<u8>,
}

/// The function's main loop: next invocation, answer, forever (the emulator stops the process).
pub fn run() {
    let api = std::env::var("AWS_LAMBDA_RUNTIME_API").expect("AWS_LAMBDA_RUNTIME_API is set by the runtime");
    // Lambda sets `host:port`; `cargo lambda watch` a URL with its scheme and a path.
    let api = api.strip_prefix("http://").unwrap_or(&api).to_owned();
    let name = std::env::args()
        .next()
        .and_then(|a| a.rsplit('/').next().map(str::to_owned))
        .unwrap_or_else(|| "lambda_probe".to_owned());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
    runtime.block_on(async move {
        let http: Http = Client::builder(TokioExecutor::new()).build_http();
        loop {
            let next = format!("http://{api}/2018-06-01/runtime/invocation/next");
            let request = http::Request::get(next).body(Full::new(Bytes::new())).expect("a request");
            // The emulator answers `204` while no invocation is waiting.
            let response = match http.request(request).await {
                Ok(r) if r.status() == http::StatusCode::OK => r,
                _ => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            };
            let id = response
                .headers()
                .get("lambda-runtime-aws-request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let payload = response.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
            let answer = answer(&name, &payload).await;
            let url = format!("http://{api}/2018-06-01/runtime/invocation/{id}/{}", answer.kind);
            let mut post = http::Request::post(url).header("content-type", "application/json");
            if answer.kind == "error" {
                post = post.header("lambda-runtime-function-error-type", "ProbeError");
            }
            let _ = http.request(post.body(Full::new(Bytes::from(answer.body))).expect("a request")).await;
        }
    });
}

async fn answer(name: &str, payload: &[u8]) -> Answer {
    let received: Value = serde_json::from_slice(payload).unwrap_or(Value::Null);
    let ok = |v: Value| Answer { kind: "response", body: v.to_string().into_bytes() };
    let echo = json!({ "function": name, "received": received });
    match received.get("mode").and_then(Value::as_str).unwrap_or("echo") {
        "error" => Answer {
            kind: "error",
            body: json!({ "errorType": "ProbeError", "errorMessage": "failed on demand" }).to_string().into_bytes(),
        },
        "sleep" => {
            let ms = received.get("ms").and_then(Value::as_u64).unwrap_or(3000);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            ok(echo)
        }
        "invalid" => Answer { kind: "response", body: b"{\"unterminated\": [1, 2".to_vec() },
        "large" => {
            let bytes = received.get("bytes").and_then(Value::as_u64).unwrap_or(7 * 1024 * 1024) as usize;
            let mut body = Vec::with_capacity(bytes + 16);
            body.extend_from_slice(b"{\"blob\":\"");
            body.resize(bytes.saturating_sub(2), b'x');
            body.extend_from_slice(b"\"}");
            Answer { kind: "response", body }
        }
        "list" => ok(json!([1, 2, 3])),
        _ => ok(echo),
    }
}
