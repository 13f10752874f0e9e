//! Where a config comes from (`-c` or `TRIBUTARY_CONFIG`), the same for every door: a file,
//! `ssm:NAME` (one String or SecureString parameter, decrypted) or `ssm:PATH/` (every parameter
//! under the path, combined by `tributary_core::config::assemble`). Values may be JSON or
//! gzip+base64 JSON. Failures are one clear message naming the source.
//!
//! Where the SSM client's region, credentials and endpoint come from is a type parameter
//! ([`AwsEnv`]), so that each binary links only its own way: the CLI the SDK's default chain
//! (`aws-config`), the Lambda function the variables Lambda sets. The client itself is
//! [`crate::ssm`], for both.

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine;
use std::future::Future;
use std::io::Read;
use std::time::{Duration, Instant};
use tributary_core::Gateway;

use crate::ssm::{Connector, DEFAULT_MAX_ATTEMPTS, SsmClient, SsmSettings, default_endpoint};

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

/// Where an SSM client's region, credentials and endpoint come from. `connector` is the one the
/// SSM client will use, for any calls made to find them.
pub trait AwsEnv {
    fn ssm_settings(connector: &Connector) -> impl Future<Output = Result<SsmSettings>> + Send;
}

/// The AWS SDK's default chain (`aws-config`): environment variables, shared config and
/// credentials files, web identity, ECS and EC2 roles; the endpoint from `AWS_ENDPOINT_URL_SSM`,
/// `AWS_ENDPOINT_URL` or a profile's `endpoint_url`; FIPS, dual stack and `max_attempts` as
/// configured. For the CLI, wherever it runs.
#[derive(Debug)]
pub struct DefaultChain;

impl AwsEnv for DefaultChain {
    async fn ssm_settings(connector: &Connector) -> Result<SsmSettings> {
        use aws_credential_types::provider::ProvideCredentials;
        let http = crate::aws_http::SdkHttpClient::over(connector.clone());
        let conf = aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(http).load().await;
        let region = conf
            .region()
            .map(|r| r.to_string())
            .ok_or_else(|| anyhow!("no region: set AWS_REGION or a profile's `region`"))?;
        let provider = conf.credentials_provider().ok_or_else(|| anyhow!("no credentials provider"))?;
        let credentials = provider
            .provide_credentials()
            .await
            .map_err(|e| anyhow!("no credentials: {}", aws_smithy_types::error::display::DisplayErrorContext(&e)))?;
        // As the SDK's service config: the SSM-specific endpoint first, then the general one.
        let key = aws_types::service_config::ServiceConfigKey::builder()
            .service_id("SSM")
            .env("AWS_ENDPOINT_URL")
            .profile("endpoint_url")
            .build()
            .map_err(|e| anyhow!("{e}"))?;
        let endpoint = if conf.get_origin("endpoint_url").is_client_config() {
            conf.endpoint_url().map(str::to_owned)
        } else {
            conf.service_config().and_then(|c| c.load_config(key)).or_else(|| conf.endpoint_url().map(str::to_owned))
        };
        let endpoint = endpoint.unwrap_or_else(|| {
            default_endpoint(&region, conf.use_fips().unwrap_or(false), conf.use_dual_stack().unwrap_or(false))
        });
        Ok(SsmSettings {
            region,
            endpoint,
            access_key_id: credentials.access_key_id().to_owned(),
            secret_access_key: credentials.secret_access_key().to_owned(),
            session_token: credentials.session_token().map(str::to_owned),
            max_attempts: conf.retry_config().map_or(DEFAULT_MAX_ATTEMPTS, |r| r.max_attempts()),
        })
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
    async fn ssm_settings(_: &Connector) -> Result<SsmSettings> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let region = var("AWS_REGION")
            .or_else(|| var("AWS_DEFAULT_REGION"))
            .ok_or_else(|| anyhow!("no region: AWS_REGION is not set"))?;
        let (Some(key), Some(secret)) = (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) else {
            bail!("no credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set (Lambda sets them)");
        };
        let endpoint = var("AWS_ENDPOINT_URL_SSM")
            .or_else(|| var("AWS_ENDPOINT_URL"))
            .unwrap_or_else(|| default_endpoint(&region, false, false));
        Ok(SsmSettings {
            region,
            endpoint,
            access_key_id: key,
            secret_access_key: secret,
            session_token: var("AWS_SESSION_TOKEN"),
            max_attempts: DEFAULT_MAX_ATTEMPTS,
        })
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
    let connector = SsmClient::connector()?;
    let mut client = SsmClient::new(E::ssm_settings(&connector).await?, connector)?;
    if name.ends_with('/') {
        let path = if name == "/" { "/" } else { name.trim_end_matches('/') };
        let mut parts = Vec::new();
        for p in client.get_parameters_by_path(path).await? {
            let value = decode_value(&p.name, &p.value)?;
            parts.push((p.name, value));
        }
        if parts.is_empty() {
            bail!("no parameters under the path `{path}`");
        }
        let assembled = tributary_core::config::assemble(&parts).map_err(|e| anyhow!(e))?;
        Ok(Loaded { text: assembled.text, endpoint_sources: assembled.endpoint_sources })
    } else {
        let p = client.get_parameter(name).await?;
        Ok(Loaded { text: decode_value(name, &p.value)?, endpoint_sources: Vec::new() })
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
