//! The SSM Parameter Store client of the config loader: `GetParameter` and `GetParametersByPath`
//! (recursive, decrypted, every page) over AWS's JSON 1.1 protocol, signed with `aws-sigv4`,
//! over one hyper HTTP/1.1 connection, with the AWS SDK's standard retries.
//!
//! Hand-written rather than `aws-sdk-ssm`: the SDK client brings its generated operations, the
//! smithy orchestrator, endpoint rules, identity and retry machinery into the Lambda binary, whose
//! stripped size must stay under 8 MB, for two calls made once per cold start (BENCHMARKS.md,
//! "Measured design choices"). What is kept of the SDK's behaviour: the request format, the error
//! codes and messages as AWS sends them, the endpoint of each partition, and the standard retry
//! mode (3 attempts, exponential backoff with full jitter from 1 s, on throttling codes,
//! HTTP 500/502/503/504, timeouts and connection errors).

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HOST, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use serde::Deserialize;
use std::fmt;
use std::time::Duration;
use tributary_core::AwsSigner;

use crate::aws_sign::EnvSigner;

/// The SDK's default connect timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(3100);

/// The connector an [`SsmClient`] calls over: TCP, and TLS with the system's CA bundle (read
/// here, once per cold start that reads SSM).
pub type Connector = HttpsConnector<HttpConnector>;
/// One attempt, connection included; a timed-out attempt is retried, as the SDK's are.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
/// The standard retry mode's first backoff and its cap.
const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(20);
/// The standard retry mode's attempts.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;
/// Largest answer read (a page holds at most 10 parameters of at most 8 KB each).
const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;
/// Error codes the SDK retries as throttling (`aws-runtime`'s `THROTTLING_ERRORS`) and as
/// transient (`TRANSIENT_ERRORS`).
const RETRIED_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
    "RequestTimeout",
    "RequestTimeoutException",
];
/// HTTP statuses the SDK retries whatever the error code.
const RETRIED_STATUSES: &[u16] = &[500, 502, 503, 504];

/// Where and as whom to call SSM.
#[derive(Clone)]
pub struct SsmSettings {
    pub region: String,
    /// The endpoint URL (`https://ssm.eu-west-1.amazonaws.com`, or an override).
    pub endpoint: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
    /// Attempts per call, the first included (at least 1).
    pub max_attempts: u32,
}

impl fmt::Debug for SsmSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SsmSettings")
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("access_key_id", &self.access_key_id)
            .field("max_attempts", &self.max_attempts)
            .finish_non_exhaustive()
    }
}

/// SSM's endpoint in a region, as the SDK's endpoint rules give it: the DNS suffix of the
/// region's partition, `ssm-fips` for FIPS, the partition's dual-stack suffix for dual stack.
pub fn default_endpoint(region: &str, fips: bool, dual_stack: bool) -> String {
    // (region prefix, DNS suffix, dual-stack DNS suffix), most specific prefix first.
    const PARTITIONS: &[(&str, &str, &str)] = &[
        ("us-gov-", "amazonaws.com", "api.aws"),
        ("us-isob-", "sc2s.sgov.gov", "api.aws.scloud"),
        ("us-isof-", "csp.hci.ic.gov", "api.aws.hci.ic.gov"),
        ("us-iso-", "c2s.ic.gov", "api.aws.ic.gov"),
        ("eu-isoe-", "cloud.adc-e.uk", "api.cloud-aws.adc-e.uk"),
        ("eusc-", "amazonaws.eu", "api.amazonwebservices.eu"),
        ("cn-", "amazonaws.com.cn", "api.amazonwebservices.com.cn"),
    ];
    let (suffix, dual) = PARTITIONS
        .iter()
        .find(|(prefix, _, _)| region.starts_with(prefix))
        .map_or(("amazonaws.com", "api.aws"), |&(_, suffix, dual)| (suffix, dual));
    // GovCloud's regular (IPv4) endpoints are its FIPS ones.
    let govcloud_ipv4 = region.starts_with("us-gov-") && !dual_stack;
    let service = if fips && !govcloud_ipv4 { "ssm-fips" } else { "ssm" };
    format!("https://{service}.{region}.{}", if dual_stack { dual } else { suffix })
}

/// One parameter: its name and (decrypted) value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parameter {
    pub name: String,
    pub value: String,
}

/// Why a call failed; its `Display` is the one line the loader reports.
#[derive(Debug)]
pub enum SsmError {
    /// The endpoint URL or the settings cannot make a request.
    Setup(String),
    /// AWS's JSON error answer: its code (`ParameterNotFound`, `AccessDeniedException`, ...) and
    /// message.
    Service { status: u16, code: String, message: Option<String> },
    /// An answer AWS's JSON protocol does not describe: an XML or HTML error page from a proxy,
    /// or moto's IAM checks.
    Unexpected { status: u16, body: Bytes },
    /// A successful answer that is not the operation's JSON.
    Malformed(String),
    /// No answer: connecting, TLS, the exchange, or the attempt's time limit.
    Dispatch(String),
}

impl SsmError {
    /// Whether the SDK's standard retry mode tries again after this error.
    fn is_retried(&self) -> bool {
        match self {
            SsmError::Service { status, code, .. } => {
                RETRIED_CODES.contains(&code.as_str()) || RETRIED_STATUSES.contains(status)
            }
            SsmError::Unexpected { status, .. } => RETRIED_STATUSES.contains(status),
            SsmError::Dispatch(_) => true,
            SsmError::Setup(_) | SsmError::Malformed(_) => false,
        }
    }
}

impl fmt::Display for SsmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SsmError::Setup(e) => write!(f, "{e}"),
            SsmError::Service { code, message: Some(message), .. } => write!(f, "{code}: {message}"),
            SsmError::Service { code, message: None, .. } => write!(f, "{code}"),
            SsmError::Unexpected { status, body } => {
                let body = String::from_utf8_lossy(body);
                let tag = |t: &str| {
                    let open = format!("<{t}>");
                    let start = body.find(&open)? + open.len();
                    let end = body[start..].find(&format!("</{t}>"))? + start;
                    Some(body[start..end].trim().to_owned())
                };
                match (tag("Code"), tag("Message")) {
                    (Some(code), Some(msg)) => write!(f, "HTTP {status}: {code}: {msg}"),
                    (Some(code), None) => write!(f, "HTTP {status}: {code}"),
                    _ => {
                        let text: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
                        let text: String = text.chars().take(200).collect();
                        if text.is_empty() {
                            write!(f, "HTTP {status} from SSM")
                        } else {
                            write!(f, "HTTP {status} from SSM: {text}")
                        }
                    }
                }
            }
            SsmError::Malformed(e) => write!(f, "unexpected answer from SSM: {e}"),
            SsmError::Dispatch(e) => write!(f, "dispatch failure: {e}"),
        }
    }
}

impl std::error::Error for SsmError {}

type Sender = SendRequest<Full<Bytes>>;

/// A client of one SSM endpoint; its calls reuse one kept-alive connection.
pub struct SsmClient {
    settings: SsmSettings,
    signer: EnvSigner,
    uri: Uri,
    host: HeaderValue,
    connector: Connector,
    connection: Option<Sender>,
}

impl fmt::Debug for SsmClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SsmClient").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl SsmClient {
    /// The connector of [`SsmClient::new`]; it reads the system's CA bundle.
    pub fn connector() -> Result<Connector, SsmError> {
        tributary_core::https_connector(Some(CONNECT_TIMEOUT)).map_err(|e| SsmError::Setup(e.to_string()))
    }

    /// A client of `settings.endpoint` over `connector` (from [`SsmClient::connector`]).
    pub fn new(settings: SsmSettings, connector: Connector) -> Result<SsmClient, SsmError> {
        let uri: Uri = settings
            .endpoint
            .parse()
            .map_err(|e| SsmError::Setup(format!("invalid SSM endpoint URL `{}`: {e}", settings.endpoint)))?;
        let authority = match (uri.scheme_str(), uri.authority()) {
            (Some("http" | "https"), Some(authority)) => authority.as_str(),
            _ => return Err(SsmError::Setup(format!("invalid SSM endpoint URL `{}`", settings.endpoint))),
        };
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let host = HeaderValue::from_str(host)
            .map_err(|_| SsmError::Setup(format!("invalid SSM endpoint URL `{}`", settings.endpoint)))?;
        let signer = EnvSigner::new(
            &settings.access_key_id,
            &settings.secret_access_key,
            settings.session_token.as_deref(),
            Some(&settings.region),
        );
        Ok(SsmClient { settings, signer, uri, host, connector, connection: None })
    }

    /// One parameter, decrypted.
    pub async fn get_parameter(&mut self, name: &str) -> Result<Parameter, SsmError> {
        #[derive(Deserialize)]
        struct Output {
            #[serde(rename = "Parameter")]
            parameter: Option<Wire>,
        }
        let body = serde_json::json!({"Name": name, "WithDecryption": true});
        let answer = self.call("GetParameter", &body).await?;
        let out: Output = parse(&answer)?;
        let p = out.parameter.ok_or_else(|| SsmError::Malformed("no `Parameter` in the answer".to_owned()))?;
        Ok(p.into_parameter(name))
    }

    /// Every parameter under `path`, recursively, decrypted, page after page.
    pub async fn get_parameters_by_path(&mut self, path: &str) -> Result<Vec<Parameter>, SsmError> {
        #[derive(Deserialize)]
        struct Output {
            #[serde(rename = "Parameters", default)]
            parameters: Vec<Wire>,
            #[serde(rename = "NextToken")]
            next_token: Option<String>,
        }
        let mut found = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut body = serde_json::json!({"Path": path, "Recursive": true, "WithDecryption": true});
            if let Some(t) = &token {
                body["NextToken"] = serde_json::Value::String(t.clone());
            }
            let answer = self.call("GetParametersByPath", &body).await?;
            let page: Output = parse(&answer)?;
            found.extend(page.parameters.into_iter().map(|p| p.into_parameter("")));
            // As the SDK's paginator: stop on no token, an empty one, or the same one again.
            match page.next_token.filter(|t| !t.is_empty()) {
                Some(next) if token.as_deref() != Some(next.as_str()) => token = Some(next),
                _ => return Ok(found),
            }
        }
    }

    /// One operation, retried as the SDK's standard mode retries; the answer's body.
    async fn call(&mut self, operation: &str, input: &serde_json::Value) -> Result<Bytes, SsmError> {
        let body = Bytes::from(serde_json::to_vec(input).map_err(|e| SsmError::Setup(e.to_string()))?);
        let max_attempts = self.settings.max_attempts.max(1);
        let mut attempt = 1;
        loop {
            let (result, retry_after) =
                match tokio::time::timeout(ATTEMPT_TIMEOUT, self.attempt(operation, &body)).await {
                    Ok(outcome) => outcome,
                    Err(_) => (Err(SsmError::Dispatch(format!("no answer within {ATTEMPT_TIMEOUT:?}"))), None),
                };
            let error = match result {
                Ok(answer) => return Ok(answer),
                Err(e) => e,
            };
            if attempt >= max_attempts || !error.is_retried() {
                return Err(error);
            }
            if matches!(error, SsmError::Dispatch(_)) {
                // A connection that failed is not reused (the SDK's `ReconnectOnTransientError`).
                self.connection = None;
            }
            let delay = retry_after.map_or_else(|| backoff(attempt, fastrand::f64()), |d| d.min(MAX_BACKOFF));
            tracing::debug!(operation, attempt, error = %error, ?delay, "SSM call retried");
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    /// One signed exchange, and the `x-amz-retry-after` delay the answer asked for, if any.
    async fn attempt(&mut self, operation: &str, body: &Bytes) -> (Result<Bytes, SsmError>, Option<Duration>) {
        let request = match self.request(operation, body) {
            Ok(r) => r,
            Err(e) => return (Err(e), None),
        };
        let kept = match self.connection.take() {
            Some(mut sender) if !sender.is_closed() => sender.ready().await.is_ok().then_some(sender),
            _ => None,
        };
        let mut sender = match kept {
            Some(sender) => sender,
            None => match self.connect().await {
                Ok(sender) => sender,
                Err(e) => return (Err(SsmError::Dispatch(chain(e.as_ref()))), None),
            },
        };
        let response = match sender.send_request(request).await {
            Ok(r) => r,
            Err(e) => return (Err(SsmError::Dispatch(chain(&e))), None),
        };
        let (parts, incoming) = response.into_parts();
        let answer = match Limited::new(incoming, MAX_ANSWER_BYTES).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) => return (Err(SsmError::Dispatch(chain(e.as_ref()))), None),
        };
        self.connection = Some(sender);
        if parts.status.is_success() {
            return (Ok(answer), None);
        }
        let retry_after = parts
            .headers
            .get("x-amz-retry-after")
            .and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok())
            .map(Duration::from_millis);
        (Err(error_of(parts.status.as_u16(), &parts.headers, answer)), retry_after)
    }

    /// The signed `POST /` of an operation.
    fn request(&self, operation: &str, body: &Bytes) -> Result<Request<Full<Bytes>>, SsmError> {
        let mut headers = HeaderMap::new();
        headers.insert(HOST, self.host.clone());
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/x-amz-json-1.1"));
        let target = HeaderValue::from_str(&format!("AmazonSSM.{operation}"))
            .map_err(|e| SsmError::Setup(format!("operation `{operation}`: {e}")))?;
        headers.insert(HeaderName::from_static("x-amz-target"), target);
        let path = match self.uri.path() {
            "" => "/",
            p => p,
        };
        let url = format!("{}://{}{path}", self.uri.scheme_str().unwrap_or("https"), self.host.to_str().unwrap_or(""));
        self.signer
            .sign(&Method::POST, &url, &mut headers, body, "ssm", &self.settings.region)
            .map_err(SsmError::Setup)?;
        let mut request = Request::new(Full::new(body.clone()));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = path.parse().map_err(|e| SsmError::Setup(format!("SSM endpoint path `{path}`: {e}")))?;
        *request.headers_mut() = headers;
        Ok(request)
    }

    /// A new connection to the endpoint (TCP, and TLS for `https`), its task spawned.
    async fn connect(&self) -> Result<Sender, Box<dyn std::error::Error + Send + Sync>> {
        let stream = tower_service::Service::call(&mut self.connector.clone(), self.uri.clone()).await?;
        let (sender, conn) = hyper::client::conn::http1::handshake(stream).await?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "SSM connection closed with an error");
            }
        });
        Ok(sender)
    }
}

/// A parameter as the JSON protocol gives it.
#[derive(Deserialize)]
struct Wire {
    #[serde(rename = "Name")]
    name: Option<String>,
    #[serde(rename = "Value")]
    value: Option<String>,
}

impl Wire {
    fn into_parameter(self, default_name: &str) -> Parameter {
        Parameter { name: self.name.unwrap_or_else(|| default_name.to_owned()), value: self.value.unwrap_or_default() }
    }
}

fn parse<'a, T: Deserialize<'a>>(answer: &'a [u8]) -> Result<T, SsmError> {
    serde_json::from_slice(answer).map_err(|e| SsmError::Malformed(e.to_string()))
}

/// An error answer as the SDK reads the JSON protocol's: the code from `x-amzn-errortype` or the
/// body's `code` / `__type` (without a `namespace#` prefix or a `:url` suffix), the message from
/// `message`, `Message` or `errorMessage`.
fn error_of(status: u16, headers: &HeaderMap, body: Bytes) -> SsmError {
    let fields: Option<serde_json::Map<String, serde_json::Value>> = serde_json::from_slice(&body).ok();
    let field = |names: &[&str]| {
        let fields = fields.as_ref()?;
        names.iter().find_map(|n| fields.get(*n)?.as_str().map(str::to_owned))
    };
    let code = headers
        .get("x-amzn-errortype")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| field(&["code"]))
        .or_else(|| field(&["__type"]));
    match code {
        Some(code) if fields.is_some() => SsmError::Service {
            status,
            code: sanitize_error_code(&code).to_owned(),
            message: field(&["message", "Message", "errorMessage"]),
        },
        _ => SsmError::Unexpected { status, body },
    }
}

fn sanitize_error_code(code: &str) -> &str {
    let code = code.split_once(':').map_or(code, |(c, _)| c);
    code.split_once('#').map_or(code, |(_, c)| c)
}

/// The standard retry mode's delay before attempt `attempt + 1`: `jitter` (in 0..1) times
/// 1 s × 2^(attempt - 1), capped at 20 s.
fn backoff(attempt: u32, jitter: f64) -> Duration {
    let exponential = 2u32.checked_pow(attempt.saturating_sub(1)).map_or(MAX_BACKOFF, |p| INITIAL_BACKOFF * p);
    exponential.min(MAX_BACKOFF).mul_f64(jitter.clamp(0.0, 1.0))
}

/// An error and its sources, on one line.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.ends_with(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_error(status: u16, body: &'static str) -> SsmError {
        error_of(status, &HeaderMap::new(), Bytes::from_static(body.as_bytes()))
    }

    #[test]
    fn a_json_error_reads_as_code_and_message() {
        let e = json_error(400, r#"{"__type":"ParameterNotFound","message":"Parameter /x not found."}"#);
        assert_eq!(e.to_string(), "ParameterNotFound: Parameter /x not found.");
        assert!(!e.is_retried());
        let e = json_error(400, r#"{"__type":"com.amazonaws.ssm#AccessDeniedException:http://x","Message":"no"}"#);
        assert_eq!(e.to_string(), "AccessDeniedException: no");
        let mut headers = HeaderMap::new();
        headers.insert("x-amzn-errortype", HeaderValue::from_static("FromHeader"));
        let e = error_of(400, &headers, Bytes::from_static(br#"{"__type":"FromBody","message":"m"}"#));
        assert_eq!(e.to_string(), "FromHeader: m");
    }

    #[test]
    fn an_xml_or_html_error_page_reads_as_status_code_and_message() {
        let xml = "<ErrorResponse><Error><Code>AccessDenied</Code><Message>User: arn:aws:iam::1:user/u is not authorized</Message></Error></ErrorResponse>";
        let e = error_of(403, &HeaderMap::new(), Bytes::from(xml));
        assert_eq!(e.to_string(), "HTTP 403: AccessDenied: User: arn:aws:iam::1:user/u is not authorized");
        assert!(!e.is_retried());
        let e = error_of(502, &HeaderMap::new(), Bytes::from("<html><body>Bad\n  Gateway</body></html>"));
        assert_eq!(e.to_string(), "HTTP 502 from SSM: <html><body>Bad Gateway</body></html>");
        assert!(e.is_retried());
    }

    #[test]
    fn throttling_server_errors_and_dispatch_failures_are_retried_others_not() {
        assert!(json_error(400, r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#).is_retried());
        assert!(json_error(400, r#"{"__type":"RequestTimeout"}"#).is_retried());
        assert!(json_error(500, r#"{"__type":"InternalServerError"}"#).is_retried());
        assert!(json_error(503, "").is_retried());
        assert!(!json_error(400, r#"{"__type":"ValidationException","message":"bad"}"#).is_retried());
        assert!(!json_error(501, "").is_retried());
        assert!(SsmError::Dispatch("connection refused".to_owned()).is_retried());
        assert!(!SsmError::Malformed("eof".to_owned()).is_retried());
    }

    #[test]
    fn backoff_doubles_from_one_second_scaled_by_the_jitter_and_capped() {
        assert_eq!(backoff(1, 1.0), Duration::from_secs(1));
        assert_eq!(backoff(2, 1.0), Duration::from_secs(2));
        assert_eq!(backoff(3, 0.5), Duration::from_secs(2));
        assert_eq!(backoff(2, 0.0), Duration::ZERO);
        assert_eq!(backoff(10, 1.0), MAX_BACKOFF);
        assert_eq!(backoff(u32::MAX, 1.0), MAX_BACKOFF);
    }

    #[test]
    fn endpoints_follow_the_partition_of_the_region() {
        assert_eq!(default_endpoint("eu-west-1", false, false), "https://ssm.eu-west-1.amazonaws.com");
        assert_eq!(default_endpoint("cn-north-1", false, false), "https://ssm.cn-north-1.amazonaws.com.cn");
        assert_eq!(default_endpoint("us-isob-east-1", true, false), "https://ssm-fips.us-isob-east-1.sc2s.sgov.gov");
        assert_eq!(default_endpoint("us-iso-east-1", false, false), "https://ssm.us-iso-east-1.c2s.ic.gov");
        assert_eq!(default_endpoint("us-east-1", true, true), "https://ssm-fips.us-east-1.api.aws");
        assert_eq!(default_endpoint("us-gov-west-1", true, false), "https://ssm.us-gov-west-1.amazonaws.com");
        assert_eq!(default_endpoint("us-gov-east-1", true, true), "https://ssm-fips.us-gov-east-1.api.aws");
        assert_eq!(default_endpoint("eusc-de-east-1", false, false), "https://ssm.eusc-de-east-1.amazonaws.eu");
    }

    #[test]
    fn a_request_is_a_signed_json_post_with_the_operation_as_target() {
        let settings = SsmSettings {
            region: "eu-west-1".to_owned(),
            endpoint: "http://127.0.0.1:4566".to_owned(),
            access_key_id: "AKIDEXAMPLE".to_owned(),
            secret_access_key: "secret".to_owned(),
            session_token: Some("token".to_owned()),
            max_attempts: 3,
        };
        let client = SsmClient::new(settings, SsmClient::connector().unwrap()).unwrap();
        let request = client.request("GetParameter", &Bytes::from_static(b"{}")).unwrap();
        assert_eq!((request.method(), request.uri().to_string().as_str()), (&Method::POST, "/"));
        let headers = request.headers();
        assert_eq!(headers["host"], "127.0.0.1:4566");
        assert_eq!(headers["content-type"], "application/x-amz-json-1.1");
        assert_eq!(headers["x-amz-target"], "AmazonSSM.GetParameter");
        assert_eq!(headers["x-amz-security-token"], "token");
        let auth = headers["authorization"].to_str().unwrap();
        assert!(auth.contains("/eu-west-1/ssm/aws4_request"), "{auth}");
        assert!(
            auth.contains("SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target"),
            "{auth}"
        );
    }

    #[test]
    fn an_endpoint_that_is_not_an_http_url_is_refused() {
        let settings = SsmSettings {
            region: "eu-west-1".to_owned(),
            endpoint: "localhost:4566".to_owned(),
            access_key_id: "a".to_owned(),
            secret_access_key: "b".to_owned(),
            session_token: None,
            max_attempts: 3,
        };
        let err = SsmClient::new(settings, SsmClient::connector().unwrap()).unwrap_err().to_string();
        assert_eq!(err, "invalid SSM endpoint URL `localhost:4566`");
    }
}
