//! The `Gateway`: the compiled config plus per-instance state (the HTTP client pool), and the
//! one place that runs the pipeline's phases, in order, for a request: route, guard, prepare,
//! call (which prepares, shapes and merges each backend's answer as it arrives), render.
//! Building it (`compile`) turns the config into the model the phases read.

pub(crate) mod compile;

use crate::call::{self, CallContext};
use crate::config::{self, ConfigError, Problem};
use crate::guard::{self, Preflight};
use crate::message::{GatewayRequest, GatewayResponse, X_KRAKEND_COMPLETED, parse_query};
use crate::model::{Endpoint, Output, Secured, ServerSettings};
use crate::net;
use crate::route::{self, Routed};
use crate::telemetry::trace::{CallTrace, RequestTrace, Tracer};
use crate::telemetry::xray::XrayTrace;
use crate::telemetry::{Observer, Report, TelemetrySettings};
use crate::validation::cel::{Refusal, RequestView, ResponseView};
use crate::{prepare, render};
use compile::Compiled;

/// Time spent in each start-up phase (parse and validate; compile, client pool included).
#[derive(Debug, Clone, Copy)]
pub struct BuildTimings {
    pub parse: std::time::Duration,
    pub compile: std::time::Duration,
}

/// A running gateway: built once (at start or cold start), shared by every request.
pub struct Gateway {
    compiled: Compiled,
    client: crate::transport::HttpClient,
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

    /// [`Gateway::from_json`], with the door's AWS request signer (see
    /// [`Gateway::from_json_timed_with`]).
    pub fn from_json_with(
        text: &str,
        aws: Option<std::sync::Arc<dyn crate::AwsSigner>>,
    ) -> Result<Gateway, ConfigError> {
        Self::from_json_timed_with(text, aws).map(|(g, _)| g)
    }

    /// [`Gateway::from_json`], also reporting how long each start-up phase took.
    pub fn from_json_timed(text: &str) -> Result<(Gateway, BuildTimings), ConfigError> {
        Self::from_json_timed_with(text, None)
    }

    /// [`Gateway::from_json_timed`], with the door's AWS request signer for `backend/lambda`
    /// backends (without one, their calls fail for want of credentials).
    pub fn from_json_timed_with(
        text: &str,
        aws: Option<std::sync::Arc<dyn crate::AwsSigner>>,
    ) -> Result<(Gateway, BuildTimings), ConfigError> {
        let t0 = std::time::Instant::now();
        let parsed = config::parse_and_validate(text)?;
        let t1 = std::time::Instant::now();
        let mut compiled =
            compile::compile(&parsed).map_err(|errors| ConfigError { errors, warnings: parsed.warnings.clone() })?;
        let lambdas = compiled.endpoints.iter_mut().flat_map(|e| &mut e.backends).filter_map(|b| b.lambda.as_mut());
        for lambda in lambdas {
            lambda.invoker.signer.clone_from(&aws);
        }
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
        net::client_ip(&self.compiled.settings.client_ip, headers, peer)
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
        let (cors, security) = (self.compiled.cors.as_ref(), self.compiled.security.as_ref());
        // guard: CORS wraps everything, as rs/cors wraps KrakenD's server.
        let preflight_headers = match guard::preflight(cors, security, &req) {
            Preflight::Continue(headers) => headers,
            Preflight::Answered(answer) => return answer,
        };
        let method = req.method.clone();
        let headers = (cors.is_some() || security.is_some()).then(|| req.headers.clone());
        let (mut resp, secured) = self.serve(req, report, traces).await;
        if let Some(req_headers) = headers {
            guard::decorate(cors, security, &method, &req_headers, preflight_headers, secured, &mut resp);
        }
        resp
    }

    /// Route (with `security/http`'s checks where KrakenD's middleware order applies them), then
    /// the endpoint under its telemetry.
    async fn serve(&self, req: GatewayRequest, report: &mut Report, traces: Traces<'_>) -> (GatewayResponse, Secured) {
        let settings = &self.compiled.settings;
        // 1. route
        let Some(path) = route::decode_path(&req.path) else {
            return (route::bad_path(), Secured::No);
        };
        let lookup = route::lookup(&self.compiled.router, settings, &req.method, &path);
        // 2. guard: `security/http` checks what routing answers too, but redirects and `/__health`.
        if route::checked_by_security(&lookup) {
            if let Some(refused) = guard::host(self.compiled.security.as_ref(), &req) {
                return (refused, Secured::No);
            }
            // The service's bot detector: a middleware of the same engine, after `security/http`.
            if let Some(refused) = self.compiled.bots.as_ref().and_then(|b| guard::bot(b, &req.headers)) {
                return (refused, Secured::Yes);
            }
        }
        let (index, values) = match route::dispatch(lookup, &req, settings) {
            Routed::Endpoint(index, values) => (index, values),
            Routed::Answer(answer, secured) => return (answer, secured),
        };
        let endpoint = &self.compiled.endpoints[index];
        report.endpoint = Some(endpoint.id.clone());
        // The endpoint's bot detector wraps its whole handler, telemetry included.
        if let Some(refused) = endpoint.bots.as_ref().and_then(|b| guard::bot(b, &req.headers)) {
            return (refused, Secured::Yes);
        }
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

    /// Guard, prepare, call (prepare, shape and merge per backend), render.
    async fn run_endpoint(
        &self,
        endpoint: &Endpoint,
        req: &GatewayRequest,
        values: &[&str],
        observer: &Observer,
    ) -> GatewayResponse {
        let settings = &self.compiled.settings;
        // The endpoint's deadline runs from here: the token check's key download counts against it.
        let started = tokio::time::Instant::now();
        let timeout = self.timeout_for(endpoint, req, started);
        let deadline = started + timeout;
        // 2. guard
        if let Some(refused) = guard::params(settings, values) {
            return refused;
        }
        let claims = match &endpoint.jwt {
            Some(jwt) => match guard::token(jwt, &endpoint.label, &req.headers, deadline).await {
                Ok(claims) => Some(claims),
                Err(refused) => return refused,
            },
            None => None,
        };
        let params: Vec<String> = values.iter().map(|v| (*v).to_owned()).collect();
        let client_ip = net::client_ip(&settings.client_ip, &req.headers, req.peer_ip);
        if let Some(limiter) = &endpoint.limiter
            && let Some(refused) = guard::rate_limit(limiter, &req.headers, &params, client_ip.as_deref())
        {
            return refused;
        }
        // 3. prepare: what every backend's request starts from
        let headers = prepare::request_headers(endpoint, &req.headers, claims.as_ref(), client_ip.as_deref());
        let query = parse_query(&req.query);
        // The endpoint's `validation/cel` request checks, before any backend (and before `static`).
        if let Some(cel) = endpoint.cel.as_deref().filter(|c| c.checks_requests()) {
            let path = route::decode_path(&req.path).unwrap_or(std::borrow::Cow::Borrowed(&req.path));
            let view = RequestView {
                method: req.method.as_str(),
                path: &path,
                params: &params,
                headers: &headers,
                query: &query,
                keep_query: &|k| endpoint.query.keeps(k),
            };
            if let Err(refusal) = cel.check_request(&view) {
                return render::render(endpoint, settings, refused(endpoint, &refusal), None);
            }
        }
        // The request body's schema: after the endpoint's CEL checks (krakend-cel's proxy wraps
        // krakend-jsonschema's), before any backend.
        if let Some(schema) = &endpoint.json_schema
            && let Some(refused) = guard::json_schema(schema, settings, &req.body)
        {
            return refused;
        }
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
        // 4. call, which prepares each backend's request, 5. shapes its answer and 6. merges it
        if endpoint.output == Output::NoOp {
            let mut result = call::pass_through(endpoint, &ctx, started).await;
            if let Some(cel) = endpoint.cel.as_deref().filter(|c| c.checks_responses())
                && let Ok(raw) = &result
            {
                let view = ResponseView {
                    data: None,
                    complete: true,
                    status: raw.status.as_u16(),
                    headers: Some(&raw.headers),
                };
                if let Err(refusal) = cel.check_response(&view) {
                    tracing::debug!(endpoint = %endpoint.label, reason = %refusal.reason, "{refusal}");
                    result = Err(crate::model::BackendError::plain(refusal.to_string()));
                }
            }
            // 7. render
            return render::pass_through(settings, result);
        }
        let mut outcome = call::run(endpoint, &ctx, started).await;
        // The endpoint's `validation/cel` response checks, on the merged answer; a failed call
        // (an error, a partial answer) skips them, as in krakend-cel.
        if let Some(cel) = endpoint.cel.as_deref().filter(|c| c.checks_responses())
            && outcome.error.is_none()
        {
            let data = match &outcome.response {
                Some(part) if cel.reads_response_data() => part.data.clone().map(|d| d.into_tree()),
                _ => None,
            };
            let view = ResponseView {
                data: data.as_ref(),
                complete: outcome.response.as_ref().is_some_and(|p| p.complete),
                status: 0,
                headers: None,
            };
            if let Err(refusal) = cel.check_response(&view) {
                outcome = refused(endpoint, &refusal);
            }
        }
        if let Some(e) = &outcome.error {
            tracing::debug!(endpoint = %endpoint.label, error = %e.text, "backend error");
        }
        // 7. render
        render::render(endpoint, settings, outcome, req.headers.get(http::header::ACCEPT))
    }

    /// The endpoint's `timeout`, cut short when the request must be answered sooner (a Lambda
    /// invocation's deadline less `tributary/lambda.deadline_margin`): the answer then follows
    /// KrakenD's rules for what has arrived by then, instead of the function being stopped.
    fn timeout_for(
        &self,
        endpoint: &Endpoint,
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
}

/// A `validation/cel` refusal of the endpoint as lura answers it: no data and the evaluator's error.
fn refused(endpoint: &Endpoint, refusal: &Refusal) -> crate::model::Outcome {
    tracing::debug!(endpoint = %endpoint.label, reason = %refusal.reason, "{refusal}");
    crate::model::Outcome { response: None, error: Some(crate::model::BackendError::plain(refusal.to_string())) }
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
