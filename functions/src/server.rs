//! The local server door: a hyper HTTP/1.1 listener that converts each request to a
//! `GatewayRequest`, hands it to the core and writes the `GatewayResponse` back. Nothing else.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::convert::Infallible;
use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tributary_core::{Gateway, GatewayRequest, GatewayResponse};

/// Largest client body the local server reads (Lambda's own payload limit is 6 MB).
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
/// Default time a client gets to send its request headers (KrakenD leaves it unbounded;
/// a bound keeps trickling clients from holding connections forever).
const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Go's server accepts up to 1 MB of headers; hyper counts the whole request head.
const MAX_HEAD_BYTES: usize = 1024 * 1024;
const MAX_HEADERS: usize = 1000;

/// Serves `gateway` on `listener` until `shutdown` completes, then drains in-flight requests.
pub async fn serve(
    gateway: Arc<Gateway>,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let settings = gateway.server_settings().clone();
    let header_timeout = settings.read_header_timeout.unwrap_or(DEFAULT_HEADER_TIMEOUT);
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
        let service = service_fn(move |req| handle(gw.clone(), peer_ip, req));
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            .max_buf_size(max_buf)
            .max_headers(MAX_HEADERS);
        let conn = builder.serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection closed with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

async fn handle(
    gateway: Arc<Gateway>,
    peer: IpAddr,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            let status = if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() {
                StatusCode::PAYLOAD_TOO_LARGE
            } else {
                StatusCode::BAD_REQUEST
            };
            return Ok(plain(status));
        }
    };
    let request = GatewayRequest {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or("").to_owned(),
        headers: parts.headers,
        body,
        peer_ip: Some(peer),
    };
    Ok(into_hyper(gateway.handle(request).await))
}

fn into_hyper(r: GatewayResponse) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(r.body));
    *resp.status_mut() = r.status;
    *resp.headers_mut() = r.headers;
    resp
}

fn plain(status: StatusCode) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = status;
    resp
}
