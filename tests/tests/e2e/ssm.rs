//! SSM Parameter Store as a config source (`ssm:NAME`, `ssm:PATH/`), end to end, never against AWS.
//!
//! Parameters are put into a local `moto_server` (PyPI `moto[server]`, on 127.0.0.1) by an SSM
//! client configured explicitly in this process; the code under test runs as the real binaries
//! (`tributary check` / `tributary run`, and the `gateway` Lambda function against a fake Lambda
//! runtime API) in child processes, each with its own `AWS_*` environment, so the tests can run
//! in parallel. Failures AWS sends but moto cannot (throttling, the AWS form of access denied) come
//! from a tiny fake SSM endpoint on 127.0.0.1.
//!
//! Needs `moto_server` on PATH and the binaries of the same profile (`cargo build --workspace`).

use aws_sdk_ssm::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_ssm::types::ParameterType;
use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tributary_e2e::chaos::{self, Outcome, Reply};
use tributary_e2e::moto::{Moto, free_port};
use tributary_e2e::process::workspace_bin;
use tributary_e2e::run::drain;

/// Bound for one child process: the loader gives up on SSM after 20 s; the rest is slack for CI.
const PROCESS_TIMEOUT: Duration = Duration::from_secs(40);
/// Bound for one HTTP request to a served gateway.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// A failure must be reported well within the loader's 20 s limit (a cold moto takes a few
/// seconds to answer its first SSM call).
const FAST_FAILURE: Duration = Duration::from_secs(15);
/// A backend host for configs that are only checked, never served (lura wants 2 to 6 port digits).
const UNUSED_HOST: &str = "http://127.0.0.1:19";
/// The region every child and the test's SSM client use.
const REGION: &str = "us-east-1";

// ---------------------------------------------------------------------------------------------
// Child processes

/// The `AWS_*` environment of a child reading SSM at `endpoint` with the given keys.
fn aws_env(endpoint: &str, key: &str, secret: &str) -> Vec<(String, String)> {
    [
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_REGION", REGION),
        ("AWS_ACCESS_KEY_ID", key),
        ("AWS_SECRET_ACCESS_KEY", secret),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect()
}

/// The environment of a child reading the shared moto with any keys.
fn moto_env() -> Vec<(String, String)> {
    aws_env(&Moto::shared().endpoint(), "test", "test")
}

/// A child process with its output collected; killed on drop if still running.
struct Proc {
    what: String,
    child: Child,
    stdout: Option<JoinHandle<String>>,
    stderr: Option<JoinHandle<String>>,
    started: Instant,
}

/// A finished child: exit code (`None`: killed by a signal), output, run time.
#[derive(Debug)]
struct Finished {
    what: String,
    code: Option<i32>,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

impl Finished {
    fn show(&self) -> String {
        format!(
            "`{}` exited with {:?} after {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.what, self.code, self.elapsed, self.stdout, self.stderr
        )
    }

    /// The non-empty lines of stderr.
    fn stderr_lines(&self) -> Vec<&str> {
        self.stderr.lines().filter(|l| !l.trim().is_empty()).collect()
    }
}

/// Starts `bin args` with a clean AWS environment plus `env`: the test's own `AWS_*`, proxy and
/// logging variables are not inherited, and no AWS config or credentials file is read.
fn spawn(bin: &Path, args: &[&str], env: &[(String, String)]) -> Proc {
    let mut command = Command::new(bin);
    command.args(args);
    for (key, _) in std::env::vars_os() {
        let k = key.to_string_lossy();
        let upper = k.to_ascii_uppercase();
        if upper.starts_with("AWS_")
            || upper.starts_with("TRIBUTARY_")
            || upper.ends_with("_PROXY")
            || upper == "RUST_LOG"
            || upper == "RUST_BACKTRACE"
            || upper == "RUST_LIB_BACKTRACE"
        {
            command.env_remove(&key);
        }
    }
    let no_file = std::env::temp_dir().join("tributary-ssm-tests-no-aws-file");
    command
        .env("AWS_CONFIG_FILE", &no_file)
        .env("AWS_SHARED_CREDENTIALS_FILE", &no_file)
        .env("NO_COLOR", "1")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let what = format!("{} {}", bin.file_name().unwrap_or_default().to_string_lossy(), args.join(" "));
    let mut child = command.spawn().unwrap_or_else(|e| panic!("cannot start `{what}`: {e}"));
    let stdout = child.stdout.take().map(drain);
    let stderr = child.stderr.take().map(drain);
    Proc { what, child, stdout, stderr, started: Instant::now() }
}

impl Proc {
    /// `Some(code)` once exited (`None` inside: killed by a signal).
    fn exited(&mut self) -> Option<Option<i32>> {
        self.child.try_wait().expect("wait for a child").map(|s| s.code())
    }

    /// Waits for the exit; kills the child and panics with its output after `limit`.
    fn finish(mut self, limit: Duration) -> Finished {
        let deadline = self.started + limit;
        loop {
            if let Some(code) = self.exited() {
                return self.collect(code);
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                let f = self.collect(None);
                panic!("still running after {limit:?} (killed): {}", f.show());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the child (if still running) and returns what it printed.
    fn stop(mut self) -> Finished {
        let code = match self.exited() {
            Some(code) => code,
            None => {
                let _ = self.child.kill();
                let _ = self.child.wait();
                None
            }
        };
        self.collect(code)
    }

    /// Kills the child and panics with `message` and its output.
    fn fail(self, message: &str) -> ! {
        let f = self.stop();
        panic!("{message}\n{}", f.show())
    }

    fn collect(&mut self, code: Option<i32>) -> Finished {
        let elapsed = self.started.elapsed();
        let join = |h: Option<JoinHandle<String>>| h.map(|h| h.join().unwrap_or_default()).unwrap_or_default();
        Finished {
            what: self.what.clone(),
            code,
            stdout: join(self.stdout.take()),
            stderr: join(self.stderr.take()),
            elapsed,
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `tributary check -c spec`, logging off (its report is plain `println!`/`eprintln!`).
fn check(spec: &str, env: &[(String, String)]) -> Finished {
    let mut env = env.to_vec();
    env.push(("RUST_LOG".to_owned(), "off".to_owned()));
    spawn(&workspace_bin("tributary"), &["check", "-c", spec], &env).finish(PROCESS_TIMEOUT)
}

/// A failed `check` of `spec`: exit 1, nothing on stdout, exactly one line on stderr naming the
/// source. Returns that line (also printed, so a run shows it).
fn check_fails_with_one_line(spec: &str, env: &[(String, String)]) -> (String, Finished) {
    let f = check(spec, env);
    assert_eq!(f.code, Some(1), "`check` must fail with exit code 1: {}", f.show());
    assert_eq!(f.stdout.trim(), "", "a source failure prints nothing on stdout: {}", f.show());
    let lines = f.stderr_lines();
    assert_eq!(lines.len(), 1, "expected exactly one line on stderr: {}", f.show());
    let line = lines[0].to_owned();
    assert!(line.contains(&format!("`{spec}`")), "the message must name the source `{spec}`: {line}");
    eprintln!("[ssm] check -c {spec} ({:?}): {line}", f.elapsed);
    (line, f)
}

/// `tributary run -c spec` on a free port of 127.0.0.1 (the config must set `listen_ip`), ready
/// once `/__health` answers.
async fn serve(spec: &str, env: &[(String, String)]) -> (Proc, SocketAddr) {
    let port = free_port();
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut proc = spawn(&workspace_bin("tributary"), &["run", "-c", spec, "-p", &port.to_string()], env);
    let request = format!("GET /__health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    loop {
        if proc.exited().is_some() {
            proc.fail(&format!("`tributary run -c {spec}` exited before serving"));
        }
        if proc.started.elapsed() > PROCESS_TIMEOUT {
            proc.fail(&format!("`tributary run -c {spec}` did not serve /__health within {PROCESS_TIMEOUT:?}"));
        }
        if let Some(Outcome::Reply(_)) = chaos::exchange(addr, request.as_bytes(), Duration::from_secs(1)).await {
            return (proc, addr);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn json_body(reply: &Reply) -> Value {
    serde_json::from_slice(&reply.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", reply.text()))
}

// ---------------------------------------------------------------------------------------------
// SSM (moto) and configs

/// An SSM client of the shared moto, configured explicitly: nothing from the environment; its
/// HTTP client is the one the gateway gives the SDK.
fn ssm_client(endpoint: &str) -> aws_sdk_ssm::Client {
    let http = tributary_functions::aws_http::SdkHttpClient::new().expect("the SDK's HTTP client builds");
    let conf = aws_sdk_ssm::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(http)
        .endpoint_url(endpoint)
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .build();
    aws_sdk_ssm::Client::from_conf(conf)
}

fn ssm() -> aws_sdk_ssm::Client {
    ssm_client(&Moto::shared().endpoint())
}

async fn put_as(client: &aws_sdk_ssm::Client, name: &str, value: &str, kind: ParameterType) {
    client
        .put_parameter()
        .name(name)
        .value(value)
        .r#type(kind)
        .overwrite(true)
        .send()
        .await
        .unwrap_or_else(|e| panic!("PutParameter {name}: {e:?}"));
}

async fn put(client: &aws_sdk_ssm::Client, name: &str, value: &str) {
    put_as(client, name, value, ParameterType::String).await;
}

fn gzip_base64(text: &str) -> String {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(text.as_bytes()).expect("gzip");
    base64::engine::general_purpose::STANDARD.encode(enc.finish().expect("gzip"))
}

/// The key every test endpoint carries so that `check` names it in a warning, in config order.
const MARKER: &str = "x_test_marker";

/// An endpoint `GET path` on `/users/{user}` of the service's host, with the marker key.
fn endpoint(path: &str, user: u32) -> Value {
    json!({"endpoint": path, "backend": [{"url_pattern": format!("/users/{user}")}], MARKER: true})
}

/// A service on 127.0.0.1 whose backends default to `host`.
fn service(host: &str, endpoints: Vec<Value>) -> Value {
    json!({"version": 3, "listen_ip": "127.0.0.1", "timeout": "3s", "host": [host], "endpoints": endpoints})
}

/// The endpoints `check` named in its marker warnings, in the order printed: `(index, path)`.
fn marked_endpoints(stdout: &str) -> Vec<(usize, String)> {
    let needle = format!(".{MARKER}` (endpoint `GET ");
    stdout
        .lines()
        .filter_map(|line| {
            let at = line.find(&needle)?;
            let index = line[..at].rsplit("endpoints[").next()?.trim_end_matches(']').parse().ok()?;
            let rest = &line[at + needle.len()..];
            Some((index, rest[..rest.find('`')?].to_owned()))
        })
        .collect()
}

/// `check` must pass and name exactly `paths`, in this order, as endpoints 0, 1, ...
fn assert_check_order(spec: &str, paths: &[&str]) -> Finished {
    let f = check(spec, &moto_env());
    assert_eq!(f.code, Some(0), "`check -c {spec}` must pass: {}", f.show());
    let expected: Vec<(usize, String)> = paths.iter().enumerate().map(|(i, p)| (i, (*p).to_owned())).collect();
    assert_eq!(marked_endpoints(&f.stdout), expected, "endpoints and their order: {}", f.show());
    let summary = format!("{spec}: ok ({} warning(s))", paths.len());
    assert!(f.stdout.lines().any(|l| l == summary), "expected `{summary}`: {}", f.show());
    f
}

// ---------------------------------------------------------------------------------------------
// Fake HTTP endpoints on 127.0.0.1 (a throttling or denying SSM, the Lambda runtime API)

/// One request a fake endpoint received.
#[derive(Debug, Clone)]
struct Recorded {
    method: http::Method,
    path: String,
    body: Bytes,
}

/// A hyper HTTP/1.1 server on 127.0.0.1:0 answering with `handler`; dropping it stops the
/// listener and every connection.
struct HttpServer {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl HttpServer {
    async fn start<F, Fut>(handler: F) -> HttpServer
    where
        F: Fn(Recorded) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = http::Response<Full<Bytes>>> + Send + 'static,
    {
        HttpServer::start_dropping(0, handler).await
    }

    /// [`HttpServer::start`], closing its first `drops` connections as soon as they are accepted
    /// (a connection error for the client).
    async fn start_dropping<F, Fut>(drops: usize, handler: F) -> HttpServer
    where
        F: Fn(Recorded) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = http::Response<Full<Bytes>>> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a fake endpoint");
        let addr = listener.local_addr().expect("fake endpoint address");
        let handler = Arc::new(handler);
        let task = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            let mut accepted_count = 0;
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((stream, _)) = accepted else { continue };
                        accepted_count += 1;
                        if accepted_count <= drops {
                            drop(stream);
                            continue;
                        }
                        let handler = handler.clone();
                        connections.spawn(async move {
                            let service = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                                let handler = handler.clone();
                                async move {
                                    let (parts, body) = req.into_parts();
                                    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                                    let recorded = Recorded { method: parts.method, path: parts.uri.path().to_owned(), body };
                                    Ok::<_, Infallible>(handler(recorded).await)
                                }
                            });
                            let _ = hyper::server::conn::http1::Builder::new()
                                .serve_connection(TokioIo::new(stream), service)
                                .await;
                        });
                    }
                    Some(_) = connections.join_next(), if !connections.is_empty() => {}
                }
            }
        });
        HttpServer { addr, task }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn response(status: u16, headers: &[(&str, &str)], body: impl Into<Bytes>) -> http::Response<Full<Bytes>> {
    let mut r = http::Response::new(Full::new(body.into()));
    *r.status_mut() = http::StatusCode::from_u16(status).expect("status");
    for (k, v) in headers {
        r.headers_mut().insert(
            http::HeaderName::from_bytes(k.as_bytes()).expect("header name"),
            http::HeaderValue::from_str(v).expect("header value"),
        );
    }
    r
}

/// An SSM endpoint answering every call with the same AWS JSON-protocol error (HTTP 400), as AWS
/// does; counts the calls.
async fn failing_ssm(error_body: &'static str) -> (HttpServer, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let server = HttpServer::start(move |_req| {
        counter.fetch_add(1, Ordering::SeqCst);
        async move {
            response(
                400,
                &[
                    ("content-type", "application/x-amz-json-1.1"),
                    ("x-amzn-requestid", "00000000-0000-0000-0000-000000000000"),
                ],
                error_body,
            )
        }
    })
    .await;
    (server, calls)
}

/// An SSM endpoint that first closes `drops` connections unanswered, then answers `errors` calls
/// with an HTTP 5xx, then every call with a `GetParameter` answer holding `value`; records the
/// calls it answered.
async fn flaky_ssm(drops: usize, errors: usize, value: String) -> (HttpServer, Arc<Mutex<Vec<Recorded>>>) {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let recorded = calls.clone();
    let server = HttpServer::start_dropping(drops, move |req: Recorded| {
        let answered = {
            let mut calls = recorded.lock().expect("calls lock");
            calls.push(req.clone());
            calls.len()
        };
        let value = value.clone();
        async move {
            let json = [("content-type", "application/x-amz-json-1.1")];
            match answered {
                n if n <= errors && n % 2 == 1 => {
                    response(500, &json, r#"{"__type":"InternalServerError","message":"An error occurred"}"#)
                }
                n if n <= errors => response(503, &[("content-type", "text/html")], "<html>Service Unavailable</html>"),
                _ => {
                    let name = serde_json::from_slice::<Value>(&req.body).unwrap_or_default()["Name"].clone();
                    let answer = json!({"Parameter": {"Name": name, "Type": "String", "Value": value, "Version": 1}});
                    response(200, &json, answer.to_string())
                }
            }
        }
    })
    .await;
    (server, calls)
}

/// The Lambda runtime API of one execution environment: hands out the queued events on
/// `GET /2018-06-01/runtime/invocation/next` (and then holds that call open, as Lambda does
/// between invocations), and reports every POST (responses, invocation and init errors).
struct FakeRuntime {
    server: HttpServer,
    calls: Arc<Mutex<Vec<Recorded>>>,
    posts: mpsc::UnboundedReceiver<Recorded>,
}

const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:gateway";

impl FakeRuntime {
    async fn start(events: Vec<(&str, Value)>) -> FakeRuntime {
        let queue: Arc<Mutex<VecDeque<(String, String)>>> =
            Arc::new(Mutex::new(events.into_iter().map(|(id, e)| (id.to_owned(), e.to_string())).collect()));
        let calls = Arc::new(Mutex::new(Vec::new()));
        let (tx, posts) = mpsc::unbounded_channel();
        let recorded = calls.clone();
        let server = HttpServer::start(move |req: Recorded| {
            recorded.lock().expect("calls lock").push(req.clone());
            let queue = queue.clone();
            let tx = tx.clone();
            async move {
                if req.method == http::Method::GET && req.path == "/2018-06-01/runtime/invocation/next" {
                    let next = queue.lock().expect("queue lock").pop_front();
                    let Some((id, event)) = next else {
                        // No more invocations: the environment stays frozen until killed.
                        std::future::pending::<()>().await;
                        unreachable!()
                    };
                    let deadline =
                        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis()
                            + 30_000;
                    return response(
                        200,
                        &[
                            ("content-type", "application/json"),
                            ("lambda-runtime-aws-request-id", &id),
                            ("lambda-runtime-deadline-ms", &deadline.to_string()),
                            ("lambda-runtime-invoked-function-arn", FUNCTION_ARN),
                            ("lambda-runtime-trace-id", "Root=1-67a1b2c3-0123456789abcdef01234567;Sampled=0"),
                        ],
                        event,
                    );
                }
                if req.method == http::Method::POST && req.path.starts_with("/2018-06-01/runtime/") {
                    let _ = tx.send(req);
                    return response(202, &[("content-type", "application/json")], r#"{"status":"OK"}"#);
                }
                response(404, &[], "unknown runtime API call")
            }
        })
        .await;
        FakeRuntime { server, calls, posts }
    }

    /// `127.0.0.1:<port>`, for `AWS_LAMBDA_RUNTIME_API`.
    fn address(&self) -> String {
        self.server.addr.to_string()
    }

    fn call_lines(&self) -> Vec<String> {
        self.calls.lock().expect("calls lock").iter().map(|c| format!("{} {}", c.method, c.path)).collect()
    }

    /// The next POST from the function; panics (with the function's output) if the function exits
    /// or nothing comes within `PROCESS_TIMEOUT`.
    async fn next_post(&mut self, function: &mut Option<Proc>) -> Recorded {
        let deadline = Instant::now() + PROCESS_TIMEOUT;
        loop {
            if let Ok(Some(post)) = tokio::time::timeout(Duration::from_millis(100), self.posts.recv()).await {
                return post;
            }
            let proc = function.as_mut().expect("the function process");
            if proc.exited().is_some() {
                let calls = self.call_lines();
                function
                    .take()
                    .expect("the function process")
                    .fail(&format!("the function exited while the runtime API waited for a POST (calls: {calls:?})"));
            }
            if Instant::now() >= deadline {
                let calls = self.call_lines();
                function
                    .take()
                    .expect("the function process")
                    .fail(&format!("no POST from the function within {PROCESS_TIMEOUT:?} (calls: {calls:?})"));
            }
        }
    }
}

/// A function URL event (payload format 2.0) for `GET path`.
fn function_url_event(path: &str, request_id: &str) -> Value {
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {
            "accept": "application/json",
            "host": "abcdefghijklmnopqrstuvwxyz012345.lambda-url.us-east-1.on.aws",
            "user-agent": "curl/8.5.0",
            "x-forwarded-for": "203.0.113.10",
            "x-forwarded-port": "443",
            "x-forwarded-proto": "https"
        },
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "abcdefghijklmnopqrstuvwxyz012345",
            "domainName": "abcdefghijklmnopqrstuvwxyz012345.lambda-url.us-east-1.on.aws",
            "domainPrefix": "abcdefghijklmnopqrstuvwxyz012345",
            "http": {"method": "GET", "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.10", "userAgent": "curl/8.5.0"},
            "requestId": request_id,
            "routeKey": "$default",
            "stage": "$default",
            "time": "22/Nov/2026:10:15:30 +0000",
            "timeEpoch": 1795428930000u64
        },
        "isBase64Encoded": false
    })
}

/// The environment of the `gateway` function: its config source, the runtime API and the
/// variables Lambda always sets.
fn lambda_env(spec: &str, runtime: &FakeRuntime) -> Vec<(String, String)> {
    let mut env = moto_env();
    for (k, v) in [
        ("TRIBUTARY_CONFIG", spec),
        ("AWS_LAMBDA_RUNTIME_API", &runtime.address()),
        ("AWS_LAMBDA_FUNCTION_NAME", "gateway"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/gateway"),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/22/[$LATEST]0123456789abcdef"),
        ("RUST_LOG", "info"),
    ] {
        env.push((k.to_owned(), v.to_owned()));
    }
    env
}

/// A buffered Lambda response posted by `lambda_http`: `(statusCode, body)`.
fn lambda_response(post: &Recorded) -> (u64, String) {
    let v: Value = serde_json::from_slice(&post.body)
        .unwrap_or_else(|e| panic!("the response POST is not JSON ({e}): {}", String::from_utf8_lossy(&post.body)));
    let status = v["statusCode"].as_u64().unwrap_or_else(|| panic!("no statusCode: {v}"));
    assert_ne!(v["isBase64Encoded"], true, "a JSON answer must be sent as text: {v}");
    (status, v["body"].as_str().unwrap_or_default().to_owned())
}

// ---------------------------------------------------------------------------------------------
// Sources that load

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_string_parameter_is_checked_and_served() {
    let backend = tributary_functions::demo::start_backend(0).await.expect("demo backend");
    let name = "/tributary-e2e/string/config";
    let config =
        service(&backend, vec![json!({"endpoint": "/users/{id}", "backend": [{"url_pattern": "/users/{id}"}]})]);
    put(&ssm(), name, &config.to_string()).await;
    let spec = format!("ssm:{name}");

    let f = check(&spec, &moto_env());
    assert_eq!(f.code, Some(0), "{}", f.show());
    assert_eq!(f.stdout.trim(), format!("{spec}: ok (0 warning(s))"), "{}", f.show());

    let (proc, addr) = serve(&spec, &moto_env()).await;
    let health = chaos::get(addr, "/__health", REQUEST_TIMEOUT).await;
    assert_eq!(health.status, 200, "{}", health.text());
    assert_eq!(json_body(&health)["status"], "ok", "{}", health.text());
    let user = chaos::get(addr, "/users/7", REQUEST_TIMEOUT).await;
    assert_eq!(user.status, 200, "{}", user.text());
    let body = json_body(&user);
    assert_eq!((body["id"].clone(), body["name"].clone()), (json!(7), json!("User 7")), "{body}");
    let out = proc.stop();
    assert!(out.stderr.contains("config loaded"), "{}", out.show());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secure_string_parameter_is_decrypted() {
    let backend = tributary_functions::demo::start_backend(0).await.expect("demo backend");
    let name = "/tributary-e2e/secure/config";
    let config = service(&backend, vec![endpoint("/secret-user", 3)]).to_string();
    let client = ssm();
    put_as(&client, name, &config, ParameterType::SecureString).await;
    // Without decryption moto hands out something else: the test would catch a missing
    // `WithDecryption`.
    let raw = client.get_parameter().name(name).with_decryption(false).send().await.expect("GetParameter");
    assert_ne!(raw.parameter().and_then(|p| p.value()), Some(config.as_str()), "moto did not encrypt");

    let spec = format!("ssm:{name}");
    assert_check_order(&spec, &["/secret-user"]);
    let (proc, addr) = serve(&spec, &moto_env()).await;
    let user = chaos::get(addr, "/secret-user", REQUEST_TIMEOUT).await;
    assert_eq!((user.status, json_body(&user)["name"].clone()), (200, json!("User 3")), "{}", user.text());
    drop(proc);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gzip_base64_parameter_is_read() {
    let name = "/tributary-e2e/gzip/config";
    let config = service(UNUSED_HOST, vec![endpoint("/zipped", 1)]).to_string();
    let value = gzip_base64(&config);
    assert!(!value.starts_with('{'));
    put(&ssm(), name, &value).await;
    assert_check_order(&format!("ssm:{name}"), &["/zipped"]);
}

/// Service, single endpoint, list of endpoints and a nested gzip+base64 part, put in an order
/// that is not their names' order: the service's own endpoints first, then the parts by name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parts_under_a_path_combine_in_name_order() {
    let backend = tributary_functions::demo::start_backend(0).await.expect("demo backend");
    let path = "/tributary-e2e/parts";
    let client = ssm();
    put(&client, &format!("{path}/b-list"), &json!([endpoint("/b1", 3), endpoint("/b2", 4)]).to_string()).await;
    put(&client, &format!("{path}/z-service"), &service(&backend, vec![endpoint("/s", 1)]).to_string()).await;
    put_as(&client, &format!("{path}/a-one"), &endpoint("/a", 2).to_string(), ParameterType::SecureString).await;
    put(&client, &format!("{path}/c/nested"), &gzip_base64(&endpoint("/c", 5).to_string())).await;
    // Not under the path: must not be read.
    put(&client, &format!("{path}-other/x"), &endpoint("/other", 6).to_string()).await;

    let spec = format!("ssm:{path}/");
    assert_check_order(&spec, &["/s", "/a", "/b1", "/b2", "/c"]);

    let (proc, addr) = serve(&spec, &moto_env()).await;
    for (target, user) in [("/s", 1), ("/a", 2), ("/b1", 3), ("/b2", 4), ("/c", 5)] {
        let reply = chaos::get(addr, target, REQUEST_TIMEOUT).await;
        assert_eq!(reply.status, 200, "GET {target}: {}", reply.text());
        assert_eq!(json_body(&reply)["name"], format!("User {user}"), "GET {target}: {}", reply.text());
    }
    let other = chaos::get(addr, "/other", REQUEST_TIMEOUT).await;
    assert_eq!(other.status, 404, "a parameter outside the path was read: {}", other.text());
    drop(proc);
}

/// GetParametersByPath returns at most 10 parameters per page: 15 need two pages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_than_ten_parameters_under_a_path_are_all_read() {
    let path = "/tributary-e2e/pages";
    let client = ssm();
    put(&client, &format!("{path}/service"), &service(UNUSED_HOST, vec![]).to_string()).await;
    for i in 1..=14 {
        put(&client, &format!("{path}/ep-{i}"), &endpoint(&format!("/e{i}"), i).to_string()).await;
    }
    let first = client.get_parameters_by_path().path(path).recursive(true).send().await.expect("GetParametersByPath");
    assert!(
        first.parameters().len() <= 10 && first.next_token().is_some(),
        "moto must paginate for this test to mean anything: {} parameters, next token {:?}",
        first.parameters().len(),
        first.next_token()
    );
    // Byte order of the names: ep-1, ep-10, ..., ep-14, ep-2, ..., ep-9.
    let mut names: Vec<String> = (1..=14).map(|i| format!("ep-{i}")).collect();
    names.sort();
    let paths: Vec<String> = names.iter().map(|n| format!("/e{}", &n[3..])).collect();
    let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
    assert_check_order(&format!("ssm:{path}/"), &paths);
}

// ---------------------------------------------------------------------------------------------
// Sources that fail: one line naming the source

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_parameter_is_parameter_not_found() {
    let name = "/tributary-e2e/missing/config";
    let spec = format!("ssm:{name}");
    let (line, f) = check_fails_with_one_line(&spec, &moto_env());
    assert_eq!(line, format!("error: config source `{spec}`: ParameterNotFound: Parameter {name} not found."));
    assert!(f.elapsed < FAST_FAILURE, "{}", f.show());

    // `run` refuses to start the same way.
    let run = spawn(&workspace_bin("tributary"), &["run", "-c", &spec, "-p", &free_port().to_string()], &moto_env())
        .finish(PROCESS_TIMEOUT);
    assert_eq!(run.code, Some(1), "{}", run.show());
    let lines = run.stderr_lines();
    assert!(lines.iter().any(|l| l.contains(&format!("config source `{spec}`: ParameterNotFound"))), "{}", run.show());
    assert!(lines.contains(&format!("error: `{spec}` cannot be served").as_str()), "{}", run.show());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_path_without_parameters_is_refused() {
    let spec = "ssm:/tributary-e2e/empty/";
    let (line, _) = check_fails_with_one_line(spec, &moto_env());
    assert_eq!(line, format!("error: config source `{spec}`: no parameters under the path `/tributary-e2e/empty`"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_path_part_that_is_not_json_names_the_parameter() {
    let path = "/tributary-e2e/badjson";
    let client = ssm();
    put(&client, &format!("{path}/service"), &service(UNUSED_HOST, vec![]).to_string()).await;
    put(&client, &format!("{path}/broken"), r#"{"endpoint": "/x", "backend": ["#).await;
    let spec = format!("ssm:{path}/");
    let (line, _) = check_fails_with_one_line(&spec, &moto_env());
    let prefix = format!("error: config source `{spec}`: parameter `{path}/broken`: invalid JSON: ");
    assert!(line.starts_with(&prefix), "expected `{prefix}...`, got: {line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parameter_that_is_neither_json_nor_gzip_names_the_parameter() {
    let name = "/tributary-e2e/notjson/config";
    put(&ssm(), name, "version: 3  # YAML is not accepted").await;
    let spec = format!("ssm:{name}");
    let (line, _) = check_fails_with_one_line(&spec, &moto_env());
    assert_eq!(line, format!("error: config source `{spec}`: parameter `{name}` is neither JSON nor gzip+base64"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parameter_with_broken_json_is_reported_with_its_position() {
    let name = "/tributary-e2e/brokenjson/config";
    put(&ssm(), name, "{\"version\": 3,\n \"endpoints\": [}").await;
    let spec = format!("ssm:{name}");
    let f = check(&spec, &moto_env());
    assert_eq!(f.code, Some(1), "{}", f.show());
    let problems: Vec<&str> = f.stdout.lines().filter(|l| l.contains(": error: ")).collect();
    eprintln!("[ssm] check -c {spec}: {problems:?}");
    assert_eq!(problems.len(), 1, "{}", f.show());
    assert!(problems[0].starts_with(&format!("{spec}: error: ")), "{}", f.show());
    assert!(problems[0].contains("line 2"), "the position of the JSON error: {}", f.show());
}

/// An invalid value inside a valid config: `run` names the source, the JSON path, the endpoint
/// and (for a path source) the parameter the endpoint came from.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_config_under_a_path_names_json_path_and_parameter_on_run() {
    let path = "/tributary-e2e/invalid-run";
    put_invalid_parts(path).await;
    let spec = format!("ssm:{path}/");
    let f = spawn(&workspace_bin("tributary"), &["run", "-c", &spec, "-p", &free_port().to_string()], &moto_env())
        .finish(PROCESS_TIMEOUT);
    assert_eq!(f.code, Some(1), "{}", f.show());
    let lines = f.stderr_lines();
    let problem = lines
        .iter()
        .find(|l| l.contains("timeout"))
        .unwrap_or_else(|| panic!("no line about the timeout: {}", f.show()));
    eprintln!("[ssm] run -c {spec}: {problem}");
    assert_invalid_timeout_line(problem, &spec, path);
    assert!(lines.contains(&format!("error: `{spec}` cannot be served").as_str()), "{}", f.show());
}

/// The same through `check`, which prints every problem of the config.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_config_under_a_path_names_json_path_and_parameter_on_check() {
    let path = "/tributary-e2e/invalid-check";
    put_invalid_parts(path).await;
    let spec = format!("ssm:{path}/");
    let f = check(&spec, &moto_env());
    assert_eq!(f.code, Some(1), "{}", f.show());
    let problem =
        f.stdout.lines().find(|l| l.contains(": error: ")).unwrap_or_else(|| panic!("no error line: {}", f.show()));
    eprintln!("[ssm] check -c {spec}: {problem}");
    assert_invalid_timeout_line(problem, &spec, path);
}

/// A service and a list whose second endpoint (`endpoints[2]` once combined) has a bad timeout.
async fn put_invalid_parts(path: &str) {
    let client = ssm();
    put(&client, &format!("{path}/service"), &service(UNUSED_HOST, vec![endpoint("/s", 1)]).to_string()).await;
    let mut bad = endpoint("/bad", 2);
    bad["timeout"] = json!("3 s");
    put(&client, &format!("{path}/list"), &json!([endpoint("/ok", 1), bad]).to_string()).await;
}

fn assert_invalid_timeout_line(line: &str, spec: &str, path: &str) {
    for part in [
        format!("{spec}: error: `endpoints[2].timeout`"),
        "endpoint `GET /bad`".to_owned(),
        "invalid duration `3 s`".to_owned(),
        format!("parameter `{path}/list`"),
    ] {
        assert!(line.contains(&part), "expected `{part}` in: {line}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_config_in_one_parameter_names_the_json_path() {
    let name = "/tributary-e2e/invalid-one/config";
    let mut config = service(UNUSED_HOST, vec![endpoint("/a", 1)]);
    config["endpoints"][0]["timeout"] = json!("3 s");
    put(&ssm(), name, &config.to_string()).await;
    let spec = format!("ssm:{name}");
    let f = check(&spec, &moto_env());
    assert_eq!(f.code, Some(1), "{}", f.show());
    let problem = f.stdout.lines().find(|l| l.contains(": error: ")).unwrap_or_else(|| panic!("{}", f.show()));
    eprintln!("[ssm] check -c {spec}: {problem}");
    assert!(problem.starts_with(&format!("{spec}: error: `endpoints[0].timeout` (endpoint `GET /a`")), "{problem}");
    assert!(problem.contains("invalid duration `3 s`"), "{problem}");
}

/// moto with IAM enforced: a user without any policy is refused both calls. moto answers these
/// refusals (for SSM) with HTTP 403 and an XML body, not AWS's JSON `AccessDeniedException`: the
/// message must still say what happened (the code or the status).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_denied_by_iam_is_reported() {
    let moto = Moto::start(&[("INITIAL_NO_AUTH_ACTION_COUNT", "2")]);
    let (key, secret) = moto.create_user_without_permissions("no-ssm");
    let env = aws_env(&moto.endpoint(), &key, &secret);
    let mut failures = Vec::new();
    for spec in ["ssm:/tributary-e2e/denied/config", "ssm:/tributary-e2e/denied/"] {
        let (line, f) = check_fails_with_one_line(spec, &env);
        assert!(f.elapsed < FAST_FAILURE, "{}", f.show());
        if !(line.contains("AccessDenied") || line.contains("403")) {
            failures.push(format!("{spec}: neither `AccessDenied` nor `403` in: {line}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// What AWS itself answers to a caller without `ssm:GetParameter`: the code and message pass through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_denied_as_aws_sends_it_is_reported() {
    let (server, calls) = failing_ssm(
        r#"{"__type":"AccessDeniedException","message":"User: arn:aws:iam::123456789012:user/no-ssm is not authorized to perform: ssm:GetParameter on resource: arn:aws:ssm:us-east-1:123456789012:parameter/tributary-e2e/denied because no identity-based policy allows the ssm:GetParameter action"}"#,
    )
    .await;
    let env = aws_env(&server.url(), "test", "test");
    let spec = "ssm:/tributary-e2e/denied";
    let (line, f) = check_fails_with_one_line(spec, &env);
    assert!(
        line.starts_with(&format!(
            "error: config source `{spec}`: AccessDeniedException: User: arn:aws:iam::123456789012:user/no-ssm is not authorized to perform: ssm:GetParameter"
        )),
        "{line}"
    );
    assert!(f.elapsed < FAST_FAILURE, "{}", f.show());
    assert_eq!(calls.load(Ordering::SeqCst), 1, "access denied must not be retried");
}

/// Throttling, which moto cannot do: the SDK retries (standard mode), then the loader reports the
/// code, in bounded time, for both calls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_is_reported_in_bounded_time() {
    let (server, calls) = failing_ssm(r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#).await;
    for spec in ["ssm:/tributary-e2e/throttled/config", "ssm:/tributary-e2e/throttled/"] {
        let before = calls.load(Ordering::SeqCst);
        let env = aws_env(&server.url(), "test", "test");
        let (line, f) = check_fails_with_one_line(spec, &env);
        let attempts = calls.load(Ordering::SeqCst) - before;
        eprintln!("[ssm] {spec}: {attempts} attempt(s) in {:?}", f.elapsed);
        assert_eq!(line, format!("error: config source `{spec}`: ThrottlingException: Rate exceeded"));
        assert!(attempts >= 1, "no SSM call reached the endpoint");
        assert!(f.elapsed < Duration::from_secs(25), "{}", f.show());
    }
}

/// Server errors (HTTP 500 with a JSON error, 503 with an HTML page) are retried, as the SDK's
/// standard mode retries them, and the third attempt's answer is used; each attempt is the same
/// `GetParameter` call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_retried_until_ssm_answers() {
    let name = "/tributary-e2e/flaky/config";
    let config = service(UNUSED_HOST, vec![endpoint("/flaky", 1)]).to_string();
    let (server, calls) = flaky_ssm(0, 2, config).await;
    let spec = format!("ssm:{name}");
    let f = check(&spec, &aws_env(&server.url(), "test", "test"));
    assert_eq!(f.code, Some(0), "{}", f.show());
    assert_eq!(marked_endpoints(&f.stdout), vec![(0, "/flaky".to_owned())], "{}", f.show());
    let calls = calls.lock().expect("calls lock").clone();
    assert_eq!(calls.len(), 3, "two failed attempts and the one that answered: {calls:?}");
    for call in &calls {
        assert_eq!((&call.method, call.path.as_str()), (&http::Method::POST, "/"), "{call:?}");
        let body: Value = serde_json::from_slice(&call.body).expect("a JSON request body");
        assert_eq!(body, json!({"Name": name, "WithDecryption": true}), "{call:?}");
    }
}

/// A connection closed before any answer is retried on a new connection, from the Lambda
/// function too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_is_retried_by_the_lambda_function() {
    let backend = tributary_functions::demo::start_backend(0).await.expect("demo backend");
    let name = "/tributary-e2e/dropped/config";
    let users = json!({"endpoint": "/users/{id}", "backend": [{"url_pattern": "/users/{id}"}]});
    let (server, calls) = flaky_ssm(1, 0, service(&backend, vec![users]).to_string()).await;
    let mut runtime = FakeRuntime::start(vec![("req-user", function_url_event("/users/4", "req-user"))]).await;
    let spec = format!("ssm:{name}");
    let mut env = lambda_env(&spec, &runtime);
    env.retain(|(k, _)| k != "AWS_ENDPOINT_URL");
    env.push(("AWS_ENDPOINT_URL_SSM".to_owned(), server.url()));
    let mut function = Some(spawn(&workspace_bin("gateway"), &[], &env));
    let post = runtime.next_post(&mut function).await;
    assert_eq!(post.path, "/2018-06-01/runtime/invocation/req-user/response", "{post:?}");
    let (status, body) = lambda_response(&post);
    assert_eq!(status, 200, "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).expect("user JSON")["name"], "User 4", "{body}");
    assert_eq!(calls.lock().expect("calls lock").len(), 1, "one call answered after the dropped connection");
    drop(function);
}

// ---------------------------------------------------------------------------------------------
// The Lambda function

/// Cold start from `ssm:PATH/` (a SecureString service and a gzip+base64 endpoint), then two
/// function URL invocations through the runtime API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lambda_function_loads_its_config_from_ssm() {
    let backend = tributary_functions::demo::start_backend(0).await.expect("demo backend");
    let path = "/tributary-e2e/lambda";
    let client = ssm();
    put_as(&client, &format!("{path}/service"), &service(&backend, vec![]).to_string(), ParameterType::SecureString)
        .await;
    let users =
        json!({"endpoint": "/users/{id}", "backend": [{"url_pattern": "/users/{id}", "deny": ["password_hash"]}]});
    put(&client, &format!("{path}/users"), &gzip_base64(&users.to_string())).await;

    let mut runtime = FakeRuntime::start(vec![
        ("req-health", function_url_event("/__health", "req-health")),
        ("req-user", function_url_event("/users/7", "req-user")),
    ])
    .await;
    let spec = format!("ssm:{path}/");
    let mut function = Some(spawn(&workspace_bin("gateway"), &[], &lambda_env(&spec, &runtime)));

    let post = runtime.next_post(&mut function).await;
    assert_eq!(post.path, "/2018-06-01/runtime/invocation/req-health/response", "{post:?}");
    let (status, body) = lambda_response(&post);
    assert_eq!(status, 200, "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).expect("health JSON")["status"], "ok", "{body}");

    let post = runtime.next_post(&mut function).await;
    assert_eq!(post.path, "/2018-06-01/runtime/invocation/req-user/response", "{post:?}");
    let (status, body) = lambda_response(&post);
    assert_eq!(status, 200, "{body}");
    let user: Value = serde_json::from_str(&body).expect("user JSON");
    assert_eq!((user["id"].clone(), user["name"].clone()), (json!(7), json!("User 7")), "{body}");
    assert!(user.get("password_hash").is_none(), "`deny` of the gzip part applied: {body}");

    let out = function.take().expect("the function").stop();
    assert!(out.stdout.contains("config loaded"), "{}", out.show());
}

/// Runs the `gateway` with `env`, expecting a failed cold start: a non-zero exit and a JSON error
/// line naming `spec`, returned as written and parsed.
fn failed_cold_start(spec: &str, env: &[(String, String)]) -> (Finished, String, Value) {
    let f = spawn(&workspace_bin("gateway"), &[], env).finish(PROCESS_TIMEOUT);
    assert!(f.code.is_some_and(|c| c != 0), "the function must exit non-zero: {}", f.show());
    let error_line = f
        .stdout
        .lines()
        .chain(f.stderr.lines())
        .find(|l| l.contains("ERROR") && l.contains(&format!("config source `{spec}`")))
        .unwrap_or_else(|| panic!("no error line naming `{spec}`: {}", f.show()))
        .to_owned();
    let logged: Value = serde_json::from_str(&error_line).expect("the function logs JSON lines");
    (f, error_line, logged)
}

/// A cold start whose config cannot be loaded: the function logs one error line naming the source
/// and exits non-zero before asking for an invocation (Lambda then reports `Runtime.ExitError`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lambda_function_fails_its_cold_start_on_a_missing_parameter() {
    let runtime = FakeRuntime::start(vec![("req-1", function_url_event("/__health", "req-1"))]).await;
    let name = "/tributary-e2e/lambda-missing/config";
    let spec = format!("ssm:{name}");
    let env = lambda_env(&spec, &runtime);
    let (f, error_line, logged) = failed_cold_start(&spec, &env);
    eprintln!("[ssm] gateway, TRIBUTARY_CONFIG={spec}: {error_line}");
    assert_eq!(logged["level"], "ERROR", "{error_line}");
    assert_eq!(
        logged["message"],
        format!("config source `{spec}`: ParameterNotFound: Parameter {name} not found."),
        "{error_line}"
    );
    let calls = runtime.call_lines();
    eprintln!("[ssm] gateway, TRIBUTARY_CONFIG={spec}: runtime API calls {calls:?}, exit {:?}", f.code);
    assert!(
        !calls.iter().any(|c| c.ends_with("/invocation/next")),
        "no invocation may be taken with a failed init: {calls:?}"
    );
    for call in runtime.calls.lock().expect("calls lock").iter().filter(|c| c.path.ends_with("/init/error")) {
        let body = String::from_utf8_lossy(&call.body);
        assert!(body.contains(&spec), "the init error must name the source: {body}");
    }
}

/// The Lambda function reads region and credentials only from the variables Lambda sets: with
/// the credentials missing it fails its cold start with a line naming them (no profile or
/// metadata lookup, no hang).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lambda_function_without_credentials_names_the_variables() {
    let runtime = FakeRuntime::start(vec![("req-1", function_url_event("/__health", "req-1"))]).await;
    let spec = "ssm:/tributary-e2e/lambda-no-credentials/config";
    let env: Vec<(String, String)> = lambda_env(spec, &runtime)
        .into_iter()
        .filter(|(k, _)| k != "AWS_ACCESS_KEY_ID" && k != "AWS_SECRET_ACCESS_KEY")
        .collect();
    let (_, error_line, logged) = failed_cold_start(spec, &env);
    let message = logged["message"].as_str().unwrap_or_default();
    assert!(message.contains("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set"), "{error_line}");
    assert!(!runtime.call_lines().iter().any(|c| c.ends_with("/invocation/next")), "no invocation with a failed init");
}
