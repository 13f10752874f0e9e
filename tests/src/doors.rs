//! The doors a case goes through: in process (`Gateway::handle`) and over the local server
//! (`tributary_functions::server::serve` on a real TCP listener). Each starts a fresh gateway
//! per case, sends requests with a time limit, and stops it.

use crate::client::{self, OutRequest};
use crate::compare::{Response, latin1};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tributary_core::{Gateway, GatewayRequest};

/// At most this long for one request (as `HTTP_TIMEOUT` in run_cases.py).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// At most this long for the local server to stop after its shutdown signal.
pub const STOP_GRACE: Duration = Duration::from_secs(3);

/// An entry point of Tributary that the cases are run through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Door {
    /// `Gateway::from_json` then `Gateway::handle`, no network between client and gateway.
    InProcess,
    /// The local HTTP server on 127.0.0.1, reached by a raw HTTP/1.1 client.
    LocalServer,
}

impl Door {
    pub fn name(self) -> &'static str {
        match self {
            Door::InProcess => "in-process",
            Door::LocalServer => "local server",
        }
    }

    /// Reserves the port the gateway will be known by (it goes into the config's "port").
    pub async fn reserve(self) -> std::io::Result<Slot> {
        match self {
            Door::InProcess => {
                // Nothing listens in process; a free port keeps the Host header realistic.
                let probe = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
                Ok(Slot::InProcess {
                    port: probe.local_addr()?.port(),
                })
            }
            Door::LocalServer => {
                let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
                Ok(Slot::LocalServer {
                    port: listener.local_addr()?.port(),
                    listener,
                })
            }
        }
    }
}

/// A door with its port reserved, ready to start a gateway.
pub enum Slot {
    InProcess { port: u16 },
    LocalServer { port: u16, listener: TcpListener },
}

impl Slot {
    pub fn port(&self) -> u16 {
        match self {
            Slot::InProcess { port } | Slot::LocalServer { port, .. } => *port,
        }
    }

    /// Builds the gateway from the config text and, for the local server, starts serving.
    pub fn start(self, config_text: &str) -> Result<Running, String> {
        let built = std::panic::catch_unwind(AssertUnwindSafe(|| Gateway::from_json(config_text)));
        let gateway = match built {
            Ok(Ok(gateway)) => Arc::new(gateway),
            Ok(Err(e)) => return Err(format!("the gateway rejected the config: {e}")),
            Err(panic) => {
                return Err(format!(
                    "Gateway::from_json panicked: {}",
                    panic_text(&*panic)
                ));
            }
        };
        Ok(match self {
            Slot::InProcess { port } => Running::InProcess { gateway, port },
            Slot::LocalServer { port, listener } => {
                let (tx, rx) = oneshot::channel::<()>();
                let shutdown = async move {
                    let _ = rx.await;
                };
                let task = tokio::spawn(tributary_functions::server::serve(
                    gateway, listener, shutdown,
                ));
                Running::LocalServer(Server {
                    addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
                    shutdown: Some(tx),
                    task,
                })
            }
        })
    }
}

/// A started gateway.
pub enum Running {
    InProcess { gateway: Arc<Gateway>, port: u16 },
    LocalServer(Server),
}

/// The local server task; dropping it aborts the task.
pub struct Server {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Running {
    /// Sends one request, at most [`REQUEST_TIMEOUT`].
    pub async fn send(&self, req: &OutRequest) -> Result<Response, String> {
        let sent = match self {
            Running::InProcess { gateway, .. } => {
                let request = to_gateway_request(req)?;
                let gateway = Arc::clone(gateway);
                // Its own task, so that a panic is reported for this case without losing the logs.
                let task = tokio::spawn(async move { gateway.handle(request).await });
                let abort = task.abort_handle();
                match tokio::time::timeout(REQUEST_TIMEOUT, task).await {
                    Ok(Ok(response)) => Ok(Ok(from_gateway_response(response, &req.method))),
                    Ok(Err(e)) if e.is_panic() => Ok(Err(format!(
                        "Gateway::handle panicked: {}",
                        panic_text(&*e.into_panic())
                    ))),
                    Ok(Err(e)) => Ok(Err(format!("Gateway::handle did not finish: {e}"))),
                    Err(elapsed) => {
                        abort.abort();
                        Err(elapsed)
                    }
                }
            }
            Running::LocalServer(server) => {
                tokio::time::timeout(REQUEST_TIMEOUT, client::send(server.addr, req)).await
            }
        };
        sent.unwrap_or_else(|_| Err(format!("no response within {}s", REQUEST_TIMEOUT.as_secs())))
    }

    /// Stops the gateway; returns the problems (the server stopped early or failed) and
    /// diagnostics (it was slow to stop).
    pub async fn stop(self) -> (Vec<String>, Vec<String>) {
        let mut problems = Vec::new();
        let mut diagnostics = Vec::new();
        let Running::LocalServer(mut server) = self else {
            return (problems, diagnostics);
        };
        let early = server.task.is_finished();
        if let Some(tx) = server.shutdown.take() {
            let _ = tx.send(());
        }
        match tokio::time::timeout(STOP_GRACE, &mut server.task).await {
            Ok(Ok(Ok(()))) if early => {
                problems.push("the local server stopped during the case".to_owned())
            }
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => problems.push(format!("the local server failed: {e}")),
            Ok(Err(e)) if e.is_panic() => problems.push(format!(
                "the local server panicked: {}",
                panic_text(&*e.into_panic())
            )),
            Ok(Err(e)) => problems.push(format!("the local server task failed: {e}")),
            Err(_) => diagnostics.push(format!(
                "the local server did not stop within {}s of its shutdown signal",
                STOP_GRACE.as_secs()
            )),
        }
        (problems, diagnostics)
    }
}

fn to_gateway_request(req: &OutRequest) -> Result<GatewayRequest, String> {
    let method = Method::from_bytes(req.method.as_bytes())
        .map_err(|e| format!("invalid method {:?}: {e}", req.method))?;
    let mut request = GatewayRequest::new(method, &req.target);
    let mut headers = HeaderMap::new();
    for (name, value) in &req.headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| format!("invalid header name {name:?}: {e}"))?;
        let value = HeaderValue::from_str(value)
            .map_err(|e| format!("invalid value of header {name}: {e}"))?;
        headers.append(name, value);
    }
    request.headers = headers;
    request.body = req.body.clone().unwrap_or_default().into();
    request.peer_ip = Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
    Ok(request)
}

/// What a client would receive: as over HTTP/1.1 (and in `run_cases.py`'s client), a response to
/// HEAD, or with status 1xx, 204 or 304, has no body.
fn from_gateway_response(response: tributary_core::GatewayResponse, method: &str) -> Response {
    let status = response.status.as_u16();
    let bodyless = method == "HEAD" || status < 200 || status == 204 || status == 304;
    Response {
        status,
        headers: response
            .headers
            .iter()
            .map(|(name, value)| (name.as_str().to_owned(), latin1(value.as_bytes())))
            .collect(),
        body: if bodyless {
            bytes::Bytes::new()
        } else {
            response.body
        },
    }
}

/// The message of a panic payload.
pub fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "(non-text panic payload)".to_owned()
    }
}
