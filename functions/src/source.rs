//! Where a config comes from (`-c` or `TRIBUTARY_CONFIG`): a file today; `ssm:NAME` and
//! `ssm:PATH/` are being built with the Lambda door.

use anyhow::{Context, Result, anyhow, bail};
use tributary_core::Gateway;

/// Reads the config text from a source spec.
pub async fn load(spec: &str) -> Result<String> {
    if let Some(rest) = spec.strip_prefix("ssm:") {
        bail!("config source `ssm:{rest}`: SSM Parameter Store sources are not built yet");
    }
    let bytes = std::fs::read(spec).with_context(|| format!("cannot read config `{spec}`"))?;
    String::from_utf8(bytes).with_context(|| format!("config `{spec}` is not UTF-8"))
}

/// Reads, parses, validates and compiles; logs the warnings; errors name the source and path.
pub async fn load_gateway(spec: &str) -> Result<Gateway> {
    let text = load(spec).await?;
    match Gateway::from_json(&text) {
        Ok(g) => {
            for w in g.warnings() {
                tracing::warn!(source = spec, "{w}");
            }
            Ok(g)
        }
        Err(e) => {
            let lines: Vec<String> = e.errors.iter().map(|p| format!("{spec}: {p}")).collect();
            Err(anyhow!("{}", lines.join("\n")))
        }
    }
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
