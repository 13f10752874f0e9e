//! Phase 2, guard: what may refuse a request before any backend is called, in KrakenD's
//! middleware order: CORS preflights (before routing), `security/http`'s host checks (after
//! routing), the bot detector (the service's, then the endpoint's), KrakenD's and our parameter
//! checks, the token (`auth/validator`), the endpoint's rate limits and its request-body schema
//! (`validation/json-schema`). Each feature gives a verdict; this phase turns it into the answer
//! KrakenD gives. It also puts the CORS and `security/http` headers on the final answer.

use crate::auth::jwt::{Claims, JwtValidator, Rejection};
use crate::message::{
    GatewayRequest, GatewayResponse, TEXT_UTF8, X_KRAKEND, X_KRAKEND_COMPLETED, escapes_its_segment, plain,
};
use crate::model::{Secured, Settings};
use crate::net;
use crate::qos::ratelimit::{ClientKey, RouterLimiter, Verdict};
use crate::security::botdetector::BotDetector;
use crate::security::cors::Cors;
use crate::security::http::SecurityHttp;
use crate::validation::schema::JsonSchema;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use percent_encoding::percent_decode_str;
use std::borrow::Cow;
use tokio::time::Instant;

/// What CORS makes of a request before routing.
pub(crate) enum Preflight {
    /// A preflight, answered here.
    Answered(GatewayResponse),
    /// Any other request, with the headers of a preflight that passes through.
    Continue(Option<HeaderMap>),
}

/// CORS answers preflights for any path, before routing, as rs/cors wraps KrakenD's server.
pub(crate) fn preflight(cors: Option<&Cors>, security: Option<&SecurityHttp>, req: &GatewayRequest) -> Preflight {
    if let Some(cors) = cors
        && let Some(pf) = cors.preflight(req)
    {
        if !pf.passthrough {
            let mut r = pf.into_response();
            if let Some(sec) = security {
                sec.decorate(&req.headers, &mut r);
            }
            return Preflight::Answered(r);
        }
        return Preflight::Continue(Some(pf.headers));
    }
    Preflight::Continue(None)
}

/// The CORS headers (a passed-through preflight's, or an actual request's) and, where
/// KrakenD's middleware order applies them, `security/http`'s, on the final answer.
pub(crate) fn decorate(
    cors: Option<&Cors>,
    security: Option<&SecurityHttp>,
    method: &Method,
    req_headers: &HeaderMap,
    preflight_headers: Option<HeaderMap>,
    secured: Secured,
    resp: &mut GatewayResponse,
) {
    if let Some(cors) = cors {
        match preflight_headers {
            Some(extra) => resp.headers.extend(extra),
            None => cors.decorate(method, req_headers, resp),
        }
    }
    if let Some(sec) = security.filter(|_| secured == Secured::Yes) {
        sec.decorate(req_headers, resp);
    }
}

/// `security/http`'s checks of the request (allowed hosts, and the rest of unrolled/secure's).
pub(crate) fn host(security: Option<&SecurityHttp>, req: &GatewayRequest) -> Option<GatewayResponse> {
    let sec = security?;
    let target =
        if req.query.is_empty() { Cow::Borrowed(&req.path) } else { Cow::Owned(format!("{}?{}", req.path, req.query)) };
    sec.check(&req.headers, &target)
}

/// `security/bot-detector`: a bot gets krakend-botdetector's answer, `403` with an empty body
/// and no `Content-Type`.
pub(crate) fn bot(detector: &BotDetector, headers: &HeaderMap) -> Option<GatewayResponse> {
    if !detector.is_bot(headers) {
        return None;
    }
    tracing::debug!(user_agent = ?headers.get(http::header::USER_AGENT), "bot rejected");
    Some(GatewayResponse::new(StatusCode::FORBIDDEN))
}

/// The path parameters: KrakenD refuses one still encoded after decoding; Tributary also
/// refuses one that would step out of its backend path segment.
pub(crate) fn params(settings: &Settings, values: &[&str]) -> Option<GatewayResponse> {
    if settings.path_decoding && values.iter().any(|v| still_encoded(v)) {
        return Some(plain(StatusCode::BAD_REQUEST, "error: encoded url params"));
    }
    if values.iter().any(|v| escapes_its_segment(v)) {
        return Some(plain(StatusCode::BAD_REQUEST, "error: invalid url params"));
    }
    None
}

/// The token check of `auth/validator`, within the endpoint's deadline (a key download counts
/// against it): `401` for a bad token, `403` for missing roles or scopes, with empty bodies.
pub(crate) async fn token(
    jwt: &JwtValidator,
    label: &str,
    headers: &HeaderMap,
    deadline: Instant,
) -> Result<Claims, GatewayResponse> {
    match tokio::time::timeout_at(deadline, jwt.check(headers)).await.unwrap_or_else(|_| {
        Err(Rejection::Unauthorized("the key set did not arrive before the endpoint's timeout".into()))
    }) {
        Ok(claims) => Ok(claims),
        Err(Rejection::Unauthorized(why)) => {
            tracing::debug!(endpoint = %label, reason = %why, "token rejected");
            Err(GatewayResponse::new(StatusCode::UNAUTHORIZED))
        }
        Err(Rejection::Forbidden(why)) => {
            tracing::debug!(endpoint = %label, reason = %why, "token lacks a role or scope");
            Err(GatewayResponse::new(StatusCode::FORBIDDEN))
        }
    }
}

/// The endpoint's rate limits (`qos/ratelimit/router`): `429` when the client's own limit is
/// spent, `503` when the endpoint's is.
pub(crate) fn rate_limit(
    limiter: &RouterLimiter,
    headers: &HeaderMap,
    params: &[String],
    client_ip: Option<&str>,
) -> Option<GatewayResponse> {
    let key = limiter.clients.as_ref().map(|(k, _)| client_key(k, headers, params, client_ip));
    match limiter.check(key.flatten().as_deref(), Instant::now()) {
        Verdict::Allowed => None,
        Verdict::ClientLimited => Some(GatewayResponse::new(StatusCode::TOO_MANY_REQUESTS)),
        Verdict::EndpointLimited => Some(GatewayResponse::new(StatusCode::SERVICE_UNAVAILABLE)),
    }
}

/// `validation/json-schema`: the body against the endpoint's schema, before any backend call.
/// KrakenD refuses inside the endpoint's proxy, so the answer is its error answer: `400`,
/// `X-KrakenD-Completed: false`, and the text only with `return_error_msg`.
pub(crate) fn json_schema(schema: &JsonSchema, settings: &Settings, body: &[u8]) -> Option<GatewayResponse> {
    let text = schema.check(body).err()?;
    let mut refused = GatewayResponse::new(StatusCode::BAD_REQUEST);
    refused.headers.insert(X_KRAKEND, settings.version_header.clone());
    refused.headers.insert(X_KRAKEND_COMPLETED, HeaderValue::from_static("false"));
    if settings.return_error_msg {
        refused.headers.insert(http::header::CONTENT_TYPE, TEXT_UTF8);
        refused.body = bytes::Bytes::from(text);
    }
    Some(refused)
}

/// The client's key for the per-client rate limit (`None`: no key, which KrakenD answers 429).
fn client_key<'a>(
    key: &ClientKey,
    headers: &'a HeaderMap,
    params: &'a [String],
    client_ip: Option<&'a str>,
) -> Option<Cow<'a, str>> {
    match key {
        ClientKey::Header(name) => headers.get(name).and_then(|v| v.to_str().ok()).map(Cow::Borrowed),
        ClientKey::Param(i) => params.get(*i).map(|p| Cow::Borrowed(p.as_str())),
        ClientKey::Ip(from) => {
            let from_header = from
                .as_ref()
                .and_then(|h| headers.get(h))
                .and_then(|v| v.to_str().ok())
                .and_then(net::ip_from_key_header)
                .map(Cow::Owned);
            from_header.or(client_ip.map(Cow::Borrowed))
        }
    }
}

/// KrakenD's check: a parameter that still holds a `%xx` escape, a `?` or a `#` after decoding.
fn still_encoded(v: &str) -> bool {
    v.contains(['?', '#']) || (v.contains('%') && percent_decode_str(v).decode_utf8().is_ok_and(|d| d != v))
}
