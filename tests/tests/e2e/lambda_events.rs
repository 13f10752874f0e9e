//! The sample Lambda events of `events/` (function URL, API Gateway HTTP and REST APIs, ALB) parsed
//! by `lambda_http` and handled in process by `tributary_functions::lambda::handle`, against the
//! demo backend; and what the adapter must carry from an event to the backends and back (client
//! IP, multi-value query strings, cookies, binary bodies).
//!
//! `lambda_http` reads `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH` when it turns an event into a
//! request, and the function runs with it set. Setting a variable in process needs `unsafe`
//! (forbidden in this workspace), so a test that depends on it runs again in a child process of
//! this test binary with the variable set (see [`in_function_env`]).

use base64::Engine;
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use lambda_http::request::RequestContext;
use lambda_http::{Body, RequestExt, Response};
use serde_json::{Value, json};
use std::convert::Infallible;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tributary_core::Gateway;
use tributary_e2e::lambda::{EXPECTED, Origin, demo_config, event_files, read_event};
use tributary_e2e::process::OneTest;
use tributary_e2e::run::run_bounded;

/// The variable that keeps an API Gateway stage out of the routed path.
const STAGE_ENV: &str = "AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH";
/// At most this long for one invocation of the adapter.
const INVOKE_TIMEOUT: Duration = Duration::from_secs(10);
/// At most this long for a test re-run in a child process.
const CHILD_TIMEOUT: Duration = Duration::from_secs(120);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a tokio runtime")
}

/// Whether the caller should run its body now: true when `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH`
/// is set. Otherwise runs the test function `test` of this module in a child process of this
/// test binary with the variable set (at most [`CHILD_TIMEOUT`]), fails unless it passed, and
/// returns false.
fn in_function_env(test: &str) -> bool {
    if std::env::var_os(STAGE_ENV).is_some() {
        return true;
    }
    let one = OneTest::new(module_path!(), test);
    let mut cmd = Command::new(&one.exe);
    cmd.args(one.args()).env(STAGE_ENV, "true");
    let ran = run_bounded(cmd, CHILD_TIMEOUT);
    print!("{}", ran.stdout);
    eprint!("{}", ran.stderr);
    let test = one.name.as_str();
    let status = ran
        .status
        .unwrap_or_else(|| panic!("`{test}` (with {STAGE_ENV}=true) did not finish within {CHILD_TIMEOUT:?}"));
    assert!(status.success(), "`{test}` failed with {STAGE_ENV}=true (output above)");
    assert!(ran.stdout.contains(&format!("test {test} ... ok")), "`{test}` did not run in the child process");
    false
}

/// A gateway built from `events/krakend.json` with the demo backend (started here) substituted.
async fn demo_gateway() -> Gateway {
    let backend = tributary_functions::demo::start_backend(0).await.expect("start the demo backend");
    Gateway::from_json(&demo_config(&backend)).expect("events/krakend.json is a valid config")
}

/// Parses `event` as `lambda_http` does for the function and hands it to the adapter.
async fn invoke(gateway: &Gateway, event: &str) -> Response<Body> {
    let request =
        lambda_http::request::from_str(event).unwrap_or_else(|e| panic!("lambda_http rejects the event: {e}"));
    let handled = tokio::time::timeout(INVOKE_TIMEOUT, tributary_functions::lambda::handle(gateway, request));
    let Ok(Ok(response)) = handled.await else { panic!("no answer within {INVOKE_TIMEOUT:?}") };
    response
}

fn body_bytes(body: &Body) -> &[u8] {
    match body {
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => &[],
    }
}

fn show(response: &Response<Body>) -> String {
    format!(
        "status {}, headers {:?}, body {:?}",
        response.status(),
        response.headers(),
        String::from_utf8_lossy(body_bytes(response.body()))
    )
}

#[test]
fn every_sample_event_answers_as_expected() {
    if !in_function_env("every_sample_event_answers_as_expected") {
        return;
    }
    runtime().block_on(async {
        let gateway = demo_gateway().await;
        let mut failures = Vec::new();
        for &(file, _, want) in EXPECTED {
            let response = invoke(&gateway, &read_event(file)).await;
            let content_type = response.headers().get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
            let ok = response.status() == StatusCode::OK
                && matches!(response.body(), Body::Text(text) if text == want)
                && content_type == Some("application/json; charset=utf-8");
            if !ok {
                failures.push(format!(
                    "events/{file}:\n    expected: status 200, content-type application/json; charset=utf-8, text body {want}\n    observed: {}",
                    show(&response)
                ));
            }
        }
        assert!(failures.is_empty(), "{} sample event(s) failed:\n{}", failures.len(), failures.join("\n"));
    });
}

#[test]
fn every_sample_event_has_expectations() {
    let files = event_files();
    let missing: Vec<&String> = files.iter().filter(|f| !EXPECTED.iter().any(|(name, ..)| name == f)).collect();
    assert!(missing.is_empty(), "events without expectations in EXPECTED (add them): {missing:?}");
    let stale: Vec<&str> =
        EXPECTED.iter().map(|(name, ..)| *name).filter(|name| !files.iter().any(|f| f == name)).collect();
    assert!(stale.is_empty(), "EXPECTED names events that do not exist in events/: {stale:?}");
    for &(file, origin, _) in EXPECTED {
        let request =
            lambda_http::request::from_str(&read_event(file)).unwrap_or_else(|e| panic!("events/{file}: {e}"));
        let read_as = match request.request_context_ref() {
            Some(RequestContext::ApiGatewayV2(_)) => Some(Origin::V2),
            Some(RequestContext::ApiGatewayV1(_)) => Some(Origin::Rest),
            Some(RequestContext::Alb(_)) => Some(Origin::Alb),
            _ => None,
        };
        assert_eq!(read_as, Some(origin), "events/{file}: lambda_http reads it as another kind of event");
    }
}

/// One request as a recording backend received it.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    query: String,
    headers: HeaderMap,
    body: Bytes,
}

/// Bytes that are not UTF-8 (a PNG signature, a NUL, 0xff).
const BINARY_RESPONSE: &[u8] = &[0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0xff, 0xfe];

/// A backend on 127.0.0.1 that records every request; `/bin` and `/upload` answer
/// [`BINARY_RESPONSE`] as `application/octet-stream`, every other path `{"ok":true}`.
async fn recording_backend() -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the recording backend");
    let url = format!("http://{}", listener.local_addr().expect("backend address"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let log = log.clone();
                    async move {
                        let (parts, body) = req.into_parts();
                        let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                        let path = parts.uri.path().to_owned();
                        let binary = path == "/bin" || path == "/upload";
                        log.lock().expect("backend log").push(Seen {
                            path,
                            query: parts.uri.query().unwrap_or("").to_owned(),
                            headers: parts.headers,
                            body,
                        });
                        let (content_type, body) = if binary {
                            ("application/octet-stream", Bytes::from_static(BINARY_RESPONSE))
                        } else {
                            ("application/json", Bytes::from_static(br#"{"ok":true}"#))
                        };
                        let mut response = hyper::Response::new(Full::new(body));
                        response
                            .headers_mut()
                            .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(content_type));
                        Ok::<_, Infallible>(response)
                    }
                });
                let _ =
                    hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
    (url, seen)
}

/// A gateway whose endpoints forward to the recording backend: `GET /users/{id}` (query string
/// `tag` and the `Cookie` header forwarded), `GET /bin` and `POST /upload` (no-op, bodies as
/// they are).
fn recording_gateway(backend: &str) -> Gateway {
    let config = json!({
        "version": 3,
        "host": [backend],
        "endpoints": [
            {
                "endpoint": "/users/{id}",
                "input_query_strings": ["tag"],
                "input_headers": ["Cookie"],
                "backend": [{ "url_pattern": "/users/{id}" }]
            },
            {
                "endpoint": "/bin",
                "output_encoding": "no-op",
                "backend": [{ "url_pattern": "/bin", "encoding": "no-op" }]
            },
            {
                "endpoint": "/upload",
                "method": "POST",
                "output_encoding": "no-op",
                "backend": [{ "url_pattern": "/upload", "encoding": "no-op" }]
            }
        ]
    });
    Gateway::from_json(&config.to_string()).expect("the recording config is valid")
}

fn parse_event(file: &str) -> Value {
    serde_json::from_str(&read_event(file)).unwrap_or_else(|e| panic!("events/{file}: {e}"))
}

fn remove_header(event: &mut Value, key: &str, name: &str) {
    if let Some(map) = event.get_mut(key).and_then(Value::as_object_mut) {
        map.retain(|k, _| !k.eq_ignore_ascii_case(name));
    }
}

/// Sends `event` to `gateway` and returns the one request the backend received for it.
async fn forwarded(gateway: &Gateway, seen: &Mutex<Vec<Seen>>, event: &Value) -> (Response<Body>, Seen) {
    seen.lock().expect("backend log").clear();
    let response = invoke(gateway, &event.to_string()).await;
    let log = seen.lock().expect("backend log").clone();
    assert_eq!(log.len(), 1, "one backend request expected; {}; backend saw {log:#?}", show(&response));
    (response, log.into_iter().next().expect("one request"))
}

fn header<'a>(seen: &'a Seen, name: &str) -> Vec<&'a str> {
    seen.headers.get_all(name).iter().map(|v| v.to_str().unwrap_or("(not ASCII)")).collect()
}

#[test]
fn the_client_ip_reaches_the_backend_as_x_forwarded_for() {
    if !in_function_env("the_client_ip_reaches_the_backend_as_x_forwarded_for") {
        return;
    }
    runtime().block_on(async {
        let (backend, seen) = recording_backend().await;
        let gateway = recording_gateway(&backend);

        // Function URL: the client is requestContext.http.sourceIp (no X-Forwarded-For header in
        // the event, so nothing else can supply it).
        let mut furl = parse_event("furl-get.json");
        remove_header(&mut furl, "headers", "x-forwarded-for");
        furl["requestContext"]["http"]["sourceIp"] = json!("203.0.113.77");
        let (response, got) = forwarded(&gateway, &seen, &furl).await;
        assert_eq!(response.status(), StatusCode::OK, "{}", show(&response));
        assert_eq!(header(&got, "x-forwarded-for"), ["203.0.113.77"], "function URL: requestContext.http.sourceIp");

        // REST API (payload 1.0): the client is requestContext.identity.sourceIp.
        let mut rest = parse_event("apigw-v1-get.json");
        remove_header(&mut rest, "headers", "x-forwarded-for");
        remove_header(&mut rest, "multiValueHeaders", "x-forwarded-for");
        rest["requestContext"]["identity"]["sourceIp"] = json!("198.51.100.77");
        let (response, got) = forwarded(&gateway, &seen, &rest).await;
        assert_eq!(response.status(), StatusCode::OK, "{}", show(&response));
        assert_eq!(got.path, "/users/2", "REST API: the stage must not reach the routed path");
        assert_eq!(header(&got, "x-forwarded-for"), ["198.51.100.77"], "REST API: requestContext.identity.sourceIp");
    });
}

#[test]
fn multi_value_query_strings_and_cookies_are_kept() {
    if !in_function_env("multi_value_query_strings_and_cookies_are_kept") {
        return;
    }
    runtime().block_on(async {
        let (backend, seen) = recording_backend().await;
        let gateway = recording_gateway(&backend);

        // Function URL: rawQueryString `tag=a&tag=b` and the `cookies` array.
        let (response, got) = forwarded(&gateway, &seen, &parse_event("furl-get.json")).await;
        assert_eq!(response.status(), StatusCode::OK, "{}", show(&response));
        assert_eq!(got.path, "/users/1");
        assert_eq!(got.query, "tag=a&tag=b", "function URL: both values of `tag`");
        assert_eq!(header(&got, "cookie"), ["session=4f2a9c; theme=dark"], "function URL: the cookies");

        // REST API: multiValueQueryStringParameters, and a Cookie header.
        let mut rest = parse_event("apigw-v1-get.json");
        rest["headers"]["Cookie"] = json!("session=77aa; theme=light");
        rest["multiValueHeaders"]["Cookie"] = json!(["session=77aa; theme=light"]);
        let (response, got) = forwarded(&gateway, &seen, &rest).await;
        assert_eq!(response.status(), StatusCode::OK, "{}", show(&response));
        assert_eq!(got.path, "/users/2");
        assert_eq!(got.query, "tag=a&tag=b", "REST API: both values of `tag`");
        assert_eq!(header(&got, "cookie"), ["session=77aa; theme=light"], "REST API: the cookies");
    });
}

#[test]
fn binary_bodies_cross_the_adapter_intact() {
    runtime().block_on(async {
        let (backend, seen) = recording_backend().await;
        let gateway = recording_gateway(&backend);
        // Not UTF-8: 0xff never occurs in UTF-8, 0xc3 0x28 is a broken sequence.
        let upload: &[u8] = &[0x00, 0x01, 0x02, 0xff, 0xfe, 0x80, 0xc3, 0x28, b'\n', 0x00];

        // A base64 request body, as a function URL sends a binary one.
        let mut event = parse_event("furl-post-base64.json");
        event["rawPath"] = json!("/upload");
        event["requestContext"]["http"]["path"] = json!("/upload");
        event["headers"]["content-type"] = json!("application/octet-stream");
        event["headers"]["content-length"] = json!(upload.len().to_string());
        event["body"] = json!(base64::engine::general_purpose::STANDARD.encode(upload));
        event["isBase64Encoded"] = json!(true);
        let (response, got) = forwarded(&gateway, &seen, &event).await;
        assert_eq!(got.path, "/upload");
        assert_eq!(got.body.as_ref(), upload, "the request body must reach the backend byte for byte");
        assert_eq!(response.status(), StatusCode::OK, "{}", show(&response));
        match response.body() {
            Body::Binary(bytes) => assert_eq!(bytes.as_slice(), BINARY_RESPONSE),
            _ => panic!("a binary answer must come back as Body::Binary: {}", show(&response)),
        }

        // A GET whose backend answers binary content.
        let mut event = parse_event("furl-get.json");
        event["rawPath"] = json!("/bin");
        event["rawQueryString"] = json!("");
        event["requestContext"]["http"]["path"] = json!("/bin");
        let (response, got) = forwarded(&gateway, &seen, &event).await;
        assert_eq!(got.path, "/bin");
        assert_eq!(response.status(), StatusCode::OK, "{}", show(&response));
        assert_eq!(
            response.headers().get(http::header::CONTENT_TYPE).map(|v| v.as_bytes()),
            Some(&b"application/octet-stream"[..])
        );
        match response.body() {
            Body::Binary(bytes) => assert_eq!(bytes.as_slice(), BINARY_RESPONSE),
            _ => panic!("a binary answer must come back as Body::Binary: {}", show(&response)),
        }

        // A JSON answer stays text.
        let (response, _) = forwarded(&gateway, &seen, &parse_event("furl-get.json")).await;
        assert!(matches!(response.body(), Body::Text(text) if text == r#"{"ok":true}"#), "{}", show(&response));
    });
}
