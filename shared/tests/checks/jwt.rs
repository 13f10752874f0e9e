//! JWT parsing and validation (`auth/validator`, HS256 with a local JWK set): arbitrary tokens
//! and claims, signed with the key or not. Whatever the token, nothing panics and a token not
//! signed with the key, or with another `alg` or `kid`, is a 401. Where KrakenD's outcome is
//! plain (no `iat`; integer `exp`/`nbf` an hour off or absent; `roles` as a list of strings),
//! the outcome is checked too. Also parses arbitrary JWK sets.

use arbitrary::{Arbitrary, Unstructured};
use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use http::{HeaderMap, HeaderValue};
use serde_json::{Map, Value, json};
use std::sync::OnceLock;
use tributary_core::fuzz_api::{self, Jwt, JwtRejection};

const SECRET: &[u8] = b"a shared secret of thirty-two by";
const NOW: f64 = 1_700_000_000.0;
const NAMES: &[&str] = &["admin", "user", "read", "write", "", "a.b", "roles", "scope"];

/// The JWK set file, written once per process.
fn jwks_path() -> &'static str {
    static PATH: OnceLock<String> = OnceLock::new();
    PATH.get_or_init(|| {
        let path = std::env::temp_dir().join(format!("tributary-fuzz-jwks-{}.json", std::process::id()));
        let jwks = json!({"keys": [
            {"kty": "oct", "kid": "k1", "alg": "HS256", "k": URL_SAFE_NO_PAD.encode(SECRET)},
            {"kty": "oct", "kid": "k2", "alg": "HS256", "k": URL_SAFE_NO_PAD.encode(b"another secret")}
        ]});
        std::fs::write(&path, jwks.to_string()).expect("the temp dir is writable");
        path.to_string_lossy().into_owned()
    })
}

#[derive(Debug, Arbitrary)]
enum Time {
    Absent,
    HourAgo,
    InAnHour,
    Other(i64),
    Float(f64),
    Text(String),
}

impl Time {
    fn value(&self) -> Option<Value> {
        match self {
            Time::Absent => None,
            Time::HourAgo => Some(json!(NOW as i64 - 3600)),
            Time::InAnHour => Some(json!(NOW as i64 + 3600)),
            Time::Other(t) => Some(json!(t)),
            Time::Float(f) => serde_json::Number::from_f64(*f).map(Value::Number),
            Time::Text(s) => Some(Value::String(s.clone())),
        }
    }
}

#[derive(Debug, Arbitrary)]
enum Signature {
    Valid,
    OtherKey,
    Bytes(Vec<u8>),
    Text(String),
}

#[derive(Debug, Arbitrary)]
enum Delivery {
    Bearer,
    LowerBearer,
    Cookie,
    Raw(String),
}

#[derive(Debug)]
pub struct Case {
    alg: String,
    kid: Option<String>,
    crit: bool,
    exp: Time,
    nbf: Time,
    iat: bool,
    roles_claim: Option<Value>,
    required_roles: Vec<String>,
    extra: Map<String, Value>,
    signature: Signature,
    padded: bool,
    delivery: Delivery,
    raw_token: Option<String>,
    jwks: Vec<u8>,
}

fn name(u: &mut Unstructured<'_>) -> arbitrary::Result<String> {
    Ok(if u.ratio(1, 8)? { u.arbitrary()? } else { (*u.choose(NAMES)?).to_owned() })
}

fn claim(u: &mut Unstructured<'_>) -> arbitrary::Result<Value> {
    Ok(match u.int_in_range(0..=4)? {
        0 => Value::Array((0..u.int_in_range(0..=3)?).map(|_| name(u).map(Value::String)).collect::<Result<_, _>>()?),
        1 => Value::String(name(u)?),
        2 => json!(u.arbitrary::<i32>()?),
        3 => json!({ name(u)?: [name(u)?] }),
        _ => Value::Null,
    })
}

impl<'a> Arbitrary<'a> for Case {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let mut extra = Map::new();
        for _ in 0..u.int_in_range(0..=3)? {
            extra.insert(name(u)?, claim(u)?);
        }
        Ok(Case {
            alg: (*u.choose(&["HS256", "HS256", "HS256", "none", "RS256", "hs256", "HS512"])?).to_owned(),
            kid: match u.int_in_range(0..=5)? {
                0 => None,
                1 => Some("k2".to_owned()),
                2 => Some(u.arbitrary()?),
                _ => Some("k1".to_owned()),
            },
            crit: u.ratio(1, 10)?,
            exp: u.arbitrary()?,
            nbf: u.arbitrary()?,
            iat: u.ratio(1, 6)?,
            roles_claim: if u.arbitrary()? { Some(claim(u)?) } else { None },
            required_roles: (0..u.int_in_range(0..=2)?).map(|_| name(u)).collect::<Result<_, _>>()?,
            extra,
            signature: u.arbitrary()?,
            padded: u.ratio(1, 10)?,
            delivery: u.arbitrary()?,
            raw_token: if u.ratio(1, 10)? { Some(u.arbitrary()?) } else { None },
            jwks: if u.ratio(1, 8)? { u.arbitrary()? } else { Vec::new() },
        })
    }
}

fn b64(bytes: &[u8], padded: bool) -> String {
    if padded { STANDARD.encode(bytes).replace('+', "-").replace('/', "_") } else { URL_SAFE_NO_PAD.encode(bytes) }
}

pub fn check(case: Case) {
    if !case.jwks.is_empty() {
        for strategy in ["kid", "x5t", "x5t#S256", "kid_x5t"] {
            let _ = fuzz_api::parse_jwks(&case.jwks, strategy);
        }
    }
    let mut config = json!({"alg": "HS256", "jwk_local_path": jwks_path()});
    if !case.required_roles.is_empty() {
        config["roles"] = json!(case.required_roles);
    }
    let jwt = Jwt::new(&config).expect("the validator compiles");

    let mut header = json!({"alg": case.alg, "typ": "JWT"});
    if let Some(kid) = &case.kid {
        header["kid"] = json!(kid);
    }
    if case.crit {
        header["crit"] = json!(["exp"]);
    }
    let mut payload = case.extra.clone();
    // The claims the case sets itself are not left to the arbitrary extras.
    // The registered claims are typed (go-jose refuses a `jti` that is not a string, say).
    for registered in ["exp", "nbf", "iat", "iss", "aud", "sub", "jti", "roles"] {
        payload.remove(registered);
    }
    for (k, t) in [("exp", &case.exp), ("nbf", &case.nbf)] {
        if let Some(v) = t.value() {
            payload.insert(k.to_owned(), v);
        }
    }
    if case.iat {
        payload.insert("iat".to_owned(), json!(NOW as i64));
    }
    if let Some(r) = &case.roles_claim {
        payload.insert("roles".to_owned(), r.clone());
    }
    let signing_input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes(), case.padded),
        b64(Value::Object(payload.clone()).to_string().as_bytes(), case.padded)
    );
    let sign = |secret: &[u8]| {
        let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
        URL_SAFE_NO_PAD.encode(hmac::sign(&key, signing_input.as_bytes()).as_ref())
    };
    let signature = match &case.signature {
        Signature::Valid => sign(SECRET),
        Signature::OtherKey => sign(b"a secret in no key set"),
        Signature::Bytes(b) => URL_SAFE_NO_PAD.encode(b),
        Signature::Text(s) => s.clone(),
    };
    let token = case.raw_token.clone().unwrap_or_else(|| format!("{signing_input}.{signature}"));
    let mut headers = HeaderMap::new();
    let delivered = match &case.delivery {
        Delivery::Bearer => {
            HeaderValue::from_str(&format!("Bearer {token}")).map(|v| headers.insert("authorization", v))
        }
        Delivery::LowerBearer => {
            HeaderValue::from_str(&format!("bearer {token}")).map(|v| headers.insert("authorization", v))
        }
        Delivery::Cookie => {
            HeaderValue::from_str(&format!("a=b; access_token={token}")).map(|v| headers.insert("cookie", v))
        }
        Delivery::Raw(s) => HeaderValue::from_str(s).map(|v| headers.insert("authorization", v)),
    }
    .is_ok();

    let result = jwt.check(&headers, NOW);
    // Padding only shows when a part's length is not a multiple of three.
    let genuine =
        matches!(case.signature, Signature::Valid) && case.raw_token.is_none() && !signing_input.contains('=');
    let well_formed = genuine && case.alg == "HS256" && case.kid.as_deref() == Some("k1") && !case.crit;
    if !well_formed || !delivered || matches!(case.delivery, Delivery::Raw(_)) {
        // A raw header may carry a well-formed token by chance only from the fuzzer's own bytes,
        // never one signed with the secret.
        assert!(
            matches!(result, Err(JwtRejection::Unauthorized(_))),
            "accepted a token not signed with the key: {result:?} for {case:?}"
        );
        return;
    }
    // A signed, well-formed token: time claims an hour off or absent decide plainly.
    let plain = |t: &Time| matches!(t, Time::Absent | Time::HourAgo | Time::InAnHour);
    if case.iat || !plain(&case.exp) || !plain(&case.nbf) {
        return;
    }
    let expired = matches!(case.exp, Time::HourAgo);
    let early = matches!(case.nbf, Time::InAnHour);
    if expired || early {
        assert!(matches!(result, Err(JwtRejection::Unauthorized(_))), "exp/nbf not enforced: {result:?}");
        return;
    }
    if !case.required_roles.is_empty() {
        let roles: Option<Vec<&str>> = match &case.roles_claim {
            Some(Value::Array(items)) => items.iter().map(Value::as_str).collect(),
            None => Some(Vec::new()),
            _ => None,
        };
        let Some(roles) = roles else { return };
        if !case.required_roles.iter().any(|r| roles.contains(&r.as_str())) {
            assert!(
                matches!(result, Err(JwtRejection::Forbidden(_))),
                "roles {roles:?} passed {:?}: {result:?}",
                case.required_roles
            );
            return;
        }
    }
    assert_eq!(result, Ok(payload), "a valid token was refused");
}
