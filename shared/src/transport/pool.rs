//! The keep-alive connection pool of the backend client: idle HTTP/1.1 connections per scheme
//! and authority, checked out for one exchange and checked in once its answer was read, as Go's
//! `http.Transport` keeps them (`MaxIdleConnsPerHost`, `IdleConnTimeout`).
//!
//! Written over `hyper::client::conn::http1` rather than with hyper-util's pooled client, whose
//! pool is a large share of a backend call's cost (its key hashes the authority one byte at a
//! time through SipHash, three lookups per call; a checkout future, a waiter list, a `Host`
//! header formatted per request; measured in BENCHMARKS.md). Here a call costs one hash of the
//! authority's bytes (foldhash), one uncontended lock at checkout and one at check-in.

use super::client::Connector;
use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Request, Response, Uri};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type Sender = SendRequest<Full<Bytes>>;
type Hosts = HashMap<Box<str>, Host, foldhash::fast::RandomState>;

/// The idle connections of every host, `http` and `https` apart.
pub(crate) struct Pool {
    hosts: Mutex<[Hosts; 2]>,
    connector: Connector,
    handshake: http1::Builder,
    /// 0: keep-alive disabled, every connection is used once.
    max_idle: usize,
    idle_timeout: Option<Duration>,
}

/// One host: its idle connections (the most recently used last) and its `Host` header.
struct Host {
    idle: Vec<(Sender, Instant)>,
    host_header: HeaderValue,
}

impl Host {
    /// The most recently used open connection idle for less than `timeout`; the others, and
    /// every older one past the timeout, are dropped (closed).
    fn take_idle(&mut self, timeout: Option<Duration>) -> (Option<Sender>, HeaderValue) {
        if let Some(&(_, newest)) = self.idle.last()
            && let Some(timeout) = timeout
            && newest.elapsed() >= timeout
        {
            self.idle.clear();
        }
        while let Some((sender, _)) = self.idle.pop() {
            if sender.is_ready() {
                return (Some(sender), self.host_header.clone());
            }
        }
        (None, self.host_header.clone())
    }
}

/// A connection checked out of the pool for one exchange; give it back with [`Pool::check_in`].
pub(crate) struct Lease {
    sender: Sender,
}

impl Pool {
    pub(crate) fn new(connector: Connector, max_idle: usize, idle_timeout: Option<Duration>) -> Pool {
        let mut handshake = http1::Builder::new();
        // Go's client has no header-count limit (only a size limit); hyper's default is 100.
        handshake.max_headers(10_000);
        Pool { hosts: Mutex::default(), connector, handshake, max_idle, idle_timeout }
    }

    fn hosts(&self) -> std::sync::MutexGuard<'_, [Hosts; 2]> {
        self.hosts.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Sends `req` to `uri` (absolute) on an idle connection to its host, or on a new one; an
    /// idle connection that turns out closed before the request was written is replaced, as
    /// hyper-util and Go's transport do. The answer's body is still to be read.
    pub(crate) async fn send(
        &self,
        uri: &Uri,
        mut req: Request<Full<Bytes>>,
    ) -> Result<(Response<Incoming>, Lease), Box<dyn std::error::Error + Send + Sync>> {
        let (https, authority) = host_of(uri).ok_or("client requires absolute-form URIs")?;
        let (mut idle, host_header) = self.check_out(https, authority);
        // Always the URL's host, as Go's client writes `req.Host`: a `Host` in the header map
        // (a client's, forwarded by `input_headers`) must not pick the backend's virtual host.
        req.headers_mut().insert(header::HOST, host_header);
        *req.uri_mut() = origin_form(uri);
        loop {
            let (mut sender, reused) = match idle.take() {
                Some(sender) => (sender, true),
                None => (self.connect(uri).await?, false),
            };
            match sender.try_send_request(req).await {
                Ok(resp) => return Ok((resp, Lease { sender })),
                Err(mut e) => match e.take_message() {
                    // Not written: the idle connection was closed under us; try a fresh one.
                    Some(back) if reused => {
                        req = back;
                        idle = self.check_out(https, authority).0;
                    }
                    _ => return Err(e.into_error().into()),
                },
            }
        }
    }

    /// The most recently used idle connection of the host that is still open, and the host's
    /// `Host` header (set up on its first call).
    fn check_out(&self, https: bool, authority: &str) -> (Option<Sender>, HeaderValue) {
        let mut hosts = self.hosts();
        let map = &mut hosts[usize::from(https)];
        if let Some(host) = map.get_mut(authority) {
            return host.take_idle(self.idle_timeout);
        }
        let host = Host { idle: Vec::new(), host_header: host_header(authority) };
        let header = host.host_header.clone();
        map.insert(authority.into(), host);
        (None, header)
    }

    /// Gives a connection back once its answer was read whole: it stays idle for the next call
    /// to its host unless keep-alive is off, the host has `max_idle` idle already, or the
    /// connection is closing. Idle connections older than the idle timeout are closed here.
    pub(crate) fn check_in(self: &Arc<Self>, uri: &Uri, lease: Lease) {
        if self.max_idle == 0 || lease.sender.is_closed() {
            return;
        }
        if lease.sender.is_ready() {
            self.put(uri, lease);
            return;
        }
        // The connection task has not yet seen the end of the answer; wait for it off the
        // request's path.
        let pool = Arc::clone(self);
        let uri = uri.clone();
        tokio::spawn(async move {
            let mut lease = lease;
            if lease.sender.ready().await.is_ok() {
                pool.put(&uri, lease);
            }
        });
    }

    fn put(&self, uri: &Uri, lease: Lease) {
        let Some((https, authority)) = host_of(uri) else { return };
        let now = Instant::now();
        let mut hosts = self.hosts();
        let Some(host) = hosts[usize::from(https)].get_mut(authority) else { return };
        if let Some(timeout) = self.idle_timeout {
            host.idle.retain(|(_, since)| now.duration_since(*since) < timeout);
        }
        if host.idle.len() < self.max_idle {
            host.idle.push((lease.sender, now));
        }
    }

    /// A new connection to the URI's host (TCP, and TLS for `https`), its task spawned.
    async fn connect(&self, uri: &Uri) -> Result<Sender, Box<dyn std::error::Error + Send + Sync>> {
        let stream = tower_service::Service::call(&mut self.connector.clone(), uri.clone()).await?;
        let (sender, conn) = self.handshake.handshake(stream).await?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "backend connection closed with an error");
            }
        });
        Ok(sender)
    }
}

/// Which idle list a URI's connections belong to: `https` or not, and the authority.
fn host_of(uri: &Uri) -> Option<(bool, &str)> {
    Some((uri.scheme_str() == Some("https"), uri.authority()?.as_str()))
}

/// `Host` as Go's client sends it: the URL's host and port as written, without user info.
fn host_header(authority: &str) -> HeaderValue {
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = host.strip_suffix(':').unwrap_or(host);
    HeaderValue::from_str(host).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The request target of an HTTP/1.1 request to an origin server: path and query only.
fn origin_form(uri: &Uri) -> Uri {
    let mut parts = http::uri::Parts::default();
    parts.path_and_query =
        Some(uri.path_and_query().cloned().unwrap_or_else(|| http::uri::PathAndQuery::from_static("/")));
    Uri::from_parts(parts).unwrap_or_else(|_| Uri::from_static("/"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::{ClientSettings, HttpClient};
    use http::{HeaderMap, Method};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A raw HTTP/1.1 server on 127.0.0.1 answering `ok` to every request; it counts the
    /// connections it accepted, and with `close_after_answer` it closes each connection after
    /// its first answer without saying so (no `Connection: close`), as a server whose idle
    /// timeout fired does.
    async fn counting_server(close_after_answer: bool) -> (String, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://127.0.0.1:{}/x", listener.local_addr().unwrap().port());
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((mut tcp, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 1024];
                    loop {
                        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                            match tcp.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        }
                        buf.clear();
                        let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                        if tcp.write_all(answer).await.is_err() || close_after_answer {
                            return;
                        }
                    }
                });
            }
        });
        (url, accepted)
    }

    fn client(max_idle_per_host: usize, disable_keep_alives: bool, idle_timeout: Option<Duration>) -> HttpClient {
        HttpClient::new(&ClientSettings { max_idle_per_host, disable_keep_alives, idle_timeout, ..Default::default() })
    }

    async fn get(c: &HttpClient, url: &str) -> Bytes {
        c.send(&Method::GET, url, &HeaderMap::new(), None).await.expect("the call succeeds").body
    }

    #[tokio::test]
    async fn sequential_calls_to_one_host_share_one_connection() {
        let (url, accepted) = counting_server(false).await;
        let c = client(250, false, None);
        for _ in 0..5 {
            assert_eq!(get(&c, &url).await, "ok");
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn without_keep_alive_every_call_opens_a_connection() {
        let (url, accepted) = counting_server(false).await;
        let c = client(250, true, None);
        for _ in 0..3 {
            assert_eq!(get(&c, &url).await, "ok");
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn idle_connections_beyond_the_per_host_limit_are_closed() {
        let (url, accepted) = counting_server(false).await;
        let c = client(1, false, None);
        let both = || futures_util::future::join(get(&c, &url), get(&c, &url));
        assert_eq!(both().await, (Bytes::from("ok"), Bytes::from("ok")));
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
        // One of the two stayed idle: the next pair opens one new connection.
        both().await;
        assert_eq!(accepted.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_connection_idle_past_the_idle_timeout_is_not_reused() {
        let (url, accepted) = counting_server(false).await;
        let c = client(250, false, Some(Duration::from_millis(50)));
        get(&c, &url).await;
        get(&c, &url).await;
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
        tokio::time::sleep(Duration::from_millis(120)).await;
        get(&c, &url).await;
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn an_idle_connection_the_server_closed_is_replaced_without_an_error() {
        let (url, accepted) = counting_server(true).await;
        let c = client(250, false, None);
        for _ in 0..3 {
            assert_eq!(get(&c, &url).await, "ok");
            // Time for the connection task to see the server's close.
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn the_host_header_keeps_the_port_as_written_and_drops_user_info() {
        assert_eq!(host_header("example.com"), "example.com");
        assert_eq!(host_header("example.com:80"), "example.com:80");
        assert_eq!(host_header("user:pw@127.0.0.1:8080"), "127.0.0.1:8080");
        assert_eq!(host_header("example.com:"), "example.com");
    }

    #[test]
    fn requests_go_out_in_origin_form() {
        assert_eq!(origin_form(&Uri::from_static("http://h:1/a/b?x=1")), "/a/b?x=1");
        assert_eq!(origin_form(&Uri::from_static("http://h:1")), "/");
    }
}
