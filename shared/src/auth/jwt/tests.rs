//! End-to-end-shaped tests of `auth/validator`: real keys generated here sign real tokens, and
//! the key sets are served over HTTP on 127.0.0.1 by a small hyper server that counts its hits.
//! Time is injected (`check_at`) rather than paused, so real sockets and timers never interact.

use super::*;
use crate::transport::HttpClient;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http_body_util::Full;
use hyper::body::Bytes;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

// ---------- keys and tokens ----------

enum Signer {
    Rsa(Arc<RsaKeyPair>, &'static dyn signature::RsaEncoding),
    Ec(EcdsaKeyPair, &'static str, usize),
    Ed(Ed25519KeyPair),
    Hmac(Vec<u8>),
}

struct TestKey {
    kid: String,
    alg: &'static str,
    signer: Signer,
}

fn rsa_pair(slot: usize) -> Arc<RsaKeyPair> {
    static PAIRS: [OnceLock<Arc<RsaKeyPair>>; 2] = [OnceLock::new(), OnceLock::new()];
    PAIRS[slot]
        .get_or_init(|| Arc::new(RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("rsa key")))
        .clone()
}

impl TestKey {
    fn rs256(kid: &str) -> TestKey {
        TestKey { kid: kid.into(), alg: "RS256", signer: Signer::Rsa(rsa_pair(0), &signature::RSA_PKCS1_SHA256) }
    }
    /// Another RSA key pair, for "signed by the wrong key".
    fn rs256_other(kid: &str) -> TestKey {
        TestKey { kid: kid.into(), alg: "RS256", signer: Signer::Rsa(rsa_pair(1), &signature::RSA_PKCS1_SHA256) }
    }
    fn ps384(kid: &str) -> TestKey {
        TestKey { kid: kid.into(), alg: "PS384", signer: Signer::Rsa(rsa_pair(0), &signature::RSA_PSS_SHA384) }
    }
    fn ec(kid: &str, alg: &'static str) -> TestKey {
        let (a, crv, len) = match alg {
            "ES256" => (&signature::ECDSA_P256_SHA256_FIXED_SIGNING, "P-256", 32),
            "ES384" => (&signature::ECDSA_P384_SHA384_FIXED_SIGNING, "P-384", 48),
            _ => (&signature::ECDSA_P521_SHA512_FIXED_SIGNING, "P-521", 66),
        };
        TestKey { kid: kid.into(), alg, signer: Signer::Ec(EcdsaKeyPair::generate(a).unwrap(), crv, len) }
    }
    fn eddsa(kid: &str) -> TestKey {
        TestKey { kid: kid.into(), alg: "EdDSA", signer: Signer::Ed(Ed25519KeyPair::generate().unwrap()) }
    }
    fn hs256(kid: &str, secret: &[u8]) -> TestKey {
        TestKey { kid: kid.into(), alg: "HS256", signer: Signer::Hmac(secret.to_vec()) }
    }

    fn jwk(&self) -> Value {
        let b = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
        match &self.signer {
            Signer::Rsa(kp, _) => {
                let (n, e) = rsa_public_components(kp.public_key().as_ref());
                json!({"kty": "RSA", "kid": self.kid, "use": "sig", "alg": self.alg, "n": b(&n), "e": b(&e)})
            }
            Signer::Ec(kp, crv, len) => {
                let p = kp.public_key().as_ref();
                json!({"kty": "EC", "kid": self.kid, "crv": crv, "x": b(&p[1..1 + len]), "y": b(&p[1 + len..])})
            }
            Signer::Ed(kp) => {
                json!({"kty": "OKP", "kid": self.kid, "crv": "Ed25519", "x": b(kp.public_key().as_ref())})
            }
            Signer::Hmac(k) => json!({"kty": "oct", "kid": self.kid, "alg": "HS256", "k": b(k)}),
        }
    }

    fn sign_raw(&self, msg: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match &self.signer {
            Signer::Rsa(kp, enc) => {
                let mut sig = vec![0; kp.public_modulus_len()];
                kp.sign(*enc, &rng, msg, &mut sig).unwrap();
                sig
            }
            Signer::Ec(kp, ..) => kp.sign(&rng, msg).unwrap().as_ref().to_vec(),
            Signer::Ed(kp) => kp.sign(msg).as_ref().to_vec(),
            Signer::Hmac(k) => aws_lc_rs::hmac::sign(&aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, k), msg)
                .as_ref()
                .to_vec(),
        }
    }

    fn sign(&self, header: &Value, claims: &Value) -> String {
        let signing_input =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
        let sig = self.sign_raw(signing_input.as_bytes());
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }

    fn token(&self, claims: &Value) -> String {
        self.sign(&json!({"alg": self.alg, "typ": "JWT", "kid": self.kid}), claims)
    }
}

/// `n` and `e` of a DER `RSAPublicKey` (`SEQUENCE { INTEGER n, INTEGER e }`), leading zeros off.
fn rsa_public_components(der: &[u8]) -> (Vec<u8>, Vec<u8>) {
    fn read(der: &[u8]) -> (u8, &[u8], &[u8]) {
        let (tag, len_byte) = (der[0], der[1]);
        let (len, start) = if len_byte < 0x80 {
            (usize::from(len_byte), 2)
        } else {
            let n = usize::from(len_byte & 0x7f);
            (der[2..2 + n].iter().fold(0, |acc, b| (acc << 8) | usize::from(*b)), 2 + n)
        };
        (tag, &der[start..start + len], &der[start + len..])
    }
    let (_, seq, _) = read(der);
    let (_, n, rest) = read(seq);
    let (_, e, _) = read(rest);
    let strip = |v: &[u8]| v.iter().skip_while(|b| **b == 0).copied().collect();
    (strip(n), strip(e))
}

fn jwks(keys: &[&TestKey]) -> String {
    json!({"keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()}).to_string()
}

fn unix_now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64()
}

/// Claims that pass the usual test config.
fn good_claims() -> Value {
    let now = unix_now() as i64;
    json!({"sub": "user-1", "iss": "https://idp.test", "aud": ["api"], "exp": now + 600, "iat": now, "nbf": now - 5,
           "roles": ["user", "admin"], "scope": "read write", "realm_access": {"roles": ["r1", "r2"]}})
}

fn with(mut claims: Value, key: &str, v: Value) -> Value {
    claims.as_object_mut().unwrap().insert(key.to_owned(), v);
    claims
}

fn bearer(token: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(http::header::AUTHORIZATION, HeaderValue::from_str(&format!("Bearer {token}")).unwrap());
    h
}

// ---------- the JWKS server ----------

struct JwksServer {
    url: String,
    hits: Arc<AtomicUsize>,
    body: Arc<Mutex<String>>,
    content_type: Arc<Mutex<&'static str>>,
}

impl JwksServer {
    async fn start(body: String) -> JwksServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/.well-known/jwks.json", listener.local_addr().unwrap());
        let hits = Arc::new(AtomicUsize::new(0));
        let body = Arc::new(Mutex::new(body));
        let content_type = Arc::new(Mutex::new("application/json"));
        let (h, b, c) = (hits.clone(), body.clone(), content_type.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                let (h, b, c) = (h.clone(), b.clone(), c.clone());
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |_req: hyper::Request<hyper::body::Incoming>| {
                        h.fetch_add(1, Ordering::SeqCst);
                        let resp = hyper::Response::builder()
                            .header("content-type", *c.lock().unwrap())
                            .body(Full::new(Bytes::from(b.lock().unwrap().clone())))
                            .unwrap();
                        async move { Ok::<_, std::convert::Infallible>(resp) }
                    });
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, svc).await;
                });
            }
        });
        JwksServer { url, hits, body, content_type }
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

fn client() -> HttpClient {
    HttpClient::new(&crate::transport::ClientSettings::default())
}

fn config(v: Value) -> JwtConfig {
    serde_json::from_value(v).expect("config")
}

fn remote(url: &str, alg: &str, extra: Value) -> JwtValidator {
    let mut cfg = json!({"alg": alg, "jwk_url": url, "disable_jwk_security": true, "cache": true});
    for (k, v) in extra.as_object().unwrap() {
        cfg[k] = v.clone();
    }
    JwtValidator::new(&config(cfg), client()).expect("validator")
}

async fn check(v: &JwtValidator, headers: &HeaderMap, now: Instant) -> Result<Claims, Rejection> {
    v.check_at(headers, now, unix_now()).await
}

fn is_unauthorized(r: &Result<Claims, Rejection>) -> bool {
    matches!(r, Err(Rejection::Unauthorized(_)))
}

// ---------- tests ----------

#[tokio::test]
async fn a_valid_token_passes_for_every_key_type_and_its_claims_come_back() {
    let keys = [
        TestKey::rs256("rsa"),
        TestKey::ps384("pss"),
        TestKey::ec("p256", "ES256"),
        TestKey::ec("p384", "ES384"),
        TestKey::ec("p521", "ES512"),
        TestKey::eddsa("ed"),
        TestKey::hs256("hmac", b"a shared secret of thirty-two bytes!"),
    ];
    let server = JwksServer::start(jwks(&keys.iter().collect::<Vec<_>>())).await;
    for key in &keys {
        let v = remote(&server.url, key.alg, json!({"issuer": "https://idp.test", "audience": ["api"]}));
        let got = check(&v, &bearer(&key.token(&good_claims())), Instant::now()).await;
        let claims = got.unwrap_or_else(|e| panic!("{}: {e:?}", key.alg));
        assert_eq!(claims.get("sub").as_deref(), Some("user-1"), "{}", key.alg);
        assert_eq!(claims.get("realm_access.roles").as_deref(), Some("r1,r2"));
    }
}

#[tokio::test]
async fn bad_tokens_are_unauthorized() {
    let key = TestKey::rs256("k1");
    let server = JwksServer::start(jwks(&[&key])).await;
    let v = remote(&server.url, "RS256", json!({"issuer": "https://idp.test", "audience": ["api"]}));
    let now = unix_now() as i64;
    let good = key.token(&good_claims());
    let mut tampered_payload = good.clone();
    let dot = tampered_payload.find('.').unwrap();
    let other_payload = URL_SAFE_NO_PAD.encode(with(good_claims(), "sub", json!("admin")).to_string());
    let end = tampered_payload.rfind('.').unwrap();
    tampered_payload.replace_range(dot + 1..end, &other_payload);
    let mut tampered_sig = good.clone();
    let mid = tampered_sig.len() - 20;
    let c = if &tampered_sig[mid..=mid] == "A" { "B" } else { "A" };
    tampered_sig.replace_range(mid..=mid, c);
    let none_header = URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": "JWT", "kid": "k1"}).to_string());
    let body = URL_SAFE_NO_PAD.encode(good_claims().to_string());
    // The classic confusion: an HS256 token keyed with the RSA public key's bytes.
    let confused = TestKey::hs256("k1", key.jwk()["n"].as_str().unwrap().as_bytes()).token(&good_claims());
    let no_iss: Value = good_claims().as_object().unwrap().clone().into_iter().filter(|(k, _)| k != "iss").collect();
    // (case, token, a word of the logged reason)
    let cases: Vec<(&str, String, &str)> = vec![
        ("expired", key.token(&with(good_claims(), "exp", json!(now - 120))), "expired"),
        ("not yet valid", key.token(&with(good_claims(), "nbf", json!(now + 120))), "not valid yet"),
        ("issued in the future", key.token(&with(good_claims(), "iat", json!(now + 120))), "future"),
        ("wrong issuer", key.token(&with(good_claims(), "iss", json!("https://evil.test"))), "issuer"),
        ("no issuer", key.token(&no_iss), "issuer"),
        ("wrong audience", key.token(&with(good_claims(), "aud", json!(["other"]))), "audience"),
        ("wrong key", TestKey::rs256_other("k1").token(&good_claims()), "bad signature"),
        ("unknown kid", TestKey::rs256("nope").token(&good_claims()), "no key `nope`"),
        ("alg none", format!("{none_header}.{body}."), "alg `none`"),
        ("alg confusion", confused, "alg `HS256`"),
        ("tampered payload", tampered_payload, "bad signature"),
        ("tampered signature", tampered_sig, "bad signature"),
        ("malformed: one part", "abc".to_owned(), "compact"),
        ("malformed: two parts", format!("{none_header}.{body}"), "compact"),
        ("malformed: four parts", format!("{good}.x"), "compact"),
        ("malformed: not base64", "!!!.???.***".to_owned(), "header"),
        ("malformed: header not JSON", format!("{}.{body}.sig", URL_SAFE_NO_PAD.encode("nope")), "header"),
        ("payload not an object", key.sign(&json!({"alg": "RS256", "kid": "k1"}), &json!(["x"])), "payload"),
        ("crit header", key.sign(&json!({"alg": "RS256", "kid": "k1", "crit": ["exp"]}), &good_claims()), "critical"),
    ];
    let t0 = Instant::now();
    for (name, token, reason) in cases {
        match check(&v, &bearer(&token), t0).await {
            Err(Rejection::Unauthorized(why)) => assert!(why.contains(reason), "{name}: 401 but for `{why}`"),
            other => panic!("{name} should be 401, got {other:?}"),
        }
    }
    assert!(is_unauthorized(&check(&v, &HeaderMap::new(), t0).await), "no token should be 401");
    let mut basic = HeaderMap::new();
    basic.insert(http::header::AUTHORIZATION, HeaderValue::from_static("Basic dXNlcjpwYXNz"));
    assert!(is_unauthorized(&check(&v, &basic, t0).await), "a non-Bearer header should be 401");
    assert!(check(&v, &bearer(&good), t0).await.is_ok(), "the untouched token still passes");
}

#[tokio::test]
async fn a_missing_role_or_scope_is_forbidden() {
    let key = TestKey::ec("k1", "ES256");
    let server = JwksServer::start(jwks(&[&key])).await;
    let t0 = Instant::now();
    let roles = remote(&server.url, "ES256", json!({"roles": ["admin", "ops"]}));
    assert!(check(&roles, &bearer(&key.token(&good_claims())), t0).await.is_ok());
    let no_admin = key.token(&with(good_claims(), "roles", json!(["user"])));
    assert!(matches!(check(&roles, &bearer(&no_admin), t0).await, Err(Rejection::Forbidden(_))));
    let no_roles = key.token(&json!({"sub": "x"}));
    assert!(matches!(check(&roles, &bearer(&no_roles), t0).await, Err(Rejection::Forbidden(_))));

    let nested = remote(
        &server.url,
        "ES256",
        json!({"roles_key": "realm_access.roles", "roles_key_is_nested": true, "roles": ["r2"]}),
    );
    assert!(check(&nested, &bearer(&key.token(&good_claims())), t0).await.is_ok());
    let not_nested = remote(&server.url, "ES256", json!({"roles_key": "realm_access.roles", "roles": ["r2"]}));
    let r = check(&not_nested, &bearer(&key.token(&good_claims())), t0).await;
    assert!(matches!(r, Err(Rejection::Forbidden(_))), "without roles_key_is_nested the dotted key is literal");

    let all = remote(
        &server.url,
        "ES256",
        json!({"scopes_key": "scope", "scopes": ["read", "delete"], "scopes_matcher": "all"}),
    );
    let any = remote(&server.url, "ES256", json!({"scopes_key": "scope", "scopes": ["read", "delete"]}));
    let token = key.token(&good_claims());
    assert!(matches!(check(&all, &bearer(&token), t0).await, Err(Rejection::Forbidden(_))));
    assert!(check(&any, &bearer(&token), t0).await.is_ok());
    let listed = key.token(&with(good_claims(), "scope", json!(["delete", "read"])));
    assert!(check(&all, &bearer(&listed), t0).await.is_ok());
    let nested_scopes =
        remote(&server.url, "ES256", json!({"scopes_key": "data.scp", "scopes": ["x"], "scopes_matcher": "any"}));
    let with_nested = key.token(&with(good_claims(), "data", json!({"scp": "y x"})));
    assert!(check(&nested_scopes, &bearer(&with_nested), t0).await.is_ok());
    assert!(matches!(check(&nested_scopes, &bearer(&token), t0).await, Err(Rejection::Forbidden(_))));

    // A bad token is 401 even when it also lacks the role: the signature is checked first.
    let expired = key.token(&json!({"exp": unix_now() as i64 - 100}));
    assert!(is_unauthorized(&check(&roles, &bearer(&expired), t0).await));
}

#[tokio::test]
async fn unknown_kids_refresh_the_key_set_at_most_once_per_second() {
    let key = TestKey::rs256("k1");
    let server = JwksServer::start(jwks(&[&key])).await;
    let v = remote(&server.url, "RS256", json!({}));
    let t0 = Instant::now();
    assert!(check(&v, &bearer(&key.token(&good_claims())), t0).await.is_ok());
    assert_eq!(server.hits(), 1);
    // A flood of unknown kids within the same second: no download at all.
    for i in 0..50 {
        let t = TestKey::rs256(&format!("random-{i}")).token(&good_claims());
        assert!(is_unauthorized(&check(&v, &bearer(&t), t0 + Duration::from_millis(10 * i)).await));
    }
    assert_eq!(server.hits(), 1);
    // Known kids are still served from the cache meanwhile.
    assert!(check(&v, &bearer(&key.token(&good_claims())), t0 + Duration::from_millis(900)).await.is_ok());
    // After the floor, one unknown kid downloads once; the next ones wait for the next second.
    let t1 = t0 + Duration::from_millis(1500);
    for i in 0..20 {
        let t = TestKey::rs256(&format!("again-{i}")).token(&good_claims());
        assert!(is_unauthorized(&check(&v, &bearer(&t), t1).await));
    }
    assert_eq!(server.hits(), 2);
    // Keys rotate at the identity provider: the new kid is found on the next allowed refresh.
    let rotated = TestKey::eddsa("k2");
    let v_ed = remote(&server.url, "EdDSA", json!({}));
    *server.body.lock().unwrap() = jwks(&[&key, &rotated]);
    assert!(check(&v_ed, &bearer(&rotated.token(&good_claims())), t1).await.is_ok());
    assert_eq!(server.hits(), 3, "another validator has its own cache");
    let t2 = t1 + Duration::from_secs(2);
    let newer = TestKey::rs256_other("k3");
    *server.body.lock().unwrap() = jwks(&[&key, &newer]);
    assert!(check(&v, &bearer(&newer.token(&good_claims())), t2).await.is_ok());
    assert_eq!(server.hits(), 4);
}

#[tokio::test]
async fn concurrent_unknown_kids_share_one_download() {
    let key = TestKey::ec("k1", "ES256");
    let server = JwksServer::start(jwks(&[&key])).await;
    let v = Arc::new(remote(&server.url, "ES256", json!({})));
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..40 {
        let v = v.clone();
        let token =
            if i % 2 == 0 { key.token(&good_claims()) } else { TestKey::ec("zz", "ES256").token(&good_claims()) };
        tasks.push(tokio::spawn(async move { check(&v, &bearer(&token), t0).await.is_ok() }));
    }
    let mut passed = 0;
    for t in tasks {
        passed += usize::from(t.await.unwrap());
    }
    assert_eq!(passed, 20);
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn the_key_set_is_kept_for_cache_duration_or_one_second_without_cache() {
    let key = TestKey::rs256("k1");
    let server = JwksServer::start(jwks(&[&key])).await;
    let token = key.token(&good_claims());
    let t0 = Instant::now();
    let cached = remote(&server.url, "RS256", json!({"cache_duration": 60}));
    for s in [0, 30, 59] {
        assert!(check(&cached, &bearer(&token), t0 + Duration::from_secs(s)).await.is_ok());
    }
    assert_eq!(server.hits(), 1);
    assert!(check(&cached, &bearer(&token), t0 + Duration::from_secs(61)).await.is_ok());
    assert_eq!(server.hits(), 2, "the set is downloaded again once cache_duration has passed");

    let uncached = remote(&server.url, "RS256", json!({"cache": false}));
    for ms in [0, 200, 900] {
        assert!(check(&uncached, &bearer(&token), t0 + Duration::from_millis(ms)).await.is_ok());
    }
    assert_eq!(server.hits(), 3, "without cache: one download per second at most");
    assert!(check(&uncached, &bearer(&token), t0 + Duration::from_millis(1100)).await.is_ok());
    assert_eq!(server.hits(), 4);
}

#[tokio::test]
async fn an_unusable_key_server_gives_unauthorized_and_is_retried_after_the_cooldown() {
    let key = TestKey::rs256("k1");
    let server = JwksServer::start(jwks(&[&key])).await;
    *server.content_type.lock().unwrap() = "text/html";
    let v = remote(&server.url, "RS256", json!({"failed_jwk_key_cooldown": "5s"}));
    let token = key.token(&good_claims());
    let t0 = Instant::now();
    assert!(is_unauthorized(&check(&v, &bearer(&token), t0).await), "wrong content type");
    *server.content_type.lock().unwrap() = "application/jwk-set+json; charset=utf-8";
    assert!(is_unauthorized(&check(&v, &bearer(&token), t0 + Duration::from_secs(2)).await), "cooling down");
    assert_eq!(server.hits(), 1);
    assert!(check(&v, &bearer(&token), t0 + Duration::from_secs(6)).await.is_ok());
    assert_eq!(server.hits(), 2);

    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead_url = format!("http://{}/jwks", closed.local_addr().unwrap());
    drop(closed);
    let dead = remote(&dead_url, "RS256", json!({}));
    assert!(is_unauthorized(&check(&dead, &bearer(&token), t0).await), "unreachable key server");
}

#[tokio::test]
async fn the_token_comes_from_the_bearer_header_or_else_the_cookie() {
    let key = TestKey::hs256("k1", b"0123456789abcdef0123456789abcdef");
    let server = JwksServer::start(jwks(&[&key])).await;
    let token = key.token(&good_claims());
    let t0 = Instant::now();
    let cookie_headers = |c: &str| {
        let mut h = HeaderMap::new();
        h.insert(http::header::COOKIE, HeaderValue::from_str(c).unwrap());
        h
    };
    let default = remote(&server.url, "HS256", json!({}));
    assert!(check(&default, &cookie_headers(&format!("theme=dark; access_token={token}")), t0).await.is_ok());
    assert!(is_unauthorized(&check(&default, &cookie_headers(&format!("TOKEN={token}")), t0).await));
    let named = remote(&server.url, "HS256", json!({"cookie_key": "TOKEN"}));
    assert!(check(&named, &cookie_headers(&format!("TOKEN=\"{token}\"")), t0).await.is_ok());
    let mut lower = HeaderMap::new();
    lower.insert(http::header::AUTHORIZATION, HeaderValue::from_str(&format!("bearer {token}")).unwrap());
    assert!(check(&default, &lower, t0).await.is_ok(), "the scheme is case-insensitive");
    // The header wins over the cookie: a bad header token is not rescued by a good cookie.
    let mut both = bearer("not.a.token");
    both.insert(http::header::COOKIE, HeaderValue::from_str(&format!("access_token={token}")).unwrap());
    assert!(is_unauthorized(&check(&default, &both, t0).await));
    let custom = remote(&server.url, "HS256", json!({"auth_header_name": "X-Auth"}));
    let mut h = HeaderMap::new();
    h.insert("x-auth", HeaderValue::from_str(&format!("Bearer {token}")).unwrap());
    assert!(check(&custom, &h, t0).await.is_ok());
    assert!(is_unauthorized(&check(&custom, &bearer(&token), t0).await));
}

#[tokio::test]
async fn claims_are_propagated_as_headers_that_replace_the_clients() {
    let key = TestKey::eddsa("k1");
    let server = JwksServer::start(jwks(&[&key])).await;
    let props = json!({"propagate_claims": [
        ["sub", "x-user"], ["realm_access.roles", "x-roles"], ["roles", "x-all-roles"],
        ["missing", "x-missing"], ["http://example.com/tenant", "x-tenant"], ["n", "x-n"]
    ]});
    let v = remote(&server.url, "EdDSA", props.clone());
    let claims = with(with(good_claims(), "http://example.com/tenant", json!("t1")), "n", json!(7));
    let got = check(&v, &bearer(&key.token(&claims)), Instant::now()).await.unwrap();
    let headers: Vec<(String, String)> = v
        .propagated_headers(&got)
        .into_iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap().to_owned()))
        .collect();
    let pairs = |list: &[(&str, &str)]| list.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect::<Vec<_>>();
    assert_eq!(
        headers,
        pairs(&[
            ("x-user", "user-1"),
            ("x-roles", "r1,r2"),
            ("x-all-roles", "user,admin"),
            ("x-missing", ""),
            ("x-tenant", "t1"),
            ("x-n", "7")
        ])
    );
    let mut cfg = props;
    cfg["propagate_claims_preserve_array"] = json!(true);
    let v = remote(&server.url, "EdDSA", cfg);
    let roles: Vec<String> = v
        .propagated_headers(&got)
        .into_iter()
        .filter(|(k, _)| k == "x-roles")
        .map(|(_, v)| v.to_str().unwrap().to_owned())
        .collect();
    assert_eq!(roles, ["r1", "r2"]);
}

#[tokio::test]
async fn a_local_jwks_file_is_read_at_start() {
    let key = TestKey::rs256("local");
    let path = std::env::temp_dir().join(format!("tributary-jwt-{}.json", std::process::id()));
    std::fs::write(&path, jwks(&[&key])).unwrap();
    let cfg = config(json!({"alg": "RS256", "jwk_local_path": path.to_str().unwrap()}));
    let v = JwtValidator::new(&cfg, client()).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert!(check(&v, &bearer(&key.token(&good_claims())), Instant::now()).await.is_ok());
    let other = TestKey::rs256("other").token(&good_claims());
    assert!(is_unauthorized(&check(&v, &bearer(&other), Instant::now()).await));
    let missing = config(json!({"alg": "RS256", "jwk_local_path": path.to_str().unwrap()}));
    assert!(JwtValidator::new(&missing, client()).is_err(), "the file is gone");
}

#[tokio::test]
async fn x5t_identifies_keys_when_configured() {
    let key = TestKey::ec("kid-1", "ES384");
    let mut jwk = key.jwk();
    jwk["x5t"] = json!("dGh1bWJwcmludA==");
    let server = JwksServer::start(json!({"keys": [jwk]}).to_string()).await;
    let v = remote(&server.url, "ES384", json!({"key_identify_strategy": "x5t"}));
    let token = key.sign(&json!({"alg": "ES384", "kid": "whatever", "x5t": "dGh1bWJwcmludA"}), &good_claims());
    assert!(check(&v, &bearer(&token), Instant::now()).await.is_ok());
}

#[test]
fn configs_krakend_would_refuse_or_serve_unprotected_are_errors() {
    let err = |v: Value| JwtValidator::new(&config(v), client()).err().expect("should be refused").to_string();
    assert_eq!(err(json!({"jwk_url": "https://idp.test/jwks"})), "`alg` is required");
    assert!(err(json!({"alg": "none", "jwk_url": "https://idp.test/jwks"})).contains("unknown algorithm"));
    assert!(err(json!({"alg": "RS256"})).contains("jwk_url"));
    assert!(err(json!({"alg": "RS256", "jwk_url": "http://idp.test/jwks"})).contains("disable_jwk_security"));
    assert!(
        err(json!({"alg": "RS256", "jwk_url": "ftp://idp.test/jwks", "disable_jwk_security": true})).contains("scheme")
    );
    let base = |k: &str, v: Value| {
        let mut c = json!({"alg": "RS256", "jwk_url": "https://idp.test/jwks"});
        c[k] = v;
        c
    };
    assert!(err(base("scopes_matcher", json!("most"))).contains("scopes_matcher"));
    assert!(err(base("key_identify_strategy", json!("thumb"))).contains("key_identify_strategy"));
    assert!(err(base("propagate_claims", json!([["sub"]]))).contains("propagate_claims[0]"));
    assert!(err(base("propagate_claims", json!([["sub", "bad header"]]))).contains("header name"));
    let local = json!({"alg": "RS256", "jwk_local_path": "no-such-file.json", "secret_url": "base64key://x"});
    assert!(err(local).contains("encrypted"));
    assert!(JwtValidator::new(&config(base("audience", json!(["a"]))), client()).is_ok());
}

#[test]
fn every_krakend_key_is_read_and_the_ones_without_effect_are_listed() {
    let text = r#"{
        "alg": "RS256", "jwk_url": "https://idp.test/jwks", "jwk_local_path": "", "cache": true, "cache_duration": 60,
        "failed_jwk_key_cooldown": "10s", "disable_jwk_security": false, "jwk_fingerprints": ["abc"],
        "jwk_local_ca": "ca.pem", "cipher_suites": [49199], "secret_url": "", "cypher_key": "",
        "key_identify_strategy": "kid", "issuer": "i", "audience": ["a"], "leeway": "2s", "roles": ["r"],
        "roles_key": "roles", "roles_key_is_nested": false, "scopes": ["s"], "scopes_key": "scope",
        "scopes_matcher": "any", "cookie_key": "c", "auth_header_name": "Authorization",
        "propagate_claims": [["sub", "x-user"]], "propagate_claims_preserve_array": false,
        "operation_debug": true, "@comment": "all keys"
    }"#;
    let mut unknown = Vec::new();
    let de = &mut serde_json::Deserializer::from_str(text);
    let cfg: JwtConfig = serde_ignored::deserialize(de, |p| unknown.push(p.to_string())).unwrap();
    assert!(unknown.is_empty(), "{unknown:?}");
    assert_eq!(cfg.ignored_keys(), ["cipher_suites", "jwk_fingerprints", "jwk_local_ca"]);
    let v = JwtValidator::new(&cfg, client()).unwrap();
    assert_eq!(v.leeway_secs, 2.0);
    assert!(v.debug);
}

#[tokio::test]
async fn the_rejecter_refuses_a_valid_token_with_401_before_the_role_check() {
    let key = TestKey::ec("k1", "ES256");
    let server = JwksServer::start(jwks(&[&key])).await;
    let t0 = Instant::now();
    let mut v = remote(&server.url, "ES256", json!({"roles": ["admin"]}));
    v.set_rejecter(Box::new(|claims| {
        if claims.get("sub").and_then(Value::as_str) == Some("blocked") { Err("blocked".to_owned()) } else { Ok(()) }
    }));
    assert!(check(&v, &bearer(&key.token(&good_claims())), t0).await.is_ok());
    // Rejected and lacking the role: the rejecter answers first (401, not 403), as krakend-jose.
    let blocked = key.token(&with(with(good_claims(), "sub", json!("blocked")), "roles", json!(["user"])));
    assert!(is_unauthorized(&check(&v, &bearer(&blocked), t0).await));
}

#[tokio::test]
async fn an_es512_token_with_a_changed_signature_or_payload_is_unauthorized() {
    let key = TestKey::ec("p521", "ES512");
    let server = JwksServer::start(jwks(&[&key])).await;
    let v = remote(&server.url, "ES512", json!({"issuer": "https://idp.test", "audience": ["api"]}));
    let good = key.token(&good_claims());
    assert!(check(&v, &bearer(&good), Instant::now()).await.is_ok(), "the untouched token passes");
    let mut sig = good.clone();
    let mid = sig.len() - 20;
    let c = if &sig[mid..=mid] == "A" { "B" } else { "A" };
    sig.replace_range(mid..=mid, c);
    let mut payload = good.clone();
    let (dot, end) = (payload.find('.').unwrap(), payload.rfind('.').unwrap());
    payload
        .replace_range(dot + 1..end, &URL_SAFE_NO_PAD.encode(with(good_claims(), "sub", json!("admin")).to_string()));
    for (case, token) in [("signature", sig), ("payload", payload)] {
        let got = check(&v, &bearer(&token), Instant::now()).await;
        assert!(matches!(got, Err(Rejection::Unauthorized(_))), "changed {case}: {got:?}");
    }
}
