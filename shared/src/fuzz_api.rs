//! Public entry points for the fuzz targets (`fuzz/`) and the differential property tests only
//! (hidden from docs): thin wrappers over the crate's private parsers, codecs, shaping and
//! routing, taking and returning plain types so that callers need none of the crate's internals.
//! Nothing here adds behaviour; every function calls the code the gateway runs.

use crate::codec::canonical::{Data, KeyOrderHint, RawObject};
use crate::config;
use crate::gateway::compile::{self, Compiled};
use crate::model::shaper::Shaper;
use crate::route::{Lookup, RouteTarget};
use bytes::Bytes;
use http::{HeaderMap, Method};
use serde_json::Value;

pub use crate::codec::json::Object;

/// The tree decoder: the first JSON value of `body`, read as Go's `encoding/json` reads it.
pub fn decode_first(body: &[u8]) -> Result<Value, String> {
    crate::codec::json::decode_first(body).map_err(|e| e.to_string())
}

/// The tree encoder: compact, keys sorted, Go's HTML-safe escaping.
pub fn encode(value: &Value) -> Vec<u8> {
    crate::codec::json::encode(value)
}

/// What the transcoder made of a backend body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transcoded {
    /// The body's first value is an object: its canonical bytes.
    Object(Vec<u8>),
    /// The body's first value is `null`.
    Null,
    /// Anything else (another value, malformed input): the gateway falls back to the tree decoder.
    Refused,
}

/// Per backend memory of key order, as the gateway keeps one for each backend.
#[derive(Debug, Default)]
pub struct TranscodeHint(KeyOrderHint);

/// The transcoder (`codec::canonical`): the body's top-level object in Go's canonical form, objects nested
/// in objects down to `split_depth` kept as members (which must not change the bytes).
pub fn transcode(body: &[u8], split_depth: usize) -> Transcoded {
    written(RawObject::from_body(&Bytes::copy_from_slice(body), split_depth))
}

/// [`transcode`] through a backend's key-order hint (the path the gateway takes).
pub fn transcode_hinted(body: &[u8], split_depth: usize, hint: &TranscodeHint) -> Transcoded {
    written(RawObject::from_body_hinted(&Bytes::copy_from_slice(body), split_depth, &hint.0))
}

fn written(result: Result<Option<RawObject>, ()>) -> Transcoded {
    match result {
        Ok(Some(raw)) => {
            let mut out = Vec::new();
            Data::Raw(raw).write(&mut out, &[]);
            Transcoded::Object(out)
        }
        Ok(None) => Transcoded::Null,
        Err(()) => Transcoded::Refused,
    }
}

/// A backend's response shaping (`target`, `allow`, `deny`, `mapping`, `group`,
/// `flatmap_filter`), compiled as the gateway compiles it.
#[derive(Debug)]
pub struct Shape(Shaper);

impl Shape {
    /// `mapping` is in config order; `flatmap_filter` is the raw `extra_config.proxy.flatmap_filter`.
    pub fn new(
        target: &str,
        allow: &[String],
        deny: &[String],
        mapping: &[(String, String)],
        group: &str,
        flatmap_filter: Option<&Value>,
    ) -> Shape {
        Shape(Shaper::new(target, allow, deny, mapping, group, flatmap_filter))
    }

    /// Shapes a decoded object (the tree path).
    pub fn apply(&self, data: Object) -> Object {
        self.0.apply(data)
    }

    /// Shapes a body through the transcoder (the byte path, used when no flatmap filter is set)
    /// and writes the result; `None` when this shaper takes the tree path or the body is not an
    /// object. `keep_members`: transcode with the shaper's split depth (as the gateway does) or 0.
    pub fn apply_to_body(&self, body: &[u8], keep_members: bool) -> Option<Vec<u8>> {
        if !self.0.shapes_raw() {
            return None;
        }
        let depth = if keep_members { self.0.split_depth() } else { 0 };
        let raw = RawObject::from_body(&Bytes::copy_from_slice(body), depth).ok()??;
        let mut out = Vec::new();
        Data::Raw(self.0.apply_raw(raw)).write(&mut out, &[]);
        Some(out)
    }
}

/// The `xml` output encoding (empty when mxj would refuse the data).
pub fn xml_encode(data: &Object) -> Vec<u8> {
    crate::codec::xml::encode(data)
}

/// The `xml` backend decoding.
pub fn xml_decode(body: &[u8]) -> Result<Object, String> {
    crate::codec::xml::decode(body).map_err(|e| e.to_string())
}

/// The `yaml` output encoding (empty when the data nests too deep).
pub fn yaml_encode(data: &Value) -> Vec<u8> {
    crate::codec::yaml::encode(data)
}

/// Parse, validate and compile a config as `Gateway::from_json` does; the number of routable
/// endpoints, or every problem as text.
pub fn compile_config(text: &str) -> Result<usize, String> {
    compiled(text).map(|c| c.endpoints.len())
}

fn compiled(text: &str) -> Result<Compiled, String> {
    let parsed = config::parse_and_validate(text).map_err(|e| e.to_string())?;
    compile::compile(&parsed).map_err(|errors| errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))
}

/// The gateway's path decoding before routing: `None` (a 400) for a malformed escape or bytes
/// that are not UTF-8.
pub fn decode_path(raw: &str) -> Option<String> {
    crate::route::decode_path(raw).map(|p| p.into_owned())
}

/// Go's `path.Clean` as the router's fixed-path redirect uses it.
pub fn clean_path(path: &str) -> String {
    crate::route::router::clean(path)
}

/// A compiled config's router, looked up as `Gateway::handle` does (path decoding, then the
/// router with the config's redirect and 405 settings).
pub struct Routes(Compiled);

impl std::fmt::Debug for Routes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Routes").field("endpoints", &self.0.endpoints.len()).finish()
    }
}

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// The raw path does not decode (400).
    BadPath,
    /// An endpoint (its `METHOD /pattern` label) and the decoded parameter values.
    Endpoint(String, Vec<String>),
    /// A built-in route (`/__health`, `/__debug`, `/__echo`, `auto_options`).
    BuiltIn,
    Redirect(String),
    MethodNotAllowed(String),
    NotFound,
}

impl Routes {
    pub fn new(config: &str) -> Result<Routes, String> {
        compiled(config).map(Routes)
    }

    pub fn lookup(&self, method: &Method, raw_path: &str) -> Route {
        let Some(path) = crate::route::decode_path(raw_path) else {
            return Route::BadPath;
        };
        let s = &self.0.settings;
        match self.0.router.lookup(
            method,
            &path,
            s.redirect_trailing_slash,
            s.redirect_fixed_path,
            s.handle_method_not_allowed,
        ) {
            Lookup::Found(RouteTarget::Endpoint(i), values) => {
                Route::Endpoint(self.0.endpoints[*i].label.clone(), values.into_iter().map(str::to_owned).collect())
            }
            Lookup::Found(..) => Route::BuiltIn,
            Lookup::Redirect(to) => Route::Redirect(to),
            Lookup::MethodNotAllowed(allow) => {
                Route::MethodNotAllowed(String::from_utf8_lossy(allow.as_bytes()).into_owned())
            }
            Lookup::NotFound => Route::NotFound,
        }
    }
}

/// An endpoint's `auth/validator`, for checking tokens with a fixed clock.
pub struct Jwt {
    validator: crate::auth::jwt::JwtValidator,
    runtime: tokio::runtime::Runtime,
}

impl std::fmt::Debug for Jwt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jwt").finish_non_exhaustive()
    }
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwtRejection {
    /// 401.
    Unauthorized(String),
    /// 403 (roles or scopes).
    Forbidden(String),
}

impl Jwt {
    /// `config` is the `auth/validator` object (use `jwk_local_path` for the keys).
    pub fn new(config: &Value) -> Result<Jwt, String> {
        let cfg: crate::config::JwtConfig = serde_json::from_value(config.clone()).map_err(|e| e.to_string())?;
        let client = crate::transport::HttpClient::new(&crate::transport::ClientSettings::default());
        let validator = crate::auth::jwt::JwtValidator::new(&cfg, client).map_err(|e| e.to_string())?;
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().map_err(|e| e.to_string())?;
        Ok(Jwt { validator, runtime })
    }

    /// Checks the request's token at Unix time `unix_now`; the claims, or why not.
    pub fn check(&self, headers: &HeaderMap, unix_now: f64) -> Result<Object, JwtRejection> {
        let now = self.runtime.block_on(async { tokio::time::Instant::now() });
        match self.runtime.block_on(self.validator.check_at(headers, now, unix_now)) {
            Ok(claims) => {
                // The headers `propagate_claims` derives are part of what a token controls.
                let _ = self.validator.propagated_headers(&claims);
                Ok(claims.0)
            }
            Err(crate::auth::jwt::Rejection::Unauthorized(why)) => Err(JwtRejection::Unauthorized(why)),
            Err(crate::auth::jwt::Rejection::Forbidden(why)) => Err(JwtRejection::Forbidden(why)),
        }
    }
}

/// A JWK set as `jwk_local_path` reads it (any `key_identify_strategy` name); the number of keys.
pub fn parse_jwks(body: &[u8], strategy: &str) -> Result<usize, String> {
    let strategy = crate::auth::jwt::keys::KeyIdStrategy::parse(strategy).ok_or("unknown strategy")?;
    crate::auth::jwt::keys::parse_jwks(body, strategy).map(|set| set.len()).map_err(|e| e.to_string())
}

/// A `Cache-Control` header as the backend cache reads it: its directives (a later duplicate
/// wins), sorted by name.
pub fn cache_control(headers: &HeaderMap) -> Vec<(String, String)> {
    let mut directives: Vec<(String, String)> =
        crate::qos::cache::parse::CacheControl::parse(headers).0.into_iter().collect();
    directives.sort();
    directives
}

/// A delta-seconds value as the backend cache reads it (Go's `ParseDuration(value + "s")`), in
/// nanoseconds.
pub fn cache_seconds(text: &str) -> Option<i64> {
    crate::qos::cache::parse::go_seconds(text)
}

/// A `Date`/`Expires` value as the backend cache reads it (Go's `time.Parse(time.RFC1123, ..)`),
/// in Unix seconds.
pub fn http_date(text: &[u8]) -> Option<i64> {
    crate::qos::cache::parse::parse_rfc1123(text)
}

/// A config duration (`timeout`, `cache_ttl`, ...).
pub fn config_duration(text: &str) -> Result<std::time::Duration, String> {
    config::parse_go_duration(text).map_err(|e| e.to_string())
}
