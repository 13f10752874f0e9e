//! Start-up validation (KrakenD's checks plus what Tributary adds): every rule checked, every
//! problem collected, each naming its JSON path and endpoint. Pure: no I/O, no compiling.

use super::{ParsedConfig, Problem, endpoint_label};
use crate::net::parse_cidr;
use std::collections::{BTreeMap, BTreeSet};

/// Methods KrakenD CE can route; other endpoint methods are skipped with a warning, as KrakenD does.
pub const ROUTABLE_METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE"];

pub const BACKEND_ENCODINGS: &[&str] = &["json", "safejson", "string", "no-op", "xml"];
pub const OUTPUT_ENCODINGS: &[&str] = &["json", "json-collection", "string", "no-op", "xml", "yaml", "negotiate"];

/// Returns (errors, warnings).
pub fn validate(parsed: &ParsedConfig<'_>) -> (Vec<Problem>, Vec<Problem>) {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let service = &parsed.service;

    match service.version.as_ref().and_then(|v| v.as_i64()) {
        Some(3) => {}
        Some(n) => errors.push(Problem::error("version", None, format!("unsupported version: {n} (want: 3)"))),
        None => errors.push(Problem::error(
            "version",
            None,
            "missing or not a number: a KrakenD v3 config needs `\"version\": 3`",
        )),
    }
    if let Some(ip) = &service.listen_ip
        && !ip.is_empty()
        && ip.parse::<std::net::IpAddr>().is_err()
    {
        errors.push(Problem::error("listen_ip", None, format!("`{ip}` is not an IP address")));
    }
    for (i, h) in service.host.iter().enumerate() {
        if let Err(e) = sanitize_host(h) {
            errors.push(Problem::error(format!("host[{i}]"), None, e.to_string()));
        }
    }
    for (field, d) in [("timeout", &service.timeout), ("cache_ttl", &service.cache_ttl)] {
        if d.is_some_and(|d| d.was_number) {
            warnings.push(number_duration(field, None));
        }
    }
    if let Some(enc) = &service.output_encoding
        && !OUTPUT_ENCODINGS.contains(&enc.as_str())
    {
        warnings.push(Problem::warning(
            "output_encoding",
            None,
            format!("unknown output encoding `{enc}`: JSON is used"),
        ));
    }
    unsupported_namespaces(&service.extra_config, "extra_config", None, &mut warnings);
    if let Some(bots) = &service.extra_config.bot_detector {
        super::botdetector::validate(bots, "extra_config.security/bot-detector", None, &mut errors);
    }
    backend_only(&service.extra_config, "extra_config", None, &mut warnings);
    endpoint_only(&service.extra_config, "extra_config", None, &mut warnings);
    let (telemetry_errors, telemetry_warnings) =
        super::telemetry::validate(&service.extra_config.telemetry, service.port.unwrap_or(8080));
    errors.extend(telemetry_errors);
    warnings.extend(telemetry_warnings);
    if service.echo_endpoint {
        warnings.push(Problem::warning(
            "echo_endpoint",
            None,
            "`/__echo/` answers every request with its headers, `Authorization` and cookies included: a page that can make a visitor's browser call it can read them; enable it only for debugging",
        ));
    }
    if let Some(r) = &service.extra_config.router {
        // gin keeps the entries before a bad one and drops the rest with an error KrakenD
        // ignores; a list that silently trusts less (or more) than written is refused instead.
        for (i, cidr) in r.trusted_proxies.iter().flatten().enumerate() {
            if parse_cidr(cidr).is_none() {
                errors.push(Problem::error(
                    format!("extra_config.router.trusted_proxies[{i}]"),
                    None,
                    format!("`{cidr}` is not an IP address or CIDR (e.g. `10.0.0.0/8`, `192.168.1.2`)"),
                ));
            }
        }
        for (i, name) in r.remote_ip_headers.iter().flatten().enumerate() {
            if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                errors.push(Problem::error(
                    format!("extra_config.router.remote_ip_headers[{i}]"),
                    None,
                    format!("`{name}` is not a header name"),
                ));
            }
        }
    }

    // Routes seen so far: (method, path) -> index, and for each param position its name.
    let mut seen: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut param_names: BTreeMap<String, (String, usize)> = BTreeMap::new();

    for (i, e) in parsed.endpoints.iter().enumerate() {
        let method = e.method.as_deref().unwrap_or("GET").to_ascii_uppercase();
        let path = clean_path(&e.endpoint);
        let label = endpoint_label(&method, &path);
        let at = |field: &str| format!("endpoints[{i}].{field}");
        let ep = Some(label.as_str());

        if !ROUTABLE_METHODS.contains(&method.as_str()) {
            warnings.push(Problem::warning(
                at("method"),
                ep,
                format!("unsupported method `{method}`: the endpoint is skipped, as KrakenD does (one endpoint object per method)"),
            ));
            continue;
        }
        if is_reserved_path(&path) || has_star_inside(&path) {
            errors.push(Problem::error(at("endpoint"), ep, format!("ignoring the '{label}' endpoint, since it is invalid!!! (paths under /__debug, /__echo, /__health and `*` followed by more characters are reserved)")));
        }
        if path.ends_with("/*") {
            errors.push(Problem::error(
                at("endpoint"),
                ep,
                "wildcard endpoints (`/*`) are a KrakenD Enterprise feature; KrakenD CE refuses them too",
            ));
        }
        if e.backend.is_empty() {
            errors.push(Problem::error(
                at("backend"),
                ep,
                format!("ignoring the '{label}' endpoint, since it has 0 backends defined!"),
            ));
        }
        let output = e.output_encoding.as_deref().or(service.output_encoding.as_deref()).unwrap_or("json");
        if output == "no-op" && e.backend.len() > 1 {
            errors.push(Problem::error(
                at("output_encoding"),
                ep,
                "can not use NoOp encoding with more than one backends connected to the same endpoint",
            ));
        }
        if let Some(enc) = &e.output_encoding
            && !OUTPUT_ENCODINGS.contains(&enc.as_str())
        {
            warnings.push(Problem::warning(
                at("output_encoding"),
                ep,
                format!("unknown output encoding `{enc}`: the backend's encoding or JSON is used"),
            ));
        }
        for (field, d) in [("timeout", &e.timeout), ("cache_ttl", &e.cache_ttl)] {
            if d.is_some_and(|d| d.was_number) {
                warnings.push(number_duration(&at(field), ep));
            }
        }
        if e.concurrent_calls == Some(0) {
            warnings.push(Problem::warning(at("concurrent_calls"), ep, "0 means 1, as in KrakenD"));
        }
        unsupported_namespaces(&e.extra_config, &at("extra_config"), ep, &mut warnings);
        service_only(&e.extra_config, &at("extra_config"), ep, &mut warnings);
        if let Some(bots) = &e.extra_config.bot_detector {
            super::botdetector::validate(bots, &at("extra_config.security/bot-detector"), ep, &mut errors);
        }
        backend_only(&e.extra_config, &at("extra_config"), ep, &mut warnings);
        if let Some(p) = &e.extra_config.proxy
            && let Some(s) = p.strategy.as_deref().or(p.merger_type.as_deref())
            && s != "parallel"
            && s != "sequential"
        {
            errors.push(Problem::error(
                at("extra_config.proxy.strategy"),
                ep,
                format!("unknown merge strategy `{s}`: use `parallel` or `sequential`"),
            ));
        }

        // Parameters of the endpoint path.
        let params = match endpoint_params(&path, service.disable_rest) {
            Ok(p) => p,
            Err(msg) => {
                errors.push(Problem::error(at("endpoint"), ep, msg.to_string()));
                Vec::new()
            }
        };
        if let Some(prev) = seen.insert((method.clone(), route_shape(&path, &params)), i) {
            errors.push(Problem::error(
                at("endpoint"),
                ep,
                format!("the same path and method is already declared by endpoints[{prev}]"),
            ));
        }
        for (pos, seg) in path.split('/').enumerate() {
            if let Some(name) = whole_segment_param(seg) {
                let prefix = path.split('/').take(pos).collect::<Vec<_>>().join("/");
                let key = format!("{method} {prefix}/:{pos}");
                match param_names.get(&key) {
                    Some((other, j)) if other != name => errors.push(Problem::error(
                        at("endpoint"),
                        ep,
                        format!("`{{{name}}}` conflicts with `{{{other}}}` at the same position in endpoints[{j}]: KrakenD's router refuses two parameter names at one position"),
                    )),
                    Some(_) => {}
                    None => {
                        param_names.insert(key, (name.to_owned(), i));
                    }
                }
            }
        }
        let input: BTreeSet<&str> = params.iter().map(String::as_str).collect();

        for (j, b) in e.backend.iter().enumerate() {
            let bat = |field: &str| format!("endpoints[{i}].backend[{j}].{field}");
            if let Some(lambda) = &b.extra_config.backend_lambda {
                super::lambda::validate(lambda, &bat("extra_config.backend/lambda"), ep, &params, &mut errors);
            }
            if let Some(martian) = &b.extra_config.martian {
                let at = bat(&format!("extra_config.{}", super::MARTIAN_NAMES[0]));
                martian_problems(martian, &at, ep, &mut warnings);
                if b.extra_config.backend_lambda.is_some() {
                    warnings.push(Problem::warning(at, ep, "no effect on a `backend/lambda` backend (as in KrakenD)"));
                }
            }
            // A Lambda backend needs no host (KrakenD ignores `host` and `url_pattern` there).
            if b.host.is_empty() && service.host.is_empty() && b.extra_config.backend_lambda.is_none() {
                errors.push(Problem::error(
                    bat("host"),
                    ep,
                    "no host: set `host` on the backend or at the service level",
                ));
            }
            if !b.disable_host_sanitize {
                for (k, h) in b.host.iter().enumerate() {
                    if let Err(msg) = sanitize_host(h) {
                        errors.push(Problem::error(
                            format!("endpoints[{i}].backend[{j}].host[{k}]"),
                            ep,
                            msg.to_string(),
                        ));
                    }
                }
            }
            let outputs = placeholders(&b.url_pattern);
            let distinct: Vec<&str> = outputs.iter().copied().collect::<BTreeSet<_>>().into_iter().collect();
            // KrakenD's own count (config.go uniqueOutput) leaves out the last distinct name.
            let set_size =
                distinct[..distinct.len().saturating_sub(1)].iter().filter(|o| !is_sequential_param(o)).count();
            if set_size > input.len() {
                errors.push(Problem::error(bat("url_pattern"), ep, format!(
                    "input and output params do not match. endpoint: {label}, backend: {j}. input: [{}], output: [{}]",
                    input.iter().copied().collect::<Vec<_>>().join(" "), distinct.join(" "))));
            } else if let Some(bad) = distinct.iter().find(|o| !is_sequential_param(o) && !input.contains(*o)) {
                errors.push(Problem::error(
                    bat("url_pattern"),
                    ep,
                    format!(
                        "undefined output param '{bad}'! endpoint: {label}, backend: {j}. input: [{}], output: [{}]",
                        input.iter().copied().collect::<Vec<_>>().join(" "),
                        distinct.join(" ")
                    ),
                ));
            }
            if let Some(enc) = &b.encoding {
                let lower = enc.to_ascii_lowercase();
                if !BACKEND_ENCODINGS.contains(&lower.as_str()) {
                    warnings.push(Problem::warning(
                        bat("encoding"),
                        ep,
                        format!("unknown encoding `{enc}`: decoded as JSON, as KrakenD does"),
                    ));
                }
            }
            if b.timeout.is_some() {
                warnings.push(Problem::warning(
                    bat("timeout"),
                    ep,
                    "a backend timeout has no effect in KrakenD CE; the endpoint `timeout` applies",
                ));
            }
            if let Some(sd) = &b.sd
                && sd != "static"
            {
                warnings.push(Problem::warning(
                    bat("sd"),
                    ep,
                    format!("service discovery `{sd}` is not supported: the hosts are used as static hosts"),
                ));
            }
            unsupported_namespaces(&b.extra_config, &bat("extra_config"), ep, &mut warnings);
            service_only(&b.extra_config, &bat("extra_config"), ep, &mut warnings);
            if let Some(gql) = &b.extra_config.graphql {
                super::graphql::validate(gql, &bat("extra_config.backend/graphql"), ep, &params, &mut warnings);
            }
            if b.extra_config.bot_detector.is_some() {
                warnings.push(Problem::warning(
                    bat("extra_config.security/bot-detector"),
                    ep,
                    "read only at the service level (root `extra_config`) and on endpoints: ignored on a backend, as KrakenD does",
                ));
            }
            endpoint_only(&b.extra_config, &bat("extra_config"), ep, &mut warnings);
        }
    }
    (errors, warnings)
}

fn number_duration(path: &str, ep: Option<&str>) -> Problem {
    Problem::warning(
        path,
        ep,
        "a bare number is read as nanoseconds (as KrakenD CE does); write a string such as \"2s\"",
    )
}

fn unsupported_namespaces(extra: &super::ExtraConfig, at: &str, ep: Option<&str>, warnings: &mut Vec<Problem>) {
    for (name, _) in &extra.unsupported {
        warnings.push(Problem::warning(
            format!("{at}.{name}"),
            ep,
            format!("namespace `{name}` is not supported by Tributary yet: ignored"),
        ));
    }
}

/// The problems of a backend's `modifier/martian` (`at` is the namespace's JSON path).
fn martian_problems(martian: &super::MartianConfig, at: &str, ep: Option<&str>, warnings: &mut Vec<Problem>) {
    // KrakenD logs a martian config it cannot read and serves the backend without modifiers: so
    // does Tributary (the compiled tree is empty when there are errors), reporting each problem
    // as a warning with its path (`check --strict` refuses them).
    for (path, message) in &martian.errors {
        warnings.push(Problem::warning(
            super::join_path(at, path),
            ep,
            format!("{message}: the backend is served without its modifiers, as KrakenD does"),
        ));
    }
    for (path, message) in &martian.warnings {
        warnings.push(Problem::warning(super::join_path(at, path), ep, message.clone()));
    }
}

/// Namespaces KrakenD reads only on a backend, written at the service or an endpoint, where
/// KrakenD ignores them silently.
fn backend_only(extra: &super::ExtraConfig, at: &str, ep: Option<&str>, warnings: &mut Vec<Problem>) {
    for (present, name) in
        [(extra.martian.is_some(), super::MARTIAN_NAMES[0]), (extra.graphql.is_some(), super::GRAPHQL_NAMES[0])]
    {
        if present {
            warnings.push(Problem::warning(
                format!("{at}.{name}"),
                ep,
                "read only on a backend's `extra_config` (as KrakenD does): no effect here",
            ));
        }
    }
}

/// Namespaces KrakenD reads on endpoints only (`validation/json-schema`), written elsewhere.
fn endpoint_only(extra: &super::ExtraConfig, at: &str, ep: Option<&str>, warnings: &mut Vec<Problem>) {
    if let Some(s) = &extra.json_schema {
        warnings.push(Problem::warning(
            format!("{at}.{}", s.namespace),
            ep,
            "read only on endpoints (KrakenD validates the request body there): ignored here",
        ));
    }
}

/// Our own service-level namespaces, written on an endpoint or a backend, where nothing reads them.
fn service_only(extra: &super::ExtraConfig, at: &str, ep: Option<&str>, warnings: &mut Vec<Problem>) {
    use super::telemetry as tc;
    let t = &extra.telemetry;
    for (present, name) in [
        (extra.tributary_backend.is_some(), super::TRIBUTARY_BACKEND),
        (extra.tributary_lambda.is_some(), super::TRIBUTARY_LAMBDA),
        (t.logging.is_some(), tc::LOGGING_NAMES[0]),
        (t.metrics.is_some(), tc::METRICS_NAMES[0]),
        (t.opentelemetry.is_some(), tc::OPENTELEMETRY_NAMES[0]),
        (t.opencensus.is_some(), tc::OPENCENSUS_NAMES[0]),
        (t.gelf.is_some(), tc::GELF_NAMES[0]),
        (t.logstash.is_some(), tc::LOGSTASH_NAMES[0]),
        (t.emf.is_some(), tc::TRIBUTARY_EMF),
    ] {
        if present {
            warnings.push(Problem::warning(
                format!("{at}.{name}"),
                ep,
                "read only at the service level (root `extra_config`): ignored here",
            ));
        }
    }
}

/// `"/" + path without its leading slashes`, as lura's CleanPath.
pub fn clean_path(path: &str) -> String {
    format!("/{}", path.trim_start_matches('/'))
}

fn is_reserved_path(path: &str) -> bool {
    for name in ["/__debug", "/__echo", "/__health"] {
        if let Some(i) = path.find(name) {
            let rest = &path[i + name.len()..];
            if rest.is_empty() || rest.starts_with('/') {
                return true;
            }
        }
    }
    false
}

fn has_star_inside(path: &str) -> bool {
    path.find('*').is_some_and(|i| i + 1 < path.len())
}

/// `{name}` when the whole segment is one placeholder of `[A-Za-z0-9_-]`.
pub fn whole_segment_param(seg: &str) -> Option<&str> {
    let name = seg.strip_prefix('{')?.strip_suffix('}')?;
    (!name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')).then_some(name)
}

/// The endpoint's parameter names, in order. Strict REST: whole segments only. With
/// `disable_rest`: any `{name}` inside a segment, at most one per segment (our router's limit).
pub fn endpoint_params(path: &str, disable_rest: bool) -> Result<Vec<String>, PathError> {
    let mut out = Vec::new();
    for seg in path.split('/') {
        if let Some(name) = whole_segment_param(seg) {
            out.push(name.to_owned());
        } else if disable_rest {
            let found = placeholders(seg);
            if found.len() > 1 {
                return Err(PathError::SeveralParamsInSegment(seg.to_owned()));
            }
            out.extend(found.into_iter().map(str::to_owned));
        }
    }
    Ok(out)
}

/// Why an endpoint path cannot be routed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// With `disable_rest`, a segment holds two `{name}`s (the segment is kept).
    #[error("segment `{0}` holds more than one parameter: Tributary's router takes one parameter per segment")]
    SeveralParamsInSegment(String),
}

/// The path with every parameter replaced by `{}` (two routes with the same shape collide).
fn route_shape(path: &str, params: &[String]) -> String {
    let mut shape = path.to_owned();
    for p in params {
        shape = shape.replace(&format!("{{{p}}}"), "{}");
    }
    shape
}

/// Placeholders `{x}` of a url_pattern, x made of `[\w\-.:/]` (lura's simpleURLKeysPattern).
pub fn placeholders(pattern: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = pattern;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        match after.find(['{', '}']) {
            Some(end) if after.as_bytes()[end] == b'}' => {
                let name = &after[..end];
                if !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || "_-.:/".contains(c)) {
                    out.push(name);
                }
                rest = &after[end + 1..];
            }
            Some(end) => rest = &after[end..],
            None => break,
        }
    }
    out
}

/// `respN_field` and `JWT.claim` placeholders are filled at request time, not from the path.
pub fn is_sequential_param(name: &str) -> bool {
    if let Some(rest) = name.strip_prefix("resp") {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        return digits > 0 && rest[digits..].starts_with('_') && rest.len() > digits + 1;
    }
    name.strip_prefix("JWT.").is_some_and(|c| !c.is_empty())
}

/// lura's host sanitising: `(https?://)?name(:port)?/?` exactly once; no scheme -> `http://`.
pub fn sanitize_host(host: &str) -> Result<String, HostError> {
    let (scheme, rest) = if let Some(r) = host.strip_prefix("https://") {
        ("https://", r)
    } else if let Some(r) = host.strip_prefix("http://") {
        ("http://", r)
    } else {
        ("http://", host)
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let (name, port) = match rest.rsplit_once(':') {
        Some((n, p)) => (n, Some(p)),
        None => (rest, None),
    };
    let name_ok = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    let port_ok = port.is_none_or(|p| (2..=6).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()));
    if name_ok && port_ok { Ok(format!("{scheme}{rest}")) } else { Err(HostError(host.to_owned())) }
}

/// A backend or service `host` that is not `http(s)://name[:port]` (the host is kept).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "host `{0}` not valid: invalid host (expected `http(s)://name[:port]`; a base path needs `disable_host_sanitize`)"
)]
pub struct HostError(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_sanitising_adds_scheme_and_drops_trailing_slash() {
        assert_eq!(sanitize_host("localhost:8080").unwrap(), "http://localhost:8080");
        assert_eq!(sanitize_host("https://a.b/").unwrap(), "https://a.b");
        assert!(sanitize_host("http://a/api").is_err());
        assert!(sanitize_host("kafka://x").is_err());
    }

    #[test]
    fn placeholders_are_found_anywhere_in_a_url_pattern() {
        assert_eq!(placeholders("/a/{id}?c={chan}&x={resp0_a.b}"), vec!["id", "chan", "resp0_a.b"]);
        assert_eq!(placeholders("/{var}.{extension}"), vec!["var", "extension"]);
        assert!(placeholders("/{}/{ bad }").is_empty());
    }

    #[test]
    fn sequential_and_jwt_placeholders_are_exempt() {
        assert!(is_sequential_param("resp0_id"));
        assert!(is_sequential_param("resp12_a.b"));
        assert!(is_sequential_param("JWT.sub"));
        assert!(!is_sequential_param("resp0"));
        assert!(!is_sequential_param("resp_x"));
        assert!(!is_sequential_param("id"));
    }

    #[test]
    fn reserved_paths_are_recognised() {
        assert!(is_reserved_path("/__health"));
        assert!(is_reserved_path("/api/__debug/x"));
        assert!(!is_reserved_path("/__healthy"));
    }
}
