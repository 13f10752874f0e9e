//! The `backend/lambda` namespace as the user wrote it (KrakenD CE's krakend-lambda: an AWS
//! Lambda function called as a backend), and its start-up checks, each naming its JSON path.

use super::Problem;
use serde_json::Value;

/// The names `backend/lambda` goes by: the v3 name, then krakend-lambda's original namespace.
pub const BACKEND_LAMBDA_NAMES: &[&str] = &["backend/lambda", "github.com/devopsfaith/krakend-lambda"];

/// `backend/lambda` on a backend. KrakenD's schema keys, nothing else.
#[derive(Debug, Default, serde::Deserialize)]
pub struct LambdaBackendConfig {
    /// The function to invoke (a name, a partial or a full ARN, with an optional `:qualifier`).
    #[serde(default)]
    pub function_name: Option<String>,
    /// The endpoint `{placeholder}` that names the function, first letter uppercased as KrakenD
    /// writes it (`Function` for `{function}`); Tributary also takes the placeholder as written.
    #[serde(default)]
    pub function_param_name: Option<String>,
    /// The AWS region; `AWS_REGION` / `AWS_DEFAULT_REGION` when unset.
    #[serde(default)]
    pub region: Option<String>,
    /// Extra attempts after a throttled (429), failed (5xx) or unreachable Invoke call.
    #[serde(default)]
    pub max_retries: Option<u32>,
    /// The Invoke API's base URL, instead of `https://lambda.<region>.amazonaws.com`.
    #[serde(default)]
    pub endpoint: Option<String>,
    #[serde(default, rename = "@comment")]
    pub comment: Option<Value>,
}

impl LambdaBackendConfig {
    /// The endpoint parameter (as written in the path) that `function_param_name` names, matching
    /// KrakenD's uppercased first letter or the name as written.
    pub fn function_param<'p>(&self, params: &'p [String]) -> Option<(usize, &'p str)> {
        let wanted = self.function_param_name.as_deref()?;
        params.iter().enumerate().find(|(_, p)| *p == wanted || capitalised(p) == wanted).map(|(i, p)| (i, p.as_str()))
    }
}

/// lura's parameter key: the first letter uppercased.
pub fn capitalised(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The problems of one backend's `backend/lambda` (`at` is its JSON path), given the endpoint's
/// parameter names.
pub(crate) fn validate(
    cfg: &LambdaBackendConfig,
    at: &str,
    ep: Option<&str>,
    params: &[String],
    errors: &mut Vec<Problem>,
) {
    match (&cfg.function_name, &cfg.function_param_name) {
        (Some(_), Some(_)) => {
            errors.push(Problem::error(at, ep, "set either `function_name` or `function_param_name`, not both"))
        }
        (None, None) => errors.push(Problem::error(
            at,
            ep,
            "no function: set `function_name`, or `function_param_name` to an endpoint parameter",
        )),
        (Some(name), None) if name.trim().is_empty() => {
            errors.push(Problem::error(format!("{at}.function_name"), ep, "empty function name"));
        }
        (None, Some(wanted)) if cfg.function_param(params).is_none() => {
            let known: Vec<String> = params.iter().map(|p| format!("`{}`", capitalised(p))).collect();
            let known = if known.is_empty() { "none".to_owned() } else { known.join(", ") };
            errors.push(Problem::error(
                format!("{at}.function_param_name"),
                ep,
                format!("`{wanted}` is not a parameter of the endpoint (its parameters: {known})"),
            ));
        }
        _ => {}
    }
    if let Some(region) = &cfg.region
        && (region.is_empty() || !region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'))
    {
        errors.push(Problem::error(
            format!("{at}.region"),
            ep,
            format!("`{region}` is not an AWS region (such as `us-east-1`)"),
        ));
    }
    if let Some(endpoint) = &cfg.endpoint {
        let ok = url::Url::parse(endpoint)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some() && u.query().is_none());
        if ok.is_none() {
            errors.push(Problem::error(
                format!("{at}.endpoint"),
                ep,
                format!("`{endpoint}` is not an http(s) URL (such as `http://127.0.0.1:9000`)"),
            ));
        }
    }
}
