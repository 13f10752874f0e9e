//! The `Gateway`: the compiled config plus per-instance state (the HTTP client pool), and the
//! one function that runs the pipeline for a request: route, guard, prepare, call, render.

use crate::backend::BackendError;
use crate::builtin;
use crate::compile::{self, Compiled, Output, ServerSettings};
use crate::config::{self, ConfigError, Problem};
use crate::jwt::Rejection;
use crate::proxy::{self, CallContext};
use crate::qos::ratelimit::{ClientKey, Verdict};
use crate::render::{self, TEXT_UTF8, X_KRAKEND, X_KRAKEND_COMPLETED};
use crate::request::{GatewayRequest, GatewayResponse};
use crate::router::{Lookup, RouteTarget};
use crate::telemetry::trace::{CallTrace, RequestTrace, Tracer};
use crate::telemetry::xray::XrayTrace;
use crate::telemetry::{Observer, Report, TelemetrySettings};
use bytes::Bytes;
use http::header::{ALLOW, CONTENT_TYPE, HeaderValue, LOCATION};
use http::{Method, StatusCode};
use percent_encoding::percent_decode_str;
use std::borrow::Cow;

/// Time spent in each start-up phase (parse and validate; compile, client pool included).
#[derive(Debug, Clone, Copy)]
pub struct BuildTimings {
    pub parse: std::time::Duration,
    pub compile: std::time::Duration,
}

/// A running gateway: built once (at start or cold start), shared by every request.
pub struct Gateway {
    compiled: Compiled,
    client: crate::client::HttpClient,
    warnings: Vec<Problem>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway").field("endpoints", &self.compiled.endpoints.len()).finish()
    }
}

impl Gateway {
    /// Parse, validate and compile a KrakenD v3 config. All errors come back at once.
    pub fn from_json(text: &str) -> Result<Gateway, ConfigError> {
        Self::from_json_timed(text).map(|(g, _)| g)
    }

    /// [`Gateway::from_json`], also reporting how long each start-up phase took.
    pub fn from_json_timed(text: &str) -> Result<(Gateway, BuildTimings), ConfigError> {
        let t0 = std::time::Instant::now();
        let parsed = config::parse_and_validate(text)?;
        let t1 = std::time::Instant::now();
        let compiled =
            compile::compile(&parsed).map_err(|errors| ConfigError { errors, warnings: parsed.warnings.clone() })?;
        let client = compiled.http.clone();
        let timings = BuildTimings { parse: t1 - t0, compile: t1.elapsed() };
        let mut warnings = parsed.warnings;
        warnings.extend(compiled.warnings.iter().cloned());
        Ok((Gateway { compiled, client, warnings }, timings))
    }

    /// How many endpoints are served.
    pub fn endpoint_count(&self) -> usize {
        self.compiled.endpoints.len()
    }

    /// Keys and namespaces of the config that Tributary accepted but does not implement.
    pub fn warnings(&self) -> &[Problem] {
        &self.warnings
    }

    /// The service's server settings (port, listen IP, server timeouts) for the doors.
    pub fn server_settings(&self) -> &ServerSettings {
        &self.compiled.server
    }

    /// Runs the pipeline for one request. Never fails: every fault is an HTTP answer.
    pub async fn handle(&self, req: GatewayRequest) -> GatewayResponse {
        self.handle_reported(req).await.0
    }

    /// What the doors read to set up logs, metrics and traces.
    pub fn telemetry(&self) -> &TelemetrySettings {
        &self.compiled.telemetry.settings
    }

    /// The client's IP as the pipeline sees it (gin's `ClientIP`: the `router` settings
    /// `forwarded_by_client_ip`, `remote_ip_headers` and `trusted_proxies` apply), for the
    /// access log.
    pub fn client_ip(&self, headers: &http::HeaderMap, peer: Option<std::net::IpAddr>) -> Option<String> {
        builtin::client_ip(&self.compiled.settings, headers, peer)
    }

    /// [`Gateway::handle`], also telling what happened (the endpoint, its completeness, the
    /// backends that failed) for the door's log line.
    pub async fn handle_reported(&self, req: GatewayRequest) -> (GatewayResponse, Report) {
        self.handle_traced(req, None).await
    }

    /// [`Gateway::handle_reported`] within an X-Ray trace (a Lambda invocation's, with active
    /// tracing): its backend calls carry it on, each as the `Parent`, and their span ids are in
    /// the report's calls for the door to send as subsegments.
    pub async fn handle_traced(&self, req: GatewayRequest, xray: Option<&XrayTrace>) -> (GatewayResponse, Report) {
        let mut report = Report::default();
        let tracer = self.compiled.telemetry.tracer.as_ref();
        // Boxed: the request's future stays small (and as fast to move) when tracing is off.
        let trace = tracer.and_then(|t| t.start(&req.method, &req.path, &req.headers)).map(Box::new);
        let traces = Traces { tracer, trace: trace.as_deref(), xray };
        let resp = match &self.compiled.telemetry.metrics {
            None => self.handle_into(req, &mut report, traces).await,
            Some(metrics) => {
                // The OTLP metrics export starts with the first request when the door did not
                // start it (the Lambda function, an embedding program).
                self.compiled.telemetry.start_exporters();
                metrics.request_started();
                let started = std::time::Instant::now();
                let (method, skipped) = (req.method.clone(), metrics.skips(&req.path));
                let resp = self.handle_into(req, &mut report, traces).await;
                metrics.record_request(&report, &method, skipped, resp.status, resp.body.len(), started.elapsed());
                resp
            }
        };
        if let (Some(tracer), Some(trace)) = (tracer, trace) {
            tracer.finish(*trace, resp.status, &mut report);
        }
        (resp, report)
    }

    /// The metrics registry, when `telemetry/metrics`, a Prometheus exporter or an OTLP/HTTP
    /// exporter with metrics is configured: the doors serve its renderings.
    pub fn metrics(&self) -> Option<&crate::telemetry::Metrics> {
        self.compiled.telemetry.metrics.as_deref()
    }

    /// Starts the background exports that run on their own clock (OTLP metrics, every
    /// `metric_reporting_period`) on the current runtime; the local server calls it at start.
    /// Without a call they start with the first request. Calling it again does nothing.
    pub fn start_exporters(&self) {
        self.compiled.telemetry.start_exporters();
    }

    /// The CloudWatch EMF lines' settings, when the Lambda function writes them.
    pub fn emf(&self) -> Option<&crate::telemetry::emf::Emf> {
        self.compiled.telemetry.emf.as_ref()
    }

    /// Traces whose export was dropped (the OTLP queue was full: a slow or unreachable collector).
    pub fn traces_dropped(&self) -> u64 {
        self.compiled.telemetry.tracer.as_ref().map_or(0, |t| t.dropped())
    }

    async fn handle_into(&self, req: GatewayRequest, report: &mut Report, traces: Traces<'_>) -> GatewayResponse {
        // CORS wraps everything, as rs/cors wraps KrakenD's server: preflights never reach routing.
        let mut preflight_headers = None;
        if let Some(cors) = &self.compiled.cors
            && let Some(pf) = cors.preflight(&req)
        {
            if !pf.passthrough {
                let mut r = pf.into_response();
                if let Some(sec) = &self.compiled.security {
                    sec.decorate(&req.headers, &mut r);
                }
                return r;
            }
            preflight_headers = Some(pf.headers);
        }
        let method = req.method.clone();
        let headers = (self.compiled.cors.is_some() || self.compiled.security.is_some()).then(|| req.headers.clone());
        let (mut resp, secured) = self.serve(req, report, traces).await;
        if let Some(req_headers) = headers {
            if let Some(cors) = &self.compiled.cors {
                match preflight_headers {
                    Some(extra) => resp.headers.extend(extra),
                    None => cors.decorate(&method, &req_headers, &mut resp),
                }
            }
            if let Some(sec) = self.compiled.security.as_ref().filter(|_| secured == Secured::Yes) {
                sec.decorate(&req_headers, &mut resp);
            }
        }
        resp
    }

    /// Route, then `security/http`'s checks where KrakenD's middleware order applies them, then
    /// the endpoint.
    async fn serve(&self, req: GatewayRequest, report: &mut Report, traces: Traces<'_>) -> (GatewayResponse, Secured) {
        let settings = &self.compiled.settings;
        // route
        let Some(path) = decode_path(&req.path) else {
            return (plain(StatusCode::BAD_REQUEST, "400 Bad Request"), Secured::No);
        };
        let lookup = self.compiled.router.lookup(
            &req.method,
            &path,
            settings.redirect_trailing_slash,
            settings.redirect_fixed_path,
            settings.handle_method_not_allowed,
        );
        // gin answers redirects before any middleware, and KrakenD registers `/__health` before
        // `security/http`'s: neither is checked nor decorated by it (SEMANTICS 8.3).
        match &lookup {
            Lookup::Redirect(_) | Lookup::Found(RouteTarget::Health, _) => {}
            _ => {
                if let Some(sec) = &self.compiled.security {
                    let target = if req.query.is_empty() {
                        Cow::Borrowed(&req.path)
                    } else {
                        Cow::Owned(format!("{}?{}", req.path, req.query))
                    };
                    if let Some(r) = sec.check(&req.headers, &target) {
                        return (r, Secured::No);
                    }
                }
            }
        }
        let (target, values) = match lookup {
            Lookup::Found(t, v) => (t, v),
            Lookup::Redirect(to) => return (self.redirect(&req, to), Secured::No),
            Lookup::MethodNotAllowed(allow) => {
                let mut r = self.not_routed(StatusCode::METHOD_NOT_ALLOWED);
                r.headers.insert(ALLOW, allow);
                return (r, Secured::Yes);
            }
            Lookup::NotFound => return (self.not_routed(StatusCode::NOT_FOUND), Secured::Yes),
        };
        let endpoint = match target {
            RouteTarget::Endpoint(i) => &self.compiled.endpoints[*i],
            RouteTarget::Health => return (builtin::health(), Secured::No),
            RouteTarget::Debug => return (builtin::debug(), Secured::Yes),
            RouteTarget::Echo => return (builtin::echo(&req), Secured::Yes),
            RouteTarget::Options(allow) => {
                let mut r = GatewayResponse::new(StatusCode::OK);
                r.headers.insert(ALLOW, allow.clone());
                r.headers.insert(X_KRAKEND, settings.version_header.clone());
                return (r, Secured::Yes);
            }
        };
        report.endpoint = Some(endpoint.id.clone());
        let observer = self.compiled.telemetry.observer(traces.for_endpoint(&endpoint.id.pattern));
        let metrics = self.compiled.telemetry.metrics.as_ref();
        let pipe_started = metrics.map(|_| std::time::Instant::now());
        let resp = self.run_endpoint(endpoint, &req, &values, &observer).await;
        observer.into_report(report);
        report.completed = resp.headers.get(X_KRAKEND_COMPLETED).map(|v| v.as_bytes() == b"true");
        if let (Some(m), Some(t)) = (metrics, pipe_started) {
            m.record_pipe(endpoint.id.index, t.elapsed(), report);
        }
        (resp, Secured::Yes)
    }

    /// Guard, prepare, call, shape, merge, render.
    async fn run_endpoint(
        &self,
        endpoint: &compile::Endpoint,
        req: &GatewayRequest,
        values: &[&str],
        observer: &Observer,
    ) -> GatewayResponse {
        let settings = &self.compiled.settings;
        // The endpoint's deadline runs from here: the token check's key download counts against it.
        let started = tokio::time::Instant::now();
        let timeout = self.timeout_for(endpoint, req, started);
        let deadline = started + timeout;
        // guard
        if settings.path_decoding && values.iter().any(|v| still_encoded(v)) {
            return plain(StatusCode::BAD_REQUEST, "error: encoded url params");
        }
        if values.iter().any(|v| crate::request::escapes_its_segment(v)) {
            return plain(StatusCode::BAD_REQUEST, "error: invalid url params");
        }
        let claims = match &endpoint.jwt {
            Some(jwt) => match tokio::time::timeout_at(deadline, jwt.check(&req.headers)).await.unwrap_or_else(|_| {
                Err(Rejection::Unauthorized("the key set did not arrive before the endpoint's timeout".into()))
            }) {
                Ok(claims) => Some(claims),
                Err(Rejection::Unauthorized(why)) => {
                    tracing::debug!(endpoint = %endpoint.label, reason = %why, "token rejected");
                    return GatewayResponse::new(StatusCode::UNAUTHORIZED);
                }
                Err(Rejection::Forbidden(why)) => {
                    tracing::debug!(endpoint = %endpoint.label, reason = %why, "token lacks a role or scope");
                    return GatewayResponse::new(StatusCode::FORBIDDEN);
                }
            },
            None => None,
        };
        let params: Vec<String> = values.iter().map(|v| (*v).to_owned()).collect();
        let client_ip = builtin::client_ip(settings, &req.headers, req.peer_ip);
        if let Some(limiter) = &endpoint.limiter {
            let key = limiter.clients.as_ref().map(|(k, _)| client_key(k, &req.headers, &params, client_ip.as_deref()));
            match limiter.check(key.flatten().as_deref(), tokio::time::Instant::now()) {
                Verdict::Allowed => {}
                Verdict::ClientLimited => return GatewayResponse::new(StatusCode::TOO_MANY_REQUESTS),
                Verdict::EndpointLimited => return GatewayResponse::new(StatusCode::SERVICE_UNAVAILABLE),
            }
        }
        // prepare
        let headers = match (&endpoint.jwt, &claims) {
            (Some(jwt), Some(c)) => {
                // Claims become request headers first; `input_headers` then decides what passes.
                let mut with_claims = req.headers.clone();
                let pairs = jwt.propagated_headers(c);
                for (name, _) in &pairs {
                    with_claims.remove(name);
                }
                for (name, value) in pairs {
                    with_claims.append(name, value);
                }
                crate::prepare::endpoint_headers(&with_claims, &endpoint.headers, client_ip.as_deref())
            }
            _ => crate::prepare::endpoint_headers(&req.headers, &endpoint.headers, client_ip.as_deref()),
        };
        let query = crate::prepare::parse_query(&req.query);
        let ctx = CallContext {
            client: &self.client,
            deadline,
            timeout,
            claims: claims.as_ref(),
            params: &params,
            query: &query,
            headers: &headers,
            body: &req.body,
            observer,
        };
        // call, shape, merge, render
        if endpoint.output == Output::NoOp {
            return self.no_op(endpoint, &ctx, started).await;
        }
        let outcome = proxy::run(endpoint, &ctx, started).await;
        if let Some(e) = &outcome.error {
            tracing::debug!(endpoint = %endpoint.label, error = %e.text, "backend error");
        }
        render::render(endpoint, settings, outcome, req.headers.get(http::header::ACCEPT))
    }

    /// `no-op`: the backend's status, headers and body pass through untouched (SEMANTICS 4.7).
    async fn no_op(
        &self,
        endpoint: &compile::Endpoint,
        ctx: &CallContext<'_>,
        started: tokio::time::Instant,
    ) -> GatewayResponse {
        let settings = &self.compiled.settings;
        let backend = &endpoint.backends[0];
        let deadline = started + ctx.timeout;
        let result = match tokio::time::timeout_at(deadline, proxy::exchange(endpoint, backend, ctx, &[])).await {
            Ok(r) => r,
            Err(_) => Err(BackendError::deadline()),
        };
        let mut resp = GatewayResponse::new(StatusCode::OK);
        match result {
            Ok((_, raw)) => {
                resp.status = raw.status;
                // The backend's map is moved, not copied; only the framing headers go.
                resp.headers = raw.headers;
                for framing in [http::header::CONTENT_LENGTH, http::header::TRANSFER_ENCODING, http::header::CONNECTION]
                {
                    resp.headers.remove(framing);
                }
                resp.body = raw.body;
            }
            Err(e) => {
                ctx.observer.backend_failed(backend.index, &backend.url_pattern, &e.text);
                resp.status = StatusCode::INTERNAL_SERVER_ERROR;
                if settings.return_error_msg {
                    resp.body = Bytes::from(e.text);
                    resp.headers.insert(CONTENT_TYPE, TEXT_UTF8);
                }
            }
        }
        resp.headers.insert(X_KRAKEND, settings.version_header.clone());
        resp.headers.insert(X_KRAKEND_COMPLETED, HeaderValue::from_static("false"));
        resp
    }

    /// The endpoint's `timeout`, cut short when the request must be answered sooner (a Lambda
    /// invocation's deadline less `tributary/lambda.deadline_margin`): the answer then follows
    /// KrakenD's rules for what has arrived by then, instead of the function being stopped.
    fn timeout_for(
        &self,
        endpoint: &compile::Endpoint,
        req: &GatewayRequest,
        started: tokio::time::Instant,
    ) -> std::time::Duration {
        let Some(until) = req.deadline else {
            return endpoint.timeout;
        };
        let left = until.saturating_duration_since(started).saturating_sub(self.compiled.settings.deadline_margin);
        if left < endpoint.timeout {
            tracing::warn!(
                endpoint = %endpoint.label,
                timeout_ms = endpoint.timeout.as_millis() as u64,
                left_ms = left.as_millis() as u64,
                "the invocation's deadline comes before the endpoint's timeout: answering with what has arrived by then"
            );
            return left;
        }
        endpoint.timeout
    }

    fn redirect(&self, req: &GatewayRequest, to: String) -> GatewayResponse {
        let status =
            if req.method == Method::GET { StatusCode::MOVED_PERMANENTLY } else { StatusCode::TEMPORARY_REDIRECT };
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

    fn not_routed(&self, status: StatusCode) -> GatewayResponse {
        let settings = &self.compiled.settings;
        let custom = if status == StatusCode::NOT_FOUND { &settings.error_body_404 } else { &settings.error_body_405 };
        let mut r = GatewayResponse::new(status);
        match custom {
            Some(body) => {
                r.headers.insert(CONTENT_TYPE, render::JSON_UTF8);
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
}

/// The client's key for the per-client rate limit (`None`: no key, which KrakenD answers 429).
fn client_key<'a>(
    key: &ClientKey,
    headers: &'a http::HeaderMap,
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
                .and_then(builtin::ip_from_key_header)
                .map(Cow::Owned);
            from_header.or(client_ip.map(Cow::Borrowed))
        }
    }
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

/// KrakenD's check: a parameter that still holds a `%xx` escape, a `?` or a `#` after decoding.
fn still_encoded(v: &str) -> bool {
    v.contains(['?', '#']) || (v.contains('%') && percent_decode_str(v).decode_utf8().is_ok_and(|d| d != v))
}

/// A request's trace contexts on their way to its endpoint's backend calls.
struct Traces<'a> {
    tracer: Option<&'a Tracer>,
    trace: Option<&'a RequestTrace>,
    xray: Option<&'a XrayTrace>,
}

impl Traces<'_> {
    /// What the endpoint's backend calls carry; an endpoint in `skip_paths` is not traced.
    fn for_endpoint(self, pattern: &str) -> Option<Box<CallTrace>> {
        let w3c = match (self.tracer, self.trace) {
            (Some(tracer), Some(trace)) if tracer.skips(pattern) => {
                trace.skip();
                None
            }
            (_, Some(trace)) => trace.for_calls().w3c,
            _ => None,
        };
        (w3c.is_some() || self.xray.is_some()).then(|| Box::new(CallTrace { w3c, xray: self.xray.cloned() }))
    }
}

/// Whether `security/http` applies to an answer (its headers are added), as KrakenD's middleware
/// order decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Secured {
    Yes,
    No,
}

fn plain(status: StatusCode, text: &'static str) -> GatewayResponse {
    let mut r = GatewayResponse::new(status);
    r.headers.insert(CONTENT_TYPE, TEXT_UTF8);
    r.body = Bytes::from_static(text.as_bytes());
    r
}
