//! The compiler: a validated config into the runtime model (`Endpoint`, `Backend`, `Settings`)
//! and the router. Every per-config decision is taken here, once, so the request path only
//! executes. It orchestrates: each feature and each compiled form has its own constructor.

use crate::auth::jwt::JwtValidator;
use crate::codec::canonical::KeyOrderHint;
use crate::config::{self, BackendConfig, EndpointConfig, ParsedConfig, Problem};
use crate::model::shaper::{Flatmap, Shaper};
use crate::model::{
    Backend, DEFAULT_DEADLINE_MARGIN, DEFAULT_TIMEOUT, Decoding, Endpoint, GraphQl, HeaderFilter, LambdaCall,
    LambdaFunction, Output, QueryFilter, ServerSettings, Settings, StaticProxy, StaticStrategy, compile_url,
    template_key,
};
use crate::modifier::martian::Martian;
use crate::net::{ClientIpRule, parse_cidr};
use crate::prepare;
use crate::qos::breaker::Breaker;
use crate::qos::cache::HttpCache;
use crate::qos::ratelimit::{Bucket, ClientKey, RouterLimiter, default_capacity, rate_per_sec};
use crate::route::router::{RouteTarget, Router};
use crate::security::botdetector::BotDetector;
use crate::security::cors::Cors;
use crate::security::http::SecurityHttp;
use crate::telemetry::{EndpointId, Metrics, Telemetry, metrics::EndpointShape};
use crate::transport::lambda::{DEFAULT_MAX_RETRIES, LambdaInvoker};
use crate::transport::{ClientSettings, HttpClient};
use crate::validation::cel::{CelRules, Level};
use crate::validation::schema::JsonSchema;
use http::{HeaderName, HeaderValue, Method};
use serde_json::Value;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

pub(crate) struct Compiled {
    pub cors: Option<Cors>,
    /// `security/bot-detector` at the service level: every route `security/http` checks.
    pub bots: Option<BotDetector>,
    pub security: Option<SecurityHttp>,
    pub warnings: Vec<Problem>,
    pub endpoints: Vec<Endpoint>,
    pub router: Router,
    pub settings: Settings,
    pub server: ServerSettings,
    /// The pooled HTTP client every backend call (and JWK download) uses.
    pub http: HttpClient,
    pub telemetry: Telemetry,
}

pub(crate) fn compile(parsed: &ParsedConfig<'_>) -> Result<Compiled, Vec<Problem>> {
    let service = &parsed.service;
    let mut problems = Vec::new();
    let router_cfg = service.extra_config.router.as_ref();
    let default_router = config::RouterConfig::default();
    let rc = router_cfg.unwrap_or(&default_router);

    let service_hosts: Vec<String> = service.host.iter().filter_map(|h| config::validate_host(h).ok()).collect();
    let service_timeout = service.timeout.map(|d| d.value).filter(|d| !d.is_zero()).unwrap_or(DEFAULT_TIMEOUT);
    let service_ttl = service.cache_ttl.map(|d| d.value).unwrap_or_default();
    let service_output = service.output_encoding.clone().unwrap_or_else(|| "json".to_owned());

    let client = ClientSettings {
        max_idle_per_host: service.max_idle_connections_per_host.map_or(250, |n| n as usize),
        idle_timeout: service.idle_connection_timeout.map(|d| d.value).filter(|d| !d.is_zero()),
        connect_timeout: service.dialer_timeout.map(|d| d.value).filter(|d| !d.is_zero()),
        insecure: service.allow_insecure_connections,
        disable_compression: service.disable_compression,
        disable_keep_alives: service.disable_keep_alives,
        max_body: service
            .extra_config
            .tributary_backend
            .as_ref()
            .and_then(|t| t.max_body_bytes)
            .map_or(0, |n| usize::try_from(n).unwrap_or(usize::MAX)),
    };
    let http = HttpClient::new(&client);
    let mut router = Router::new(service.debug_endpoint, service.echo_endpoint, rc);
    let mut endpoints = Vec::new();
    let mut warnings = Vec::new();
    for (i, e) in parsed.endpoints.iter().enumerate() {
        let method_name = e.method.as_deref().unwrap_or("GET").to_ascii_uppercase();
        if !config::ROUTABLE_METHODS.contains(&method_name.as_str()) {
            continue;
        }
        let method = Method::from_bytes(method_name.as_bytes()).unwrap_or(Method::GET);
        let path = config::clean_path(&e.endpoint);
        let params = config::endpoint_params(&path, service.disable_rest).unwrap_or_default();
        let label = config::endpoint_label(&method_name, &path);
        let mut endpoint = compile_endpoint(
            e,
            EndpointId {
                index: endpoints.len(),
                method: method.clone(),
                pattern: path.as_str().into(),
                backends: e.backend.len(),
            },
            &params,
            &label,
            &service_hosts,
            service_timeout,
            service_ttl,
            &service_output,
            &method,
        );
        compile_cel(e, i, &label, &params, &mut endpoint, &mut problems, &mut warnings);
        if let Some(jwt) = &e.extra_config.auth_validator {
            let at = format!("endpoints[{i}].extra_config.auth/validator");
            match JwtValidator::new(jwt, http.clone()) {
                Ok(mut v) => {
                    if let Some(rules) = endpoint.cel.as_ref().filter(|r| r.checks_tokens()) {
                        let rules = std::sync::Arc::clone(rules);
                        v.set_rejecter(Box::new(move |claims| {
                            rules.check_claims(claims).map_err(|r| format!("{r}: {}", r.reason))
                        }));
                    }
                    endpoint.jwt = Some(v);
                }
                Err(msg) => problems.push(Problem::error(at.clone(), Some(&label), msg.to_string())),
            }
            for key in jwt.ignored_keys() {
                warnings.push(Problem::warning(
                    format!("{at}.{key}"),
                    Some(&label),
                    "accepted but has no effect: Tributary uses one TLS client for every backend",
                ));
            }
        }
        if let Some(bots) = &e.extra_config.bot_detector {
            let at = format!("endpoints[{i}].extra_config.security/bot-detector");
            endpoint.bots = bot_detector(bots, &at, Some(&label), &mut problems);
        }
        for (j, b) in e.backend.iter().enumerate() {
            if let Some(gql) = &b.extra_config.graphql {
                let at = format!("endpoints[{i}].backend[{j}].extra_config.backend/graphql");
                endpoint.backends[j].graphql = graphql(gql, &params, &at, Some(&label), &mut problems);
            }
        }
        if let Some(s) = &e.extra_config.json_schema {
            let at = format!("endpoints[{i}].extra_config.{}", s.namespace);
            match JsonSchema::new(&s.schema) {
                Ok(schema) => endpoint.json_schema = Some(Box::new(schema)),
                Err(e) => problems.push(Problem::error(schema_path(&at, &e.at), Some(&label), e.message)),
            }
        }
        if let Some(rl) = &e.extra_config.ratelimit_router {
            let (limiter, warning) = RouterLimiter::compile(rl, &params);
            if let Some(w) = limiter.as_ref().and_then(|l| spoofable_client_ip(l, rc)) {
                warnings.push(Problem::warning(
                    format!("endpoints[{i}].extra_config.qos/ratelimit/router.strategy"),
                    Some(&label),
                    w,
                ));
            }
            endpoint.limiter = limiter;
            if let Some(w) = warning {
                warnings.push(Problem::warning(
                    format!("endpoints[{i}].extra_config.qos/ratelimit/router"),
                    Some(&label),
                    w,
                ));
            }
        }
        if let Err(msg) = router.insert(&method, &path, &params, RouteTarget::Endpoint(endpoints.len())) {
            problems.push(Problem::error(format!("endpoints[{i}].endpoint"), Some(&label), msg.to_string()));
        }
        endpoints.push(endpoint);
    }
    if service.extra_config.validation_cel.is_some() {
        warnings.push(Problem::warning(
            "extra_config.validation/cel",
            None,
            "no effect at the service level: KrakenD evaluates `validation/cel` on endpoints and backends",
        ));
    }
    if let Err(msg) = router.finish() {
        problems.push(Problem::error("extra_config.router", None, msg.to_string()));
    }
    let bots = service
        .extra_config
        .bot_detector
        .as_ref()
        .and_then(|b| bot_detector(b, "extra_config.security/bot-detector", None, &mut problems));
    if !problems.is_empty() {
        return Err(problems);
    }

    let error_body = |code: &str| {
        rc.error_body.as_ref().and_then(|m| m.get(code)).map(|v| bytes::Bytes::from(crate::codec::json::encode(v)))
    };
    let version_header = if rc.hide_version_header {
        HeaderValue::from_static("Version undefined")
    } else {
        HeaderValue::from_static(concat!("Version Tributary ", env!("CARGO_PKG_VERSION")))
    };
    let settings = Settings {
        return_error_msg: rc.return_error_msg,
        redirect_trailing_slash: !rc.disable_redirect_trailing_slash,
        redirect_fixed_path: !rc.disable_redirect_fixed_path,
        handle_method_not_allowed: !rc.disable_handle_method_not_allowed,
        path_decoding: !rc.disable_path_decoding,
        error_body_404: error_body("404"),
        error_body_405: error_body("405"),
        version_header,
        client_ip: ClientIpRule {
            forwarded_by_client_ip: rc.forwarded_by_client_ip.unwrap_or(true),
            // KrakenD applies both lists only when they are not empty (validation refused bad
            // entries).
            trusted_proxies: rc
                .trusted_proxies
                .as_ref()
                .filter(|list| !list.is_empty())
                .map(|list| list.iter().filter_map(|c| parse_cidr(c)).collect()),
            remote_ip_headers: rc
                .remote_ip_headers
                .clone()
                .filter(|list| !list.is_empty())
                .unwrap_or_else(|| vec!["X-Forwarded-For".to_owned(), "X-Real-IP".to_owned()])
                .iter()
                .filter_map(|h| HeaderName::from_bytes(h.as_bytes()).ok())
                .collect(),
        },
        deadline_margin: service
            .extra_config
            .tributary_lambda
            .as_ref()
            .and_then(|l| l.deadline_margin)
            .map_or(DEFAULT_DEADLINE_MARGIN, |d| d.value),
    };
    let server = ServerSettings {
        port: service.port,
        listen_ip: service.listen_ip.as_deref().and_then(|s| s.parse().ok()),
        read_header_timeout: service.read_header_timeout.map(|d| d.value).filter(|d| !d.is_zero()),
        read_timeout: service.read_timeout.map(|d| d.value).filter(|d| !d.is_zero()),
        idle_timeout: service.idle_timeout.map(|d| d.value).filter(|d| !d.is_zero()),
        max_header_bytes: service.max_header_bytes.map(|n| n as usize).filter(|n| *n > 0),
    };
    let cors = service.extra_config.cors.as_ref().map(Cors::new);
    let security = match service.extra_config.security_http.as_ref().map(SecurityHttp::new) {
        Some(Ok(s)) => Some(s),
        Some(Err(e)) => return Err(vec![Problem::error("extra_config.security/http", None, e.to_string())]),
        None => None,
    };
    let mut telemetry_config = service.extra_config.telemetry.clone();
    // krakend-otel names the service after the config's `name` when `service_name` is unset.
    if let Some(otel) = telemetry_config.opentelemetry.as_mut()
        && otel.service_name.as_deref().is_none_or(str::is_empty)
    {
        otel.service_name = service.name.clone().filter(|n| !n.is_empty());
    }
    let mut telemetry = Telemetry::new(telemetry_config, !rc.disable_access_log, rc.logger_skip_paths.clone());
    telemetry.metrics = Metrics::new(
        &telemetry.settings.config,
        endpoints.iter().map(|e| EndpointShape {
            method: &e.id.method,
            pattern: &e.id.pattern,
            backends: e.backends.iter().map(|b| (&b.method, &b.url_pattern)).collect(),
        }),
    )
    .map(std::sync::Arc::new);
    Ok(Compiled { cors, bots, security, warnings, endpoints, router, settings, server, http, telemetry })
}

/// A `security/bot-detector`'s detector, its patterns compiled; each one that does not compile
/// is an error naming its JSON path (`at` is the namespace's).
fn bot_detector(
    cfg: &config::BotDetectorConfig,
    at: &str,
    endpoint: Option<&str>,
    problems: &mut Vec<Problem>,
) -> Option<BotDetector> {
    match BotDetector::new(cfg) {
        Ok(d) => Some(d),
        Err(bad) => {
            for b in bad {
                problems.push(Problem::error(format!("{at}.patterns[{}]", b.index), endpoint, b.to_string()));
            }
            None
        }
    }
}

/// A `backend/graphql` backend's compiled form: `query_path` read (relative to the working
/// directory, as KrakenD reads it), numbers normalised as lura's round trip leaves them, and a
/// query's body built once when no parameter fills it. `None` when `type` is neither a query
/// nor a mutation (validation warned) or on an error, which is named by its JSON path.
fn graphql(
    cfg: &config::GraphQlConfig,
    params: &[String],
    at: &str,
    endpoint: Option<&str>,
    problems: &mut Vec<Problem>,
) -> Option<Box<GraphQl>> {
    cfg.kind()?;
    let query = if cfg.query_path.is_empty() {
        cfg.query.clone()
    } else {
        match std::fs::read_to_string(&cfg.query_path) {
            Ok(text) => text,
            Err(e) => {
                let msg = format!("cannot read the GraphQL document `{}`: {e}", cfg.query_path);
                problems.push(Problem::error(format!("{at}.query_path"), endpoint, msg));
                return None;
            }
        }
    };
    let mut variables = cfg.variables.clone().unwrap_or_default();
    for (name, value) in &mut variables {
        if let Err(msg) = prepare::graphql::go_numbers(value) {
            problems.push(Problem::error(format!("{at}.variables.{name}"), endpoint, msg));
            return None;
        }
    }
    let mut gql = GraphQl::new(cfg, query, variables, params)?;
    if gql.kind == config::GraphQlKind::Query && gql.placeholders.is_empty() {
        gql.fixed_body = Some(prepare::graphql::encode(&gql.query, &gql.operation_name, &gql.variables));
    }
    Some(Box::new(gql))
}

/// The JSON path of a place inside a schema (`at` is the namespace's path).
fn schema_path(at: &str, inside: &[String]) -> String {
    let mut path = at.to_owned();
    for token in inside {
        if !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit()) {
            path.push_str(&format!("[{token}]"));
        } else {
            path.push('.');
            path.push_str(token);
        }
    }
    path
}

/// The `validation/cel` lists of an endpoint and of its backends, compiled onto them: errors
/// (an expression that does not compile) to `problems`, the rest to `warnings`.
fn compile_cel(
    e: &EndpointConfig,
    i: usize,
    label: &str,
    params: &[String],
    endpoint: &mut Endpoint,
    problems: &mut Vec<Problem>,
    warnings: &mut Vec<Problem>,
) {
    let mut found = Vec::new();
    if let Some(list) = &e.extra_config.validation_cel {
        let level = Level::Endpoint { with_token: e.extra_config.auth_validator.is_some() };
        let at = format!("endpoints[{i}].extra_config.validation/cel");
        let names: [&[String]; 1] = [&e.input_headers];
        endpoint.cel =
            CelRules::compile(list, &at, Some(label), level, params, &names, &mut found).map(std::sync::Arc::new);
    }
    for (j, (backend, b)) in endpoint.backends.iter_mut().zip(&e.backend).enumerate() {
        if let Some(list) = &b.extra_config.validation_cel {
            let at = format!("endpoints[{i}].backend[{j}].extra_config.validation/cel");
            let own = b.input_headers.as_deref().unwrap_or_default();
            let names: [&[String]; 2] = [own, &e.input_headers];
            backend.cel =
                CelRules::compile(list, &at, Some(label), Level::Backend, params, &names, &mut found).map(Box::new);
        }
    }
    for p in found {
        match p.severity {
            config::Severity::Error => problems.push(p),
            config::Severity::Warning => warnings.push(p),
        }
    }
}

/// Why a per-client `ip` limit can be dodged by any client (a new address per request), if it can:
/// it reads a header every client may set, from any peer.
fn spoofable_client_ip(limiter: &RouterLimiter, rc: &config::RouterConfig) -> Option<String> {
    match limiter.clients.as_ref().map(|(key, _)| key) {
        Some(ClientKey::Ip(Some(header))) => Some(format!(
            "the per-client limit takes the client IP from `{header}`, which any client can set to a new value per request; put the gateway behind a proxy that overwrites it, or drop `key` and set `extra_config.router.trusted_proxies`"
        )),
        Some(ClientKey::Ip(None))
            if rc.forwarded_by_client_ip != Some(false)
                && rc.trusted_proxies.as_ref().is_none_or(|list| list.is_empty()) =>
        {
            Some("the per-client limit trusts `X-Forwarded-For` and `X-Real-IP` (or `router.remote_ip_headers`) from any peer, so a client can claim a new IP per request; set `extra_config.router.trusted_proxies` to your load balancer's addresses, or `forwarded_by_client_ip: false`".to_owned())
        }
        _ => None,
    }
}

#[allow(clippy::too_many_arguments)]
fn compile_endpoint(
    e: &EndpointConfig,
    id: EndpointId,
    params: &[String],
    label: &str,
    service_hosts: &[String],
    service_timeout: Duration,
    service_ttl: Duration,
    service_output: &str,
    method: &Method,
) -> Endpoint {
    let timeout = e.timeout.map(|d| d.value).filter(|d| !d.is_zero()).unwrap_or(service_timeout);
    let ttl = e.cache_ttl.map(|d| d.value).filter(|d| !d.is_zero()).unwrap_or(service_ttl);
    let cache_control =
        (!ttl.is_zero()).then(|| HeaderValue::from_str(&format!("public, max-age={}", ttl.as_secs())).ok()).flatten();
    let output_name = e.output_encoding.as_deref().unwrap_or(service_output);
    // An unknown output encoding falls back to the single backend's encoding, else JSON.
    let output = parse_output(output_name)
        .or_else(|| match e.backend.as_slice() {
            [only] => only.encoding.as_deref().and_then(|enc| parse_output(&enc.to_ascii_lowercase())),
            _ => None,
        })
        .filter(|o| *o != Output::NoOp || parse_output(output_name).is_some())
        .unwrap_or(Output::Json);
    let query = if e.input_query_strings.iter().any(|q| q == "*") {
        QueryFilter::All
    } else if e.input_query_strings.is_empty() {
        QueryFilter::None
    } else {
        QueryFilter::Names(e.input_query_strings.clone())
    };
    let headers = if e.input_headers.iter().any(|h| h == "*") {
        HeaderFilter::All
    } else if e.input_headers.is_empty() {
        HeaderFilter::Names(vec![http::header::CONTENT_TYPE])
    } else {
        HeaderFilter::Names(
            e.input_headers.iter().filter_map(|h| HeaderName::from_bytes(h.trim().as_bytes()).ok()).collect(),
        )
    };
    let proxy = e.extra_config.proxy.as_ref();
    let sequential =
        proxy.is_some_and(|p| p.sequential || p.strategy.as_deref().or(p.merger_type.as_deref()) == Some("sequential"));
    let static_proxy = proxy.and_then(|p| p.static_.as_ref()).and_then(|s| {
        let data = s.data.as_ref()?.as_object()?.clone();
        let strategy = match s.strategy.as_ref().and_then(Value::as_str) {
            Some("success") => StaticStrategy::Success,
            Some("complete") => StaticStrategy::Complete,
            Some("errored") => StaticStrategy::Errored,
            Some("incomplete") => StaticStrategy::Incomplete,
            _ => StaticStrategy::Always,
        };
        Some(StaticProxy { strategy, data })
    });
    let flatmap = if e.backend.len() > 1 {
        proxy.and_then(|p| p.flatmap_filter.as_ref()).and_then(Flatmap::compile)
    } else {
        None
    };
    let noop = output == Output::NoOp;
    let backends =
        e.backend.iter().enumerate().map(|(i, b)| compile_backend(b, i, params, service_hosts, method, noop)).collect();
    Endpoint {
        label: label.to_owned(),
        id,
        jwt: None,
        bots: None,
        limiter: None,
        json_schema: None,
        timeout,
        cache_control,
        concurrent_calls: e.concurrent_calls.unwrap_or(1).max(1) as usize,
        query,
        headers,
        output,
        backends,
        sequential,
        static_proxy,
        flatmap,
        cel: None,
    }
}

fn parse_output(name: &str) -> Option<Output> {
    Some(match name {
        "json" => Output::Json,
        "json-collection" => Output::JsonCollection,
        "string" => Output::String,
        "no-op" => Output::NoOp,
        "xml" => Output::Xml,
        "yaml" => Output::Yaml,
        "negotiate" => Output::Negotiate,
        _ => return None,
    })
}

fn compile_backend(
    b: &BackendConfig,
    index: usize,
    params: &[String],
    service_hosts: &[String],
    endpoint_method: &Method,
    noop: bool,
) -> Backend {
    let hosts: Vec<String> = if b.host.is_empty() {
        service_hosts.to_vec()
    } else if b.disable_host_sanitize {
        b.host.iter().map(|h| h.trim_end_matches('/').to_owned()).collect()
    } else {
        b.host.iter().filter_map(|h| config::validate_host(h).ok()).collect()
    };
    let method = b
        .method
        .as_deref()
        .and_then(|m| Method::from_bytes(m.to_ascii_uppercase().as_bytes()).ok())
        .unwrap_or_else(|| endpoint_method.clone());
    let pattern = config::clean_path(&b.url_pattern);
    let url = compile_url(&pattern, params);
    let lambda = b.extra_config.backend_lambda.as_ref().map(|l| lambda_call(l, &method, params));
    let decoding = if noop {
        Decoding::NoOp
    } else if lambda.is_some() {
        // KrakenD decodes a function's payload as a JSON object, whatever `encoding` says.
        Decoding::Json
    } else {
        match b.encoding.as_deref().map(str::to_ascii_lowercase).as_deref() {
            Some("safejson") => Decoding::SafeJson,
            Some("string") => Decoding::String,
            Some("no-op") => Decoding::NoOp,
            Some("xml") => Decoding::Xml,
            _ => Decoding::Json,
        }
    };
    let proxy = b.extra_config.proxy.as_ref();
    let mapping: Vec<(String, String)> = b.mapping.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let shaper =
        Shaper::new(&b.target, &b.allow, &b.deny, &mapping, &b.group, proxy.and_then(|p| p.flatmap_filter.as_ref()));
    let http_cfg = b.extra_config.backend_http.as_ref();
    let breaker = b
        .extra_config
        .circuit_breaker
        .as_ref()
        .filter(|c| c.interval != 0 || c.timeout != 0 || c.max_errors != 0)
        .map(|c| Breaker::new(c, &pattern));
    let limiter = b.extra_config.ratelimit_proxy.as_ref().filter(|r| r.max_rate > 0.0).map(|r| {
        let rate = rate_per_sec(r.max_rate, r.every.map(|d| d.value), std::time::Duration::ZERO);
        let capacity = r.capacity.filter(|c| *c > 0).unwrap_or_else(|| default_capacity(rate));
        std::sync::Mutex::new(Bucket::new(rate, capacity, tokio::time::Instant::now()))
    });
    let cache =
        b.extra_config.http_cache.as_ref().map(|c| if c.shared { HttpCache::shared(c) } else { HttpCache::new(c) });
    Backend {
        cache,
        breaker,
        limiter,
        hosts,
        next_host: AtomicUsize::new(0),
        method: method.clone(),
        pattern_label: format!("[{} {}]", method, template_label(&pattern)),
        key_order: KeyOrderHint::default(),
        index,
        url_pattern: b.url_pattern.as_str().into(),
        url,
        decoding,
        is_collection: b.is_collection && lambda.is_none(),
        shaper,
        query_filter: b.input_query_strings.clone(),
        header_filter: b
            .input_headers
            .as_ref()
            .map(|l| l.iter().filter_map(|h| HeaderName::from_bytes(h.trim().as_bytes()).ok()).collect()),
        error_details: http_cfg.and_then(|h| h.return_error_details.clone()).filter(|s| !s.is_empty()),
        error_code: http_cfg.is_some_and(|h| h.return_error_code),
        // KrakenD's Lambda backend replaces the HTTP exchange martian wraps.
        martian: b
            .extra_config
            .martian
            .as_ref()
            .and_then(|m| m.root.as_ref())
            .filter(|_| lambda.is_none())
            .map(|root| Box::new(Martian::compile(root))),
        lambda,
        graphql: None,
        cel: None,
    }
}

/// A `backend/lambda` backend's compiled form; the door's signer is added by the gateway.
fn lambda_call(l: &config::LambdaBackendConfig, method: &Method, params: &[String]) -> Box<LambdaCall> {
    let function = match (&l.function_name, l.function_param(params)) {
        (Some(name), _) => LambdaFunction::Named(name.clone()),
        (None, Some((index, _))) => LambdaFunction::Param(index),
        // Refused by validation; a name that cannot exist keeps the call failing.
        (None, None) => LambdaFunction::Named(String::new()),
    };
    Box::new(LambdaCall {
        function,
        param_keys: (*method == Method::GET).then(|| params.iter().map(|p| p.to_lowercase()).collect()),
        invoker: LambdaInvoker {
            endpoint: l.endpoint.as_ref().map(|e| e.trim_end_matches('/').to_owned()),
            region: l.region.clone().filter(|r| !r.is_empty()),
            max_retries: l.max_retries.unwrap_or(DEFAULT_MAX_RETRIES),
            signer: None,
        },
    })
}

fn template_label(pattern: &str) -> String {
    let mut out = pattern.to_owned();
    for p in config::placeholders(pattern) {
        out = out.replace(&format!("{{{p}}}"), &template_key(p));
    }
    out
}
