//! The KrakenD v3 config as the user wrote it (`*Config` types): plain serde structs, no logic.
//! Unknown keys are not errors here; the loader reports them as warnings with their JSON path.

use super::duration::GoDuration;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;
use std::collections::BTreeMap;
use std::fmt;

/// The service (root) object. Endpoints stay raw so that each one is parsed on its own and a
/// type error in one does not hide the errors of the others.
#[derive(Debug, Deserialize)]
pub struct ServiceConfig<'a> {
    pub version: Option<Value>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, rename = "$schema")]
    pub schema: Option<Value>,
    #[serde(default, rename = "@comment")]
    pub comment: Option<Value>,
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub listen_ip: Option<String>,
    #[serde(default, deserialize_with = "string_or_list")]
    pub host: Vec<String>,
    #[serde(default)]
    pub timeout: Option<GoDuration>,
    #[serde(default)]
    pub cache_ttl: Option<GoDuration>,
    #[serde(default)]
    pub output_encoding: Option<String>,
    #[serde(default)]
    pub extra_config: ExtraConfig,
    #[serde(default, borrow)]
    pub endpoints: Vec<&'a RawValue>,
    #[serde(default)]
    pub debug_endpoint: bool,
    #[serde(default)]
    pub echo_endpoint: bool,
    #[serde(default)]
    pub disable_rest: bool,
    #[serde(default)]
    pub read_timeout: Option<GoDuration>,
    #[serde(default)]
    pub write_timeout: Option<GoDuration>,
    #[serde(default)]
    pub idle_timeout: Option<GoDuration>,
    #[serde(default)]
    pub read_header_timeout: Option<GoDuration>,
    #[serde(default)]
    pub max_header_bytes: Option<u64>,
    #[serde(default)]
    pub dialer_timeout: Option<GoDuration>,
    #[serde(default)]
    pub dialer_keep_alive: Option<GoDuration>,
    #[serde(default)]
    pub idle_connection_timeout: Option<GoDuration>,
    #[serde(default)]
    pub response_header_timeout: Option<GoDuration>,
    #[serde(default)]
    pub max_idle_connections: Option<u64>,
    #[serde(default)]
    pub max_idle_connections_per_host: Option<u64>,
    #[serde(default)]
    pub disable_keep_alives: bool,
    #[serde(default)]
    pub disable_compression: bool,
    #[serde(default)]
    pub allow_insecure_connections: bool,
}

#[derive(Debug, Deserialize)]
pub struct EndpointConfig {
    pub endpoint: String,
    #[serde(default, rename = "@comment")]
    pub comment: Option<Value>,
    #[serde(default)]
    pub method: Option<String>,
    #[serde(default)]
    pub backend: Vec<BackendConfig>,
    #[serde(default)]
    pub timeout: Option<GoDuration>,
    #[serde(default)]
    pub cache_ttl: Option<GoDuration>,
    #[serde(default)]
    pub concurrent_calls: Option<u32>,
    #[serde(default, deserialize_with = "string_or_list")]
    pub input_query_strings: Vec<String>,
    #[serde(default, deserialize_with = "string_or_list")]
    pub input_headers: Vec<String>,
    #[serde(default)]
    pub output_encoding: Option<String>,
    #[serde(default)]
    pub extra_config: ExtraConfig,
}

#[derive(Debug, Deserialize)]
pub struct BackendConfig {
    #[serde(default)]
    pub url_pattern: String,
    #[serde(default, rename = "@comment")]
    pub comment: Option<Value>,
    #[serde(default, deserialize_with = "string_or_list")]
    pub host: Vec<String>,
    #[serde(default)]
    pub method: Option<String>,
    #[serde(default)]
    pub encoding: Option<String>,
    #[serde(default)]
    pub is_collection: bool,
    #[serde(default)]
    pub target: String,
    #[serde(default, deserialize_with = "string_or_list")]
    pub allow: Vec<String>,
    #[serde(default, deserialize_with = "string_or_list")]
    pub deny: Vec<String>,
    #[serde(default)]
    pub mapping: BTreeMap<String, String>,
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub sd: Option<String>,
    #[serde(default)]
    pub sd_scheme: Option<String>,
    #[serde(default)]
    pub disable_host_sanitize: bool,
    #[serde(default, deserialize_with = "opt_string_or_list")]
    pub input_headers: Option<Vec<String>>,
    #[serde(default, deserialize_with = "opt_string_or_list")]
    pub input_query_strings: Option<Vec<String>>,
    /// Has no effect in KrakenD CE (the endpoint timeout always wins); accepted and warned about.
    #[serde(default)]
    pub timeout: Option<GoDuration>,
    #[serde(default)]
    pub extra_config: ExtraConfig,
}

/// `extra_config`: the namespaces Tributary understands are parsed (so their keys are checked);
/// every other namespace is kept by name to be reported as unsupported.
#[derive(Debug, Default)]
pub struct ExtraConfig {
    pub router: Option<RouterConfig>,
    pub proxy: Option<ProxyConfig>,
    pub backend_http: Option<BackendHttpConfig>,
    pub backend_http_client: Option<BackendHttpClientConfig>,
    pub ratelimit_router: Option<RateLimitRouterConfig>,
    pub ratelimit_proxy: Option<RateLimitProxyConfig>,
    pub circuit_breaker: Option<CircuitBreakerConfig>,
    pub cors: Option<CorsConfig>,
    pub security_http: Option<SecurityHttpConfig>,
    pub http_cache: Option<super::HttpCacheConfig>,
    pub auth_validator: Option<super::JwtConfig>,
    /// `backend/lambda`: the backend is an AWS Lambda function.
    pub backend_lambda: Option<super::LambdaBackendConfig>,
    /// `modifier/martian`: modifiers of a backend's HTTP request and response.
    pub martian: Option<super::MartianConfig>,
    /// `security/bot-detector`: requests refused by their User-Agent (service or endpoint).
    pub bot_detector: Option<super::BotDetectorConfig>,
    /// `backend/graphql`: the backend request is a GraphQL query or mutation.
    pub graphql: Option<super::GraphQlConfig>,
    /// `validation/json-schema`: the schema an endpoint's request body must match.
    pub json_schema: Option<super::JsonSchemaConfig>,
    /// `validation/cel`: expressions a request or a response must satisfy.
    pub validation_cel: Option<Vec<super::CelCheckConfig>>,
    /// `tributary/backend`: our own limits on what backends may send (service level).
    pub tributary_backend: Option<TributaryBackendConfig>,
    /// `tributary/lambda`: how the Lambda function answers (service level).
    pub tributary_lambda: Option<TributaryLambdaConfig>,
    /// The `telemetry/*` namespaces and `tributary/emf` (service level).
    pub telemetry: super::telemetry::TelemetryConfig,
    /// Namespaces we do not implement, in file order, with their values.
    pub unsupported: Vec<(String, Value)>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RouterConfig {
    #[serde(default)]
    pub return_error_msg: bool,
    #[serde(default)]
    pub disable_redirect_trailing_slash: bool,
    #[serde(default)]
    pub disable_redirect_fixed_path: bool,
    #[serde(default)]
    pub disable_handle_method_not_allowed: bool,
    #[serde(default)]
    pub disable_path_decoding: bool,
    #[serde(default)]
    pub error_body: Option<BTreeMap<String, Value>>,
    #[serde(default)]
    pub health_path: Option<String>,
    #[serde(default)]
    pub disable_health: bool,
    #[serde(default)]
    pub auto_options: bool,
    #[serde(default)]
    pub hide_version_header: bool,
    #[serde(default)]
    pub disable_access_log: bool,
    #[serde(default)]
    pub logger_skip_paths: Vec<String>,
    #[serde(default)]
    pub trusted_proxies: Option<Vec<String>>,
    #[serde(default)]
    pub remote_ip_headers: Option<Vec<String>>,
    #[serde(default)]
    pub forwarded_by_client_ip: Option<bool>,
    #[serde(default, rename = "@comment")]
    pub comment: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ProxyConfig {
    #[serde(default)]
    pub sequential: bool,
    #[serde(default, rename = "static")]
    pub static_: Option<StaticConfig>,
    #[serde(default)]
    pub flatmap_filter: Option<Value>,
    #[serde(default)]
    pub sequential_propagated_params: Vec<String>,
    #[serde(default)]
    pub force_sandboxed_request: bool,
    /// Shadow backends are not called yet: they are left out (with a warning).
    #[serde(default)]
    pub shadow: bool,
    #[serde(default)]
    pub strategy: Option<String>,
    #[serde(default)]
    pub merger_type: Option<String>,
    #[serde(default, rename = "@comment")]
    pub comment: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
pub struct StaticConfig {
    #[serde(default)]
    pub strategy: Option<Value>,
    #[serde(default)]
    pub data: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
pub struct BackendHttpConfig {
    #[serde(default)]
    pub return_error_details: Option<String>,
    #[serde(default)]
    pub return_error_code: bool,
}

#[derive(Debug, Default, Deserialize)]
pub struct BackendHttpClientConfig {
    #[serde(default)]
    pub send_body_on_redirect: bool,
}

/// The names a namespace goes by: the v3 short name first, then KrakenD's legacy aliases.
pub const ROUTER_NAMES: &[&str] = &[
    "router",
    "github_com/luraproject/lura/router/gin",
    "github.com/luraproject/lura/router/gin",
    "github_com/devopsfaith/krakend/router/gin",
];
pub const PROXY_NAMES: &[&str] = &["proxy", "github.com/devopsfaith/krakend/proxy"];
pub const BACKEND_HTTP_NAMES: &[&str] = &["backend/http", "github.com/devopsfaith/krakend/http"];
pub const BACKEND_HTTP_CLIENT_NAMES: &[&str] = &["backend/http/client"];
/// Tributary's own namespace for limits on backend answers.
pub const TRIBUTARY_BACKEND: &str = "tributary/backend";

/// Tributary's own namespace for the Lambda function's behaviour.
pub const TRIBUTARY_LAMBDA: &str = "tributary/lambda";

/// `tributary/lambda` (service level).
#[derive(Debug, Default, Deserialize)]
pub struct TributaryLambdaConfig {
    /// How long before the invocation's deadline the answer is made (default 300ms).
    #[serde(default)]
    pub deadline_margin: Option<GoDuration>,
    #[serde(default, rename = "@comment")]
    pub comment: Option<Value>,
}

/// `tributary/backend` (service level).
#[derive(Debug, Default, Deserialize)]
pub struct TributaryBackendConfig {
    /// Largest backend body accepted, after gzip decoding; larger answers fail that backend.
    #[serde(default)]
    pub max_body_bytes: Option<u64>,
    #[serde(default, rename = "@comment")]
    pub comment: Option<Value>,
}
pub const RATELIMIT_ROUTER_NAMES: &[&str] = &["qos/ratelimit/router"];
pub const RATELIMIT_PROXY_NAMES: &[&str] = &["qos/ratelimit/proxy"];
pub const CIRCUIT_BREAKER_NAMES: &[&str] =
    &["qos/circuit-breaker", "github.com/devopsfaith/krakend-circuitbreaker/gobreaker"];
pub const CORS_NAMES: &[&str] = &["security/cors", "github_com/devopsfaith/krakend-cors"];
pub const HTTP_CACHE_NAMES: &[&str] = &["qos/http-cache", "github.com/devopsfaith/krakend-httpcache"];
pub const AUTH_VALIDATOR_NAMES: &[&str] = &["auth/validator"];
pub const SECURITY_HTTP_NAMES: &[&str] = &["security/http", "github_com/devopsfaith/krakend-httpsecure"];

impl<'de> Deserialize<'de> for ExtraConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ExtraConfig;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of namespaces")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ExtraConfig, A::Error> {
                let mut out = ExtraConfig::default();
                while let Some(key) = map.next_key::<String>()? {
                    let k = key.as_str();
                    if ROUTER_NAMES.contains(&k) {
                        out.router = Some(map.next_value()?);
                    } else if PROXY_NAMES.contains(&k) {
                        out.proxy = Some(map.next_value()?);
                    } else if BACKEND_HTTP_NAMES.contains(&k) {
                        out.backend_http = Some(map.next_value()?);
                    } else if BACKEND_HTTP_CLIENT_NAMES.contains(&k) {
                        out.backend_http_client = Some(map.next_value()?);
                    } else if RATELIMIT_ROUTER_NAMES.contains(&k) {
                        out.ratelimit_router = Some(map.next_value()?);
                    } else if RATELIMIT_PROXY_NAMES.contains(&k) {
                        out.ratelimit_proxy = Some(map.next_value()?);
                    } else if CIRCUIT_BREAKER_NAMES.contains(&k) {
                        out.circuit_breaker = Some(map.next_value()?);
                    } else if CORS_NAMES.contains(&k) {
                        out.cors = Some(map.next_value()?);
                    } else if AUTH_VALIDATOR_NAMES.contains(&k) {
                        out.auth_validator = Some(map.next_value()?);
                    } else if HTTP_CACHE_NAMES.contains(&k) {
                        out.http_cache = Some(map.next_value()?);
                    } else if SECURITY_HTTP_NAMES.contains(&k) {
                        out.security_http = Some(map.next_value()?);
                    } else if super::BACKEND_LAMBDA_NAMES.contains(&k) {
                        out.backend_lambda = Some(map.next_value()?);
                    } else if super::MARTIAN_NAMES.contains(&k) {
                        out.martian = Some(map.next_value()?);
                    } else if super::BOT_DETECTOR_NAMES.contains(&k) {
                        out.bot_detector = Some(map.next_value()?);
                    } else if super::GRAPHQL_NAMES.contains(&k) {
                        out.graphql = Some(map.next_value()?);
                    } else if super::VALIDATION_JSON_SCHEMA_NAMES.contains(&k) {
                        out.json_schema = Some(super::JsonSchemaConfig { schema: map.next_value()?, namespace: key });
                    } else if super::VALIDATION_CEL_NAMES.contains(&k) {
                        out.validation_cel = Some(map.next_value()?);
                    } else if k == TRIBUTARY_BACKEND {
                        out.tributary_backend = Some(map.next_value()?);
                    } else if k == TRIBUTARY_LAMBDA {
                        out.tributary_lambda = Some(map.next_value()?);
                    } else if telemetry_namespace(k, &mut out.telemetry, &mut map)? {
                        // parsed into `out.telemetry`
                    } else {
                        let value: Value = map.next_value()?;
                        if k != "@comment" {
                            out.unsupported.push((key, value));
                        }
                    }
                }
                Ok(out)
            }
        }
        deserializer.deserialize_map(V)
    }
}

/// Parses `k`'s value into `t` when `k` names a telemetry namespace (`true`), else leaves it unread.
fn telemetry_namespace<'de, A: MapAccess<'de>>(
    k: &str,
    t: &mut super::telemetry::TelemetryConfig,
    map: &mut A,
) -> Result<bool, A::Error> {
    use super::telemetry as tc;
    if tc::LOGGING_NAMES.contains(&k) {
        t.logging = Some(map.next_value()?);
    } else if tc::METRICS_NAMES.contains(&k) {
        t.metrics = Some(map.next_value()?);
    } else if tc::OPENTELEMETRY_NAMES.contains(&k) {
        t.opentelemetry = Some(map.next_value()?);
    } else if tc::OPENCENSUS_NAMES.contains(&k) {
        t.opencensus = Some(map.next_value()?);
    } else if tc::GELF_NAMES.contains(&k) {
        t.gelf = Some(map.next_value()?);
    } else if tc::LOGSTASH_NAMES.contains(&k) {
        t.logstash = Some(map.next_value()?);
    } else if k == tc::TRIBUTARY_EMF {
        t.emf = Some(map.next_value()?);
    } else {
        return Ok(false);
    }
    Ok(true)
}

/// A list of strings, or (as viper reads it) one string split on commas.
fn string_or_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list of strings")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<String>, E> {
            Ok(v.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect())
        }
        fn visit_unit<E: de::Error>(self) -> Result<Vec<String>, E> {
            Ok(Vec::new())
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<String>, A::Error> {
            let mut out = Vec::new();
            while let Some(s) = seq.next_element::<String>()? {
                out.push(s);
            }
            Ok(out)
        }
    }
    d.deserialize_any(V)
}

fn opt_string_or_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    string_or_list(d).map(Some)
}

/// `qos/ratelimit/router` (krakend-ratelimit v3).
#[derive(Debug, Default, Deserialize)]
pub struct RateLimitRouterConfig {
    #[serde(default)]
    pub max_rate: f64,
    #[serde(default)]
    pub capacity: Option<u64>,
    #[serde(default)]
    pub client_max_rate: f64,
    #[serde(default)]
    pub client_capacity: Option<u64>,
    #[serde(default)]
    pub strategy: Option<String>,
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub every: Option<GoDuration>,
    #[serde(default)]
    pub num_shards: Option<u64>,
    #[serde(default)]
    pub cleanup_period: Option<GoDuration>,
    #[serde(default)]
    pub cleanup_threads: Option<u64>,
    #[serde(default, rename = "@comment")]
    pub comment: Option<Value>,
}

/// `qos/ratelimit/proxy`: one bucket per backend.
#[derive(Debug, Default, Deserialize)]
pub struct RateLimitProxyConfig {
    #[serde(default)]
    pub max_rate: f64,
    #[serde(default)]
    pub capacity: Option<u64>,
    #[serde(default)]
    pub every: Option<GoDuration>,
    #[serde(default, rename = "@comment")]
    pub comment: Option<Value>,
}

/// `qos/circuit-breaker` (sony/gobreaker as KrakenD wires it). Durations are whole seconds.
#[derive(Debug, Default, Deserialize)]
pub struct CircuitBreakerConfig {
    #[serde(default)]
    pub interval: u64,
    #[serde(default)]
    pub timeout: u64,
    #[serde(default)]
    pub max_errors: u64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub log_status_change: bool,
    #[serde(default, rename = "@comment")]
    pub comment: Option<Value>,
}

/// `security/cors` (rs/cors as KrakenD wires it).
#[derive(Debug, Default, Deserialize)]
pub struct CorsConfig {
    #[serde(default)]
    pub allow_origins: Vec<String>,
    #[serde(default)]
    pub allow_methods: Vec<String>,
    #[serde(default)]
    pub allow_headers: Vec<String>,
    #[serde(default)]
    pub expose_headers: Vec<String>,
    #[serde(default)]
    pub allow_credentials: bool,
    #[serde(default)]
    pub allow_private_network: bool,
    #[serde(default)]
    pub max_age: Option<GoDuration>,
    #[serde(default)]
    pub options_passthrough: bool,
    #[serde(default)]
    pub options_success_status: Option<u16>,
    #[serde(default)]
    pub debug: bool,
    #[serde(default, rename = "@comment")]
    pub comment: Option<Value>,
}

/// `security/http` (unrolled/secure as KrakenD wires it).
#[derive(Debug, Default, Deserialize)]
pub struct SecurityHttpConfig {
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    #[serde(default)]
    pub allowed_hosts_are_regex: bool,
    #[serde(default)]
    pub host_proxy_headers: Vec<String>,
    #[serde(default)]
    pub sts_seconds: u64,
    #[serde(default)]
    pub sts_include_subdomains: bool,
    #[serde(default)]
    pub frame_deny: bool,
    #[serde(default)]
    pub custom_frame_options_value: Option<String>,
    #[serde(default)]
    pub content_type_nosniff: bool,
    #[serde(default)]
    pub browser_xss_filter: bool,
    #[serde(default)]
    pub content_security_policy: Option<String>,
    #[serde(default)]
    pub referrer_policy: Option<String>,
    #[serde(default)]
    pub is_development: bool,
    #[serde(default)]
    pub ssl_redirect: bool,
    #[serde(default)]
    pub ssl_host: Option<String>,
    #[serde(default)]
    pub ssl_proxy_headers: BTreeMap<String, String>,
    #[serde(default, rename = "@comment")]
    pub comment: Option<Value>,
}
