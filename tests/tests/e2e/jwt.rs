//! `auth/validator` end to end, through the gateway served on a real socket: keys generated here
//! (RS256, ES256, EdDSA, an HS256 `oct` key) are published as a JWK Set by a small hyper server on
//! 127.0.0.1 that counts its hits, tokens are signed with the matching private keys, and a raw TCP
//! backend records the path and headers it receives. Every wait is bounded.

use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http_body_util::Full;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tributary_core::Gateway;
use tributary_e2e::chaos::{Backend, Outcome, Reply, Served, exchange};
use tributary_e2e::doors::lambda_get;
use tributary_e2e::record::{Recorder, Seen};

/// Longest wait for one answer of the gateway: generous on purpose (slow CI); it only catches hangs.
const LIMIT: Duration = Duration::from_secs(10);

const ISSUER: &str = "https://issuer.test";

// ---------- keys and tokens ----------

enum Signer {
    Rsa(Arc<RsaKeyPair>),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
    Hmac(Vec<u8>),
}

/// A signing key and its `kid`; [`TestKey::jwk`] is its public half as the JWK Set publishes it.
struct TestKey {
    kid: String,
    alg: &'static str,
    signer: Signer,
}

/// Two RSA key pairs shared by all tests (generating one takes a while).
fn rsa_pair(slot: usize) -> Arc<RsaKeyPair> {
    static PAIRS: [OnceLock<Arc<RsaKeyPair>>; 2] = [OnceLock::new(), OnceLock::new()];
    PAIRS[slot]
        .get_or_init(|| Arc::new(RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("an RSA key")))
        .clone()
}

impl TestKey {
    fn rs256(kid: &str) -> TestKey {
        TestKey { kid: kid.into(), alg: "RS256", signer: Signer::Rsa(rsa_pair(0)) }
    }

    /// Another RSA key pair, for "signed by another key".
    fn rs256_other(kid: &str) -> TestKey {
        TestKey { kid: kid.into(), alg: "RS256", signer: Signer::Rsa(rsa_pair(1)) }
    }

    fn es256(kid: &str) -> TestKey {
        let pair = EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING).expect("a P-256 key");
        TestKey { kid: kid.into(), alg: "ES256", signer: Signer::Ec(pair) }
    }

    fn eddsa(kid: &str) -> TestKey {
        TestKey {
            kid: kid.into(),
            alg: "EdDSA",
            signer: Signer::Ed(Ed25519KeyPair::generate().expect("an Ed25519 key")),
        }
    }

    fn hs256(kid: &str) -> TestKey {
        TestKey {
            kid: kid.into(),
            alg: "HS256",
            signer: Signer::Hmac(b"a shared secret of thirty-two bytes!".to_vec()),
        }
    }

    /// The same key under another `kid`.
    fn renamed(&self, kid: &str) -> TestKey {
        let signer = match &self.signer {
            Signer::Rsa(kp) => Signer::Rsa(kp.clone()),
            Signer::Hmac(k) => Signer::Hmac(k.clone()),
            _ => panic!("only RSA and HMAC keys are renamed"),
        };
        TestKey { kid: kid.into(), alg: self.alg, signer }
    }

    fn jwk(&self) -> Value {
        let b = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
        match &self.signer {
            Signer::Rsa(kp) => {
                let (n, e) = rsa_public_components(kp.public_key().as_ref());
                json!({"kty": "RSA", "kid": self.kid, "use": "sig", "alg": self.alg, "n": b(&n), "e": b(&e)})
            }
            Signer::Ec(kp) => {
                let p = kp.public_key().as_ref();
                json!({"kty": "EC", "kid": self.kid, "use": "sig", "crv": "P-256", "x": b(&p[1..33]), "y": b(&p[33..])})
            }
            Signer::Ed(kp) => {
                json!({"kty": "OKP", "kid": self.kid, "use": "sig", "crv": "Ed25519", "x": b(kp.public_key().as_ref())})
            }
            Signer::Hmac(k) => json!({"kty": "oct", "kid": self.kid, "alg": "HS256", "k": b(k)}),
        }
    }

    fn sign_raw(&self, msg: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match &self.signer {
            Signer::Rsa(kp) => {
                let mut sig = vec![0; kp.public_modulus_len()];
                kp.sign(&signature::RSA_PKCS1_SHA256, &rng, msg, &mut sig).expect("RSA signature");
                sig
            }
            Signer::Ec(kp) => kp.sign(&rng, msg).expect("ECDSA signature").as_ref().to_vec(),
            Signer::Ed(kp) => kp.sign(msg).as_ref().to_vec(),
            Signer::Hmac(k) => {
                let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, k);
                aws_lc_rs::hmac::sign(&key, msg).as_ref().to_vec()
            }
        }
    }

    /// A compact JWS of `claims` under `header`.
    fn sign(&self, header: &Value, claims: &Value) -> String {
        let input =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
        let sig = self.sign_raw(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }

    fn token(&self, claims: &Value) -> String {
        self.sign(&json!({"alg": self.alg, "typ": "JWT", "kid": self.kid}), claims)
    }
}

/// `n` and `e` of a DER `RSAPublicKey` (`SEQUENCE { INTEGER n, INTEGER e }`), leading zeros off.
fn rsa_public_components(der: &[u8]) -> (Vec<u8>, Vec<u8>) {
    fn read(der: &[u8]) -> (&[u8], &[u8]) {
        let len_byte = der[1];
        let (len, start) = if len_byte < 0x80 {
            (usize::from(len_byte), 2)
        } else {
            let n = usize::from(len_byte & 0x7f);
            (der[2..2 + n].iter().fold(0, |acc, b| (acc << 8) | usize::from(*b)), 2 + n)
        };
        (&der[start..start + len], &der[start + len..])
    }
    let (seq, _) = read(der);
    let (n, rest) = read(seq);
    let (e, _) = read(rest);
    let strip = |v: &[u8]| v.iter().skip_while(|b| **b == 0).copied().collect();
    (strip(n), strip(e))
}

fn jwks(keys: &[&TestKey]) -> String {
    json!({"keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()}).to_string()
}

fn unix_now() -> i64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock after 1970");
    i64::try_from(now.as_secs()).expect("a sane clock")
}

/// Claims that pass [`validator`]'s checks.
fn good_claims() -> Value {
    let now = unix_now();
    json!({"sub": "user-1", "iss": ISSUER, "aud": ["api"], "exp": now + 600, "iat": now, "nbf": now - 5,
           "roles": ["admin"], "scope": "read write"})
}

fn with(mut claims: Value, key: &str, v: Value) -> Value {
    claims.as_object_mut().expect("claims are an object")[key] = v;
    claims
}

/// A `kid` no key set holds: 16 random hex digits.
fn random_kid() -> String {
    let mut bytes = [0u8; 8];
    SystemRandom::new().fill(&mut bytes).expect("random bytes");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// ---------- the JWK Set server ----------

/// A JWK Set served over plain HTTP on 127.0.0.1; it records the instant of every hit, and its
/// document can be replaced (key rotation). Dropping it stops it.
struct JwksServer {
    url: String,
    hits: Arc<Mutex<Vec<Instant>>>,
    body: Arc<Mutex<String>>,
    task: tokio::task::JoinHandle<()>,
}

impl JwksServer {
    async fn start(body: String) -> JwksServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the JWKS server");
        let url = format!("http://{}/jwks.json", listener.local_addr().expect("JWKS server address"));
        let hits = Arc::new(Mutex::new(Vec::new()));
        let body = Arc::new(Mutex::new(body));
        let (h, b) = (hits.clone(), body.clone());
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((stream, _)) = accepted else { continue };
                        let (h, b) = (h.clone(), b.clone());
                        connections.spawn(async move {
                            let svc = hyper::service::service_fn(move |_req: hyper::Request<hyper::body::Incoming>| {
                                h.lock().expect("hits lock").push(Instant::now());
                                let resp = hyper::Response::builder()
                                    .header("content-type", "application/json")
                                    .body(Full::new(Bytes::from(b.lock().expect("body lock").clone())))
                                    .expect("a JWKS response");
                                async move { Ok::<_, std::convert::Infallible>(resp) }
                            });
                            let io = hyper_util::rt::TokioIo::new(stream);
                            let serve = hyper::server::conn::http1::Builder::new().serve_connection(io, svc);
                            let _ = tokio::time::timeout(Duration::from_secs(60), serve).await;
                        });
                    }
                    Some(_) = connections.join_next(), if !connections.is_empty() => {}
                }
            }
        });
        JwksServer { url, hits, body, task }
    }

    fn hits(&self) -> usize {
        self.hits.lock().expect("hits lock").len()
    }

    fn hit_times(&self) -> Vec<Instant> {
        self.hits.lock().expect("hits lock").clone()
    }

    fn publish(&self, keys: &[&TestKey]) {
        *self.body.lock().expect("body lock") = jwks(keys);
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

// ---------- the backend and the gateway ----------

/// The JWKS server, the recording backend and the gateway in front of it with `/me` protected by
/// `auth/validator` (`validator` merged over the defaults: issuer, audience, role `admin`, `sub`
/// and `roles` propagated as `x-user` and `x-roles`, backend path `/users/{JWT.sub}`).
struct Stack {
    jwks: JwksServer,
    backend: Recorder,
    served: Served,
    config: String,
}

impl Stack {
    async fn start(keys: &[&TestKey], alg: &str, validator: Value) -> Stack {
        let jwks = JwksServer::start(jwks(keys)).await;
        let backend = Recorder::start(r#"{"ok":true}"#).await;
        let mut auth = json!({
            "alg": alg, "jwk_url": jwks.url, "disable_jwk_security": true,
            "issuer": ISSUER, "audience": ["api"], "roles_key": "roles", "roles": ["admin"],
            "propagate_claims": [["sub", "x-user"], ["roles", "x-roles"]]
        });
        for (k, v) in validator.as_object().expect("validator extras are an object") {
            auth[k] = v.clone();
        }
        let config = json!({
            "version": 3,
            "endpoints": [{
                "endpoint": "/me", "timeout": "5s", "input_headers": ["X-User", "X-Roles"],
                "extra_config": {"auth/validator": auth},
                "backend": [{"host": [backend.url()], "url_pattern": "/users/{JWT.sub}"}]
            }]
        });
        let config = config.to_string();
        let served = Served::start(&config).await;
        Stack { jwks, backend, served, config }
    }

    /// `GET /me` with the given extra request headers.
    async fn get(&self, headers: &[(&str, &str)]) -> Reply {
        let addr = self.served.addr;
        let mut request = format!("GET /me HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        match exchange(addr, request.as_bytes(), LIMIT).await {
            Some(Outcome::Reply(reply)) => reply,
            Some(other) => panic!("GET /me: no response: {other:?}"),
            None => panic!("GET /me: no response within {LIMIT:?}"),
        }
    }

    async fn with_token(&self, token: &str) -> Reply {
        self.get(&[("Authorization", &format!("Bearer {token}"))]).await
    }

    fn seen(&self) -> Vec<Seen> {
        self.backend.seen()
    }
}

/// 200 and the backend got exactly one request: `/users/user-1` with the claims as headers (the
/// client's own `X-User`, sent by [`accepted_with`], replaced).
fn assert_accepted(stack: &Stack, reply: &Reply) {
    assert_eq!(reply.status, 200, "body {}", reply.text());
    let seen = stack.seen();
    assert_eq!(seen.len(), 1, "the backend should get one request: {seen:?}");
    assert_eq!(seen[0].path, "/users/user-1");
    assert_eq!(seen[0].all("x-user"), ["user-1"], "{seen:?}");
    assert_eq!(seen[0].all("x-roles"), ["admin"], "{seen:?}");
    assert!(seen[0].all("authorization").is_empty(), "Authorization is not in input_headers: {seen:?}");
}

async fn accepted_with(alg: &str, key: TestKey) {
    let stack = Stack::start(&[&key], alg, json!({})).await;
    let token = key.token(&good_claims());
    let reply = stack.get(&[("Authorization", &format!("Bearer {token}")), ("X-User", "mallory")]).await;
    assert_accepted(&stack, &reply);
}

/// 401 with an empty body, and the backend never called.
fn assert_refused(stack: &Stack, reply: &Reply, status: u16, case: &str) {
    assert_eq!(reply.status, status, "{case}: body {}", reply.text());
    assert!(reply.body.is_empty(), "{case}: the body should be empty, got {}", reply.text());
    assert_eq!(stack.backend.requests(), 0, "{case}: the backend should not be called: {:?}", stack.seen());
}

/// The RS256 stack with `token` sent as a bearer token: 401, empty body, backend not called.
async fn unauthorized_with(case: &str, token: impl FnOnce(&TestKey) -> String) {
    let key = TestKey::rs256("rsa");
    let stack = Stack::start(&[&key], "RS256", json!({})).await;
    let reply = stack.with_token(&token(&key)).await;
    assert_refused(&stack, &reply, 401, case);
}

// ---------- valid tokens ----------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_rs256_token_reaches_the_backend_with_its_claims() {
    accepted_with("RS256", TestKey::rs256("rsa")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_es256_token_reaches_the_backend_with_its_claims() {
    accepted_with("ES256", TestKey::es256("p256")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_eddsa_token_reaches_the_backend_with_its_claims() {
    accepted_with("EdDSA", TestKey::eddsa("ed")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_hs256_token_reaches_the_backend_with_its_claims() {
    accepted_with("HS256", TestKey::hs256("hmac")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_right_key_is_picked_by_kid_from_a_set_of_every_type() {
    let keys = [TestKey::rs256("rsa"), TestKey::es256("p256"), TestKey::eddsa("ed"), TestKey::hs256("hmac")];
    let stack = Stack::start(&keys.iter().collect::<Vec<_>>(), "ES256", json!({})).await;
    let reply = stack.with_token(&keys[1].token(&good_claims())).await;
    assert_accepted(&stack, &reply);
    // The RSA key of the same set does not open an ES256 endpoint.
    let rsa = stack.with_token(&keys[0].token(&good_claims())).await;
    assert_eq!((rsa.status, stack.backend.requests()), (401, 1), "an RS256 token on an ES256 endpoint");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_token_in_the_cookie_key_cookie_is_accepted() {
    let key = TestKey::es256("p256");
    let stack = Stack::start(&[&key], "ES256", json!({"cookie_key": "session"})).await;
    let token = key.token(&good_claims());
    let reply = stack.get(&[("Cookie", &format!("theme=dark; session={token}"))]).await;
    assert_accepted(&stack, &reply);
    // Another cookie name is not looked at.
    let other = stack.get(&[("Cookie", &format!("access_token={token}"))]).await;
    assert_eq!((other.status, stack.backend.requests()), (401, 1), "a token in another cookie");
}

// ---------- bad tokens: 401 ----------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_unauthorized() {
    unauthorized_with("expired", |k| k.token(&with(good_claims(), "exp", json!(unix_now() - 120)))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_not_yet_valid_is_unauthorized() {
    unauthorized_with("not yet valid", |k| k.token(&with(good_claims(), "nbf", json!(unix_now() + 120)))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_from_another_issuer_is_unauthorized() {
    unauthorized_with("wrong issuer", |k| k.token(&with(good_claims(), "iss", json!("https://evil.test")))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_for_another_audience_is_unauthorized() {
    unauthorized_with("wrong audience", |k| k.token(&with(good_claims(), "aud", json!(["other"])))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_signed_by_another_key_is_unauthorized() {
    // Same `kid` and algorithm, another private key.
    unauthorized_with("another key", |k| TestKey::rs256_other(&k.kid).token(&good_claims())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsigned_alg_none_token_is_unauthorized() {
    unauthorized_with("alg none", |k| {
        let header = URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": "JWT", "kid": k.kid}).to_string());
        format!("{header}.{}.", URL_SAFE_NO_PAD.encode(good_claims().to_string()))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_with_a_tampered_payload_is_unauthorized() {
    unauthorized_with("tampered payload", |k| {
        let good = k.token(&with(good_claims(), "roles", json!(["user"])));
        let parts: Vec<&str> = good.split('.').collect();
        // The payload now claims the admin role; the signature is the original one.
        let forged = URL_SAFE_NO_PAD.encode(good_claims().to_string());
        format!("{}.{forged}.{}", parts[0], parts[2])
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_token_is_unauthorized() {
    unauthorized_with("malformed", |_| "abc".to_owned()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_without_a_token_is_unauthorized() {
    let key = TestKey::rs256("rsa");
    let stack = Stack::start(&[&key], "RS256", json!({})).await;
    let reply = stack.get(&[]).await;
    assert_refused(&stack, &reply, 401, "no token");
    let basic = stack.get(&[("Authorization", "Basic dXNlcjpwYXNz")]).await;
    assert_refused(&stack, &basic, 401, "Basic credentials");
}

// ---------- roles and scopes: 403 ----------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_without_the_required_role_is_forbidden() {
    let key = TestKey::eddsa("ed");
    let stack = Stack::start(&[&key], "EdDSA", json!({})).await;
    let reply = stack.with_token(&key.token(&with(good_claims(), "roles", json!(["user"])))).await;
    assert_refused(&stack, &reply, 403, "role user instead of admin");
    let none = stack.with_token(&key.token(&with(good_claims(), "roles", json!([])))).await;
    assert_refused(&stack, &none, 403, "no role at all");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_missing_one_of_all_required_scopes_is_forbidden() {
    let key = TestKey::hs256("hmac");
    let scopes = json!({"scopes_key": "scope", "scopes": ["read", "write"], "scopes_matcher": "all"});
    let stack = Stack::start(&[&key], "HS256", scopes).await;
    let reply = stack.with_token(&key.token(&with(good_claims(), "scope", json!("read")))).await;
    assert_refused(&stack, &reply, 403, "scope read without write");
    // Both scopes (the default claims hold "read write"): accepted.
    let both = stack.with_token(&key.token(&good_claims())).await;
    assert_accepted(&stack, &both);
}

// ---------- the key set's refresh rate ----------

/// The rule of `jwt/keys.rs` (`RemoteKeys::get`): a token naming a `kid` the cached set lacks
/// downloads the set again, but never within `cooldown` of the previous attempt, where `cooldown`
/// is `failed_jwk_key_cooldown` raised to at least one second. `started` is taken before the
/// request that made the first download, so no more than `(end - started) / cooldown` further
/// downloads can happen by `end`; and consecutive downloads reach the server at least `cooldown`
/// apart (less a little for the request's own travel).
fn assert_refresh_rule(jwks: &JwksServer, before: usize, started: Instant, end: Instant, cooldown: Duration) {
    let grown = jwks.hits() - before;
    let allowed = ((end - started).as_secs_f64() / cooldown.as_secs_f64()).floor() as usize;
    assert!(
        grown <= allowed,
        "{grown} downloads of the key set in {:?} with a cooldown of {cooldown:?}: at most {allowed} allowed",
        end - started
    );
    let times = jwks.hit_times();
    for pair in times.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            gap + Duration::from_millis(100) >= cooldown,
            "two downloads only {gap:?} apart (cooldown {cooldown:?})"
        );
    }
}

/// Sends `count` tokens with random unknown `kid`s, `spacing` apart; each must be 401 without
/// reaching the backend. Returns when the last request was sent.
async fn flood(stack: &Stack, key: &TestKey, count: usize, spacing: Duration) -> Instant {
    let mut last_sent = Instant::now();
    for i in 0..count {
        let token = key.renamed(&random_kid()).token(&good_claims());
        last_sent = Instant::now();
        let reply = stack.with_token(&token).await;
        assert_eq!(reply.status, 401, "unknown kid #{i}: body {}", reply.text());
        tokio::time::sleep(spacing).await;
    }
    last_sent
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_unknown_kids_refreshes_the_key_set_at_most_once_per_second() {
    let key = TestKey::rs256("rsa");
    let stack = Stack::start(&[&key], "RS256", json!({})).await;
    let started = Instant::now();
    assert_accepted(&stack, &stack.with_token(&key.token(&good_claims())).await);
    let warm = Instant::now();
    assert_eq!(stack.jwks.hits(), 1, "the first token downloads the set once");

    let last_sent = flood(&stack, &key, 50, Duration::from_millis(50)).await;
    let end = Instant::now();
    assert_refresh_rule(&stack.jwks, 1, started, end, Duration::from_secs(1));
    if last_sent >= warm + Duration::from_secs(1) {
        assert!(stack.jwks.hits() >= 2, "an unknown kid more than a second after the last download refreshes the set");
    }
    assert_eq!(stack.backend.requests(), 1, "no unknown kid reaches the backend");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_jwk_key_cooldown_spaces_the_refreshes_and_a_rotated_key_is_found_after_it() {
    let cooldown = Duration::from_secs(2);
    let key = TestKey::rs256("rsa");
    let stack = Stack::start(&[&key], "RS256", json!({"cache": true, "failed_jwk_key_cooldown": "2s"})).await;
    let started = Instant::now();
    assert_accepted(&stack, &stack.with_token(&key.token(&good_claims())).await);
    assert_eq!(stack.jwks.hits(), 1);

    flood(&stack, &key, 50, Duration::from_millis(50)).await;
    assert_refresh_rule(&stack.jwks, 1, started, Instant::now(), cooldown);

    // The identity provider rotates its keys: the new kid is served once the cooldown has passed.
    let rotated = TestKey::rs256_other("rotated");
    stack.jwks.publish(&[&key, &rotated]);
    let last_hit = *stack.jwks.hit_times().last().expect("at least one download");
    tokio::time::sleep((last_hit + cooldown + Duration::from_millis(200)).saturating_duration_since(Instant::now()))
        .await;
    let before = stack.jwks.hits();
    let reply = stack.with_token(&rotated.token(&good_claims())).await;
    assert_eq!(reply.status, 200, "the rotated key after the cooldown: body {}", reply.text());
    assert_eq!(stack.jwks.hits(), before + 1, "found by one download");
    // Right after that download, another unknown kid downloads nothing.
    let unknown = stack.with_token(&key.renamed(&random_kid()).token(&good_claims())).await;
    assert_eq!(unknown.status, 401);
    assert_eq!(stack.jwks.hits(), before + 1, "within the cooldown");
    assert_refresh_rule(&stack.jwks, 1, started, Instant::now(), cooldown);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_known_key_keeps_working_while_the_failed_key_cooldown_runs() {
    // Without `cache` the set is kept one second; `failed_jwk_key_cooldown` only throttles
    // lookups of keys the set lacks, so a token whose key was in the last download still passes.
    let key = TestKey::rs256("rsa");
    let stack = Stack::start(&[&key], "RS256", json!({"failed_jwk_key_cooldown": "3s"})).await;
    assert_accepted(&stack, &stack.with_token(&key.token(&good_claims())).await);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let reply = stack.with_token(&key.token(&good_claims())).await;
    assert_eq!(
        reply.status,
        200,
        "a valid token 1.5 s after the set was downloaded (cooldown 3 s, {} download(s)); body {}",
        stack.jwks.hits(),
        reply.text()
    );
}

// ---------- claims in paths, and a key server that never answers ----------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sub_claim_that_is_a_dot_segment_never_reaches_the_backend_path() {
    // `/users/{JWT.sub}` with `sub: ".."` would be `/users/..`, the backend's `/`; the claim gets
    // the rule path parameters get, and the backend counts as failed (500, nothing sent).
    let key = TestKey::rs256("rsa");
    let stack = Stack::start(&[&key], "RS256", json!({})).await;
    for sub in ["..", "."] {
        let reply = stack.with_token(&key.token(&with(good_claims(), "sub", json!(sub)))).await;
        assert_eq!(reply.status, 500, "sub {sub:?}: body {}", reply.text());
        assert_eq!(reply.completed(), Some("false"));
    }
    assert_eq!(stack.backend.requests(), 0, "nothing may reach the backend: {:?}", stack.seen());
    // The Lambda adapter runs the same core.
    let gateway = Gateway::from_json(&stack.config).expect("config");
    let token = format!("Bearer {}", key.token(&with(good_claims(), "sub", json!(".."))));
    let resp =
        lambda_get(&gateway, "/me", &[("Host", "api.example.com"), ("Authorization", &token)], "203.0.113.9").await;
    assert_eq!(resp.status(), 500);
    assert_eq!(stack.backend.requests(), 0, "lambda: nothing may reach the backend: {:?}", stack.seen());
    // A claim that merely holds dots is escaped into one segment as before.
    let reply = stack.with_token(&key.token(&with(good_claims(), "sub", json!("a..b")))).await;
    assert_eq!(reply.status, 200, "body {}", reply.text());
    assert_eq!(stack.seen()[0].path, "/users/a..b");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_server_that_never_answers_gets_401_at_the_endpoint_timeout() {
    // The key server accepts, reads the request and then says nothing: the key download must not
    // hold the request past the endpoint's timeout (1 s here; the download's own limit is longer).
    let silent = Backend::start(|stream, _head| async move {
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(stream);
    })
    .await;
    let backend = Recorder::start(r#"{"ok":true}"#).await;
    let config = json!({
        "version": 3,
        "endpoints": [{
            "endpoint": "/me", "timeout": "1s",
            "extra_config": {"auth/validator": {
                "alg": "RS256", "jwk_url": format!("{}/jwks.json", silent.url()), "disable_jwk_security": true}},
            "backend": [{"host": [backend.url()], "url_pattern": "/users/{JWT.sub}"}]
        }]
    });
    let served = Served::start(&config.to_string()).await;
    let key = TestKey::rs256("rsa");
    let request = format!(
        "GET /me HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
        served.addr,
        key.token(&good_claims())
    );
    let started = Instant::now();
    let reply = match exchange(served.addr, request.as_bytes(), LIMIT).await {
        Some(Outcome::Reply(reply)) => reply,
        other => panic!("no answer: {other:?}"),
    };
    let took = started.elapsed();
    assert_eq!(reply.status, 401, "body {}", reply.text());
    assert_eq!(silent.requests(), 1, "the key set was asked for once");
    assert_eq!(backend.requests(), 0);
    // Generous: only tells the endpoint deadline (1 s) from the download's own limit (10 s).
    assert!(took < Duration::from_secs(5), "the 401 took {took:?}");

    // The Lambda adapter runs the same core (a new gateway: the first one's failed download
    // holds the refresh back for a second).
    let gateway = Gateway::from_json(&config.to_string()).expect("config");
    let token = format!("Bearer {}", key.token(&good_claims()));
    let started = Instant::now();
    let resp =
        lambda_get(&gateway, "/me", &[("Host", "api.example.com"), ("Authorization", &token)], "203.0.113.9").await;
    let took = started.elapsed();
    assert_eq!(resp.status(), 401);
    assert_eq!(silent.requests(), 2, "the key set was asked for again");
    assert!(took < Duration::from_secs(5), "lambda: the 401 took {took:?}");
}
