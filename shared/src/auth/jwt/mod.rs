//! `auth/validator` (krakend-jose's JWT validator) on endpoints: the config, its compiled form,
//! token extraction and checks (401 for a bad token, 403 for missing roles or scopes), and the
//! claims propagated to backends as headers.
//!
//! The keys and signatures are in `keys`, the claim checks and KrakenD's claim formatting in
//! `claims`.

mod claims;
pub(crate) mod keys;
#[cfg(test)]
mod tests;

pub(crate) use claims::Claims;

use crate::config::JwtConfig;
use claims::Expected;
use http::{HeaderMap, HeaderName, HeaderValue};
use keys::{Alg, KeyIdStrategy, KeySource, RemoteKeys};
use serde_json::{Map, Value};
use std::time::Duration;
use tokio::time::Instant;

/// Why a request was refused. The text is for logs only: KrakenD answers with an empty body.
#[derive(Debug)]
pub(crate) enum Rejection {
    /// 401: no token, or a token that is malformed, badly signed, expired, not yet valid, or
    /// for another issuer or audience.
    Unauthorized(String),
    /// 403: a valid token without the required roles or scopes.
    Forbidden(String),
}

/// KrakenD's default `cache_duration`.
const DEFAULT_CACHE_DURATION: Duration = Duration::from_secs(900);

struct RolesCheck {
    key: String,
    nested: bool,
    required: Vec<String>,
}

struct ScopesCheck {
    key: String,
    all: bool,
    required: Vec<String>,
}

struct Propagation {
    claim: String,
    header: HeaderName,
}

/// A check of a validated token's claims that runs before the role and scope checks (krakend-jose's
/// "rejecter", where krakend-cel plugs its `JWT` expressions): `Err` says why the token is refused.
pub(crate) type ClaimsCheck = Box<dyn Fn(&serde_json::Map<String, Value>) -> Result<(), String> + Send + Sync>;

/// A compiled `auth/validator`.
pub(crate) struct JwtValidator {
    alg: Alg,
    keys: KeySource,
    strategy: KeyIdStrategy,
    issuer: Option<String>,
    audience: Vec<String>,
    leeway_secs: f64,
    roles: Option<RolesCheck>,
    scopes: Option<ScopesCheck>,
    header: HeaderName,
    cookie: String,
    propagate: Vec<Propagation>,
    preserve_array: bool,
    debug: bool,
    /// Refuses tokens (`401`) after their validation, before the role and scope checks.
    rejecter: Option<ClaimsCheck>,
}

/// An `auth/validator` config Tributary refuses (reported as a config error at the endpoint).
#[derive(Debug, thiserror::Error)]
pub(crate) enum JwtConfigError {
    #[error("`alg` is required")]
    NoAlg,
    #[error("`alg`: unknown algorithm `{0}` (EdDSA, HS*, RS*, PS*: 256/384/512, ES256/384/512)")]
    UnknownAlg(String),
    #[error("`key_identify_strategy`: unknown strategy `{0}` (kid, x5t, x5t#S256, kid_x5t)")]
    UnknownStrategy(String),
    #[error("`secret_url`: encrypted `jwk_local_path` files are not supported")]
    EncryptedKeyFile,
    #[error("`jwk_local_path`: cannot read `{path}`: {error}")]
    UnreadableKeyFile { path: String, error: std::io::Error },
    #[error("`jwk_local_path`: {0}")]
    LocalKeySet(keys::JwksError),
    #[error("`jwk_url`: `{url}` is not a URL: {error}")]
    NotAUrl { url: String, error: url::ParseError },
    #[error("`jwk_url`: `{0}` is not https (set `disable_jwk_security` to allow plain http)")]
    PlainHttp(String),
    #[error("`jwk_url`: unsupported scheme `{0}`")]
    UnsupportedScheme(String),
    #[error("one of `jwk_url` or `jwk_local_path` is required")]
    NoKeySource,
    #[error("`scopes_matcher`: `{0}` is neither `any` nor `all`")]
    UnknownScopesMatcher(String),
    #[error("`auth_header_name`: `{0}` is not a header name")]
    AuthHeaderName(String),
    #[error("`propagate_claims[{0}]`: expected [\"claim\", \"header\"]")]
    PropagationPair(usize),
    #[error("`propagate_claims[{index}]`: `{header}` is not a header name")]
    PropagationHeader { index: usize, header: String },
}

impl JwtValidator {
    /// Compiles once at start-up. `Err` for a config Tributary refuses: no or unknown
    /// `alg`, no key source, a plain-http `jwk_url` without `disable_jwk_security` (KrakenD
    /// would serve the endpoint unprotected), an unreadable `jwk_local_path`, an encrypted key
    /// file, unknown `key_identify_strategy` or `scopes_matcher`, bad `propagate_claims`.
    pub(crate) fn new(cfg: &JwtConfig, client: crate::transport::HttpClient) -> Result<JwtValidator, JwtConfigError> {
        let alg_name = cfg.alg.as_deref().ok_or(JwtConfigError::NoAlg)?;
        let alg = Alg::parse(alg_name).ok_or_else(|| JwtConfigError::UnknownAlg(alg_name.to_owned()))?;
        let strategy_name = cfg.key_identify_strategy.as_deref().unwrap_or("");
        let strategy = KeyIdStrategy::parse(strategy_name)
            .ok_or_else(|| JwtConfigError::UnknownStrategy(strategy_name.to_owned()))?;
        let keys = match (cfg.jwk_local_path.as_deref().filter(|p| !p.is_empty()), cfg.jwk_url.as_deref()) {
            (Some(path), _) => {
                if cfg.secret_url.as_deref().is_some_and(|s| !s.is_empty()) {
                    return Err(JwtConfigError::EncryptedKeyFile);
                }
                let body = std::fs::read(path)
                    .map_err(|error| JwtConfigError::UnreadableKeyFile { path: path.to_owned(), error })?;
                KeySource::Local(keys::parse_jwks(&body, strategy).map_err(JwtConfigError::LocalKeySet)?)
            }
            (None, Some(url)) if !url.is_empty() => {
                let parsed =
                    url::Url::parse(url).map_err(|error| JwtConfigError::NotAUrl { url: url.to_owned(), error })?;
                match parsed.scheme() {
                    "https" => {}
                    "http" if cfg.disable_jwk_security => {}
                    "http" => {
                        return Err(JwtConfigError::PlainHttp(url.to_owned()));
                    }
                    other => return Err(JwtConfigError::UnsupportedScheme(other.to_owned())),
                }
                let ttl = if cfg.cache {
                    match cfg.cache_duration {
                        Some(s) if s > 0 => Duration::from_secs(s.into()),
                        _ => DEFAULT_CACHE_DURATION,
                    }
                } else {
                    // KrakenD downloads the set for every request without `cache`; Tributary
                    // keeps it for the refresh floor instead.
                    keys::MIN_REFRESH
                };
                let cooldown = cfg
                    .failed_jwk_key_cooldown
                    .map(|d| d.value)
                    .filter(|d| *d >= keys::MIN_REFRESH)
                    .unwrap_or(keys::MIN_REFRESH);
                KeySource::Remote(Box::new(RemoteKeys::new(url.to_owned(), client, strategy, ttl, cooldown)))
            }
            _ => return Err(JwtConfigError::NoKeySource),
        };
        let roles = (!cfg.roles.is_empty()).then(|| {
            let key = cfg.roles_key.clone().filter(|k| !k.is_empty()).unwrap_or_else(|| "roles".to_owned());
            let nested = cfg.roles_key_is_nested && key.contains('.') && !key.starts_with("http");
            RolesCheck { key, nested, required: cfg.roles.clone() }
        });
        let all = match cfg.scopes_matcher.as_deref() {
            None | Some("") | Some("any") => false,
            Some("all") => true,
            Some(other) => return Err(JwtConfigError::UnknownScopesMatcher(other.to_owned())),
        };
        // KrakenD checks scopes only when both the list and the key are set.
        let scopes = match cfg.scopes_key.as_deref() {
            Some(key) if !key.is_empty() && !cfg.scopes.is_empty() => {
                Some(ScopesCheck { key: key.to_owned(), all, required: cfg.scopes.clone() })
            }
            _ => None,
        };
        let header = match cfg.auth_header_name.as_deref().filter(|h| !h.is_empty()) {
            Some(h) => {
                HeaderName::from_bytes(h.as_bytes()).map_err(|_| JwtConfigError::AuthHeaderName(h.to_owned()))?
            }
            None => http::header::AUTHORIZATION,
        };
        let mut propagate = Vec::new();
        for (i, pair) in cfg.propagate_claims.iter().enumerate() {
            let [claim, header] = pair.as_slice() else {
                return Err(JwtConfigError::PropagationPair(i));
            };
            let header = HeaderName::from_bytes(header.as_bytes())
                .map_err(|_| JwtConfigError::PropagationHeader { index: i, header: header.clone() })?;
            propagate.push(Propagation { claim: claim.clone(), header });
        }
        // go-auth0's leeway: whole seconds, at least one.
        let leeway_secs = cfg.leeway.map_or(1.0, |d| d.value.as_secs_f64().round().max(1.0));
        Ok(JwtValidator {
            alg,
            keys,
            strategy,
            issuer: cfg.issuer.clone().filter(|i| !i.is_empty()),
            audience: cfg.audience.clone(),
            leeway_secs,
            roles,
            scopes,
            header,
            cookie: cfg.cookie_key.clone().filter(|c| !c.is_empty()).unwrap_or_else(|| "access_token".to_owned()),
            propagate,
            preserve_array: cfg.propagate_claims_preserve_array,
            debug: cfg.operation_debug,
            rejecter: None,
        })
    }

    /// Sets the check that refuses validated tokens before the role and scope checks.
    pub(crate) fn set_rejecter(&mut self, check: ClaimsCheck) {
        self.rejecter = Some(check);
    }

    /// Validates the request's token (`Authorization: Bearer …`, else the `cookie_key` cookie,
    /// `access_token` by default) and returns its claims.
    pub(crate) async fn check(&self, headers: &HeaderMap) -> Result<Claims, Rejection> {
        let unix_now =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
        self.check_at(headers, Instant::now(), unix_now).await
    }

    /// [`JwtValidator::check`] at a given monotonic instant (key cache) and Unix time (claims).
    pub(crate) async fn check_at(&self, headers: &HeaderMap, now: Instant, unix_now: f64) -> Result<Claims, Rejection> {
        let result = self.validate(headers, now, unix_now).await;
        if let Err(r) = &result {
            if self.debug {
                tracing::error!(rejection = ?r, "JWT validator");
            } else {
                tracing::debug!(rejection = ?r, "JWT validator");
            }
        }
        result
    }

    async fn validate(&self, headers: &HeaderMap, now: Instant, unix_now: f64) -> Result<Claims, Rejection> {
        let unauthorized = |s: String| Rejection::Unauthorized(s);
        let token = self.token(headers).ok_or_else(|| unauthorized("no token in the request".to_owned()))?;
        let mut parts = token.split('.');
        let (Some(h64), Some(p64), Some(s64), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(unauthorized("the token is not a compact JWS (header.payload.signature)".to_owned()));
        };
        let header =
            decode_object(h64).ok_or_else(|| unauthorized("the token header is not base64url JSON".to_owned()))?;
        let alg = header.get("alg").and_then(Value::as_str).unwrap_or("");
        if alg != self.alg.name() {
            return Err(unauthorized(format!("the token's alg `{alg}` is not `{}`", self.alg.name())));
        }
        if header.contains_key("crit") {
            return Err(unauthorized("the token has critical header extensions".to_owned()));
        }
        let signature = keys::b64url(s64).filter(|_| !s64.ends_with('='));
        let signature = signature.ok_or_else(|| unauthorized("the token signature is not base64url".to_owned()))?;
        let id = self.strategy.token_id(&header);
        let key = self.keys.get(&id, now).await.map_err(|e| unauthorized(e.to_string()))?;
        let signed = &token.as_bytes()[..h64.len() + 1 + p64.len()];
        if !key.verify(self.alg, signed, &signature) {
            return Err(unauthorized("bad signature".to_owned()));
        }
        let payload =
            decode_object(p64).ok_or_else(|| unauthorized("the token payload is not base64url JSON".to_owned()))?;
        let expect =
            Expected { issuer: self.issuer.as_deref(), audience: &self.audience, leeway_secs: self.leeway_secs };
        claims::check_registered(&payload, &expect, unix_now).map_err(|e| unauthorized(e.to_string()))?;
        let claims = Claims(payload);
        if let Some(reject) = &self.rejecter {
            reject(&claims.0).map_err(Rejection::Unauthorized)?;
        }
        if let Some(r) = &self.roles
            && !claims::has_any_role(claims.lookup(&r.key, r.nested), &r.required)
        {
            return Err(Rejection::Forbidden(format!("none of the roles {:?} in `{}`", r.required, r.key)));
        }
        if let Some(s) = &self.scopes
            && !claims::scopes_match(claims.lookup(&s.key, true), &s.required, s.all)
        {
            let which = if s.all { "all" } else { "any" };
            return Err(Rejection::Forbidden(format!("not {which} of the scopes {:?} in `{}`", s.required, s.key)));
        }
        Ok(claims)
    }

    /// The raw token: the auth header's `Bearer` value (case-insensitive scheme) wins over the
    /// cookie, as go-auth0's `FromMultiple(FromHeader, FromCookie)`.
    fn token<'a>(&self, headers: &'a HeaderMap) -> Option<&'a str> {
        if let Some(v) = headers.get(&self.header).and_then(|v| v.to_str().ok())
            && v.len() > 7
            && v.is_char_boundary(7)
            && v[..7].eq_ignore_ascii_case("bearer ")
        {
            return Some(&v[7..]);
        }
        cookie(headers, &self.cookie)
    }

    /// `propagate_claims`: the (header name, value) pairs to add to the request for these claims.
    /// Each listed header replaces any value the client sent, even when the claim is missing
    /// (then with an empty value, as krakend-jose sets it). With
    /// `propagate_claims_preserve_array` a list claim gives one pair per item.
    pub(crate) fn propagated_headers(&self, claims: &Claims) -> Vec<(HeaderName, HeaderValue)> {
        let mut out = Vec::new();
        for p in &self.propagate {
            // krakend-jose: a dotted name is a nested path unless it starts with `http`.
            let nested = !p.claim.starts_with("http");
            let value = claims.lookup(&p.claim, nested);
            match value {
                Some(Value::Array(items)) if self.preserve_array && !items.is_empty() => {
                    for item in items {
                        out.push((p.header.clone(), header_value(&claims::go_v(item))));
                    }
                }
                Some(v) => out.push((p.header.clone(), header_value(&claims::krakend_format(v)))),
                None => out.push((p.header.clone(), HeaderValue::from_static(""))),
            }
        }
        out
    }
}

/// A claim as a header value; a value a header cannot carry (control characters) becomes empty.
fn header_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// A base64url (unpadded) JSON object.
fn decode_object(part: &str) -> Option<Map<String, Value>> {
    if part.ends_with('=') {
        return None;
    }
    match serde_json::from_slice(&keys::b64url(part)?).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// The first cookie named `name` (Go's `Request.Cookie`), its quotes removed.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    for line in headers.get_all(http::header::COOKIE) {
        let Ok(line) = line.to_str() else { continue };
        for pair in line.split(';') {
            let Some((k, v)) = pair.trim_matches(' ').split_once('=') else { continue };
            if k == name {
                let v = v.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(v);
                return Some(v);
            }
        }
    }
    None
}
