//! The Lambda door: converts a `lambda_http` request (function URL, API Gateway HTTP API and REST
//! API, ALB) to a `GatewayRequest` and the `GatewayResponse` back. Types only, no logic.

use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use std::convert::Infallible;
use std::net::IpAddr;
use tributary_core::{Gateway, GatewayRequest, GatewayResponse};

/// Handles one invocation. Never fails: every fault is an HTTP answer (a failed invocation would
/// reach the client as an opaque 502 from the function URL).
pub async fn handle(gateway: &Gateway, event: Request) -> Result<Response<Body>, Infallible> {
    Ok(into_lambda(gateway.handle(into_core(event)).await))
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
    let (parts, body) = event.into_parts();
    let body = match body {
        Body::Empty => bytes::Bytes::new(),
        Body::Text(t) => bytes::Bytes::from(t),
        Body::Binary(b) => bytes::Bytes::from(b),
        _ => bytes::Bytes::new(),
    };
    GatewayRequest {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or("").to_owned(),
        headers: parts.headers,
        body,
        peer_ip,
    }
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
