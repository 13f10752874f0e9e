//! Helpers for the robustness tests (`tests/e2e/robustness_*.rs`): raw TCP backends on 127.0.0.1 that
//! write exactly the bytes a test chooses (so they can misbehave), a gateway served by the local
//! server on a real socket, and a raw HTTP/1.1 client whose every step is bounded in time.

use bytes::Bytes;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};
use tributary_core::Gateway;

/// Longest request head a chaos backend reads before giving up on a connection.
const MAX_BACKEND_HEAD: usize = 1024 * 1024;

/// A raw TCP backend: for every connection it reads one request head (up to the blank line),
/// records it, then hands the stream and the head to the behaviour. Dropping it stops the
/// listener and every connection it holds.
pub struct Backend {
    pub addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    heads: Arc<Mutex<Vec<Vec<u8>>>>,
    task: JoinHandle<()>,
}

impl Backend {
    /// Starts a backend on 127.0.0.1:0 whose connections are served by `behaviour(stream, head)`.
    pub async fn start<F, Fut>(behaviour: F) -> Backend
    where
        F: Fn(TcpStream, Vec<u8>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a chaos backend");
        let addr = listener.local_addr().expect("chaos backend address");
        let connections = Arc::new(AtomicUsize::new(0));
        let heads = Arc::new(Mutex::new(Vec::new()));
        let behaviour = Arc::new(behaviour);
        let task = {
            let connections = connections.clone();
            let heads = heads.clone();
            tokio::spawn(async move {
                // Owning the connection tasks here means aborting this task aborts them all.
                let mut tasks = JoinSet::new();
                loop {
                    tokio::select! {
                        accepted = listener.accept() => {
                            let Ok((mut stream, _)) = accepted else { continue };
                            connections.fetch_add(1, Ordering::SeqCst);
                            let heads = heads.clone();
                            let behaviour = behaviour.clone();
                            tasks.spawn(async move {
                                let Some(head) = read_head(&mut stream).await else { return };
                                heads.lock().expect("heads lock").push(head.clone());
                                behaviour(stream, head).await;
                            });
                        }
                        Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                    }
                }
            })
        };
        Backend { addr, connections, heads, task }
    }

    /// A backend that answers every request with `response` and then closes the connection
    /// cleanly.
    pub async fn fixed(response: impl Into<Bytes>) -> Backend {
        let response: Bytes = response.into();
        Backend::start(move |mut stream, _head| {
            let response = response.clone();
            async move {
                if stream.write_all(&response).await.is_ok() {
                    finish(stream).await;
                }
            }
        })
        .await
    }

    /// A well-behaved backend answering `200` with the given JSON body.
    pub async fn json(body: &str) -> Backend {
        Backend::fixed(response("HTTP/1.1 200 OK", &[("Content-Type", "application/json")], body.as_bytes())).await
    }

    /// `http://127.0.0.1:<port>`, for a config's `host` list.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// Complete request heads received so far.
    pub fn requests(&self) -> usize {
        self.heads.lock().expect("heads lock").len()
    }

    /// The request lines received so far, exactly as they came (lossy UTF-8).
    pub fn request_lines(&self) -> Vec<String> {
        self.heads
            .lock()
            .expect("heads lock")
            .iter()
            .map(|head| {
                let end = head.windows(2).position(|w| w == b"\r\n").unwrap_or(head.len());
                String::from_utf8_lossy(&head[..end]).into_owned()
            })
            .collect()
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads a request head up to and including its blank line; `None` on EOF, error, an oversized
/// head or after 10 s.
pub async fn read_head(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let read = async {
        let mut head = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(at) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                head.truncate(at + 4);
                return Some(head);
            }
            if head.len() > MAX_BACKEND_HEAD {
                return None;
            }
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            head.extend_from_slice(&chunk[..n]);
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read).await.ok().flatten()
}

/// Closes a stream cleanly: half-closes our side, then waits (at most 2 s) for the peer to close
/// its side, so that no unread byte turns the close into a reset.
pub async fn finish(mut stream: TcpStream) {
    let _ = stream.shutdown().await;
    let drain = async {
        let mut chunk = [0u8; 4096];
        while let Ok(n) = stream.read(&mut chunk).await {
            if n == 0 {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), drain).await;
}

/// Resets the connection: `SO_LINGER` 0, then close (the peer sees `ECONNRESET`).
pub fn reset(stream: TcpStream) {
    let _ = stream.set_zero_linger();
    drop(stream);
}

/// A response with the given status line, headers, `Content-Length`, `Connection: close` and body.
pub fn response(status_line: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("{status_line}\r\n").into_bytes();
    for (name, value) in headers {
        out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    out.extend_from_slice(format!("Content-Length: {}\r\nConnection: close\r\n\r\n", body.len()).as_bytes());
    out.extend_from_slice(body);
    out
}

/// The gateway served by the local server on 127.0.0.1:0. Dropping it stops the server.
pub struct Served {
    pub addr: SocketAddr,
    pub gateway: Arc<Gateway>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Served {
    /// Builds the gateway from `config` (panics on a config error) and serves it.
    pub async fn start(config: &str) -> Served {
        let gateway = Arc::new(Gateway::from_json(config).unwrap_or_else(|e| panic!("config rejected: {e}\n{config}")));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the local server");
        let addr = listener.local_addr().expect("local server address");
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(tributary_functions::server::serve(gateway.clone(), listener, async move {
            let _ = rx.await;
        }));
        Served { addr, gateway, shutdown: Some(tx), task }
    }

    /// `GET target` on a new connection; panics when no response arrives within `limit`.
    pub async fn get(&self, target: &str, limit: Duration) -> Reply {
        get(self.addr, target, limit).await
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.task.abort();
    }
}

/// A response read off the wire: status, header lines in order, body.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    /// The first value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The `X-Krakend-Completed` value.
    pub fn completed(&self) -> Option<&str> {
        self.header("x-krakend-completed")
    }

    /// The body as (lossy) text, for messages.
    pub fn text(&self) -> String {
        short(&self.body)
    }
}

/// The first 300 bytes of `bytes` as lossy text, for assertion messages.
pub fn short(bytes: &[u8]) -> String {
    let end = bytes.len().min(300);
    let mut text = String::from_utf8_lossy(&bytes[..end]).into_owned();
    if bytes.len() > end {
        text.push_str(&format!("... ({} bytes)", bytes.len()));
    }
    text
}

/// What a raw exchange produced.
#[derive(Debug)]
pub enum Outcome {
    /// A complete response.
    Reply(Reply),
    /// The server closed (or reset) the connection without writing a single byte.
    Closed,
    /// Anything else: a malformed or truncated response, an I/O error.
    Broken(String),
}

/// `GET target HTTP/1.1` with a `Host` header on a new connection; panics when no complete
/// response arrives within `limit`.
pub async fn get(addr: SocketAddr, target: &str, limit: Duration) -> Reply {
    let request = format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    match exchange(addr, request.as_bytes(), limit).await {
        Some(Outcome::Reply(reply)) => reply,
        Some(other) => panic!("GET {}: no response: {other:?}", short(target.as_bytes())),
        None => panic!("GET {}: no response within {limit:?}", short(target.as_bytes())),
    }
}

/// Writes `request` on a new connection and reads one response; `None` when that takes longer
/// than `limit`.
pub async fn exchange(addr: SocketAddr, request: &[u8], limit: Duration) -> Option<Outcome> {
    tokio::time::timeout(limit, async {
        let mut stream = match TcpStream::connect(addr).await {
            Ok(s) => s,
            Err(e) => return Outcome::Broken(format!("connect: {e}")),
        };
        if let Err(e) = stream.write_all(request).await {
            // The server may already have answered and closed (e.g. a rejected head).
            let outcome = read_response(&mut stream).await;
            return match outcome {
                Outcome::Reply(_) => outcome,
                _ => Outcome::Broken(format!("write: {e}")),
            };
        }
        read_response(&mut stream).await
    })
    .await
    .ok()
}

/// Reads one response from `stream` (head, then body by `Content-Length`, chunked or until EOF).
pub async fn read_response(stream: &mut TcpStream) -> Outcome {
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let (head_len, status, headers) = loop {
        let mut storage = vec![httparse::EMPTY_HEADER; 2048];
        let mut head = httparse::Response::new(&mut storage);
        match head.parse(&buf) {
            Ok(httparse::Status::Complete(len)) => {
                let status = head.code.unwrap_or(0);
                let headers: Vec<(String, String)> = head
                    .headers
                    .iter()
                    .map(|h| (h.name.to_owned(), String::from_utf8_lossy(h.value).into_owned()))
                    .collect();
                if status == 100 {
                    buf.drain(..len);
                    continue;
                }
                break (len, status, headers);
            }
            Ok(httparse::Status::Partial) => {}
            Err(e) => return Outcome::Broken(format!("malformed head {e}: {}", short(&buf))),
        }
        match stream.read(&mut chunk).await {
            Ok(0) if buf.is_empty() => return Outcome::Closed,
            Ok(0) => return Outcome::Broken(format!("EOF inside the head: {}", short(&buf))),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(_) if buf.is_empty() => return Outcome::Closed,
            Err(e) => return Outcome::Broken(format!("read error inside the head: {e}")),
        }
    };
    buf.drain(..head_len);
    let find = |name: &str| {
        headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim().to_ascii_lowercase())
    };
    let body = if status < 200 || status == 204 || status == 304 {
        Vec::new()
    } else if find("transfer-encoding").is_some_and(|te| te == "chunked") {
        match read_chunked(stream, buf).await {
            Ok(body) => body,
            Err(e) => return Outcome::Broken(e),
        }
    } else if let Some(length) = find("content-length").and_then(|v| v.parse::<usize>().ok()) {
        buf.reserve(length.saturating_sub(buf.len()));
        while buf.len() < length {
            match stream.read(&mut chunk).await {
                Ok(0) => {
                    return Outcome::Broken(format!("EOF after {} of {length} body bytes", buf.len()));
                }
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) => return Outcome::Broken(format!("read error inside the body: {e}")),
            }
        }
        buf.truncate(length);
        buf
    } else {
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) => break buf,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) => return Outcome::Broken(format!("read error inside the body: {e}")),
            }
        }
    };
    Outcome::Reply(Reply { status, headers, body })
}

async fn read_chunked(stream: &mut TcpStream, mut buf: Vec<u8>) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        // Enough bytes for the size line?
        let Some(eol) = buf.windows(2).position(|w| w == b"\r\n") else {
            let n = stream.read(&mut chunk).await.map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("EOF inside a chunked body".to_owned());
            }
            buf.extend_from_slice(&chunk[..n]);
            continue;
        };
        let line = String::from_utf8_lossy(&buf[..eol]).into_owned();
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| format!("invalid chunk size {size_text:?}"))?;
        while buf.len() < eol + 2 + size + 2 {
            let n = stream.read(&mut chunk).await.map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("EOF inside a chunk".to_owned());
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        if size == 0 {
            return Ok(body);
        }
        body.extend_from_slice(&buf[eol + 2..eol + 2 + size]);
        buf.drain(..eol + 2 + size + 2);
    }
}
