//! Lambda response streaming (`TRIBUTARY_INVOKE_MODE=RESPONSE_STREAM`): the real `gateway`
//! binary run through the Runtime API emulator (`scripts/fake_runtime.py`) against local
//! backends, its streamed answers (prelude, then raw body) compared with what the backends sent
//! and with the buffered mode's answers.

use base64::Engine;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use tributary_e2e::chaos::{Backend, response};
use tributary_e2e::doors::function_url_get;
use tributary_e2e::lambda::{answers_and_logs, emulator};
use tributary_e2e::process::{TempDir, workspace_bin};

/// Over Lambda's 6 MB buffered payload limit.
const BIG: usize = 8 * 1024 * 1024;

const JSON_BODY: &str = r#"{"id":7,"name":"tributary","tags":["a","b"]}"#;

/// An 8 MB body that is not text (every byte value occurs), so any re-encoding shows.
fn big_body() -> Vec<u8> {
    (0..BIG).map(|i| u8::try_from((i * 31 + i / 251) % 256).expect("a byte")).collect()
}

fn config(json_backend: &Backend, big: &Backend, small: &Backend) -> String {
    json!({
        "version": 3, "timeout": "20s",
        "endpoints": [
            {"endpoint": "/json", "backend": [{"host": [json_backend.url()], "url_pattern": "/"}]},
            {"endpoint": "/big", "output_encoding": "no-op",
             "backend": [{"host": [big.url()], "url_pattern": "/big", "encoding": "no-op"}]},
            {"endpoint": "/small", "output_encoding": "no-op",
             "backend": [{"host": [small.url()], "url_pattern": "/small", "encoding": "no-op"}]}
        ]
    })
    .to_string()
}

/// Runs the `gateway` binary under the Runtime API emulator with `TRIBUTARY_INVOKE_MODE` set to
/// `mode` (unset for `None`), one `GET` per path: the answer lines, in order.
fn emulate(mode: Option<&str>, paths: &[&str]) -> Vec<Value> {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("a runtime");
    let (json_backend, big, small) = rt.block_on(async {
        let json_backend = Backend::json(JSON_BODY).await;
        let big = Backend::fixed(response(
            "HTTP/1.1 200 OK",
            &[("Content-Type", "application/octet-stream"), ("X-Origin", "big")],
            &big_body(),
        ))
        .await;
        let small = Backend::fixed(response(
            "HTTP/1.1 201 Created",
            &[("Content-Type", "text/plain"), ("X-Origin", "small"), ("Set-Cookie", "session=abc; Path=/")],
            b"hi",
        ))
        .await;
        (json_backend, big, small)
    });
    let dir = TempDir::new("streaming");
    let config_path = dir.write("krakend.json", config(&json_backend, &big, &small));
    let events: Vec<PathBuf> = paths
        .iter()
        .map(|path| dir.write(&format!("{}.json", path.trim_start_matches('/')), function_url_get(path)))
        .collect();
    let mut cmd = emulator(&config_path, &["--timeout", "30"], &events);
    cmd.env("RUST_LOG", "error").env_remove("AWS_LAMBDA_LOG_LEVEL");
    match mode {
        Some(mode) => cmd.env("TRIBUTARY_INVOKE_MODE", mode),
        None => cmd.env_remove("TRIBUTARY_INVOKE_MODE"),
    };
    let out = cmd.output().expect("run the Runtime API emulator");
    drop(rt);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let (answers, _) = answers_and_logs(&stdout);
    assert!(
        out.status.success() && answers.len() == paths.len(),
        "emulator failed: {}\n{}",
        stdout.chars().take(2000).collect::<String>(),
        String::from_utf8_lossy(&out.stderr)
    );
    answers
}

/// An answer's body bytes, whichever encoding the answer chose.
fn body(answer: &Value) -> Vec<u8> {
    let text = answer["body"].as_str().unwrap_or("");
    if answer["isBase64Encoded"].as_bool() == Some(true) {
        base64::engine::general_purpose::STANDARD.decode(text).expect("base64")
    } else {
        text.as_bytes().to_vec()
    }
}

#[test]
fn streaming_mode_answers_json_and_an_8_mb_no_op_body_byte_for_byte() {
    let lines = emulate(Some("RESPONSE_STREAM"), &["/json", "/big"]);
    for line in &lines {
        assert_eq!(line["kind"], "response", "{}", line["request_id"]);
        assert_eq!(line["streamed"], true, "not streamed: {}", line["answer"]["headers"]);
    }

    let json_answer = &lines[0]["answer"];
    assert_eq!(json_answer["statusCode"], 200, "{json_answer}");
    assert_eq!(json_answer["headers"]["content-type"], "application/json; charset=utf-8", "{json_answer}");
    assert_eq!(json_answer["headers"]["x-krakend-completed"], "true", "{json_answer}");
    let parsed: Value = serde_json::from_slice(&body(json_answer)).expect("a JSON body");
    assert_eq!(parsed, serde_json::from_str::<Value>(JSON_BODY).expect("JSON"));

    let big_answer = &lines[1]["answer"];
    assert_eq!(big_answer["statusCode"], 200);
    assert_eq!(big_answer["headers"]["content-type"], "application/octet-stream", "{}", big_answer["headers"]);
    assert_eq!(big_answer["headers"]["x-origin"], "big", "{}", big_answer["headers"]);
    let got = body(big_answer);
    assert_eq!(got.len(), BIG, "the streamed body's length");
    assert!(got == big_body(), "the streamed 8 MB body differs from the backend's");
}

#[test]
fn buffered_is_the_default_and_answers_the_same_status_headers_and_body_as_streaming() {
    let paths = ["/json", "/small", "/nowhere"];
    let buffered = emulate(None, &paths);
    let explicit = emulate(Some("BUFFERED"), &paths);
    let streamed = emulate(Some("RESPONSE_STREAM"), &paths);
    for ((b, e), s) in buffered.iter().zip(&explicit).zip(&streamed) {
        assert!(b.get("streamed").is_none() && e.get("streamed").is_none(), "buffered mode streamed: {b} {e}");
        assert_eq!(s["streamed"], true, "{s}");
        let (b, e, s) = (&b["answer"], &e["answer"], &s["answer"]);
        assert_eq!(b, e, "default and explicit BUFFERED differ");
        assert_eq!(b["statusCode"], s["statusCode"], "{b}\n{s}");
        assert_eq!(b["headers"], s["headers"], "{b}\n{s}");
        assert_eq!(b["cookies"], s["cookies"], "{b}\n{s}");
        assert_eq!(body(b), body(s), "{b}\n{s}");
    }
    assert_eq!(buffered[1]["answer"]["statusCode"], 201, "{}", buffered[1]);
    assert_eq!(buffered[1]["answer"]["headers"]["x-origin"], "small", "{}", buffered[1]);
    assert_eq!(body(&buffered[1]["answer"]), b"hi");
    assert_eq!(buffered[1]["answer"]["cookies"], json!(["session=abc; Path=/"]), "{}", buffered[1]);
    assert_eq!(buffered[2]["answer"]["statusCode"], 404, "{}", buffered[2]);
}

#[test]
fn an_unknown_invoke_mode_fails_the_start_naming_the_variable() {
    let dir = TempDir::new("streaming-mode");
    let config_path = dir.write("krakend.json", r#"{"version": 3, "endpoints": []}"#);
    // No Runtime API: the mode is checked before the runtime starts, so the binary exits at once.
    let out = Command::new(workspace_bin("gateway"))
        .env("TRIBUTARY_CONFIG", &config_path)
        .env("TRIBUTARY_INVOKE_MODE", "STREAMING")
        .env("AWS_LAMBDA_LOG_FORMAT", "Text")
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .stdin(Stdio::null())
        .output()
        .expect("run the gateway binary");
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success(), "started with an unknown mode: {all}");
    assert!(
        all.contains("TRIBUTARY_INVOKE_MODE") && all.contains("\"STREAMING\"") && all.contains("RESPONSE_STREAM"),
        "{all}"
    );
}
