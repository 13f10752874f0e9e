//! The local server door: a hyper HTTP/1.1 listener that converts each request to a
//! `GatewayRequest`, hands it to the core and writes the `GatewayResponse` back. It also owns what
//! Go's `http.Server` does before a handler sees a request: the read deadlines (`read_timeout`,
//! `read_header_timeout`, `idle_timeout`), the `Host` checks, absolute-form targets, `CONNECT`.

use crate::access_log::{AccessLog, Entry};
use bytes::Bytes;
use http::header::{CONNECTION, CONTENT_TYPE, HOST, HeaderValue};
use http::request::Parts;
use http::{Method, Version};
use http_body_util::Full;
use hyper::body::{Body, Incoming};
use hyper::ext::ReasonPhrase;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};
use tributary_core::body::{CollectError, collect_capped};
use tributary_core::{Gateway, GatewayRequest, GatewayResponse, ServerSettings};

/// Largest client body the local server reads (Lambda's own payload limit is 6 MB).
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
/// Time for a request head when neither `read_header_timeout` nor `read_timeout` is set (KrakenD
/// leaves it unbounded; a bound keeps trickling clients from holding connections forever).
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Time for a request body, counted from the end of its head, when `read_timeout` is unset.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// Time an idle keep-alive connection is kept when neither `idle_timeout` nor `read_timeout` is
/// set: nginx's default, and above the 60 s default idle timeout of AWS Application Load
/// Balancers, so that a balancer in front closes its idle connections before the gateway does.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(75);
/// Go's server accepts up to 1 MB of headers; hyper counts the whole request head.
const MAX_HEAD_BYTES: usize = 1024 * 1024;
const MAX_HEADERS: usize = 1000;

/// Serves `gateway` on `listener` until `shutdown` completes, then drains in-flight requests.
/// No access log (see [`serve_logged`]); failed backends are still logged.
pub async fn serve(
    gateway: Arc<Gateway>,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    serve_logged(gateway, listener, shutdown, None).await
}

/// [`serve`], writing `access`'s line per request.
pub async fn serve_logged(
    gateway: Arc<Gateway>,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()>,
    access: Option<AccessLog>,
) -> std::io::Result<()> {
    let access = access.map(Arc::new);
    let settings = gateway.server_settings().clone();
    let limits = Limits::new(&settings);
    let max_buf = settings.max_header_bytes.unwrap_or(MAX_HEAD_BYTES).max(8192);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let gw = gateway.clone();
        let peer_ip = peer.ip();
        let phase = Arc::new(AtomicU8::new(IDLE));
        let io = Deadlined::new(stream, phase.clone(), limits);
        let access = access.clone();
        let service = service_fn(move |req| handle(gw.clone(), phase.clone(), peer_ip, access.clone(), req));
        let mut builder = hyper::server::conn::http1::Builder::new();
        // The head's deadline is `Deadlined`'s (hyper's own would also bound the idle wait).
        builder.header_read_timeout(None).max_buf_size(max_buf).max_headers(MAX_HEADERS);
        let conn = builder.serve_connection(TokioIo::new(io), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection closed with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    if let Some(access) = &access {
        access.flush();
    }
    Ok(())
}

async fn handle(
    gateway: Arc<Gateway>,
    phase: Arc<AtomicU8>,
    peer: IpAddr,
    access: Option<Arc<AccessLog>>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let resp = match access.as_deref().filter(|log| !log.skips(req.uri().path())) {
        None => answer(&gateway, &phase, peer, req, None).await,
        Some(log) => {
            // gin's timer starts once the head is read, before the body.
            let started = std::time::Instant::now();
            let mut seen = Seen::default();
            let resp = answer(&gateway, &phase, peer, req, Some(&mut seen)).await;
            // What Go's server refuses itself never reaches gin's logger.
            if !seen.refused {
                log.write(&Entry {
                    status: resp.status().as_u16(),
                    latency: started.elapsed(),
                    client_ip: &seen.client_ip,
                    method: seen.method.as_str(),
                    path: &seen.path,
                    query: &seen.query,
                    errors: &seen.errors,
                });
            }
            resp
        }
    };
    phase.store(IDLE, Ordering::Relaxed);
    Ok(resp)
}

/// What the access log needs of a request, taken before it is handed to the core.
#[derive(Default)]
struct Seen {
    method: Method,
    path: String,
    query: String,
    client_ip: String,
    errors: Vec<String>,
    /// Answered by the server itself, as Go's server answers before any handler runs.
    refused: bool,
}

async fn answer(
    gateway: &Gateway,
    phase: &AtomicU8,
    peer: IpAddr,
    req: Request<Incoming>,
    seen: Option<&mut Seen>,
) -> Response<Full<Bytes>> {
    let (mut parts, body) = req.into_parts();
    let mut seen = seen;
    if let Some(seen) = seen.as_deref_mut() {
        seen.method = parts.method.clone();
        seen.path = parts.uri.path().to_owned();
        seen.query = parts.uri.query().unwrap_or("").to_owned();
        seen.client_ip = gateway.client_ip(&parts.headers, Some(peer)).unwrap_or_default();
    }
    if let Some(refusal) = refuse(&mut parts, &body) {
        if let Some(seen) = seen {
            seen.refused = true;
        }
        return refusal;
    }
    let body = if body.is_end_stream() {
        Bytes::new()
    } else {
        phase.store(BODY, Ordering::Relaxed);
        // A declared length is not used to size the buffer: a client announcing 16 MB and
        // sending nothing must cost nothing.
        match collect_capped(body, MAX_BODY_BYTES, None).await {
            Ok(b) => b,
            Err(CollectError::TooLarge) => return closing(StatusCode::PAYLOAD_TOO_LARGE, None),
            Err(CollectError::Failed(e)) => {
                let status = if timed_out(&e) { StatusCode::REQUEST_TIMEOUT } else { StatusCode::BAD_REQUEST };
                return closing(status, None);
            }
        }
    };
    phase.store(HANDLING, Ordering::Relaxed);
    let request = GatewayRequest {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or("").to_owned(),
        headers: parts.headers,
        body,
        peer_ip: Some(peer),
        deadline: None,
    };
    let (resp, report) = gateway.handle_reported(request).await;
    if !report.failed.is_empty() {
        crate::logs::failed_backends(&report);
        if let Some(seen) = seen {
            seen.errors = report.failed.iter().map(|f| f.error.clone()).collect();
        }
    }
    into_hyper(resp)
}

/// What Go's server answers itself before any handler runs, and our body limit: `CONNECT`, a bad
/// `Host`, a `Content-Length` above [`MAX_BODY_BYTES`] (answered before any body byte is read, so
/// no `100 Continue` goes out). Every refusal closes the connection. For an absolute-form target
/// the target's authority replaces the `Host` header, as Go makes it the request's host.
fn refuse(parts: &mut Parts, body: &Incoming) -> Option<Response<Full<Bytes>>> {
    // hyper would turn a 2xx into a tunnel and keep reading after any other answer; KrakenD
    // endpoints cannot take CONNECT either, so no route is lost.
    if parts.method == Method::CONNECT {
        return Some(closing(StatusCode::BAD_REQUEST, Some("400 Bad Request")));
    }
    let mut hosts = parts.headers.get_all(HOST).iter();
    match (hosts.next(), hosts.next()) {
        (None, _) if parts.version > Version::HTTP_10 => {
            return Some(go_400("400 Bad Request: missing required Host header"));
        }
        (Some(_), Some(_)) => return Some(go_400("400 Bad Request: too many Host headers")),
        (Some(host), None) if !host.as_bytes().iter().all(|b| valid_host_byte(*b)) => {
            return Some(go_400("400 Bad Request: malformed Host header"));
        }
        _ => {}
    }
    if let Some(authority) = parts.uri.authority() {
        // Go's `URL.Host`: the authority without its user information.
        let host = authority.as_str().rsplit('@').next().unwrap_or("");
        if let Ok(v) = HeaderValue::from_str(host) {
            parts.headers.insert(HOST, v);
        }
    }
    if body.size_hint().lower() > MAX_BODY_BYTES as u64 {
        return Some(closing(StatusCode::PAYLOAD_TOO_LARGE, None));
    }
    None
}

/// The bytes Go's `httpguts.ValidHostHeader` accepts in a `Host` header.
pub(crate) fn valid_host_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!$%&'()*+,-.:;=[]_~".contains(&b)
}

/// Go's own 400 for a request it refuses to read: `400 Bad Request: <why>` as body, and the
/// same words after the status code on the status line.
fn go_400(body: &'static str) -> Response<Full<Bytes>> {
    let mut resp = closing(StatusCode::BAD_REQUEST, Some(body));
    // "400 Bad Request: why" minus its "400 ".
    resp.extensions_mut().insert(ReasonPhrase::from_static(&body.as_bytes()[4..]));
    resp
}

/// An answer from the door itself, with `Connection: close` (hyper then closes after writing
/// it); `text` is a `text/plain` body.
fn closing(status: StatusCode, text: Option<&'static str>) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(text.map(|t| Bytes::from_static(t.as_bytes())).unwrap_or_default()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
    if text.is_some() {
        resp.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    }
    resp
}

/// Whether a body error comes from [`Deadlined`]'s read deadline.
fn timed_out(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(e);
    while let Some(err) = source {
        if err.downcast_ref::<io::Error>().is_some_and(|io| io.kind() == io::ErrorKind::TimedOut) {
            return true;
        }
        source = err.source();
    }
    false
}

fn into_hyper(r: GatewayResponse) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(r.body));
    *resp.status_mut() = r.status;
    *resp.headers_mut() = r.headers;
    resp
}

// ---------------------------------------------------------------------------------------------
// Read deadlines
// ---------------------------------------------------------------------------------------------

/// Where a connection's current request is, as the request handler tells [`Deadlined`]: between
/// requests (waiting for or reading a head, or writing the last answer), reading a body, or
/// handling (no read deadline: the endpoint's own timeout bounds it).
const IDLE: u8 = 0;
const BODY: u8 = 1;
const HANDLING: u8 = 2;

/// The durations Go's `http.Server` would apply, with our defaults where Go has none.
#[derive(Debug, Clone, Copy)]
struct Limits {
    head: Duration,
    /// `read_timeout`: head and body together, from the start of the request.
    whole: Option<Duration>,
    idle: Duration,
}

impl Limits {
    fn new(s: &ServerSettings) -> Limits {
        Limits {
            head: s.read_header_timeout.or(s.read_timeout).unwrap_or(DEFAULT_HEADER_TIMEOUT),
            whole: s.read_timeout,
            idle: s.idle_timeout.or(s.read_timeout).unwrap_or(DEFAULT_IDLE_TIMEOUT),
        }
    }
}

/// A TCP stream with Go's read deadline: reads fail with `TimedOut` once the deadline of the
/// current step passes (the idle wait for a next request, its head, its body), which makes hyper
/// drop the connection, or fail the body. Hand-written because hyper only offers
/// `header_read_timeout`, one timer from the end of the last answer to the end of the next head
/// (idle wait and head together, no body), and the crates that wrap a stream with timeouts
/// (tokio-io-timeout) time each read alone, not a request's steps. One timer per connection,
/// reset only when a deadline moves earlier; a later deadline is picked up when it fires.
struct Deadlined {
    io: TcpStream,
    phase: Arc<AtomicU8>,
    /// The phase the deadline was last set for.
    seen: u8,
    limits: Limits,
    /// When the current request started (Go's `t0`): the accept, or the first byte after an idle
    /// wait. `None` between requests.
    started: Option<Instant>,
    /// An answer is being written: bytes went out and have not been flushed yet.
    answering: bool,
    /// The current read deadline; `None` while a request is handled or its answer written.
    deadline: Option<Instant>,
    sleep: Pin<Box<Sleep>>,
}

impl Deadlined {
    fn new(io: TcpStream, phase: Arc<AtomicU8>, limits: Limits) -> Deadlined {
        // Go's first request on a connection has no idle wait: its head time starts at the accept.
        let now = Instant::now();
        let deadline = now + limits.head;
        Deadlined {
            io,
            phase,
            seen: IDLE,
            limits,
            started: Some(now),
            answering: false,
            deadline: Some(deadline),
            sleep: Box::pin(tokio::time::sleep_until(deadline)),
        }
    }

    fn set_deadline(&mut self, deadline: Option<Instant>) {
        self.deadline = deadline;
        if let Some(d) = deadline
            && d < self.sleep.deadline()
        {
            self.sleep.as_mut().reset(d);
        }
    }

    /// Follows the handler's phase changes.
    fn follow(&mut self) {
        let phase = self.phase.load(Ordering::Relaxed);
        if phase == self.seen {
            return;
        }
        self.seen = phase;
        match phase {
            BODY => {
                let now = Instant::now();
                // A pipelined head was read before the last answer went out: it starts now.
                let started = *self.started.get_or_insert(now);
                self.set_deadline(Some(match self.limits.whole {
                    Some(whole) => started + whole,
                    None => now + DEFAULT_BODY_TIMEOUT,
                }));
            }
            HANDLING => self.set_deadline(None),
            // Answered: no deadline until the answer is written (`flushed`).
            _ => {
                self.started = None;
                self.set_deadline(None);
            }
        }
    }

    /// `Err(TimedOut)` once the deadline has passed; otherwise registers the wake-up for it.
    fn check(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        let Some(deadline) = self.deadline else { return Ok(()) };
        while self.sleep.as_mut().poll(cx).is_ready() {
            if Instant::now() >= deadline {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "read deadline passed"));
            }
            self.sleep.as_mut().reset(deadline);
        }
        Ok(())
    }

    /// Bytes went out. Between requests they are an answer (or hyper's own error answer): the
    /// request is over, and until the answer is flushed no read deadline runs, as in Go, where
    /// only `write_timeout` bounds writing.
    fn wrote(&mut self) {
        self.follow();
        if self.seen == IDLE {
            self.answering = true;
            self.started = None;
            self.set_deadline(None);
        }
    }

    /// [`Deadlined::wrote`] when a write put bytes out (one that wrote nothing changes nothing).
    fn after_write(&mut self, polled: &Poll<io::Result<usize>>) {
        if let Poll::Ready(Ok(n)) = polled
            && *n > 0
        {
            self.wrote();
        }
    }

    /// hyper flushes once everything it queued is written: after an answer, the idle wait starts
    /// now, and its wake-up is registered (hyper does not read again on its own once idle).
    fn flushed(&mut self, cx: &mut Context<'_>) {
        self.follow();
        if self.seen == IDLE && self.answering {
            self.answering = false;
            self.set_deadline(Some(Instant::now() + self.limits.idle));
            let _ = self.check(cx);
        }
    }
}

impl AsyncRead for Deadlined {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.follow();
        this.check(cx)?;
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.io).poll_read(cx, buf);
        if this.seen == IDLE && this.started.is_none() && !this.answering && buf.filled().len() > before {
            // The first bytes of a new request: the head's deadline replaces the idle one.
            let now = Instant::now();
            this.started = Some(now);
            this.set_deadline(Some(now + this.limits.head));
            // Registers the wake-up for the new deadline; it cannot have passed yet.
            let _ = this.check(cx);
        }
        polled
    }
}

impl AsyncWrite for Deadlined {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.io).poll_write(cx, buf);
        this.after_write(&polled);
        polled
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.after_write(&polled);
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.io).poll_flush(cx);
        if let Poll::Ready(Ok(())) = polled {
            this.flushed(cx);
        }
        polled
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(read_header: Option<u64>, read: Option<u64>, idle: Option<u64>) -> Limits {
        let s = |v: Option<u64>| v.map(Duration::from_secs);
        Limits::new(&ServerSettings {
            read_header_timeout: s(read_header),
            read_timeout: s(read),
            idle_timeout: s(idle),
            ..ServerSettings::default()
        })
    }

    #[test]
    fn timeouts_fall_back_as_go_then_to_the_defaults() {
        let l = limits(None, None, None);
        assert_eq!((l.head, l.whole, l.idle), (DEFAULT_HEADER_TIMEOUT, None, DEFAULT_IDLE_TIMEOUT));
        // read_timeout stands in for the head and the idle wait.
        let l = limits(None, Some(5), None);
        assert_eq!(
            (l.head, l.whole, l.idle),
            (Duration::from_secs(5), Some(Duration::from_secs(5)), Duration::from_secs(5))
        );
        // Each set value wins for its own step.
        let l = limits(Some(2), Some(5), Some(60));
        assert_eq!(
            (l.head, l.whole, l.idle),
            (Duration::from_secs(2), Some(Duration::from_secs(5)), Duration::from_secs(60))
        );
    }

    #[test]
    fn host_bytes_are_go_s() {
        let valid = |h: &str| h.bytes().all(valid_host_byte);
        assert!(valid("api.example.com:8080"));
        assert!(valid("[::1]:80"));
        assert!(valid(""));
        for bad in ["a b", "a/b", "user@host", "a\"b", "a\\b", "a\tb", "caf\u{e9}"] {
            assert!(!valid(bad), "{bad:?}");
        }
    }
}
