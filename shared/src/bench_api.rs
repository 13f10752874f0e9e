//! Public entry points for benchmarks only (hidden from docs): run the pure shape-and-merge step without I/O.
//!
//! Owns [`ShapeMergeFixture`], which runs the production steps a backend's answer goes through
//! once it has arrived, with the crate's own compiled `Backend`s: `shape::process` (status check,
//! decode, shape), the merge phase's `single` or `Arrivals` (merge, completeness, errors) as the
//! call phase uses them, taking the backends in config order as if they answered in that order,
//! then `merge::finish` (the endpoint's flatmap and static data) and `render::render`.

use crate::config;
use crate::gateway::compile::{self, Compiled};
use crate::merge::{self, Arrivals};
use crate::transport::RawResponse;
use crate::{render, shape};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};

/// A compiled config plus one raw body per backend of its first endpoint.
pub struct ShapeMergeFixture {
    compiled: Compiled,
    bodies: Vec<Bytes>,
    headers: HeaderMap,
}

impl std::fmt::Debug for ShapeMergeFixture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShapeMergeFixture").field("bodies", &self.bodies.len()).finish()
    }
}

impl ShapeMergeFixture {
    /// `config` is a KrakenD v3 config whose first endpoint is used; `bodies[i]` is backend i's raw JSON body.
    pub fn new(config: &str, bodies: Vec<Bytes>) -> Result<Self, String> {
        let parsed = config::parse_and_validate(config).map_err(|e| e.to_string())?;
        let compiled = compile::compile(&parsed)
            .map_err(|errors| errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))?;
        let Some(endpoint) = compiled.endpoints.first() else {
            return Err("the config has no routable endpoint".to_owned());
        };
        if endpoint.backends.len() != bodies.len() {
            return Err(format!(
                "the first endpoint has {} backend(s) but {} bodies were given",
                endpoint.backends.len(),
                bodies.len()
            ));
        }
        let mut headers = HeaderMap::new();
        headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        Ok(ShapeMergeFixture { compiled, bodies, headers })
    }

    /// decode each body, shape it with its backend's rules, merge all parts, render the JSON output; returns the output bytes.
    pub fn run(&self) -> Bytes {
        let endpoint = &self.compiled.endpoints[0];
        let mut results = endpoint.backends.iter().zip(&self.bodies).map(|(backend, body)| {
            let raw = RawResponse { status: StatusCode::OK, headers: self.headers.clone(), body: body.clone() };
            shape::process(backend, "", raw)
        });
        let mut outcome = if endpoint.backends.len() == 1 {
            merge::single(results.next().expect("one body per backend"))
        } else {
            let mut arrivals = Arrivals::new(endpoint.backends.len());
            results.for_each(|result| arrivals.add(result));
            arrivals.outcome()
        };
        merge::finish(endpoint, &mut outcome);
        render::render(endpoint, &self.compiled.settings, outcome, None).body
    }
}

/// The two ways a backend's JSON object reaches the output, for instruction counts: transcoded
/// (no tree; backends without reshaping) and decoded then encoded. Both return the output.
pub fn transcode_object(body: &Bytes) -> Option<Vec<u8>> {
    let data = crate::codec::canonical::Data::Raw(crate::codec::canonical::RawObject::from_body(body, 0).ok()??);
    let mut out = Vec::with_capacity(body.len());
    data.write(&mut out, &[]);
    Some(out)
}

/// See [`transcode_object`].
pub fn decode_encode_object(body: &[u8]) -> Option<Vec<u8>> {
    match crate::codec::json::decode_first(body).ok()? {
        serde_json::Value::Object(o) => {
            let mut out = Vec::with_capacity(body.len());
            crate::codec::json::encode_object_into(&mut out, &o, &[]);
            Some(out)
        }
        _ => None,
    }
}

/// The sample the `shape_merge` bench and the instruction-count example share: one endpoint with
/// three backends (a mix of target/allow/deny/mapping/group) answering about 10 KB of JSON each.
/// `validation/cel` (the cel bench): one endpoint's `check_expr` list compiled as the gateway
/// compiles it, and its request and token checks run against a request held here.
pub struct CelFixture {
    rules: crate::validation::cel::CelRules,
    params: Vec<String>,
    headers: HeaderMap,
    query: Vec<(String, String)>,
}

impl std::fmt::Debug for CelFixture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CelFixture").field("params", &self.params).finish()
    }
}

impl CelFixture {
    /// `exprs` on an endpoint with `auth/validator` whose parameters are `params` and whose
    /// `input_headers` are `input_headers`; the request carries `values`, `headers` (as the
    /// prepare phase leaves them) and the query string `query`.
    pub fn new(
        exprs: &[&str],
        params: &[&str],
        input_headers: &[&str],
        values: &[&str],
        headers: &[(&str, &str)],
        query: &str,
    ) -> Result<Self, String> {
        use crate::validation::cel::{CelRules, Level};
        let list: Vec<config::CelCheckConfig> = exprs
            .iter()
            .map(|e| config::CelCheckConfig { check_expr: Some((*e).to_owned()), ..Default::default() })
            .collect();
        let params_owned: Vec<String> = params.iter().map(|p| (*p).to_owned()).collect();
        let input: Vec<String> = input_headers.iter().map(|h| (*h).to_owned()).collect();
        let names: [&[String]; 1] = [&input];
        let mut problems = Vec::new();
        let level = Level::Endpoint { with_token: true };
        let rules = CelRules::compile(&list, "bench", None, level, &params_owned, &names, &mut problems)
            .ok_or_else(|| problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))?;
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            let name = http::HeaderName::from_bytes(k.as_bytes()).map_err(|e| e.to_string())?;
            map.append(name, HeaderValue::from_str(v).map_err(|e| e.to_string())?);
        }
        Ok(CelFixture {
            rules,
            params: values.iter().map(|v| (*v).to_owned()).collect(),
            headers: map,
            query: crate::message::parse_query(query),
        })
    }

    /// The request checks' verdict (`Err`: the refusal's text).
    pub fn check_request(&self) -> Result<(), String> {
        let view = crate::validation::cel::RequestView {
            method: "GET",
            path: "/cel/req-resp/30",
            params: &self.params,
            headers: &self.headers,
            query: &self.query,
            keep_query: &|_| true,
        };
        self.rules.check_request(&view).map_err(|r| r.to_string())
    }

    /// The token checks' verdict on `claims`.
    pub fn check_claims(&self, claims: &serde_json::Map<String, serde_json::Value>) -> Result<(), String> {
        self.rules.check_claims(claims).map_err(|r| r.to_string())
    }
}

/// Compiles each expression as its own `validation/cel` list (what a cold start does for them);
/// returns how many compiled.
pub fn compile_cel(exprs: &[&str]) -> usize {
    use crate::validation::cel::{CelRules, Level};
    let mut problems = Vec::new();
    let params = ["id".to_owned()];
    let names: [&[String]; 0] = [];
    exprs
        .iter()
        .filter(|e| {
            let list = [config::CelCheckConfig { check_expr: Some((**e).to_owned()), ..Default::default() }];
            CelRules::compile(
                &list,
                "bench",
                None,
                Level::Endpoint { with_token: true },
                &params,
                &names,
                &mut problems,
            )
            .is_some()
        })
        .count()
}

pub mod sample {
    use bytes::Bytes;
    use serde_json::{Value, json};

    /// One endpoint, three backends, each with a different mix of target/allow/deny/mapping/group.
    pub const CONFIG: &str = r#"{
      "version": 3,
      "host": ["http://127.0.0.1:19"],
      "endpoints": [
        {
          "endpoint": "/overview/{id}",
          "backend": [
            {
              "url_pattern": "/users",
              "target": "data",
              "allow": ["users", "total", "page.number", "page.size"],
              "group": "people"
            },
            {
              "url_pattern": "/orders",
              "deny": ["debug", "summary.internal", "summary.cost_center"],
              "mapping": { "orders": "recent_orders", "summary": "sales" }
            },
            {
              "url_pattern": "/products",
              "target": "result",
              "deny": ["tracking", "facets.internal_rank"],
              "mapping": { "products": "catalog" },
              "group": "shop"
            }
          ]
        }
      ]
    }"#;

    /// Target size of each backend body, in bytes.
    const BODY_BYTES: usize = 10 * 1024;

    fn user(i: usize) -> Value {
        json!({
            "id": i,
            "name": format!("User Number {i}"),
            "email": format!("user{i}@example.com"),
            "password_hash": "$2b$12$abcdefghijklmnopqrstuv",
            "active": !i.is_multiple_of(3),
            "address": {
                "street": format!("{} Rua Augusta", 10 + i),
                "city": "Lisbon",
                "zip": format!("1100-{:03}", i % 1000),
                "geo": { "lat": 38.71 + i as f64 / 1000.0, "lng": -9.14 - i as f64 / 1000.0 }
            },
            "roles": ["reader", if i.is_multiple_of(2) { "writer" } else { "reviewer" }],
            "preferences": { "language": "pt-PT", "newsletter": i.is_multiple_of(2), "theme": "dark" }
        })
    }

    fn order(i: usize) -> Value {
        let status = ["pending", "paid", "shipped", "delivered"][i % 4];
        json!({
            "id": format!("ord-{i:05}"),
            "user_id": i % 17,
            "status": status,
            "created_at": format!("2024-05-{:02}T10:{:02}:00Z", 1 + i % 28, i % 60),
            "lines": [
                { "sku": format!("sku-{}", i * 3), "qty": 1 + i % 3, "price": 9.99 },
                { "sku": format!("sku-{}", i * 3 + 1), "qty": 2, "price": 24.5 }
            ],
            "shipping": { "method": "express", "cost": 4.9, "address": { "city": "Porto", "country": "PT" } }
        })
    }

    fn product(i: usize) -> Value {
        json!({
            "sku": format!("sku-{i}"),
            "title": format!("Product {i} with a reasonably descriptive title"),
            "price": { "amount": 10.0 + i as f64, "currency": "EUR" },
            "stock": { "available": !i.is_multiple_of(5), "quantity": (i * 7) % 100 },
            "tags": ["new", "sale", "eco"],
            "dimensions": { "w": 10 + i % 5, "h": 20, "d": 5 }
        })
    }

    /// Adds items until the serialised body reaches about `BODY_BYTES`.
    fn grow(build: impl Fn(Vec<Value>) -> Value, item: impl Fn(usize) -> Value) -> Bytes {
        let mut items = Vec::new();
        loop {
            let body = serde_json::to_vec(&build(items.clone())).expect("serialisable");
            if body.len() >= BODY_BYTES {
                return Bytes::from(body);
            }
            items.push(item(items.len()));
        }
    }

    pub fn bodies() -> Vec<Bytes> {
        let users = grow(
            |users| {
                json!({
                    "data": {
                        "users": users,
                        "total": 1234,
                        "page": { "number": 1, "size": 25, "cursor": "b64:abcdef" }
                    },
                    "meta": { "request_id": "r-1", "took_ms": 12 }
                })
            },
            user,
        );
        let orders = grow(
            |orders| {
                json!({
                    "orders": orders,
                    "summary": { "count": 42, "revenue": 1234.5, "internal": { "margin": 0.3 }, "cost_center": "CC-9" },
                    "debug": { "db": "replica-2", "cache": "miss", "trace": ["a", "b", "c"] }
                })
            },
            order,
        );
        let products = grow(
            |products| {
                json!({
                    "result": {
                        "products": products,
                        "facets": { "brands": ["a", "b", "c"], "price_ranges": [[0, 10], [10, 50]], "internal_rank": [3, 1, 2] },
                        "tracking": { "experiment": "exp-7", "bucket": 3 }
                    },
                    "status": "ok"
                })
            },
            product,
        );
        vec![users, orders, products]
    }

    /// The same document as a backend that keeps its own key order and Python's `json.dumps`
    /// spacing would send it: `", "` and `": "` separators, every object's keys in reverse
    /// order (so each one with two keys or more must be reordered).
    pub fn spaced_unsorted(body: &[u8]) -> Bytes {
        fn write(v: &Value, out: &mut String) {
            match v {
                Value::Object(members) => {
                    out.push('{');
                    for (i, (k, v)) in members.iter().rev().enumerate() {
                        if i > 0 {
                            out.push_str(", ");
                        }
                        out.push_str(&Value::String(k.clone()).to_string());
                        out.push_str(": ");
                        write(v, out);
                    }
                    out.push('}');
                }
                Value::Array(items) => {
                    out.push('[');
                    for (i, v) in items.iter().enumerate() {
                        if i > 0 {
                            out.push_str(", ");
                        }
                        write(v, out);
                    }
                    out.push(']');
                }
                other => out.push_str(&other.to_string()),
            }
        }
        let value: Value = serde_json::from_slice(body).expect("the sample is JSON");
        let mut out = String::new();
        write(&value, &mut out);
        Bytes::from(out)
    }
}

/// `modifier/martian` on one backend exchange, and the start-up cost of many martian groups.
pub mod martian {
    use crate::config::{self, MartianConfig};
    use crate::gateway::compile;
    use crate::modifier::martian::{Martian, Outgoing};
    use crate::transport::RawResponse;
    use bytes::Bytes;
    use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

    /// A compiled modifier tree with a realistic backend request and answer to apply it to.
    pub struct MartianFixture {
        martian: Martian,
        url: String,
        headers: HeaderMap,
        response: RawResponse,
    }

    impl std::fmt::Debug for MartianFixture {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("MartianFixture").field("url", &self.url).finish()
        }
    }

    impl MartianFixture {
        /// `modifier` is the namespace's value (`{"fifo.Group": {...}}`). The request carries the
        /// headers a backend request of a browser's call has after lura's preparation.
        pub fn new(modifier: &str) -> Result<Self, String> {
            let value: serde_json::Value = serde_json::from_str(modifier).map_err(|e| e.to_string())?;
            let parsed = MartianConfig::parse(&value);
            let Some(root) = parsed.root.as_ref() else {
                return Err(format!("{:?}", parsed.errors));
            };
            let mut headers = HeaderMap::new();
            for (k, v) in [
                ("accept", "application/json, text/plain, */*"),
                ("accept-language", "en-GB,en;q=0.9"),
                ("authorization", "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig"),
                ("content-type", "application/json"),
                ("x-forwarded-for", "203.0.113.7"),
                ("x-forwarded-host", "api.example.com"),
                ("user-agent", crate::prepare::KRAKEND_UA),
                ("x-request-id", "5f0c6a8e-3c1b-4b8e-9f6a-0d2e4b7c9a11"),
            ] {
                headers.insert(HeaderName::from_static(k), HeaderValue::from_static(v));
            }
            let mut response_headers = HeaderMap::new();
            response_headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            response_headers.insert(http::header::DATE, HeaderValue::from_static("Mon, 07 Dec 2026 18:00:00 GMT"));
            Ok(MartianFixture {
                martian: Martian::compile(root),
                url: "http://users.internal:8080/v1/users/42/orders?page=2&sort=desc".to_owned(),
                headers,
                response: RawResponse {
                    status: StatusCode::OK,
                    headers: response_headers,
                    body: Bytes::from_static(br#"{"id":42,"orders":[]}"#),
                },
            })
        }

        /// What martian adds to one backend call: the request's headers taken over (the call
        /// phase borrows them otherwise), its request modifiers, then its response modifiers
        /// on the answer. Returns the number of request and response headers after.
        pub fn exchange(&self) -> usize {
            let mut req = Outgoing { url: self.url.clone(), headers: self.headers.clone(), body: None };
            let ok = self.martian.modify_request(&mut req).is_ok();
            let mut res = RawResponse {
                status: self.response.status,
                headers: self.response.headers.clone(),
                body: self.response.body.clone(),
            };
            let kept = if self.martian.keeps_request_headers() { req.headers.clone() } else { HeaderMap::new() };
            let ok = ok && self.martian.modify_response(&req.url, &kept, &mut res).is_ok();
            assert!(ok, "the bench modifiers do not fail");
            req.headers.len() + res.headers.len()
        }

        /// The same exchange without martian: the copies the call phase would not make.
        pub fn baseline(&self) -> usize {
            let req = Outgoing { url: self.url.clone(), headers: HeaderMap::new(), body: None };
            let res = RawResponse {
                status: self.response.status,
                headers: self.response.headers.clone(),
                body: self.response.body.clone(),
            };
            req.url.len() + res.headers.len()
        }
    }

    /// A config of `backends` endpoints with one backend each; with `martian`, each backend
    /// carries a `fifo.Group` of one `header.Append` (the shape of the fixtures' largest user).
    pub fn config_with_backends(backends: usize, martian: bool) -> String {
        let extra = if martian {
            r#", "extra_config": {"modifier/martian": {"fifo.Group": {"aggregateErrors": true, "scope": ["request", "response"], "modifiers": [{"header.Append": {"name": "X-PLATFORM", "value": "web", "scope": ["request", "response"]}}]}}}"#
        } else {
            ""
        };
        let endpoints: Vec<String> = (0..backends)
            .map(|i| {
                format!(
                    r#"{{"endpoint": "/e{i}/{{id}}", "backend": [{{"host": ["http://users.internal:8080"], "url_pattern": "/v1/e{i}/{{id}}"{extra}}}]}}"#
                )
            })
            .collect();
        format!(r#"{{"version": 3, "endpoints": [{}]}}"#, endpoints.join(","))
    }

    /// Parses, validates and compiles a config (what start-up does before serving); returns its
    /// number of endpoints.
    pub fn compile_config(text: &str) -> usize {
        let parsed = config::parse_and_validate(text).expect("the bench config is valid");
        let compiled = compile::compile(&parsed).map_err(|e| format!("{e:?}")).expect("the bench config compiles");
        compiled.endpoints.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    const CONFIG: &str = r#"{
      "version": 3,
      "host": ["http://127.0.0.1:19"],
      "endpoints": [{
        "endpoint": "/agg",
        "backend": [
          { "url_pattern": "/a", "target": "data", "allow": ["id", "profile.name"], "group": "user" },
          { "url_pattern": "/b", "deny": ["secret", "meta.internal"], "mapping": { "items": "orders" } },
          { "url_pattern": "/c", "is_collection": true, "mapping": { "collection": "products" } }
        ]
      }]
    }"#;

    fn fixture() -> ShapeMergeFixture {
        let bodies = vec![
            Bytes::from_static(br#"{"data":{"id":7,"profile":{"name":"Ana","age":30},"email":"a@x"},"ignored":1}"#),
            Bytes::from_static(br#"{"items":[1,2],"secret":"s","meta":{"internal":true,"page":1}}"#),
            Bytes::from_static(br#"[{"sku":"p1"},{"sku":"p2"}]"#),
        ];
        ShapeMergeFixture::new(CONFIG, bodies).expect("the test config compiles")
    }

    #[test]
    fn the_spaced_unsorted_sample_shapes_to_the_same_answer() {
        let sorted = ShapeMergeFixture::new(sample::CONFIG, sample::bodies()).unwrap().run();
        let spaced: Vec<Bytes> = sample::bodies().iter().map(|b| sample::spaced_unsorted(b)).collect();
        assert!(spaced[0].starts_with(b"{\"meta\": {\"took_ms\": 12, "), "{:?}", &spaced[0][..40]);
        assert_eq!(ShapeMergeFixture::new(sample::CONFIG, spaced).unwrap().run(), sorted);
    }

    #[test]
    fn shapes_and_merges_three_backends() {
        let bytes = fixture().run();
        // KrakenD (Go) writes object keys sorted.
        assert_eq!(
            bytes,
            Bytes::from_static(
                br#"{"meta":{"page":1},"orders":[1,2],"products":[{"sku":"p1"},{"sku":"p2"}],"user":{"id":7,"profile":{"name":"Ana"}}}"#
            )
        );
        let out: Value = serde_json::from_slice(&bytes).expect("the output is JSON");
        assert_eq!(
            out,
            json!({
                "user": {"id": 7, "profile": {"name": "Ana"}},
                "orders": [1, 2],
                "meta": {"page": 1},
                "products": [{"sku": "p1"}, {"sku": "p2"}]
            })
        );
    }

    #[test]
    fn run_is_repeatable() {
        let f = fixture();
        assert_eq!(f.run(), f.run());
    }

    #[test]
    fn the_body_count_must_match_the_backends() {
        let err = ShapeMergeFixture::new(CONFIG, vec![Bytes::new()]).expect_err("one body for three backends");
        assert!(err.contains("3 backend(s)"), "{err}");
    }
}
