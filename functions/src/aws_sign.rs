//! SigV4 with `aws-sigv4`: the core's [`AwsSigner`] for `backend/lambda`, from the credentials
//! in the environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, and the
//! region from `AWS_REGION` or `AWS_DEFAULT_REGION`: what Lambda gives a function, read the same
//! way by both doors), and the signer of the SSM client (`crate::ssm`).

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use http::Method;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use std::sync::Arc;
use std::time::SystemTime;
use tributary_core::AwsSigner;

/// Signs with one set of credentials (Lambda's are fixed for an execution environment's life).
#[derive(Debug)]
pub struct EnvSigner {
    identity: Identity,
    region: Option<String>,
}

impl EnvSigner {
    /// The signer of explicit credentials and default region.
    pub fn new(key: &str, secret: &str, token: Option<&str>, region: Option<&str>) -> EnvSigner {
        let credentials = Credentials::new(key, secret, token.map(str::to_owned), None, "environment");
        EnvSigner { identity: credentials.into(), region: region.map(str::to_owned) }
    }

    /// The environment's credentials, or `None` when `AWS_ACCESS_KEY_ID` or
    /// `AWS_SECRET_ACCESS_KEY` is not set.
    pub fn from_env() -> Option<EnvSigner> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let region = var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION"));
        let (key, secret) = (var("AWS_ACCESS_KEY_ID")?, var("AWS_SECRET_ACCESS_KEY")?);
        Some(EnvSigner::new(&key, &secret, var("AWS_SESSION_TOKEN").as_deref(), region.as_deref()))
    }

    /// [`EnvSigner::from_env`] in the form `Gateway::from_json_timed_with` takes.
    pub fn shared_from_env() -> Option<Arc<dyn AwsSigner>> {
        EnvSigner::from_env().map(|s| Arc::new(s) as Arc<dyn AwsSigner>)
    }
}

impl AwsSigner for EnvSigner {
    fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }

    fn sign(
        &self,
        method: &Method,
        url: &str,
        headers: &mut HeaderMap,
        body: &[u8],
        service: &str,
        region: &str,
    ) -> Result<(), String> {
        let params = v4::SigningParams::builder()
            .identity(&self.identity)
            .region(region)
            .name(service)
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| format!("aws signing: {e}"))?
            .into();
        let listed: Vec<(&str, &str)> =
            headers.iter().filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?))).collect();
        let request = SignableRequest::new(method.as_str(), url, listed.into_iter(), SignableBody::Bytes(body))
            .map_err(|e| format!("aws signing: {e}"))?;
        let (instructions, _signature) = sign(request, &params).map_err(|e| format!("aws signing: {e}"))?.into_parts();
        let (added, _query) = instructions.into_parts();
        for header in added {
            let name = HeaderName::from_static(header.name());
            let mut value = HeaderValue::from_str(header.value()).map_err(|e| format!("aws signing: {e}"))?;
            value.set_sensitive(header.sensitive());
            headers.insert(name, value);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_request_carries_sigv4_headers_for_the_region_and_service() {
        let signer = EnvSigner::new("AKIDEXAMPLE", "secret", Some("token"), Some("eu-west-1"));
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        let url = "https://lambda.eu-west-1.amazonaws.com/2015-03-31/functions/f/invocations";
        signer.sign(&Method::POST, url, &mut headers, b"{}", "lambda", "eu-west-1").unwrap();
        let auth = headers["authorization"].to_str().unwrap();
        assert!(auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"), "{auth}");
        assert!(auth.contains("/eu-west-1/lambda/aws4_request"), "{auth}");
        assert!(auth.contains("SignedHeaders=content-type;host;"), "{auth}");
        assert_eq!(headers["x-amz-security-token"], "token");
        assert!(headers.contains_key("x-amz-date"));
    }
}
