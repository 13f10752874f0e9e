//! Mock backends: real HTTP/1.1 servers (hyper) on 127.0.0.1 that answer a case's routes the way
//! `run_cases.py`'s `Mock` does, the `http://BACKEND_<name>` substitution, and a request log.

use crate::case::{Case, Route, encode_body};
use crate::compare::{header_ok, latin1, show_header};
use crate::json::short_text;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use percent_encoding::percent_decode_str;
use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

/// The body of the answer to a request that matches no route.
pub const UNMATCHED: &[u8] = b"mock: unmatched request";
const PREFIX: &str = "http://BACKEND_";

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// Every `<name>` of an `http://BACKEND_<name>` in `text` (the longest run of [A-Za-z0-9_-]).
pub fn backend_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find(PREFIX) {
        rest = &rest[at + PREFIX.len()..];
        let end = rest.find(|c: char| !is_name_char(c)).unwrap_or(rest.len());
        if end > 0 {
            names.insert(rest[..end].to_owned());
        }
    }
    names
}

/// Replaces every `http://BACKEND_<name>` (not followed by [A-Za-z0-9_-]) by the base URL of
/// mock `<name>`; other occurrences are left alone.
#[derive(Debug, Clone, Default)]
pub struct Subst {
    urls: BTreeMap<String, String>,
}

impl Subst {
    pub fn new(urls: BTreeMap<String, String>) -> Self {
        Subst { urls }
    }

    pub fn apply(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(at) = rest.find(PREFIX) {
            out.push_str(&rest[..at]);
            let after = &rest[at + PREFIX.len()..];
            let end = after.find(|c: char| !is_name_char(c)).unwrap_or(after.len());
            // The regex of run_cases.py tries the names longest first, each not followed by a
            // name character: that matches exactly when the whole run of name characters is a name.
            match self.urls.get(&after[..end]) {
                Some(url) => {
                    out.push_str(url);
                    rest = &after[end..];
                }
                None => {
                    out.push_str(PREFIX);
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        out
    }
}

struct MockState {
    routes: Vec<Route>,
    subst: Subst,
    log: Mutex<Vec<String>>,
}

/// One running mock backend. Dropping it stops its server and every open connection.
pub struct Mock {
    pub name: String,
    pub url: String,
    state: Arc<MockState>,
    task: JoinHandle<()>,
}

impl Mock {
    /// The requests received so far: "METHOD target -> matched" or "... -> 418 (why)".
    pub fn log(&self) -> Vec<String> {
        self.state.log.lock().expect("mock log").clone()
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The mocks of one case: one per name in `backends` or in an `http://BACKEND_<name>` of the
/// config text, sorted by name.
pub struct Mocks {
    pub mocks: Vec<Mock>,
    pub subst: Subst,
}

impl Mocks {
    /// Starts the mocks of `case`, whose config (as JSON text) is `config_text`.
    pub async fn start(case: &Case, config_text: &str) -> std::io::Result<Mocks> {
        let mut routes: BTreeMap<String, Vec<Route>> = BTreeMap::new();
        for name in backend_names(config_text) {
            routes.entry(name).or_default();
        }
        for (name, list) in case.backends.iter().flat_map(|b| &b.0) {
            routes.insert(name.clone(), list.clone().unwrap_or_default());
        }
        Self::start_routes(routes).await
    }

    /// Starts one mock per entry of `routes`.
    pub async fn start_routes(routes: BTreeMap<String, Vec<Route>>) -> std::io::Result<Mocks> {
        let mut bound = Vec::new();
        let mut urls = BTreeMap::new();
        for (name, list) in routes {
            let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
            let url = format!("http://127.0.0.1:{}", listener.local_addr()?.port());
            urls.insert(name.clone(), url.clone());
            bound.push((name, url, list, listener));
        }
        let subst = Subst::new(urls);
        let mocks = bound
            .into_iter()
            .map(|(name, url, routes, listener)| {
                let state = Arc::new(MockState { routes, subst: subst.clone(), log: Mutex::new(Vec::new()) });
                let task = tokio::spawn(accept_loop(listener, Arc::clone(&state)));
                Mock { name, url, state, task }
            })
            .collect();
        Ok(Mocks { mocks, subst })
    }

    /// The log lines of every mock, prefixed `"mock <name>: "`; only the unmatched (418) requests
    /// unless `all`.
    pub fn log_lines(&self, all: bool) -> Vec<String> {
        self.mocks
            .iter()
            .flat_map(|m| {
                m.log()
                    .into_iter()
                    .filter(move |line| all || line.contains("-> 418"))
                    .map(move |line| format!("mock {}: {line}", m.name))
            })
            .collect()
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<MockState>) {
    // Dropping this future (abort) drops the JoinSet, which aborts every connection task.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let state = Arc::clone(&state);
                connections.spawn(async move {
                    let service = service_fn(move |req| serve(Arc::clone(&state), req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .title_case_headers(true)
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// All values of a request header (case-insensitive), `None` when absent.
fn request_header(headers: &HeaderMap, name: &str) -> Option<Vec<String>> {
    let values: Vec<String> = headers
        .iter()
        .filter(|(n, _)| n.as_str().eq_ignore_ascii_case(name))
        .map(|(_, v)| latin1(v.as_bytes()))
        .collect();
    (!values.is_empty()).then_some(values)
}

/// Why a route with the right method and path does not match ("" when it matches).
fn mismatch(route: &Route, headers: &HeaderMap, query: &str, body: &[u8]) -> String {
    if let Some(want) = &route.query
        && want != query
    {
        return format!("query {query:?}, route wants {want:?}");
    }
    for (name, want) in route.request_headers.iter().flat_map(|h| &h.0) {
        let got = request_header(headers, name);
        if !header_ok(got.as_deref(), want.as_ref()) {
            let want = want.as_ref().map_or("None".to_owned(), |w| w.to_string());
            return format!("header {name}: {}, route wants {want}", show_header(got.as_deref()));
        }
    }
    let missing: Vec<&String> =
        route.request_headers_present.iter().flatten().filter(|n| request_header(headers, n).is_none()).collect();
    let present: Vec<&String> =
        route.request_headers_absent.iter().flatten().filter(|n| request_header(headers, n).is_some()).collect();
    if !missing.is_empty() || !present.is_empty() {
        return format!("headers missing: {missing:?}, headers that must be absent: {present:?}");
    }
    if let Some(want) = &route.request_body {
        match encode_body(Some(want)) {
            Ok(want_bytes) if want_bytes == body => {}
            Ok(want_bytes) => {
                return format!("body {}, route wants {}", short_text(body, 120), short_text(&want_bytes, 120));
            }
            Err(e) => return format!("malformed request_body in the case: {e}"),
        }
    }
    String::new()
}

async fn serve(state: Arc<MockState>, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let method = parts.method.as_str();
    let target = parts.uri.path_and_query().map_or_else(|| parts.uri.to_string(), |pq| pq.as_str().to_owned());
    let (raw_path, query) = target.split_once('?').unwrap_or((&target, ""));
    let path = percent_decode_str(raw_path).decode_utf8_lossy();

    let mut matched = None;
    let mut why = format!("no route for {method} {path}");
    for candidate in &state.routes {
        let method_ok = candidate.method.as_deref().is_none_or(|m| m == method);
        if method_ok && candidate.path.as_deref() == Some(&*path) {
            why = mismatch(candidate, &parts.headers, query, &body);
            if why.is_empty() {
                matched = Some(candidate);
                break;
            }
        }
    }
    let outcome = if matched.is_some() { "matched".to_owned() } else { format!("418 ({why})") };
    state.log.lock().expect("mock log").push(format!("{method} {target} -> {outcome}"));

    let Some(route) = matched else {
        let mut response = Response::new(Full::new(Bytes::from_static(UNMATCHED)));
        *response.status_mut() = StatusCode::IM_A_TEAPOT;
        let headers = response.headers_mut();
        headers.insert("content-type", HeaderValue::from_static("text/plain; charset=utf-8"));
        headers.insert("content-length", HeaderValue::from(UNMATCHED.len()));
        return Ok(response);
    };
    Ok(answer(&state, route, method == "HEAD").await)
}

async fn answer(state: &MockState, route: &Route, head: bool) -> Response<Full<Bytes>> {
    let delay = route.delay_ms.unwrap_or(0.0);
    if delay > 0.0 {
        tokio::time::sleep(Duration::from_secs_f64(delay / 1000.0)).await;
    }
    let failure = |why: String| {
        state.log.lock().expect("mock log").push(format!("  (cannot answer: {why})"));
        let mut response = Response::new(Full::new(Bytes::from(why)));
        *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        response
    };
    let status = route.status.unwrap_or(200);
    let Ok(status_code) = StatusCode::from_u16(status) else {
        return failure(format!("invalid status {status}"));
    };
    let payload = match encode_body(route.body.as_deref()) {
        Ok(payload) => payload,
        Err(e) => return failure(format!("malformed body: {e}")),
    };
    let mut headers = HeaderMap::new();
    for (name, values) in route.headers.iter().flat_map(|h| &h.0) {
        let Ok(header_name) = HeaderName::from_bytes(name.as_bytes()) else {
            return failure(format!("invalid header name {name:?}"));
        };
        for value in values.lines() {
            let value = state.subst.apply(value);
            let Ok(header_value) = HeaderValue::from_str(&value) else {
                return failure(format!("invalid value for header {name}: {value:?}"));
            };
            headers.append(header_name.clone(), header_value);
        }
    }
    let bodyless = status < 200 || status == 204 || status == 304;
    if !bodyless && !headers.contains_key(http::header::CONTENT_LENGTH) {
        headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(payload.len()));
    }
    let body = if head || bodyless { Bytes::new() } else { Bytes::from(payload) };
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status_code;
    *response.headers_mut() = headers;
    response
}
