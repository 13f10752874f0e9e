//! Criterion benchmark of `validation/cel` through `tributary_core::bench_api`: evaluating the
//! real configs' expressions against a realistic request (the endpoint list of krakend-ce's own
//! test config, the playground's `matches` on a GeoIP header, a helizium token list on ten
//! claims), and compiling 30 of them as a cold start does.

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};
use std::hint::black_box;
use tributary_core::bench_api::{CelFixture, compile_cel};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The headers an endpoint's request carries after `input_headers` and the prepare phase.
const HEADERS: &[(&str, &str)] = &[
    ("x-header", "something"),
    ("x-geoip", r#"{"IsoCode":"ES","City":"Barcelona","Lat":41.38,"Lon":2.17}"#),
    ("x-forwarded-for", "203.0.113.7"),
    ("x-forwarded-host", "api.example.com"),
    ("user-agent", "KrakenD Version Tributary"),
    ("content-type", "application/json"),
];

/// The real configs' CEL expressions, 30 of them (the fixtures repeat a few).
const THIRTY: [&str; 30] = [
    "has(JWT.userId) && has(JWT.limits) && has(JWT.iat) && has(JWT.exp) && JWT.type == 'REFRESH'",
    "has(JWT.userId) && has(JWT.limits) && has(JWT.iat) && JWT.type == 'ACCESS'",
    "has(JWT.userId) && has(JWT.limits) && has(JWT.iat) && JWT.type in ['ACCESS', 'API']",
    "(JWT.type == 'ACCESS' && has(JWT.exp)) || JWT.limits in ['READ_ONLY', 'DEFAULT']",
    "int(req_params.Id) % 3 == 0",
    "int(req_params.Id) % 5 == 0",
    "'something' in req_headers['X-Header']",
    "int(req_params.Id) % 2 == 0",
    "size(JWT.roles)>1",
    "req_headers['X-Geoip'][0].matches('\"IsoCode\":\"ES\"')",
    "has(JWT.userId) && has(JWT.limits) && has(JWT.iat) && has(JWT.exp) && JWT.type == 'REFRESH'",
    "has(JWT.userId) && has(JWT.limits) && has(JWT.iat) && JWT.type == 'ACCESS'",
    "has(JWT.userId) && has(JWT.limits) && has(JWT.iat) && JWT.type in ['ACCESS', 'API']",
    "(JWT.type == 'ACCESS' && has(JWT.exp)) || JWT.limits in ['READ_ONLY', 'DEFAULT']",
    "int(req_params.Id) % 3 == 0",
    "int(req_params.Id) % 5 == 0",
    "'something' in req_headers['X-Header']",
    "int(req_params.Id) % 2 == 0",
    "size(JWT.roles)>1",
    "req_headers['X-Geoip'][0].matches('\"IsoCode\":\"ES\"')",
    "has(JWT.userId) && has(JWT.limits) && has(JWT.iat) && has(JWT.exp) && JWT.type == 'REFRESH'",
    "has(JWT.userId) && has(JWT.limits) && has(JWT.iat) && JWT.type == 'ACCESS'",
    "has(JWT.userId) && has(JWT.limits) && has(JWT.iat) && JWT.type in ['ACCESS', 'API']",
    "(JWT.type == 'ACCESS' && has(JWT.exp)) || JWT.limits in ['READ_ONLY', 'DEFAULT']",
    "int(req_params.Id) % 3 == 0",
    "int(req_params.Id) % 5 == 0",
    "'something' in req_headers['X-Header']",
    "int(req_params.Id) % 2 == 0",
    "size(JWT.roles)>1",
    "req_headers['X-Geoip'][0].matches('\"IsoCode\":\"ES\"')",
];

fn claims() -> serde_json::Map<String, Value> {
    let v = json!({
        "sub": "6570a3c1e4b0f2a1b2c3d4e5", "userId": "6570a3c1e4b0f2a1b2c3d4e5", "type": "ACCESS",
        "limits": "DEFAULT", "roles": ["user", "editor"], "iat": 1765118700, "exp": 1765119600,
        "iss": "https://auth.example.com", "aud": ["api"], "jti": "a1b2c3d4-e5f6-7890-abcd-ef1234567890"
    });
    v.as_object().cloned().expect("an object")
}

fn cel(c: &mut Criterion) {
    let endpoint = CelFixture::new(
        &["'something' in req_headers['X-Header']", "int(req_params.Id) % 2 == 0"],
        &["id"],
        &["X-Header", "X-Geoip"],
        &["30"],
        HEADERS,
        "page=2&sort=desc",
    )
    .expect("compiles");
    let geoip = CelFixture::new(
        &["req_headers['X-Geoip'][0].matches('\"IsoCode\":\"ES\"')"],
        &["id"],
        &["X-Header", "X-Geoip"],
        &["30"],
        HEADERS,
        "",
    )
    .expect("compiles");
    let token = CelFixture::new(
        &[
            "has(JWT.userId) && has(JWT.limits) && has(JWT.iat) && JWT.type in ['ACCESS', 'API']",
            "(JWT.type == 'ACCESS' && has(JWT.exp)) || JWT.limits in ['READ_ONLY', 'DEFAULT']",
        ],
        &["id"],
        &[],
        &["30"],
        &[],
        "",
    )
    .expect("compiles");
    let claims = claims();
    // Measure passing checks: a refusal would stop early.
    assert_eq!(endpoint.check_request(), Ok(()));
    assert_eq!(geoip.check_request(), Ok(()));
    assert_eq!(token.check_claims(&claims), Ok(()));
    assert_eq!(compile_cel(&THIRTY), 30, "every expression compiles");

    let mut group = c.benchmark_group("cel");
    group.bench_function("request: header `in` + int(param) % 2 (krakend-ce list)", |b| {
        b.iter(|| black_box(endpoint.check_request()))
    });
    group.bench_function("request: matches on a GeoIP header (playground)", |b| {
        b.iter(|| black_box(geoip.check_request()))
    });
    group.bench_function("token: two helizium expressions on ten claims", |b| {
        b.iter(|| black_box(token.check_claims(&claims)))
    });
    group.bench_function("compile 30 expressions (cold start)", |b| b.iter(|| black_box(compile_cel(&THIRTY))));
    group.finish();
}

criterion_group!(benches, cel);
criterion_main!(benches);
