//! Criterion benchmark of the pure shape-and-merge step (decode, shape, merge, render) of one
//! endpoint with three backends answering ~10 KB of JSON each, through `tributary_core::bench_api`.

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Value, json};
use std::hint::black_box;
use tributary_core::bench_api::ShapeMergeFixture;

/// One endpoint, three backends, each with a different mix of target/allow/deny/mapping/group.
const CONFIG: &str = r#"{
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

fn bodies() -> Vec<Bytes> {
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

fn shape_merge(c: &mut Criterion) {
    let bodies = bodies();
    let input_bytes: usize = bodies.iter().map(Bytes::len).sum();
    let fixture = ShapeMergeFixture::new(CONFIG, bodies).expect("the bench config compiles");

    // Measure a correct path: every backend contributed its shaped part.
    let out: Value = serde_json::from_slice(&fixture.run()).expect("the output is JSON");
    for key in ["people", "recent_orders", "sales", "shop"] {
        assert!(out.get(key).is_some(), "missing `{key}` in the merged output");
    }
    assert!(out["sales"].get("internal").is_none(), "deny did not apply");
    assert!(out["shop"].get("tracking").is_none(), "deny did not apply");

    let mut group = c.benchmark_group("shape_merge");
    group.throughput(Throughput::Bytes(input_bytes as u64));
    group.bench_function("3_backends_10KB_each", |b| b.iter(|| black_box(fixture.run())));
    group.finish();
}

criterion_group!(benches, shape_merge);
criterion_main!(benches);
