//! The compiled model: the runtime form of the config the phases read (`Endpoint`, `Backend`,
//! `Settings`, their filters, encodings and `url_pattern`s), and the values passed from one
//! phase to the next (`Part`, `BackendError`, `Outcome`), so that phases need not import each
//! other. Built once by the gateway's compiler; never changed by a request.
//!
//! It holds the features' compiled forms (a backend's breaker, cache and rate limit, an
//! endpoint's token validator, each built by its feature) and the compiled forms the phases
//! run: `url_pattern`s (`url`) and shaping (`shaper`), each built by its constructor here.

mod flight;
mod graphql;
pub(crate) mod shaper;
mod url;

pub(crate) use flight::{BackendError, Outcome, Part, Secured};
pub(crate) use graphql::GraphQl;
pub(crate) use url::{UrlPart, compile_url, template_key};

use crate::auth::jwt::JwtValidator;
use crate::codec::canonical::KeyOrderHint;
use crate::modifier::martian::Martian;
use crate::net::ClientIpRule;
use crate::qos::breaker::Breaker;
use crate::qos::cache::HttpCache;
use crate::qos::ratelimit::{Bucket, RouterLimiter};
use crate::security::botdetector::BotDetector;
use crate::telemetry::EndpointId;
use crate::transport::lambda::LambdaInvoker;
use crate::validation::cel::CelRules;
use crate::validation::schema::JsonSchema;
use http::{HeaderName, HeaderValue, Method};
use serde_json::Value;
use shaper::{Flatmap, Shaper};
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

/// KrakenD's default endpoint timeout, when neither the endpoint nor the service sets one.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
/// Time kept between answering and a Lambda invocation's deadline: the answer still has to be
/// written to the Runtime API and reach the client.
pub(crate) const DEFAULT_DEADLINE_MARGIN: Duration = Duration::from_millis(300);

/// Which client query-string parameters reach the backends.
#[derive(Debug, Clone)]
pub(crate) enum QueryFilter {
    None,
    All,
    Names(Vec<String>),
}

impl QueryFilter {
    /// Whether the endpoint's requests carry the client's query parameter `key`.
    pub(crate) fn keeps(&self, key: &str) -> bool {
        match self {
            QueryFilter::None => false,
            QueryFilter::All => true,
            QueryFilter::Names(names) => names.iter().any(|n| n == key),
        }
    }
}

/// Which client headers reach the backends (`input_headers`).
#[derive(Debug, Clone)]
pub(crate) enum HeaderFilter {
    All,
    Names(Vec<HeaderName>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decoding {
    Json,
    SafeJson,
    String,
    NoOp,
    Xml,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Output {
    Json,
    JsonCollection,
    String,
    NoOp,
    Xml,
    Yaml,
    Negotiate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StaticStrategy {
    Always,
    Success,
    Complete,
    Errored,
    Incomplete,
}

pub(crate) struct StaticProxy {
    pub strategy: StaticStrategy,
    pub data: serde_json::Map<String, Value>,
}

pub(crate) struct Backend {
    pub cache: Option<HttpCache>,
    pub breaker: Option<Breaker>,
    pub limiter: Option<std::sync::Mutex<Bucket>>,
    pub hosts: Vec<String>,
    pub next_host: AtomicUsize,
    pub method: Method,
    pub url: Vec<UrlPart>,
    pub decoding: Decoding,
    pub is_collection: bool,
    pub shaper: Shaper,
    pub query_filter: Option<Vec<String>>,
    pub header_filter: Option<Vec<HeaderName>>,
    pub error_details: Option<String>,
    pub error_code: bool,
    /// The label used in error texts: `[GET /users/{{.Id}}]`.
    pub pattern_label: String,
    /// Whether its recent JSON bodies had keys out of order.
    pub key_order: KeyOrderHint,
    /// Its place among the endpoint's backends, and its `url_pattern` as written: how
    /// telemetry names it.
    pub index: usize,
    pub url_pattern: std::sync::Arc<str>,
    /// `backend/lambda`: a function invoked instead of an HTTP request.
    pub lambda: Option<Box<LambdaCall>>,
    /// `modifier/martian`: modifiers of the HTTP request and response.
    pub martian: Option<Box<Martian>>,
    /// `backend/graphql`: the request is rewritten into a GraphQL query or mutation.
    pub graphql: Option<Box<GraphQl>>,
    /// `validation/cel`: checks of the backend's request and answer.
    pub cel: Option<Box<CelRules>>,
}

/// Which function a `backend/lambda` backend invokes.
#[derive(Debug)]
pub(crate) enum LambdaFunction {
    Named(String),
    /// The value of the endpoint parameter at this index.
    Param(usize),
}

/// A `backend/lambda` backend: its function, its payload's source and where it is invoked.
#[derive(Debug)]
pub(crate) struct LambdaCall {
    pub function: LambdaFunction,
    /// For a `GET` backend, the payload is the endpoint's parameters under these keys (their
    /// names lowercased, as KrakenD writes them), else the request body.
    pub param_keys: Option<Vec<String>>,
    pub invoker: LambdaInvoker,
}

pub(crate) struct Endpoint {
    pub label: String,
    /// How telemetry names it: its index, method and pattern as written (never a raw path).
    pub id: EndpointId,
    pub jwt: Option<JwtValidator>,
    /// `security/bot-detector` on the endpoint: checked before anything else of it.
    pub bots: Option<BotDetector>,
    pub limiter: Option<RouterLimiter>,
    /// `validation/json-schema`: the schema the request body must match.
    pub json_schema: Option<Box<JsonSchema>>,
    pub timeout: Duration,
    pub cache_control: Option<HeaderValue>,
    pub concurrent_calls: usize,
    pub query: QueryFilter,
    pub headers: HeaderFilter,
    pub output: Output,
    pub backends: Vec<Backend>,
    pub sequential: bool,
    pub static_proxy: Option<StaticProxy>,
    pub flatmap: Option<Flatmap>,
    /// `validation/cel`: checks of the request before any backend, of the merged answer, and
    /// (shared with the token validator) of the token's claims.
    pub cel: Option<std::sync::Arc<CelRules>>,
}

/// Router-level settings (`extra_config.router` plus service flags).
pub(crate) struct Settings {
    pub return_error_msg: bool,
    pub redirect_trailing_slash: bool,
    pub redirect_fixed_path: bool,
    pub handle_method_not_allowed: bool,
    pub path_decoding: bool,
    pub error_body_404: Option<bytes::Bytes>,
    pub error_body_405: Option<bytes::Bytes>,
    pub version_header: HeaderValue,
    /// Where the client's address is read from.
    pub client_ip: ClientIpRule,
    /// How long before a request's deadline (Lambda's) the answer is made.
    pub deadline_margin: Duration,
}

/// Server-side settings the doors may use.
#[derive(Debug, Clone, Default)]
pub struct ServerSettings {
    pub port: Option<u16>,
    pub listen_ip: Option<std::net::IpAddr>,
    pub read_header_timeout: Option<Duration>,
    pub read_timeout: Option<Duration>,
    pub idle_timeout: Option<Duration>,
    pub max_header_bytes: Option<usize>,
}
