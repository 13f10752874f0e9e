//! The pooled HTTP/1.1 client of every backend call and JWK download, behaving as Go's
//! `http.Client` does for KrakenD: keep-alive pools per host, redirects followed (at most 10),
//! gzip asked for and decoded transparently, and TLS set up only when a first `https` URL is used.
//!
//! Built on hyper's HTTP/1.1 connections and our own pool (`pool`) rather than reqwest, which
//! parses each URL three times per call (IDNA included) and goes through tower layers, and sets
//! up TLS (reading the system's CA bundle) when the client is built, so every cold start pays for
//! it even with no `https` backend at all (measured in BENCHMARKS.md).

use super::body::{CollectError, collect_capped};
use super::pool::Pool;
use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Request, StatusCode, Uri};
use http_body_util::Full;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder, MaybeHttpsStream};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::io::Read;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpStream;

/// Go's `http.Client` gives up after 10 redirects.
const MAX_REDIRECTS: usize = 10;
/// Go's default `IdleConnTimeout`.
const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// Largest backend body, decoded, unless `tributary/backend.max_body_bytes` says otherwise: above
/// the 50 MB bodies KrakenD is seen to handle, far below what a gzip bomb expands to.
pub const DEFAULT_MAX_BODY: usize = 64 * 1024 * 1024;

/// How the client behaves: the service's `max_idle_connections_per_host`,
/// `idle_connection_timeout`, `dialer_timeout`, `allow_insecure_connections`,
/// `disable_compression`, `disable_keep_alives` and `tributary/backend.max_body_bytes`.
#[derive(Debug, Clone, Default)]
pub(crate) struct ClientSettings {
    pub max_idle_per_host: usize,
    pub idle_timeout: Option<Duration>,
    pub connect_timeout: Option<Duration>,
    pub insecure: bool,
    pub disable_compression: bool,
    pub disable_keep_alives: bool,
    /// Largest backend body, decoded (`tributary/backend.max_body_bytes`; 0 for the default).
    pub max_body: usize,
}

/// A backend's raw HTTP answer.
#[derive(Debug)]
pub(crate) struct RawResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Stream = MaybeHttpsStream<TokioIo<TcpStream>>;

/// The shared client: cheap to clone (the pools are shared).
#[derive(Clone)]
pub(crate) struct HttpClient {
    pool: Arc<Pool>,
    gzip: bool,
    /// Largest body [`HttpClient::send`] accepts, after gunzip.
    max_body: usize,
    /// The connector's lazily built TLS set-up (shared with the pool's connector).
    tls: TlsSlot,
}

type TlsSlot = Arc<OnceLock<Result<HttpsConnector<HttpConnector>, TlsError>>>;

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("gzip", &self.gzip)
            .field("tls_ready", &self.tls.get().is_some())
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    pub(crate) fn new(s: &ClientSettings) -> HttpClient {
        let max_idle = if s.disable_keep_alives { 0 } else { s.max_idle_per_host };
        HttpClient::with_pool(s, max_idle, Some(s.idle_timeout.unwrap_or(DEFAULT_IDLE_TIMEOUT)))
    }

    /// A client whose pool never expires idle connections (for tests on a paused clock).
    #[cfg(test)]
    pub(crate) fn without_timers() -> HttpClient {
        let s = ClientSettings::default();
        HttpClient::with_pool(&s, usize::MAX, None)
    }

    fn with_pool(s: &ClientSettings, max_idle: usize, idle_timeout: Option<Duration>) -> HttpClient {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(s.connect_timeout);
        let tls = TlsSlot::default();
        let connector = Connector { http, tls: tls.clone(), insecure: s.insecure };
        let max_body = if s.max_body == 0 { DEFAULT_MAX_BODY } else { s.max_body };
        HttpClient {
            pool: Arc::new(Pool::new(connector, max_idle, idle_timeout)),
            gzip: !s.disable_compression,
            max_body,
            tls,
        }
    }

    /// Sends one request, follows redirects and reads the whole answer, at most the client's
    /// body limit (decoded).
    pub(crate) async fn send(
        &self,
        method: &Method,
        url: &str,
        headers: &HeaderMap,
        body: Option<Bytes>,
    ) -> Result<RawResponse, String> {
        let max = self.max_body;
        self.send_limited(method, url, headers, body, max).await.map_err(|e| match e {
            SendError::TooLarge => format!("{} \"{url}\": the body is larger than {max} bytes", go_method(method)),
            SendError::Failed(text) => text,
        })
    }

    /// [`HttpClient::send`], refusing answers whose (decoded) body is larger than `max_body`.
    pub(crate) async fn send_limited(
        &self,
        method: &Method,
        url: &str,
        headers: &HeaderMap,
        mut body: Option<Bytes>,
        max_body: usize,
    ) -> Result<RawResponse, SendError> {
        // Go's transport asks for gzip (and decodes it) only when the request did not choose.
        let gzip = self.gzip && !headers.contains_key(header::ACCEPT_ENCODING);
        // Copied once per request sent; the caller's map is copied for keeps only when a
        // redirect changes it.
        let mut headers = std::borrow::Cow::Borrowed(headers);
        let mut method = method.clone();
        let mut uri: Uri = url.parse().map_err(|e| format!("parse \"{url}\": {e}"))?;
        // The first URL's host (credentials follow redirects within it); set at the first redirect.
        let mut first_host: Option<String> = None;
        let mut redirects = 0;
        loop {
            let mut req = Request::new(Full::new(body.clone().unwrap_or_default()));
            *req.method_mut() = method.clone();
            *req.headers_mut() = headers.as_ref().clone();
            if gzip {
                req.headers_mut().insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
            }
            let (resp, lease) = self
                .pool
                .send(&uri, req)
                .await
                .map_err(|e| format!("{} \"{uri}\": {}", go_method(&method), chain(&*e)))?;
            let status = resp.status();
            let location = resp.headers().get(header::LOCATION).and_then(|l| l.to_str().ok());
            if let (true, Some(location)) = (is_redirect(status), location) {
                redirects += 1;
                if redirects > MAX_REDIRECTS {
                    return Err(SendError::Failed(format!(
                        "{} \"{uri}\": stopped after {MAX_REDIRECTS} redirects",
                        go_method(&method)
                    )));
                }
                let next = resolve(&uri, location).map_err(|e| format!("{} \"{uri}\": {e}", go_method(&method)))?;
                let first_host = first_host.get_or_insert_with(|| uri.host().unwrap_or_default().to_ascii_lowercase());
                follow(&mut method, &mut body, headers.to_mut(), status, &uri, &next, first_host);
                uri = next;
                continue;
            }
            let (mut parts, incoming) = resp.into_parts();
            let announced = parts.headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse().ok());
            let raw = collect_capped(incoming, max_body, announced).await.map_err(|e| in_exchange(e, &method, &uri))?;
            self.pool.check_in(&uri, lease);
            let body = if gzip && is_gzip(&parts.headers) {
                parts.headers.remove(header::CONTENT_ENCODING);
                parts.headers.remove(header::CONTENT_LENGTH);
                gunzip(&raw, max_body)?
            } else {
                raw
            };
            return Ok(RawResponse { status, headers: parts.headers, body });
        }
    }
}

fn is_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

/// The next request of a redirect, as Go's client builds it: 301/302/303 turn into GET (HEAD
/// stays HEAD) without the body; 307/308 keep both. Credentials go only to the same host or
/// its subdomains; `Referer` names the previous URL unless that would leak https into http.
fn follow(
    method: &mut Method,
    body: &mut Option<Bytes>,
    headers: &mut HeaderMap,
    status: StatusCode,
    from: &Uri,
    to: &Uri,
    first_host: &str,
) {
    if matches!(status.as_u16(), 301..=303) && *method != Method::HEAD {
        *method = Method::GET;
        *body = None;
        for h in [header::CONTENT_TYPE, header::CONTENT_LENGTH, header::TRANSFER_ENCODING] {
            headers.remove(h);
        }
    }
    let host = to.host().unwrap_or_default().to_ascii_lowercase();
    let same_domain = host == first_host || host.strip_suffix(first_host).is_some_and(|p| p.ends_with('.'));
    if !same_domain {
        for h in [header::AUTHORIZATION, header::WWW_AUTHENTICATE, header::COOKIE, header::PROXY_AUTHORIZATION] {
            headers.remove(h);
        }
    }
    headers.remove(header::REFERER);
    if !(from.scheme_str() == Some("https") && to.scheme_str() != Some("https")) {
        let mut referer = from.clone().into_parts();
        // A Referer carries no user info; `Uri` never holds a fragment.
        if let Some(a) = referer.authority.as_ref().filter(|a| a.as_str().contains('@'))
            && let Some((_, host)) = a.as_str().rsplit_once('@')
        {
            referer.authority = host.parse().ok();
        }
        if let Some(v) = Uri::from_parts(referer).ok().and_then(|u| HeaderValue::from_str(&u.to_string()).ok()) {
            headers.insert(header::REFERER, v);
        }
    }
}

/// A `Location` resolved against the URL that answered it (RFC 3986, via the `url` crate).
fn resolve(base: &Uri, location: &str) -> Result<Uri, RedirectError> {
    let base = url::Url::parse(&base.to_string()).map_err(RedirectError::BadUrl)?;
    let next =
        base.join(location).map_err(|error| RedirectError::Unparsable { location: location.to_owned(), error })?;
    match next.scheme() {
        "http" | "https" => {
            next.as_str().parse().map_err(|error| RedirectError::BadLocation { location: location.to_owned(), error })
        }
        other => Err(RedirectError::Scheme(other.to_owned())),
    }
}

/// Why a redirect cannot be followed, in Go's client's words.
#[derive(Debug, thiserror::Error)]
enum RedirectError {
    #[error("bad URL: {0}")]
    BadUrl(url::ParseError),
    #[error("failed to parse Location header \"{location}\": {error}")]
    Unparsable { location: String, error: url::ParseError },
    #[error("bad Location \"{location}\": {error}")]
    BadLocation { location: String, error: http::uri::InvalidUri },
    #[error("unsupported protocol scheme \"{0}\"")]
    Scheme(String),
}

fn is_gzip(headers: &HeaderMap) -> bool {
    headers.get(header::CONTENT_ENCODING).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"))
}

/// Decodes a whole gzip body (every member, as Go's `gzip.Reader`), at most `max` bytes. The
/// output buffer is sized once from the gzip trailer's length: growing it by doubling would hold
/// the old and the new copy at once, up to twice the limit for a body that lies about its size.
fn gunzip(raw: &[u8], max: usize) -> Result<Bytes, SendError> {
    let failed = |e: std::io::Error| SendError::Failed(format!("gzip: {e}"));
    // ISIZE: the last member's decoded length, modulo 2^32 (a hint; it may lie).
    let hint = raw.len().checked_sub(4).map_or(0, |at| {
        let mut word = [0u8; 4];
        word.copy_from_slice(&raw[at..]);
        u32::from_le_bytes(word) as usize
    });
    let first_guess = hint.min(max);
    let mut out = Vec::with_capacity(first_guess.saturating_add(1));
    let mut decoder = flate2::read::MultiGzDecoder::new(raw);
    (&mut decoder).take(first_guess as u64 + 1).read_to_end(&mut out).map_err(failed)?;
    if out.len() <= first_guess {
        return Ok(Bytes::from(out));
    }
    if first_guess == max {
        return Err(SendError::TooLarge);
    }
    // The trailer undersold the body (several members, or a lie): measure, then decode once more
    // into a buffer of the right size, never holding two.
    let rest = u64::try_from(max - out.len()).unwrap_or(u64::MAX).saturating_add(1);
    let more = std::io::copy(&mut (&mut decoder).take(rest), &mut std::io::sink()).map_err(failed)?;
    let total = out.len() + usize::try_from(more).unwrap_or(usize::MAX);
    if total > max {
        return Err(SendError::TooLarge);
    }
    drop(out);
    let mut out = Vec::with_capacity(total);
    flate2::read::MultiGzDecoder::new(raw).take(total as u64).read_to_end(&mut out).map_err(failed)?;
    Ok(Bytes::from(out))
}

/// A body error in Go's words for the exchange that read it.
fn in_exchange(e: CollectError<hyper::Error>, method: &Method, uri: &Uri) -> SendError {
    match e {
        CollectError::TooLarge => SendError::TooLarge,
        CollectError::Failed(e) => SendError::Failed(format!("{} \"{uri}\": {}", go_method(method), chain(&e))),
    }
}

/// Why [`HttpClient::send_limited`] has no answer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SendError {
    /// The body, decoded, is larger than the caller's limit.
    TooLarge,
    /// Anything else, worded as Go's client words it.
    Failed(String),
}

impl From<String> for SendError {
    fn from(text: String) -> Self {
        SendError::Failed(text)
    }
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::TooLarge => f.write_str("the body is larger than the limit"),
            SendError::Failed(text) => f.write_str(text),
        }
    }
}

/// Go's spelling of a method in client errors (`Get`, `Post`, ...).
fn go_method(m: &Method) -> String {
    let s = m.as_str();
    let mut out = String::with_capacity(s.len());
    for (i, c) in s.chars().enumerate() {
        out.push(if i == 0 { c } else { c.to_ascii_lowercase() });
    }
    out
}

fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Plain TCP for `http`; for `https`, a rustls connector built on the first use (the CA bundle
/// is read then, not at every cold start).
#[derive(Clone)]
pub(crate) struct Connector {
    http: HttpConnector,
    tls: TlsSlot,
    insecure: bool,
}

impl tower_service::Service<Uri> for Connector {
    type Response = Stream;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Stream, BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        if uri.scheme_str() == Some("https") {
            let tls = self.tls.get_or_init(|| tls_connector(self.http.clone(), self.insecure)).clone();
            Box::pin(async move {
                let mut tls = tls.map_err(BoxError::from)?;
                tower_service::Service::call(&mut tls, uri).await
            })
        } else {
            let mut http = self.http.clone();
            Box::pin(async move { Ok(MaybeHttpsStream::Http(tower_service::Service::call(&mut http, uri).await?)) })
        }
    }
}

/// An HTTP/1.1 connector for `http` and `https` URLs with the gateway's TLS set-up (the system's
/// roots, ring), for the process's other clients (the AWS SDK's, in the doors): one TLS and
/// HTTP stack ships, not two.
pub fn https_connector(connect_timeout: Option<Duration>) -> Result<HttpsConnector<HttpConnector>, TlsError> {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(connect_timeout);
    tls_connector(http, false)
}

fn tls_connector(http: HttpConnector, insecure: bool) -> Result<HttpsConnector<HttpConnector>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(TlsError)?;
    let config = if insecure {
        builder.dangerous().with_custom_certificate_verifier(Arc::new(AcceptAnyCert(provider))).with_no_client_auth()
    } else {
        let mut roots = rustls::RootCertStore::empty();
        roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    Ok(HttpsConnectorBuilder::new().with_tls_config(config).https_or_http().enable_http1().wrap_connector(http))
}

/// The TLS set-up cannot be built (the crypto provider refuses the protocol versions). Kept
/// whole, not as a source, so that the client's error chain names it once.
#[derive(Debug, Clone, thiserror::Error)]
#[error("TLS set-up: {0}")]
pub struct TlsError(rustls::Error);

/// `allow_insecure_connections`: any certificate is accepted (signatures are still checked).
#[derive(Debug)]
struct AcceptAnyCert(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Response;
    use http_body_util::BodyExt;
    use hyper::body::Incoming;
    use hyper::service::service_fn;
    use std::io::Write;
    use std::sync::Mutex;

    /// What the test server saw of one request.
    #[derive(Debug, Clone)]
    struct Seen {
        method: Method,
        path: String,
        headers: HeaderMap,
        body: Bytes,
    }

    type Answer = fn(&Seen, u16) -> Response<Full<Bytes>>;

    /// A real HTTP/1.1 server on 127.0.0.1 recording every request; `answer` gets the request
    /// and the server's port.
    async fn server(answer: Answer) -> (u16, Arc<Mutex<Vec<Seen>>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let log = log.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req: Request<Incoming>| {
                        let log = log.clone();
                        async move {
                            let (parts, body) = req.into_parts();
                            let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                            let path = parts.uri.path_and_query().map(ToString::to_string).unwrap_or_default();
                            let seen = Seen { method: parts.method, path, headers: parts.headers, body };
                            log.lock().unwrap().push(seen.clone());
                            Ok::<_, std::convert::Infallible>(answer(&seen, port))
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tcp), svc).await;
                });
            }
        });
        (port, seen)
    }

    fn gzipped(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    fn client() -> HttpClient {
        HttpClient::new(&ClientSettings { max_idle_per_host: 4, ..ClientSettings::default() })
    }

    fn gzip_answer(_: &Seen, _: u16) -> Response<Full<Bytes>> {
        Response::builder()
            .header("Content-Encoding", "gzip")
            .header("Content-Type", "application/json")
            .body(Full::new(Bytes::from(gzipped(br#"{"zipped":true}"#))))
            .unwrap()
    }

    #[tokio::test]
    async fn gzip_is_asked_for_and_decoded_unless_the_request_chose_an_encoding() {
        let (port, seen) = server(gzip_answer).await;
        let url = format!("http://127.0.0.1:{port}/z");
        let c = client();
        let got = c.send(&Method::GET, &url, &HeaderMap::new(), None).await.unwrap();
        assert_eq!(got.body, Bytes::from_static(br#"{"zipped":true}"#));
        assert!(got.headers.get(header::CONTENT_ENCODING).is_none());
        let first = seen.lock().unwrap()[0].clone();
        assert_eq!(first.headers.get(header::ACCEPT_ENCODING).unwrap(), "gzip");
        // Only what the gateway prepared (and Host) goes out: no `Accept: */*` of our own.
        assert!(first.headers.get(header::ACCEPT).is_none());
        assert!(first.headers.get(header::HOST).is_some());

        // A client that asked for gzip itself gets the bytes as they came (Go's transport).
        let mut mine = HeaderMap::new();
        mine.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
        let got = c.send(&Method::GET, &url, &mine, None).await.unwrap();
        assert_eq!(got.body, Bytes::from(gzipped(br#"{"zipped":true}"#)));

        // `disable_compression`: nothing asked, nothing decoded.
        let plain = HttpClient::new(&ClientSettings { disable_compression: true, ..ClientSettings::default() });
        plain.send(&Method::GET, &url, &HeaderMap::new(), None).await.unwrap();
        assert!(seen.lock().unwrap()[2].headers.get(header::ACCEPT_ENCODING).is_none());
    }

    fn broken_gzip(_: &Seen, _: u16) -> Response<Full<Bytes>> {
        Response::builder().header("Content-Encoding", "gzip").body(Full::new(Bytes::from_static(b"not gzip"))).unwrap()
    }

    #[tokio::test]
    async fn a_body_that_is_not_gzip_is_an_error() {
        let (port, _) = server(broken_gzip).await;
        let err = client().send(&Method::GET, &format!("http://127.0.0.1:{port}/"), &HeaderMap::new(), None).await;
        assert!(err.unwrap_err().starts_with("gzip:"));
    }

    fn redirects(seen: &Seen, port: u16) -> Response<Full<Bytes>> {
        let to = |status: u16, location: String| {
            Response::builder().status(status).header("Location", location).body(Full::new(Bytes::new())).unwrap()
        };
        match seen.path.as_str() {
            "/303" => to(303, "/landing".to_owned()),
            "/307" => to(307, "landing".to_owned()),
            "/elsewhere" => to(302, format!("http://localhost:{port}/landing")),
            "/loop" => to(302, "/loop".to_owned()),
            _ => Response::new(Full::new(Bytes::from_static(b"{}"))),
        }
    }

    fn post_headers() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer secret"));
        h
    }

    #[tokio::test]
    async fn redirects_are_followed_as_go_follows_them() {
        let (port, seen) = server(redirects).await;
        let c = client();
        let base = format!("http://127.0.0.1:{port}");
        let body = Some(Bytes::from_static(b"{\"a\":1}"));

        // 303: the POST becomes a GET without its body; the Referer names the redirecting URL.
        let got = c.send(&Method::POST, &format!("{base}/303"), &post_headers(), body.clone()).await.unwrap();
        assert_eq!(got.status, StatusCode::OK);
        let log = seen.lock().unwrap().clone();
        assert_eq!((log[1].method.clone(), log[1].path.as_str(), log[1].body.len()), (Method::GET, "/landing", 0));
        assert!(log[1].headers.get(header::CONTENT_TYPE).is_none());
        assert_eq!(log[1].headers.get(header::REFERER).unwrap().to_str().unwrap(), format!("{base}/303"));
        assert_eq!(log[1].headers.get(header::AUTHORIZATION).unwrap(), "Bearer secret");

        // 307: method and body are kept (relative Location resolved against the old URL).
        c.send(&Method::POST, &format!("{base}/307"), &post_headers(), body.clone()).await.unwrap();
        let log = seen.lock().unwrap().clone();
        assert_eq!((log[3].method.clone(), log[3].path.as_str()), (Method::POST, "/landing"));
        assert_eq!(log[3].body, body.clone().unwrap());

        // Another host: the credentials stay behind.
        c.send(&Method::GET, &format!("{base}/elsewhere"), &post_headers(), None).await.unwrap();
        let log = seen.lock().unwrap().clone();
        assert_eq!(log[5].path, "/landing");
        assert!(log[5].headers.get(header::AUTHORIZATION).is_none());
        assert_eq!(log[5].headers.get(header::HOST).unwrap().to_str().unwrap(), format!("localhost:{port}"));

        // A loop: the first request and 10 redirects, then Go's error.
        let err = c.send(&Method::GET, &format!("{base}/loop"), &HeaderMap::new(), None).await.unwrap_err();
        assert!(err.ends_with("stopped after 10 redirects"), "{err}");
        assert_eq!(seen.lock().unwrap().len(), 6 + 11);
    }

    fn big(_: &Seen, _: u16) -> Response<Full<Bytes>> {
        Response::new(Full::new(Bytes::from(vec![b'x'; 4096])))
    }

    fn bomb(_: &Seen, _: u16) -> Response<Full<Bytes>> {
        Response::builder()
            .header("Content-Encoding", "gzip")
            .body(Full::new(Bytes::from(gzipped(&[0; 1 << 20]))))
            .unwrap()
    }

    #[tokio::test]
    async fn a_limited_send_refuses_bodies_over_the_limit_before_and_after_gunzip() {
        for answer in [big as Answer, bomb] {
            let (port, _) = server(answer).await;
            let url = format!("http://127.0.0.1:{port}/");
            let c = client();
            let err = c.send_limited(&Method::GET, &url, &HeaderMap::new(), None, 1000).await.unwrap_err();
            assert_eq!(err, SendError::TooLarge);
            assert!(c.send_limited(&Method::GET, &url, &HeaderMap::new(), None, 1 << 21).await.is_ok());
        }
    }

    #[tokio::test]
    async fn tls_is_set_up_on_the_first_https_url_only() {
        let (port, _) = server(big).await;
        let c = client();
        c.send(&Method::GET, &format!("http://127.0.0.1:{port}/"), &HeaderMap::new(), None).await.unwrap();
        assert!(c.tls.get().is_none(), "plain http built the TLS connector");
        // Our plain server does not speak TLS: the handshake fails, but the set-up happened.
        let err = c.send(&Method::GET, &format!("https://127.0.0.1:{port}/"), &HeaderMap::new(), None).await;
        assert!(err.is_err());
        assert!(matches!(c.tls.get(), Some(Ok(_))));
    }
}
