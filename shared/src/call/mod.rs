//! Phase 4, call: the endpoint's backends, one, all at once, in sequence, or N concurrent copies
//! of one, each behind its circuit breaker, rate limit and cache, under the endpoint's deadline.
//!
//! Calls run concurrently (or in order for the sequential proxy), so this phase drives each
//! backend's own work as its answer arrives: it prepares the request (`prepare`), exchanges it,
//! shapes the answer (`shape`) and merges the part (`merge`). It is the one phase that imports
//! other phases, and only these three.

use crate::auth::jwt::Claims;
use crate::codec::canonical::Data;
use crate::codec::json::Object;
use crate::merge::{self, Arrivals, merge_into};
use crate::model::{Backend, BackendError, Endpoint, LambdaCall, Outcome, Part};
use crate::modifier::martian::{Martian, Outgoing};
use crate::prepare;
use crate::qos::breaker::{Breaker, Permit};
use crate::shape;
use crate::telemetry::Observer;
use crate::transport::{HttpClient, RawResponse};
use crate::validation::cel::{CelRules, Refusal, RequestView, ResponseView};
use bytes::Bytes;
use futures_util::stream::{FuturesUnordered, StreamExt};
use http::{HeaderMap, Method};
use std::borrow::Cow;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::time::{Instant, timeout_at};

/// Everything a backend call needs from the client request, prepared once per request.
pub(crate) struct CallContext<'a> {
    pub client: &'a HttpClient,
    /// The endpoint's deadline (its whole `timeout` from the start of the request).
    pub deadline: Instant,
    /// The endpoint's `timeout` for this request: shorter when the invocation's deadline
    /// (Lambda) comes first.
    pub timeout: Duration,
    /// The validated token's claims, when the endpoint has `auth/validator`.
    pub claims: Option<&'a Claims>,
    pub params: &'a [String],
    pub query: &'a [(String, String)],
    pub headers: &'a HeaderMap,
    pub body: &'a Bytes,
    /// Where backend exchanges and failures are noted for telemetry.
    pub observer: &'a Observer,
}

/// Calls the endpoint's backends, merges their parts, then applies the endpoint's own flatmap
/// and static data: the outcome rendering reads.
pub(crate) async fn run(endpoint: &Endpoint, ctx: &CallContext<'_>, started: Instant) -> Outcome {
    let mut outcome = if endpoint.backends.len() == 1 && !endpoint.sequential {
        let deadline = started + ctx.timeout;
        let backend = &endpoint.backends[0];
        let result = match timeout_at(deadline, call_concurrently(endpoint, backend, ctx, &[], started)).await {
            Ok(r) => r,
            Err(_) => Err(BackendError::deadline()),
        };
        if let Err(e) = &result {
            failed(ctx, backend, e);
        }
        merge::single(result)
    } else if endpoint.sequential {
        sequential(endpoint, ctx, started).await
    } else {
        parallel(endpoint, ctx, started).await
    };
    merge::finish(endpoint, &mut outcome);
    outcome
}

/// `no-op`: the one backend's answer as it came, for rendering untouched.
pub(crate) async fn pass_through(
    endpoint: &Endpoint,
    ctx: &CallContext<'_>,
    started: Instant,
) -> Result<RawResponse, BackendError> {
    let backend = &endpoint.backends[0];
    let deadline = started + ctx.timeout;
    // A backend without CEL checks awaits its exchange directly; with them, the checks' future is
    // boxed so that their state stays out of the plain path's.
    let result = match backend.cel.as_deref() {
        None => timeout_at(deadline, exchange(endpoint, backend, ctx, &[])).await,
        Some(cel) => timeout_at(deadline, Box::pin(checked_pass_through(cel, endpoint, backend, ctx))).await,
    };
    let result = match result {
        Ok(r) => r,
        Err(_) => Err(BackendError::deadline()),
    };
    match result {
        Ok((_, raw)) => Ok(raw),
        Err(e) => {
            failed(ctx, backend, &e);
            Err(e)
        }
    }
}

/// Notes a backend's failure for telemetry (the request's log line names it).
fn failed(ctx: &CallContext<'_>, backend: &Backend, e: &BackendError) {
    ctx.observer.backend_failed(backend.index, &backend.url_pattern, &e.text);
}

fn share(total: Duration, percent: u32) -> Duration {
    total * percent / 100
}

/// One backend call, or `concurrent_calls` copies of it where the first complete answer wins.
async fn call_concurrently(
    endpoint: &Endpoint,
    backend: &Backend,
    ctx: &CallContext<'_>,
    responses: &[Option<Object>],
    started: Instant,
) -> Result<Part, BackendError> {
    if endpoint.concurrent_calls <= 1 {
        return call(endpoint, backend, ctx, responses).await;
    }
    let deadline = started + share(ctx.timeout, 75);
    let mut calls: FuturesUnordered<_> =
        (0..endpoint.concurrent_calls).map(|_| call(endpoint, backend, ctx, responses)).collect();
    let mut last: Option<Result<Part, BackendError>> = None;
    loop {
        match timeout_at(deadline, calls.next()).await {
            Ok(Some(Ok(part))) if part.complete => return Ok(part),
            Ok(Some(result)) => last = Some(result),
            Ok(None) => break,
            Err(_) => break,
        }
    }
    last.unwrap_or_else(|| Err(BackendError::deadline()))
}

/// One backend call behind its circuit breaker and rate limit, then its status check,
/// decoding and shaping. Rate-limit rejections count as breaker failures (KrakenD's order).
async fn call(
    endpoint: &Endpoint,
    backend: &Backend,
    ctx: &CallContext<'_>,
    responses: &[Option<Object>],
) -> Result<Part, BackendError> {
    let mut guard = match &backend.breaker {
        Some(b) => match b.acquire() {
            Ok(permit) => Some(BreakerGuard { breaker: b, permit: Some(permit), deadline: ctx.deadline }),
            Err(text) => return Err(BackendError::plain(text)),
        },
        None => None,
    };
    let result = limited_call(endpoint, backend, ctx, responses).await;
    if let Some(g) = guard.as_mut() {
        g.finish(result.is_ok());
    }
    result
}

async fn limited_call(
    endpoint: &Endpoint,
    backend: &Backend,
    ctx: &CallContext<'_>,
    responses: &[Option<Object>],
) -> Result<Part, BackendError> {
    if let Some(limiter) = &backend.limiter
        && !limiter.lock().unwrap_or_else(|e| e.into_inner()).allow(Instant::now())
    {
        return Err(BackendError::plain("rate limit exceded"));
    }
    if let Some(cel) = backend.cel.as_deref() {
        check_backend_request(cel, endpoint, backend, ctx, responses)?;
    }
    let (url, raw) = exchange(endpoint, backend, ctx, responses).await?;
    let part = shape::process(backend, &url, raw)?;
    if let Some(cel) = backend.cel.as_deref().filter(|c| c.checks_responses()) {
        let tree = match &part.data {
            Some(data) if cel.reads_response_data() => Some(data.clone().into_tree()),
            _ => None,
        };
        let view = ResponseView { data: tree.as_ref(), complete: part.complete, status: 0, headers: None };
        cel.check_response(&view).map_err(|r| cel_refused(backend, &r))?;
    }
    Ok(part)
}

/// A `no-op` backend's exchange between its CEL request and response checks.
async fn checked_pass_through(
    cel: &CelRules,
    endpoint: &Endpoint,
    backend: &Backend,
    ctx: &CallContext<'_>,
) -> Result<(String, RawResponse), BackendError> {
    check_backend_request(cel, endpoint, backend, ctx, &[])?;
    let (url, raw) = exchange(endpoint, backend, ctx, &[]).await?;
    if cel.checks_responses() {
        // lura's `no-op` answer: no data, complete, the backend's status and headers.
        let view =
            ResponseView { data: None, complete: true, status: raw.status.as_u16(), headers: Some(&raw.headers) };
        cel.check_response(&view).map_err(|r| cel_refused(backend, &r))?;
    }
    Ok((url, raw))
}

/// A backend's `validation/cel` request checks, on the request built for it: its method, its
/// path with the parameters filled in, the headers and query its own filters let through.
fn check_backend_request(
    cel: &CelRules,
    endpoint: &Endpoint,
    backend: &Backend,
    ctx: &CallContext<'_>,
    responses: &[Option<Object>],
) -> Result<(), BackendError> {
    if !cel.checks_requests() {
        return Ok(());
    }
    let path = prepare::backend_url(backend, "", ctx.params, responses, ctx.claims, None)
        .map_err(|e| BackendError::plain(e.to_string()))?;
    let headers = prepare::backend_headers(ctx.headers, backend.header_filter.as_deref());
    let keep_query = |k: &str| {
        endpoint.query.keeps(k) && backend.query_filter.as_deref().is_none_or(|names| names.iter().any(|n| n == k))
    };
    let view = RequestView {
        method: backend.method.as_str(),
        path: &path,
        params: ctx.params,
        headers: &headers,
        query: ctx.query,
        keep_query: &keep_query,
    };
    cel.check_request(&view).map_err(|r| cel_refused(backend, &r))
}

/// A backend's `validation/cel` refusal: the backend fails with the evaluator's error.
fn cel_refused(backend: &Backend, refusal: &Refusal) -> BackendError {
    tracing::debug!(backend = %backend.pattern_label, reason = %refusal.reason, "{refusal}");
    BackendError::plain(refusal.to_string())
}

/// Reports a call's outcome to its breaker, also when the call is dropped: at the deadline it
/// is a failure (the backend was too slow); before it (a concurrent copy won) it is not counted.
struct BreakerGuard<'a> {
    breaker: &'a Breaker,
    permit: Option<Permit>,
    deadline: Instant,
}

impl BreakerGuard<'_> {
    fn finish(&mut self, success: bool) {
        if let Some(p) = self.permit.take() {
            self.breaker.record(p, success);
        }
    }
}

impl Drop for BreakerGuard<'_> {
    fn drop(&mut self) {
        if let Some(p) = self.permit.take() {
            if Instant::now() >= self.deadline {
                self.breaker.record(p, false);
            } else {
                self.breaker.release(p);
            }
        }
    }
}

async fn exchange(
    endpoint: &Endpoint,
    backend: &Backend,
    ctx: &CallContext<'_>,
    responses: &[Option<Object>],
) -> Result<(String, RawResponse), BackendError> {
    if let Some(lambda) = &backend.lambda {
        return invoke(lambda, ctx).await;
    }
    let host = pick_host(backend).ok_or_else(|| BackendError::plain("no hosts available"))?;
    let query = prepare::forward_query(ctx.query, &endpoint.query, backend.query_filter.as_deref());
    let mut url = prepare::backend_url(backend, host, ctx.params, responses, ctx.claims, Some(&query))
        .map_err(|e| BackendError::plain(e.to_string()))?;
    let mut headers = prepare::backend_headers(ctx.headers, backend.header_filter.as_deref());
    // GraphQL rewrites the request first (a proxy middleware in lura); martian then wraps the
    // HTTP exchange of whatever request that gives.
    let (method, body) = match &backend.graphql {
        None => {
            let sends_body =
                !ctx.body.is_empty() || matches!(backend.method, Method::POST | Method::PUT | Method::PATCH);
            (&backend.method, sends_body.then(|| ctx.body.clone()))
        }
        Some(gql) => prepare::graphql::rewrite(gql, ctx.params, ctx.body, &mut url, headers.to_mut())
            .map_err(BackendError::plain)?,
    };
    match &backend.martian {
        None => {
            let raw = send_prepared(backend, ctx, method, &url, headers, body).await?;
            Ok((url, raw))
        }
        // Boxed: the martian path's state stays out of every other backend call's future.
        Some(martian) => {
            Box::pin(martian_exchange(martian, backend, ctx, method, url, headers.into_owned(), body)).await
        }
    }
}

/// The exchange wrapped in a backend's `modifier/martian`: its request modifiers before the
/// call (and the cache), its response modifiers on the answer before the status check. An
/// error of either is the backend's error, as krakend-martian returns it.
async fn martian_exchange(
    martian: &Martian,
    backend: &Backend,
    ctx: &CallContext<'_>,
    method: &Method,
    url: String,
    headers: HeaderMap,
    body: Option<Bytes>,
) -> Result<(String, RawResponse), BackendError> {
    let mut req = Outgoing { url, headers, body };
    martian.modify_request(&mut req).map_err(|e| BackendError::plain(e.0))?;
    let Outgoing { url, headers, body } = req;
    if !martian.modifies_responses() {
        let raw = send_prepared(backend, ctx, method, &url, Cow::Owned(headers), body).await?;
        return Ok((url, raw));
    }
    let kept = if martian.keeps_request_headers() { headers.clone() } else { HeaderMap::new() };
    let mut raw = send_prepared(backend, ctx, method, &url, Cow::Owned(headers), body).await?;
    martian.modify_response(&url, &kept, &mut raw).map_err(|e| BackendError::plain(e.0))?;
    Ok((url, raw))
}

/// Sends a prepared backend request (through its cache, if any), noted for telemetry.
async fn send_prepared(
    backend: &Backend,
    ctx: &CallContext<'_>,
    method: &Method,
    url: &str,
    mut headers: Cow<'_, HeaderMap>,
    body: Option<Bytes>,
) -> Result<RawResponse, BackendError> {
    let call = if ctx.observer.records_calls() {
        ctx.observer.begin_call(backend.index, &backend.url_pattern, method, url, &mut headers)
    } else {
        None
    };
    let result = match &backend.cache {
        Some(cache) => {
            cache.send(ctx.client, method, url, headers.into_owned(), body).await.map_err(BackendError::plain)
        }
        None => send(ctx.client, method, url, &headers, body).await,
    };
    if let Some(call) = call {
        match &result {
            Ok(raw) => call.finish(Some(raw.status), None),
            Err(e) => call.finish(None, Some(&e.text)),
        }
    }
    result
}

/// A `backend/lambda` backend's call: the function's payload as a `200` JSON answer, so that it
/// is shaped as any backend's; a function error or a failed invocation is the backend's error.
async fn invoke(lambda: &LambdaCall, ctx: &CallContext<'_>) -> Result<(String, RawResponse), BackendError> {
    let function = prepare::lambda::function(lambda, ctx.params);
    let payload = prepare::lambda::payload(lambda, ctx.params, ctx.body);
    let invoked = lambda.invoker.invoke(ctx.client, function, payload).await.map_err(BackendError::plain)?;
    let mut headers = HeaderMap::new();
    headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    if let Some(version) = invoked.executed_version {
        headers.insert("x-amz-executed-version", version);
    }
    let raw = RawResponse { status: http::StatusCode::OK, headers, body: invoked.payload };
    Ok((format!("lambda:{function}"), raw))
}

/// Sends one request and reads the whole answer (redirects followed, gzip decoded).
async fn send(
    client: &HttpClient,
    method: &Method,
    url: &str,
    headers: &HeaderMap,
    body: Option<Bytes>,
) -> Result<RawResponse, BackendError> {
    client.send(method, url, headers, body).await.map_err(BackendError::plain)
}

fn pick_host(backend: &Backend) -> Option<&str> {
    match backend.hosts.len() {
        0 => None,
        1 => Some(&backend.hosts[0]),
        n => Some(&backend.hosts[backend.next_host.fetch_add(1, Ordering::Relaxed) % n]),
    }
}

/// All backends at once; parts merged in arrival order until 85% of the timeout.
async fn parallel(endpoint: &Endpoint, ctx: &CallContext<'_>, started: Instant) -> Outcome {
    let deadline = started + share(ctx.timeout, 85);
    let total = endpoint.backends.len();
    let mut calls: FuturesUnordered<_> = endpoint
        .backends
        .iter()
        .map(|b| async move { (b, call_concurrently(endpoint, b, ctx, &[], started).await) })
        .collect();
    let mut arrivals = Arrivals::new(total);
    // Which backends have answered (or failed), to name the ones still out at the deadline.
    let mut done = vec![false; total];
    loop {
        match timeout_at(deadline, calls.next()).await {
            Ok(Some((b, result))) => {
                done[b.index] = true;
                if let Err(e) = &result {
                    failed(ctx, b, e);
                }
                arrivals.add(result);
            }
            Ok(None) => break,
            Err(_) => {
                let late = BackendError::deadline();
                for b in endpoint.backends.iter().filter(|b| !done[b.index]) {
                    failed(ctx, b, &late);
                }
                arrivals.add(Err(late));
                break;
            }
        }
    }
    arrivals.outcome()
}

/// Backends one after another; `{respN_x}` reads earlier formatted answers.
async fn sequential(endpoint: &Endpoint, ctx: &CallContext<'_>, started: Instant) -> Outcome {
    let deadline = started + share(ctx.timeout, 85);
    let mut responses: Vec<Option<Object>> = Vec::with_capacity(endpoint.backends.len());
    let mut merged = Data::default();
    let mut detail_keys = Vec::new();
    let mut complete = true;
    for (i, backend) in endpoint.backends.iter().enumerate() {
        let result = match timeout_at(deadline, call_concurrently(endpoint, backend, ctx, &responses, started)).await {
            Ok(r) => r,
            Err(_) => Err(BackendError::deadline()),
        };
        match result {
            Ok(part) => {
                let part_complete = part.complete;
                responses.push(part.data.clone().map(Data::into_tree));
                merge_into(&mut merged, &mut detail_keys, part);
                if !part_complete {
                    complete = false;
                    break;
                }
            }
            Err(e) if i == 0 => {
                failed(ctx, backend, &e);
                return Outcome { response: None, error: Some(e) };
            }
            Err(e) => {
                failed(ctx, backend, &e);
                return Outcome {
                    response: Some(Part { data: Some(merged), complete: false, detail_keys }),
                    error: Some(e),
                };
            }
        }
    }
    Outcome { response: Some(Part { data: Some(merged), complete, detail_keys }), error: None }
}
