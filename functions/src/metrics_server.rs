//! The local server's metrics listeners: `GET /__stats` on `telemetry/metrics`'
//! `listen_address`, `GET /metrics` on each Prometheus exporter's port (OpenTelemetry's and
//! OpenCensus's). The core renders; this door only binds, routes and writes. Every listener is
//! bound before the gateway's own, so that a port in use stops start-up with the key that asks
//! for it.

use bytes::Bytes;
use http::header::{ALLOW, CONTENT_TYPE, HeaderValue, LOCATION};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tributary_core::Gateway;
use tributary_core::telemetry::metrics::{ListenerKind, listeners};
use tributary_core::telemetry::prometheus;

/// How long one connection to a metrics listener may stay open (a scrape takes milliseconds).
const CONNECTION_LIMIT: Duration = Duration::from_secs(30);

/// The running listeners (and the `/__stats` window roller); dropping it stops them.
#[derive(Debug, Default)]
pub struct MetricsListeners {
    tasks: Vec<JoinHandle<()>>,
    /// The bound addresses, in config order.
    pub addrs: Vec<std::net::SocketAddr>,
}

impl Drop for MetricsListeners {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Binds every metrics listener the gateway's config asks for and serves them. An address that
/// cannot be bound is an error naming its config key.
pub async fn start(gateway: &Arc<Gateway>) -> Result<MetricsListeners, String> {
    let mut running = MetricsListeners::default();
    let Some(metrics) = gateway.metrics() else {
        return Ok(running);
    };
    for l in listeners(&gateway.telemetry().config) {
        let listener =
            TcpListener::bind(&l.addr).await.map_err(|e| format!("`{}`: cannot listen on {}: {e}", l.key, l.addr))?;
        if let Ok(a) = listener.local_addr() {
            running.addrs.push(a);
        }
        tracing::info!(addr = %l.addr, key = %l.key, "metrics listening");
        running.tasks.push(tokio::spawn(accept(gateway.clone(), listener, l.kind)));
    }
    if let Some(stats) = metrics.outputs().stats {
        let gw = gateway.clone();
        running.tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(stats.collection_time);
            tick.tick().await;
            loop {
                tick.tick().await;
                if let Some(m) = gw.metrics() {
                    m.roll();
                }
            }
        }));
    }
    Ok(running)
}

async fn accept(gateway: Arc<Gateway>, listener: TcpListener, kind: ListenerKind) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let gw = gateway.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let gw = gw.clone();
                async move { Ok::<_, Infallible>(answer(&gw, kind, &req)) }
            });
            let conn = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            let _ = tokio::time::timeout(CONNECTION_LIMIT, conn).await;
        });
    }
}

fn answer(gateway: &Gateway, kind: ListenerKind, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let Some(metrics) = gateway.metrics() else {
        return text(StatusCode::NOT_FOUND, "404 page not found");
    };
    let path = req.uri().path();
    let (route, rendered, content_type) = match kind {
        ListenerKind::Stats => ("/__stats", metrics.render_stats(), "application/json; charset=utf-8"),
        ListenerKind::OtelPrometheus { process_metrics } => {
            ("/metrics", metrics.render_otel_prometheus(process_metrics), prometheus::CONTENT_TYPE)
        }
        ListenerKind::OpencensusPrometheus => {
            ("/metrics", metrics.render_opencensus_prometheus(), prometheus::CONTENT_TYPE)
        }
    };
    if path != route {
        // gin's RedirectTrailingSlash, which krakend-metrics' engine keeps on.
        if kind == ListenerKind::Stats && path.strip_suffix('/') == Some(route) {
            let mut r = text(StatusCode::MOVED_PERMANENTLY, "");
            r.headers_mut().insert(LOCATION, HeaderValue::from_static("/__stats"));
            return r;
        }
        return text(StatusCode::NOT_FOUND, "404 page not found");
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "405 method not allowed");
        r.headers_mut().insert(ALLOW, HeaderValue::from_static("GET"));
        return r;
    }
    let mut r = Response::new(Full::new(Bytes::from(rendered.unwrap_or_default())));
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = status;
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    r
}
