//! Where a config comes from (`-c` or `TRIBUTARY_CONFIG`): a file today; `ssm:NAME` and
//! `ssm:PATH/` arrive with the Lambda door.

use anyhow::{bail, Context, Result};

pub async fn load(spec: &str) -> Result<String> {
    if let Some(rest) = spec.strip_prefix("ssm:") {
        bail!("config source `ssm:{rest}`: SSM Parameter Store sources are not built yet");
    }
    let bytes = std::fs::read(spec).with_context(|| format!("cannot read config `{spec}`"))?;
    String::from_utf8(bytes).with_context(|| format!("config `{spec}` is not UTF-8"))
}
