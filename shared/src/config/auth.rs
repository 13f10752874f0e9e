//! The `auth/validator` namespace as the user wrote it (krakend-jose's JWT validator); the
//! validator compiled from it lives with the feature.

use super::GoDuration;
use serde_json::Value;

/// `auth/validator` as the user wrote it. Every key of KrakenD's schema is read; the ones
/// Tributary accepts without effect are listed by `JwtConfig::ignored_keys` (reported as
/// warnings).
#[derive(Debug, Default, serde::Deserialize)]
pub struct JwtConfig {
    #[serde(default)]
    pub alg: Option<String>,
    #[serde(default)]
    pub jwk_url: Option<String>,
    #[serde(default)]
    pub jwk_local_path: Option<String>,
    #[serde(default)]
    pub cache: bool,
    /// Seconds; 900 when unset (only with `cache`).
    #[serde(default)]
    pub cache_duration: Option<u32>,
    #[serde(default)]
    pub failed_jwk_key_cooldown: Option<GoDuration>,
    #[serde(default)]
    pub disable_jwk_security: bool,
    #[serde(default)]
    pub jwk_fingerprints: Vec<String>,
    #[serde(default)]
    pub jwk_local_ca: Option<String>,
    #[serde(default)]
    pub cipher_suites: Vec<u16>,
    #[serde(default)]
    pub secret_url: Option<String>,
    #[serde(default)]
    pub cypher_key: Option<Value>,
    #[serde(default)]
    pub key_identify_strategy: Option<String>,
    #[serde(default)]
    pub issuer: Option<String>,
    #[serde(default)]
    pub audience: Vec<String>,
    #[serde(default)]
    pub leeway: Option<GoDuration>,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub roles_key: Option<String>,
    #[serde(default)]
    pub roles_key_is_nested: bool,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub scopes_key: Option<String>,
    #[serde(default)]
    pub scopes_matcher: Option<String>,
    #[serde(default)]
    pub cookie_key: Option<String>,
    #[serde(default)]
    pub auth_header_name: Option<String>,
    #[serde(default)]
    pub propagate_claims: Vec<Vec<String>>,
    #[serde(default)]
    pub propagate_claims_preserve_array: bool,
    #[serde(default)]
    pub operation_debug: bool,
    #[serde(default, rename = "@comment")]
    pub comment: Option<Value>,
}

impl JwtConfig {
    /// Keys that are set but have no effect in Tributary (to report as warnings): TLS tuning of
    /// the key download (`cipher_suites`, `jwk_fingerprints` pinning, `jwk_local_ca`), which the
    /// gateway's shared HTTP client does not offer.
    pub(crate) fn ignored_keys(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if !self.cipher_suites.is_empty() {
            out.push("cipher_suites");
        }
        if !self.jwk_fingerprints.is_empty() {
            out.push("jwk_fingerprints");
        }
        if self.jwk_local_ca.is_some() {
            out.push("jwk_local_ca");
        }
        out
    }
}
