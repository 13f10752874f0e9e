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

#[cfg(test)]
mod tests {
    use crate::Gateway;

    /// Every problem reported for one endpoint `/fn/{function}` whose one backend has this
    /// `backend/lambda` object, one per line.
    fn problems(lambda: &str) -> Vec<String> {
        let text = format!(
            r#"{{"version": 3, "endpoints": [{{"endpoint": "/fn/{{function}}", "backend": [
                {{"url_pattern": "/", "extra_config": {{"backend/lambda": {lambda}}}}}]}}]}}"#
        );
        match Gateway::from_json(&text) {
            Ok(g) => g.warnings().iter().map(ToString::to_string).collect(),
            Err(e) => e.errors.iter().chain(&e.warnings).map(ToString::to_string).collect(),
        }
    }

    const AT: &str = "`endpoints[0].backend[0].extra_config.backend/lambda";

    #[test]
    fn a_lambda_backend_needs_no_host_and_takes_the_parameter_as_krakend_or_as_written() {
        assert_eq!(
            problems(r#"{"function_name": "f", "region": "eu-west-1", "max_retries": 2}"#),
            Vec::<String>::new()
        );
        assert_eq!(problems(r#"{"function_param_name": "Function"}"#), Vec::<String>::new());
        assert_eq!(
            problems(r#"{"function_param_name": "function", "endpoint": "http://127.0.0.1:9000"}"#),
            Vec::<String>::new()
        );
    }

    #[test]
    fn each_bad_key_is_an_error_naming_its_json_path() {
        let both = problems(r#"{"function_name": "f", "function_param_name": "Function"}"#);
        assert_eq!(both.len(), 1, "{both:?}");
        assert!(both[0].starts_with(&format!("error: {AT}` (endpoint `GET /fn/{{function}}`)")), "{both:?}");
        assert!(both[0].contains("not both"), "{both:?}");
        let neither = problems(r#"{"region": "us-east-1"}"#);
        assert!(neither[0].contains("no function"), "{neither:?}");
        let unknown = problems(r#"{"function_param_name": "Name"}"#);
        assert!(unknown[0].starts_with(&format!("error: {AT}.function_param_name`")), "{unknown:?}");
        assert!(
            unknown[0].contains("`Name` is not a parameter of the endpoint (its parameters: `Function`)"),
            "{unknown:?}"
        );
        let region = problems(r#"{"function_name": "f", "region": "EU West"}"#);
        assert!(region[0].starts_with(&format!("error: {AT}.region`")), "{region:?}");
        let endpoint = problems(r#"{"function_name": "f", "endpoint": "localhost:9000"}"#);
        assert!(endpoint[0].starts_with(&format!("error: {AT}.endpoint`")), "{endpoint:?}");
        let retries = problems(r#"{"function_name": "f", "max_retries": "three"}"#);
        assert!(retries[0].starts_with(&format!("error: {AT}.max_retries`")), "{retries:?}");
    }

    #[test]
    fn an_unknown_key_is_a_warning_naming_its_json_path() {
        let found = problems(r#"{"function_name": "f", "qualifier": "1"}"#);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with(&format!("warning: {AT}.qualifier`")), "{found:?}");
    }
}
