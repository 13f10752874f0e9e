//! AWS Lambda's Invoke API over the pooled client: one synchronous (`RequestResponse`) call of a
//! function, signed by the door's [`AwsSigner`] (SigV4: the core links no AWS SDK), retried when
//! throttled, on a 5xx answer or a failed connection, and its payload read within Lambda's
//! 6 MB limit of a synchronous answer.

use super::{HttpClient, SendError};
use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use std::sync::Arc;
use std::time::Duration;

/// Lambda's largest synchronous answer (6 MB); a larger body is refused unread.
pub const MAX_PAYLOAD: usize = 6 * 1024 * 1024;
/// Extra attempts when `max_retries` is unset: the AWS SDK's default, which is what KrakenD CE
/// ends up with (its `max_retries` never reaches the SDK).
pub const DEFAULT_MAX_RETRIES: u32 = 3;
/// The first retry's delay; each further one doubles it (plus jitter), as the AWS SDK backs off.
const RETRY_BASE: Duration = Duration::from_millis(30);
/// Characters escaped in the function name's path segment (an ARN's `:` included).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
const FUNCTION_ERROR: HeaderName = HeaderName::from_static("x-amz-function-error");
const EXECUTED_VERSION: HeaderName = HeaderName::from_static("x-amz-executed-version");

/// Signs AWS requests (SigV4) with the credentials the door found; the doors implement it with
/// the AWS crates so that the core needs none.
pub trait AwsSigner: Send + Sync + std::fmt::Debug {
    /// The region to use when the config names none (`AWS_REGION`, `AWS_DEFAULT_REGION`).
    fn region(&self) -> Option<&str>;
    /// Adds the signature headers (`Authorization`, `X-Amz-Date`, `X-Amz-Security-Token`, ...)
    /// for `service` in `region` to a request of these method, URL, headers and body.
    fn sign(
        &self,
        method: &Method,
        url: &str,
        headers: &mut HeaderMap,
        body: &[u8],
        service: &str,
        region: &str,
    ) -> Result<(), String>;
}

/// Where and how one backend's functions are invoked.
#[derive(Debug, Clone)]
pub(crate) struct LambdaInvoker {
    /// The config's `endpoint` (no trailing `/`), else Lambda's regional endpoint.
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub max_retries: u32,
    /// The door's signer; `None` when it found no credentials.
    pub signer: Option<Arc<dyn AwsSigner>>,
}

/// A function's successful answer.
#[derive(Debug)]
pub(crate) struct Invoked {
    pub payload: Bytes,
    /// `X-Amz-Executed-Version`, which KrakenD passes on as a response header.
    pub executed_version: Option<HeaderValue>,
}

impl LambdaInvoker {
    /// The invocation URL of `function` (a name, an ARN, `name:qualifier`).
    pub(crate) fn url(&self, function: &str) -> Result<String, String> {
        let base = match (&self.endpoint, self.region()) {
            (Some(endpoint), _) => endpoint.clone(),
            (None, Some(region)) => format!("https://lambda.{region}.amazonaws.com"),
            (None, None) => return Err(no_region()),
        };
        Ok(format!("{base}/2015-03-31/functions/{}/invocations", utf8_percent_encode(function, SEGMENT)))
    }

    fn region(&self) -> Option<&str> {
        self.region.as_deref().or_else(|| self.signer.as_deref().and_then(|s| s.region()))
    }

    /// Invokes `function` with `payload`, retrying as the AWS SDK does. The caller bounds the
    /// whole call by the endpoint's deadline.
    pub(crate) async fn invoke(&self, client: &HttpClient, function: &str, payload: Bytes) -> Result<Invoked, String> {
        if function.is_empty() {
            return Err("aws lambda: no function name".to_owned());
        }
        let url = self.url(function)?;
        let region = self.region().ok_or_else(no_region)?;
        let signer = self.signer.as_deref().ok_or_else(|| {
            "aws lambda: no AWS credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set)".to_owned()
        })?;
        let mut attempt = 0;
        loop {
            // Signed again for every attempt: the signature carries the time.
            let mut headers = HeaderMap::new();
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            headers.insert("x-amz-invocation-type", HeaderValue::from_static("RequestResponse"));
            headers.insert("x-amz-log-type", HeaderValue::from_static("None"));
            signer.sign(&Method::POST, &url, &mut headers, &payload, "lambda", region)?;
            let sent = client.send_limited(&Method::POST, &url, &headers, Some(payload.clone()), MAX_PAYLOAD).await;
            let retryable = match &sent {
                Err(SendError::Failed(_)) => true,
                Err(SendError::TooLarge) => false,
                Ok(raw) => {
                    !raw.headers.contains_key(FUNCTION_ERROR)
                        && (raw.status == StatusCode::TOO_MANY_REQUESTS || raw.status.is_server_error())
                }
            };
            if !retryable || attempt >= self.max_retries {
                return answer(sent);
            }
            let delay = RETRY_BASE * (1 << attempt.min(6));
            tokio::time::sleep(delay + delay.mul_f64(fastrand::f64())).await;
            attempt += 1;
        }
    }
}

fn no_region() -> String {
    "aws lambda: no region (set `region` in `backend/lambda`, or AWS_REGION)".to_owned()
}

/// The function's payload, or the error KrakenD's backend reports for the call.
fn answer(sent: Result<super::RawResponse, SendError>) -> Result<Invoked, String> {
    let raw = match sent {
        Ok(raw) => raw,
        Err(SendError::TooLarge) => {
            return Err(format!("aws lambda: the function's answer is larger than {MAX_PAYLOAD} bytes"));
        }
        Err(SendError::Failed(text)) => return Err(format!("aws lambda: {text}")),
    };
    if let Some(kind) = raw.headers.get(FUNCTION_ERROR) {
        let kind = String::from_utf8_lossy(kind.as_bytes());
        return Err(format!("aws lambda: function error ({kind}): {}", error_summary(&raw.body)));
    }
    if raw.status != StatusCode::OK {
        // Lambda's API errors name their type in a header and their message in a JSON body.
        let kind = raw.headers.get("x-amzn-errortype").and_then(|v| v.to_str().ok()).map(|v| {
            // `ResourceNotFoundException:http://internal.amazon.com/...`: the name only.
            v.split(':').next().unwrap_or(v).to_owned()
        });
        let detail = error_summary(&raw.body);
        return Err(match kind {
            Some(kind) => format!("aws lambda: bad status code {}: {kind}: {detail}", raw.status.as_u16()),
            None => format!("aws lambda: bad status code {}: {detail}", raw.status.as_u16()),
        });
    }
    Ok(Invoked { payload: raw.body, executed_version: raw.headers.get(EXECUTED_VERSION).cloned() })
}

/// A short text of an error body: its `errorType`/`errorMessage` (a function's error) or
/// `message` (the API's), else its first 200 bytes.
fn error_summary(body: &[u8]) -> String {
    let field = |v: &serde_json::Value, names: &[&str]| {
        names.iter().find_map(|n| v.get(*n).and_then(|s| s.as_str()).map(str::to_owned))
    };
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        let kind = field(&v, &["errorType", "Type", "__type"]);
        let message = field(&v, &["errorMessage", "message", "Message", "detail"]);
        match (kind, message) {
            (Some(k), Some(m)) => return format!("{k}: {m}"),
            (None, Some(m)) | (Some(m), None) => return m,
            (None, None) => {}
        }
    }
    let cut = body.len().min(200);
    String::from_utf8_lossy(&body[..cut]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invoker(endpoint: Option<&str>, region: Option<&str>) -> LambdaInvoker {
        LambdaInvoker {
            endpoint: endpoint.map(str::to_owned),
            region: region.map(str::to_owned),
            max_retries: 0,
            signer: None,
        }
    }

    #[test]
    fn the_invocation_url_escapes_the_function_name_and_follows_the_region() {
        let regional = invoker(None, Some("eu-west-1"));
        assert_eq!(
            regional.url("arn:aws:lambda:eu-west-1:123456789012:function:hello").unwrap(),
            "https://lambda.eu-west-1.amazonaws.com/2015-03-31/functions/arn%3Aaws%3Alambda%3Aeu-west-1%3A123456789012%3Afunction%3Ahello/invocations"
        );
        let local = invoker(Some("http://127.0.0.1:9000"), None);
        assert_eq!(local.url("my-fn").unwrap(), "http://127.0.0.1:9000/2015-03-31/functions/my-fn/invocations");
        assert!(invoker(None, None).url("f").unwrap_err().contains("no region"));
    }

    #[test]
    fn error_bodies_are_summed_up_by_type_and_message() {
        assert_eq!(error_summary(br#"{"errorType":"Handled","errorMessage":"boom"}"#), "Handled: boom");
        assert_eq!(error_summary(br#"{"Type":"User","message":"Function not found"}"#), "User: Function not found");
        assert_eq!(error_summary(b"plain text"), "plain text");
    }
}
