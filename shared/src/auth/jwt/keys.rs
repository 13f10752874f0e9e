//! The verification keys of `auth/validator`: JWK parsing, the key sources (`jwk_local_path`, read
//! once; `jwk_url`, fetched and cached with a bounded refresh rate) and signature verification.
//!
//! Signatures are checked with ring directly rather than through the `jsonwebtoken` crate:
//! KrakenD accepts ES512, which `jsonwebtoken` lacks, and its JWK parsing ignores `crv` and fails
//! on key sets that KrakenD reads; ring (already built for rustls) covers 12 of the 13 algorithms
//! with the same few calls, RustCrypto's `p521` the thirteenth (ES512), and the JWK fields are
//! simple enough to read by hand.

use crate::transport::SendError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::{hmac, signature};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// The signing algorithms KrakenD CE accepts for `alg`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Alg {
    HS256,
    HS384,
    HS512,
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    ES512,
    EdDSA,
}

impl Alg {
    pub(crate) fn parse(name: &str) -> Option<Alg> {
        Some(match name {
            "HS256" => Alg::HS256,
            "HS384" => Alg::HS384,
            "HS512" => Alg::HS512,
            "RS256" => Alg::RS256,
            "RS384" => Alg::RS384,
            "RS512" => Alg::RS512,
            "PS256" => Alg::PS256,
            "PS384" => Alg::PS384,
            "PS512" => Alg::PS512,
            "ES256" => Alg::ES256,
            "ES384" => Alg::ES384,
            "ES512" => Alg::ES512,
            "EdDSA" => Alg::EdDSA,
            _ => return None,
        })
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Alg::HS256 => "HS256",
            Alg::HS384 => "HS384",
            Alg::HS512 => "HS512",
            Alg::RS256 => "RS256",
            Alg::RS384 => "RS384",
            Alg::RS512 => "RS512",
            Alg::PS256 => "PS256",
            Alg::PS384 => "PS384",
            Alg::PS512 => "PS512",
            Alg::ES256 => "ES256",
            Alg::ES384 => "ES384",
            Alg::ES512 => "ES512",
            Alg::EdDSA => "EdDSA",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Curve {
    P256,
    P384,
    P521,
}

/// A public (or, for HMAC, shared) key from a JWK.
#[derive(Debug)]
pub(crate) enum Key {
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    /// The uncompressed point `04 || x || y`.
    Ec {
        curve: Curve,
        point: Vec<u8>,
    },
    Ed25519(Vec<u8>),
    Oct(Vec<u8>),
}

impl Key {
    /// Whether `sig` is `alg`'s signature of `msg` under this key. A key of the wrong type or
    /// curve for `alg` never verifies (go-jose refuses such a pair the same way).
    pub(crate) fn verify(&self, alg: Alg, msg: &[u8], sig: &[u8]) -> bool {
        use signature::{RsaPublicKeyComponents, UnparsedPublicKey};
        match (alg, self) {
            (Alg::HS256 | Alg::HS384 | Alg::HS512, Key::Oct(k)) => {
                let a = match alg {
                    Alg::HS256 => hmac::HMAC_SHA256,
                    Alg::HS384 => hmac::HMAC_SHA384,
                    _ => hmac::HMAC_SHA512,
                };
                hmac::verify(&hmac::Key::new(a, k), msg, sig).is_ok()
            }
            (Alg::RS256 | Alg::RS384 | Alg::RS512 | Alg::PS256 | Alg::PS384 | Alg::PS512, Key::Rsa { n, e }) => {
                let params: &signature::RsaParameters = match alg {
                    Alg::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
                    Alg::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
                    Alg::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
                    Alg::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
                    Alg::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
                    _ => &signature::RSA_PSS_2048_8192_SHA512,
                };
                RsaPublicKeyComponents { n: n.as_slice(), e: e.as_slice() }.verify(params, msg, sig).is_ok()
            }
            (Alg::ES256 | Alg::ES384 | Alg::ES512, Key::Ec { curve, point }) => {
                let a = match (alg, curve) {
                    (Alg::ES256, Curve::P256) => &signature::ECDSA_P256_SHA256_FIXED,
                    (Alg::ES384, Curve::P384) => &signature::ECDSA_P384_SHA384_FIXED,
                    (Alg::ES512, Curve::P521) => return verify_p521(point, msg, sig),
                    _ => return false,
                };
                UnparsedPublicKey::new(a, point).verify(msg, sig).is_ok()
            }
            (Alg::EdDSA, Key::Ed25519(x)) => UnparsedPublicKey::new(&signature::ED25519, x).verify(msg, sig).is_ok(),
            _ => false,
        }
    }
}

/// ES512: ECDSA on P-521 with SHA-512, `r || s` fixed-width, `point` an uncompressed SEC1 point.
/// ring has no P-521, so RustCrypto's `p521` verifies it.
fn verify_p521(point: &[u8], msg: &[u8], sig: &[u8]) -> bool {
    use p521::ecdsa::signature::Verifier;
    let (Ok(key), Ok(sig)) =
        (p521::ecdsa::VerifyingKey::from_sec1_bytes(point), p521::ecdsa::Signature::from_slice(sig))
    else {
        return false;
    };
    key.verify(msg, &sig).is_ok()
}

/// `key_identify_strategy`: which token header (and which JWK field) names the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyIdStrategy {
    Kid,
    X5t,
    X5tS256,
    KidX5t,
}

impl KeyIdStrategy {
    pub(crate) fn parse(s: &str) -> Option<KeyIdStrategy> {
        Some(match s {
            "" | "kid" => KeyIdStrategy::Kid,
            "x5t" => KeyIdStrategy::X5t,
            "x5t#S256" => KeyIdStrategy::X5tS256,
            "kid_x5t" => KeyIdStrategy::KidX5t,
            _ => return None,
        })
    }

    /// The id a token asks for (krakend-jose's `TokenIDGetter`): `x5t` falls back to `kid`.
    pub(crate) fn token_id(self, header: &serde_json::Map<String, Value>) -> String {
        let field = |name: &str| header.get(name).and_then(Value::as_str).unwrap_or("").to_owned();
        let or_kid = |name: &str| match header.get(name).and_then(Value::as_str) {
            Some(v) => v.to_owned(),
            None => field("kid"),
        };
        match self {
            KeyIdStrategy::Kid => field("kid"),
            KeyIdStrategy::X5t => or_kid("x5t"),
            KeyIdStrategy::X5tS256 => or_kid("x5t#S256"),
            KeyIdStrategy::KidX5t => field("kid") + &or_kid("x5t"),
        }
    }

    /// The id a JWK is stored under (krakend-jose's `KeyIDGetter`): thumbprints are re-encoded
    /// as unpadded base64url, as go-jose does after decoding them.
    fn key_id(self, jwk: &serde_json::Map<String, Value>) -> String {
        let field = |name: &str| jwk.get(name).and_then(Value::as_str).unwrap_or("").to_owned();
        let thumb = |name: &str| {
            let raw = field(name);
            match b64url(&raw) {
                Some(bytes) => URL_SAFE_NO_PAD.encode(bytes),
                None => raw,
            }
        };
        match self {
            KeyIdStrategy::Kid => field("kid"),
            KeyIdStrategy::X5t => thumb("x5t"),
            KeyIdStrategy::X5tS256 => thumb("x5t#S256"),
            KeyIdStrategy::KidX5t => field("kid") + &thumb("x5t"),
        }
    }
}

/// Base64url, with or without padding (JWK writers differ).
pub(crate) fn b64url(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok()
}

/// One JWK as a verification key; `None` for a key type Tributary cannot use (skipped).
fn parse_jwk(jwk: &serde_json::Map<String, Value>) -> Option<Key> {
    let bytes = |name: &str| jwk.get(name).and_then(Value::as_str).and_then(b64url);
    match jwk.get("kty")?.as_str()? {
        "RSA" => Some(Key::Rsa { n: bytes("n")?, e: bytes("e")? }),
        "EC" => {
            let (curve, len) = match jwk.get("crv")?.as_str()? {
                "P-256" => (Curve::P256, 32),
                "P-384" => (Curve::P384, 48),
                "P-521" => (Curve::P521, 66),
                _ => return None,
            };
            let (x, y) = (bytes("x")?, bytes("y")?);
            if x.len() > len || y.len() > len {
                return None;
            }
            // Coordinates are fixed-size big-endian; pad short writers' output on the left.
            let mut point = Vec::with_capacity(1 + 2 * len);
            point.push(4);
            point.extend(std::iter::repeat_n(0, len - x.len()));
            point.extend_from_slice(&x);
            point.extend(std::iter::repeat_n(0, len - y.len()));
            point.extend_from_slice(&y);
            Some(Key::Ec { curve, point })
        }
        "OKP" if jwk.get("crv")?.as_str()? == "Ed25519" => {
            let x = bytes("x")?;
            (x.len() == 32).then_some(Key::Ed25519(x))
        }
        "oct" => Some(Key::Oct(bytes("k")?)),
        _ => None,
    }
}

pub(crate) type KeySet = HashMap<String, Arc<Key>>;

/// A JWK Set document as its keys by id. Keys Tributary cannot use are skipped; a document that
/// is not a key set, or holds no usable key, is an error (go-auth0's `ErrNoKeyFound`).
pub(crate) fn parse_jwks(body: &[u8], strategy: KeyIdStrategy) -> Result<KeySet, JwksError> {
    let doc: Value = serde_json::from_slice(body).map_err(JwksError::NotJson)?;
    let keys = doc.get("keys").and_then(Value::as_array).ok_or(JwksError::NoKeysList)?;
    let mut out = KeySet::new();
    for jwk in keys.iter().filter_map(Value::as_object) {
        if let Some(key) = parse_jwk(jwk) {
            // Last one wins, as in krakend-jose's key cachers.
            out.insert(strategy.key_id(jwk), Arc::new(key));
        }
    }
    if out.is_empty() {
        return Err(JwksError::NoUsableKey);
    }
    Ok(out)
}

/// Why a document is not a usable JWK Set.
#[derive(Debug, thiserror::Error)]
pub(crate) enum JwksError {
    #[error("the JWK set is not JSON: {0}")]
    NotJson(serde_json::Error),
    #[error("the JWK set has no `keys` list")]
    NoKeysList,
    #[error("the JWK set holds no usable key")]
    NoUsableKey,
}

/// Why no key verifies a token (the text is logged with the 401).
#[derive(Debug, thiserror::Error)]
pub(crate) enum KeyError {
    #[error("no key `{0}` in the local JWK set")]
    NotInLocalSet(String),
    #[error("no key `{0}` in the JWK set")]
    NotInSet(String),
    /// The set lacks it and the download cooldown has not passed.
    #[error("no key `{0}` in the JWK set (next download allowed later)")]
    NotInSetUntilCooldown(String),
    /// The download failed and the keys already held lack it.
    #[error("{url}: {error}")]
    Download { url: String, error: DownloadError },
}

/// Why a `jwk_url` download gave no key set.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DownloadError {
    #[error("download failed: no answer within {0:?}")]
    Timeout(Duration),
    #[error("the JWK set is larger than {0} bytes")]
    TooLarge(usize),
    /// The client's error, in Go's words.
    #[error("download failed: {0}")]
    Failed(SendError),
    #[error("answered {0}")]
    Status(http::StatusCode),
    #[error("content type `{0}` is not application/json nor application/jwk-set+json")]
    ContentType(String),
    #[error(transparent)]
    Jwks(#[from] JwksError),
}

/// The largest JWK Set document accepted from `jwk_url`.
const MAX_JWKS_BYTES: usize = 1 << 20;
/// How long one `jwk_url` download may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// The least time between two downloads of a `jwk_url`, whatever the tokens ask for: a flood of
/// tokens naming unknown keys costs the identity provider at most one request per second.
pub(crate) const MIN_REFRESH: Duration = Duration::from_secs(1);

/// Where the keys come from.
pub(crate) enum KeySource {
    /// `jwk_local_path`: read once at start-up.
    Local(KeySet),
    Remote(Box<RemoteKeys>),
}

impl KeySource {
    pub(crate) async fn get(&self, id: &str, now: Instant) -> Result<Arc<Key>, KeyError> {
        match self {
            KeySource::Local(set) => set.get(id).cloned().ok_or_else(|| KeyError::NotInLocalSet(id.to_owned())),
            KeySource::Remote(r) => r.get(id, now).await,
        }
    }
}

/// `jwk_url`: the key set, downloaded on first use, kept for `ttl`, downloaded again when a
/// token names an unknown key, but never twice within `cooldown` (one download at a time).
pub(crate) struct RemoteKeys {
    url: String,
    client: crate::transport::HttpClient,
    strategy: KeyIdStrategy,
    ttl: Duration,
    cooldown: Duration,
    state: Mutex<RemoteState>,
    download: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct RemoteState {
    keys: Arc<KeySet>,
    fetched_at: Option<Instant>,
    last_attempt: Option<Instant>,
}

impl RemoteKeys {
    pub(crate) fn new(
        url: String,
        client: crate::transport::HttpClient,
        strategy: KeyIdStrategy,
        ttl: Duration,
        cooldown: Duration,
    ) -> RemoteKeys {
        RemoteKeys {
            url,
            client,
            strategy,
            ttl,
            cooldown,
            state: Mutex::new(RemoteState::default()),
            download: tokio::sync::Mutex::new(()),
        }
    }

    /// The cached key, if the set is fresh and holds it.
    fn fresh(&self, id: &str, now: Instant) -> Option<Arc<Key>> {
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.fetched_at.filter(|t| now < *t + self.ttl).and_then(|_| st.keys.get(id).cloned())
    }

    async fn get(&self, id: &str, now: Instant) -> Result<Arc<Key>, KeyError> {
        if let Some(k) = self.fresh(id, now) {
            return Ok(k);
        }
        // One download at a time: whoever waited for one looks at its result first.
        let _one = self.download.lock().await;
        if let Some(k) = self.fresh(id, now) {
            return Ok(k);
        }
        {
            let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
            if st.last_attempt.is_some_and(|t| now < t + self.cooldown) {
                // No download yet: a key the last set holds still verifies (the cooldown only
                // slows down lookups of keys that set lacks).
                return st.keys.get(id).cloned().ok_or_else(|| KeyError::NotInSetUntilCooldown(id.to_owned()));
            }
            st.last_attempt = Some(now);
        }
        let keys = match self.download().await {
            Ok(keys) => keys,
            Err(e) => {
                // The key server is down: keep verifying with the keys we already have.
                let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
                return st.keys.get(id).cloned().ok_or_else(|| KeyError::Download { url: self.url.clone(), error: e });
            }
        };
        let found = keys.get(id).cloned();
        {
            let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
            st.keys = Arc::new(keys);
            st.fetched_at = Some(now);
        }
        found.ok_or_else(|| KeyError::NotInSet(id.to_owned()))
    }

    async fn download(&self) -> Result<KeySet, DownloadError> {
        let no_headers = http::HeaderMap::new();
        let download = self.client.send_limited(&http::Method::GET, &self.url, &no_headers, None, MAX_JWKS_BYTES);
        let resp = match tokio::time::timeout(FETCH_TIMEOUT, download).await {
            Err(_) => return Err(DownloadError::Timeout(FETCH_TIMEOUT)),
            Ok(Err(SendError::TooLarge)) => {
                return Err(DownloadError::TooLarge(MAX_JWKS_BYTES));
            }
            Ok(Err(e)) => return Err(DownloadError::Failed(e)),
            Ok(Ok(resp)) => resp,
        };
        if !resp.status.is_success() {
            return Err(DownloadError::Status(resp.status));
        }
        // go-auth0 accepts only these two content types for a key set.
        let ct = resp.headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        if !ct.starts_with("application/json") && !ct.starts_with("application/jwk-set+json") {
            return Err(DownloadError::ContentType(ct.to_owned()));
        }
        Ok(parse_jwks(&resp.body, self.strategy)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> serde_json::Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn every_krakend_algorithm_name_parses_and_none_does_not() {
        for name in
            ["HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"]
        {
            assert_eq!(Alg::parse(name).unwrap().name(), name);
        }
        assert_eq!(Alg::parse("EdDSA"), Some(Alg::EdDSA));
        assert_eq!(Alg::parse("none"), None);
        assert_eq!(Alg::parse("rs256"), None);
    }

    #[test]
    fn unusable_keys_are_skipped_and_an_empty_set_is_an_error() {
        let body = json!({"keys": [
            {"kty": "oct", "kid": "a", "k": "c2VjcmV0"},
            {"kty": "foo", "kid": "b"},
            {"kty": "EC", "kid": "c", "crv": "P-192", "x": "AA", "y": "AA"}
        ]});
        let set = parse_jwks(body.to_string().as_bytes(), KeyIdStrategy::Kid).unwrap();
        assert_eq!(set.len(), 1);
        assert!(matches!(*set["a"], Key::Oct(ref k) if k == b"secret"));
        assert!(parse_jwks(br#"{"keys": []}"#, KeyIdStrategy::Kid).is_err());
        assert!(parse_jwks(b"[]", KeyIdStrategy::Kid).is_err());
    }

    #[test]
    fn key_ids_follow_the_identify_strategy() {
        let jwk = obj(json!({"kid": "k1", "x5t": "dGh1bWI=", "x5t#S256": "czI1Ng"}));
        assert_eq!(KeyIdStrategy::Kid.key_id(&jwk), "k1");
        assert_eq!(KeyIdStrategy::X5t.key_id(&jwk), "dGh1bWI");
        assert_eq!(KeyIdStrategy::X5tS256.key_id(&jwk), "czI1Ng");
        assert_eq!(KeyIdStrategy::KidX5t.key_id(&jwk), "k1dGh1bWI");
        let with_x5t = obj(json!({"kid": "k1", "x5t": "dGh1bWI"}));
        let kid_only = obj(json!({"kid": "k1"}));
        assert_eq!(KeyIdStrategy::X5t.token_id(&with_x5t), "dGh1bWI");
        assert_eq!(KeyIdStrategy::X5t.token_id(&kid_only), "k1");
        assert_eq!(KeyIdStrategy::KidX5t.token_id(&with_x5t), "k1dGh1bWI");
        assert_eq!(KeyIdStrategy::KidX5t.token_id(&kid_only), "k1k1");
        assert_eq!(KeyIdStrategy::Kid.token_id(&obj(json!({}))), "");
        assert_eq!(KeyIdStrategy::parse("x5t#S256"), Some(KeyIdStrategy::X5tS256));
        assert_eq!(KeyIdStrategy::parse("thumbprint"), None);
    }

    #[test]
    fn a_key_of_the_wrong_type_or_curve_never_verifies() {
        let oct = Key::Oct(b"secret".to_vec());
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, b"secret"), b"msg");
        assert!(oct.verify(Alg::HS256, b"msg", tag.as_ref()));
        assert!(!oct.verify(Alg::HS384, b"msg", tag.as_ref()));
        assert!(!oct.verify(Alg::RS256, b"msg", tag.as_ref()));
        let ec = Key::Ec { curve: Curve::P384, point: vec![4; 97] };
        assert!(!ec.verify(Alg::ES256, b"msg", &[0; 64]));
    }

    /// A key set server on 127.0.0.1 answering every request with `body` (one connection).
    async fn key_server(body: Vec<u8>) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.ends_with(b"\r\n\r\n") {
                let n = conn.read(&mut buf).await.unwrap();
                if n == 0 {
                    return;
                }
                head.extend_from_slice(&buf[..n]);
            }
            let answer =
                format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n", body.len());
            // The client may hang up once it has read past its limit.
            let _ = conn.write_all(answer.as_bytes()).await;
            let _ = conn.write_all(&body).await;
        });
        format!("http://{addr}/jwks.json")
    }

    #[tokio::test]
    async fn a_key_set_over_the_size_limit_is_refused_by_name() {
        let mut body = br#"{"keys":[{"kty":"oct","kid":"a","k":"c2VjcmV0","pad":""#.to_vec();
        body.resize(MAX_JWKS_BYTES + 10, b'x');
        body.extend_from_slice(br#""}]}"#);
        let client = crate::transport::HttpClient::new(&crate::transport::ClientSettings::default());
        let keys =
            RemoteKeys::new(key_server(body).await, client, KeyIdStrategy::Kid, Duration::from_secs(60), MIN_REFRESH);
        let Err(err) = keys.get("a", Instant::now()).await else { panic!("an oversized key set must be refused") };
        assert!(matches!(err, KeyError::Download { error: DownloadError::TooLarge(MAX_JWKS_BYTES), .. }), "{err}");
        assert!(err.to_string().ends_with(&format!(": the JWK set is larger than {MAX_JWKS_BYTES} bytes")), "{err}");
    }
}
