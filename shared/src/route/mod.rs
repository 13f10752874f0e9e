//! Phase 1, route: the method and the percent-decoded path to an endpoint and its `{params}`,
//! with KrakenD's (gin's) answers for what does not reach one: `400` for a malformed path,
//! trailing-slash and fixed-path redirects, `405` with `Allow`, `404` (or the router's
//! `error_body`), `router.auto_options`, and the built-in endpoints (`/__health`, `/__debug/`,
//! `/__echo/`).

mod builtin;
pub(crate) mod router;

use crate::message::{GatewayRequest, GatewayResponse, JSON_UTF8, X_KRAKEND, X_KRAKEND_COMPLETED, plain};
use crate::model::{Secured, Settings};
use bytes::Bytes;
use http::header::{ALLOW, CONTENT_TYPE, HeaderValue, LOCATION};
use http::{Method, StatusCode};
use percent_encoding::percent_decode_str;
pub(crate) use router::{Lookup, RouteTarget, Router};
use std::borrow::Cow;

/// Where routing sends a request: an endpoint (its index, with the parameter values), or an
/// answer of its own.
pub(crate) enum Routed<'p> {
    Endpoint(usize, Vec<&'p str>),
    Answer(GatewayResponse, Secured),
}

/// The endpoint a decoded path reaches, or why none does, as the router's settings say.
pub(crate) fn lookup<'p>(router: &'p Router, settings: &Settings, method: &Method, path: &'p str) -> Lookup<'p> {
    router.lookup(
        method,
        path,
        settings.redirect_trailing_slash,
        settings.redirect_fixed_path,
        settings.handle_method_not_allowed,
    )
}

/// Whether `security/http`'s checks run before this lookup is answered: gin answers redirects
/// before any middleware, and KrakenD registers `/__health` before `security/http`'s.
pub(crate) fn checked_by_security(lookup: &Lookup<'_>) -> bool {
    !matches!(lookup, Lookup::Redirect(_) | Lookup::Found(RouteTarget::Health, _))
}

/// The endpoint, or routing's own answer (redirect, `405`, `404`, a built-in endpoint, an
/// automatic `OPTIONS`).
pub(crate) fn dispatch<'p>(lookup: Lookup<'p>, req: &GatewayRequest, settings: &Settings) -> Routed<'p> {
    let (target, values) = match lookup {
        Lookup::Found(t, v) => (t, v),
        Lookup::Redirect(to) => return Routed::Answer(redirect(req, to), Secured::No),
        Lookup::MethodNotAllowed(allow) => {
            let mut r = not_routed(settings, StatusCode::METHOD_NOT_ALLOWED);
            r.headers.insert(ALLOW, allow);
            return Routed::Answer(r, Secured::Yes);
        }
        Lookup::NotFound => return Routed::Answer(not_routed(settings, StatusCode::NOT_FOUND), Secured::Yes),
    };
    match target {
        RouteTarget::Endpoint(i) => Routed::Endpoint(*i, values),
        RouteTarget::Health => Routed::Answer(builtin::health(), Secured::No),
        RouteTarget::Debug => Routed::Answer(builtin::debug(), Secured::Yes),
        RouteTarget::Echo => Routed::Answer(builtin::echo(req), Secured::Yes),
        RouteTarget::Options(allow) => {
            let mut r = GatewayResponse::new(StatusCode::OK);
            r.headers.insert(ALLOW, allow.clone());
            r.headers.insert(X_KRAKEND, settings.version_header.clone());
            Routed::Answer(r, Secured::Yes)
        }
    }
}

/// The answer to a path that cannot be decoded.
pub(crate) fn bad_path() -> GatewayResponse {
    plain(StatusCode::BAD_REQUEST, "400 Bad Request")
}

fn redirect(req: &GatewayRequest, to: String) -> GatewayResponse {
    let status = if req.method == Method::GET { StatusCode::MOVED_PERMANENTLY } else { StatusCode::TEMPORARY_REDIRECT };
    let mut location = to;
    if !req.query.is_empty() {
        location.push('?');
        location.push_str(&req.query);
    }
    let mut r = GatewayResponse::new(status);
    // The location is built from the decoded path: re-encode what a header cannot hold.
    let encoded = percent_encoding::utf8_percent_encode(&location, REDIRECT_SET).to_string();
    if let Ok(v) = HeaderValue::from_str(&encoded) {
        r.headers.insert(LOCATION, v);
    }
    r
}

fn not_routed(settings: &Settings, status: StatusCode) -> GatewayResponse {
    let custom = if status == StatusCode::NOT_FOUND { &settings.error_body_404 } else { &settings.error_body_405 };
    let mut r = GatewayResponse::new(status);
    match custom {
        Some(body) => {
            r.headers.insert(CONTENT_TYPE, JSON_UTF8);
            r.body = body.clone();
        }
        None => {
            r.headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
            r.body = Bytes::from_static(if status == StatusCode::NOT_FOUND {
                b"404 page not found"
            } else {
                b"405 method not allowed"
            });
        }
    }
    r.headers.insert(X_KRAKEND, settings.version_header.clone());
    r.headers.insert(X_KRAKEND_COMPLETED, HeaderValue::from_static("false"));
    r
}

const REDIRECT_SET: &percent_encoding::AsciiSet =
    &percent_encoding::CONTROLS.add(b' ').add(b'"').add(b'<').add(b'>').add(b'`').add(b'{').add(b'}');

/// The percent-decoded path, or `None` when an escape is malformed or the bytes are not UTF-8.
pub(crate) fn decode_path(raw: &str) -> Option<Cow<'_, str>> {
    let bytes = raw.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'%' {
            let ok = bytes.get(i + 1..i + 3).is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit));
            if !ok {
                return None;
            }
        }
    }
    percent_decode_str(raw).decode_utf8().ok()
}
