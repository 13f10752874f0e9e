//! The doors a case goes through: in process (`Gateway::handle`), over the local server
//! (`tributary_functions::server::serve` on a real TCP listener) and through the Lambda adapter
//! (a function URL event, payload 2.0, parsed by `lambda_http` and handled by
//! `tributary_functions::lambda::handle`). Each starts a fresh gateway per case, sends requests
//! with a time limit, and stops it.

use crate::client::{self, OutRequest};
use crate::compare::{Response, latin1};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use lambda_http::RequestExt;
use lambda_http::request::RequestContext;
use serde_json::{Map, Value, json};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tributary_core::{Gateway, GatewayRequest};

/// At most this long for one request (as `HTTP_TIMEOUT` in run_cases.py).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// At most this long for the local server to stop after its shutdown signal.
pub const STOP_GRACE: Duration = Duration::from_secs(3);

/// An entry point of Tributary that the cases are run through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Door {
    /// `Gateway::from_json` then `Gateway::handle`, no network between client and gateway.
    InProcess,
    /// The local HTTP server on 127.0.0.1, reached by a raw HTTP/1.1 client.
    LocalServer,
    /// The Lambda function's adapter: each request becomes a function URL event (payload 2.0)
    /// from 127.0.0.1, parsed by `lambda_http::request::from_str` and handled by
    /// `tributary_functions::lambda::handle`; no network between client and gateway.
    Lambda,
}

impl Door {
    pub fn name(self) -> &'static str {
        match self {
            Door::InProcess => "in-process",
            Door::LocalServer => "local server",
            Door::Lambda => "lambda",
        }
    }

    /// Reserves the port the gateway will be known by (it goes into the config's "port").
    pub async fn reserve(self) -> std::io::Result<Slot> {
        match self {
            Door::InProcess | Door::Lambda => {
                // Nothing listens in process; a free port keeps the Host header realistic.
                let probe = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
                let port = probe.local_addr()?.port();
                Ok(if self == Door::Lambda { Slot::Lambda { port } } else { Slot::InProcess { port } })
            }
            Door::LocalServer => {
                let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
                Ok(Slot::LocalServer { port: listener.local_addr()?.port(), listener })
            }
        }
    }
}

/// A door with its port reserved, ready to start a gateway.
pub enum Slot {
    InProcess { port: u16 },
    LocalServer { port: u16, listener: TcpListener },
    Lambda { port: u16 },
}

impl Slot {
    pub fn port(&self) -> u16 {
        match self {
            Slot::InProcess { port } | Slot::LocalServer { port, .. } | Slot::Lambda { port } => *port,
        }
    }

    /// Builds the gateway from the config text and, for the local server, starts serving.
    pub fn start(self, config_text: &str) -> Result<Running, String> {
        let built = std::panic::catch_unwind(AssertUnwindSafe(|| Gateway::from_json(config_text)));
        let gateway = match built {
            Ok(Ok(gateway)) => Arc::new(gateway),
            Ok(Err(e)) => return Err(format!("the gateway rejected the config: {e}")),
            Err(panic) => {
                return Err(format!("Gateway::from_json panicked: {}", panic_text(&*panic)));
            }
        };
        Ok(match self {
            Slot::InProcess { port } => Running::InProcess { gateway, port },
            Slot::Lambda { port } => Running::Lambda { gateway, port },
            Slot::LocalServer { port, listener } => {
                let (tx, rx) = oneshot::channel::<()>();
                let shutdown = async move {
                    let _ = rx.await;
                };
                let task = tokio::spawn(tributary_functions::server::serve(gateway, listener, shutdown));
                Running::LocalServer(Server {
                    addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
                    shutdown: Some(tx),
                    task,
                })
            }
        })
    }
}

/// A started gateway.
pub enum Running {
    InProcess { gateway: Arc<Gateway>, port: u16 },
    LocalServer(Server),
    Lambda { gateway: Arc<Gateway>, port: u16 },
}

/// The local server task; dropping it aborts the task.
pub struct Server {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Running {
    /// Sends one request, at most [`REQUEST_TIMEOUT`].
    pub async fn send(&self, req: &OutRequest) -> Result<Response, String> {
        let sent = match self {
            Running::InProcess { gateway, .. } => {
                let request = to_gateway_request(req)?;
                let gateway = Arc::clone(gateway);
                // Its own task, so that a panic is reported for this case without losing the logs.
                let task = tokio::spawn(async move { gateway.handle(request).await });
                let abort = task.abort_handle();
                match tokio::time::timeout(REQUEST_TIMEOUT, task).await {
                    Ok(Ok(response)) => Ok(Ok(from_gateway_response(response, &req.method))),
                    Ok(Err(e)) if e.is_panic() => {
                        Ok(Err(format!("Gateway::handle panicked: {}", panic_text(&*e.into_panic()))))
                    }
                    Ok(Err(e)) => Ok(Err(format!("Gateway::handle did not finish: {e}"))),
                    Err(elapsed) => {
                        abort.abort();
                        Err(elapsed)
                    }
                }
            }
            Running::LocalServer(server) => tokio::time::timeout(REQUEST_TIMEOUT, client::send(server.addr, req)).await,
            Running::Lambda { gateway, .. } => {
                let event = function_url_event(req)?;
                let gateway = Arc::clone(gateway);
                // Its own task, so that a panic (in lambda_http's parsing or in the adapter) is
                // reported for this case.
                let task = tokio::spawn(async move {
                    let request = lambda_http::request::from_str(&event)
                        .map_err(|e| format!("lambda_http rejected the function URL event: {e}\nevent: {event}"))?;
                    if !matches!(request.request_context_ref(), Some(RequestContext::ApiGatewayV2(_))) {
                        return Err(format!("lambda_http did not read a function URL event: {event}"));
                    }
                    let Ok(response) = tributary_functions::lambda::handle(&gateway, request).await;
                    Ok::<_, String>(response)
                });
                let abort = task.abort_handle();
                match tokio::time::timeout(REQUEST_TIMEOUT, task).await {
                    Ok(Ok(Ok(response))) => Ok(Ok(from_lambda_response(response, &req.method))),
                    Ok(Ok(Err(e))) => Ok(Err(e)),
                    Ok(Err(e)) if e.is_panic() => {
                        Ok(Err(format!("the Lambda door panicked: {}", panic_text(&*e.into_panic()))))
                    }
                    Ok(Err(e)) => Ok(Err(format!("lambda::handle did not finish: {e}"))),
                    Err(elapsed) => {
                        abort.abort();
                        Err(elapsed)
                    }
                }
            }
        };
        sent.unwrap_or_else(|_| Err(format!("no response within {}s", REQUEST_TIMEOUT.as_secs())))
    }

    /// Stops the gateway; returns the problems (the server stopped early or failed) and
    /// diagnostics (it was slow to stop).
    pub async fn stop(self) -> (Vec<String>, Vec<String>) {
        let mut problems = Vec::new();
        let mut diagnostics = Vec::new();
        let Running::LocalServer(mut server) = self else {
            return (problems, diagnostics);
        };
        let early = server.task.is_finished();
        if let Some(tx) = server.shutdown.take() {
            let _ = tx.send(());
        }
        match tokio::time::timeout(STOP_GRACE, &mut server.task).await {
            Ok(Ok(Ok(()))) if early => problems.push("the local server stopped during the case".to_owned()),
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => problems.push(format!("the local server failed: {e}")),
            Ok(Err(e)) if e.is_panic() => {
                problems.push(format!("the local server panicked: {}", panic_text(&*e.into_panic())))
            }
            Ok(Err(e)) => problems.push(format!("the local server task failed: {e}")),
            Err(_) => diagnostics
                .push(format!("the local server did not stop within {}s of its shutdown signal", STOP_GRACE.as_secs())),
        }
        (problems, diagnostics)
    }
}

fn to_gateway_request(req: &OutRequest) -> Result<GatewayRequest, String> {
    let method =
        Method::from_bytes(req.method.as_bytes()).map_err(|e| format!("invalid method {:?}: {e}", req.method))?;
    let mut request = GatewayRequest::new(method, &req.target);
    let mut headers = HeaderMap::new();
    for (name, value) in &req.headers {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|e| format!("invalid header name {name:?}: {e}"))?;
        let value = HeaderValue::from_str(value).map_err(|e| format!("invalid value of header {name}: {e}"))?;
        headers.append(name, value);
    }
    request.headers = headers;
    request.body = req.body.clone().unwrap_or_default().into();
    request.peer_ip = Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
    Ok(request)
}

/// What a client would receive: as over HTTP/1.1 (and in `run_cases.py`'s client), a response to
/// HEAD, or with status 1xx, 204 or 304, has no body.
fn from_gateway_response(response: tributary_core::GatewayResponse, method: &str) -> Response {
    client_view(response.status, &response.headers, response.body, method)
}

fn client_view(status: StatusCode, headers: &HeaderMap, body: bytes::Bytes, method: &str) -> Response {
    let status = status.as_u16();
    let bodyless = method == "HEAD" || status < 200 || status == 204 || status == 304;
    Response {
        status,
        headers: headers.iter().map(|(name, value)| (name.as_str().to_owned(), latin1(value.as_bytes()))).collect(),
        body: if bodyless { bytes::Bytes::new() } else { body },
    }
}

/// The Lambda adapter's answer as the harness's response (status, header lines, body bytes).
fn from_lambda_response(response: http::Response<lambda_http::Body>, method: &str) -> Response {
    let (parts, body) = response.into_parts();
    let body = match body {
        lambda_http::Body::Text(text) => bytes::Bytes::from(text),
        lambda_http::Body::Binary(binary) => bytes::Bytes::from(binary),
        _ => bytes::Bytes::new(),
    };
    client_view(parts.status, &parts.headers, body, method)
}

/// Content types a function URL hands over as text (the others arrive base64-encoded).
fn textual(content_type: Option<&str>) -> bool {
    content_type.is_none_or(|ct| {
        let ct = ct.to_ascii_lowercase();
        ct.starts_with("text/")
            || ["json", "xml", "yaml", "javascript", "x-www-form-urlencoded"].iter().any(|t| ct.contains(t))
    })
}

/// The function URL event of a bodiless `GET target` to a function URL host.
pub fn function_url_get(target: &str) -> String {
    let out = OutRequest {
        method: "GET".into(),
        target: target.into(),
        headers: vec![("Host".into(), "abc.lambda-url.us-east-1.on.aws".into())],
        body: None,
    };
    function_url_event(&out).expect("an event")
}

/// The function URL event (payload 2.0) AWS would send for `req` from 127.0.0.1: `rawPath` and
/// `rawQueryString` from the request target, header names lower-cased with the values of
/// repeated names comma-joined, `Cookie` lines split into `cookies`, the body as text (textual
/// content type and UTF-8) or base64 with `isBase64Encoded`, and `requestContext.domainName` from
/// `Host`.
pub fn function_url_event(req: &OutRequest) -> Result<String, String> {
    static REQUESTS: AtomicU64 = AtomicU64::new(0);
    let (raw_path, raw_query) = req.target.split_once('?').unwrap_or((req.target.as_str(), ""));
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut cookies: Vec<String> = Vec::new();
    for (name, value) in &req.headers {
        let name = name.to_ascii_lowercase();
        if name == "cookie" {
            cookies.extend(value.split(';').map(str::trim).filter(|c| !c.is_empty()).map(str::to_owned));
            continue;
        }
        match headers.iter_mut().find(|(n, _)| *n == name) {
            Some((_, joined)) => {
                joined.push(',');
                joined.push_str(value);
            }
            None => headers.push((name, value.clone())),
        }
    }
    let header = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    let domain = header("host").unwrap_or("localhost");
    let mut http = Map::new();
    http.insert("method".into(), json!(req.method));
    http.insert("path".into(), json!(raw_path));
    http.insert("protocol".into(), json!("HTTP/1.1"));
    http.insert("sourceIp".into(), json!("127.0.0.1"));
    http.insert("userAgent".into(), json!(header("user-agent").unwrap_or("")));
    let context = json!({
        "accountId": "anonymous",
        "apiId": "tributaryconformance",
        "domainName": domain,
        "domainPrefix": domain.split('.').next().unwrap_or(domain),
        "http": Value::Object(http),
        "requestId": format!("conformance-{}", REQUESTS.fetch_add(1, Ordering::Relaxed)),
        "routeKey": "$default",
        "stage": "$default",
        "time": "01/Jan/2026:00:00:00 +0000",
        "timeEpoch": 1_767_225_600_000_u64,
    });
    let mut event = Map::new();
    event.insert("version".into(), json!("2.0"));
    event.insert("routeKey".into(), json!("$default"));
    event.insert("rawPath".into(), json!(raw_path));
    event.insert("rawQueryString".into(), json!(raw_query));
    if !cookies.is_empty() {
        event.insert("cookies".into(), json!(cookies));
    }
    event.insert("headers".into(), Value::Object(headers.iter().map(|(n, v)| (n.clone(), json!(v))).collect()));
    event.insert("requestContext".into(), context);
    let mut base64 = false;
    if let Some(body) = req.body.as_deref().filter(|b| !b.is_empty()) {
        let text = if textual(header("content-type")) { std::str::from_utf8(body).ok() } else { None };
        let encoded = match text {
            Some(text) => json!(text),
            None => {
                base64 = true;
                serde_json::to_value(lambda_http::Body::Binary(body.to_vec()))
                    .map_err(|e| format!("cannot base64-encode the body: {e}"))?
            }
        };
        event.insert("body".into(), encoded);
    }
    event.insert("isBase64Encoded".into(), json!(base64));
    serde_json::to_string(&Value::Object(event)).map_err(|e| format!("cannot write the function URL event: {e}"))
}

/// What the Lambda adapter answers to a function URL event for `GET target` with the given
/// header lines from `source_ip` (within [`REQUEST_TIMEOUT`]; panics otherwise).
pub async fn lambda_get(
    gateway: &Gateway,
    target: &str,
    headers: &[(&str, &str)],
    source_ip: &str,
) -> lambda_http::Response<lambda_http::Body> {
    let out = OutRequest {
        method: "GET".into(),
        target: target.into(),
        headers: headers.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect(),
        body: None,
    };
    let mut event: Value = serde_json::from_str(&function_url_event(&out).expect("an event")).expect("event JSON");
    event["requestContext"]["http"]["sourceIp"] = json!(source_ip);
    let request = lambda_http::request::from_str(&event.to_string()).expect("lambda_http reads the event");
    let Ok(response) = tokio::time::timeout(REQUEST_TIMEOUT, tributary_functions::lambda::handle(gateway, request))
        .await
        .expect("an answer in time");
    response
}

/// The message of a panic payload.
pub fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "(non-text panic payload)".to_owned()
    }
}
