//! The Lambda door: converts a `lambda_http` request (function URL, API Gateway HTTP API and REST
//! API, ALB) to a `GatewayRequest` and the `GatewayResponse` back, and writes what the core
//! reports of the invocation: its log line, its CloudWatch EMF lines (rendered by the core), and
//! the backend calls of an invocation traced by X-Ray, to the daemon. No gateway logic.

use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use std::convert::Infallible;
use std::net::IpAddr;
use tributary_core::telemetry::xray::{XrayDaemon, XrayTrace};
use tributary_core::{Gateway, GatewayRequest, GatewayResponse};

/// Handles one invocation. Never fails: every fault is an HTTP answer (a failed invocation would
/// reach the client as an opaque 502 from the function URL).
pub async fn handle(gateway: &Gateway, event: Request) -> Result<Response<Body>, Infallible> {
    handle_with(gateway, event, &mut std::io::stdout()).await
}

/// The X-Ray daemon of the function's environment (`AWS_XRAY_DAEMON_ADDRESS`), opened once.
fn env_daemon() -> &'static XrayDaemon {
    static DAEMON: std::sync::OnceLock<XrayDaemon> = std::sync::OnceLock::new();
    DAEMON.get_or_init(XrayDaemon::from_env)
}

/// [`handle`], writing the invocation's CloudWatch EMF lines (when on) to `emf_out`: Lambda's
/// stdout in the function, where CloudWatch Logs extracts the metrics.
pub async fn handle_with(
    gateway: &Gateway,
    event: Request,
    emf_out: &mut (dyn std::io::Write + Send),
) -> Result<Response<Body>, Infallible> {
    handle_full(gateway, event, emf_out, env_daemon).await
}

/// [`handle`], reporting the backend calls of an invocation with active tracing (its trace
/// header says `Sampled=1`) to the X-Ray daemon `daemon` gives (asked for only then).
pub async fn handle_with_xray<'d>(
    gateway: &Gateway,
    daemon: impl FnOnce() -> &'d XrayDaemon,
    event: Request,
) -> Result<Response<Body>, Infallible> {
    handle_full(gateway, event, &mut std::io::stdout(), daemon).await
}

/// How the function answers: the `TRIBUTARY_INVOKE_MODE` environment variable, which the SAM
/// template sets to the function URL's own invoke mode (the two must agree: a streaming function
/// behind a buffered URL, or the reverse, answers nothing usable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvokeMode {
    /// One JSON document per answer, at most 6 MB (Lambda's buffered payload limit).
    Buffered,
    /// Lambda's response streaming: a JSON prelude (status, headers, cookies), then the body as
    /// raw bytes, past the 6 MB limit.
    ResponseStream,
}

impl InvokeMode {
    /// Reads the variable's value: unset or empty is `BUFFERED`; anything but the two names the
    /// function URL takes is an error (a typo must not silently pick a mode).
    pub fn from_env_value(value: Option<&str>) -> Result<InvokeMode, String> {
        match value.map(str::trim) {
            None | Some("" | "BUFFERED") => Ok(InvokeMode::Buffered),
            Some("RESPONSE_STREAM") => Ok(InvokeMode::ResponseStream),
            Some(other) => Err(format!("TRIBUTARY_INVOKE_MODE is {other:?}: expected BUFFERED or RESPONSE_STREAM")),
        }
    }
}

/// [`handle`] for a function in `RESPONSE_STREAM` mode: the same answer, its body handed to
/// lambda_http's streaming runtime as the core's bytes (no copy, no text/binary split: the stream
/// carries raw bytes, never base64).
pub async fn handle_streaming(
    gateway: &Gateway,
    event: Request,
) -> Result<Response<http_body_util::Full<bytes::Bytes>>, Infallible> {
    let r = handle_core(gateway, event, &mut std::io::stdout(), env_daemon).await;
    let mut resp = Response::new(http_body_util::Full::new(r.body));
    *resp.status_mut() = r.status;
    *resp.headers_mut() = r.headers;
    Ok(resp)
}

async fn handle_full<'d>(
    gateway: &Gateway,
    event: Request,
    emf_out: &mut (dyn std::io::Write + Send),
    daemon: impl FnOnce() -> &'d XrayDaemon,
) -> Result<Response<Body>, Infallible> {
    Ok(into_lambda(handle_core(gateway, event, emf_out, daemon).await))
}

async fn handle_core<'d>(
    gateway: &Gateway,
    event: Request,
    emf_out: &mut (dyn std::io::Write + Send),
    daemon: impl FnOnce() -> &'d XrayDaemon,
) -> GatewayResponse {
    // lambda_http builds the request's URI from the `Host` header: a host holding `/`, `?` or `#`
    // would move the path and the query. Go's server refuses such a host, and so does the local
    // server; AWS's front ends do not send one, but an event may.
    if event
        .headers()
        .get(http::header::HOST)
        .is_some_and(|h| !h.as_bytes().iter().all(|b| crate::server::valid_host_byte(*b)))
    {
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/plain; charset=utf-8"));
        return GatewayResponse {
            status: http::StatusCode::BAD_REQUEST,
            headers,
            body: bytes::Bytes::from_static(b"400 Bad Request: malformed Host header"),
        };
    }
    let request_id = gateway.emf().and(event.lambda_context_ref()).map(|c| c.request_id.clone());
    let xray = event.lambda_context_ref().and_then(|c| c.xray_trace_id.as_deref()).and_then(XrayTrace::parse);
    let started = std::time::Instant::now();
    let request = into_core(event);
    let (method, path) = (request.method.clone(), request.path.clone());
    let (resp, report) = gateway.handle_traced(request, xray.as_ref()).await;
    let latency = started.elapsed();
    if let Some(xray) = xray.as_ref().filter(|x| x.records()) {
        daemon().report(xray, &report);
    }
    let line = crate::logs::RequestLine { method: method.as_str(), path: &path, status: resp.status.as_u16(), latency };
    crate::logs::request_line(&line, &report);
    if let Some(emf) = gateway.emf() {
        let timestamp_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let lines = emf.lines(&tributary_core::telemetry::emf::Invocation {
            report: &report,
            method: &method,
            status: resp.status,
            latency,
            timestamp_ms,
            request_id: request_id.as_deref().filter(|id| !id.is_empty()),
        });
        // One write: the lines stay whole beside the log lines on the same stdout.
        if let Err(e) = emf_out.write_all(lines.as_bytes()).and_then(|()| emf_out.flush()) {
            tracing::warn!(error = %e, "the EMF metric lines could not be written");
        }
    }
    resp
}

/// The invocation's deadline (milliseconds since the epoch, from the Runtime API) on the
/// runtime's clock. `None` when there is none, or when it has already passed: Lambda never hands
/// out an expired invocation, and emulators send placeholders (`cargo lambda watch` sends
/// 600000, a moment of 1970).
fn deadline(epoch_ms: u64) -> Option<tokio::time::Instant> {
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).ok()?.as_millis();
    let left = u64::try_from(u128::from(epoch_ms).checked_sub(now_ms).filter(|left| *left > 0)?).ok()?;
    Some(tokio::time::Instant::now() + std::time::Duration::from_millis(left))
}

/// The client's address from the request context (Lambda has no TCP peer of its own).
pub fn source_ip(event: &Request) -> Option<IpAddr> {
    let ip = match event.request_context_ref()? {
        RequestContext::ApiGatewayV2(ctx) => ctx.http.source_ip.clone(),
        RequestContext::ApiGatewayV1(ctx) => ctx.identity.source_ip.clone(),
        // ALB puts the client in X-Forwarded-For, which the core reads anyway.
        _ => None,
    }?;
    ip.parse().ok()
}

pub fn into_core(event: Request) -> GatewayRequest {
    let peer_ip = source_ip(&event);
    let deadline = event.lambda_context_ref().and_then(|ctx| deadline(ctx.deadline));
    let path = routed_path(&event);
    let query = query(&event);
    let (parts, body) = event.into_parts();
    let body = match body {
        Body::Empty => bytes::Bytes::new(),
        Body::Text(t) => bytes::Bytes::from(t),
        Body::Binary(b) => bytes::Bytes::from(b),
        _ => bytes::Bytes::new(),
    };
    let path = if path.is_empty() { parts.uri.path().to_owned() } else { path };
    GatewayRequest { method: parts.method, path, query, headers: parts.headers, body, peer_ip, deadline }
}

/// The query string. lambda_http builds a REST API or ALB event's URI from the client's `Host`
/// header, so a `Host` such as `a?b` moves text into the URI's query: those take the parameters
/// lambda_http read from the event (the same string it appends to the URI). An HTTP API event's
/// URI carries its `rawQueryString` as sent (its host is the API's own).
fn query(event: &Request) -> String {
    match event.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(_) | RequestContext::Alb(_)) => {
            event.query_string_parameters_ref().map(|q| q.to_query_string()).unwrap_or_default()
        }
        _ => event.uri().query().unwrap_or("").to_owned(),
    }
}

/// The path to route: the event's raw path (lambda_http's URI has dot segments resolved, which
/// would hide `/users/..` from the gateway's guard), without an HTTP API's named stage, which
/// AWS puts in `rawPath` (`/prod/users/1`).
pub fn routed_path(event: &Request) -> String {
    let raw = event.raw_http_path();
    if let Some(RequestContext::ApiGatewayV2(ctx)) = event.request_context_ref()
        && let Some(stage) = ctx.stage.as_deref().filter(|s| !s.is_empty() && *s != "$default")
    {
        let prefix = format!("/{stage}");
        if let Some(rest) = raw.strip_prefix(&prefix) {
            if rest.is_empty() {
                return "/".to_owned();
            }
            if rest.starts_with('/') {
                return rest.to_owned();
            }
        }
    }
    raw.to_owned()
}

pub fn into_lambda(r: GatewayResponse) -> Response<Body> {
    let textual = r.headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_none_or(is_text);
    let body = if r.body.is_empty() {
        Body::Empty
    } else if textual {
        match String::from_utf8(r.body.to_vec()) {
            Ok(s) => Body::Text(s),
            Err(e) => Body::Binary(e.into_bytes()),
        }
    } else {
        Body::Binary(r.body.to_vec())
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = r.status;
    *resp.headers_mut() = r.headers;
    resp
}

fn is_text(content_type: &str) -> bool {
    let ct = content_type.to_ascii_lowercase();
    ct.starts_with("text/")
        || ct.contains("json")
        || ct.contains("xml")
        || ct.contains("yaml")
        || ct.contains("javascript")
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_deadline_in_the_past_or_a_placeholder_is_no_deadline() {
        assert!(super::deadline(0).is_none());
        assert!(super::deadline(600_000).is_none(), "cargo lambda watch's placeholder");
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
        let d = super::deadline(now + 5_000).expect("a deadline 5 s away");
        let left = d - tokio::time::Instant::now();
        assert!(left <= std::time::Duration::from_secs(5) && left > std::time::Duration::from_secs(3), "{left:?}");
    }

    use super::*;

    #[test]
    fn the_invoke_mode_defaults_to_buffered_and_refuses_unknown_names() {
        assert_eq!(InvokeMode::from_env_value(None), Ok(InvokeMode::Buffered));
        assert_eq!(InvokeMode::from_env_value(Some("")), Ok(InvokeMode::Buffered));
        assert_eq!(InvokeMode::from_env_value(Some("BUFFERED")), Ok(InvokeMode::Buffered));
        assert_eq!(InvokeMode::from_env_value(Some("RESPONSE_STREAM")), Ok(InvokeMode::ResponseStream));
        for wrong in ["STREAM", "response_stream", "STREAMING"] {
            let e = InvokeMode::from_env_value(Some(wrong)).expect_err(wrong);
            assert!(e.contains(wrong) && e.contains("RESPONSE_STREAM"), "{e}");
        }
    }

    fn alb_event(host: &str) -> Request {
        let event = serde_json::json!({
            "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/t/1"}},
            "httpMethod": "GET", "path": "/users", "queryStringParameters": {"x": "1 2"},
            "headers": {"host": host}, "isBase64Encoded": false, "body": null
        });
        lambda_http::request::from_str(&event.to_string()).expect("an ALB event")
    }

    #[test]
    fn an_alb_host_header_holding_a_question_mark_does_not_leak_into_the_query() {
        let core = into_core(alb_event("a?b"));
        assert_eq!((core.path.as_str(), core.query.as_str()), ("/users", "x=1+2"));
        assert_eq!(into_core(alb_event("example.com")).query, "x=1+2");
    }
}
