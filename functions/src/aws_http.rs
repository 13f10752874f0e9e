//! The AWS SDK's HTTP client: hyper-util's pooled HTTP/1.1 client over the gateway's own rustls
//! set-up, handed to the SDK through its `HttpClient` trait. The CLI gives it to `aws-config`,
//! whose credential providers (STS, SSO, ECS and EC2 metadata) call over it; the SDK's default
//! client would bring HTTP/2 and a second client stack (BENCHMARKS.md, "Measured design
//! choices"). The Lambda function does not link it.

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector as TcpConnector;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;

type Pool = Client<HttpsConnector<TcpConnector>, Full<Bytes>>;

/// How long connecting may take when the SDK gives no connect timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The client given to `aws_config` (and so to every SDK client built from its config).
#[derive(Clone, Debug)]
pub struct SdkHttpClient {
    pool: Pool,
}

impl SdkHttpClient {
    /// Reads the system's CA bundle (done only when a config comes from SSM).
    pub fn new() -> Result<SdkHttpClient, String> {
        let connector = tributary_core::https_connector(Some(CONNECT_TIMEOUT)).map_err(|e| e.to_string())?;
        Ok(SdkHttpClient::over(connector))
    }

    /// Over an existing connector (the SSM client's: the CA bundle is read once).
    pub fn over(connector: HttpsConnector<TcpConnector>) -> SdkHttpClient {
        SdkHttpClient { pool: Client::builder(TokioExecutor::new()).build(connector) }
    }
}

impl HttpClient for SdkHttpClient {
    fn http_connector(&self, settings: &HttpConnectorSettings, _: &RuntimeComponents) -> SharedHttpConnector {
        // The SDK's connect and read timeouts, as one limit on the whole exchange.
        let timeout = match (settings.connect_timeout(), settings.read_timeout()) {
            (Some(c), Some(r)) => Some(c + r),
            (c, r) => c.or(r),
        };
        SharedHttpConnector::new(Exchange { pool: self.pool.clone(), timeout })
    }
}

#[derive(Debug)]
struct Exchange {
    pool: Pool,
    timeout: Option<Duration>,
}

impl HttpConnector for Exchange {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let pool = self.pool.clone();
        let timeout = self.timeout;
        HttpConnectorFuture::new(async move {
            let exchange = send(pool, request);
            match timeout {
                Some(limit) => {
                    tokio::time::timeout(limit, exchange).await.map_err(|e| ConnectorError::timeout(Box::new(e)))?
                }
                None => exchange.await,
            }
        })
    }
}

async fn send(pool: Pool, request: HttpRequest) -> Result<HttpResponse, ConnectorError> {
    let request = request.try_into_http1x().map_err(|e| ConnectorError::user(Box::new(e)))?;
    let (parts, body) = request.into_parts();
    // SSM requests are small JSON documents held in memory; a streaming body is not expected.
    let Some(bytes) = body.bytes().map(Bytes::copy_from_slice) else {
        return Err(ConnectorError::user("a streaming request body is not supported".into()));
    };
    let response = pool
        .request(http::Request::from_parts(parts, Full::new(bytes)))
        .await
        .map_err(|e| ConnectorError::io(Box::new(e)))?;
    let (parts, body) = response.into_parts();
    let body = body.collect().await.map_err(|e| ConnectorError::io(Box::new(e)))?.to_bytes();
    HttpResponse::try_from(http::Response::from_parts(parts, SdkBody::from(body)))
        .map_err(|e| ConnectorError::other(Box::new(e), None))
}
