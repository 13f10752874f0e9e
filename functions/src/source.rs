//! Where a config comes from (`-c` or `TRIBUTARY_CONFIG`), the same for every door: a file,
//! `ssm:NAME` (one String or SecureString parameter, decrypted) or `ssm:PATH/` (every parameter
//! under the path, combined by `tributary_core::config::assemble`). Values may be JSON or
//! gzip+base64 JSON. Failures are one clear message naming the source.
//!
//! Where the SSM client's region, credentials and endpoint come from is a type parameter
//! ([`AwsEnv`]), so that each binary links only its own way: the CLI the SDK's default chain,
//! the Lambda function the variables Lambda sets.

use anyhow::{Context, Result, anyhow, bail};
use aws_sdk_ssm::error::ProvideErrorMetadata;
use base64::Engine;
use std::future::Future;
use std::io::Read;
use std::time::{Duration, Instant};
use tributary_core::Gateway;

use crate::aws_http::SdkHttpClient;

/// Largest config accepted after gunzipping one parameter (a guard against gzip bombs).
const MAX_CONFIG_BYTES: u64 = 32 * 1024 * 1024;
/// Upper bound for fetching the config from SSM, retries included.
const SSM_TIMEOUT: Duration = Duration::from_secs(20);

/// A config's text, and (for `ssm:PATH/`) which parameter each endpoint came from.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub text: String,
    pub endpoint_sources: Vec<String>,
}

/// Where an SSM client's region, credentials and endpoint come from.
pub trait AwsEnv {
    fn ssm_client(http: SdkHttpClient) -> impl Future<Output = Result<aws_sdk_ssm::Client>> + Send;
}

/// The AWS SDK's default chain (`aws-config`): environment variables, shared config and
/// credentials files, web identity, ECS and EC2 roles. For the CLI, wherever it runs.
#[derive(Debug)]
pub struct DefaultChain;

impl AwsEnv for DefaultChain {
    async fn ssm_client(http: SdkHttpClient) -> Result<aws_sdk_ssm::Client> {
        let conf = aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(http).load().await;
        Ok(aws_sdk_ssm::Client::new(&conf))
    }
}

/// A Lambda function's environment: `AWS_REGION` (or `AWS_DEFAULT_REGION`), the credentials
/// Lambda puts in `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`, and the
/// endpoint overrides `AWS_ENDPOINT_URL_SSM` / `AWS_ENDPOINT_URL`. Without `aws-config`: its
/// other providers (profiles, STS, EC2 metadata) never apply inside Lambda and would only add
/// to the binary's size.
#[derive(Debug)]
pub struct LambdaEnv;

impl AwsEnv for LambdaEnv {
    async fn ssm_client(http: SdkHttpClient) -> Result<aws_sdk_ssm::Client> {
        use aws_sdk_ssm::config::{BehaviorVersion, Credentials, Region};
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let region = var("AWS_REGION")
            .or_else(|| var("AWS_DEFAULT_REGION"))
            .ok_or_else(|| anyhow!("no region: AWS_REGION is not set"))?;
        let (Some(key), Some(secret)) = (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) else {
            bail!("no credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set (Lambda sets them)");
        };
        let mut conf = aws_sdk_ssm::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .http_client(http)
            .region(Region::new(region))
            .credentials_provider(Credentials::new(key, secret, var("AWS_SESSION_TOKEN"), None, "environment"));
        if let Some(endpoint) = var("AWS_ENDPOINT_URL_SSM").or_else(|| var("AWS_ENDPOINT_URL")) {
            conf = conf.endpoint_url(endpoint);
        }
        Ok(aws_sdk_ssm::Client::from_conf(conf.build()))
    }
}

/// Reads the config text from a source spec.
pub async fn load<E: AwsEnv>(spec: &str) -> Result<Loaded> {
    match spec.strip_prefix("ssm:") {
        Some("") => {
            bail!("config source `ssm:`: name a parameter (`ssm:/gw/config`) or a path (`ssm:/gw/`)")
        }
        Some(name) => tokio::time::timeout(SSM_TIMEOUT, load_ssm::<E>(name))
            .await
            .map_err(|_| anyhow!("config source `{spec}`: no answer from SSM within {}s", SSM_TIMEOUT.as_secs()))?
            .with_context(|| format!("config source `{spec}`")),
        None => {
            let bytes = std::fs::read(spec).with_context(|| format!("config source `{spec}`: cannot read the file"))?;
            let text =
                String::from_utf8(bytes).map_err(|_| anyhow!("config source `{spec}`: the file is not UTF-8"))?;
            Ok(Loaded { text, endpoint_sources: Vec::new() })
        }
    }
}

async fn load_ssm<E: AwsEnv>(name: &str) -> Result<Loaded> {
    let client = E::ssm_client(SdkHttpClient::new().map_err(|e| anyhow!(e))?).await?;
    if name.ends_with('/') {
        let path = if name == "/" { "/" } else { name.trim_end_matches('/') };
        let mut parts = Vec::new();
        let mut pages =
            client.get_parameters_by_path().path(path).recursive(true).with_decryption(true).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| ssm_error(&e))?;
            for p in page.parameters() {
                let pname = p.name().unwrap_or_default().to_owned();
                let value = decode_value(&pname, p.value().unwrap_or_default())?;
                parts.push((pname, value));
            }
        }
        if parts.is_empty() {
            bail!("no parameters under the path `{path}`");
        }
        let assembled = tributary_core::config::assemble(&parts).map_err(|e| anyhow!(e))?;
        Ok(Loaded { text: assembled.text, endpoint_sources: assembled.endpoint_sources })
    } else {
        let out = client.get_parameter().name(name).with_decryption(true).send().await.map_err(|e| ssm_error(&e))?;
        let value = out.parameter().and_then(|p| p.value()).unwrap_or_default();
        Ok(Loaded { text: decode_value(name, value)?, endpoint_sources: Vec::new() })
    }
}

/// One line for an SSM failure: the error code AWS gave (`ParameterNotFound`,
/// `AccessDeniedException`, `ThrottlingException`, ...) and its message.
fn ssm_error<E: ProvideErrorMetadata + std::error::Error + 'static>(
    e: &aws_sdk_ssm::error::SdkError<E>,
) -> anyhow::Error {
    match (e.code(), e.message()) {
        (Some(code), Some(msg)) => anyhow!("{code}: {msg}"),
        (Some(code), None) => anyhow!("{code}"),
        _ if e.raw_response().is_some() => {
            // An answer AWS's JSON protocol does not describe (an XML or HTML error page from a
            // proxy, or moto's IAM checks): report its status and any `<Code>`/`<Message>`.
            let raw = e.raw_response().expect("checked above");
            let status = raw.status().as_u16();
            let body = raw.body().bytes().map(String::from_utf8_lossy).unwrap_or_default();
            let tag = |t: &str| {
                let open = format!("<{t}>");
                let start = body.find(&open)? + open.len();
                let end = body[start..].find(&format!("</{t}>"))? + start;
                Some(body[start..end].trim().to_owned())
            };
            match (tag("Code"), tag("Message")) {
                (Some(code), Some(msg)) => anyhow!("HTTP {status}: {code}: {msg}"),
                (Some(code), None) => anyhow!("HTTP {status}: {code}"),
                _ => anyhow!("HTTP {status} from SSM: {e}"),
            }
        }
        _ => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                text.push_str(": ");
                text.push_str(&s.to_string());
                source = s.source();
            }
            anyhow!(text)
        }
    }
}

/// A parameter's value: JSON as is, or gzip+base64 of JSON (so that more fits in 8 KB).
pub fn decode_value(name: &str, raw: &str) -> Result<String> {
    let trimmed = raw.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        return Ok(raw.to_owned());
    }
    let compact: String = raw.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .map_err(|_| anyhow!("parameter `{name}` is neither JSON nor gzip+base64"))?;
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        bail!("parameter `{name}` is base64 but not gzip (gzip, then base64, the JSON)");
    }
    let mut text = String::new();
    flate2::read::GzDecoder::new(bytes.as_slice())
        .take(MAX_CONFIG_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| anyhow!("parameter `{name}`: cannot gunzip its value: {e}"))?;
    if text.len() as u64 > MAX_CONFIG_BYTES {
        bail!("parameter `{name}`: the gunzipped value exceeds {MAX_CONFIG_BYTES} bytes");
    }
    Ok(text)
}

/// Reads, parses, validates and compiles, logging each phase's time once; warnings are logged;
/// errors name the source, the JSON path and (for `ssm:PATH/`) the parameter of the endpoint.
pub async fn load_gateway<E: AwsEnv>(spec: &str) -> Result<Gateway> {
    load_gateway_with::<E>(spec, false).await
}

/// The config from `spec`, with KrakenD's `KRAKEND_<KEY>` environment overrides of root-level
/// settings applied when `env_overrides` is set (the CLI's `run` and `check` do, as KrakenD's).
pub async fn load_with<E: AwsEnv>(spec: &str, env_overrides: bool) -> Result<Loaded> {
    let mut loaded = load::<E>(spec).await?;
    if env_overrides {
        let (text, applied) = crate::overrides::apply_env(&loaded.text).map_err(|e| anyhow!("{e}"))?;
        for a in &applied {
            tracing::info!(key = %a.key, value = %a.value, "config value overridden by KRAKEND_{}", a.key.to_ascii_uppercase());
        }
        loaded.text = text;
    }
    Ok(loaded)
}

/// [`load_gateway`], with the environment overrides of [`load_with`] when `env_overrides` is set.
pub async fn load_gateway_with<E: AwsEnv>(spec: &str, env_overrides: bool) -> Result<Gateway> {
    let started = Instant::now();
    let loaded = load_with::<E>(spec, env_overrides).await?;
    let fetched = started.elapsed();
    // `backend/lambda` calls are signed with the environment's credentials, when it has some.
    match Gateway::from_json_timed_with(&loaded.text, crate::aws_sign::EnvSigner::shared_from_env()) {
        Ok((g, timings)) => {
            tracing::info!(
                source = spec,
                endpoints = g.endpoint_count(),
                fetch_ms = fetched.as_secs_f64() * 1e3,
                parse_ms = timings.parse.as_secs_f64() * 1e3,
                compile_ms = timings.compile.as_secs_f64() * 1e3,
                "config loaded"
            );
            for w in g.warnings() {
                tracing::warn!(source = spec, "{w}");
            }
            Ok(g)
        }
        Err(e) => {
            let lines: Vec<String> = e.errors.iter().map(|p| describe(spec, &loaded, p)).collect();
            Err(anyhow!("{}", lines.join("\n")))
        }
    }
}

/// One problem as printed: the source, the problem, and for `ssm:PATH/` the parameter that
/// holds the endpoint concerned.
pub fn describe(spec: &str, loaded: &Loaded, problem: &tributary_core::Problem) -> String {
    match endpoint_source(&problem.path, &loaded.endpoint_sources) {
        Some(param) => format!("{spec}: {problem} (from parameter `{param}`)"),
        None => format!("{spec}: {problem}"),
    }
}

fn endpoint_source<'a>(path: &str, sources: &'a [String]) -> Option<&'a str> {
    let index: usize = path.strip_prefix("endpoints[")?.split(']').next()?.parse().ok()?;
    sources.get(index).map(String::as_str)
}

/// The Lambda function's config source: `TRIBUTARY_CONFIG`, else `krakend.json` in the task root.
pub fn lambda_config_spec() -> String {
    match std::env::var("TRIBUTARY_CONFIG") {
        Ok(s) if !s.is_empty() => s,
        _ => {
            let root = std::env::var("LAMBDA_TASK_ROOT").unwrap_or_else(|_| ".".to_owned());
            format!("{root}/krakend.json")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip_base64(text: &str) -> String {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(text.as_bytes()).unwrap();
        base64::engine::general_purpose::STANDARD.encode(enc.finish().unwrap())
    }

    #[test]
    fn values_may_be_json_or_gzip_base64() {
        assert_eq!(decode_value("a", r#"{"version":3}"#).unwrap(), r#"{"version":3}"#);
        assert_eq!(decode_value("a", &gzip_base64(r#"[{"endpoint":"/x"}]"#)).unwrap(), r#"[{"endpoint":"/x"}]"#);
    }

    #[test]
    fn other_values_are_refused_with_the_parameter_name() {
        let err = decode_value("/gw/x", "not json, at all!").unwrap_err().to_string();
        assert_eq!(err, "parameter `/gw/x` is neither JSON nor gzip+base64");
        let err = decode_value("/gw/y", "aGVsbG8=").unwrap_err().to_string();
        assert!(err.contains("base64 but not gzip"), "{err}");
    }

    #[test]
    fn errors_name_the_parameter_of_their_endpoint() {
        let sources = vec!["/gw/svc".to_owned(), "/gw/users".to_owned()];
        assert_eq!(endpoint_source("endpoints[1].backend[0].host", &sources), Some("/gw/users"));
        assert_eq!(endpoint_source("version", &sources), None);
    }
}
