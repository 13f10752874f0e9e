//! The config: parse KrakenD v3 JSON into `*Config` types, collecting every type error (with its
//! JSON path, endpoint, line and column) and every key we do not support (as warnings).
//! Validation lives in `validate`. The namespaces of features (`qos/http-cache`,
//! `auth/validator`, `telemetry/*`) are read here too, so the config imports nothing of the
//! gateway: the features compile their own runtime forms from these types.

// Every key of KrakenD's schema is parsed, so that a misspelt key is reported as unknown; the
// keys Tributary accepts without effect are never read.
#[allow(dead_code)]
mod auth;
#[allow(dead_code)]
mod botdetector;
#[allow(dead_code)]
mod cel;
mod duration;
#[allow(dead_code)]
mod graphql;
mod jsonschema;
#[allow(dead_code)]
mod lambda;
pub(crate) mod martian;
#[allow(dead_code)]
mod model;
mod parts;
mod problem;
mod qos;
pub mod telemetry;
mod validate;

// What the doors use: assembling a config from parts, the Go duration syntax (Lambda's
// settings), the problems a config has, and the telemetry namespaces (the doors set up logs and
// listeners). The rest is the crate's own.
pub use duration::{DurationError, parse_go_duration};
pub use parts::{Assembled, PartsError, assemble};
pub use problem::{ConfigError, Problem, Severity};

pub(crate) use auth::JwtConfig;
pub(crate) use botdetector::{BOT_DETECTOR_NAMES, BotDetectorConfig};
pub(crate) use cel::{CelCheckConfig, VALIDATION_CEL_NAMES};
pub(crate) use duration::{GoDuration, days_from_civil, go_nanos};
pub(crate) use graphql::{GRAPHQL_NAMES, GraphQlConfig, GraphQlKind, param_index as graphql_param_index};
pub(crate) use jsonschema::{JsonSchemaConfig, VALIDATION_JSON_SCHEMA_NAMES};
pub(crate) use lambda::{BACKEND_LAMBDA_NAMES, LambdaBackendConfig, capitalised};
pub(crate) use martian::{MARTIAN_NAMES, MartianConfig};
pub(crate) use model::*;
pub(crate) use qos::HttpCacheConfig;
pub(crate) use validate::{
    ROUTABLE_METHODS, clean_path, endpoint_params, placeholders, sanitize_host as validate_host,
};

use serde::Deserialize;

/// A parsed (not yet validated) config: the service and its endpoints, plus warnings so far.
#[derive(Debug)]
pub(crate) struct ParsedConfig<'a> {
    pub service: ServiceConfig<'a>,
    pub endpoints: Vec<EndpointConfig>,
    pub warnings: Vec<Problem>,
}

/// Parses the text. Every endpoint is parsed separately so that all type errors are reported.
pub(crate) fn parse(text: &str) -> Result<ParsedConfig<'_>, ConfigError> {
    let mut warnings = Vec::new();
    let service: ServiceConfig = match deserialize_at(text, 0, &mut |p| {
        warnings.push(unknown_key(p, None));
    }) {
        Ok(s) => s,
        Err(p) => return Err(ConfigError::new(vec![p], warnings)),
    };
    let mut endpoints = Vec::with_capacity(service.endpoints.len());
    let mut errors = Vec::new();
    for (i, raw) in service.endpoints.iter().enumerate() {
        let offset = raw.get().as_ptr() as usize - text.as_ptr() as usize;
        let prefix = format!("endpoints[{i}]");
        // The label (only for messages) costs a second parse: made only when one is needed.
        let label = || endpoint_label_from_raw(raw.get());
        let mut local = Vec::new();
        match deserialize_at::<EndpointConfig>(text, offset, &mut |p| local.push(p)) {
            Ok(e) => endpoints.push(e),
            Err(mut p) => {
                p.path = join_path(&prefix, &p.path);
                p.endpoint = label();
                errors.push(p);
            }
        }
        if !local.is_empty() {
            let label = label();
            for p in local {
                warnings.push(unknown_key(join_path(&prefix, &p), label.clone()));
            }
        }
    }
    if !errors.is_empty() {
        return Err(ConfigError::new(errors, warnings));
    }
    Ok(ParsedConfig { service, endpoints, warnings })
}

/// Parse, validate: the whole check that `tributary check` runs before compiling.
pub(crate) fn parse_and_validate(text: &str) -> Result<ParsedConfig<'_>, ConfigError> {
    let mut parsed = parse(text)?;
    let (errors, more_warnings) = validate::validate(&parsed);
    parsed.warnings.extend(more_warnings);
    if errors.is_empty() { Ok(parsed) } else { Err(ConfigError::new(errors, std::mem::take(&mut parsed.warnings))) }
}

/// `GET /users/{id}` for an endpoint object, read leniently (used in messages only).
fn endpoint_label_from_raw(raw: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(raw).ok()?;
    let path = v.get("endpoint")?.as_str()?;
    let method = v.get("method").and_then(|m| m.as_str()).unwrap_or("GET");
    Some(endpoint_label(method, path))
}

pub(crate) fn endpoint_label(method: &str, path: &str) -> String {
    let path = if path.starts_with('/') { path.to_owned() } else { format!("/{path}") };
    format!("{} {}", method.to_ascii_uppercase(), path)
}

fn unknown_key(path: String, endpoint: Option<String>) -> Problem {
    let hint = renamed_in_v3(path.rsplit(['.', '[']).next().unwrap_or(""));
    Problem {
        severity: Severity::Warning,
        message: match hint {
            Some(new) => {
                format!("unknown key, ignored (KrakenD v2 name; version 3 calls it `{new}`)")
            }
            None => "unknown or unsupported key, ignored".to_owned(),
        },
        path,
        endpoint,
        line_col: None,
    }
}

fn renamed_in_v3(key: &str) -> Option<&'static str> {
    Some(match key {
        "headers_to_pass" => "input_headers",
        "querystring_params" => "input_query_strings",
        "whitelist" => "allow",
        "blacklist" => "deny",
        _ => return None,
    })
}

pub(crate) fn join_path(prefix: &str, rest: &str) -> String {
    if prefix.is_empty() {
        rest.to_owned()
    } else if rest.is_empty() {
        prefix.to_owned()
    } else if rest.starts_with('[') {
        format!("{prefix}{rest}")
    } else {
        format!("{prefix}.{rest}")
    }
}

/// Deserializes `T` from `text[offset..]` (the first JSON value there), reporting unknown keys
/// through `on_unknown` and an error as a `Problem` with its path and absolute line/column.
fn deserialize_at<'a, T: Deserialize<'a>>(
    text: &'a str,
    offset: usize,
    on_unknown: &mut dyn FnMut(String),
) -> Result<T, Problem> {
    let mut json = serde_json::Deserializer::from_str(&text[offset..]);
    let mut callback = |path: serde_ignored::Path| on_unknown(ignored_path(&path));
    let ignored = serde_ignored::Deserializer::new(&mut json, &mut callback);
    let result: Result<T, _> = serde_path_to_error::deserialize(ignored);
    let value = match result {
        Ok(v) => v,
        Err(e) => {
            let path = error_path(e.path());
            let inner = e.into_inner();
            let (line, col) = absolute_position(text, offset, inner.line(), inner.column());
            return Err(Problem {
                severity: Severity::Error,
                message: clean_serde_message(&inner.to_string()),
                path,
                endpoint: None,
                line_col: Some((line, col)),
            });
        }
    };
    if offset == 0
        && let Err(e) = json.end()
    {
        return Err(Problem {
            severity: Severity::Error,
            message: clean_serde_message(&e.to_string()),
            path: String::new(),
            endpoint: None,
            line_col: Some((e.line(), e.column())),
        });
    }
    Ok(value)
}

fn absolute_position(text: &str, offset: usize, line: usize, col: usize) -> (usize, usize) {
    let before = &text[..offset];
    let base_line = before.matches('\n').count() + 1;
    let base_col = offset - before.rfind('\n').map_or(0, |i| i + 1);
    if line <= 1 { (base_line, base_col + col) } else { (base_line + line - 1, col) }
}

/// serde_json appends " at line L column C" to its messages; we print the position ourselves.
fn clean_serde_message(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

fn error_path(path: &serde_path_to_error::Path) -> String {
    let mut out = String::new();
    for seg in path.iter() {
        match seg {
            serde_path_to_error::Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            serde_path_to_error::Segment::Map { key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            serde_path_to_error::Segment::Enum { variant } => out.push_str(variant),
            serde_path_to_error::Segment::Unknown => out.push('?'),
        }
    }
    out
}

fn ignored_path(path: &serde_ignored::Path) -> String {
    use serde_ignored::Path as P;
    match path {
        P::Root => String::new(),
        P::Seq { parent, index } => format!("{}[{index}]", ignored_path(parent)),
        P::Map { parent, key } => join_path(&ignored_path(parent), key),
        P::Some { parent } | P::NewtypeStruct { parent } | P::NewtypeVariant { parent } => ignored_path(parent),
    }
}

#[cfg(test)]
mod tests;
